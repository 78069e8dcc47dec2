// Adaptive average pooling (torch.nn.functional.adaptive_avg_pool2d) and its backward; DeepLab's
// ASPP pools its input to 1x1.
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

// torch's window of output cell a of b over an input of c: [floor(a c / b), ceil((a + 1) c / b)).
static int64_t start_index(int64_t a, int64_t b, int64_t c) { return (a / b) * c + ((a % b) * c) / b; }
static int64_t end_index(int64_t a, int64_t b, int64_t c) { return 1 + ((a + 1) * c - 1) / b; }

#define DS_REAL_F64 0
#include "adaptive_avgpool_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "adaptive_avgpool_impl.inc"
#undef DS_REAL_F64

// big: the (N, C, H, W) side, small: the (N, C, P, Q) side; both present, one float dtype.
static ds_status check(ds_err *err, const char *op, const char *big_name, const ds_tensor *big, const char *small_name,
                       const ds_tensor *small, ds_dtype *dt) {
    DS_TRY(ds_cpu_check_float(err, op, small_name, small, dt));
    DS_TRY(ds_cpu_check(err, op, small_name, small, *dt, 4, NULL));
    DS_TRY(ds_cpu_check(err, op, big_name, big, *dt, 4, (const int64_t[]){small->shape[0], small->shape[1], -1, -1}));
    DS_REQUIRE(err, small->shape[2] >= 1 && small->shape[3] >= 1 && big->shape[2] >= 1 && big->shape[3] >= 1,
               DS_ERR_INVALID_ARG, "%s: empty spatial size", op);
    return DS_OK;
}

ds_status ds_cpu_adaptive_avgpool2d_forward(ds_context *ctx, const void *args) {
    const ds_adaptive_avgpool2d_args *a = args;
    ds_dtype dt;
    DS_TRY(check(&ctx->err, "adaptive_avgpool2d_forward", "x", &a->x, "y", &a->y, &dt));
    const int64_t *s = a->x.shape;
    if (dt == DS_F32) aavg_fwd_f32(a->x.data, a->y.data, s[0] * s[1], s[2], s[3], a->y.shape[2], a->y.shape[3]);
    else aavg_fwd_f64(a->x.data, a->y.data, s[0] * s[1], s[2], s[3], a->y.shape[2], a->y.shape[3]);
    return DS_OK;
}

ds_status ds_cpu_adaptive_avgpool2d_backward(ds_context *ctx, const void *args) {
    const ds_adaptive_avgpool2d_args *a = args;
    ds_dtype dt;
    DS_TRY(check(&ctx->err, "adaptive_avgpool2d_backward", "dx (y)", &a->y, "dy (x)", &a->x, &dt));
    const int64_t *s = a->y.shape;
    if (dt == DS_F32) aavg_bwd_f32(a->x.data, a->y.data, s[0] * s[1], s[2], s[3], a->x.shape[2], a->x.shape[3]);
    else aavg_bwd_f64(a->x.data, a->y.data, s[0] * s[1], s[2], s[3], a->x.shape[2], a->x.shape[3]);
    return DS_OK;
}
