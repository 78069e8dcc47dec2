// DeepLabV3's forward and backward passes and the arena plan.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/device_memory.h"
#include "deeplab.h"
#include "deeplab_batch.h"
#include "deeplab_internal.h"

enum { SITE_CLASSIFIER = 0, SITE_AUX = 1 };

#define RUN(stmt)                            \
    do {                                     \
        if (!arena->measuring) DS_TRY(stmt); \
    } while (0)

static ds_conv_bn_mode bn_mode(const ds_deeplab_model *m, bool training, const ds_collective *coll) {
    return (ds_conv_bn_mode){.batch_stats = training && !m->cfg.frozen_bn, .eps = m->cfg.bn_eps,
                             .momentum = m->cfg.bn_momentum, .coll = coll, .act = m->act_dtype};
}

// logits (N, K, h, w) -> up (N, K, H, W) of the logits' dtype carved here, bilinear, align_corners=False.
static ds_status upsample(ds_context *ctx, const ds_tensor *logits, int64_t H, int64_t W, ds_arena *arena,
                          ds_tensor *up) {
    const int64_t shape[] = {logits->shape[0], logits->shape[1], H, W};
    DS_TRY(ds_arena_tensor(arena, logits->dtype, 4, shape, up, &ctx->err));
    ds_interpolate_args ip = {.x = *logits, .y = *up, .mode = DS_INTERP_BILINEAR};
    RUN(ds_interpolate_forward(ctx, &ip));
    return DS_OK;
}

// The cross-entropy of logits (N, K, H, W) against the staged masks into lse, loss, wsum (carved).
static ds_status loss_forward(ds_context *ctx, const ds_deeplab_model *m, const ds_deeplab_saved *s,
                              const ds_tensor *logits, ds_arena *arena, ds_tensor *lse, ds_tensor *loss,
                              ds_tensor *wsum) {
    ds_err *err = &ctx->err;
    const int64_t one = 1;
    DS_TRY(ds_arena_tensor(arena, DS_F32, 3, s->masks.shape, lse, err));
    DS_TRY(ds_arena_tensor(arena, DS_F32, 1, &one, loss, err));
    DS_TRY(ds_arena_tensor(arena, DS_F32, 1, &one, wsum, err));
    ds_pixel_ce_fwd_args ce = {.logits = *logits, .targets = s->masks, .class_weights = s->class_weights,
                               .loss = *loss, .weight_sum = *wsum, .lse = *lse, .ignore_index = m->cfg.ignore_index};
    RUN(ds_pixel_cross_entropy_forward(ctx, &ce));
    return DS_OK;
}

static ds_status forward(ds_context *ctx, const ds_deeplab_model *m, ds_deeplab_saved *s, const ds_deeplab_batch *batch,
                         bool training, uint64_t rng_step, const ds_collective *coll, ds_arena *arena) {
    const ds_deeplab_config *c = &m->cfg;
    const ds_param_block *pb = &m->params;
    s->valid = false;
    if (!arena->measuring) DS_TRY(ds_deeplab_check_batch(&ctx->err, c, batch));
    DS_REQUIRE(&ctx->err, arena->measuring || arena->device.kind == pb->device.kind, DS_ERR_INVALID_ARG,
               "deeplab forward: the arena and the parameters are in different memories");
    ds_arena_reset(arena);
    DS_TRY(ds_deeplab_stage_batch(ctx, c, batch, m->act_dtype, arena, s));
    s->training = training;
    s->rng_step = rng_step;
    s->coll = coll;
    const ds_conv_bn_mode mode = bn_mode(m, training, coll);
    DS_TRY(ds_resnet_forward(ctx, &m->backbone, pb, &mode, &s->images, arena, &s->backbone));
    const ds_tensor *x4 = ds_resnet_layer_out(&m->backbone, &s->backbone, 3);
    DS_TRY(ds_deeplab_head_forward(ctx, &m->head, pb, &mode, x4, training,
                                   ds_deeplab_dropout_offset(rng_step, SITE_CLASSIFIER), arena, &s->head));
    DS_TRY(upsample(ctx, &s->head.cls.y, s->H, s->W, arena, &s->out));
    if (c->aux) {
        const ds_tensor *x3 = ds_resnet_layer_out(&m->backbone, &s->backbone, 2);
        DS_TRY(ds_fcn_head_forward(ctx, &m->auxh, pb, &mode, x3, training, ds_deeplab_dropout_offset(rng_step, SITE_AUX),
                                   arena, &s->aux));
        DS_TRY(upsample(ctx, &s->aux.cls.y, s->H, s->W, arena, &s->aux_out));
    }
    // The loss's tensors are carved with or without masks, so that the plan covers both.
    if (s->has_loss || arena->measuring) {
        DS_TRY(loss_forward(ctx, m, s, &s->out, arena, &s->lse, &s->loss, &s->wsum));
        if (c->aux) DS_TRY(loss_forward(ctx, m, s, &s->aux_out, arena, &s->aux_lse, &s->aux_loss, &s->aux_wsum));
    }
    s->valid = !arena->measuring;
    return DS_OK;
}

// d(small logits) of one head: the cross-entropy's backward at full size, then the upsampling's.
static ds_status loss_backward(ds_context *ctx, const ds_deeplab_model *m, const ds_deeplab_saved *s,
                               const ds_tensor *out, const ds_tensor *lse, const ds_tensor *wsum, double dloss,
                               const ds_tensor *dsmall, ds_arena *arena) {
    ds_tensor dfull;
    DS_TRY(ds_arena_tensor(arena, out->dtype, 4, out->shape, &dfull, &ctx->err));
    ds_pixel_ce_bwd_args ce = {.logits = *out, .targets = s->masks, .class_weights = s->class_weights, .lse = *lse,
                               .weight_sum = *wsum, .dlogits = dfull, .dloss = dloss,
                               .ignore_index = m->cfg.ignore_index};
    RUN(ds_pixel_cross_entropy_backward(ctx, &ce));
    ds_interpolate_args ip = {.x = dfull, .y = *dsmall, .mode = DS_INTERP_BILINEAR};
    RUN(ds_interpolate_backward(ctx, &ip));
    return DS_OK;
}

static ds_status backward(ds_context *ctx, const ds_deeplab_model *m, const ds_deeplab_saved *s, double dloss,
                          ds_arena *arena, const ds_grad_hook *hook) {
    ds_err *err = &ctx->err;
    const ds_param_block *pb = &m->params;
    const ds_conv_bn_mode mode = bn_mode(m, s->training, s->coll);
    const ds_tensor *x4 = ds_resnet_layer_out(&m->backbone, &s->backbone, 3);
    const int64_t nbuf = ds_resnet_grad_buffer_numel(&m->backbone, &s->backbone);
    const ds_dtype act = m->act_dtype;
    ds_tensor ping, pong, d3 = {0}, dsmall;
    DS_TRY(ds_arena_tensor(arena, act, 1, &nbuf, &ping, err));
    DS_TRY(ds_arena_tensor(arena, act, 1, &nbuf, &pong, err));
    if (m->cfg.aux) {
        const ds_tensor *x3 = ds_resnet_layer_out(&m->backbone, &s->backbone, 2);
        DS_TRY(ds_arena_tensor(arena, act, 4, x3->shape, &d3, err));
        const size_t mark = arena->used;
        DS_TRY(ds_arena_tensor(arena, act, 4, s->aux.cls.y.shape, &dsmall, err));
        DS_TRY(loss_backward(ctx, m, s, &s->aux_out, &s->aux_lse, &s->aux_wsum, dloss * m->cfg.aux_weight, &dsmall,
                             arena));
        DS_TRY(ds_fcn_head_backward(ctx, &m->auxh, pb, &mode, &s->aux, &dsmall, &d3,
                                    ds_deeplab_dropout_offset(s->rng_step, SITE_AUX), arena));
        arena->used = mark;
        if (hook) DS_TRY(hook->ready(hook->user, pb->offset[m->first_aux_param], err));
    }
    const size_t mark = arena->used;
    DS_TRY(ds_arena_tensor(arena, act, 4, s->head.cls.y.shape, &dsmall, err));
    DS_TRY(loss_backward(ctx, m, s, &s->out, &s->lse, &s->wsum, dloss, &dsmall, arena));
    // d4 lives in pong: ds_resnet_backward writes the first block's dx into ping.
    const ds_tensor d4 = ds_tensor_make(pong.data, act, pong.device, 4, x4->shape);
    DS_TRY(ds_deeplab_head_backward(ctx, &m->head, pb, &mode, &s->head, &dsmall, &d4,
                                    ds_deeplab_dropout_offset(s->rng_step, SITE_CLASSIFIER), arena));
    arena->used = mark;
    if (hook) DS_TRY(hook->ready(hook->user, pb->offset[m->first_classifier_param], err));
    return ds_resnet_backward(ctx, &m->backbone, pb, &mode, &s->backbone, &d4, m->cfg.aux ? &d3 : NULL, &ping, &pong,
                              arena, hook);
}

static ds_status read_scalar(ds_context *ctx, const ds_tensor *t, float *v) { return ds_tensor_to_host(ctx, v, t); }

// Grows a host buffer of `elem` bytes per element to at least n elements.
static ds_status reserve(ds_context *ctx, void **buf, size_t *cap, size_t n, size_t elem, const char *what) {
    if (*cap >= n) return DS_OK;
    void *p = realloc(*buf, n * elem);
    DS_REQUIRE(&ctx->err, p != NULL, DS_ERR_OOM, "deeplab forward: no host memory for the %s (%zu bytes)", what,
               n * elem);
    *buf = p;
    *cap = n;
    return DS_OK;
}

// The device logits t (N, K, H, W) F32 or BF16 as an F32 host tensor in dst ((numel) host).
static ds_status download_logits(ds_context *ctx, const ds_tensor *t, float *dst, ds_tensor *host) {
    const int64_t n = ds_tensor_numel(t);
    DS_TRY(ds_tensor_to_host(ctx, dst, t));  // raw bytes: bf16 fills the first half of dst
    if (t->dtype == DS_BF16) {
        // Widen in place from the last element down: element i's bf16 lies at byte 2i, its float
        // at byte 4i >= 2i, so no bf16 is overwritten before it is read.
        const uint16_t *h = (const uint16_t *)dst;
        for (int64_t i = n - 1; i >= 0; i--) dst[i] = ds_bf16_to_f32(h[i]);
    }
    *host = ds_tensor_make(dst, DS_F32, (ds_device){DS_DEVICE_CPU, 0}, t->ndim, t->shape);
    return DS_OK;
}

// The forward up to the loss's scalars, which stay where they were computed (out->loss_term).
static ds_status forward_keep_loss(ds_context *ctx, ds_deeplab_model *m, const ds_deeplab_batch *batch, bool training,
                                   uint64_t rng_step, const ds_collective *coll, ds_arena *arena,
                                   ds_deeplab_output *out) {
    DS_REQUIRE(&ctx->err, !arena->measuring, DS_ERR_INVALID_ARG,
               "deeplab forward: the arena is a measuring one; size it with ds_deeplab_arena_bytes first");
    // Checked here on the host (every device would refuse it in bn_finalize too, but a CUDA device
    // opened with trusted_indices skips that check): the ASPP pooling branch's BN normalises one
    // value per image and rank.
    const int64_t world = coll != NULL && coll->world > 1 ? coll->world : 1;
    DS_REQUIRE(&ctx->err, !training || m->cfg.frozen_bn || batch->N * world > 1, DS_ERR_INVALID_ARG,
               "deeplab forward: expected more than 1 value per channel when training, got %lld (the ASPP pooling "
               "branch's BatchNorm sees one value per image and rank); use a batch of 2 or more, SyncBN over several "
               "ranks, or eval mode / frozen BN",
               (long long)(batch->N * world));
    DS_TRY(forward(ctx, m, &m->saved, batch, training, rng_step, coll, arena));
    const ds_deeplab_saved *s = &m->saved;
    *out = (ds_deeplab_output){.out = s->out, .aux = m->cfg.aux ? s->aux_out : (ds_tensor){0},
                               .has_loss = s->has_loss, .loss = NAN};
    // Training needs only the loss: its logits stay on the device (out and aux are then device
    // views), which spares a (N, K, H, W) download and a wait per micro-batch (issue 14).
    if (s->out.device.kind == DS_DEVICE_CUDA && !training) {
        void *buf = m->host_out;  // two halves (out, aux) of host_out_cap floats each
        DS_TRY(reserve(ctx, &buf, &m->host_out_cap, (size_t)ds_tensor_numel(&s->out), 2 * sizeof(float),
                       "downloaded logits"));
        m->host_out = buf;
        DS_TRY(download_logits(ctx, &s->out, m->host_out, &out->out));
        if (m->cfg.aux) DS_TRY(download_logits(ctx, &s->aux_out, m->host_out + m->host_out_cap, &out->aux));
    }
    if (s->has_loss) {
        out->loss_term[0] = s->loss;
        if (m->cfg.aux) out->loss_term[1] = s->aux_loss;
    }
    return DS_OK;
}

ds_status ds_deeplab_forward(ds_context *ctx, ds_deeplab_model *m, const ds_deeplab_batch *batch, bool training,
                             uint64_t rng_step, const ds_collective *coll, ds_arena *arena, ds_deeplab_output *out) {
    DS_TRY(forward_keep_loss(ctx, m, batch, training, rng_step, coll, arena, out));
    const ds_deeplab_saved *s = &m->saved;
    if (!s->has_loss) return DS_OK;
    float loss = 0, wsum = 0, aux_loss = 0;
    DS_TRY(read_scalar(ctx, &s->loss, &loss));
    DS_TRY(read_scalar(ctx, &s->wsum, &wsum));
    if (m->cfg.aux) DS_TRY(read_scalar(ctx, &s->aux_loss, &aux_loss));
    out->loss = (float)((double)loss + (m->cfg.aux ? (double)m->cfg.aux_weight * aux_loss : 0.0));
    out->loss_weight = wsum;
    return DS_OK;
}

ds_status ds_deeplab_forward_train(ds_context *ctx, ds_deeplab_model *m, const ds_deeplab_batch *batch,
                                   uint64_t rng_step, const ds_collective *coll, ds_arena *arena,
                                   ds_deeplab_output *out) {
    return forward_keep_loss(ctx, m, batch, true, rng_step, coll, arena, out);
}

ds_status ds_deeplab_backward(ds_context *ctx, ds_deeplab_model *m, double dloss, ds_arena *arena,
                              const ds_grad_hook *hook) {
    DS_REQUIRE(&ctx->err, m->saved.valid, DS_ERR_INVALID_ARG, "deeplab backward: no forward pass to differentiate");
    DS_REQUIRE(&ctx->err, m->saved.has_loss, DS_ERR_INVALID_ARG,
               "deeplab backward: the last forward had no masks, so there is no loss to differentiate");
    return backward(ctx, m, &m->saved, dloss, arena, hook);
}

// A scratch saved state for planning (its block array allocated).
static ds_status plan_forward(ds_context *ctx, const ds_deeplab_model *m, int64_t N, int64_t H, int64_t W,
                              ds_deeplab_saved *s, ds_arena *plan) {
    DS_REQUIRE(&ctx->err, N >= 1 && H >= 1 && W >= 1, DS_ERR_INVALID_ARG,
               "deeplab plan: shape (%lld, 3, %lld, %lld) is empty", (long long)N, (long long)H, (long long)W);
    memset(s, 0, sizeof *s);
    s->backbone.block = calloc((size_t)m->backbone.count, sizeof *s->backbone.block);
    DS_REQUIRE(&ctx->err, s->backbone.block != NULL, DS_ERR_OOM, "deeplab plan: out of memory");
    *plan = ds_arena_measure();
    plan->device = m->params.device;  // so that the conv workspace queries go to the model's backend
    const ds_deeplab_batch shape = {.N = N, .H = H, .W = W};
    // Training with dropout: its buffers are the superset of what eval carves.
    return forward(ctx, m, s, &shape, true, 0, NULL, plan);
}

ds_status ds_deeplab_arena_bytes(ds_context *ctx, const ds_deeplab_model *m, int64_t N, int64_t H, int64_t W,
                                 bool with_backward, size_t *bytes) {
    ds_deeplab_saved s;
    ds_arena plan;
    ds_status st = plan_forward(ctx, m, N, H, W, &s, &plan);
    if (st == DS_OK && with_backward) {
        s.has_loss = true;
        st = backward(ctx, m, &s, 1.0, &plan, NULL);
    }
    free(s.backbone.block);
    *bytes = plan.peak;
    return st;
}

// The saved activations of every conv unit, in ds_deeplab_units' order.
static int unit_acts(const ds_deeplab_model *m, const ds_deeplab_saved *s, const ds_conv_bn_acts **acts, int cap) {
    int n = 0;
#define PUSH(a)                   \
    do {                          \
        if (n < cap) acts[n] = (a); \
        n++;                      \
    } while (0)
    PUSH(&s->backbone.stem);
    for (int i = 0; i < m->backbone.count; i++) {
        PUSH(&s->backbone.block[i].c1);
        PUSH(&s->backbone.block[i].c2);
        PUSH(&s->backbone.block[i].c3);
        if (m->backbone.block[i].has_down) PUSH(&s->backbone.block[i].down);
    }
    for (int i = 0; i < 5; i++) PUSH(&s->head.aspp[i]);
    PUSH(&s->head.project);
    PUSH(&s->head.conv);
    PUSH(&s->head.cls);
    if (m->cfg.aux) {
        PUSH(&s->aux.conv);
        PUSH(&s->aux.cls);
    }
#undef PUSH
    return n;
}

static bool same_geom(const ds_conv2d_geom *a, const ds_conv2d_geom *b) { return memcmp(a, b, sizeof *a) == 0; }

ds_status ds_deeplab_conv_shapes(ds_context *ctx, const ds_deeplab_model *m, int64_t N, int64_t H, int64_t W,
                                 ds_deeplab_conv_shape *shapes, int cap, int *count) {
    enum { MAX_UNITS = 1024 };
    ds_deeplab_saved s;
    ds_arena plan;
    ds_status st = plan_forward(ctx, m, N, H, W, &s, &plan);
    const ds_conv_bn *units[MAX_UNITS];
    const ds_conv_bn_acts *acts[MAX_UNITS];
    bool backbone[MAX_UNITS];
    *count = 0;
    const int n = st == DS_OK ? ds_deeplab_units(m, units, backbone, MAX_UNITS) : 0;
    if (st == DS_OK) unit_acts(m, &s, acts, MAX_UNITS);
    for (int i = 0; i < n && i < MAX_UNITS; i++) {
        const ds_conv_bn *u = units[i];
        ds_deeplab_conv_shape c = {.x = {acts[i]->x.shape[0], acts[i]->x.shape[1], acts[i]->x.shape[2], acts[i]->x.shape[3]},
                                   .w = {u->cout, u->cin / (u->geom.groups ? u->geom.groups : 1), u->kh, u->kw},
                                   .geom = u->geom, .uses = 1};
        int k = 0;
        for (; k < *count && k < cap; k++)
            if (memcmp(shapes[k].x, c.x, sizeof c.x) == 0 && memcmp(shapes[k].w, c.w, sizeof c.w) == 0 &&
                same_geom(&shapes[k].geom, &c.geom))
                break;
        if (k < *count && k < cap) {
            shapes[k].uses++;
            continue;
        }
        if (*count < cap) shapes[*count] = c;
        (*count)++;
    }
    free(s.backbone.block);
    return st;
}
