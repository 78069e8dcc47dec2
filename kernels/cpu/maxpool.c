// 2-d max pooling with indices (torch.nn.functional.max_pool2d(return_indices=True)) and its
// backward; ResNet's stem uses 3x3, stride 2, padding 1.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

typedef struct pool_shape {
    int64_t planes, H, W, P, Q;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
} pool_shape;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

#define DS_REAL_F64 0
#include "maxpool_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "maxpool_impl.inc"
#undef DS_REAL_F64

// Resolves the geometry for an input of (H, W) and checks it as torch does.
static ds_status resolve(ds_err *err, const char *op, const ds_pool2d_geom *g, int64_t N, int64_t C, int64_t H,
                         int64_t W, pool_shape *ps) {
    ps->kh = g->kernel_h, ps->kw = g->kernel_w;
    ps->sh = g->stride_h ? g->stride_h : g->kernel_h, ps->sw = g->stride_w ? g->stride_w : g->kernel_w;
    ps->ph = g->pad_h, ps->pw = g->pad_w;
    ps->dh = g->dilation_h ? g->dilation_h : 1, ps->dw = g->dilation_w ? g->dilation_w : 1;
    DS_REQUIRE(err, ps->kh >= 1 && ps->kw >= 1 && ps->sh >= 1 && ps->sw >= 1 && ps->dh >= 1 && ps->dw >= 1,
               DS_ERR_INVALID_ARG, "%s: kernel (%lld, %lld), stride, dilation must be >= 1", op, (long long)ps->kh,
               (long long)ps->kw);
    DS_REQUIRE(err, ps->ph >= 0 && ps->pw >= 0 && 2 * ps->ph <= ps->kh && 2 * ps->pw <= ps->kw, DS_ERR_INVALID_ARG,
               "%s: padding (%lld, %lld) must lie in [0, kernel/2] for kernel (%lld, %lld)", op, (long long)ps->ph,
               (long long)ps->pw, (long long)ps->kh, (long long)ps->kw);
    ps->planes = N * C, ps->H = H, ps->W = W;
    ps->P = ds_pool_out_size(H, (int)ps->kh, (int)ps->sh, (int)ps->ph, (int)ps->dh, g->ceil_mode);
    ps->Q = ds_pool_out_size(W, (int)ps->kw, (int)ps->sw, (int)ps->pw, (int)ps->dw, g->ceil_mode);
    DS_REQUIRE(err, ps->P >= 1 && ps->Q >= 1 && H * W <= INT32_MAX, DS_ERR_INVALID_ARG,
               "%s: input (%lld, %lld) gives an output of %lld x %lld", op, (long long)H, (long long)W,
               (long long)ps->P, (long long)ps->Q);
    return DS_OK;
}

ds_status ds_cpu_maxpool2d_forward(ds_context *ctx, const void *args) {
    const ds_maxpool2d_fwd_args *a = args;
    const char *op = "maxpool2d_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, &dt));
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, 4, NULL));
    const int64_t *s = a->x.shape;
    pool_shape ps;
    DS_TRY(resolve(err, op, &a->geom, s[0], s[1], s[2], s[3], &ps));
    const int64_t out[] = {s[0], s[1], ps.P, ps.Q};
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, 4, out));
    DS_TRY(ds_cpu_check(err, op, "indices", &a->indices, DS_I32, 4, out));
    if (dt == DS_F32) maxpool_fwd_f32(&ps, a->x.data, a->y.data, a->indices.data);
    else maxpool_fwd_f64(&ps, a->x.data, a->y.data, a->indices.data);
    return DS_OK;
}

ds_status ds_cpu_maxpool2d_backward(ds_context *ctx, const void *args) {
    const ds_maxpool2d_bwd_args *a = args;
    const char *op = "maxpool2d_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, &dt));
    DS_TRY(ds_cpu_check(err, op, "dy", &a->dy, dt, 4, NULL));
    DS_TRY(ds_cpu_check(err, op, "indices", &a->indices, DS_I32, 4, a->dy.shape));
    DS_TRY(ds_cpu_check(err, op, "dx", &a->dx, dt, 4, (const int64_t[]){a->dy.shape[0], a->dy.shape[1], -1, -1}));
    pool_shape ps = {.planes = a->dy.shape[0] * a->dy.shape[1], .H = a->dx.shape[2], .W = a->dx.shape[3],
                     .P = a->dy.shape[2], .Q = a->dy.shape[3]};
    // Every index must name a cell of its plane (they come from forward; a bad one would write
    // outside dx).
    const int32_t *idx = a->indices.data;
    const int64_t n = ds_tensor_numel(&a->indices), plane = ps.H * ps.W;
    for (int64_t i = 0; i < n; i++)
        DS_REQUIRE(err, idx[i] >= 0 && idx[i] < plane, DS_ERR_INVALID_ARG,
                   "%s: indices[%lld] = %d is outside the (%lld, %lld) input plane", op, (long long)i, (int)idx[i],
                   (long long)ps.H, (long long)ps.W);
    if (dt == DS_F32) maxpool_bwd_f32(&ps, idx, a->dy.data, a->dx.data);
    else maxpool_bwd_f64(&ps, idx, a->dy.data, a->dx.data);
    return DS_OK;
}
