// ReLU (torch.nn.functional.relu) and its backward from the output, so that it can run in place.
#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

#define DS_REAL_F64 0
#include "relu_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "relu_impl.inc"
#undef DS_REAL_F64

ds_status ds_cpu_relu_forward(ds_context *ctx, const void *args) {
    const ds_unary_fwd_args *a = args;
    const char *op = "relu_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, &dt));
    const int64_t n = ds_tensor_numel(&a->x);
    DS_TRY(ds_cpu_check_numel(err, op, "y", &a->y, dt, n));
    if (dt == DS_F32) relu_fwd_f32(a->x.data, a->y.data, n);
    else relu_fwd_f64(a->x.data, a->y.data, n);
    return DS_OK;
}

ds_status ds_cpu_relu_backward(ds_context *ctx, const void *args) {
    const ds_unary_bwd_args *a = args;
    const char *op = "relu_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, &dt));
    const int64_t n = ds_tensor_numel(&a->dy);
    DS_TRY(ds_cpu_check_numel(err, op, "y", &a->y, dt, n));
    DS_TRY(ds_cpu_check_numel(err, op, "dx", &a->dx, dt, n));
    if (dt == DS_F32) relu_bwd_f32(a->y.data, a->dy.data, a->dx.data, n);
    else relu_bwd_f64(a->y.data, a->dy.data, a->dx.data, n);
    return DS_OK;
}
