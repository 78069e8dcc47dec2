// Weight norm on CUDA (torch.nn.utils.weight_norm with `dim`); the CPU reference is
// kernels/cpu/weight_norm_impl.inc. v viewed as (outer, K, inner) around dim, element (o, j, i) at
// (o K + j) inner + i; Wav2Vec2's positional conv: v (768, 48, 128) with dim = 2, so K = 128 taps,
// outer = 768 x 48, inner = 1 (the slices are strided by K). v, g, norm, dw, dv, dg: F32 device
// (parameters and their gradients); w F32, or BF16 (the working copy a BF16 conv reads).
//   forward   one 256-thread block per slice j (grid-stride): ||v_j|| as a double sum of squares
//             (fixed-order block sum), then w = v (g_j / ||v_j||).
//   backward  one block per slice: dg_j = sum(dw v) / n_j (double, fixed order), then
//             dv = (g_j / n_j) dw - (g_j dg_j / n_j^2) v, added into dv/dg when accumulate.
// No atomics: identical bits every run. One variant: 128 slices of 36,864 strided elements
// (the whole op reads 14 MB, ~10 us on an H100); a coalesced (outer-major) FAST variant would
// need a cross-block reduction and is not worth it at this size.
#include <math.h>

#include "block_reduce.cuh"
#include "cuda_state.cuh"
#include "op_checks.cuh"

extern "C" {
#include "cuda_ops.h"
}

enum { WN_BLOCK = 256 };

template <typename T>
__global__ void __launch_bounds__(WN_BLOCK)
    weight_norm_fwd_kernel(const float *v, const float *g, T *w, float *norm, int64_t outer, int64_t k, int64_t inner) {
    __shared__ double sh[33];
    const int64_t m = outer * inner;
    for (int64_t j = blockIdx.x; j < k; j += gridDim.x) {
        double sq = 0.0;
        for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
            const int64_t o = e / inner, i = e - o * inner;
            const double x = v[(o * k + j) * inner + i];
            sq = fma(x, x, sq);
        }
        const double nrm = sqrt(ds_block_sum(sq, sh)), scale = (double)g[j] / nrm;
        for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
            const int64_t o = e / inner, i = e - o * inner, idx = (o * k + j) * inner + i;
            ds_st(w, idx, (float)((double)v[idx] * scale));
        }
        if (threadIdx.x == 0) norm[j] = (float)nrm;
    }
}

__global__ void __launch_bounds__(WN_BLOCK)
    weight_norm_bwd_kernel(const float *v, const float *g, const float *norm, const float *dw, float *dv, float *dg,
                           int64_t outer, int64_t k, int64_t inner, bool accumulate) {
    __shared__ double sh[33];
    const int64_t m = outer * inner;
    for (int64_t j = blockIdx.x; j < k; j += gridDim.x) {
        double dot = 0.0;
        for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
            const int64_t o = e / inner, i = e - o * inner, idx = (o * k + j) * inner + i;
            dot = fma((double)dw[idx], (double)v[idx], dot);
        }
        const double n = norm[j], dgj = ds_block_sum(dot, sh) / n, a = (double)g[j] / n, b = a * dgj / n;
        for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
            const int64_t o = e / inner, i = e - o * inner, idx = (o * k + j) * inner + i;
            const double d = a * (double)dw[idx] - b * (double)v[idx];
            dv[idx] = (float)(accumulate ? (double)dv[idx] + d : d);
        }
        if (threadIdx.x == 0) dg[j] = (float)(accumulate ? (double)dg[j] + dgj : dgj);
    }
}

// v viewed as (outer, K, inner) around dim.
static ds_status wn_split(ds_context *ctx, const char *op, const ds_tensor *v, int dim, int64_t *outer, int64_t *k,
                          int64_t *inner) {
    DS_REQUIRE(&ctx->err, dim >= 0 && dim < v->ndim, DS_ERR_INVALID_ARG, "%s: dim = %d is not a dim of v (%d dims)",
               op, dim, v->ndim);
    *outer = 1, *inner = 1;
    for (int i = 0; i < dim; i++) *outer *= v->shape[i];
    for (int i = dim + 1; i < v->ndim; i++) *inner *= v->shape[i];
    *k = v->shape[dim];
    return DS_OK;
}

extern "C" ds_status ds_cuda_weight_norm_forward(ds_context *ctx, const void *args) {
    const ds_weight_norm_fwd_args *a = (const ds_weight_norm_fwd_args *)args;
    const char *op = "weight_norm_forward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    DS_TRY(ds_cuda_check(ctx, op, "v", &a->v, DS_F32, -1, NULL));
    int64_t outer = 0, k = 0, inner = 0;
    DS_TRY(wn_split(ctx, op, &a->v, a->dim, &outer, &k, &inner));
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "g", &a->g, DS_F32, k));
    ds_dtype wt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "w", &a->w, a->v.ndim, &wt));
    DS_TRY(ds_cuda_check(ctx, op, "w", &a->w, wt, a->v.ndim, a->v.shape));
    const int64_t ks[1] = {k};
    DS_TRY(ds_cuda_check(ctx, op, "norm", &a->norm, DS_F32, 1, ks));
    if (k == 0) return DS_OK;
    const float *v = (const float *)a->v.data, *g = (const float *)a->g.data;
    if (wt == DS_F32)
        weight_norm_fwd_kernel<float><<<ds_cuda_grid(k, 1), WN_BLOCK, 0, s->stream>>>(
            v, g, (float *)a->w.data, (float *)a->norm.data, outer, k, inner);
    else
        weight_norm_fwd_kernel<__nv_bfloat16><<<ds_cuda_grid(k, 1), WN_BLOCK, 0, s->stream>>>(
            v, g, (__nv_bfloat16 *)a->w.data, (float *)a->norm.data, outer, k, inner);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_weight_norm_backward(ds_context *ctx, const void *args) {
    const ds_weight_norm_bwd_args *a = (const ds_weight_norm_bwd_args *)args;
    const char *op = "weight_norm_backward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    DS_TRY(ds_cuda_check(ctx, op, "dw", &a->dw, DS_F32, -1, NULL));
    int64_t outer = 0, k = 0, inner = 0;
    DS_TRY(wn_split(ctx, op, &a->dw, a->dim, &outer, &k, &inner));
    DS_TRY(ds_cuda_check(ctx, op, "v", &a->v, DS_F32, a->dw.ndim, a->dw.shape));
    DS_TRY(ds_cuda_check(ctx, op, "dv", &a->dv, DS_F32, a->dw.ndim, a->dw.shape));
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "g", &a->g, DS_F32, k));
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "dg", &a->dg, DS_F32, k));
    const int64_t ks[1] = {k};
    DS_TRY(ds_cuda_check(ctx, op, "norm", &a->norm, DS_F32, 1, ks));
    if (k == 0) return DS_OK;
    weight_norm_bwd_kernel<<<ds_cuda_grid(k, 1), WN_BLOCK, 0, s->stream>>>(
        (const float *)a->v.data, (const float *)a->g.data, (const float *)a->norm.data, (const float *)a->dw.data,
        (float *)a->dv.data, (float *)a->dg.data, outer, k, inner, a->accumulate);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
