// DeepLabV3 behaviour beyond torchvision parity (tests/cpu/test_deeplab_parity.c):
//   - SyncBN: two ranks (two threads, one image each, a collective written here that sums both
//     ranks' buffers) give the loss, logits, running statistics and (loss-weighted) gradients of
//     one batch of both images;
//   - results are bit-identical for 1 and 2 threads; dropout masks follow rng_step;
//   - the grad hook: called after the aux head, the classifier, every block and the stem, with
//     offsets that only go down, and the gradients it declares final do not change afterwards;
//   - frozen BN: running statistics untouched, no BN gradients, training == eval without dropout;
//   - all pixels ignored: loss NaN, weight 0, zero gradients; errors users can cause;
//   - the arena plan suffices (and a smaller arena fails cleanly);
//   - ds_deeplab_infer_config on torchvision's state_dict listings and on wrong checkpoints;
//   - ds_deeplab_init_weights draws the distributions torchvision's constructors use.
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../../models/deeplab/deeplab.h"
#include "../../runtime/base/check.h"
#include "../deeplab_fixture.h"
#include "../gradcheck.h"
#include "../op_fixture.h"
#include "../test_util.h"

enum { N = 2, H = 37, W = 45, K = 5, WIDTH = 4 };
#define SEED 20240601ull

typedef struct run {
    ds_context ctx;
    ds_deeplab_model m;
    ds_arena arena;
    ds_deeplab_output out;
} run;

static ds_deeplab_config small_config(void) {
    ds_deeplab_config c = ds_deeplab_config_default();
    c.width = WIDTH;
    c.num_classes = K;
    return c;
}

static ds_status setup(run *r, const ds_deeplab_config *cfg, int64_t n) {
    r->ctx = ds_context_cpu();
    r->ctx.seed = 99;
    memset(&r->arena, 0, sizeof r->arena);
    DS_TRY(ds_deeplab_create(&r->ctx, cfg, &r->m));
    ds_test_deeplab_fill(&r->m, SEED, 1000);
    size_t bytes;
    DS_TRY(ds_deeplab_arena_bytes(&r->ctx, &r->m, n, H, W, true, &bytes));
    return ds_arena_init_cpu(&r->arena, bytes, &r->ctx.err);
}

static void teardown(run *r) {
    ds_arena_free(&r->arena);
    ds_deeplab_free(&r->m);
}

typedef struct data {
    float images[N * 3 * H * W];
    int32_t masks[N * H * W];
    float cw[K];
} data;

static void make_data(data *d) {
    ds_test_deeplab_image(d->images, N * 3 * H * W, SEED, 7);
    for (int i = 0; i < N * H * W; i++) d->masks[i] = (i * 7) % 11 == 3 ? 255 : (i / 5 + i / 97) % K;
    for (int k = 0; k < K; k++) d->cw[k] = 0.5f + 0.25f * (float)k;
}

static ds_deeplab_batch batch_of(const data *d, int first, int count) {
    return (ds_deeplab_batch){.N = count, .H = H, .W = W, .images = d->images + first * 3 * H * W,
                              .masks = d->masks + first * H * W, .class_weights = d->cw};
}

// Training step (forward + backward with dloss) on a fresh gradient block.
static ds_status step(run *r, const ds_deeplab_batch *b, uint64_t rng, const ds_collective *coll, double dloss,
                      const ds_grad_hook *hook) {
    ds_deeplab_zero_grads(&r->m);
    DS_TRY(ds_deeplab_forward(&r->ctx, &r->m, b, true, rng, coll, &r->arena, &r->out));
    return ds_deeplab_backward(&r->ctx, &r->m, dloss, &r->arena, hook);
}

// ---- SyncBN over two ranks run as two threads ----
typedef struct shared {
    pthread_barrier_t barrier;
    void *slot[2];
    int64_t count;
    ds_dtype dtype;
    int calls[2];
} shared;

typedef struct rank_ctx {
    shared *sh;
    int rank;
    ds_collective coll;
    run r;
    ds_deeplab_batch b;
    double dloss;  // W_r / (W_0 + W_1): the second pass's loss scale
    ds_status st;
} rank_ctx;

// Sums both ranks' buffers in rank order (so both get the same bits) into each rank's buffer.
static ds_status allreduce(void *user, void *buf, int64_t count, ds_dtype dtype, ds_err *err) {
    rank_ctx *rc = user;
    shared *sh = rc->sh;
    DS_REQUIRE(err, dtype == DS_F64 || dtype == DS_F32, DS_ERR_INVALID_ARG, "test allreduce: dtype %d", (int)dtype);
    sh->slot[rc->rank] = buf;
    sh->count = count;
    sh->dtype = dtype;
    sh->calls[rc->rank]++;
    pthread_barrier_wait(&sh->barrier);
    const size_t es = ds_dtype_size(dtype);
    void *sum = malloc((size_t)count * es);
    for (int64_t i = 0; i < count; i++) {
        if (dtype == DS_F64) ((double *)sum)[i] = ((double *)sh->slot[0])[i] + ((double *)sh->slot[1])[i];
        else ((float *)sum)[i] = ((float *)sh->slot[0])[i] + ((float *)sh->slot[1])[i];
    }
    pthread_barrier_wait(&sh->barrier);  // both have read both slots
    memcpy(buf, sum, (size_t)count * es);
    free(sum);
    pthread_barrier_wait(&sh->barrier);
    return DS_OK;
}

static void *rank_main(void *arg) {
    rank_ctx *rc = arg;
    omp_set_num_threads(1);
    // Forward only first (to learn both ranks' loss weights), then the full step: the forward of a
    // step is deterministic, so the second forward repeats the first exactly.
    rc->st = ds_deeplab_forward(&rc->r.ctx, &rc->r.m, &rc->b, true, 0, &rc->coll, &rc->r.arena, &rc->r.out);
    return NULL;
}

static void *rank_step(void *arg) {
    rank_ctx *rc = arg;
    omp_set_num_threads(1);
    rc->st = step(&rc->r, &rc->b, 0, &rc->coll, rc->dloss, NULL);
    return NULL;
}

static void run_ranks(rank_ctx *rc, void *(*fn)(void *)) {
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, fn, &rc[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
}

static void check_syncbn(ds_test *t) {
    data *d = malloc(sizeof *d);
    make_data(d);
    ds_deeplab_config cfg = small_config();
    cfg.dropout = cfg.aux_dropout = 0;  // element indices differ between one batch and two halves
    run whole;
    const ds_deeplab_batch both = batch_of(d, 0, N);
    if (!ds_test_check(t, setup(&whole, &cfg, N) == DS_OK && step(&whole, &both, 0, NULL, 1.0, NULL) == DS_OK,
                       "syncbn: whole batch: %s", whole.ctx.err.msg)) {
        free(d);
        return;
    }
    shared sh = {0};
    pthread_barrier_init(&sh.barrier, NULL, 2);
    rank_ctx rc[2];
    bool ok = true;
    for (int r = 0; r < 2; r++) {
        rc[r] = (rank_ctx){.sh = &sh, .rank = r};
        rc[r].coll = (ds_collective){.allreduce_sum = allreduce, .user = &rc[r], .world = 2};
        rc[r].b = batch_of(d, r, 1);
        ok = ok && ds_test_check(t, setup(&rc[r].r, &cfg, 1) == DS_OK, "syncbn: rank %d setup: %s", r, rc[r].r.ctx.err.msg);
    }
    if (ok) run_ranks(rc, rank_main);
    ok = ok && ds_test_check(t, rc[0].st == DS_OK && rc[1].st == DS_OK, "syncbn: rank forward: %s / %s",
                             rc[0].r.ctx.err.msg, rc[1].r.ctx.err.msg);
    if (ok) {
        const double w0 = rc[0].r.out.loss_weight, w1 = rc[1].r.out.loss_weight;
        for (int r = 0; r < 2; r++) {
            // The running statistics were updated once per forward: put them back for the step.
            ds_test_deeplab_fill(&rc[r].r.m, SEED, 1000);
            rc[r].dloss = (r == 0 ? w0 : w1) / (w0 + w1);
        }
        run_ranks(rc, rank_step);
        ok = ds_test_check(t, rc[0].st == DS_OK && rc[1].st == DS_OK, "syncbn: rank step: %s / %s", rc[0].r.ctx.err.msg,
                           rc[1].r.ctx.err.msg);
        // The BN sums are doubles, so both ranks round to the same statistics as one batch: logits
        // and running statistics come out bit-identical (measured), the loss differs by 2e-8 (its
        // two halves are weighted and added) and the summed gradients by <= 1.9e-7 (the weight
        // gradients are sums over two images grouped differently). 1e-5 leaves a 50x margin; a rank
        // that normalised with its own statistics errs by >= 1e-2.
        const double tol = 1e-5;
        if (ok) {
            const double loss = (rc[0].r.out.loss * w0 + rc[1].r.out.loss * w1) / (w0 + w1);
            printf("syncbn: loss error %.3e\n", fabs(loss - whole.out.loss) / fabs(whole.out.loss));
            ds_test_check(t, fabs(loss - whole.out.loss) <= tol * fabs(whole.out.loss),
                          "syncbn: loss of two ranks %.8g, one batch %.8g", loss, (double)whole.out.loss);
            ds_test_check(t, w0 + w1 == whole.out.loss_weight, "syncbn: loss weights %g + %g != %g", w0, w1,
                          whole.out.loss_weight);
            ds_test_check(t, sh.calls[0] == sh.calls[1] && sh.calls[0] > 100, "syncbn: %d and %d all-reduces",
                          sh.calls[0], sh.calls[1]);
            for (int r = 0; r < 2; r++) {
                const int64_t plane = K * H * W;
                const ds_tensor mine = ds_tensor_cpu1(rc[r].r.out.out.data, DS_F32, plane);
                const ds_tensor want = ds_tensor_cpu1((float *)whole.out.out.data + r * plane, DS_F32, plane);
                char what[64];
                snprintf(what, sizeof what, "syncbn: rank %d logits", r);
                ds_test_close(t, what, &mine, &want, tol);
            }
            const ds_param_block *pw = &whole.m.params, *p0 = &rc[0].r.m.params, *p1 = &rc[1].r.m.params;
            double worst = 0;
            int worst_i = 0;
            bool buffers_same = true;
            for (int i = 0; i < pw->count; i++) {
                const size_t n = ds_param_spec_numel(&pw->specs[i]);
                if (ds_param_is_buffer(pw, i)) {
                    buffers_same = buffers_same && memcmp(p0->params + p0->offset[i], p1->params + p1->offset[i],
                                                          ds_param_spec_slots(&pw->specs[i]) * 4) == 0;
                    if (pw->specs[i].dtype == DS_F32) {
                        const ds_tensor a = ds_tensor_cpu1(p0->params + p0->offset[i], DS_F32, (int64_t)n);
                        const ds_tensor b = ds_tensor_cpu1(pw->params + pw->offset[i], DS_F32, (int64_t)n);
                        ds_test_close(t, pw->specs[i].name, &a, &b, tol);
                    }
                    continue;
                }
                double *sum = malloc(n * sizeof *sum), *want = malloc(n * sizeof *want);
                for (size_t j = 0; j < n; j++) {
                    sum[j] = (double)p0->grads[p0->offset[i] + j] + (double)p1->grads[p1->offset[i] + j];
                    want[j] = pw->grads[pw->offset[i] + j];
                }
                double md = 0, mw = 0;
                for (size_t j = 0; j < n; j++) md = fmax(md, fabs(sum[j] - want[j])), mw = fmax(mw, fabs(want[j]));
                if (md / mw > worst) worst = md / mw, worst_i = i;
                free(sum), free(want);
            }
            ds_test_check(t, buffers_same, "syncbn: the ranks' running statistics differ");
            ds_test_check(t, worst <= tol, "syncbn: summed rank gradients vs one batch: worst %.3e at %s", worst,
                          pw->specs[worst_i].name);
            printf("syncbn: worst gradient error %.3e (%s)\n", worst, pw->specs[worst_i].name);
        }
    }
    for (int r = 0; r < 2; r++) teardown(&rc[r].r);
    pthread_barrier_destroy(&sh.barrier);
    teardown(&whole);
    free(d);
}

// ---- determinism and dropout ----
static void check_threads_and_dropout(ds_test *t) {
    data *d = malloc(sizeof *d);
    make_data(d);
    const ds_deeplab_config cfg = small_config();
    run r;
    const ds_deeplab_batch b = batch_of(d, 0, N);
    if (!ds_test_check(t, setup(&r, &cfg, N) == DS_OK, "setup: %s", r.ctx.err.msg)) {
        free(d);
        return;
    }
    const int threads = omp_get_max_threads();
    float loss[3];
    float *grads[2] = {malloc(r.m.params.total * 4), malloc(r.m.params.total * 4)};
    ds_status st = DS_OK;
    for (int i = 0; i < 2 && st == DS_OK; i++) {
        omp_set_num_threads(i + 1);
        ds_test_deeplab_fill(&r.m, SEED, 1000);
        st = step(&r, &b, 5, NULL, 1.0, NULL);
        loss[i] = r.out.loss;
        memcpy(grads[i], r.m.params.grads, r.m.params.total * 4);
    }
    omp_set_num_threads(threads);
    ds_test_check(t, st == DS_OK && loss[0] == loss[1] && memcmp(grads[0], grads[1], r.m.params.total * 4) == 0,
                  "1 and 2 threads differ (loss %.9g vs %.9g) %s", (double)loss[0], (double)loss[1], r.ctx.err.msg);
    ds_test_deeplab_fill(&r.m, SEED, 1000);
    st = step(&r, &b, 6, NULL, 1.0, NULL);
    loss[2] = r.out.loss;
    ds_test_check(t, st == DS_OK && loss[2] != loss[0], "dropout masks do not follow rng_step (loss %.9g at steps 5 and 6)",
                  (double)loss[0]);
    free(grads[0]), free(grads[1]);
    teardown(&r);
    free(d);
}

// ---- grad hook ----
typedef struct hook_log {
    const ds_param_block *pb;
    int calls;
    size_t from[256];
    double sums[256];
    bool increasing;
} hook_log;

static double grad_sum(const ds_param_block *pb, size_t from) {
    double s = 0;
    for (size_t i = from; i < pb->total; i++) s += fabs(pb->grads[i]);
    return s;
}

static ds_status on_ready(void *user, size_t from, ds_err *err) {
    (void)err;
    hook_log *h = user;
    if (h->calls > 0 && from > h->from[h->calls - 1]) h->increasing = true;
    if (h->calls < 256) {
        h->from[h->calls] = from;
        h->sums[h->calls] = grad_sum(h->pb, from);
    }
    h->calls++;
    return DS_OK;
}

static void check_hook(ds_test *t) {
    data *d = malloc(sizeof *d);
    make_data(d);
    const ds_deeplab_config cfg = small_config();
    run r;
    const ds_deeplab_batch b = batch_of(d, 0, N);
    if (!ds_test_check(t, setup(&r, &cfg, N) == DS_OK, "setup: %s", r.ctx.err.msg)) {
        free(d);
        return;
    }
    hook_log log = {.pb = &r.m.params};
    const ds_grad_hook hook = {.ready = on_ready, .user = &log};
    if (ds_test_check(t, step(&r, &b, 1, NULL, 1.0, &hook) == DS_OK, "hooked step: %s", r.ctx.err.msg)) {
        const int want = 1 + 1 + r.m.backbone.count + 1;
        ds_test_check(t, log.calls == want, "grad hook called %d times, want %d", log.calls, want);
        ds_test_check(t, !log.increasing, "grad hook offsets went up");
        ds_test_check(t, log.calls > 0 && log.from[log.calls - 1] == 0, "the last ready() is not from 0");
        bool stable = true;
        for (int i = 0; i < log.calls && i < 256; i++) stable = stable && grad_sum(&r.m.params, log.from[i]) == log.sums[i];
        ds_test_check(t, stable, "gradients declared final by the hook changed afterwards");
    }
    teardown(&r);
    free(d);
}

// ---- frozen BN ----
static void check_frozen_bn(ds_test *t) {
    data *d = malloc(sizeof *d);
    make_data(d);
    ds_deeplab_config cfg = small_config();
    cfg.frozen_bn = true;
    cfg.dropout = cfg.aux_dropout = 0;
    run r;
    const ds_deeplab_batch b = batch_of(d, 0, N);
    if (!ds_test_check(t, setup(&r, &cfg, N) == DS_OK, "frozen setup: %s", r.ctx.err.msg)) {
        free(d);
        return;
    }
    const ds_param_block *pb = &r.m.params;
    float *before = malloc(pb->total * 4);
    memcpy(before, pb->params, pb->total * 4);
    ds_deeplab_output eval;
    ds_status st = ds_deeplab_forward(&r.ctx, &r.m, &b, false, 0, NULL, &r.arena, &eval);
    const float eval_loss = eval.loss;
    if (st == DS_OK) st = step(&r, &b, 0, NULL, 1.0, NULL);
    if (ds_test_check(t, st == DS_OK, "frozen step: %s", r.ctx.err.msg)) {
        ds_test_check(t, memcmp(before, pb->params, pb->total * 4) == 0, "frozen BN: a forward changed the block");
        ds_test_check(t, r.out.loss == eval_loss, "frozen BN: training loss %.9g != eval loss %.9g (no dropout)",
                      (double)r.out.loss, (double)eval_loss);
        int frozen = 0, bns = 0;
        for (int i = 0; i < pb->count; i++) {
            frozen += pb->specs[i].kind == DS_PARAM_FROZEN;
            bns += strstr(pb->specs[i].name, "running_mean") != NULL;
        }
        ds_test_check(t, bns == 61 && frozen == 2 * bns, "frozen BN: %d frozen tensors for %d BNs (want 61 BNs)", frozen,
                      bns);
        const int conv = ds_param_block_find(pb, "backbone.layer2.0.conv2.weight");
        const ds_tensor g = ds_param_block_grad(pb, conv);
        double m = 0;
        for (int64_t i = 0; i < ds_tensor_numel(&g); i++) m = fmax(m, fabs(((float *)g.data)[i]));
        ds_test_check(t, m > 0 && isfinite(m), "frozen BN: conv gradients missing (max %g)", m);
        ds_test_check(t, pb->train_begin > 0, "frozen BN: no frozen range in the block");
    }
    free(before);
    teardown(&r);
    free(d);
}

// ---- losses with no valid pixel, errors, arena ----
static void check_edges(ds_test *t) {
    data *d = malloc(sizeof *d);
    make_data(d);
    const ds_deeplab_config cfg = small_config();
    run r;
    if (!ds_test_check(t, setup(&r, &cfg, N) == DS_OK, "setup: %s", r.ctx.err.msg)) {
        free(d);
        return;
    }
    ds_deeplab_batch b = batch_of(d, 0, N);
    int32_t *ignored = malloc(sizeof(int32_t) * N * H * W);
    for (int i = 0; i < N * H * W; i++) ignored[i] = 255;
    b.masks = ignored;
    if (ds_test_check(t, step(&r, &b, 0, NULL, 1.0, NULL) == DS_OK, "all-ignored step: %s", r.ctx.err.msg)) {
        ds_test_check(t, isnan(r.out.loss) && r.out.loss_weight == 0, "all ignored: loss %g weight %g, want NaN and 0",
                      (double)r.out.loss, r.out.loss_weight);
        double m = 0;
        for (size_t i = 0; i < r.m.params.total; i++) m = fmax(m, fabs(r.m.params.grads[i]));
        ds_test_check(t, m == 0, "all ignored: gradients are not all 0 (max %g)", m);
    }
    ignored[N * H * W - 1] = 7;  // K = 5
    ds_deeplab_output out;
    ds_test_error(t, "mask value 7 with 5 classes", &r.ctx.err, ds_deeplab_forward(&r.ctx, &r.m, &b, true, 0, NULL, &r.arena, &out),
                  DS_ERR_INVALID_ARG, "mask value 7 at image 1, row 36, column 44");
    b = batch_of(d, 0, N);
    b.masks = NULL;
    ds_test_check(t, ds_deeplab_forward(&r.ctx, &r.m, &b, false, 0, NULL, &r.arena, &out) == DS_OK && !out.has_loss,
                  "forward without masks: %s", r.ctx.err.msg);
    ds_test_error(t, "backward after a forward without masks", &r.ctx.err, ds_deeplab_backward(&r.ctx, &r.m, 1, &r.arena, NULL),
                  DS_ERR_INVALID_ARG, "no masks");
    // One image in training: the ASPP pooling BN sees one value per channel, which torch refuses too.
    b = batch_of(d, 0, 1);
    ds_test_error(t, "training on one image", &r.ctx.err, ds_deeplab_forward(&r.ctx, &r.m, &b, true, 0, NULL, &r.arena, &out),
                  DS_ERR_INVALID_ARG, "more than 1 value per channel");
    ds_test_check(t, ds_deeplab_forward(&r.ctx, &r.m, &b, false, 0, NULL, &r.arena, &out) == DS_OK,
                  "eval on one image: %s", r.ctx.err.msg);
    // A plan for (N, H, W) fits; an arena one alignment unit short of it (the allocation rounds
    // up to DS_ARENA_ALIGN) fails with a message.
    size_t bytes;
    ds_arena small = {0};
    b = batch_of(d, 0, N);
    if (ds_test_check(t, ds_deeplab_arena_bytes(&r.ctx, &r.m, N, H, W, true, &bytes) == DS_OK &&
                             ds_arena_init_cpu(&small, bytes - DS_ARENA_ALIGN, &r.ctx.err) == DS_OK,
                      "plan: %s", r.ctx.err.msg)) {
        ds_status st = ds_deeplab_forward(&r.ctx, &r.m, &b, true, 0, NULL, &small, &out);
        if (st == DS_OK) st = ds_deeplab_backward(&r.ctx, &r.m, 1, &small, NULL);
        ds_test_error(t, "an arena one alignment unit short of the plan", &r.ctx.err, st, DS_ERR_OOM, "");
        ds_arena_free(&small);
    }
    size_t eval_bytes = 0;
    ds_test_check(t, ds_deeplab_arena_bytes(&r.ctx, &r.m, N, H, W, false, &eval_bytes) == DS_OK && eval_bytes < bytes,
                  "eval plan %zu not below the training plan %zu", eval_bytes, bytes);
    ds_deeplab_config bad = cfg;
    bad.depth = 34;
    ds_deeplab_model m2;
    ds_test_error(t, "depth 34", &r.ctx.err, ds_deeplab_create(&r.ctx, &bad, &m2), DS_ERR_INVALID_ARG, "depth = 34");
    bad = cfg;
    bad.ignore_index = 3;
    ds_test_error(t, "ignore_index inside the classes", &r.ctx.err, ds_deeplab_create(&r.ctx, &bad, &m2),
                  DS_ERR_INVALID_ARG, "ignore_index = 3");
    free(ignored);
    teardown(&r);
    free(d);
}

// ---- checkpoint shapes ----
static int listing(const ds_param_block *pb, ds_named_shape *out) {
    for (int i = 0; i < pb->count; i++) {
        out[i] = (ds_named_shape){.name = pb->specs[i].name, .ndim = pb->specs[i].ndim};
        memcpy(out[i].shape, pb->specs[i].shape, sizeof out[i].shape);
    }
    return pb->count;
}

static void check_infer(ds_test *t) {
    ds_err err;
    ds_err_clear(&err);
    void *settings = ds_test_deeplab_settings();
    ds_named_shape *ts = calloc(1024, sizeof *ts);
    ds_deeplab_config c;
    const char *lists[2] = {"full_names", "small_names"};
    const int64_t widths[2] = {64, 4}, classes[2] = {21, 5};
    for (int l = 0; l < 2 && settings; l++) {
        int n = 0;
        while (n < 1024 && ds_test_deeplab_name(settings, lists[l], n, &ts[n].name, &ts[n].ndim, ts[n].shape)) n++;
        ds_status st = ds_deeplab_infer_config(ts, n, &c, &err);
        ds_test_check(t, st == DS_OK && c.depth == 50 && c.width == widths[l] && c.num_classes == classes[l] && c.aux,
                      "infer %s: %s depth %d width %lld classes %lld aux %d", lists[l], err.msg, c.depth,
                      (long long)c.width, (long long)c.num_classes, (int)c.aux);
        ds_err_clear(&err);
        if (l == 0) {
            // Missing num_batches_tracked is fine; a missing weight, a wrong shape or a stray tensor is not.
            ds_named_shape keep = ts[5];
            ts[5] = ts[n - 1];
            ds_test_check(t, strstr(keep.name, "num_batches_tracked") &&
                                 ds_deeplab_infer_config(ts, n - 1, &c, &err) == DS_OK,
                          "a checkpoint without one num_batches_tracked: %s", err.msg);
            ts[5] = keep;
            ds_err_clear(&err);
            keep = ts[6];
            ts[6] = ts[n - 1];
            ds_test_error(t, "a checkpoint without layer1.0.conv1.weight", &err, ds_deeplab_infer_config(ts, n - 1, &c, &err),
                          DS_ERR_FORMAT, "'backbone.layer1.0.conv1.weight' (64, 64, 1, 1) is missing");
            ts[6] = keep;
            ts[6].shape[1] = 65;
            ds_test_error(t, "a wrong shape", &err, ds_deeplab_infer_config(ts, n, &c, &err), DS_ERR_FORMAT,
                          "'backbone.layer1.0.conv1.weight' is (64, 65, 1, 1), expected (64, 64, 1, 1)");
            ts[6].shape[1] = 64;
            ts[n] = (ds_named_shape){.name = "backbone.fc.weight", .ndim = 2, .shape = {1000, 2048}};
            ds_test_error(t, "a stray tensor", &err, ds_deeplab_infer_config(ts, n + 1, &c, &err), DS_ERR_FORMAT,
                          "'backbone.fc.weight' is not part");
            // Without the aux head.
            int m = 0;
            for (int i = 0; i < n; i++)
                if (strncmp(ts[i].name, "aux_classifier.", 15) != 0) ts[m++] = ts[i];
            ds_test_check(t, ds_deeplab_infer_config(ts, m, &c, &err) == DS_OK && !c.aux, "infer without aux: %s", err.msg);
        }
    }
    // ResNet-101 from our own layout.
    ds_context ctx = ds_context_cpu();
    ds_deeplab_config c101 = small_config();
    c101.depth = 101;
    c101.aux = false;
    ds_deeplab_model m;
    if (ds_test_check(t, ds_deeplab_create(&ctx, &c101, &m) == DS_OK, "depth 101: %s", ctx.err.msg)) {
        const int n = listing(&m.params, ts);
        ds_test_check(t, ds_deeplab_infer_config(ts, n, &c, &err) == DS_OK && c.depth == 101 && !c.aux && c.width == WIDTH,
                      "infer depth 101: %s", err.msg);
        ds_deeplab_free(&m);
    }
    const ds_named_shape resnet[] = {{"conv1.weight", 4, {64, 3, 7, 7}}, {"bn1.weight", 1, {64}}, {"fc.weight", 2, {1000, 2048}}};
    ds_test_error(t, "a plain ResNet checkpoint", &err, ds_deeplab_infer_config(resnet, 3, &c, &err), DS_ERR_FORMAT,
                  "plain torchvision ResNet classifier");
    const ds_named_shape bert[] = {{"bert.embeddings.word_embeddings.weight", 2, {30522, 768}}};
    ds_test_error(t, "a BERT checkpoint", &err, ds_deeplab_infer_config(bert, 1, &c, &err), DS_ERR_FORMAT, "BERT");
    const ds_named_shape fcn[] = {{"backbone.conv1.weight", 4, {64, 3, 7, 7}}, {"classifier.0.weight", 4, {512, 2048, 3, 3}}};
    ds_test_error(t, "an FCN checkpoint", &err, ds_deeplab_infer_config(fcn, 2, &c, &err), DS_ERR_FORMAT, "FCN");
    free(ts);
    if (settings) ds_test_deeplab_settings_free(settings);
}

// ---- initial values ----
static void check_init(ds_test *t) {
    ds_context ctx = ds_context_cpu();
    ctx.seed = 3;
    ds_deeplab_config cfg = small_config();
    cfg.width = 16;
    ds_deeplab_model m;
    if (!ds_test_check(t, ds_deeplab_create(&ctx, &cfg, &m) == DS_OK, "init create: %s", ctx.err.msg)) return;
    ds_deeplab_init_weights(&ctx, &m);
    const ds_param_block *pb = &m.params;
    // kaiming_normal_(fan_out): backbone.layer4.0.conv2.weight (128, 128, 3, 3), fan_out 1152.
    const int conv = ds_param_block_find(pb, "backbone.layer4.0.conv2.weight");
    const ds_tensor w = ds_param_block_param(pb, conv);
    double s2 = 0, mean = 0;
    const int64_t n = ds_tensor_numel(&w);
    for (int64_t i = 0; i < n; i++) mean += ((float *)w.data)[i], s2 += (double)((float *)w.data)[i] * ((float *)w.data)[i];
    mean /= (double)n;
    const double std = sqrt(s2 / (double)n), want = sqrt(2.0 / 1152.0);
    // 147456 normal draws: the sample std is within ~0.4% of the true one (3 sigma).
    ds_test_check(t, fabs(std / want - 1) < 0.01 && fabs(mean) < 0.01 * want, "backbone conv std %.5f want %.5f, mean %.2e",
                  std, want, mean);
    // classifier.0.convs.1.0.weight (64, 512, 3, 3): Uniform(+-1/sqrt(4608)).
    const int head = ds_param_block_find(pb, "classifier.0.convs.1.0.weight");
    const ds_tensor hw = ds_param_block_param(pb, head);
    const double bound = 1.0 / sqrt(4608.0);
    double mx = 0, hs2 = 0;
    for (int64_t i = 0; i < ds_tensor_numel(&hw); i++) {
        const double v = ((float *)hw.data)[i];
        mx = fmax(mx, fabs(v)), hs2 += v * v;
    }
    const double hstd = sqrt(hs2 / (double)ds_tensor_numel(&hw));
    ds_test_check(t, mx <= bound && mx > 0.99 * bound && fabs(hstd / (bound / sqrt(3.0)) - 1) < 0.01,
                  "head conv: max %.5f std %.5f, want Uniform(+-%.5f) (std %.5f)", mx, hstd, bound, bound / sqrt(3.0));
    const int cls_b = ds_param_block_find(pb, "classifier.4.bias");
    const ds_tensor cb = ds_param_block_param(pb, cls_b);
    bool in_range = true;
    for (int64_t i = 0; i < ds_tensor_numel(&cb); i++) in_range = in_range && fabs(((float *)cb.data)[i]) <= 1.0 / sqrt(64.0);
    ds_test_check(t, in_range, "classifier.4.bias outside +-1/sqrt(64)");
    const float *bnw = ds_param_block_param(pb, ds_param_block_find(pb, "backbone.layer1.0.bn1.weight")).data;
    const float *bnb = ds_param_block_param(pb, ds_param_block_find(pb, "backbone.layer1.0.bn1.bias")).data;
    const float *rv = ds_param_block_param(pb, ds_param_block_find(pb, "backbone.layer1.0.bn1.running_var")).data;
    ds_test_check(t, bnw[3] == 1 && bnb[3] == 0 && rv[3] == 1, "BN init: weight %g bias %g running_var %g", (double)bnw[3],
                  (double)bnb[3], (double)rv[3]);
    const ds_param_spec *aux = &pb->specs[ds_param_block_find(pb, "aux_classifier.0.weight")];
    ds_test_check(t, aux->lr_mult == 10 && aux->decay, "aux head lr_mult %g decay %d", (double)aux->lr_mult, (int)aux->decay);
    ds_deeplab_free(&m);
}

int main(void) {
    ds_test t = ds_test_begin("deeplab_model");
    check_syncbn(&t);
    check_threads_and_dropout(&t);
    check_hook(&t);
    check_frozen_bn(&t);
    check_edges(&t);
    check_infer(&t);
    check_init(&t);
    return ds_test_finish(&t);
}
