// Linear (torch.nn.Linear layout): y = x w^T + b, and its backward, through OpenBLAS GEMMs.
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"
#include "par.h"

// Leading dimension for cblas: at least 1 even for an empty matrix, as BLAS requires.
static int ld(int cols) { return cols > 0 ? cols : 1; }

#define DS_REAL_F64 0
#include "linear_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "linear_impl.inc"
#undef DS_REAL_F64

// cblas takes int dimensions.
static ds_status check_blas_dims(ds_err *err, const char *op, int64_t n, int64_t m, int64_t k) {
    DS_REQUIRE(err, n <= INT_MAX && m <= INT_MAX && k <= INT_MAX, DS_ERR_INVALID_ARG,
               "%s: dimensions N=%lld, M=%lld, K=%lld exceed what cblas takes (int)", op, (long long)n,
               (long long)m, (long long)k);
    return DS_OK;
}

ds_status ds_cpu_linear_forward(ds_context *ctx, const void *args) {
    const ds_linear_fwd_args *a = args;
    const char *op = "linear_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, &dt));
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, 2, NULL));
    const int64_t n = a->x.shape[0], k = a->x.shape[1];
    DS_TRY(ds_cpu_check(err, op, "w", &a->w, dt, 2, (const int64_t[]){-1, k}));
    const int64_t m = a->w.shape[0];
    const bool has_b = ds_cpu_present(&a->b);
    if (has_b) DS_TRY(ds_cpu_check(err, op, "b", &a->b, dt, 1, (const int64_t[]){m}));
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, 2, (const int64_t[]){n, m}));
    DS_TRY(check_blas_dims(err, op, n, m, k));
    if (dt == DS_F32)
        linear_fwd_f32(a->x.data, a->w.data, has_b ? a->b.data : NULL, a->y.data, (int)n, (int)m, (int)k);
    else
        linear_fwd_f64(a->x.data, a->w.data, has_b ? a->b.data : NULL, a->y.data, (int)n, (int)m, (int)k);
    return DS_OK;
}

ds_status ds_cpu_linear_backward(ds_context *ctx, const void *args) {
    const ds_linear_bwd_args *a = args;
    const char *op = "linear_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, &dt));
    DS_TRY(ds_cpu_check(err, op, "dy", &a->dy, dt, 2, NULL));
    const int64_t n = a->dy.shape[0], m = a->dy.shape[1];
    DS_TRY(ds_cpu_check(err, op, "w", &a->w, dt, 2, (const int64_t[]){m, -1}));
    const int64_t k = a->w.shape[1];
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, 2, (const int64_t[]){n, k}));
    const bool has_dx = ds_cpu_present(&a->dx), has_db = ds_cpu_present(&a->db);
    if (has_dx) DS_TRY(ds_cpu_check(err, op, "dx", &a->dx, dt, 2, (const int64_t[]){n, k}));
    DS_TRY(ds_cpu_check(err, op, "dw", &a->dw, dt, 2, (const int64_t[]){m, k}));
    if (has_db) DS_TRY(ds_cpu_check(err, op, "db", &a->db, dt, 1, (const int64_t[]){m}));
    DS_TRY(check_blas_dims(err, op, n, m, k));
    void *dx = has_dx ? a->dx.data : NULL, *db = has_db ? a->db.data : NULL;
    if (dt == DS_F32)
        linear_bwd_f32(a->x.data, a->w.data, a->dy.data, dx, a->dw.data, db, (int)n, (int)m, (int)k, a->accumulate);
    else
        linear_bwd_f64(a->x.data, a->w.data, a->dy.data, dx, a->dw.data, db, (int)n, (int)m, (int)k, a->accumulate);
    return DS_OK;
}
