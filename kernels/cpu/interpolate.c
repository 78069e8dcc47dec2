// Resizing (torch.nn.functional.interpolate with size=): bilinear, align_corners either way, up
// or down by any ratio; and its backward. DeepLab upsamples its logits to the input size.
#include <math.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

#define DS_REAL_F64 0
#include "interpolate_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "interpolate_impl.inc"
#undef DS_REAL_F64

// in: (N, C, H, W) side read, out: the side written; same N, C and float dtype.
static ds_status check(ds_err *err, const char *op, const ds_interpolate_args *a, ds_dtype *dt) {
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, dt));
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, *dt, 4, NULL));
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, *dt, 4, (const int64_t[]){a->x.shape[0], a->x.shape[1], -1, -1}));
    DS_REQUIRE(err, a->mode == DS_INTERP_BILINEAR, DS_ERR_UNSUPPORTED, "%s: mode %d is not supported (bilinear only)",
               op, (int)a->mode);
    for (int i = 2; i < 4; i++)
        DS_REQUIRE(err, a->x.shape[i] >= 1 && a->y.shape[i] >= 1, DS_ERR_INVALID_ARG, "%s: empty spatial size", op);
    return DS_OK;
}

ds_status ds_cpu_interpolate_forward(ds_context *ctx, const void *args) {
    const ds_interpolate_args *a = args;
    ds_dtype dt;
    DS_TRY(check(&ctx->err, "interpolate_forward", a, &dt));
    const int64_t *i = a->x.shape, *o = a->y.shape;
    if (dt == DS_F32) bilinear_fwd_f32(a->x.data, a->y.data, i[0] * i[1], i[2], i[3], o[2], o[3], a->align_corners);
    else bilinear_fwd_f64(a->x.data, a->y.data, i[0] * i[1], i[2], i[3], o[2], o[3], a->align_corners);
    return DS_OK;
}

ds_status ds_cpu_interpolate_backward(ds_context *ctx, const void *args) {
    const ds_interpolate_args *a = args;  // x: dy (N, C, OH, OW), y: dx (N, C, H, W)
    ds_dtype dt;
    DS_TRY(check(&ctx->err, "interpolate_backward", a, &dt));
    const int64_t *g = a->x.shape, *d = a->y.shape;
    if (dt == DS_F32) bilinear_bwd_f32(a->x.data, a->y.data, d[0] * d[1], d[2], d[3], g[2], g[3], a->align_corners);
    else bilinear_bwd_f64(a->x.data, a->y.data, d[0] * d[1], d[2], d[3], g[2], g[3], a->align_corners);
    return DS_OK;
}
