// Softmax and log-softmax over the last dim, forward and backward.
#include <math.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

#define DS_REAL_F64 0
#include "softmax_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "softmax_impl.inc"
#undef DS_REAL_F64

ds_status ds_cpu_softmax_forward(ds_context *ctx, const void *args) {
    const ds_softmax_fwd_args *a = args;
    const char *op = "softmax_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, &dt));
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, 2, NULL));
    const int64_t n = a->x.shape[0], c = a->x.shape[1];
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, 2, (const int64_t[]){n, c}));
    if (dt == DS_F32) softmax_fwd_f32(a->x.data, a->y.data, n, c);
    else softmax_fwd_f64(a->x.data, a->y.data, n, c);
    return DS_OK;
}

ds_status ds_cpu_softmax_backward(ds_context *ctx, const void *args) {
    const ds_softmax_bwd_args *a = args;
    const char *op = "softmax_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, &dt));
    DS_TRY(ds_cpu_check(err, op, "dy", &a->dy, dt, 2, NULL));
    const int64_t n = a->dy.shape[0], c = a->dy.shape[1];
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, 2, (const int64_t[]){n, c}));
    DS_TRY(ds_cpu_check(err, op, "dx", &a->dx, dt, 2, (const int64_t[]){n, c}));
    if (dt == DS_F32) softmax_bwd_f32(a->y.data, a->dy.data, a->dx.data, n, c);
    else softmax_bwd_f64(a->y.data, a->dy.data, a->dx.data, n, c);
    return DS_OK;
}

ds_status ds_cpu_log_softmax_forward(ds_context *ctx, const void *args) {
    const ds_softmax_fwd_args *a = args;
    const char *op = "log_softmax_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, &dt));
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, 2, NULL));
    const int64_t n = a->x.shape[0], c = a->x.shape[1];
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, 2, (const int64_t[]){n, c}));
    if (dt == DS_F32) log_softmax_fwd_f32(a->x.data, a->y.data, n, c);
    else log_softmax_fwd_f64(a->x.data, a->y.data, n, c);
    return DS_OK;
}

ds_status ds_cpu_log_softmax_backward(ds_context *ctx, const void *args) {
    const ds_softmax_bwd_args *a = args;
    const char *op = "log_softmax_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, &dt));
    DS_TRY(ds_cpu_check(err, op, "dy", &a->dy, dt, 2, NULL));
    const int64_t n = a->dy.shape[0], c = a->dy.shape[1];
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, 2, (const int64_t[]){n, c}));
    DS_TRY(ds_cpu_check(err, op, "dx", &a->dx, dt, 2, (const int64_t[]){n, c}));
    if (dt == DS_F32) log_softmax_bwd_f32(a->y.data, a->dy.data, a->dx.data, n, c);
    else log_softmax_bwd_f64(a->y.data, a->dy.data, a->dx.data, n, c);
    return DS_OK;
}
