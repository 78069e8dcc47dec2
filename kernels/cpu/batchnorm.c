// Batch normalisation over (N, H, W) per channel, split into statistics, finalize, apply and the
// two backward halves so that a model can all-reduce the small per-channel buffers between them
// (SyncBatchNorm). See kernels/ops.h for the math; sums are in double (batchnorm_impl.inc).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

enum { LANES = 4 };  // double accumulators per channel (fixed: results never depend on threads)

static double lanes_sum(const double *v) { return (v[0] + v[1]) + (v[2] + v[3]); }

#define DS_REAL_F64 0
#include "batchnorm_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "batchnorm_impl.inc"
#undef DS_REAL_F64

// x: (N, C, H, W) float; sets dt, N, C, HW.
static ds_status check_x(ds_err *err, const char *op, const char *name, const ds_tensor *x, ds_dtype *dt, int64_t *N,
                         int64_t *C, int64_t *HW) {
    DS_TRY(ds_cpu_check_float(err, op, name, x, dt));
    DS_TRY(ds_cpu_check(err, op, name, x, *dt, 4, NULL));
    *N = x->shape[0], *C = x->shape[1], *HW = x->shape[2] * x->shape[3];
    return DS_OK;
}

static ds_status check_vec(ds_err *err, const char *op, const char *name, const ds_tensor *t, ds_dtype dt, int64_t C) {
    return ds_cpu_check(err, op, name, t, dt, 1, (const int64_t[]){C});
}

ds_status ds_cpu_bn_stats(ds_context *ctx, const void *args) {
    const ds_bn_stats_args *a = args;
    const char *op = "bn_stats";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    int64_t N, C, HW;
    DS_TRY(check_x(err, op, "x", &a->x, &dt, &N, &C, &HW));
    DS_TRY(check_vec(err, op, "stats", &a->stats, DS_F64, 2 * C + 1));
    if (dt == DS_F32) bn_stats_f32(a->x.data, a->stats.data, N, C, HW);
    else bn_stats_f64(a->x.data, a->stats.data, N, C, HW);
    return DS_OK;
}

ds_status ds_cpu_bn_finalize(ds_context *ctx, const void *args) {
    const ds_bn_finalize_args *a = args;
    const char *op = "bn_finalize";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "mean", &a->mean, &dt));
    DS_TRY(ds_cpu_check(err, op, "mean", &a->mean, dt, 1, NULL));
    const int64_t C = a->mean.shape[0];
    DS_TRY(check_vec(err, op, "rstd", &a->rstd, dt, C));
    DS_REQUIRE(err, a->eps > 0 && isfinite(a->eps), DS_ERR_INVALID_ARG, "%s: eps = %g must be > 0", op, a->eps);
    const bool has_rm = ds_cpu_present(&a->running_mean), has_rv = ds_cpu_present(&a->running_var);
    if (has_rm) DS_TRY(check_vec(err, op, "running_mean", &a->running_mean, DS_F32, C));
    if (has_rv) DS_TRY(check_vec(err, op, "running_var", &a->running_var, DS_F32, C));
    const bool has_nbt = ds_cpu_present(&a->num_batches_tracked);
    if (has_nbt) DS_TRY(ds_cpu_check_numel(err, op, "num_batches_tracked", &a->num_batches_tracked, DS_I64, 1));
    if (a->use_running) {
        DS_REQUIRE(err, has_rm && has_rv, DS_ERR_INVALID_ARG,
                   "%s: use_running needs running_mean and running_var", op);
    } else {
        DS_TRY(check_vec(err, op, "stats", &a->stats, DS_F64, 2 * C + 1));
        DS_REQUIRE(err, a->momentum >= 0 && a->momentum <= 1, DS_ERR_INVALID_ARG,
                   "%s: momentum = %g must lie in [0, 1]", op, a->momentum);
        const double n = ((const double *)a->stats.data)[2 * C];
        DS_REQUIRE(err, n > 1, DS_ERR_INVALID_ARG,
                   "%s: expected more than 1 value per channel when training, got %g (batch statistics of a single "
                   "value; use a batch of 2 or more, or eval mode)",
                   op, n);
    }
    float *rm = has_rm ? a->running_mean.data : NULL, *rv = has_rv ? a->running_var.data : NULL;
    const double *stats = a->use_running ? NULL : a->stats.data;
    if (dt == DS_F32)
        bn_finalize_f32(stats, a->mean.data, a->rstd.data, rm, rv, C, a->eps, a->momentum, a->use_running);
    else
        bn_finalize_f64(stats, a->mean.data, a->rstd.data, rm, rv, C, a->eps, a->momentum, a->use_running);
    if (has_nbt && !a->use_running) *(int64_t *)a->num_batches_tracked.data += 1;
    return DS_OK;
}

ds_status ds_cpu_bn_apply(ds_context *ctx, const void *args) {
    const ds_bn_apply_args *a = args;
    const char *op = "bn_apply";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    int64_t N, C, HW;
    DS_TRY(check_x(err, op, "x", &a->x, &dt, &N, &C, &HW));
    DS_TRY(check_vec(err, op, "mean", &a->mean, dt, C));
    DS_TRY(check_vec(err, op, "rstd", &a->rstd, dt, C));
    DS_TRY(check_vec(err, op, "gamma", &a->gamma, dt, C));
    DS_TRY(check_vec(err, op, "beta", &a->beta, dt, C));
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, 4, a->x.shape));
    if (dt == DS_F32)
        bn_apply_f32(a->x.data, a->mean.data, a->rstd.data, a->gamma.data, a->beta.data, a->y.data, N, C, HW);
    else
        bn_apply_f64(a->x.data, a->mean.data, a->rstd.data, a->gamma.data, a->beta.data, a->y.data, N, C, HW);
    return DS_OK;
}

ds_status ds_cpu_bn_backward_reduce(ds_context *ctx, const void *args) {
    const ds_bn_bwd_reduce_args *a = args;
    const char *op = "bn_backward_reduce";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    int64_t N, C, HW;
    DS_TRY(check_x(err, op, "x", &a->x, &dt, &N, &C, &HW));
    DS_TRY(check_vec(err, op, "mean", &a->mean, dt, C));
    DS_TRY(check_vec(err, op, "rstd", &a->rstd, dt, C));
    DS_TRY(ds_cpu_check(err, op, "dy", &a->dy, dt, 4, a->x.shape));
    const bool has_sums = ds_cpu_present(&a->sums), has_dg = ds_cpu_present(&a->dgamma);
    DS_REQUIRE(err, has_dg == ds_cpu_present(&a->dbeta), DS_ERR_INVALID_ARG,
               "%s: dgamma and dbeta must be both present or both absent", op);
    if (has_sums) DS_TRY(check_vec(err, op, "sums", &a->sums, DS_F64, 2 * C + 1));
    if (has_dg) {
        DS_TRY(check_vec(err, op, "dgamma", &a->dgamma, dt, C));
        DS_TRY(check_vec(err, op, "dbeta", &a->dbeta, dt, C));
    }
    double *sums = has_sums ? a->sums.data : NULL;
    void *dg = has_dg ? a->dgamma.data : NULL, *db = has_dg ? a->dbeta.data : NULL;
    if (dt == DS_F32)
        bn_bwd_reduce_f32(a->x.data, a->mean.data, a->rstd.data, a->dy.data, sums, dg, db, a->accumulate, N, C, HW);
    else
        bn_bwd_reduce_f64(a->x.data, a->mean.data, a->rstd.data, a->dy.data, sums, dg, db, a->accumulate, N, C, HW);
    return DS_OK;
}

ds_status ds_cpu_bn_backward_apply(ds_context *ctx, const void *args) {
    const ds_bn_bwd_apply_args *a = args;
    const char *op = "bn_backward_apply";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    int64_t N, C, HW;
    DS_TRY(check_x(err, op, "dy", &a->dy, &dt, &N, &C, &HW));
    DS_TRY(check_vec(err, op, "mean", &a->mean, dt, C));
    DS_TRY(check_vec(err, op, "rstd", &a->rstd, dt, C));
    DS_TRY(check_vec(err, op, "gamma", &a->gamma, dt, C));
    DS_TRY(ds_cpu_check(err, op, "dx", &a->dx, dt, 4, a->dy.shape));
    const bool has_sums = ds_cpu_present(&a->sums);
    if (has_sums) {
        DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, 4, a->dy.shape));
        DS_TRY(check_vec(err, op, "sums", &a->sums, DS_F64, 2 * C + 1));
        const double n = ((const double *)a->sums.data)[2 * C];
        DS_REQUIRE(err, n > 0, DS_ERR_INVALID_ARG, "%s: sums hold a count of %g values per channel", op, n);
    }
    const void *x = has_sums ? a->x.data : NULL;
    const double *sums = has_sums ? a->sums.data : NULL;
    if (dt == DS_F32)
        bn_bwd_apply_f32(x, a->mean.data, a->rstd.data, a->gamma.data, a->dy.data, sums, a->dx.data, N, C, HW);
    else
        bn_bwd_apply_f64(x, a->mean.data, a->rstd.data, a->gamma.data, a->dy.data, sums, a->dx.data, N, C, HW);
    return DS_OK;
}
