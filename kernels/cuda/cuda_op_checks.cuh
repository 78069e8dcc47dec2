// Argument checks for the CUDA op bodies (linear, layer norm, activations, layout). Every
// message reads "<op>: <tensor>: ..." so that the caller sees which op and which tensor was wrong,
// as the CPU reference's checks (kernels/cpu/op_checks.h) do.
#ifndef DS_CUDA_OP_CHECKS_CUH
#define DS_CUDA_OP_CHECKS_CUH

#include <stdio.h>

#include "cuda_state.cuh"

// True when an optional tensor is present (its data is not NULL).
static inline bool ds_cuda_present(const ds_tensor *t) { return t != NULL && t->data != NULL; }

// Checks that t is present, contiguous, a CUDA tensor on the context's device, of `dtype`
// (DS_DTYPE_COUNT: any), with `ndim` dims (-1: any) and t->shape[i] == want[i] for every
// want[i] >= 0 (want may be NULL).
static inline ds_status ds_cuda_check(ds_context *ctx, const char *op, const char *name, const ds_tensor *t,
                                      ds_dtype dtype, int ndim, const int64_t *want) {
    char what[128], d[96];
    snprintf(what, sizeof what, "%s: %s", op, name);
    DS_TRY(ds_tensor_expect(t, what, dtype, DS_DEVICE_CUDA, ndim >= 0 ? ndim : (t ? t->ndim : 0), &ctx->err));
    if (t->device.index != ctx->cuda->device)
        return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: tensor is on cuda:%d but the context runs on cuda:%d",
                          what, t->device.index, ctx->cuda->device);
    if (want == NULL || ndim < 0) return DS_OK;
    for (int i = 0; i < ndim; i++)
        if (want[i] >= 0 && t->shape[i] != want[i]) {
            char w[96];
            size_t n = (size_t)snprintf(w, sizeof w, "(");
            for (int j = 0; j < ndim && n < sizeof w; j++)
                n += (size_t)(want[j] >= 0 ? snprintf(w + n, sizeof w - n, j ? ", %lld" : "%lld", (long long)want[j])
                                           : snprintf(w + n, sizeof w - n, j ? ", *" : "*"));
            if (n < sizeof w) snprintf(w + n, sizeof w - n, ")");
            return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: expected shape %s, got %s", what, w,
                              ds_tensor_describe(t, d, sizeof d));
        }
    return DS_OK;
}

// Checks an activation tensor (any shape): present, contiguous, on the device, dtype F32 or
// BF16; stores the dtype in *dt. Used on an op's first activation; the others must match it.
static inline ds_status ds_cuda_check_act(ds_context *ctx, const char *op, const char *name, const ds_tensor *t,
                                          ds_dtype *dt) {
    DS_TRY(ds_cuda_check(ctx, op, name, t, DS_DTYPE_COUNT, -1, NULL));
    if (t->dtype != DS_F32 && t->dtype != DS_BF16) {
        char d[96];
        return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: %s: expected dtype F32 or BF16 on cuda, got %s", op,
                          name, ds_tensor_describe(t, d, sizeof d));
    }
    *dt = t->dtype;
    return DS_OK;
}

// Checks that t is present, contiguous, on the device, of `dtype`, holding exactly `numel`
// elements (any shape).
static inline ds_status ds_cuda_check_numel(ds_context *ctx, const char *op, const char *name, const ds_tensor *t,
                                            ds_dtype dtype, int64_t numel) {
    DS_TRY(ds_cuda_check(ctx, op, name, t, dtype, -1, NULL));
    if (ds_tensor_numel(t) != numel) {
        char d[96];
        return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: %s: expected %lld elements, got %s", op, name,
                          (long long)numel, ds_tensor_describe(t, d, sizeof d));
    }
    return DS_OK;
}

#endif
