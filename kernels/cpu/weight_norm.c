// Weight norm, as torch.nn.utils.weight_norm and torch.nn.utils.parametrizations.weight_norm:
// w = g v / ||v|| with the norm over every dim except `dim`. Wav2Vec2's positional convolution
// uses dim = 2 (one norm per kernel tap).
#include <math.h>
#include <stdlib.h>

#include <omp.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"
#include "par.h"

#define DS_REAL_F64 0
#include "weight_norm_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "weight_norm_impl.inc"
#undef DS_REAL_F64

// v viewed as (outer, K, inner) around `dim`.
static ds_status split(ds_err *err, const char *op, const ds_tensor *v, int dim, int64_t *outer, int64_t *k,
                       int64_t *inner) {
    DS_REQUIRE(err, dim >= 0 && dim < v->ndim, DS_ERR_INVALID_ARG, "%s: dim = %d is not a dim of v (%d dims)", op,
               dim, v->ndim);
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < dim; i++) *outer *= v->shape[i];
    for (int i = dim + 1; i < v->ndim; i++) *inner *= v->shape[i];
    *k = v->shape[dim];
    return DS_OK;
}

ds_status ds_cpu_weight_norm_forward(ds_context *ctx, const void *args) {
    const ds_weight_norm_fwd_args *a = args;
    const char *op = "weight_norm_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "v", &a->v, &dt));
    int64_t outer = 0, k = 0, inner = 0;
    DS_TRY(split(err, op, &a->v, a->dim, &outer, &k, &inner));
    DS_TRY(ds_cpu_check_numel(err, op, "g", &a->g, dt, k));
    DS_TRY(ds_cpu_check(err, op, "w", &a->w, dt, a->v.ndim, a->v.shape));
    DS_TRY(ds_cpu_check(err, op, "norm", &a->norm, dt, 1, (const int64_t[]){k}));
    double *acc = malloc((size_t)k * sizeof *acc);  // (K) per-slice sums, then scales
    DS_REQUIRE(err, acc != NULL, DS_ERR_OOM, "%s: cannot allocate %lld doubles of scratch", op, (long long)k);
    if (dt == DS_F32) weight_norm_fwd_f32(a->v.data, a->g.data, a->w.data, a->norm.data, outer, k, inner, acc);
    else weight_norm_fwd_f64(a->v.data, a->g.data, a->w.data, a->norm.data, outer, k, inner, acc);
    free(acc);
    return DS_OK;
}

ds_status ds_cpu_weight_norm_backward(ds_context *ctx, const void *args) {
    const ds_weight_norm_bwd_args *a = args;
    const char *op = "weight_norm_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dw", &a->dw, &dt));
    int64_t outer = 0, k = 0, inner = 0;
    DS_TRY(split(err, op, &a->dw, a->dim, &outer, &k, &inner));
    DS_TRY(ds_cpu_check(err, op, "v", &a->v, dt, a->dw.ndim, a->dw.shape));
    DS_TRY(ds_cpu_check(err, op, "dv", &a->dv, dt, a->dw.ndim, a->dw.shape));
    DS_TRY(ds_cpu_check_numel(err, op, "g", &a->g, dt, k));
    DS_TRY(ds_cpu_check_numel(err, op, "dg", &a->dg, dt, k));
    DS_TRY(ds_cpu_check(err, op, "norm", &a->norm, dt, 1, (const int64_t[]){k}));
    double *acc = malloc((size_t)k * sizeof *acc);  // (K) per-slice dot products, then dg
    DS_REQUIRE(err, acc != NULL, DS_ERR_OOM, "%s: cannot allocate %lld doubles of scratch", op, (long long)k);
    if (dt == DS_F32)
        weight_norm_bwd_f32(a->v.data, a->g.data, a->norm.data, a->dw.data, a->dv.data, a->dg.data, outer, k, inner,
                            a->accumulate, acc);
    else
        weight_norm_bwd_f64(a->v.data, a->g.data, a->norm.data, a->dw.data, a->dv.data, a->dg.data, outer, k, inner,
                            a->accumulate, acc);
    free(acc);
    return DS_OK;
}
