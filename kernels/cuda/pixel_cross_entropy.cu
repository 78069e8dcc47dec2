// Per-pixel cross-entropy on CUDA (torch.nn.functional.cross_entropy on (N, K, H, W) logits with
// weight= and ignore_index=, reduction "mean"); the CPU reference is
// kernels/cpu/pixel_cross_entropy_impl.inc. logits and dlogits F32 or BF16; targets (N, H, W)
// I32; class_weights (K) F32 (may be absent: all 1); lse (N, H, W), loss (1) and weight_sum (1) F32.
//
// Forward, two kernels:
//   1. one thread per pixel (grid-stride over a grid sized from N*H*W only): lse over the K
//      classes (pixel i of image n reads logits[(n K + k) HW + i]: consecutive threads read
//      consecutive addresses), written F32; then the pixel's terms w[t] (lse - logit_t) and w[t]
//      in double (0 for an ignored pixel), reduced over the block in a fixed tree (ds_block_sum)
//      into per-block partials in ctx->cuda->scratch.
//        PLAIN: two passes over the classes (max, then the exponentials summed in double, as the CPU).
//        FAST:  one pass with the online (max, sum) update in fp32.
//   2. one block adds the partials in a fixed order: loss = num / den (NaN when den is 0, as
//      torch), weight_sum = den.
// Both sums depend only on N*H*W, never on timing: identical bits every run.
// Backward: dlogits = g (exp(logit - lse) - [k == t]) with g = (float)(dloss / weight_sum * w[t])
// for valid pixels, 0 for ignored ones and everywhere when weight_sum is 0; the CPU's expression
// with __fsub_rn / __fmul_rn (no FMA contraction).
//   PLAIN: one thread per element. FAST: 16-byte vectors along a (n, k) row of HW pixels when HW
//   is a multiple of the vector width and the pointers are 16-byte aligned.
// targets are checked on the device (index_check.cuh) unless opt.trusted_indices; a bad target is
// an error naming the pixel, and the kernels skip a target outside [0, K) rather than read out of
// bounds.
#include <math.h>

#include "block_reduce.cuh"
#include "cuda_state.cuh"
#include "index_check.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "cuda_ops.h"
}

enum { PCE_THREADS = 256, PCE_MAX_BLOCKS = 1024, PCE_REDUCE_THREADS = 1024 };

struct pce_geom {
    int64_t N, K, HW;
    int ignore_index;
    const float *cw;  // (K) device or NULL
};

// The class weight of a valid target t, or 0 for an ignored / out-of-range one.
static __device__ __forceinline__ double pce_weight(const pce_geom &g, int32_t t) {
    if (t == g.ignore_index || t < 0 || t >= g.K) return 0.0;
    return g.cw ? (double)g.cw[t] : 1.0;
}

// lse, and per-block partial sums [num, den] of the loss terms into partial (2 x gridDim.x).
template <typename T, bool ONLINE>
__global__ void __launch_bounds__(PCE_THREADS)
    pce_forward(const T *logits, const int32_t *targets, float *lse, double *partial, pce_geom g) {
    __shared__ double sh[33];
    double num = 0.0, den = 0.0;
    const int64_t total = g.N * g.HW;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < total; j += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = j / g.HW, i = j - n * g.HW;
        const T *base = logits + n * g.K * g.HW + i;  // class k at base[k * HW]
        float l;
        if (ONLINE) {
            float m = -INFINITY, s = 0.0f;
            for (int64_t k = 0; k < g.K; k++) ds_online_add(m, s, ds_ld(base, k * g.HW));
            l = m + logf(s);
        } else {
            float mx = ds_ld(base, 0);
            for (int64_t k = 1; k < g.K; k++) {
                const float v = ds_ld(base, k * g.HW);
                mx = v > mx ? v : mx;
            }
            double s = 0.0;
            for (int64_t k = 0; k < g.K; k++) s += (double)expf(__fsub_rn(ds_ld(base, k * g.HW), mx));
            l = (float)((double)mx + log(s));
        }
        lse[j] = l;
        const int32_t t = targets[j];
        if (t != g.ignore_index && t >= 0 && t < g.K) {
            const double w = pce_weight(g, t);
            num += w * ((double)l - (double)ds_ld(base, (int64_t)t * g.HW));
            den += w;
        }
    }
    num = ds_block_sum(num, sh);
    den = ds_block_sum(den, sh);
    if (threadIdx.x == 0) {
        partial[2 * blockIdx.x] = num;
        partial[2 * blockIdx.x + 1] = den;
    }
}

// loss[0] = num / den, weight_sum[0] = den over the `blocks` partials, one block, fixed order.
__global__ void __launch_bounds__(PCE_REDUCE_THREADS)
    pce_finish(const double *partial, int blocks, float *loss, float *weight_sum) {
    __shared__ double sh[33];
    double num = 0.0, den = 0.0;
    for (int b = threadIdx.x; b < blocks; b += blockDim.x) {
        num += partial[2 * b];
        den += partial[2 * b + 1];
    }
    num = ds_block_sum(num, sh);
    den = ds_block_sum(den, sh);
    if (threadIdx.x == 0) {
        loss[0] = (float)(num / den);  // 0/0 = NaN with no valid pixel, as torch
        weight_sum[0] = (float)den;
    }
}

// The gradient of one logit x of pixel (n, i) for class k.
static __device__ __forceinline__ float pce_grad(float x, float l, int32_t t, int64_t k, double scale,
                                                 const pce_geom &g) {
    if (scale == 0.0 || t == g.ignore_index || t < 0 || t >= g.K) return 0.0f;
    const float gk = (float)(scale * pce_weight(g, t));
    return __fmul_rn(gk, __fsub_rn(expf(__fsub_rn(x, l)), t == k ? 1.0f : 0.0f));
}

// dloss / weight_sum in double, 0 when weight_sum is 0 (no valid pixel).
static __device__ __forceinline__ double pce_scale(const float *weight_sum, double dloss) {
    const float ws = weight_sum[0];
    return ws != 0.0f ? dloss / (double)ws : 0.0;
}

// PLAIN: one thread per element of dlogits (N, K, HW).
template <typename T>
__global__ void pce_backward_plain(const T *logits, const int32_t *targets, const float *lse, const float *weight_sum,
                                   T *dlogits, double dloss, pce_geom g) {
    const double scale = pce_scale(weight_sum, dloss);
    const int64_t total = g.N * g.K * g.HW;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t nk = e / g.HW, i = e - nk * g.HW, n = nk / g.K, k = nk - n * g.K;
        const int64_t j = n * g.HW + i;
        ds_st(dlogits, e, pce_grad(ds_ld(logits, e), lse[j], targets[j], k, scale, g));
    }
}

// FAST: one 16-byte vector of W pixels of one (n, k) row per step (HW % W == 0).
template <typename T>
__global__ void pce_backward_fast(const T *logits, const int32_t *targets, const float *lse, const float *weight_sum,
                                  T *dlogits, double dloss, pce_geom g) {
    constexpr int W = ds_vec16<T>();
    const double scale = pce_scale(weight_sum, dloss);
    const int64_t nv = g.N * g.K * g.HW / W;
    for (int64_t v = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; v < nv; v += (int64_t)gridDim.x * blockDim.x) {
        const int64_t e = v * W, nk = e / g.HW, i = e - nk * g.HW, n = nk / g.K, k = nk - n * g.K;
        const int64_t j = n * g.HW + i;
        float x[W];
        ds_ld_vec<T, W>(logits + e, x);
#pragma unroll
        for (int u = 0; u < W; u++) x[u] = pce_grad(x[u], lse[j + u], targets[j + u], k, scale, g);
        ds_st_vec<T, W>(dlogits + e, x);
    }
}

// Checks logits (N, K, H, W), targets (N, H, W) I32 and their values, class weights (K) F32.
static ds_status check_common(ds_context *ctx, ds_cuda_state *s, const char *op, const ds_tensor *logits,
                              const ds_tensor *targets, const ds_tensor *cw, int ignore_index, ds_dtype *dt,
                              pce_geom *g) {
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "logits", logits, 4, dt));
    const int64_t N = logits->shape[0], K = logits->shape[1], H = logits->shape[2], W = logits->shape[3];
    const int64_t tshape[3] = {N, H, W};
    DS_TRY(ds_cuda_check(ctx, op, "targets", targets, DS_I32, 3, tshape));
    const bool has_cw = ds_cuda_present(cw);
    if (has_cw) {
        const int64_t k1[1] = {K};
        DS_TRY(ds_cuda_check(ctx, op, "class_weights", cw, DS_F32, 1, k1));
    }
    bool found = false;
    int64_t pos = 0;
    int32_t value = 0;
    DS_TRY(ds_cuda_find_bad_index(ctx, s, (const int32_t *)targets->data, N * H * W, K, true, ignore_index, &found,
                                  &pos, &value));
    DS_REQUIRE(&ctx->err, !found, DS_ERR_INVALID_ARG,
               "%s: target %d at image %lld, row %lld, column %lld is neither a class in [0, %lld) nor "
               "ignore_index (%d)",
               op, (int)value, (long long)(pos / (H * W)), (long long)(pos / W % H), (long long)(pos % W), (long long)K,
               ignore_index);
    *g = pce_geom{N, K, H * W, ignore_index, has_cw ? (const float *)cw->data : NULL};
    return DS_OK;
}

template <typename T>
static ds_status launch_forward(ds_context *ctx, const ds_pixel_ce_fwd_args *a, const pce_geom &g) {
    ds_cuda_state *cu = ctx->cuda;
    const int64_t total = g.N * g.HW;
    int64_t blocks = (total + PCE_THREADS - 1) / PCE_THREADS;
    if (blocks > PCE_MAX_BLOCKS) blocks = PCE_MAX_BLOCKS;
    if (blocks < 1) blocks = 1;
    double *partial = (double *)cu->scratch;  // (2, blocks); the index check is done with the scratch by now
    const T *logits = (const T *)a->logits.data;
    const int32_t *targets = (const int32_t *)a->targets.data;
    float *lse = (float *)a->lse.data;
    if (cu->opt.kernels == DS_KERNELS_FAST)
        pce_forward<T, true><<<(unsigned)blocks, PCE_THREADS, 0, cu->stream>>>(logits, targets, lse, partial, g);
    else
        pce_forward<T, false><<<(unsigned)blocks, PCE_THREADS, 0, cu->stream>>>(logits, targets, lse, partial, g);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    pce_finish<<<1, PCE_REDUCE_THREADS, 0, cu->stream>>>(partial, (int)blocks, (float *)a->loss.data,
                                                          (float *)a->weight_sum.data);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_pixel_ce_forward(ds_context *ctx, const void *args) {
    const ds_pixel_ce_fwd_args *a = (const ds_pixel_ce_fwd_args *)args;
    const char *op = "pixel_cross_entropy_forward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;
    pce_geom g;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "logits", &a->logits, 4, &dt));
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "loss", &a->loss, DS_F32, 1));
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "weight_sum", &a->weight_sum, DS_F32, 1));
    DS_TRY(ds_cuda_check(ctx, op, "lse", &a->lse, DS_F32, 3, a->targets.shape));
    DS_TRY(check_common(ctx, cu, op, &a->logits, &a->targets, &a->class_weights, a->ignore_index, &dt, &g));
    DS_REQUIRE(&ctx->err, g.K >= 1, DS_ERR_INVALID_ARG, "%s: logits have no classes", op);
    if (dt == DS_BF16) return launch_forward<__nv_bfloat16>(ctx, a, g);
    return launch_forward<float>(ctx, a, g);
}

template <typename T>
static ds_status launch_backward(ds_context *ctx, const ds_pixel_ce_bwd_args *a, const pce_geom &g) {
    ds_cuda_state *cu = ctx->cuda;
    const int64_t total = g.N * g.K * g.HW;
    if (total == 0) return DS_OK;
    const unsigned threads = 256;
    const T *logits = (const T *)a->logits.data;
    const int32_t *targets = (const int32_t *)a->targets.data;
    const float *lse = (const float *)a->lse.data, *ws = (const float *)a->weight_sum.data;
    T *dl = (T *)a->dlogits.data;
    constexpr int W = ds_vec16<T>();
    if (cu->opt.kernels == DS_KERNELS_FAST && g.HW % W == 0 && ds_cuda_aligned(logits, 16) && ds_cuda_aligned(dl, 16))
        pce_backward_fast<T><<<ds_cuda_blocks(total / W, threads), threads, 0, cu->stream>>>(logits, targets, lse, ws,
                                                                                            dl, a->dloss, g);
    else
        pce_backward_plain<T><<<ds_cuda_blocks(total, threads), threads, 0, cu->stream>>>(logits, targets, lse, ws, dl,
                                                                                         a->dloss, g);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_pixel_ce_backward(ds_context *ctx, const void *args) {
    const ds_pixel_ce_bwd_args *a = (const ds_pixel_ce_bwd_args *)args;
    const char *op = "pixel_cross_entropy_backward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;
    pce_geom g;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "logits", &a->logits, 4, &dt));
    DS_TRY(ds_cuda_check(ctx, op, "lse", &a->lse, DS_F32, 3, a->targets.shape));
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "weight_sum", &a->weight_sum, DS_F32, 1));
    DS_TRY(ds_cuda_check(ctx, op, "dlogits", &a->dlogits, dt, 4, a->logits.shape));
    DS_TRY(check_common(ctx, cu, op, &a->logits, &a->targets, &a->class_weights, a->ignore_index, &dt, &g));
    if (dt == DS_BF16) return launch_backward<__nv_bfloat16>(ctx, a, g);
    return launch_backward<float>(ctx, a, g);
}
