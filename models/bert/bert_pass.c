// BertForSequenceClassification's forward and backward passes and the arena plan.
#include <math.h>
#include <stdlib.h>

#include "../../kernels/gpu.h"
#include "../../runtime/base/check.h"
#include "bert.h"
#include "bert_batch.h"

// The per-module dims of one pass; dropout only when training.
static ds_bert_embeddings_dims embeddings_dims(const ds_bert_model *m, bool training) {
    const ds_bert_config *c = &m->cfg;
    return (ds_bert_embeddings_dims){.vocab = c->vocab_size, .max_position = c->max_position,
                                     .type_vocab = c->type_vocab, .hidden = c->hidden, .ln_eps = c->ln_eps,
                                     .pad_token_id = c->pad_token_id, .dropout = training ? c->hidden_dropout : 0,
                                     .act = m->act_dtype};
}
static ds_bert_layer_dims layer_dims(const ds_bert_model *m, bool training) {
    const ds_bert_config *c = &m->cfg;
    return (ds_bert_layer_dims){.hidden = c->hidden, .heads = c->heads, .intermediate = c->intermediate,
                                .ln_eps = c->ln_eps, .hidden_dropout = training ? c->hidden_dropout : 0,
                                .attn_dropout = training ? c->attn_dropout : 0, .act = m->act_dtype};
}
static ds_bert_head_dims head_dims(const ds_bert_model *m, bool training) {
    const ds_bert_config *c = &m->cfg;
    return (ds_bert_head_dims){.hidden = c->hidden, .num_labels = c->num_labels,
                               .dropout = training ? ds_bert_classifier_dropout(c) : 0, .act = m->act_dtype};
}

// Dropout sites (see ds_bert_dropout_offset).
static uint64_t site_layer(int64_t i) { return 1 + 3 * (uint64_t)i; }
static uint64_t site_classifier(const ds_bert_config *c) { return 1 + 3 * (uint64_t)c->layers; }

// The forward pass into `s` (the model's saved state, or a scratch one when planning).
static ds_status forward(ds_context *ctx, const ds_bert_model *m, ds_bert_saved *s, const ds_bert_batch *batch,
                         bool training, uint64_t rng_step, ds_arena *arena) {
    const ds_bert_config *c = &m->cfg;
    const ds_param_block *pb = &m->params;
    s->valid = false;
    if (!arena->measuring) DS_TRY(ds_bert_check_batch(&ctx->err, c, batch));
    DS_REQUIRE(&ctx->err, arena->measuring || arena->device.kind == pb->device.kind, DS_ERR_INVALID_ARG,
               "bert forward: the arena is in %s memory but the parameters are in %s memory",
               arena->device.kind == DS_DEVICE_CPU ? "host" : "device", pb->device.kind == DS_DEVICE_CPU ? "host" : "device");
    ds_arena_reset(arena);
    DS_TRY(ds_bert_stage_batch(ctx, c, m->act_dtype, batch, arena, s));
    s->training = training;
    s->rng_step = rng_step;
    const int64_t B = s->B, T = s->T;
    const ds_bert_embeddings_dims ed = embeddings_dims(m, training);
    DS_TRY(ds_bert_embeddings_forward(ctx, &ed, pb, 0, &s->ids, B * T, ds_bert_dropout_offset(rng_step, 0), arena,
                                      &s->emb));
    const ds_bert_layer_dims ld = layer_dims(m, training);
    const ds_tensor *mask = s->key_mask.data || arena->measuring ? &s->key_mask : NULL;
    const ds_tensor *h = &s->emb.y;  // (B*T, H)
    for (int64_t i = 0; i < c->layers; i++) {
        DS_TRY(ds_bert_layer_forward(ctx, &ld, pb, m->first_layer_param + (int)i * DS_BL_PARAM_COUNT, h, mask, B, T,
                                     ds_bert_dropout_offset(rng_step, site_layer(i)), arena, &s->layers[i]));
        h = &s->layers[i].y;
    }
    const ds_bert_head_dims hd = head_dims(m, training);
    DS_TRY(ds_bert_head_forward(ctx, &hd, pb, m->first_head_param, h, B, T,
                                ds_bert_dropout_offset(rng_step, site_classifier(c)), arena, &s->head));
    // The loss's tensors are carved with or without labels, so that the plan covers both.
    if (s->has_labels || arena->measuring)
        DS_TRY(ds_bert_loss_forward(ctx, c->problem_type, &s->head.logits, &s->labels, arena, &s->loss));
    s->valid = !arena->measuring;
    return DS_OK;
}

// The backward pass of the forward saved in `s`.
static ds_status backward(ds_context *ctx, const ds_bert_model *m, const ds_bert_saved *s, double dloss,
                          ds_arena *arena, const ds_grad_hook *hook) {
    const ds_bert_config *c = &m->cfg;
    const ds_param_block *pb = &m->params;
    ds_err *err = &ctx->err;
    const int64_t B = s->B, T = s->T, bc[] = {B, c->num_labels}, nh[] = {B * T, c->hidden};
    ds_tensor dlogits, dh[2];  // (B, C); two (B*T, H) buffers that the layers' backward alternate
    DS_TRY(ds_arena_tensor(arena, m->act_dtype, 2, bc, &dlogits, err));
    DS_TRY(ds_arena_tensor(arena, m->act_dtype, 2, nh, &dh[0], err));
    DS_TRY(ds_arena_tensor(arena, m->act_dtype, 2, nh, &dh[1], err));
    if (!arena->measuring)
        DS_TRY(ds_bert_loss_backward(ctx, c->problem_type, &s->head.logits, &s->labels, &s->loss, dloss, &dlogits));
    const uint64_t step = s->rng_step;
    const ds_bert_head_dims hd = head_dims(m, s->training);
    // Each module's temporaries are released when it is done: the arena's offset goes back to
    // the mark, and the measuring arena's peak still records the largest module.
    size_t mark = arena->used;
    DS_TRY(ds_bert_head_backward(ctx, &hd, pb, m->first_head_param, &s->head, &dlogits, &dh[0],
                                 ds_bert_dropout_offset(step, site_classifier(c)), arena));
    arena->used = mark;
    if (hook) DS_TRY(hook->ready(hook->user, pb->offset[m->first_head_param], err));
    const ds_bert_layer_dims ld = layer_dims(m, s->training);
    const ds_tensor *mask = s->key_mask.data || arena->measuring ? &s->key_mask : NULL;
    int cur = 0;  // dh[cur] holds the gradient of the current layer's output
    for (int64_t i = c->layers - 1; i >= 0; i--) {
        DS_TRY(ds_bert_layer_backward(ctx, &ld, pb, m->first_layer_param + (int)i * DS_BL_PARAM_COUNT, &s->layers[i],
                                      mask, &dh[cur], &dh[1 - cur], ds_bert_dropout_offset(step, site_layer(i)),
                                      arena));
        arena->used = mark;
        cur = 1 - cur;
        if (hook) DS_TRY(hook->ready(hook->user, pb->offset[m->first_layer_param + (int)i * DS_BL_PARAM_COUNT], err));
    }
    const ds_bert_embeddings_dims ed = embeddings_dims(m, s->training);
    DS_TRY(ds_bert_embeddings_backward(ctx, &ed, pb, 0, &s->emb, &s->ids, &dh[cur], ds_bert_dropout_offset(step, 0),
                                       arena));
    arena->used = mark;
    if (hook) DS_TRY(hook->ready(hook->user, 0, err));
    return DS_OK;
}

// The forward's logits and loss for the host. On the CPU the logits are the arena's tensor and
// the loss is read from it. On CUDA they are downloaded once per forward (the one sync of a
// forward: B * num_labels values and one float), bf16 logits widened to F32 on the host.
static ds_status publish_output(ds_context *ctx, ds_bert_model *m, ds_bert_output *out) {
    const ds_bert_saved *s = &m->saved;
    out->has_loss = s->has_labels;
    out->loss = NAN;
    if (m->params.device.kind == DS_DEVICE_CPU) {
        out->logits = s->head.logits;
        if (out->has_loss) out->loss = *(const float *)s->loss.loss.data;  // (1) F32 host
        return DS_OK;
    }
    const ds_tensor *lg = &s->head.logits;  // (B, C) act dtype, device
    const size_t n = (size_t)ds_tensor_numel(lg);
    // Room for n F32 values plus the n bf16 values downloaded behind them.
    const size_t need = n + (n + 1) / 2;
    if (need > m->host_out_cap) {
        float *bigger = realloc(m->host_out, need * sizeof(float));
        DS_REQUIRE(&ctx->err, bigger != NULL, DS_ERR_OOM, "bert forward: out of host memory for %zu logits", n);
        m->host_out = bigger;
        m->host_out_cap = need;
    }
    if (lg->dtype == DS_BF16) {
        uint16_t *raw = (uint16_t *)(m->host_out + n);  // (n) bf16 bits, host
        DS_TRY(ds_gpu_download(ctx, raw, lg->data, n * sizeof(uint16_t)));
    } else {
        DS_TRY(ds_gpu_download(ctx, m->host_out, lg->data, n * sizeof(float)));
    }
    float loss = NAN;
    if (out->has_loss) DS_TRY(ds_gpu_download(ctx, &loss, s->loss.loss.data, sizeof loss));
    DS_TRY(ds_gpu_sync(ctx));
    if (lg->dtype == DS_BF16) {
        const uint16_t *raw = (const uint16_t *)(m->host_out + n);
        for (size_t i = 0; i < n; i++) m->host_out[i] = ds_bf16_to_f32(raw[i]);
    }
    out->loss = loss;
    out->logits = ds_tensor_cpu2(m->host_out, DS_F32, lg->shape[0], lg->shape[1]);
    return DS_OK;
}

ds_status ds_bert_forward(ds_context *ctx, ds_bert_model *m, const ds_bert_batch *batch, bool training,
                          uint64_t rng_step, ds_arena *arena, ds_bert_output *out) {
    DS_REQUIRE(&ctx->err, !arena->measuring, DS_ERR_INVALID_ARG,
               "bert forward: the arena is a measuring one; size it with ds_bert_arena_bytes first");
    DS_TRY(forward(ctx, m, &m->saved, batch, training, rng_step, arena));
    return publish_output(ctx, m, out);
}

ds_status ds_bert_forward_train(ds_context *ctx, ds_bert_model *m, const ds_bert_batch *batch, uint64_t rng_step,
                                ds_arena *arena, ds_tensor *loss) {
    DS_REQUIRE(&ctx->err, !arena->measuring, DS_ERR_INVALID_ARG,
               "bert forward: the arena is a measuring one; size it with ds_bert_arena_bytes first");
    DS_TRY(forward(ctx, m, &m->saved, batch, true, rng_step, arena));
    *loss = m->saved.has_labels ? m->saved.loss.loss : (ds_tensor){0};
    return DS_OK;
}

ds_status ds_bert_backward(ds_context *ctx, ds_bert_model *m, double dloss, ds_arena *arena) {
    return ds_bert_backward_hooked(ctx, m, dloss, arena, NULL);
}

ds_status ds_bert_backward_hooked(ds_context *ctx, ds_bert_model *m, double dloss, ds_arena *arena,
                                  const ds_grad_hook *hook) {
    DS_REQUIRE(&ctx->err, m->saved.valid, DS_ERR_INVALID_ARG, "bert backward: no forward pass to differentiate");
    DS_REQUIRE(&ctx->err, m->saved.has_labels, DS_ERR_INVALID_ARG,
               "bert backward: the last forward had no labels, so there is no loss to differentiate");
    return backward(ctx, m, &m->saved, dloss, arena, hook);
}

ds_status ds_bert_arena_bytes(ds_context *ctx, const ds_bert_model *m, int64_t B, int64_t T, bool with_backward,
                              size_t *bytes) {
    DS_REQUIRE(&ctx->err, B >= 1 && T >= 1 && T <= m->cfg.max_position, DS_ERR_INVALID_ARG,
               "bert plan: shape (%lld, %lld) must have B >= 1 and 1 <= T <= max_position_embeddings %lld",
               (long long)B, (long long)T, (long long)m->cfg.max_position);
    ds_bert_saved s = {0};
    s.layers = calloc((size_t)(m->cfg.layers > 0 ? m->cfg.layers : 1), sizeof *s.layers);
    DS_REQUIRE(&ctx->err, s.layers != NULL, DS_ERR_OOM, "bert plan: out of memory");
    ds_arena plan = ds_arena_measure();
    // The plan's tensors carry the model's device: the transformer layers carve per-head copies of
    // q, k, v and the context on CUDA only (its attention takes that layout), so a plan measured as
    // CPU memory would be short on a device.
    plan.device = m->params.device;
    const ds_bert_batch shape = {.B = B, .T = T};
    // Dropout on: its buffers are the superset of what eval carves.
    ds_status st = forward(ctx, m, &s, &shape, true, 0, &plan);
    if (st == DS_OK) {
        s.has_labels = true;
        if (with_backward) st = backward(ctx, m, &s, 1.0, &plan, NULL);
    }
    free(s.layers);
    *bytes = plan.peak;
    return st;
}
