// Layer norm over the last dim with biased variance, as torch.nn.functional.layer_norm. The
// statistics are accumulated in double for every input dtype.
#include <math.h>
#include <stdlib.h>

#include <omp.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"
#include "par.h"

#include "cpu_isa.h"
#include "isa_targets.h"

// F32: the same loops compiled once per instruction set (cpu_isa.h; the double lane sums run 8
// to a register on AVX-512 instead of 2 on the baseline's SSE2). No contraction and a fixed sum
// order: every variant gives the same bits (tests/cpu/test_op_layernorm.c).
#define DS_REAL_F64 0
#define layernorm_fwd_f32 ISA_FN(layernorm_fwd_f32)
#define layernorm_bwd_f32 ISA_FN(layernorm_bwd_f32)
#define DS_ISA_IMPL "layernorm_isa.inc"
#include "isa_variants.inc"
#undef layernorm_fwd_f32
#undef layernorm_bwd_f32
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "layernorm_impl.inc"
#undef DS_REAL_F64

ds_status ds_cpu_layernorm_forward(ds_context *ctx, const void *args) {
    const ds_layernorm_fwd_args *a = args;
    const char *op = "layernorm_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, &dt));
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, 2, NULL));
    const int64_t n = a->x.shape[0], c = a->x.shape[1];
    DS_TRY(ds_cpu_check(err, op, "gamma", &a->gamma, dt, 1, (const int64_t[]){c}));
    DS_TRY(ds_cpu_check(err, op, "beta", &a->beta, dt, 1, (const int64_t[]){c}));
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, 2, (const int64_t[]){n, c}));
    DS_TRY(ds_cpu_check(err, op, "mean", &a->mean, dt, 1, (const int64_t[]){n}));
    DS_TRY(ds_cpu_check(err, op, "rstd", &a->rstd, dt, 1, (const int64_t[]){n}));
    DS_REQUIRE(err, a->eps > 0 && isfinite(a->eps), DS_ERR_INVALID_ARG, "%s: eps must be positive, got %g", op,
               a->eps);
    DS_REQUIRE(err, c > 0, DS_ERR_INVALID_ARG, "%s: x: normalised dim C must be positive, got 0", op);
    if (dt == DS_F32)
        DS_ISA_DISPATCH(ds_cpu_isa_select(), layernorm_fwd_f32, a->x.data, a->gamma.data, a->beta.data, a->y.data,
                        a->mean.data, a->rstd.data, n, c, a->eps);
    else
        layernorm_fwd_f64(a->x.data, a->gamma.data, a->beta.data, a->y.data, a->mean.data, a->rstd.data, n, c, a->eps);
    return DS_OK;
}

ds_status ds_cpu_layernorm_backward(ds_context *ctx, const void *args) {
    const ds_layernorm_bwd_args *a = args;
    const char *op = "layernorm_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, &dt));
    DS_TRY(ds_cpu_check(err, op, "dy", &a->dy, dt, 2, NULL));
    const int64_t n = a->dy.shape[0], c = a->dy.shape[1];
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, 2, (const int64_t[]){n, c}));
    DS_TRY(ds_cpu_check(err, op, "gamma", &a->gamma, dt, 1, (const int64_t[]){c}));
    DS_TRY(ds_cpu_check(err, op, "mean", &a->mean, dt, 1, (const int64_t[]){n}));
    DS_TRY(ds_cpu_check(err, op, "rstd", &a->rstd, dt, 1, (const int64_t[]){n}));
    DS_TRY(ds_cpu_check(err, op, "dx", &a->dx, dt, 2, (const int64_t[]){n, c}));
    DS_TRY(ds_cpu_check(err, op, "dgamma", &a->dgamma, dt, 1, (const int64_t[]){c}));
    DS_TRY(ds_cpu_check(err, op, "dbeta", &a->dbeta, dt, 1, (const int64_t[]){c}));
    double *col_acc = malloc(2 * (size_t)c * sizeof *col_acc);  // (2 C) column sums of dgamma, dbeta
    DS_REQUIRE(err, col_acc != NULL, DS_ERR_OOM, "%s: cannot allocate %lld doubles of scratch", op, (long long)(2 * c));
    if (dt == DS_F32)
        DS_ISA_DISPATCH(ds_cpu_isa_select(), layernorm_bwd_f32, a->x.data, a->gamma.data, a->mean.data, a->rstd.data,
                        a->dy.data, a->dx.data, a->dgamma.data, a->dbeta.data, n, c, a->accumulate, col_acc);
    else
        layernorm_bwd_f64(a->x.data, a->gamma.data, a->mean.data, a->rstd.data, a->dy.data, a->dx.data,
                          a->dgamma.data, a->dbeta.data, n, c, a->accumulate, col_acc);
    free(col_acc);
    return DS_OK;
}
