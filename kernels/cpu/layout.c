// Elementwise add and the attention-head permutation: the glue between the GEMMs of a
// transformer block. F32 or F64 on the CPU.
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"

static ds_status expect_float(ds_context *ctx, const ds_tensor *t, const char *what, ds_dtype dtype) {
    char d[96];
    if (t->data == NULL) return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: tensor is missing", what);
    if (t->device.kind != DS_DEVICE_CPU || !ds_tensor_is_contiguous(t) || t->dtype != dtype)
        return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: expected a contiguous cpu %s tensor, got %s", what,
                          ds_dtype_name(dtype), ds_tensor_describe(t, d, sizeof d));
    return DS_OK;
}

ds_status ds_cpu_add(ds_context *ctx, const void *args) {
    const ds_add_args *a = args;
    const ds_dtype dt = a->a.dtype;
    DS_REQUIRE(&ctx->err, dt == DS_F32 || dt == DS_F64, DS_ERR_INVALID_ARG, "add: dtype %s is not F32 or F64",
               ds_dtype_name(dt));
    DS_TRY(expect_float(ctx, &a->a, "add: a", dt));
    DS_TRY(expect_float(ctx, &a->b, "add: b", dt));
    DS_TRY(expect_float(ctx, &a->y, "add: y", dt));
    const int64_t n = ds_tensor_numel(&a->a);
    DS_REQUIRE(&ctx->err, ds_tensor_numel(&a->b) == n && ds_tensor_numel(&a->y) == n, DS_ERR_INVALID_ARG,
               "add: a, b and y must have equal numel (%lld, %lld, %lld)", (long long)n,
               (long long)ds_tensor_numel(&a->b), (long long)ds_tensor_numel(&a->y));
    if (dt == DS_F32) {
        const float *x = a->a.data, *z = a->b.data;  // (n) host
        float *y = a->y.data;                         // (n) host, may alias x or z
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] + z[i];
    } else {
        const double *x = a->a.data, *z = a->b.data;
        double *y = a->y.data;
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] + z[i];
    }
    return DS_OK;
}

ds_status ds_cpu_permute_heads(ds_context *ctx, const void *args) {
    const ds_permute_heads_args *a = args;
    const ds_dtype dt = a->x.dtype;
    DS_REQUIRE(&ctx->err, dt == DS_F32 || dt == DS_F64, DS_ERR_INVALID_ARG,
               "permute_heads: dtype %s is not F32 or F64", ds_dtype_name(dt));
    DS_TRY(expect_float(ctx, &a->x, "permute_heads: x", dt));
    DS_TRY(expect_float(ctx, &a->y, "permute_heads: y", dt));
    const ds_tensor *bthd = a->to_heads ? &a->x : &a->y;  // the (B, T, H*D) side
    const ds_tensor *bhtd = a->to_heads ? &a->y : &a->x;  // the (B, H, T, D) side
    const int64_t H = a->heads;
    DS_REQUIRE(&ctx->err, bthd->ndim == 3 && bhtd->ndim == 4 && H > 0 && bhtd->shape[1] == H &&
                              bthd->shape[0] == bhtd->shape[0] && bthd->shape[1] == bhtd->shape[2] &&
                              bthd->shape[2] == H * bhtd->shape[3],
               DS_ERR_INVALID_ARG, "permute_heads: shapes do not match (B, T, H*D) <-> (B, H, T, D) with H = %lld",
               (long long)H);
    const int64_t B = bhtd->shape[0], T = bhtd->shape[2], D = bhtd->shape[3];
    const size_t es = ds_dtype_size(dt), row = (size_t)D * es;
    const char *src = a->x.data;
    char *dst = a->y.data;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < T; t++) {
                const size_t i_bthd = (size_t)(((b * T + t) * H + h) * D) * es;  // x/y (B, T, H, D)
                const size_t i_bhtd = (size_t)(((b * H + h) * T + t) * D) * es;  // (B, H, T, D)
                if (a->to_heads)
                    memcpy(dst + i_bhtd, src + i_bthd, row);
                else
                    memcpy(dst + i_bthd, src + i_bhtd, row);
            }
    return DS_OK;
}
