// ReLU on CUDA (torch.nn.functional.relu), forward and backward from the output so that it runs
// in place; the CPU reference is kernels/cpu/relu_impl.inc. F32 or BF16, any shape, equal numel;
// y may be x and dx may be dy (elementwise.cuh reads and writes each element in one thread).
// PLAIN and FAST (16-byte vectors) come from elementwise.cuh. Exact in both dtypes: the result is
// an input value or 0.
#include "cuda_state.cuh"
#include "elementwise.cuh"
#include "op_checks.cuh"

extern "C" {
#include "cuda_ops.h"
}

// y = max(x, 0) with NaN kept (torch's clamp_min: a NaN input stays NaN).
struct relu_fwd_fn {
    __device__ float operator()(float x) const { return x > 0.0f || x != x ? x : 0.0f; }
};

// dx = dy where y > 0, else 0; a NaN output passes dy (as torch's threshold_backward on the output).
struct relu_bwd_fn {
    __device__ float operator()(float y, float dy) const { return y <= 0.0f ? 0.0f : dy; }
};

extern "C" ds_status ds_cuda_relu_forward(ds_context *ctx, const void *args) {
    const ds_unary_fwd_args *a = (const ds_unary_fwd_args *)args;
    const char *op = "relu_forward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, -1, &dt));
    const int64_t n = ds_tensor_numel(&a->x);
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "y", &a->y, dt, n));
    return ds_map1(ctx, dt, a->x.data, a->y.data, n, relu_fwd_fn{});
}

extern "C" ds_status ds_cuda_relu_backward(ds_context *ctx, const void *args) {
    const ds_unary_bwd_args *a = (const ds_unary_bwd_args *)args;
    const char *op = "relu_backward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dy", &a->dy, -1, &dt));
    const int64_t n = ds_tensor_numel(&a->dy);
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "y (forward output)", &a->y, dt, n));
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "dx", &a->dx, dt, n));
    return ds_map2(ctx, dt, a->y.data, a->dy.data, a->dx.data, n, relu_bwd_fn{});
}
