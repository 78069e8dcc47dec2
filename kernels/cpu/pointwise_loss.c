// Pointwise losses with mean reduction over every element: BCE with logits
// (torch.nn.BCEWithLogitsLoss) and MSE (torch.nn.MSELoss), forward and backward. BERT's
// multi-label and regression heads use them (see kernels/ops.h for the formulas).
#include <math.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

// One BCE term in the stable form (1 - t) x - log_sigmoid(x), log_sigmoid(x) = min(x, 0) -
// log1p(exp(-|x|)): exp only ever sees a non-positive argument, so nothing overflows.
static double bce_logits_term(double x, double t) {
    const double log_sigmoid = (x < 0 ? x : 0) - log1p(exp(-fabs(x)));
    return (1 - t) * x - log_sigmoid;
}

// sigmoid without overflow: exp of a non-positive argument on either side of 0.
static double stable_sigmoid(double x) {
    if (x >= 0) return 1 / (1 + exp(-x));
    const double e = exp(x);
    return e / (1 + e);
}

#define DS_REAL_F64 0
#include "pointwise_loss_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "pointwise_loss_impl.inc"
#undef DS_REAL_F64

// x (any shape) sets the dtype and n; target must match both.
static ds_status check_inputs(ds_err *err, const char *op, const ds_tensor *x, const ds_tensor *target, ds_dtype *dt,
                              int64_t *n) {
    DS_TRY(ds_cpu_check_float(err, op, "x", x, dt));
    *n = ds_tensor_numel(x);
    return ds_cpu_check_numel(err, op, "target", target, *dt, *n);
}

typedef double (*fwd_f32)(const float *, const float *, int64_t);
typedef double (*fwd_f64)(const double *, const double *, int64_t);
typedef void (*bwd_f32)(const float *, const float *, float *, int64_t, double);
typedef void (*bwd_f64)(const double *, const double *, double *, int64_t, double);

static ds_status run_forward(ds_context *ctx, const char *op, const ds_pointwise_loss_fwd_args *a, fwd_f32 f32,
                             fwd_f64 f64) {
    ds_err *err = &ctx->err;
    ds_dtype dt;
    int64_t n;
    DS_TRY(check_inputs(err, op, &a->x, &a->target, &dt, &n));
    DS_TRY(ds_cpu_check(err, op, "loss", &a->loss, dt, 1, (const int64_t[]){1}));
    if (dt == DS_F32) *(float *)a->loss.data = (float)f32(a->x.data, a->target.data, n);
    else *(double *)a->loss.data = f64(a->x.data, a->target.data, n);
    return DS_OK;
}

static ds_status run_backward(ds_context *ctx, const char *op, const ds_pointwise_loss_bwd_args *a, bwd_f32 f32,
                              bwd_f64 f64) {
    ds_err *err = &ctx->err;
    ds_dtype dt;
    int64_t n;
    DS_TRY(check_inputs(err, op, &a->x, &a->target, &dt, &n));
    DS_TRY(ds_cpu_check_numel(err, op, "dx", &a->dx, dt, n));
    if (dt == DS_F32) f32(a->x.data, a->target.data, a->dx.data, n, a->dloss);
    else f64(a->x.data, a->target.data, a->dx.data, n, a->dloss);
    return DS_OK;
}

ds_status ds_cpu_bce_with_logits_forward(ds_context *ctx, const void *args) {
    return run_forward(ctx, "bce_with_logits_forward", args, bce_logits_fwd_f32, bce_logits_fwd_f64);
}

ds_status ds_cpu_bce_with_logits_backward(ds_context *ctx, const void *args) {
    return run_backward(ctx, "bce_with_logits_backward", args, bce_logits_bwd_f32, bce_logits_bwd_f64);
}

ds_status ds_cpu_mse_forward(ds_context *ctx, const void *args) {
    return run_forward(ctx, "mse_forward", args, mse_fwd_f32, mse_fwd_f64);
}

ds_status ds_cpu_mse_backward(ds_context *ctx, const void *args) {
    return run_backward(ctx, "mse_backward", args, mse_bwd_f32, mse_bwd_f64);
}
