// Fused CUDA ops beyond the per-op table (kernels/ops.h): C-callable, for model code that runs
// on CUDA tensors. In a build without CUDA each returns DS_ERR_UNSUPPORTED
// (kernels/cuda_absent/cuda_fused_absent.c).
#ifndef DS_CUDA_FUSED_H
#define DS_CUDA_FUSED_H

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

// y = gelu(x w^T + b) with the exact (erf) GELU of ds_gelu_forward, and pre_gelu = x w^T + b,
// the GELU input that ds_gelu_backward needs (pass it as the backward's x). Tensors as
// ds_linear_fwd_args on CUDA (x, w, y F32 or BF16; b F32, or BF16 with BF16 x); pre_gelu (N, M)
// of y's dtype, not the same memory as y.
// cuBLASLt's GELU epilogues are the tanh approximation, so this is one GEMM with the bias epilogue
// plus one GELU kernel, not a single fused GEMM (docs/cuda_ops.md).
ds_status ds_cuda_linear_gelu_forward(ds_context *ctx, const ds_linear_fwd_args *a, ds_tensor pre_gelu);

// y = relu(bn_apply(x) + residual) in one pass over memory: BatchNorm's apply (the args of
// ds_bn_apply: x, mean, rstd, gamma, beta, y, with the CUDA dtypes of docs/cuda_ops.md: x/y F32
// or BF16, the per-channel vectors F32), then the residual added (when residual.data is not NULL:
// (N, C, H, W) of x's dtype, e.g. a ResNet block's identity), then the ReLU (when relu; NaN kept
// as relu_forward keeps it). y may be x or residual (each element is read and written by one
// thread). The F32 result rounds exactly as ds_bn_apply, ds_add and ds_relu_forward one after the
// other (tests/gpu/test_cuda_batchnorm.c compares with that composition on the CPU); in BF16 it
// rounds once where the composition rounds after each step.
ds_status ds_cuda_bn_apply_act(ds_context *ctx, const ds_bn_apply_args *a, ds_tensor residual, bool relu);

#ifdef __cplusplus
}
#endif

#endif
