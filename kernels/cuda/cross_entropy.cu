// Cross-entropy with ignore_index and mean reduction on CUDA, forward and backward; the CPU
// reference is kernels/cpu/cross_entropy_impl.inc. logits (N, C) F32 or BF16, targets (N) I32,
// lse (N) F32, loss (1) F32; dlogits has the logits' dtype. fp32 math, rounded once on store.
//
// Forward: lse[i] = logsumexp of row i (max-subtracted). The softmax is never stored: backward
// recomputes it as exp(logit - lse). The loss is the mean over the non-ignored rows of
// lse[i] - logits[i, t_i], summed in double by one block in a fixed order (the same bits every
// run), NaN when every row is ignored (as torch).
//   PLAIN: one block per row, two passes (max, then sum of exp).
//   FAST:  one pass with the online (max, sum) update, one warp per row for C <= 1024 and one
//          block per row above, 16-byte loads when C and the pointer allow.
// Backward: dlogits[i, j] = dloss / count * (exp(logits[i, j] - lse[i]) - [j == t_i]) for
// non-ignored rows, 0 for ignored rows (count = non-ignored rows; all rows 0 when it is 0).
//   PLAIN: one thread per element. FAST: one warp per row, 16-byte accesses where possible.
// targets: validated like the CPU's (a class in [0, C) or ignore_index) by the device index check
// of index_check.cuh, one stream synchronisation per call; a bad target is an error and nothing
// is written. The kernels still skip a target outside [0, C) rather than read out of bounds.
#include "block_reduce.cuh"
#include "cuda_state.cuh"
#include "index_check.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "cuda_ops.h"
}

#define CE_BLOCK 256
#define CE_REDUCE_BLOCK 1024
#define CE_WARP_COLS 1024  // FAST forward: rows up to this long take one warp, longer ones a block

// ---- forward: per-row logsumexp ----

// PLAIN: lse[row] = max + log(sum exp(x - max)), one block per row. logits: (n, c) device; lse: (n).
template <typename T>
__global__ void ce_lse_block(const T *logits, float *lse, int64_t n, int64_t c) {
    __shared__ float sh[33];
    for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
        const T *xr = logits + row * c;
        float mx = -INFINITY;
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) mx = fmaxf(mx, ds_ld(xr, j));
        mx = ds_block_max(mx, sh);
        float sum = 0.0f;
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) sum += expf(ds_ld(xr, j) - mx);
        sum = ds_block_sum(sum, sh);
        if (threadIdx.x == 0) lse[row] = mx + logf(sum);
    }
}

// FAST, rows of c <= CE_WARP_COLS: one warp per row, one pass (online max/sum), VEC per access.
template <typename T, int VEC>
__global__ void ce_lse_warp(const T *logits, float *lse, int64_t n, int64_t c) {
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); row < n; row += warps) {
        const T *xr = logits + row * c;
        float m = -INFINITY, s = 0.0f;
        for (int64_t col = (int64_t)lane * VEC; col < c; col += 32 * VEC) {
            float v[VEC];
            ds_ld_vec<T, VEC>(xr + col, v);
#pragma unroll
            for (int e = 0; e < VEC; e++) ds_online_add(m, s, v[e]);
        }
        ds_warp_online(m, s);
        if (lane == 0) lse[row] = m + logf(s);
    }
}

// FAST, longer rows: one block per row, one pass, VEC per access.
template <typename T, int VEC>
__global__ void ce_lse_block_online(const T *logits, float *lse, int64_t n, int64_t c) {
    __shared__ float shm[33], shs[33];
    for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
        const T *xr = logits + row * c;
        float m = -INFINITY, s = 0.0f;
        for (int64_t col = (int64_t)threadIdx.x * VEC; col < c; col += (int64_t)blockDim.x * VEC) {
            float v[VEC];
            ds_ld_vec<T, VEC>(xr + col, v);
#pragma unroll
            for (int e = 0; e < VEC; e++) ds_online_add(m, s, v[e]);
        }
        ds_block_online(m, s, shm, shs);
        if (threadIdx.x == 0) lse[row] = m + logf(s);
    }
}

// ---- forward: the mean loss, one block, fixed order ----

// loss[0] = mean over rows with targets[i] != ignore of lse[i] - logits[i, targets[i]], in double;
// NaN when there is none. logits: (n, c), targets: (n), lse: (n), loss: (1), all device.
template <typename T>
__global__ void __launch_bounds__(CE_REDUCE_BLOCK)
    ce_loss_reduce(const T *logits, const int32_t *targets, const float *lse, int64_t n, int64_t c, int ignore_index,
                   float *loss) {
    __shared__ double sh[33];
    double total = 0.0, count = 0.0;  // count in double: exact far beyond any row count
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const int32_t t = targets[i];
        if (t == ignore_index || t < 0 || t >= c) continue;
        total += (double)lse[i] - (double)ds_ld(logits, i * c + t);
        count += 1.0;
    }
    total = ds_block_sum(total, sh);
    count = ds_block_sum(count, sh);
    if (threadIdx.x == 0) loss[0] = count > 0 ? (float)(total / count) : __int_as_float(0x7fc00000);  // NaN
}

template <typename T>
static ds_status launch_fwd(ds_context *ctx, ds_cuda_state *s, const T *logits, const int32_t *targets, float *lse,
                            float *loss, int64_t n, int64_t c, int ignore_index) {
    if (n > 0) {
        if (s->opt.kernels == DS_KERNELS_FAST) {
            const bool vec = c % ds_vec16<T>() == 0 && ds_cuda_aligned(logits, 16);
            if (c <= CE_WARP_COLS) {
                const unsigned blocks = ds_cuda_grid(n, CE_BLOCK / 32);
                if (vec) ce_lse_warp<T, ds_vec16<T>()><<<blocks, CE_BLOCK, 0, s->stream>>>(logits, lse, n, c);
                else ce_lse_warp<T, 1><<<blocks, CE_BLOCK, 0, s->stream>>>(logits, lse, n, c);
            } else {
                const unsigned blocks = ds_cuda_grid(n, 1);
                if (vec) ce_lse_block_online<T, ds_vec16<T>()><<<blocks, CE_BLOCK, 0, s->stream>>>(logits, lse, n, c);
                else ce_lse_block_online<T, 1><<<blocks, CE_BLOCK, 0, s->stream>>>(logits, lse, n, c);
            }
        } else {
            ce_lse_block<T><<<ds_cuda_grid(n, 1), CE_BLOCK, 0, s->stream>>>(logits, lse, n, c);
        }
        DS_CUDA_CHECK_LAUNCH(&ctx->err);
    }
    ce_loss_reduce<T><<<1, CE_REDUCE_BLOCK, 0, s->stream>>>(logits, targets, lse, n, c, ignore_index, loss);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

// ---- backward ----

// scale[0] = dloss / count in double, rounded to fp32 (the CPU's expression), or 0 when no row
// counts. targets: (n) device; scale: (1) device. One block.
__global__ void __launch_bounds__(CE_REDUCE_BLOCK)
    ce_scale(const int32_t *targets, int64_t n, int ignore_index, double dloss, float *scale) {
    __shared__ double sh[33];
    double count = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) count += targets[i] != ignore_index ? 1.0 : 0.0;
    count = ds_block_sum(count, sh);
    if (threadIdx.x == 0) scale[0] = count > 0 ? (float)(dloss / count) : 0.0f;
}

// The gradient of one logit x of a non-ignored row: scale * exp(x - lse), minus scale at the
// target column. __fmul_rn keeps the product from being fused with the subtraction, so the
// rounding is the CPU's (scale * p, then - scale).
static __device__ __forceinline__ float ce_grad(float x, float row_lse, float scale, bool is_target) {
    const float g = __fmul_rn(scale, expf(x - row_lse));
    return is_target ? g - scale : g;
}

// PLAIN: one thread per element. logits, dlogits: (n, c); targets, lse: (n); scale: (1); device.
template <typename T>
__global__ void ce_bwd_plain(const T *logits, const int32_t *targets, const float *lse, const float *scale_p,
                             T *dlogits, int64_t n, int64_t c, int ignore_index) {
    const float scale = *scale_p;
    const int64_t total = n * c;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = e / c, j = e - i * c;
        const int32_t t = targets[i];
        const bool counted = t != ignore_index && t >= 0 && t < c;
        ds_st(dlogits, e, counted ? ce_grad(ds_ld(logits, e), lse[i], scale, j == t) : 0.0f);
    }
}

// FAST: one warp per row, VEC elements per access.
template <typename T, int VEC>
__global__ void ce_bwd_warp(const T *logits, const int32_t *targets, const float *lse, const float *scale_p,
                            T *dlogits, int64_t n, int64_t c, int ignore_index) {
    const float scale = *scale_p;
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); row < n; row += warps) {
        const T *xr = logits + row * c;
        T *dr = dlogits + row * c;
        const int32_t t = targets[row];
        const bool counted = t != ignore_index && t >= 0 && t < c;
        const float row_lse = lse[row];
        for (int64_t col = (int64_t)lane * VEC; col < c; col += 32 * VEC) {
            float v[VEC];
            if (counted) {
                ds_ld_vec<T, VEC>(xr + col, v);
#pragma unroll
                for (int e = 0; e < VEC; e++) v[e] = ce_grad(v[e], row_lse, scale, col + e == t);
            } else {
#pragma unroll
                for (int e = 0; e < VEC; e++) v[e] = 0.0f;
            }
            ds_st_vec<T, VEC>(dr + col, v);
        }
    }
}

template <typename T>
static ds_status launch_bwd(ds_context *ctx, ds_cuda_state *s, const T *logits, const int32_t *targets,
                            const float *lse, T *dlogits, int64_t n, int64_t c, int ignore_index, double dloss) {
    float *scale = (float *)s->scratch;  // (1) device; the index check is done with the scratch by now
    ce_scale<<<1, CE_REDUCE_BLOCK, 0, s->stream>>>(targets, n, ignore_index, dloss, scale);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    if (s->opt.kernels == DS_KERNELS_FAST) {
        const unsigned blocks = ds_cuda_grid(n, CE_BLOCK / 32);
        const int vec = ds_vec16<T>();
        if (c % vec == 0 && ds_cuda_aligned(logits, 16) && ds_cuda_aligned(dlogits, 16))
            ce_bwd_warp<T, ds_vec16<T>()><<<blocks, CE_BLOCK, 0, s->stream>>>(logits, targets, lse, scale, dlogits,
                                                                              n, c, ignore_index);
        else
            ce_bwd_warp<T, 1><<<blocks, CE_BLOCK, 0, s->stream>>>(logits, targets, lse, scale, dlogits, n, c,
                                                                  ignore_index);
    } else {
        ce_bwd_plain<T><<<ds_cuda_grid(n * c, CE_BLOCK), CE_BLOCK, 0, s->stream>>>(logits, targets, lse, scale,
                                                                                   dlogits, n, c, ignore_index);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

// ---- entry points ----

// Checks logits (N, C) F32/BF16 and targets (N) I32 on CUDA, and every target's value.
static ds_status check_common(ds_context *ctx, ds_cuda_state *s, const char *op, const ds_tensor *logits,
                              const ds_tensor *targets, int ignore_index, ds_dtype *dt, int64_t *n, int64_t *c) {
    ds_err *err = &ctx->err;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "logits", logits, 2, dt));
    *n = logits->shape[0];
    *c = logits->shape[1];
    DS_TRY(ds_cuda_check_extents(ctx, op, "targets", targets, DS_I32, 1, *n, -1));
    bool found = false;
    int64_t pos = 0;
    int32_t value = 0;
    DS_TRY(ds_cuda_find_bad_index(ctx, s, (const int32_t *)targets->data, *n, *c, true, ignore_index, &found, &pos,
                                  &value));
    DS_REQUIRE(err, !found, DS_ERR_INVALID_ARG,
               "%s: targets[%lld] = %d is neither a class in [0, %lld) nor ignore_index (%d)", op, (long long)pos,
               (int)value, (long long)*c, ignore_index);
    return DS_OK;
}

extern "C" ds_status ds_cuda_cross_entropy_forward(ds_context *ctx, const void *args) {
    const ds_cross_entropy_fwd_args *a = (const ds_cross_entropy_fwd_args *)args;
    const char *op = "cross_entropy_forward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    int64_t n = 0, c = 0;
    DS_TRY(ds_cuda_check_extents(ctx, op, "loss", &a->loss, DS_F32, 1, 1, -1));
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "logits", &a->logits, 2, &dt));
    DS_TRY(ds_cuda_check_extents(ctx, op, "lse", &a->lse, DS_F32, 1, a->logits.shape[0], -1));
    DS_TRY(check_common(ctx, s, op, &a->logits, &a->targets, a->ignore_index, &dt, &n, &c));
    const int32_t *targets = (const int32_t *)a->targets.data;
    float *lse = (float *)a->lse.data, *loss = (float *)a->loss.data;
    if (dt == DS_F32)
        return launch_fwd(ctx, s, (const float *)a->logits.data, targets, lse, loss, n, c, a->ignore_index);
    return launch_fwd(ctx, s, (const __nv_bfloat16 *)a->logits.data, targets, lse, loss, n, c, a->ignore_index);
}

extern "C" ds_status ds_cuda_cross_entropy_backward(ds_context *ctx, const void *args) {
    const ds_cross_entropy_bwd_args *a = (const ds_cross_entropy_bwd_args *)args;
    const char *op = "cross_entropy_backward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    int64_t n = 0, c = 0;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "logits", &a->logits, 2, &dt));
    DS_TRY(ds_cuda_check_extents(ctx, op, "lse", &a->lse, DS_F32, 1, a->logits.shape[0], -1));
    DS_TRY(ds_cuda_check_extents(ctx, op, "dlogits", &a->dlogits, dt, 2, a->logits.shape[0], a->logits.shape[1]));
    DS_TRY(check_common(ctx, s, op, &a->logits, &a->targets, a->ignore_index, &dt, &n, &c));
    if (n == 0 || c == 0) return DS_OK;
    const int32_t *targets = (const int32_t *)a->targets.data;
    const float *lse = (const float *)a->lse.data;
    if (dt == DS_F32)
        return launch_bwd(ctx, s, (const float *)a->logits.data, targets, lse, (float *)a->dlogits.data, n, c,
                          a->ignore_index, a->dloss);
    return launch_bwd(ctx, s, (const __nv_bfloat16 *)a->logits.data, targets, lse, (__nv_bfloat16 *)a->dlogits.data,
                      n, c, a->ignore_index, a->dloss);
}
