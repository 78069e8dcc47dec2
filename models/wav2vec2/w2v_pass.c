// Wav2Vec2ForCTC's forward and backward passes and the arena plan.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/gpu_convert.h"
#include "../../runtime/base/check.h"
#include "../../runtime/base/philox.h"
#include "../common/device_memory.h"
#include "w2v_internal.h"
#include "w2v_spec_augment.h"

// Dropout sites and other random streams (ds_w2v_rng_offset).
enum { SITE_PROJ = 0, SITE_ENC = 1, SITE_FINAL = 2, SITE_LAYERDROP = 3, SITE_MASK_TIME = 4, SITE_MASK_FEATURE = 5 };
static uint64_t site_layer(int64_t i) { return 8 + 4 * (uint64_t)i; }

#define RUN(stmt)                            \
    do {                                     \
        if (!arena->measuring) DS_TRY(stmt); \
    } while (0)

// A (r, c) tensor of dtype dt: the model's act_dtype for activations and their gradients; F32 for
// the logits, log-probabilities and their gradient.
static ds_status carve2(ds_arena *a, ds_dtype dt, int64_t r, int64_t c, ds_tensor *t, ds_err *err) {
    const int64_t s[] = {r, c};
    return ds_arena_tensor(a, dt, 2, s, t, err);
}
static ds_status carve1(ds_arena *a, ds_dtype dt, int64_t n, ds_tensor *t, ds_err *err) {
    return ds_arena_tensor(a, dt, 1, &n, t, err);
}

// Rows [r0, r1) of sample b of a (B*T, C) tensor, as a view.
static ds_tensor rows(const ds_tensor *t, int64_t b, int64_t T, int64_t r0, int64_t r1) {
    const int64_t C = t->shape[1], s[] = {r1 - r0, C};
    char *base = t->data;
    return ds_tensor_make(base ? base + (size_t)((b * T + r0) * C) * ds_dtype_size(t->dtype) : NULL, t->dtype,
                          t->device, 2, s);
}

static ds_tl_dims layer_dims(const ds_w2v_config *c, bool training, ds_dtype act) {
    return (ds_tl_dims){.hidden = c->hidden, .heads = c->heads, .intermediate = c->intermediate,
                        .ln_eps = c->layer_norm_eps, .hidden_dropout = training ? c->hidden_dropout : 0,
                        .attn_dropout = training ? c->attention_dropout : 0, .act = act,
                        .act_dropout = training ? c->activation_dropout : 0, .pre_ln = c->do_stable_layer_norm};
}
static ds_w2v_pos_dims pos_dims(const ds_w2v_config *c, ds_dtype act) {
    return (ds_w2v_pos_dims){.hidden = c->hidden, .kernel = c->num_conv_pos_embeddings,
                             .groups = c->num_conv_pos_embedding_groups, .act = act};
}

#define P(i) ds_param_block_op_param(pb, (i))
#define G(i) ds_param_block_op_grad(pb, (i))
#define W(i) ds_param_block_op_weight(pb, (i), act)  // a linear's weight operand in the activations' dtype

// dst = src converted between F32 and BF16 on the device (nothing when they are the same tensor).
static ds_status convert(ds_context *ctx, const ds_tensor *dst, const ds_tensor *src) {
    if (dst->data == src->data) return DS_OK;
    return ds_gpu_convert(ctx, dst->data, dst->dtype, src->data, src->dtype, (size_t)ds_tensor_numel(src));
}

// In-place dropout of x (p = 0: nothing).
static ds_status dropout_inplace(ds_context *ctx, const ds_tensor *x, float p, uint64_t offset, bool backward) {
    if (p <= 0) return DS_OK;
    if (backward) {
        ds_dropout_bwd_args a = {.dy = *x, .dx = *x, .p = p, .offset = offset};
        return ds_dropout_backward(ctx, &a);
    }
    ds_dropout_fwd_args a = {.x = *x, .y = *x, .p = p, .offset = offset};
    return ds_dropout_forward(ctx, &a);
}

// Host side of a forward: frame counts, masks and targets, drawn or derived from the batch. With
// a measuring arena nothing is computed (only sizes matter).
typedef struct host_plan {
    int32_t *frames, *valid, *key_mask, *time_mask, *feature_mask, *targets, *target_lengths, *scratch;
    bool use_time_mask, use_feature_mask;
    int64_t S_targets;  // columns of the targets tensor (>= 1)
} host_plan;

static ds_status plan_host(ds_context *ctx, ds_w2v_model *m, const ds_w2v_batch *b, int64_t T, bool training,
                           uint64_t rng_step, int64_t max_label_len, bool measuring, host_plan *h) {
    const ds_w2v_config *c = &m->cfg;
    const int64_t B = b->B, H = c->hidden;
    const bool augment = training && c->apply_spec_augment;
    h->use_time_mask = b->mask_time_indices != NULL || (augment && c->mask_time_prob > 0);
    h->use_feature_mask = augment && c->mask_feature_prob > 0;
    const bool has_labels = b->labels != NULL;
    int64_t longest = max_label_len;
    if (!measuring && has_labels) {  // the longest target sizes the targets (lengths written again below)
        int32_t *lens = ds_w2v_host_scratch(m, (size_t)B);
        DS_REQUIRE(&ctx->err, lens != NULL, DS_ERR_OOM, "wav2vec2: out of host memory");
        longest = ds_w2v_compact_labels(m, b, 0, NULL, lens);
    }
    h->S_targets = longest > 0 ? longest : 1;
    if (measuring) return DS_OK;
    const int64_t span = T > H ? T : H;
    const size_t need = (size_t)(2 * B + 2 * B * T + B * H + B * h->S_targets + B + span);
    int32_t *p = ds_w2v_host_scratch(m, need);
    DS_REQUIRE(&ctx->err, p != NULL, DS_ERR_OOM, "wav2vec2: out of host memory for %zu ints of batch staging", need);
    h->frames = p, p += B;
    h->valid = p, p += B;
    h->key_mask = p, p += B * T;
    h->time_mask = p, p += B * T;
    h->feature_mask = p, p += B * H;
    h->targets = p, p += B * h->S_targets;
    h->target_lengths = p, p += B;
    h->scratch = p;
    for (int64_t r = 0; r < B; r++) {
        const int64_t own = ds_w2v_output_frames(c, b->lengths ? b->lengths[r] : b->S);
        h->valid[r] = (int32_t)(own < T ? own : T);
        // HF: the CTC input lengths come from the attention mask when there is one, else from the
        // padded length (every row: T).
        h->frames[r] = c->use_attention_mask ? h->valid[r] : (int32_t)T;
        for (int64_t t = 0; t < T; t++) h->key_mask[r * T + t] = t < h->valid[r];
    }
    if (has_labels) ds_w2v_compact_labels(m, b, h->S_targets, h->targets, h->target_lengths);
    const uint64_t seed = ctx->seed;
    if (b->mask_time_indices) {
        memcpy(h->time_mask, b->mask_time_indices, sizeof(int32_t) * (size_t)(B * T));
    } else if (h->use_time_mask) {
        DS_TRY(ds_w2v_compute_mask(B, T, c->mask_time_prob, c->mask_time_length, c->mask_time_min_masks,
                                   c->use_attention_mask ? h->valid : NULL, seed,
                                   ds_w2v_rng_offset(rng_step, SITE_MASK_TIME), h->time_mask, h->scratch, "time mask",
                                   &ctx->err));
    }
    if (h->use_feature_mask)
        DS_TRY(ds_w2v_compute_mask(B, H, c->mask_feature_prob, c->mask_feature_length, c->mask_feature_min_masks, NULL,
                                   seed, ds_w2v_rng_offset(rng_step, SITE_MASK_FEATURE), h->feature_mask, h->scratch,
                                   "feature mask", &ctx->err));
    return DS_OK;
}

// The forward pass into `s` (the model's saved state, or a scratch one when planning).
static ds_status forward(ds_context *ctx, ds_w2v_model *m, ds_w2v_saved *s, const ds_w2v_batch *batch, bool training,
                         uint64_t rng_step, int64_t max_label_len, ds_arena *arena) {
    const ds_w2v_config *c = &m->cfg;
    const ds_param_block *pb = &m->params;
    ds_err *err = &ctx->err;
    const int64_t B = batch->B, S = batch->S, T = ds_w2v_output_frames(c, S), H = c->hidden, V = c->vocab_size;
    const int64_t C = c->conv_dim[c->conv_layers - 1];
    const ds_dtype act = m->act_dtype;
    s->valid = false;
    if (!arena->measuring) DS_TRY(ds_w2v_check_batch(err, m, batch, T));
    DS_REQUIRE(err, T >= 1, DS_ERR_INVALID_ARG, "wav2vec2: %lld samples give no frame", (long long)S);
    DS_REQUIRE(err, arena->measuring || (arena->device.kind == pb->device.kind && arena->device.index == pb->device.index),
               DS_ERR_INVALID_ARG,
               "wav2vec2: the arena is on %s:%d but the parameters are on %s:%d (ds_w2v_to_device, then "
               "ds_arena_init_for)", arena->device.kind == DS_DEVICE_CUDA ? "cuda" : "cpu", arena->device.index,
               pb->device.kind == DS_DEVICE_CUDA ? "cuda" : "cpu", pb->device.index);
    ds_arena_reset(arena);
    host_plan h = {0};
    DS_TRY(plan_host(ctx, m, batch, T, training, rng_step, max_label_len, arena->measuring, &h));
    s->training = training;
    s->rng_step = rng_step;
    s->B = B, s->S = S, s->T = T;
    s->has_labels = batch->labels != NULL || arena->measuring;
    s->frames_host = h.frames;
    s->valid_frames_host = h.valid;

    // Staging.
    const int64_t as[] = {B, 1, S}, bt[] = {B, T};
    DS_TRY(ds_arena_tensor(arena, DS_F32, 3, as, &s->audio, err));
    RUN(ds_tensor_from_host(ctx, &s->audio, batch->audio));
    s->audio_act = s->audio;
    if (act != DS_F32) {  // the feature encoder's input in its dtype (torch autocast rounds it the same way)
        DS_TRY(ds_arena_tensor(arena, act, 3, as, &s->audio_act, err));
        RUN(convert(ctx, &s->audio_act, &s->audio));
    }
    s->key_mask = (ds_tensor){0};
    if (c->use_attention_mask) {
        DS_TRY(ds_arena_tensor(arena, DS_I32, 2, bt, &s->key_mask, err));
        RUN(ds_tensor_from_host(ctx, &s->key_mask, h.key_mask));
    }
    s->time_mask = s->feature_mask = (ds_tensor){0};
    if (h.use_time_mask || (arena->measuring && m->at.masked_spec_embed >= 0)) {
        DS_TRY(ds_arena_tensor(arena, DS_I32, 2, bt, &s->time_mask, err));
        RUN(ds_tensor_from_host(ctx, &s->time_mask, h.time_mask));
    }
    if (h.use_feature_mask || (arena->measuring && c->mask_feature_prob > 0)) {
        const int64_t bh[] = {B, H};
        DS_TRY(ds_arena_tensor(arena, DS_I32, 2, bh, &s->feature_mask, err));
        RUN(ds_tensor_from_host(ctx, &s->feature_mask, h.feature_mask));
    }

    // Feature encoder and projection.
    ds_w2v_fe_dims fd = ds_w2v_fe_dims_of(c);
    fd.act = act;
    DS_TRY(ds_w2v_fe_forward(ctx, &fd, pb, m->at.feature_encoder, &s->audio_act, arena, &s->fe));
    DS_TRY(carve2(arena, act, B * T, C, &s->extract, err));
    RUN(ds_w2v_transpose(ctx, &s->fe.out, &s->extract, B, C, T));  // (B, C, T) -> (B, T, C)
    DS_TRY(carve2(arena, act, B * T, C, &s->proj_norm, err));
    DS_TRY(carve1(arena, DS_F32, B * T, &s->proj_mean, err));
    DS_TRY(carve1(arena, DS_F32, B * T, &s->proj_rstd, err));
    DS_TRY(carve2(arena, act, B * T, H, &s->hidden, err));
    const int pj = m->at.projection;
    ds_layernorm_fwd_args pn = {.x = s->extract, .gamma = P(pj), .beta = P(pj + 1), .y = s->proj_norm,
                                .mean = s->proj_mean, .rstd = s->proj_rstd, .eps = c->layer_norm_eps};
    RUN(ds_layernorm_forward(ctx, &pn));
    ds_linear_fwd_args pl = {.x = s->proj_norm, .w = W(pj + 2), .b = P(pj + 3), .y = s->hidden};
    RUN(ds_linear_forward(ctx, &pl));
    RUN(dropout_inplace(ctx, &s->hidden, training ? c->feat_proj_dropout : 0, ds_w2v_rng_offset(rng_step, SITE_PROJ),
                        false));

    // SpecAugment (HF's _mask_hidden_states), in place.
    if (s->time_mask.ndim || s->feature_mask.ndim) {  // carved: applied (or planned for)
        const int64_t bth[] = {B, T, H};
        const ds_tensor h3 = ds_tensor_make(s->hidden.data, act, s->hidden.device, 3, bth);
        ds_spec_augment_fwd_args sa = {.x = h3, .time_mask = s->time_mask, .feature_mask = s->feature_mask, .y = h3};
        if (s->time_mask.data) sa.embed = P(m->at.masked_spec_embed);
        RUN(ds_spec_augment_forward(ctx, &sa));
    }
    // Padded frames are zeroed before the positional conv (HF's encoder, with an attention mask).
    if (c->use_attention_mask && !arena->measuring)
        for (int64_t r = 0; r < B; r++)
            if (h.valid[r] < T) {
                const ds_tensor pad = rows(&s->hidden, r, T, h.valid[r], T);
                DS_TRY(ds_tensor_zero(ctx, &pad));
            }

    // Encoder.
    DS_TRY(carve2(arena, act, B * T, H, &s->enc_in, err));
    const ds_w2v_pos_dims pd = pos_dims(c, act);
    DS_TRY(ds_w2v_pos_forward(ctx, &pd, pb, m->at.pos_conv, &s->hidden, &s->enc_in, B, T, arena, &s->pos));
    const int en = m->at.encoder_norm;
    s->enc_drop = s->enc_in;  // pre-LN: dropout in place on enc_in (nothing reads it later)
    if (!c->do_stable_layer_norm) {
        DS_TRY(carve2(arena, act, B * T, H, &s->enc_norm, err));
        DS_TRY(carve1(arena, DS_F32, B * T, &s->enc_mean, err));
        DS_TRY(carve1(arena, DS_F32, B * T, &s->enc_rstd, err));
        ds_layernorm_fwd_args ln = {.x = s->enc_in, .gamma = P(en), .beta = P(en + 1), .y = s->enc_norm,
                                    .mean = s->enc_mean, .rstd = s->enc_rstd, .eps = c->layer_norm_eps};
        RUN(ds_layernorm_forward(ctx, &ln));
        s->enc_drop = s->enc_norm;  // dropout in place: the norm's backward reads its input only
    }
    RUN(dropout_inplace(ctx, &s->enc_drop, training ? c->hidden_dropout : 0, ds_w2v_rng_offset(rng_step, SITE_ENC),
                        false));
    const ds_tl_dims ld = layer_dims(c, training, act);
    const ds_tensor *key_mask = c->use_attention_mask ? &s->key_mask : NULL;
    const ds_tensor *x = &s->enc_drop;
    for (int64_t i = 0; i < c->layers; i++) {
        // LayerDrop: HF draws torch.rand([]) per layer and skips it below layerdrop.
        s->layer_dropped[i] = !arena->measuring && training && c->layerdrop > 0 &&
                              ds_philox_uniform(ctx->seed, ds_w2v_rng_offset(rng_step, SITE_LAYERDROP), (uint64_t)i) <
                                  c->layerdrop;
        if (s->layer_dropped[i]) continue;
        DS_TRY(ds_tl_forward(ctx, &ld, ds_w2v_layer_names(), pb, m->at.first_layer + (int)i * DS_TL_PARAM_COUNT, x,
                             key_mask, B, T, ds_w2v_rng_offset(rng_step, site_layer(i)), arena, &s->layers[i]));
        x = &s->layers[i].y;
    }
    if (c->do_stable_layer_norm) {
        DS_TRY(carve2(arena, act, B * T, H, &s->last_norm, err));
        DS_TRY(carve1(arena, DS_F32, B * T, &s->last_mean, err));
        DS_TRY(carve1(arena, DS_F32, B * T, &s->last_rstd, err));
        ds_layernorm_fwd_args ln = {.x = *x, .gamma = P(en), .beta = P(en + 1), .y = s->last_norm, .mean = s->last_mean,
                                    .rstd = s->last_rstd, .eps = c->layer_norm_eps};
        RUN(ds_layernorm_forward(ctx, &ln));
        x = &s->last_norm;
    }

    // Head: final dropout, lm_head.
    DS_TRY(carve2(arena, act, B * T, H, &s->final, err));
    ds_dropout_fwd_args fdrop = {.x = *x, .y = s->final, .p = training ? c->final_dropout : 0,
                                 .offset = ds_w2v_rng_offset(rng_step, SITE_FINAL)};
    RUN(ds_dropout_forward(ctx, &fdrop));  // p = 0 copies
    DS_TRY(carve2(arena, DS_F32, B * T, V, &s->logits, err));
    s->logits_act = s->logits;
    if (act != DS_F32) DS_TRY(carve2(arena, act, B * T, V, &s->logits_act, err));
    const int lm = m->at.lm_head;
    ds_linear_fwd_args hl = {.x = s->final, .w = W(lm), .b = P(lm + 1), .y = s->logits_act};
    RUN(ds_linear_forward(ctx, &hl));
    RUN(convert(ctx, &s->logits, &s->logits_act));  // bf16: widened to fp32 for the log-softmax, CTC, output

    // The CTC loss on log_softmax(logits) in fp32 (HF's ForCTCLoss).
    if (s->has_labels) {
        const int64_t Sx = h.S_targets, bs[] = {B, Sx}, aw[] = {B, T, 2 * Sx + 1};
        DS_TRY(carve2(arena, DS_F32, B * T, V, &s->log_probs, err));
        DS_TRY(ds_arena_tensor(arena, DS_I32, 2, bs, &s->targets, err));
        DS_TRY(carve1(arena, DS_I32, B, &s->input_lengths, err));
        DS_TRY(carve1(arena, DS_I32, B, &s->target_lengths, err));
        DS_TRY(carve1(arena, DS_F32, B, &s->losses, err));
        DS_TRY(carve1(arena, DS_F32, 1, &s->loss, err));
        DS_TRY(ds_arena_tensor(arena, DS_F64, 3, aw, &s->alpha, err));
        DS_TRY(ds_arena_tensor(arena, DS_I32, 3, aw, &s->alpha_exp, err));
        RUN(ds_tensor_from_host(ctx, &s->targets, h.targets));
        RUN(ds_tensor_from_host(ctx, &s->input_lengths, h.frames));
        RUN(ds_tensor_from_host(ctx, &s->target_lengths, h.target_lengths));
        ds_softmax_fwd_args lsm = {.x = s->logits, .y = s->log_probs};
        RUN(ds_log_softmax_forward(ctx, &lsm));
        const int64_t btv[] = {B, T, V};
        ds_ctc_loss_fwd_args ctc = {.log_probs = ds_tensor_make(s->log_probs.data, DS_F32, s->log_probs.device, 3, btv),
                                    .targets = s->targets, .input_lengths = s->input_lengths,
                                    .target_lengths = s->target_lengths, .losses = s->losses, .loss = s->loss,
                                    .alpha = s->alpha, .alpha_exp = s->alpha_exp, .blank = (int)c->pad_token_id,
                                    .reduction = c->ctc_loss_reduction, .zero_infinity = c->ctc_zero_infinity};
        RUN(ds_ctc_loss_forward(ctx, &ctc));
    }
    s->valid = !arena->measuring;
    return DS_OK;
}

// The backward pass of the forward saved in `s`.
static ds_status backward(ds_context *ctx, ds_w2v_model *m, const ds_w2v_saved *s, double dloss, ds_arena *arena,
                          const ds_grad_hook *hook) {
    const ds_w2v_config *c = &m->cfg;
    const ds_param_block *pb = &m->params;
    ds_err *err = &ctx->err;
    const int64_t B = s->B, T = s->T, H = c->hidden, V = c->vocab_size, C = c->conv_dim[c->conv_layers - 1];
    const uint64_t step = s->rng_step;
    const bool training = s->training;
    const ds_dtype act = m->act_dtype;
#define READY(from)                                                \
    do {                                                           \
        if (hook && !arena->measuring) DS_TRY(hook->ready(hook->user, (from), err)); \
    } while (0)
    // (B*T, V) F32 and its act-dtype copy for lm_head; two (B*T, H) buffers that the layers'
    // backward alternate.
    ds_tensor dlogits, dlogits_act, dh[2];
    DS_TRY(carve2(arena, DS_F32, B * T, V, &dlogits, err));
    dlogits_act = dlogits;
    if (act != DS_F32) DS_TRY(carve2(arena, act, B * T, V, &dlogits_act, err));
    DS_TRY(carve2(arena, act, B * T, H, &dh[0], err));
    DS_TRY(carve2(arena, act, B * T, H, &dh[1], err));
    // CTC through log_softmax: the op's logits mode is the gradient of the loss w.r.t. the logits.
    const int64_t btv[] = {B, T, V};
    ds_ctc_loss_bwd_args ctc = {.log_probs = ds_tensor_make(s->log_probs.data, DS_F32, s->log_probs.device, 3, btv),
                                .targets = s->targets, .input_lengths = s->input_lengths,
                                .target_lengths = s->target_lengths, .alpha = s->alpha, .alpha_exp = s->alpha_exp,
                                .grad = ds_tensor_make(dlogits.data, DS_F32, dlogits.device, 3, btv), .dloss = dloss,
                                .blank = (int)c->pad_token_id, .reduction = c->ctc_loss_reduction,
                                .zero_infinity = c->ctc_zero_infinity, .wrt = DS_CTC_GRAD_LOGITS};
    RUN(ds_ctc_loss_backward(ctx, &ctc));
    RUN(convert(ctx, &dlogits_act, &dlogits));  // bf16: the fp32 gradient rounded for lm_head's bf16 GEMMs
    const int lm = m->at.lm_head;
    ds_linear_bwd_args hl = {.x = s->final, .w = W(lm), .dy = dlogits_act, .dx = dh[0], .dw = G(lm),
                             .db = G(lm + 1), .accumulate = true};
    RUN(ds_linear_backward(ctx, &hl));
    READY(pb->offset[lm]);
    RUN(dropout_inplace(ctx, &dh[0], training ? c->final_dropout : 0, ds_w2v_rng_offset(step, SITE_FINAL), true));
    int cur = 0;  // dh[cur] holds the gradient at the current point
    const int en = m->at.encoder_norm;
    // The last layer's output (pre-LN: the encoder norm's input).
    const ds_tensor *last = &s->enc_drop;
    for (int64_t i = c->layers - 1; i >= 0; i--)
        if (!s->layer_dropped[i]) {
            last = &s->layers[i].y;
            break;
        }
    if (c->do_stable_layer_norm) {
        ds_layernorm_bwd_args ln = {.x = *last, .gamma = P(en), .mean = s->last_mean, .rstd = s->last_rstd,
                                    .dy = dh[cur], .dx = dh[1 - cur], .dgamma = G(en), .dbeta = G(en + 1),
                                    .accumulate = true};
        RUN(ds_layernorm_backward(ctx, &ln));
        cur = 1 - cur;
    }
    const ds_tl_dims ld = layer_dims(c, training, act);
    const ds_tensor *key_mask = c->use_attention_mask ? &s->key_mask : NULL;
    size_t mark = arena->used;
    for (int64_t i = c->layers - 1; i >= 0; i--) {
        if (s->layer_dropped[i]) continue;
        const int first = m->at.first_layer + (int)i * DS_TL_PARAM_COUNT;
        DS_TRY(ds_tl_backward(ctx, &ld, ds_w2v_layer_names(), pb, first, &s->layers[i], key_mask, &dh[cur],
                              &dh[1 - cur], ds_w2v_rng_offset(step, site_layer(i)), arena));
        arena->used = mark;
        cur = 1 - cur;
        READY(pb->offset[first]);
    }
    // Encoder input: dropout (in place), post-LN's norm, then the positional conv into the other buffer.
    RUN(dropout_inplace(ctx, &dh[cur], training ? c->hidden_dropout : 0, ds_w2v_rng_offset(step, SITE_ENC), true));
    if (!c->do_stable_layer_norm) {
        ds_layernorm_bwd_args ln = {.x = s->enc_in, .gamma = P(en), .mean = s->enc_mean, .rstd = s->enc_rstd,
                                    .dy = dh[cur], .dx = dh[1 - cur], .dgamma = G(en), .dbeta = G(en + 1),
                                    .accumulate = true};
        RUN(ds_layernorm_backward(ctx, &ln));
        cur = 1 - cur;
    }
    const ds_w2v_pos_dims pd = pos_dims(c, act);
    DS_TRY(ds_w2v_pos_backward(ctx, &pd, pb, m->at.pos_conv, &s->pos, &dh[cur], &dh[1 - cur], arena));
    arena->used = mark;
    cur = 1 - cur;
    if (c->use_attention_mask && !arena->measuring)  // the forward zeroed the padded frames
        for (int64_t r = 0; r < B; r++)
            if (s->valid_frames_host[r] < T) {
                const ds_tensor pad = rows(&dh[cur], r, T, s->valid_frames_host[r], T);
                DS_TRY(ds_tensor_zero(ctx, &pad));
            }
    READY(pb->offset[m->at.pos_conv]);
    // SpecAugment: the masked entries get no gradient; masked_spec_embed gets the time-masked rows'.
    if (s->time_mask.ndim || s->feature_mask.ndim) {
        const int64_t bth[] = {B, T, H};
        const ds_tensor d3 = ds_tensor_make(dh[cur].data, act, dh[cur].device, 3, bth);
        ds_spec_augment_bwd_args sa = {.dy = d3, .time_mask = s->time_mask, .feature_mask = s->feature_mask, .dx = d3,
                                       .accumulate = true};
        if (s->time_mask.data) sa.dembed = G(m->at.masked_spec_embed);
        RUN(ds_spec_augment_backward(ctx, &sa));
    }
    // Feature projection.
    RUN(dropout_inplace(ctx, &dh[cur], training ? c->feat_proj_dropout : 0, ds_w2v_rng_offset(step, SITE_PROJ), true));
    const int pj = m->at.projection;
    ds_tensor dnorm, dextract;
    DS_TRY(carve2(arena, act, B * T, C, &dnorm, err));
    DS_TRY(carve2(arena, act, B * T, C, &dextract, err));
    ds_linear_bwd_args pl = {.x = s->proj_norm, .w = W(pj + 2), .dy = dh[cur], .dx = dnorm, .dw = G(pj + 2),
                             .db = G(pj + 3), .accumulate = true};
    RUN(ds_linear_backward(ctx, &pl));
    ds_layernorm_bwd_args pn = {.x = s->extract, .gamma = P(pj), .mean = s->proj_mean, .rstd = s->proj_rstd,
                                .dy = dnorm, .dx = dextract, .dgamma = G(pj), .dbeta = G(pj + 1), .accumulate = true};
    RUN(ds_layernorm_backward(ctx, &pn));
    READY(pb->offset[pj]);
    // Feature encoder (no gradients when frozen: HF computes none).
    ds_w2v_fe_dims fd = ds_w2v_fe_dims_of(c);
    fd.act = act;
    if (!fd.frozen) {
        ds_tensor dout;  // (B, C, T)
        const int64_t s3[] = {B, C, T};
        DS_TRY(ds_arena_tensor(arena, act, 3, s3, &dout, err));
        RUN(ds_w2v_transpose(ctx, &dextract, &dout, B, T, C));
        DS_TRY(ds_w2v_fe_backward(ctx, &fd, pb, m->at.feature_encoder, &s->fe, &dout, arena));
    }
    READY(0);
#undef READY
    return DS_OK;
}

// The forward with its outputs; the loss comes to the host (out->loss) only when read_loss.
static ds_status forward_out(ds_context *ctx, ds_w2v_model *m, const ds_w2v_batch *batch, bool training,
                             uint64_t rng_step, ds_arena *arena, bool read_loss, ds_w2v_output *out) {
    DS_REQUIRE(&ctx->err, !arena->measuring, DS_ERR_INVALID_ARG,
               "wav2vec2 forward: the arena is a measuring one; size it with ds_w2v_arena_bytes first");
    DS_TRY(forward(ctx, m, &m->saved, batch, training, rng_step, 0, arena));
    const ds_w2v_saved *s = &m->saved;
    const int64_t btv[] = {s->B, s->T, m->cfg.vocab_size};
    out->logits = ds_tensor_make(s->logits.data, DS_F32, s->logits.device, 3, btv);
    if (s->logits.device.kind != DS_DEVICE_CPU && !training) {
        // CUDA eval/predict: the logits come back to the model's host buffer (grown as needed). A
        // training forward leaves them on the device: the trainer reads only the loss, and the
        // download would be a second wait for the device per micro-batch.
        const size_t n = (size_t)(s->B * s->T * m->cfg.vocab_size);
        if (n > m->host_logits_cap) {
            float *p = realloc(m->host_logits, n * sizeof(float));
            DS_REQUIRE(&ctx->err, p != NULL, DS_ERR_OOM, "wav2vec2: out of host memory for %zu logits", n);
            m->host_logits = p, m->host_logits_cap = n;
        }
        DS_TRY(ds_tensor_to_host(ctx, m->host_logits, &s->logits));
        out->logits = ds_tensor_make(m->host_logits, DS_F32, (ds_device){DS_DEVICE_CPU, 0}, 3, btv);
    }
    out->frames = s->frames_host;
    out->valid_frames = s->valid_frames_host;
    out->T = s->T;
    out->has_loss = s->has_labels;
    out->loss = NAN;
    out->loss_weight = ds_ctc_loss_weight(m->cfg.ctc_loss_reduction, s->B, &out->loss_is_sum);
    out->loss_term = s->has_labels ? s->loss : (ds_tensor){0};
    if (s->has_labels && read_loss) DS_TRY(ds_tensor_to_host(ctx, &out->loss, &s->loss));
    return DS_OK;
}

ds_status ds_w2v_forward(ds_context *ctx, ds_w2v_model *m, const ds_w2v_batch *batch, bool training, uint64_t rng_step,
                         ds_arena *arena, ds_w2v_output *out) {
    return forward_out(ctx, m, batch, training, rng_step, arena, true, out);
}

ds_status ds_w2v_forward_train(ds_context *ctx, ds_w2v_model *m, const ds_w2v_batch *batch, uint64_t rng_step,
                               ds_arena *arena, ds_w2v_output *out) {
    return forward_out(ctx, m, batch, true, rng_step, arena, false, out);
}

ds_status ds_w2v_backward(ds_context *ctx, ds_w2v_model *m, double dloss, ds_arena *arena, const ds_grad_hook *hook) {
    DS_REQUIRE(&ctx->err, m->saved.valid, DS_ERR_INVALID_ARG, "wav2vec2 backward: no forward pass to differentiate");
    DS_REQUIRE(&ctx->err, m->saved.has_labels, DS_ERR_INVALID_ARG,
               "wav2vec2 backward: the last forward had no labels, so there is no loss to differentiate");
    return backward(ctx, m, &m->saved, dloss, arena, hook);
}

ds_status ds_w2v_arena_bytes(ds_context *ctx, const ds_w2v_model *m, int64_t B, int64_t S, int64_t max_label_len,
                             bool with_backward, size_t *bytes) {
    const int64_t T = ds_w2v_output_frames(&m->cfg, S);
    DS_REQUIRE(&ctx->err, B >= 1 && T >= 1 && max_label_len >= 0, DS_ERR_INVALID_ARG,
               "wav2vec2 plan: shape (%lld, %lld) with labels of up to %lld must have B >= 1 and enough samples for "
               "one frame", (long long)B, (long long)S, (long long)max_label_len);
    ds_w2v_saved s = {0};
    const size_t nl = (size_t)(m->cfg.layers > 0 ? m->cfg.layers : 1);
    s.layers = calloc(nl, sizeof *s.layers);
    s.layer_dropped = calloc(nl, sizeof *s.layer_dropped);
    if (!s.layers || !s.layer_dropped) {
        free(s.layers), free(s.layer_dropped);
        return ds_err_set(&ctx->err, DS_ERR_OOM, "wav2vec2 plan: out of memory");
    }
    ds_arena plan = ds_arena_measure();
    plan.device = m->params.device;  // so that the conv workspace queries go to the model's backend
    const ds_w2v_batch shape = {.B = B, .S = S};
    // Training with labels: the superset of what eval carves. The model is not changed (the host
    // plan is skipped when measuring).
    ds_status st = forward(ctx, (ds_w2v_model *)m, &s, &shape, true, 0, max_label_len, &plan);
    if (st == DS_OK && with_backward) st = backward(ctx, (ds_w2v_model *)m, &s, 1.0, &plan, NULL);
    free(s.layers), free(s.layer_dropped);
    *bytes = plan.peak;
    return st;
}
