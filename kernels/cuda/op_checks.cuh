// Argument checks shared by the CUDA op bodies. Every message reads "<op>: <tensor>: ..." like the
// CPU ops' (kernels/cpu/op_checks.h), so a user sees which op and which tensor was wrong. Host code only.
//
// Every op checks that its tensors sit on the context's device (DS_CUDA_CTX_DEVICE; the rule
// stays a parameter for helpers that look at tensors of any device). Two wordings of a shape
// error remain, one per family of ops (tests match on them): "expected shape (n, *)"
// (ds_cuda_check: linear, layer norm, activations, layout) and "expected extent n in dim i"
// (ds_cuda_check_extents: softmax, dropout, embedding, losses).
#ifndef DS_CUDA_OP_CHECKS_CUH
#define DS_CUDA_OP_CHECKS_CUH

#include <stdint.h>
#include <stdio.h>

#include "cuda_state.cuh"

// Whether a check also demands that the tensor's CUDA device index be the context's.
typedef enum { DS_CUDA_ANY_DEVICE, DS_CUDA_CTX_DEVICE } ds_cuda_device_rule;

// True when an optional tensor is present (its data is not NULL).
static inline bool ds_cuda_present(const ds_tensor *t) { return t != NULL && t->data != NULL; }

// Checks that t is present, contiguous, a CUDA tensor (on the context's device under
// DS_CUDA_CTX_DEVICE), of `dtype` (DS_DTYPE_COUNT: any), with `ndim` dims (< 0: any).
static inline ds_status ds_cuda_check_tensor(ds_context *ctx, ds_cuda_device_rule rule, const char *op,
                                             const char *name, const ds_tensor *t, ds_dtype dtype, int ndim) {
    char what[128];
    snprintf(what, sizeof what, "%s: %s", op, name);
    DS_TRY(ds_tensor_expect(t, what, dtype, DS_DEVICE_CUDA, ndim >= 0 ? ndim : (t ? t->ndim : 0), &ctx->err));
    if (rule == DS_CUDA_CTX_DEVICE && t->device.index != ctx->cuda->device)
        return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: tensor is on cuda:%d but the context runs on cuda:%d",
                          what, t->device.index, ctx->cuda->device);
    return DS_OK;
}

// ds_cuda_check_tensor under DS_CUDA_CTX_DEVICE, then t->shape[i] == want[i] for every want[i] >= 0
// (want may be NULL; ndim < 0 skips the shape). A mismatch reads "expected shape (want...)", with
// "*" for a free extent.
static inline ds_status ds_cuda_check(ds_context *ctx, const char *op, const char *name, const ds_tensor *t,
                                      ds_dtype dtype, int ndim, const int64_t *want) {
    DS_TRY(ds_cuda_check_tensor(ctx, DS_CUDA_CTX_DEVICE, op, name, t, dtype, ndim));
    if (want == NULL || ndim < 0) return DS_OK;
    for (int i = 0; i < ndim; i++)
        if (want[i] >= 0 && t->shape[i] != want[i]) {
            char w[96], d[96];
            size_t n = (size_t)snprintf(w, sizeof w, "(");
            for (int j = 0; j < ndim && n < sizeof w; j++)
                n += (size_t)(want[j] >= 0 ? snprintf(w + n, sizeof w - n, j ? ", %lld" : "%lld", (long long)want[j])
                                           : snprintf(w + n, sizeof w - n, j ? ", *" : "*"));
            if (n < sizeof w) snprintf(w + n, sizeof w - n, ")");
            return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: %s: expected shape %s, got %s", op, name, w,
                              ds_tensor_describe(t, d, sizeof d));
        }
    return DS_OK;
}

// ds_cuda_check_tensor under DS_CUDA_ANY_DEVICE with `ndim` (1 or 2) dims, then shape[0] == d0 and
// shape[1] == d1 wherever the wanted extent is >= 0 (-1 leaves it free). A mismatch reads
// "expected extent d in dim i".
static inline ds_status ds_cuda_check_extents(ds_context *ctx, const char *op, const char *name, const ds_tensor *t,
                                              ds_dtype dtype, int ndim, int64_t d0, int64_t d1) {
    DS_TRY(ds_cuda_check_tensor(ctx, DS_CUDA_ANY_DEVICE, op, name, t, dtype, ndim));
    const int64_t want[2] = {d0, d1};
    for (int i = 0; i < ndim && i < 2; i++)
        if (want[i] >= 0 && t->shape[i] != want[i]) {
            char d[96];
            return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: %s: expected extent %lld in dim %d, got %s", op,
                              name, (long long)want[i], i, ds_tensor_describe(t, d, sizeof d));
        }
    return DS_OK;
}

// Checks an activation tensor with `ndim` dims (< 0: any) as ds_cuda_check_tensor does, and that its
// dtype is F32 or BF16; stores the dtype in *dt. Used on an op's first activation; the others must
// match it.
static inline ds_status ds_cuda_check_act(ds_context *ctx, ds_cuda_device_rule rule, const char *op, const char *name,
                                          const ds_tensor *t, int ndim, ds_dtype *dt) {
    DS_TRY(ds_cuda_check_tensor(ctx, rule, op, name, t, DS_DTYPE_COUNT, ndim));
    if (t->dtype != DS_F32 && t->dtype != DS_BF16) {
        char d[96];
        return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: %s: expected dtype F32 or BF16 on cuda, got %s", op,
                          name, ds_tensor_describe(t, d, sizeof d));
    }
    *dt = t->dtype;
    return DS_OK;
}

// Checks that t passes ds_cuda_check_tensor with `dtype` (any dims) and holds exactly `numel` elements.
static inline ds_status ds_cuda_check_numel(ds_context *ctx, ds_cuda_device_rule rule, const char *op,
                                            const char *name, const ds_tensor *t, ds_dtype dtype, int64_t numel) {
    DS_TRY(ds_cuda_check_tensor(ctx, rule, op, name, t, dtype, -1));
    if (ds_tensor_numel(t) != numel) {
        char d[96];
        return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: %s: expected %lld elements, got %s", op, name,
                          (long long)numel, ds_tensor_describe(t, d, sizeof d));
    }
    return DS_OK;
}

#endif
