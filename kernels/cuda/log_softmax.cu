// Log-softmax over the last dim on CUDA, forward and backward (the CPU reference is
// log_softmax_fwd/bwd in kernels/cpu/softmax_impl.inc; the op uses the softmax args). x, y, dy, dx:
// (N, C) device, row-major, all F32 or all BF16. One 256-thread block per row (grid-stride over
// rows), as the CPU: forward y = x - (max + log sum exp(x - max)) with the exponentials summed in
// double; backward dx = dy - exp(y) sum(dy), the sum in double. Sums are fixed-order block trees
// (block_reduce.cuh): identical bits every run. One variant only: the CTC head's rows are short
// (C = 32) and this op is a negligible part of a step; a warp-per-row FAST kernel is a follow-up.
#include <math.h>

#include "block_reduce.cuh"
#include "cuda_state.cuh"
#include "op_checks.cuh"

extern "C" {
#include "cuda_ops.h"
}

enum { LSM_BLOCK = 256 };

template <typename T>
__global__ void __launch_bounds__(LSM_BLOCK) log_softmax_fwd_block(const T *x, T *y, int64_t n, int64_t c) {
    __shared__ float shf[33];
    __shared__ double shd[33];
    for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
        const T *xr = x + row * c;
        T *yr = y + row * c;
        float mx = -INFINITY;
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) mx = fmaxf(mx, ds_ld(xr, j));
        mx = ds_block_max(mx, shf);
        double sum = 0.0;
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) sum += exp((double)ds_ld(xr, j) - (double)mx);
        sum = ds_block_sum(sum, shd);
        const double lse = (double)mx + log(sum);
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) ds_st(yr, j, (float)((double)ds_ld(xr, j) - lse));
    }
}

template <typename T>
__global__ void __launch_bounds__(LSM_BLOCK)
    log_softmax_bwd_block(const T *y, const T *dy, T *dx, int64_t n, int64_t c) {
    __shared__ double sh[33];
    for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
        const T *yr = y + row * c, *dyr = dy + row * c;
        T *dxr = dx + row * c;
        double sum = 0.0;
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) sum += (double)ds_ld(dyr, j);
        sum = ds_block_sum(sum, sh);
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x)
            ds_st(dxr, j, (float)((double)ds_ld(dyr, j) - __dmul_rn(exp((double)ds_ld(yr, j)), sum)));
    }
}

extern "C" ds_status ds_cuda_log_softmax_forward(ds_context *ctx, const void *args) {
    const ds_softmax_fwd_args *a = (const ds_softmax_fwd_args *)args;
    const char *op = "log_softmax_forward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, 2, &dt));
    const int64_t n = a->x.shape[0], c = a->x.shape[1];
    DS_TRY(ds_cuda_check_extents(ctx, op, "y", &a->y, dt, 2, n, c));
    if (n == 0 || c == 0) return DS_OK;
    const unsigned blocks = ds_cuda_grid(n, 1);
    if (dt == DS_F32)
        log_softmax_fwd_block<float><<<blocks, LSM_BLOCK, 0, s->stream>>>((const float *)a->x.data, (float *)a->y.data,
                                                                          n, c);
    else
        log_softmax_fwd_block<__nv_bfloat16><<<blocks, LSM_BLOCK, 0, s->stream>>>(
            (const __nv_bfloat16 *)a->x.data, (__nv_bfloat16 *)a->y.data, n, c);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_log_softmax_backward(ds_context *ctx, const void *args) {
    const ds_softmax_bwd_args *a = (const ds_softmax_bwd_args *)args;
    const char *op = "log_softmax_backward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dy", &a->dy, 2, &dt));
    const int64_t n = a->dy.shape[0], c = a->dy.shape[1];
    DS_TRY(ds_cuda_check_extents(ctx, op, "y", &a->y, dt, 2, n, c));
    DS_TRY(ds_cuda_check_extents(ctx, op, "dx", &a->dx, dt, 2, n, c));
    if (n == 0 || c == 0) return DS_OK;
    const unsigned blocks = ds_cuda_grid(n, 1);
    if (dt == DS_F32)
        log_softmax_bwd_block<float><<<blocks, LSM_BLOCK, 0, s->stream>>>(
            (const float *)a->y.data, (const float *)a->dy.data, (float *)a->dx.data, n, c);
    else
        log_softmax_bwd_block<__nv_bfloat16><<<blocks, LSM_BLOCK, 0, s->stream>>>(
            (const __nv_bfloat16 *)a->y.data, (const __nv_bfloat16 *)a->dy.data, (__nv_bfloat16 *)a->dx.data, n, c);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
