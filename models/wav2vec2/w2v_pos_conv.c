#include "w2v_pos_conv.h"

#include <stdio.h>

#include "../../runtime/base/check.h"
#include "../common/device_memory.h"
#include "w2v_conv.h"

void ds_w2v_pos_specs(const ds_w2v_pos_dims *d, const char *prefix, ds_param_spec *specs, int *count) {
    static const char *const names[DS_W2V_POS_PARAM_COUNT] = {
        "conv.bias", "conv.parametrizations.weight.original0", "conv.parametrizations.weight.original1"};
    for (int p = 0; p < DS_W2V_POS_PARAM_COUNT; p++) {
        ds_param_spec *s = &specs[(*count)++];
        *s = (ds_param_spec){0};
        snprintf(s->name, sizeof s->name, "%s%s", prefix, names[p]);
        s->decay = p != DS_W2V_POS_BIAS;  // HF's Trainer decays weight_g and weight_v (no "norm" in their names)
        if (p == DS_W2V_POS_BIAS) {
            s->ndim = 1;
            s->shape[0] = d->hidden;
        } else {
            s->ndim = 3;
            s->shape[0] = p == DS_W2V_POS_G ? 1 : d->hidden;
            s->shape[1] = p == DS_W2V_POS_G ? 1 : d->hidden / d->groups;
            s->shape[2] = d->kernel;
        }
    }
}

#define RUN(stmt)                            \
    do {                                     \
        if (!arena->measuring) DS_TRY(stmt); \
    } while (0)

// (B, T, H) <-> (B, H, T) through the head permutation with D = 1.
static ds_status to_channels_first(ds_context *ctx, const ds_tensor *x, const ds_tensor *y, int64_t B, int64_t T,
                                   int64_t H) {
    const int64_t xs[] = {B, T, H}, ys[] = {B, H, T, 1};
    ds_permute_heads_args p = {.x = ds_tensor_make(x->data, x->dtype, x->device, 3, xs),
                               .y = ds_tensor_make(y->data, y->dtype, y->device, 4, ys), .heads = (int)H, .to_heads = true};
    return ds_permute_heads(ctx, &p);
}
static ds_status to_time_first(ds_context *ctx, const ds_tensor *x, const ds_tensor *y, int64_t B, int64_t T,
                               int64_t H) {
    const int64_t xs[] = {B, H, T, 1}, ys[] = {B, T, H};
    ds_permute_heads_args p = {.x = ds_tensor_make(x->data, x->dtype, x->device, 4, xs),
                               .y = ds_tensor_make(y->data, y->dtype, y->device, 3, ys), .heads = (int)H, .to_heads = false};
    return ds_permute_heads(ctx, &p);
}

// Rows [0, T) of sample b of a (B, T_rows, H) tensor, as a (T, H) view.
static ds_tensor rows_of(const ds_tensor *t, int64_t b, int64_t T_rows, int64_t T, int64_t H) {
    const int64_t s[] = {T, H};
    char *base = t->data;
    return ds_tensor_make(base ? base + (size_t)(b * T_rows * H) * ds_dtype_size(t->dtype) : NULL, t->dtype, t->device,
                          2, s);
}

ds_status ds_w2v_pos_forward(ds_context *ctx, const ds_w2v_pos_dims *d, const ds_param_block *pb, int first_param,
                             const ds_tensor *h, const ds_tensor *out, int64_t B, int64_t T, ds_arena *arena,
                             ds_w2v_pos_acts *acts) {
    ds_err *err = &ctx->err;
    const int64_t H = d->hidden, K = d->kernel, pad = K / 2, T2 = T + 2 * pad - K + 1;
    acts->B = B, acts->T = T, acts->T2 = T2;
    const int64_t ws[] = {H, H / d->groups, K}, ht[] = {B, H, T}, hy[] = {B, H, T2}, ty[] = {B, T2, H};
    const ds_dtype act = d->act;
    DS_TRY(ds_arena_tensor(arena, act, 3, ws, &acts->w, err));
    DS_TRY(ds_arena_tensor(arena, DS_F32, 1, &K, &acts->norm, err));
    DS_TRY(ds_arena_tensor(arena, act, 3, ht, &acts->xt, err));
    DS_TRY(ds_arena_tensor(arena, act, 3, hy, &acts->y, err));
    DS_TRY(ds_arena_tensor(arena, act, 3, ty, &acts->yt, err));
    DS_TRY(ds_arena_tensor(arena, act, 3, ty, &acts->gl, err));
#define P(i) ds_param_block_op_param(pb, first_param + (i))
    const ds_w2v_conv1d cv = {.stride = 1, .padding = (int)pad, .groups = (int)d->groups};
    if (arena->measuring) {  // the conv's workspace is the only other carving
        const ds_tensor bias = P(DS_W2V_POS_BIAS);
        return ds_w2v_conv1d_forward(ctx, &cv, &acts->xt, &acts->w, &bias, &acts->y, arena);
    }
    ds_weight_norm_fwd_args wn = {.v = P(DS_W2V_POS_V), .g = P(DS_W2V_POS_G), .w = acts->w, .norm = acts->norm, .dim = 2};
    DS_TRY(ds_weight_norm_forward(ctx, &wn));
    DS_TRY(to_channels_first(ctx, h, &acts->xt, B, T, H));
    const ds_tensor bias = P(DS_W2V_POS_BIAS);
    DS_TRY(ds_w2v_conv1d_forward(ctx, &cv, &acts->xt, &acts->w, &bias, &acts->y, arena));
    DS_TRY(to_time_first(ctx, &acts->y, &acts->yt, B, T2, H));
    ds_unary_fwd_args ge = {.x = acts->yt, .y = acts->gl};
    DS_TRY(ds_gelu_forward(ctx, &ge));
    // out = h + gelu(...)[:, :T] (an even kernel's last frame dropped), per sample.
    for (int64_t b = 0; b < B; b++) {
        ds_add_args s = {.a = rows_of(h, b, T, T, H), .b = rows_of(&acts->gl, b, T2, T, H), .y = rows_of(out, b, T, T, H)};
        DS_TRY(ds_add(ctx, &s));
    }
    return DS_OK;
}

ds_status ds_w2v_pos_backward(ds_context *ctx, const ds_w2v_pos_dims *d, const ds_param_block *pb, int first_param,
                              const ds_w2v_pos_acts *acts, const ds_tensor *dout, const ds_tensor *dh, ds_arena *arena) {
    ds_err *err = &ctx->err;
    const int64_t H = d->hidden, K = d->kernel, B = acts->B, T = acts->T, T2 = acts->T2;
    const int64_t ws[] = {H, H / d->groups, K}, ht[] = {B, H, T}, hy[] = {B, H, T2}, ty[] = {B, T2, H};
    ds_tensor dgl, dyt, dy, dxt, dw;
    DS_TRY(ds_arena_tensor(arena, d->act, 3, ty, &dgl, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 3, ty, &dyt, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 3, hy, &dy, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 3, ht, &dxt, err));
    DS_TRY(ds_arena_tensor(arena, DS_F32, 3, ws, &dw, err));  // the conv's dw is F32 in either precision
#define G(i) ds_param_block_op_grad(pb, first_param + (i))
    const ds_w2v_conv1d cv = {.stride = 1, .padding = (int)(K / 2), .groups = (int)d->groups};
    if (arena->measuring) {  // the conv's workspace is the only other carving
        const ds_tensor db = G(DS_W2V_POS_BIAS);
        return ds_w2v_conv1d_backward(ctx, &cv, &acts->xt, &acts->w, &dy, &dxt, &dw, &db, arena);
    }
    // The dropped frame gets no gradient: dgl = dout on rows [0, T), 0 beyond.
    DS_TRY(ds_tensor_zero(ctx, &dgl));
    for (int64_t b = 0; b < B; b++) {
        const ds_tensor rows = rows_of(&dgl, b, T2, T, H);
        ds_add_args s = {.a = rows, .b = rows_of(dout, b, T, T, H), .y = rows};
        DS_TRY(ds_add(ctx, &s));
    }
    ds_unary_bwd_args ge = {.x = acts->yt, .y = acts->gl, .dy = dgl, .dx = dyt};
    DS_TRY(ds_gelu_backward(ctx, &ge));
    DS_TRY(to_channels_first(ctx, &dyt, &dy, B, T2, H));
    // The weight's gradient goes to a zeroed temporary (then through the weight norm into g and v);
    // accumulate is on for the bias's, which adds into the block.
    DS_TRY(ds_tensor_zero(ctx, &dw));
    const ds_tensor db = G(DS_W2V_POS_BIAS);
    DS_TRY(ds_w2v_conv1d_backward(ctx, &cv, &acts->xt, &acts->w, &dy, &dxt, &dw, &db, arena));
    ds_weight_norm_bwd_args wn = {.v = P(DS_W2V_POS_V), .g = P(DS_W2V_POS_G), .norm = acts->norm, .dw = dw,
                                  .dv = G(DS_W2V_POS_V), .dg = G(DS_W2V_POS_G), .dim = 2, .accumulate = true};
    DS_TRY(ds_weight_norm_backward(ctx, &wn));
    // dh = dout + the conv input's gradient (channels first -> time first, into dh, then add).
    DS_TRY(to_time_first(ctx, &dxt, dh, B, T, H));
    ds_add_args s = {.a = *dh, .b = *dout, .y = *dh};
    return ds_add(ctx, &s);
}
