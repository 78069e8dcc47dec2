// Group norm, as torch.nn.GroupNorm (affine, biased variance). Wav2Vec2's feature encoder uses
// GroupNorm(512, 512) on its first conv: one group per channel, normalised over time.
#include <math.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

#define DS_REAL_F64 0
#include "groupnorm_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "groupnorm_impl.inc"
#undef DS_REAL_F64

// x is (N, C, trailing dims...): N, C and the product of the trailing dims (1 when none).
static ds_status shape_of(ds_err *err, const char *op, const ds_tensor *x, int groups, int64_t *n, int64_t *c,
                          int64_t *l) {
    DS_REQUIRE(err, x->ndim >= 2, DS_ERR_INVALID_ARG, "%s: x must be (N, C, ...), got %d dims", op, x->ndim);
    *n = x->shape[0];
    *c = x->shape[1];
    *l = 1;
    for (int i = 2; i < x->ndim; i++) *l *= x->shape[i];
    DS_REQUIRE(err, groups >= 1 && *c % groups == 0, DS_ERR_INVALID_ARG,
               "%s: groups = %d must be >= 1 and divide the %lld channels", op, groups, (long long)*c);
    return DS_OK;
}

ds_status ds_cpu_groupnorm_forward(ds_context *ctx, const void *args) {
    const ds_groupnorm_fwd_args *a = args;
    const char *op = "groupnorm_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, &dt));
    int64_t n = 0, c = 0, l = 0;
    DS_TRY(shape_of(err, op, &a->x, a->groups, &n, &c, &l));
    DS_TRY(ds_cpu_check(err, op, "gamma", &a->gamma, dt, 1, (const int64_t[]){c}));
    DS_TRY(ds_cpu_check(err, op, "beta", &a->beta, dt, 1, (const int64_t[]){c}));
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, a->x.ndim, a->x.shape));
    DS_TRY(ds_cpu_check(err, op, "mean", &a->mean, dt, 2, (const int64_t[]){n, a->groups}));
    DS_TRY(ds_cpu_check(err, op, "rstd", &a->rstd, dt, 2, (const int64_t[]){n, a->groups}));
    DS_REQUIRE(err, a->eps > 0 && isfinite(a->eps), DS_ERR_INVALID_ARG, "%s: eps must be positive, got %g", op, a->eps);
    DS_REQUIRE(err, l > 0, DS_ERR_INVALID_ARG, "%s: x: the normalised extent is empty", op);
    if (dt == DS_F32)
        groupnorm_fwd_f32(a->x.data, a->gamma.data, a->beta.data, a->y.data, a->mean.data, a->rstd.data, n, c, l,
                          a->groups, a->eps);
    else
        groupnorm_fwd_f64(a->x.data, a->gamma.data, a->beta.data, a->y.data, a->mean.data, a->rstd.data, n, c, l,
                          a->groups, a->eps);
    return DS_OK;
}

ds_status ds_cpu_groupnorm_backward(ds_context *ctx, const void *args) {
    const ds_groupnorm_bwd_args *a = args;
    const char *op = "groupnorm_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, &dt));
    int64_t n = 0, c = 0, l = 0;
    DS_TRY(shape_of(err, op, &a->dy, a->groups, &n, &c, &l));
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, a->dy.ndim, a->dy.shape));
    DS_TRY(ds_cpu_check(err, op, "dx", &a->dx, dt, a->dy.ndim, a->dy.shape));
    DS_TRY(ds_cpu_check(err, op, "gamma", &a->gamma, dt, 1, (const int64_t[]){c}));
    DS_TRY(ds_cpu_check(err, op, "mean", &a->mean, dt, 2, (const int64_t[]){n, a->groups}));
    DS_TRY(ds_cpu_check(err, op, "rstd", &a->rstd, dt, 2, (const int64_t[]){n, a->groups}));
    DS_TRY(ds_cpu_check(err, op, "dgamma", &a->dgamma, dt, 1, (const int64_t[]){c}));
    DS_TRY(ds_cpu_check(err, op, "dbeta", &a->dbeta, dt, 1, (const int64_t[]){c}));
    if (dt == DS_F32)
        groupnorm_bwd_f32(a->x.data, a->gamma.data, a->mean.data, a->rstd.data, a->dy.data, a->dx.data,
                          a->dgamma.data, a->dbeta.data, n, c, l, a->groups, a->accumulate);
    else
        groupnorm_bwd_f64(a->x.data, a->gamma.data, a->mean.data, a->rstd.data, a->dy.data, a->dx.data,
                          a->dgamma.data, a->dbeta.data, n, c, l, a->groups, a->accumulate);
    return DS_OK;
}
