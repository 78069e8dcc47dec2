// Argument checks shared by the CUDA op bodies (softmax, dropout, embedding, cross-entropy,
// pointwise losses). Every message reads "<op>: <tensor>: ..." like the CPU ops' (cpu/op_checks.h),
// so a user sees which op and which tensor was wrong. Host code only.
#ifndef DS_CUDA_OP_CHECKS_CUH
#define DS_CUDA_OP_CHECKS_CUH

#include <stdint.h>
#include <stdio.h>

#include "cuda_state.cuh"

// Checks that t is a present, contiguous CUDA tensor of `dtype` with `ndim` (1 or 2) dims and
// shape[0] == d0, shape[1] == d1 wherever the wanted extent is >= 0 (-1 leaves it free).
static inline ds_status ds_cuda_check(ds_err *err, const char *op, const char *name, const ds_tensor *t,
                                      ds_dtype dtype, int ndim, int64_t d0, int64_t d1) {
    char what[128], d[96];
    snprintf(what, sizeof what, "%s: %s", op, name);
    DS_TRY(ds_tensor_expect(t, what, dtype, DS_DEVICE_CUDA, ndim, err));
    const int64_t want[2] = {d0, d1};
    for (int i = 0; i < ndim && i < 2; i++)
        if (want[i] >= 0 && t->shape[i] != want[i])
            return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: expected extent %lld in dim %d, got %s", what,
                              (long long)want[i], i, ds_tensor_describe(t, d, sizeof d));
    return DS_OK;
}

// Checks that t is a present, contiguous CUDA activation tensor (F32 or BF16) with `ndim` dims
// (any ndim when ndim < 0) and stores its dtype in *dtype; the op's other activations must match it.
static inline ds_status ds_cuda_check_act(ds_err *err, const char *op, const char *name, const ds_tensor *t,
                                          int ndim, ds_dtype *dtype) {
    char what[128], d[96];
    snprintf(what, sizeof what, "%s: %s", op, name);
    DS_TRY(ds_tensor_expect(t, what, DS_DTYPE_COUNT, DS_DEVICE_CUDA, ndim < 0 && t ? t->ndim : ndim, err));
    if (t->dtype != DS_F32 && t->dtype != DS_BF16)
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: expected dtype F32 or BF16 on cuda, got %s", what,
                          ds_tensor_describe(t, d, sizeof d));
    *dtype = t->dtype;
    return DS_OK;
}

// Checks that t is a present, contiguous CUDA tensor of `dtype` (any dims) with exactly `numel`
// elements.
static inline ds_status ds_cuda_check_numel(ds_err *err, const char *op, const char *name, const ds_tensor *t,
                                            ds_dtype dtype, int64_t numel) {
    char what[128], d[96];
    snprintf(what, sizeof what, "%s: %s", op, name);
    DS_TRY(ds_tensor_expect(t, what, dtype, DS_DEVICE_CUDA, t ? t->ndim : 0, err));
    if (ds_tensor_numel(t) != numel)
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: expected %lld elements, got %s", what, (long long)numel,
                          ds_tensor_describe(t, d, sizeof d));
    return DS_OK;
}

// True when device pointer p is aligned to `bytes` (vectorised loads need it).
static inline bool ds_cuda_aligned(const void *p, size_t bytes) { return ((uintptr_t)p % bytes) == 0; }

// Blocks for a grid-stride loop over `items` work items of `per_block` each, capped at 2^20 blocks
// (the loop covers the rest); at least 1.
static inline unsigned ds_cuda_grid(int64_t items, int64_t per_block) {
    int64_t b = (items + per_block - 1) / per_block;
    if (b < 1) b = 1;
    if (b > ((int64_t)1 << 20)) b = (int64_t)1 << 20;
    return (unsigned)b;
}

#endif
