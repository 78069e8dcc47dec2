#include "transformer_layer.h"

#include <stdio.h>

#include "../../runtime/base/check.h"

void ds_tl_specs(const ds_tl_dims *d, const ds_tl_names *names, const char *prefix, ds_param_spec *specs, int *count) {
    const int64_t H = d->hidden, I = d->intermediate;
    // (rows, cols) of each role's tensor in torch.nn.Linear layout (out, in); biases and norms are (rows).
    const int64_t rows[DS_TL_PARAM_COUNT] = {H, H, H, H, H, H, H, H, H, H, I, I, H, H, H, H};
    const int64_t cols[DS_TL_PARAM_COUNT] = {H, 0, H, 0, H, 0, H, 0, 0, 0, H, 0, I, 0, 0, 0};
    for (int role = 0; role < DS_TL_PARAM_COUNT; role++) {
        ds_param_spec *s = &specs[*count + names->slot[role]];
        *s = (ds_param_spec){0};  // trainable F32, lr multiplier 1 (the defaults of a zeroed spec)
        snprintf(s->name, sizeof s->name, "%s%s", prefix, names->name[role]);
        s->ndim = cols[role] ? 2 : 1;
        s->shape[0] = rows[role];
        s->shape[1] = cols[role];
        // As HF's Trainer: no weight decay on biases and LayerNorm weights.
        s->decay = cols[role] != 0;
    }
    *count += DS_TL_PARAM_COUNT;
}

// Activations (and their gradients) are carved in the dims' activation dtype, statistics in F32.
#define carve2(a, r, c, t, err) carve2_(a, d->act, r, c, t, err)
#define carve_heads(a, B, nh, T, dh, t, err) carve_heads_(a, d->act, B, nh, T, dh, t, err)
static ds_status carve2_(ds_arena *a, ds_dtype dt, int64_t r, int64_t c, ds_tensor *t, ds_err *err) {
    const int64_t s[] = {r, c};
    return ds_arena_tensor(a, dt, 2, s, t, err);
}
static ds_status carve1(ds_arena *a, int64_t r, ds_tensor *t, ds_err *err) {  // F32 statistics
    return ds_arena_tensor(a, DS_F32, 1, &r, t, err);
}
static ds_status carve_heads_(ds_arena *a, ds_dtype dt, int64_t B, int64_t nh, int64_t T, int64_t dh, ds_tensor *t,
                              ds_err *err) {
    const int64_t s[] = {B, nh, T, dh};
    return ds_arena_tensor(a, dt, 4, s, t, err);
}
// (B*T, H) viewed as (B, T, H) for the head permutation.
static ds_tensor as_bth(const ds_tensor *t, int64_t B, int64_t T) {
    const int64_t s[] = {B, T, t->shape[1]};
    return ds_tensor_make(t->data, t->dtype, t->device, 3, s);
}

// Whether attention works on the token-major q, k, v rows in place (the CPU backend:
// token_major_heads) or on (B, nh, T, dh) head copies (CUDA, whose kernels take only those).
static bool heads_in_place(const ds_tensor *t) { return t->device.kind == DS_DEVICE_CPU; }

// Forward ops run only with a real arena; a measuring arena (data NULL) just plans the memory.
#define RUN(stmt)                               \
    do {                                        \
        if (!arena->measuring) DS_TRY(stmt);    \
    } while (0)

// The tensor of a role, its bf16-aware linear operand, and its gradient.
#define P(role) ds_param_block_op_param(pb, first_param + names->slot[role])
#define W(role) ds_param_block_op_weight(pb, first_param + names->slot[role], d->act)  // in the activations' dtype
#define G(role) ds_param_block_op_grad(pb, first_param + names->slot[role])

// The Philox offsets of the layer's dropout sites, from its first one.
enum { SITE_PROBS = 0, SITE_ATTN_OUT = 1, SITE_FFN_OUT = 2, SITE_FFN_ACT = 3 };

ds_status ds_tl_forward(ds_context *ctx, const ds_tl_dims *d, const ds_tl_names *names, const ds_param_block *pb,
                        int first_param, const ds_tensor *x, const ds_tensor *key_mask, int64_t B, int64_t T,
                        uint64_t dropout_offset, ds_arena *arena, ds_tl_acts *acts) {
    ds_err *err = &ctx->err;
    const int64_t H = d->hidden, I = d->intermediate, nh = d->heads, N = B * T;
    DS_REQUIRE(err, nh > 0 && H % nh == 0, DS_ERR_INVALID_ARG,
               "transformer layer: hidden %lld is not a multiple of heads %lld", (long long)H, (long long)nh);
    const int64_t dh = H / nh;
    acts->B = B;
    acts->T = T;
    acts->x = *x;
    acts->h1 = (ds_tensor){0};
    // Post-LN carves in BERT's original order (its arena plan is unchanged by the sharing).
    if (d->pre_ln) {
        DS_TRY(carve2(arena, N, H, &acts->h1, err));
        DS_TRY(carve1(arena, N, &acts->mean1, err));
        DS_TRY(carve1(arena, N, &acts->rstd1, err));
    }
    DS_TRY(carve2(arena, N, H, &acts->q, err));
    DS_TRY(carve2(arena, N, H, &acts->k, err));
    DS_TRY(carve2(arena, N, H, &acts->v, err));
    // On the CPU attention reads q, k, v and writes c in their token-major rows: no head copies.
    const bool token_major = heads_in_place(x);
    acts->qh = acts->kh = acts->vh = acts->ch = (ds_tensor){0};
    if (!token_major) {
        DS_TRY(carve_heads(arena, B, nh, T, dh, &acts->qh, err));
        DS_TRY(carve_heads(arena, B, nh, T, dh, &acts->kh, err));
        DS_TRY(carve_heads(arena, B, nh, T, dh, &acts->vh, err));
        DS_TRY(carve_heads(arena, B, nh, T, dh, &acts->ch, err));
    }
    const int64_t lse_shape[] = {B, nh, T};
    DS_TRY(ds_arena_tensor(arena, DS_F32, 3, lse_shape, &acts->lse, err));
    DS_TRY(carve2(arena, N, H, &acts->c, err));
    DS_TRY(carve2(arena, N, H, &acts->res1, err));
    if (!d->pre_ln) {
        DS_TRY(carve1(arena, N, &acts->mean1, err));
        DS_TRY(carve1(arena, N, &acts->rstd1, err));
    }
    DS_TRY(carve2(arena, N, H, &acts->a, err));
    DS_TRY(carve2(arena, N, I, &acts->inter, err));
    DS_TRY(carve2(arena, N, I, &acts->g, err));
    DS_TRY(carve2(arena, N, H, &acts->res2, err));
    if (d->pre_ln) {
        DS_TRY(carve1(arena, N, &acts->mean2, err));
        DS_TRY(carve1(arena, N, &acts->rstd2, err));
        acts->y = acts->res2;  // no norm after the FFN
    } else {
        DS_TRY(carve1(arena, N, &acts->mean2, err));
        DS_TRY(carve1(arena, N, &acts->rstd2, err));
        DS_TRY(carve2(arena, N, H, &acts->y, err));
    }

    // Attention block. Its input: x (post-LN) or LN1(x) (pre-LN).
    const ds_tensor *ain = x;
    if (d->pre_ln) {
        ds_layernorm_fwd_args n1 = {.x = *x, .gamma = P(DS_TL_LN1_W), .beta = P(DS_TL_LN1_B), .y = acts->h1,
                                    .mean = acts->mean1, .rstd = acts->rstd1, .eps = d->ln_eps};
        RUN(ds_layernorm_forward(ctx, &n1));
        ain = &acts->h1;
    }
    ds_linear_fwd_args lq = {.x = *ain, .w = W(DS_TL_Q_W), .b = P(DS_TL_Q_B), .y = acts->q};
    RUN(ds_linear_forward(ctx, &lq));
    ds_linear_fwd_args lk = {.x = *ain, .w = W(DS_TL_K_W), .b = P(DS_TL_K_B), .y = acts->k};
    RUN(ds_linear_forward(ctx, &lk));
    ds_linear_fwd_args lv = {.x = *ain, .w = W(DS_TL_V_W), .b = P(DS_TL_V_B), .y = acts->v};
    RUN(ds_linear_forward(ctx, &lv));
    ds_attention_fwd_args at = {.scale = 1.0 / __builtin_sqrt((double)dh), .dropout_p = d->attn_dropout,
                                .dropout_offset = dropout_offset + SITE_PROBS, .lse = acts->lse};
    if (key_mask) at.key_mask = *key_mask;
    if (token_major) {
        at.q = as_bth(&acts->q, B, T), at.k = as_bth(&acts->k, B, T), at.v = as_bth(&acts->v, B, T);
        at.out = as_bth(&acts->c, B, T);
        at.token_major_heads = (int)nh;
        RUN(ds_attention_forward(ctx, &at));
    } else {
        const ds_tensor *flat[3] = {&acts->q, &acts->k, &acts->v};
        const ds_tensor *heads[3] = {&acts->qh, &acts->kh, &acts->vh};
        for (int i = 0; i < 3; i++) {
            ds_permute_heads_args sp = {.x = as_bth(flat[i], B, T), .y = *heads[i], .heads = (int)nh,
                                        .to_heads = true};
            RUN(ds_permute_heads(ctx, &sp));
        }
        at.q = acts->qh, at.k = acts->kh, at.v = acts->vh, at.out = acts->ch;
        RUN(ds_attention_forward(ctx, &at));
        ds_permute_heads_args mg = {.x = acts->ch, .y = as_bth(&acts->c, B, T), .heads = (int)nh, .to_heads = false};
        RUN(ds_permute_heads(ctx, &mg));
    }

    // res1 = x + dropout(dense(c)); the dense output is written into res1 and dropped in place.
    ds_linear_fwd_args lo = {.x = acts->c, .w = W(DS_TL_AO_W), .b = P(DS_TL_AO_B), .y = acts->res1};
    RUN(ds_linear_forward(ctx, &lo));
    if (d->hidden_dropout > 0) {
        ds_dropout_fwd_args dr = {.x = acts->res1, .y = acts->res1, .p = d->hidden_dropout,
                                  .offset = dropout_offset + SITE_ATTN_OUT};
        RUN(ds_dropout_forward(ctx, &dr));
    }
    ds_add_args r1 = {.a = acts->res1, .b = *x, .y = acts->res1};
    RUN(ds_add(ctx, &r1));
    // The FFN input a: LN1(res1) (post-LN) or LN2(res1) (pre-LN).
    ds_layernorm_fwd_args na = {.x = acts->res1, .y = acts->a, .eps = d->ln_eps};
    if (d->pre_ln) {
        na.gamma = P(DS_TL_LN2_W), na.beta = P(DS_TL_LN2_B), na.mean = acts->mean2, na.rstd = acts->rstd2;
    } else {
        na.gamma = P(DS_TL_LN1_W), na.beta = P(DS_TL_LN1_B), na.mean = acts->mean1, na.rstd = acts->rstd1;
    }
    RUN(ds_layernorm_forward(ctx, &na));

    // Feed-forward block: res2 = residual + dropout(dense(dropout_act(gelu(dense(a))))).
    ds_linear_fwd_args li = {.x = acts->a, .w = W(DS_TL_I_W), .b = P(DS_TL_I_B), .y = acts->inter};
    RUN(ds_linear_forward(ctx, &li));
    ds_unary_fwd_args ge = {.x = acts->inter, .y = acts->g};
    RUN(ds_gelu_forward(ctx, &ge));
    if (d->act_dropout > 0) {  // in place: GELU's backward reads only its input
        ds_dropout_fwd_args dr = {.x = acts->g, .y = acts->g, .p = d->act_dropout, .offset = dropout_offset + SITE_FFN_ACT};
        RUN(ds_dropout_forward(ctx, &dr));
    }
    ds_linear_fwd_args l2 = {.x = acts->g, .w = W(DS_TL_O_W), .b = P(DS_TL_O_B), .y = acts->res2};
    RUN(ds_linear_forward(ctx, &l2));
    if (d->hidden_dropout > 0) {
        ds_dropout_fwd_args dr = {.x = acts->res2, .y = acts->res2, .p = d->hidden_dropout,
                                  .offset = dropout_offset + SITE_FFN_OUT};
        RUN(ds_dropout_forward(ctx, &dr));
    }
    ds_add_args r2 = {.a = acts->res2, .b = d->pre_ln ? acts->res1 : acts->a, .y = acts->res2};
    RUN(ds_add(ctx, &r2));
    if (!d->pre_ln) {
        ds_layernorm_fwd_args n2 = {.x = acts->res2, .gamma = P(DS_TL_LN2_W), .beta = P(DS_TL_LN2_B), .y = acts->y,
                                    .mean = acts->mean2, .rstd = acts->rstd2, .eps = d->ln_eps};
        RUN(ds_layernorm_forward(ctx, &n2));
    }
    return DS_OK;
}

// Backward of the FFN block from dres2 (the gradient at res2) to the gradient at its input a,
// written into da_ffn. scratch: a free (N, H) buffer for the output dropout's gradient.
static ds_status ffn_backward(ds_context *ctx, const ds_tl_dims *d, const ds_tl_names *names, const ds_param_block *pb,
                              int first_param, const ds_tl_acts *acts, const ds_tensor *dres2, const ds_tensor *scratch,
                              const ds_tensor *dg, const ds_tensor *dinter, const ds_tensor *da_ffn,
                              uint64_t dropout_offset) {
    ds_tensor ddense2 = *dres2;  // dropout's gradient; in place when dropout is on
    if (d->hidden_dropout > 0) {
        ddense2 = *scratch;
        ds_dropout_bwd_args dr = {.dy = *dres2, .dx = ddense2, .p = d->hidden_dropout,
                                  .offset = dropout_offset + SITE_FFN_OUT};
        DS_TRY(ds_dropout_backward(ctx, &dr));
    }
    ds_linear_bwd_args l2 = {.x = acts->g, .w = W(DS_TL_O_W), .dy = ddense2, .dx = *dg, .dw = G(DS_TL_O_W),
                             .db = G(DS_TL_O_B), .accumulate = true};
    DS_TRY(ds_linear_backward(ctx, &l2));
    if (d->act_dropout > 0) {  // in place on dg
        ds_dropout_bwd_args dr = {.dy = *dg, .dx = *dg, .p = d->act_dropout, .offset = dropout_offset + SITE_FFN_ACT};
        DS_TRY(ds_dropout_backward(ctx, &dr));
    }
    ds_unary_bwd_args ge = {.x = acts->inter, .y = acts->g, .dy = *dg, .dx = *dinter};
    DS_TRY(ds_gelu_backward(ctx, &ge));
    ds_linear_bwd_args li = {.x = acts->a, .w = W(DS_TL_I_W), .dy = *dinter, .dx = *da_ffn, .dw = G(DS_TL_I_W),
                             .db = G(DS_TL_I_B), .accumulate = true};
    return ds_linear_backward(ctx, &li);
}

// Backward of the attention block from dres1 (the gradient at res1, whose dense branch is
// dropped) to the gradient at the attention input `ain`: the three projections' input gradients
// are added, in q, k, v order, onto `base` (the residual's gradient; NULL: none) into dout; only
// the parameter gradients are formed when dout is NULL. The other buffers are free (N, H) / head
// scratch.
static ds_status attention_backward(ds_context *ctx, const ds_tl_dims *d, const ds_tl_names *names,
                                    const ds_param_block *pb, int first_param, const ds_tl_acts *acts,
                                    const ds_tensor *ain, const ds_tensor *key_mask, const ds_tensor *dres1,
                                    const ds_tensor *base, const ds_tensor *dout, const ds_tensor *dc,
                                    const ds_tensor *dch, const ds_tensor *dqh, const ds_tensor *dkh,
                                    const ds_tensor *dvh, const ds_tensor *dq, const ds_tensor *dk,
                                    const ds_tensor *dv, const ds_tensor *dxp, uint64_t dropout_offset) {
    const int64_t H = d->hidden, nh = d->heads, B = acts->B, T = acts->T, dh = H / nh;
    ds_tensor ddense1 = *dres1;
    if (d->hidden_dropout > 0) {
        ddense1 = *dq;  // scratch, free until the attention backward
        ds_dropout_bwd_args dr = {.dy = *dres1, .dx = ddense1, .p = d->hidden_dropout,
                                  .offset = dropout_offset + SITE_ATTN_OUT};
        DS_TRY(ds_dropout_backward(ctx, &dr));
    }
    ds_linear_bwd_args lo = {.x = acts->c, .w = W(DS_TL_AO_W), .dy = ddense1, .dx = *dc, .dw = G(DS_TL_AO_W),
                             .db = G(DS_TL_AO_B), .accumulate = true};
    DS_TRY(ds_linear_backward(ctx, &lo));
    ds_attention_bwd_args at = {.lse = acts->lse, .scale = 1.0 / __builtin_sqrt((double)dh),
                                .dropout_p = d->attn_dropout, .dropout_offset = dropout_offset + SITE_PROBS};
    if (key_mask) at.key_mask = *key_mask;
    const ds_tensor *dflat[3] = {dq, dk, dv};
    if (heads_in_place(&acts->x)) {  // token-major, as the forward ran: no head copies
        at.q = as_bth(&acts->q, B, T), at.k = as_bth(&acts->k, B, T), at.v = as_bth(&acts->v, B, T);
        at.out = as_bth(&acts->c, B, T), at.dout = as_bth(dc, B, T);
        at.dq = as_bth(dq, B, T), at.dk = as_bth(dk, B, T), at.dv = as_bth(dv, B, T);
        at.token_major_heads = (int)nh;
        DS_TRY(ds_attention_backward(ctx, &at));
    } else {
        ds_permute_heads_args sp = {.x = as_bth(dc, B, T), .y = *dch, .heads = (int)nh, .to_heads = true};
        DS_TRY(ds_permute_heads(ctx, &sp));
        at.q = acts->qh, at.k = acts->kh, at.v = acts->vh, at.out = acts->ch;
        at.dout = *dch, at.dq = *dqh, at.dk = *dkh, at.dv = *dvh;
        DS_TRY(ds_attention_backward(ctx, &at));
        const ds_tensor *dheads[3] = {dqh, dkh, dvh};
        for (int i = 0; i < 3; i++) {
            ds_permute_heads_args mg = {.x = *dheads[i], .y = as_bth(dflat[i], B, T), .heads = (int)nh,
                                        .to_heads = false};
            DS_TRY(ds_permute_heads(ctx, &mg));
        }
    }
    // ain feeds the three projections: dout = base + sum of the projections' dx.
    const int wi[3] = {DS_TL_Q_W, DS_TL_K_W, DS_TL_V_W};
    for (int i = 0; i < 3; i++) {
        ds_linear_bwd_args lp = {.x = *ain, .w = W(wi[i]), .dy = *dflat[i], .dw = G(wi[i]), .db = G(wi[i] + 1),
                                 .accumulate = true};
        const bool direct = dout && base == NULL && i == 0;  // the first term is the sum so far
        if (dout) lp.dx = direct ? *dout : *dxp;
        DS_TRY(ds_linear_backward(ctx, &lp));
        if (dout && !direct) {
            ds_add_args s = {.a = i == 0 ? *base : *dout, .b = *dxp, .y = *dout};
            DS_TRY(ds_add(ctx, &s));
        }
    }
    return DS_OK;
}

ds_status ds_tl_backward(ds_context *ctx, const ds_tl_dims *d, const ds_tl_names *names, const ds_param_block *pb,
                         int first_param, const ds_tl_acts *acts, const ds_tensor *key_mask, const ds_tensor *dy,
                         const ds_tensor *dx, uint64_t dropout_offset, ds_arena *arena) {
    ds_err *err = &ctx->err;
    const int64_t H = d->hidden, I = d->intermediate, nh = d->heads, B = acts->B, T = acts->T, N = B * T;
    const int64_t dh = H / nh;
    ds_tensor dres2, dg, dinter, da, da2, dres1, dc, dch, dqh, dkh, dvh, dq, dk, dv, dxp;
    DS_TRY(carve2(arena, N, H, &dres2, err));
    DS_TRY(carve2(arena, N, I, &dg, err));
    DS_TRY(carve2(arena, N, I, &dinter, err));
    DS_TRY(carve2(arena, N, H, &da, err));
    DS_TRY(carve2(arena, N, H, &da2, err));
    DS_TRY(carve2(arena, N, H, &dres1, err));
    DS_TRY(carve2(arena, N, H, &dc, err));
    dch = dqh = dkh = dvh = (ds_tensor){0};
    if (!heads_in_place(dy)) {
        DS_TRY(carve_heads(arena, B, nh, T, dh, &dch, err));
        DS_TRY(carve_heads(arena, B, nh, T, dh, &dqh, err));
        DS_TRY(carve_heads(arena, B, nh, T, dh, &dkh, err));
        DS_TRY(carve_heads(arena, B, nh, T, dh, &dvh, err));
    }
    DS_TRY(carve2(arena, N, H, &dq, err));
    DS_TRY(carve2(arena, N, H, &dk, err));
    DS_TRY(carve2(arena, N, H, &dv, err));
    DS_TRY(carve2(arena, N, H, &dxp, err));
    if (arena->measuring) return DS_OK;

    if (!d->pre_ln) {
        // y = LN2(res2), res2 = a + dropout(dense(...)), a = LN1(res1), res1 = x + dropout(dense(c)).
        ds_layernorm_bwd_args n2 = {.x = acts->res2, .gamma = P(DS_TL_LN2_W), .mean = acts->mean2, .rstd = acts->rstd2,
                                    .dy = *dy, .dx = dres2, .dgamma = G(DS_TL_LN2_W), .dbeta = G(DS_TL_LN2_B),
                                    .accumulate = true};
        DS_TRY(ds_layernorm_backward(ctx, &n2));
        DS_TRY(ffn_backward(ctx, d, names, pb, first_param, acts, &dres2, &dq, &dg, &dinter, &da2, dropout_offset));
        ds_add_args sa = {.a = dres2, .b = da2, .y = da};  // a feeds both the residual and the FFN
        DS_TRY(ds_add(ctx, &sa));
        ds_layernorm_bwd_args n1 = {.x = acts->res1, .gamma = P(DS_TL_LN1_W), .mean = acts->mean1, .rstd = acts->rstd1,
                                    .dy = da, .dx = dres1, .dgamma = G(DS_TL_LN1_W), .dbeta = G(DS_TL_LN1_B),
                                    .accumulate = true};
        DS_TRY(ds_layernorm_backward(ctx, &n1));
        return attention_backward(ctx, d, names, pb, first_param, acts, &acts->x, key_mask, &dres1, &dres1, dx, &dc,
                                  &dch, &dqh, &dkh, &dvh, &dq, &dk, &dv, &dxp, dropout_offset);
    }
    // Pre-LN: y = res2 = res1 + dropout(dense(...(a))), a = LN2(res1); res1 = x + dropout(dense(c)),
    // c = attention(LN1(x)).
    DS_TRY(ffn_backward(ctx, d, names, pb, first_param, acts, dy, &dq, &dg, &dinter, &da2, dropout_offset));
    ds_layernorm_bwd_args n2 = {.x = acts->res1, .gamma = P(DS_TL_LN2_W), .mean = acts->mean2, .rstd = acts->rstd2,
                                .dy = da2, .dx = da, .dgamma = G(DS_TL_LN2_W), .dbeta = G(DS_TL_LN2_B),
                                .accumulate = true};
    DS_TRY(ds_layernorm_backward(ctx, &n2));
    ds_add_args sr = {.a = *dy, .b = da, .y = dres1};  // res1 feeds the residual and LN2
    DS_TRY(ds_add(ctx, &sr));
    // The attention block's input gradient (at h1) goes to da (free now), then through LN1 into
    // dres2 (free), which is added onto the residual's dres1 to give dx.
    DS_TRY(attention_backward(ctx, d, names, pb, first_param, acts, &acts->h1, key_mask, &dres1, NULL, &da, &dc, &dch,
                              &dqh, &dkh, &dvh, &dq, &dk, &dv, &dxp, dropout_offset));
    ds_layernorm_bwd_args n1 = {.x = acts->x, .gamma = P(DS_TL_LN1_W), .mean = acts->mean1, .rstd = acts->rstd1,
                                .dy = da, .dx = dres2, .dgamma = G(DS_TL_LN1_W), .dbeta = G(DS_TL_LN1_B),
                                .accumulate = true};
    DS_TRY(ds_layernorm_backward(ctx, &n1));
    if (dx) {
        ds_add_args s = {.a = dres1, .b = dres2, .y = *dx};
        DS_TRY(ds_add(ctx, &s));
    }
    return DS_OK;
}

double ds_tl_forward_flops(const ds_tl_dims *d, int64_t B, int64_t T) {
    const double N = (double)(B * T), H = (double)d->hidden, I = (double)d->intermediate;
    const double linears = 2.0 * N * (4.0 * H * H + 2.0 * H * I);
    const double attention = 2.0 * 2.0 * (double)B * (double)T * (double)T * H;  // QK^T and PV
    return linears + attention;
}
