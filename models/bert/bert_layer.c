#include "bert_layer.h"

#include <stdio.h>

#include "../../runtime/base/check.h"

void ds_bert_layer_specs(const ds_bert_layer_dims *d, const char *prefix, ds_param_spec *specs, int *count) {
    const int64_t H = d->hidden, I = d->intermediate;
    static const char *const names[DS_BL_PARAM_COUNT] = {
        "attention.self.query.weight",    "attention.self.query.bias",
        "attention.self.key.weight",      "attention.self.key.bias",
        "attention.self.value.weight",    "attention.self.value.bias",
        "attention.output.dense.weight",  "attention.output.dense.bias",
        "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
        "intermediate.dense.weight",      "intermediate.dense.bias",
        "output.dense.weight",            "output.dense.bias",
        "output.LayerNorm.weight",        "output.LayerNorm.bias",
    };
    // (rows, cols) of each weight in torch.nn.Linear layout (out, in); biases and norms are (rows).
    const int64_t rows[DS_BL_PARAM_COUNT] = {H, H, H, H, H, H, H, H, H, H, I, I, H, H, H, H};
    const int64_t cols[DS_BL_PARAM_COUNT] = {H, 0, H, 0, H, 0, H, 0, 0, 0, H, 0, I, 0, 0, 0};
    for (int i = 0; i < DS_BL_PARAM_COUNT; i++) {
        ds_param_spec *s = &specs[(*count)++];
        *s = (ds_param_spec){0};  // trainable F32, lr multiplier 1 (the defaults of a zeroed spec)
        snprintf(s->name, sizeof s->name, "%s%s", prefix, names[i]);
        s->ndim = cols[i] ? 2 : 1;
        s->shape[0] = rows[i];
        s->shape[1] = cols[i];
        // As HF's Trainer: no weight decay on biases and LayerNorm weights.
        s->decay = cols[i] != 0;
    }
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
// The weight operand of a linear: the bf16 working copy when activations are bf16 (the CUDA
// contract: linear's w is BF16 with BF16 x), else the F32 parameter.
static ds_tensor linear_weight(const ds_bert_layer_dims *d, const ds_param_block *pb, int i) {
    return d->act == DS_BF16 ? ds_param_block_op_param_bf16(pb, i) : ds_param_block_op_param(pb, i);
}
// (B*T, H) viewed as (B, T, H) for the head permutation.
static ds_tensor as_bth(const ds_tensor *t, int64_t B, int64_t T) {
    const int64_t s[] = {B, T, t->shape[1]};
    return ds_tensor_make(t->data, t->dtype, t->device, 3, s);
}

// Forward ops run only with a real arena; a measuring arena (data NULL) just plans the memory.
#define RUN(stmt)                               \
    do {                                        \
        if (!arena->measuring) DS_TRY(stmt);    \
    } while (0)

ds_status ds_bert_layer_forward(ds_context *ctx, const ds_bert_layer_dims *d, const ds_param_block *pb,
                                int first_param, const ds_tensor *x, const ds_tensor *key_mask, int64_t B,
                                int64_t T, uint64_t dropout_offset, ds_arena *arena, ds_bert_layer_acts *acts) {
    ds_err *err = &ctx->err;
    const int64_t H = d->hidden, I = d->intermediate, nh = d->heads, N = B * T;
    DS_REQUIRE(err, nh > 0 && H % nh == 0, DS_ERR_INVALID_ARG, "bert layer: hidden %lld is not a multiple of heads %lld",
               (long long)H, (long long)nh);
    const int64_t dh = H / nh;
#define P(i) ds_param_block_op_param(pb, first_param + (i))
#define W(i) linear_weight(d, pb, first_param + (i))
    acts->B = B;
    acts->T = T;
    acts->x = *x;
    DS_TRY(carve2(arena, N, H, &acts->q, err));
    DS_TRY(carve2(arena, N, H, &acts->k, err));
    DS_TRY(carve2(arena, N, H, &acts->v, err));
    DS_TRY(carve_heads(arena, B, nh, T, dh, &acts->qh, err));
    DS_TRY(carve_heads(arena, B, nh, T, dh, &acts->kh, err));
    DS_TRY(carve_heads(arena, B, nh, T, dh, &acts->vh, err));
    DS_TRY(carve_heads(arena, B, nh, T, dh, &acts->ch, err));
    const int64_t lse_shape[] = {B, nh, T};
    DS_TRY(ds_arena_tensor(arena, DS_F32, 3, lse_shape, &acts->lse, err));
    DS_TRY(carve2(arena, N, H, &acts->c, err));
    DS_TRY(carve2(arena, N, H, &acts->res1, err));
    DS_TRY(carve1(arena, N, &acts->mean1, err));
    DS_TRY(carve1(arena, N, &acts->rstd1, err));
    DS_TRY(carve2(arena, N, H, &acts->a, err));
    DS_TRY(carve2(arena, N, I, &acts->inter, err));
    DS_TRY(carve2(arena, N, I, &acts->g, err));
    DS_TRY(carve2(arena, N, H, &acts->res2, err));
    DS_TRY(carve1(arena, N, &acts->mean2, err));
    DS_TRY(carve1(arena, N, &acts->rstd2, err));
    DS_TRY(carve2(arena, N, H, &acts->y, err));

    ds_linear_fwd_args lq = {.x = *x, .w = W(DS_BL_Q_W), .b = P(DS_BL_Q_B), .y = acts->q};
    RUN(ds_linear_forward(ctx, &lq));
    ds_linear_fwd_args lk = {.x = *x, .w = W(DS_BL_K_W), .b = P(DS_BL_K_B), .y = acts->k};
    RUN(ds_linear_forward(ctx, &lk));
    ds_linear_fwd_args lv = {.x = *x, .w = W(DS_BL_V_W), .b = P(DS_BL_V_B), .y = acts->v};
    RUN(ds_linear_forward(ctx, &lv));
    const ds_tensor *flat[3] = {&acts->q, &acts->k, &acts->v};
    const ds_tensor *heads[3] = {&acts->qh, &acts->kh, &acts->vh};
    for (int i = 0; i < 3; i++) {
        ds_permute_heads_args sp = {.x = as_bth(flat[i], B, T), .y = *heads[i], .heads = (int)nh, .to_heads = true};
        RUN(ds_permute_heads(ctx, &sp));
    }
    ds_attention_fwd_args at = {.q = acts->qh, .k = acts->kh, .v = acts->vh, .out = acts->ch, .lse = acts->lse,
                                .scale = 1.0 / __builtin_sqrt((double)dh), .dropout_p = d->attn_dropout,
                                .dropout_offset = dropout_offset};
    if (key_mask) at.key_mask = *key_mask;
    RUN(ds_attention_forward(ctx, &at));
    ds_permute_heads_args mg = {.x = acts->ch, .y = as_bth(&acts->c, B, T), .heads = (int)nh, .to_heads = false};
    RUN(ds_permute_heads(ctx, &mg));

    // res1 = x + dropout(dense(c)); the dense output is written into res1 and dropped in place.
    ds_linear_fwd_args lo = {.x = acts->c, .w = W(DS_BL_AO_W), .b = P(DS_BL_AO_B), .y = acts->res1};
    RUN(ds_linear_forward(ctx, &lo));
    if (d->hidden_dropout > 0) {
        ds_dropout_fwd_args dr = {.x = acts->res1, .y = acts->res1, .p = d->hidden_dropout, .offset = dropout_offset + 1};
        RUN(ds_dropout_forward(ctx, &dr));
    }
    ds_add_args r1 = {.a = acts->res1, .b = *x, .y = acts->res1};
    RUN(ds_add(ctx, &r1));
    ds_layernorm_fwd_args n1 = {.x = acts->res1, .gamma = P(DS_BL_LN1_W), .beta = P(DS_BL_LN1_B), .y = acts->a,
                                .mean = acts->mean1, .rstd = acts->rstd1, .eps = d->ln_eps};
    RUN(ds_layernorm_forward(ctx, &n1));

    ds_linear_fwd_args li = {.x = acts->a, .w = W(DS_BL_I_W), .b = P(DS_BL_I_B), .y = acts->inter};
    RUN(ds_linear_forward(ctx, &li));
    ds_unary_fwd_args ge = {.x = acts->inter, .y = acts->g};
    RUN(ds_gelu_forward(ctx, &ge));
    ds_linear_fwd_args l2 = {.x = acts->g, .w = W(DS_BL_O_W), .b = P(DS_BL_O_B), .y = acts->res2};
    RUN(ds_linear_forward(ctx, &l2));
    if (d->hidden_dropout > 0) {
        ds_dropout_fwd_args dr = {.x = acts->res2, .y = acts->res2, .p = d->hidden_dropout, .offset = dropout_offset + 2};
        RUN(ds_dropout_forward(ctx, &dr));
    }
    ds_add_args r2 = {.a = acts->res2, .b = acts->a, .y = acts->res2};
    RUN(ds_add(ctx, &r2));
    ds_layernorm_fwd_args n2 = {.x = acts->res2, .gamma = P(DS_BL_LN2_W), .beta = P(DS_BL_LN2_B), .y = acts->y,
                                .mean = acts->mean2, .rstd = acts->rstd2, .eps = d->ln_eps};
    RUN(ds_layernorm_forward(ctx, &n2));
    return DS_OK;
}

ds_status ds_bert_layer_backward(ds_context *ctx, const ds_bert_layer_dims *d, const ds_param_block *pb,
                                 int first_param, const ds_bert_layer_acts *acts, const ds_tensor *key_mask,
                                 const ds_tensor *dy, const ds_tensor *dx, uint64_t dropout_offset,
                                 ds_arena *arena) {
    ds_err *err = &ctx->err;
    const int64_t H = d->hidden, I = d->intermediate, nh = d->heads, B = acts->B, T = acts->T, N = B * T;
    const int64_t dh = H / nh;
#define G(i) ds_param_block_op_grad(pb, first_param + (i))
    ds_tensor dres2, dg, dinter, da, da2, dres1, dc, dch, dqh, dkh, dvh, dq, dk, dv, dxp;
    DS_TRY(carve2(arena, N, H, &dres2, err));
    DS_TRY(carve2(arena, N, I, &dg, err));
    DS_TRY(carve2(arena, N, I, &dinter, err));
    DS_TRY(carve2(arena, N, H, &da, err));
    DS_TRY(carve2(arena, N, H, &da2, err));
    DS_TRY(carve2(arena, N, H, &dres1, err));
    DS_TRY(carve2(arena, N, H, &dc, err));
    DS_TRY(carve_heads(arena, B, nh, T, dh, &dch, err));
    DS_TRY(carve_heads(arena, B, nh, T, dh, &dqh, err));
    DS_TRY(carve_heads(arena, B, nh, T, dh, &dkh, err));
    DS_TRY(carve_heads(arena, B, nh, T, dh, &dvh, err));
    DS_TRY(carve2(arena, N, H, &dq, err));
    DS_TRY(carve2(arena, N, H, &dk, err));
    DS_TRY(carve2(arena, N, H, &dv, err));
    DS_TRY(carve2(arena, N, H, &dxp, err));
    if (arena->measuring) return DS_OK;

    // y = LN2(res2), res2 = a + dropout(dense(g))
    ds_layernorm_bwd_args n2 = {.x = acts->res2, .gamma = P(DS_BL_LN2_W), .mean = acts->mean2, .rstd = acts->rstd2,
                                .dy = *dy, .dx = dres2, .dgamma = G(DS_BL_LN2_W), .dbeta = G(DS_BL_LN2_B),
                                .accumulate = true};
    DS_TRY(ds_layernorm_backward(ctx, &n2));
    ds_tensor ddense2 = dres2;  // dropout's gradient; in place when dropout is on
    if (d->hidden_dropout > 0) {
        ddense2 = dq;  // scratch, free until the attention backward
        ds_dropout_bwd_args dr = {.dy = dres2, .dx = ddense2, .p = d->hidden_dropout, .offset = dropout_offset + 2};
        DS_TRY(ds_dropout_backward(ctx, &dr));
    }
    ds_linear_bwd_args l2 = {.x = acts->g, .w = W(DS_BL_O_W), .dy = ddense2, .dx = dg, .dw = G(DS_BL_O_W),
                             .db = G(DS_BL_O_B), .accumulate = true};
    DS_TRY(ds_linear_backward(ctx, &l2));
    ds_unary_bwd_args ge = {.x = acts->inter, .y = acts->g, .dy = dg, .dx = dinter};
    DS_TRY(ds_gelu_backward(ctx, &ge));
    ds_linear_bwd_args li = {.x = acts->a, .w = W(DS_BL_I_W), .dy = dinter, .dx = da2, .dw = G(DS_BL_I_W),
                             .db = G(DS_BL_I_B), .accumulate = true};
    DS_TRY(ds_linear_backward(ctx, &li));
    ds_add_args sa = {.a = dres2, .b = da2, .y = da};  // a feeds both the residual and the FFN
    DS_TRY(ds_add(ctx, &sa));

    // a = LN1(res1), res1 = x + dropout(dense(c))
    ds_layernorm_bwd_args n1 = {.x = acts->res1, .gamma = P(DS_BL_LN1_W), .mean = acts->mean1, .rstd = acts->rstd1,
                                .dy = da, .dx = dres1, .dgamma = G(DS_BL_LN1_W), .dbeta = G(DS_BL_LN1_B),
                                .accumulate = true};
    DS_TRY(ds_layernorm_backward(ctx, &n1));
    ds_tensor ddense1 = dres1;
    if (d->hidden_dropout > 0) {
        ddense1 = dq;
        ds_dropout_bwd_args dr = {.dy = dres1, .dx = ddense1, .p = d->hidden_dropout, .offset = dropout_offset + 1};
        DS_TRY(ds_dropout_backward(ctx, &dr));
    }
    ds_linear_bwd_args lo = {.x = acts->c, .w = W(DS_BL_AO_W), .dy = ddense1, .dx = dc, .dw = G(DS_BL_AO_W),
                             .db = G(DS_BL_AO_B), .accumulate = true};
    DS_TRY(ds_linear_backward(ctx, &lo));
    ds_permute_heads_args sp = {.x = as_bth(&dc, B, T), .y = dch, .heads = (int)nh, .to_heads = true};
    DS_TRY(ds_permute_heads(ctx, &sp));
    ds_attention_bwd_args at = {.q = acts->qh, .k = acts->kh, .v = acts->vh, .out = acts->ch, .lse = acts->lse,
                                .dout = dch, .dq = dqh, .dk = dkh, .dv = dvh, .scale = 1.0 / __builtin_sqrt((double)dh),
                                .dropout_p = d->attn_dropout, .dropout_offset = dropout_offset};
    if (key_mask) at.key_mask = *key_mask;
    DS_TRY(ds_attention_backward(ctx, &at));
    const ds_tensor *dheads[3] = {&dqh, &dkh, &dvh};
    const ds_tensor *dflat[3] = {&dq, &dk, &dv};
    for (int i = 0; i < 3; i++) {
        ds_permute_heads_args mg = {.x = *dheads[i], .y = as_bth(dflat[i], B, T), .heads = (int)nh, .to_heads = false};
        DS_TRY(ds_permute_heads(ctx, &mg));
    }
    // x feeds the residual and the three projections: dx = dres1 + sum of the projections' dx.
    const int wi[3] = {DS_BL_Q_W, DS_BL_K_W, DS_BL_V_W};
    for (int i = 0; i < 3; i++) {
        ds_linear_bwd_args lp = {.x = acts->x, .w = W(wi[i]), .dy = *dflat[i], .dw = G(wi[i]), .db = G(wi[i] + 1),
                                 .accumulate = true};
        if (dx) lp.dx = dxp;
        DS_TRY(ds_linear_backward(ctx, &lp));
        if (dx) {
            ds_add_args s = {.a = i == 0 ? dres1 : *dx, .b = dxp, .y = *dx};
            DS_TRY(ds_add(ctx, &s));
        }
    }
    return DS_OK;
}

double ds_bert_layer_forward_flops(const ds_bert_layer_dims *d, int64_t B, int64_t T) {
    const double N = (double)(B * T), H = (double)d->hidden, I = (double)d->intermediate;
    const double linears = 2.0 * N * (4.0 * H * H + 2.0 * H * I);
    const double attention = 2.0 * 2.0 * (double)B * (double)T * (double)T * H;  // QK^T and PV
    return linears + attention;
}
