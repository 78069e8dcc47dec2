// Placeholder until this file's kernels land: every body reports the op as not built.
#include "cuda_state.cuh"

extern "C" {
#include "cuda_ops.h"
}

extern "C" ds_status ds_cuda_cross_entropy_forward(ds_context *ctx, const void *args) {
    (void)args;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "cross_entropy_forward: not built yet on CUDA");
}

extern "C" ds_status ds_cuda_cross_entropy_backward(ds_context *ctx, const void *args) {
    (void)args;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "cross_entropy_backward: not built yet on CUDA");
}

