#include "conv_bn.h"

#include <stdio.h>
#include <string.h>

#include "../../kernels/cuda_fused.h"
#include "../../runtime/base/check.h"

enum { BN_WEIGHT = 0, BN_BIAS, BN_RUNNING_MEAN, BN_RUNNING_VAR, BN_NUM_BATCHES, BN_TENSORS };

static ds_param_spec *add_spec(ds_param_spec *specs, int *count, const char *prefix, const char *name, int ndim,
                               const int64_t *shape) {
    ds_param_spec *s = &specs[(*count)++];
    *s = (ds_param_spec){0};
    snprintf(s->name, sizeof s->name, "%s%s", prefix, name);
    s->ndim = ndim;
    for (int d = 0; d < ndim; d++) s->shape[d] = shape[d];
    s->decay = true;
    return s;
}

void ds_conv_bn_add_specs(ds_conv_bn *u, const char *conv_prefix, const char *bn_prefix,
                          const ds_conv_bn_spec_opts *opts, ds_param_spec *specs, int *count) {
    const int groups = u->geom.groups ? u->geom.groups : 1;
    const int64_t wshape[] = {u->cout, u->cin / groups, u->kh, u->kw};
    u->w = *count;
    add_spec(specs, count, conv_prefix, "weight", 4, wshape)->lr_mult = opts->lr_mult;
    u->b = -1;
    if (opts->bias) {
        u->b = *count;
        add_spec(specs, count, conv_prefix, "bias", 1, &u->cout)->lr_mult = opts->lr_mult;
    }
    u->bn = -1;
    if (!opts->bn) return;
    u->bn = *count;
    static const char *const names[BN_TENSORS] = {"weight", "bias", "running_mean", "running_var",
                                                  "num_batches_tracked"};
    for (int i = 0; i < BN_TENSORS; i++) {
        ds_param_spec *s = add_spec(specs, count, bn_prefix, names[i], i == BN_NUM_BATCHES ? 0 : 1, &u->cout);
        s->lr_mult = opts->lr_mult;
        if (i >= BN_RUNNING_MEAN) {
            s->kind = DS_PARAM_BUFFER;
            s->decay = false;
            s->dtype = i == BN_NUM_BATCHES ? DS_I64 : DS_F32;
        } else if (opts->frozen_bn) {
            s->kind = DS_PARAM_FROZEN;
            s->decay = false;
        }
    }
}

void ds_conv_bn_out_size(const ds_conv_bn *u, int64_t H, int64_t W, int64_t *P, int64_t *Q) {
    const ds_conv2d_geom *g = &u->geom;
    *P = ds_conv_out_size(H, (int)u->kh, g->stride_h ? g->stride_h : 1, g->pad_h, g->dilation_h ? g->dilation_h : 1);
    *Q = ds_conv_out_size(W, (int)u->kw, g->stride_w ? g->stride_w : 1, g->pad_w, g->dilation_w ? g->dilation_w : 1);
}

// Ops run only with a real arena; a measuring arena (data NULL) just plans the memory.
#define RUN(stmt)                            \
    do {                                     \
        if (!arena->measuring) DS_TRY(stmt); \
    } while (0)

static bool world_above_one(const ds_conv_bn_mode *m) {
    return m->coll != NULL && m->coll->allreduce_sum != NULL && m->coll->world > 1;
}

// SyncBatchNorm's sums over the ranks, where they are: host memory on the CPU, device memory
// (ordered after the kernels that computed them) on a GPU.
static ds_status allreduce(ds_context *ctx, const ds_conv_bn_mode *m, const ds_tensor *buf) {
    if (buf->device.kind == DS_DEVICE_CPU)
        return m->coll->allreduce_sum(m->coll->user, buf->data, ds_tensor_numel(buf), buf->dtype, &ctx->err);
    DS_REQUIRE(&ctx->err, m->coll->allreduce_sum_device != NULL, DS_ERR_INVALID_ARG,
               "SyncBatchNorm: the statistics are in device memory but the collective sums host memory only");
    return m->coll->allreduce_sum_device(m->coll->user, buf->data, ds_tensor_numel(buf), buf->dtype, &ctx->err);
}

static ds_tensor param(const ds_param_block *pb, int i) { return ds_param_block_op_param(pb, i); }


// A workspace for the conv of u over x as an arena temporary (absent when it needs none).
static ds_status carve_workspace(ds_context *ctx, const ds_conv_bn *u, const ds_param_block *pb,
                                 const ds_conv_bn_mode *mode, const ds_tensor *x, ds_arena *arena, ds_tensor *ws) {
    size_t bytes = 0;
    ds_tensor w = ds_param_block_op_weight(pb, u->w, mode->act);
    if (w.data == NULL) w = param(pb, u->w);  // shape and dtype are all the query reads
    w.dtype = mode->act;
    ds_conv2d_workspace_args q = {.x = *x, .w = w, .geom = u->geom, .bytes = &bytes};
    DS_TRY(ds_conv2d_workspace_size(ctx, &q));
    *ws = (ds_tensor){0};
    if (bytes == 0) return DS_OK;
    const int64_t n = (int64_t)bytes;
    return ds_arena_tensor(arena, DS_U8, 1, &n, ws, &ctx->err);
}

// Forward; with residual (not NULL) y = relu(bn(conv(x)) + residual) (see ds_conv_bn_forward_residual).
static ds_status forward(ds_context *ctx, const ds_conv_bn *u, const ds_param_block *pb, const ds_conv_bn_mode *mode,
                         const ds_tensor *x, const ds_tensor *residual, const ds_tensor *y_out, ds_arena *arena,
                         ds_conv_bn_acts *acts) {
    ds_err *err = &ctx->err;
    const int64_t N = x->shape[0];
    int64_t P, Q;
    ds_conv_bn_out_size(u, x->shape[2], x->shape[3], &P, &Q);
    DS_REQUIRE(err, x->ndim == 4 && x->shape[1] == u->cin && P >= 1 && Q >= 1, DS_ERR_INVALID_ARG,
               "conv_bn '%s': input (%lld, %lld, %lld, %lld) does not fit a (%lld, %lld, %lld, %lld) convolution",
               pb->specs[u->w].name, (long long)x->shape[0], (long long)x->shape[1], (long long)x->shape[2],
               (long long)x->shape[3], (long long)u->cout, (long long)u->cin, (long long)u->kh, (long long)u->kw);
    const int64_t shape[] = {N, u->cout, P, Q};
    const bool has_bn = u->bn >= 0;
    *acts = (ds_conv_bn_acts){.x = *x, .batch_stats = has_bn && mode->batch_stats};
    const bool y_is_z = !has_bn && !u->relu;
    if (y_is_z && y_out != NULL) acts->z = *y_out;
    else DS_TRY(ds_arena_tensor(arena, mode->act, 4, shape, &acts->z, err));

    size_t mark = arena->used;
    ds_tensor ws;
    DS_TRY(carve_workspace(ctx, u, pb, mode, x, arena, &ws));
    ds_conv2d_fwd_args conv = {.x = *x, .w = ds_param_block_op_weight(pb, u->w, mode->act),
                               .b = u->b >= 0 ? param(pb, u->b) : (ds_tensor){0}, .y = acts->z, .workspace = ws,
                               .geom = u->geom};
    RUN(ds_conv2d_forward(ctx, &conv));
    arena->used = mark;

    if (y_is_z) {
        acts->y = acts->z;
        return DS_OK;
    }
    if (has_bn) {
        DS_TRY(ds_arena_tensor(arena, DS_F32, 1, &u->cout, &acts->mean, err));
        DS_TRY(ds_arena_tensor(arena, DS_F32, 1, &u->cout, &acts->rstd, err));
    }
    if (y_out != NULL) acts->y = *y_out;
    else DS_TRY(ds_arena_tensor(arena, mode->act, 4, shape, &acts->y, err));
    if (has_bn) {
        mark = arena->used;
        ds_tensor stats = {0};
        const int64_t n_stats = 2 * u->cout + 1;
        if (acts->batch_stats) DS_TRY(ds_arena_tensor(arena, DS_F64, 1, &n_stats, &stats, err));
        if (acts->batch_stats) {
            ds_bn_stats_args sa = {.x = acts->z, .stats = stats};
            RUN(ds_bn_stats(ctx, &sa));
            if (world_above_one(mode)) RUN(allreduce(ctx, mode, &stats));
        }
        ds_bn_finalize_args fa = {.stats = stats, .mean = acts->mean, .rstd = acts->rstd,
                                  .running_mean = param(pb, u->bn + BN_RUNNING_MEAN),
                                  .running_var = param(pb, u->bn + BN_RUNNING_VAR),
                                  .num_batches_tracked = param(pb, u->bn + BN_NUM_BATCHES), .eps = mode->eps,
                                  .momentum = mode->momentum, .use_running = !acts->batch_stats};
        RUN(ds_bn_finalize(ctx, &fa));
        arena->used = mark;
        ds_bn_apply_args aa = {.x = acts->z, .mean = acts->mean, .rstd = acts->rstd, .gamma = param(pb, u->bn + BN_WEIGHT),
                               .beta = param(pb, u->bn + BN_BIAS), .y = acts->y};
        const bool relu = u->relu || residual != NULL;
        if (x->device.kind == DS_DEVICE_CUDA && relu) {
            // One pass: apply, (+ residual), ReLU (kernels/cuda_fused.h).
            RUN(ds_cuda_bn_apply_act(ctx, &aa, residual ? *residual : (ds_tensor){0}, relu));
            return DS_OK;
        }
        RUN(ds_bn_apply(ctx, &aa));
        if (residual != NULL) {
            ds_add_args add = {.a = acts->y, .b = *residual, .y = acts->y};
            RUN(ds_add(ctx, &add));
        }
        if (relu) {
            ds_unary_fwd_args r = {.x = acts->y, .y = acts->y};
            RUN(ds_relu_forward(ctx, &r));
        }
        return DS_OK;
    }
    ds_channel_copy_args cp = {.src = acts->z, .dst = acts->y, .channels = u->cout};
    RUN(ds_channel_copy(ctx, &cp));
    if (u->relu) {
        ds_unary_fwd_args r = {.x = acts->y, .y = acts->y};
        RUN(ds_relu_forward(ctx, &r));
    }
    return DS_OK;
}

ds_status ds_conv_bn_forward(ds_context *ctx, const ds_conv_bn *u, const ds_param_block *pb,
                             const ds_conv_bn_mode *mode, const ds_tensor *x, const ds_tensor *y_out,
                             ds_arena *arena, ds_conv_bn_acts *acts) {
    return forward(ctx, u, pb, mode, x, NULL, y_out, arena, acts);
}

ds_status ds_conv_bn_forward_residual(ds_context *ctx, const ds_conv_bn *u, const ds_param_block *pb,
                                      const ds_conv_bn_mode *mode, const ds_tensor *x, const ds_tensor *residual,
                                      ds_arena *arena, ds_conv_bn_acts *acts) {
    DS_REQUIRE(&ctx->err, u->bn >= 0 && !u->relu, DS_ERR_INVALID_ARG,
               "conv_bn '%s': a residual unit needs a BN and no ReLU of its own", pb->specs[u->w].name);
    return forward(ctx, u, pb, mode, x, residual, NULL, arena, acts);
}

ds_status ds_conv_bn_backward(ds_context *ctx, const ds_conv_bn *u, const ds_param_block *pb,
                              const ds_conv_bn_mode *mode, const ds_conv_bn_acts *acts, const ds_tensor *dy,
                              const ds_tensor *scratch, const ds_tensor *dx, ds_arena *arena) {
    ds_err *err = &ctx->err;
    const ds_tensor *g = dy;  // gradient of the current stage's output
    if (u->relu) {
        ds_unary_bwd_args r = {.y = acts->y, .dy = *g, .dx = *scratch};
        RUN(ds_relu_backward(ctx, &r));
        g = scratch;
    }
    const size_t mark = arena->used;
    if (u->bn >= 0) {
        ds_tensor sums = {0};
        const int64_t n_sums = 2 * u->cout + 1;
        if (acts->batch_stats) DS_TRY(ds_arena_tensor(arena, DS_F64, 1, &n_sums, &sums, err));
        ds_bn_bwd_reduce_args ra = {.x = acts->z, .mean = acts->mean, .rstd = acts->rstd, .dy = *g, .sums = sums,
                                    .dgamma = ds_param_block_op_grad(pb, u->bn + BN_WEIGHT),
                                    .dbeta = ds_param_block_op_grad(pb, u->bn + BN_BIAS), .accumulate = true};
        // Eval-mode BN with frozen gamma/beta needs no reduction at all.
        if (acts->batch_stats || ra.dgamma.data != NULL || arena->measuring) RUN(ds_bn_backward_reduce(ctx, &ra));
        if (acts->batch_stats && world_above_one(mode)) RUN(allreduce(ctx, mode, &sums));
        ds_bn_bwd_apply_args pa = {.x = acts->z, .mean = acts->mean, .rstd = acts->rstd,
                                   .gamma = param(pb, u->bn + BN_WEIGHT), .dy = *g, .sums = sums, .dx = *scratch};
        RUN(ds_bn_backward_apply(ctx, &pa));
        g = scratch;
        arena->used = mark;
    }
    ds_tensor ws;
    DS_TRY(carve_workspace(ctx, u, pb, mode, &acts->x, arena, &ws));
    ds_conv2d_bwd_args cb = {.x = acts->x, .w = ds_param_block_op_weight(pb, u->w, mode->act), .dy = *g,
                             .dx = dx ? *dx : (ds_tensor){0},
                             .dw = ds_param_block_op_grad(pb, u->w),
                             .db = u->b >= 0 ? ds_param_block_op_grad(pb, u->b) : (ds_tensor){0}, .workspace = ws,
                             .geom = u->geom, .accumulate = true};
    RUN(ds_conv2d_backward(ctx, &cb));
    arena->used = mark;
    return DS_OK;
}
