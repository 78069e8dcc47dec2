// Elementwise activations: GELU (erf form) and tanh, forward and backward, any shape.
// F32 GELU runs the vectorised loops of vec_math.c (ds_verff / ds_vexpf, within 1 ulp of libm,
// identical bits on every instruction set); F64 keeps libm (it serves the finite-difference
// checks, where speed does not matter).
#include <math.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"
#include "vec_math.h"

#define DS_REAL_F64 0
#include "activations_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "activations_impl.inc"
#undef DS_REAL_F64

// Checks x and y of a forward call: equal numel, one float dtype. Sets *dt and *n.
static ds_status check_fwd(ds_err *err, const char *op, const ds_unary_fwd_args *a, ds_dtype *dt, int64_t *n) {
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, dt));
    *n = ds_tensor_numel(&a->x);
    return ds_cpu_check_numel(err, op, "y", &a->y, *dt, *n);
}

// Checks dy, dx and the saved tensor backward reads (`saved`, called `saved_name`).
static ds_status check_bwd(ds_err *err, const char *op, const ds_unary_bwd_args *a, const ds_tensor *saved,
                           const char *saved_name, ds_dtype *dt, int64_t *n) {
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, dt));
    *n = ds_tensor_numel(&a->dy);
    DS_TRY(ds_cpu_check_numel(err, op, saved_name, saved, *dt, *n));
    return ds_cpu_check_numel(err, op, "dx", &a->dx, *dt, *n);
}

ds_status ds_cpu_gelu_forward(ds_context *ctx, const void *args) {
    const ds_unary_fwd_args *a = args;
    ds_dtype dt;
    int64_t n;
    DS_TRY(check_fwd(&ctx->err, "gelu_forward", a, &dt, &n));
    if (dt == DS_F32) ds_vec_gelu_fwd_f32(ds_cpu_isa_select(), a->x.data, a->y.data, n);
    else gelu_fwd_f64(a->x.data, a->y.data, n);
    return DS_OK;
}

ds_status ds_cpu_gelu_backward(ds_context *ctx, const void *args) {
    const ds_unary_bwd_args *a = args;
    ds_dtype dt;
    int64_t n;
    DS_TRY(check_bwd(&ctx->err, "gelu_backward", a, &a->x, "x (forward input)", &dt, &n));
    if (dt == DS_F32) ds_vec_gelu_bwd_f32(ds_cpu_isa_select(), a->x.data, a->dy.data, a->dx.data, n);
    else gelu_bwd_f64(a->x.data, a->dy.data, a->dx.data, n);
    return DS_OK;
}

ds_status ds_cpu_tanh_forward(ds_context *ctx, const void *args) {
    const ds_unary_fwd_args *a = args;
    ds_dtype dt;
    int64_t n;
    DS_TRY(check_fwd(&ctx->err, "tanh_forward", a, &dt, &n));
    if (dt == DS_F32) tanh_fwd_f32(a->x.data, a->y.data, n);
    else tanh_fwd_f64(a->x.data, a->y.data, n);
    return DS_OK;
}

ds_status ds_cpu_tanh_backward(ds_context *ctx, const void *args) {
    const ds_unary_bwd_args *a = args;
    ds_dtype dt;
    int64_t n;
    DS_TRY(check_bwd(&ctx->err, "tanh_backward", a, &a->y, "y (forward output)", &dt, &n));
    if (dt == DS_F32) tanh_bwd_f32(a->y.data, a->dy.data, a->dx.data, n);
    else tanh_bwd_f64(a->y.data, a->dy.data, a->dx.data, n);
    return DS_OK;
}
