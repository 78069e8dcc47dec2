// Layer norm over the last dim on CUDA, biased variance (torch.nn.LayerNorm), as the CPU op:
//   mean = sum_j x / C;  var = sum_j (x - mean)^2 / C  (two passes, so a large mean does not
//   cancel the variance away);  rstd = 1 / sqrt(var + eps);  y = (x - mean) rstd gamma + beta.
// Backward, with xhat = (x - mean) rstd and g = dy gamma, per row:
//   dx = rstd (g - mean_j(g) - xhat mean_j(g xhat));  over rows: dgamma (+)= sum dy xhat,
//   dbeta (+)= sum dy (deterministic column sums, column_sums.cuh).
// Dtypes: x, y, dy, dx F32 or BF16 (one per call); gamma, beta, mean, rstd, dgamma, dbeta F32.
// Statistics and every intermediate are fp32; y and dx are rounded once on store.
//
// PLAIN: one 256-thread block per row; block sums in a fixed tree (block_reduce.cuh).
// FAST:  one warp per row (8 rows per 256-thread block), 16-byte vector loads/stores when C is a
//        multiple of the vector width (4 F32 / 8 BF16) and every row pointer is 16-byte aligned,
//        scalar otherwise; rows of up to 32 values per lane (C <= 1024) stay in registers between
//        the passes, longer rows are read again (from L1/L2) in each pass.
#include <math.h>

#include "block_reduce.cuh"
#include "column_sums.cuh"
#include "cuda_state.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "cuda_ops.h"
}

// ---- PLAIN ----

// Block r normalises row r. x, y (n, c); gamma, beta (c); mean, rstd (n). Device.
template <typename T>
__global__ void ln_fwd_plain_kernel(const T *x, const float *gamma, const float *beta, T *y, float *mean, float *rstd,
                                    int64_t c, float eps) {
    __shared__ float red[33];  // ds_block_sum scratch
    const int64_t r = blockIdx.x;
    const T *xr = x + r * c;
    T *yr = y + r * c;
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) s += ds_ld(xr, j);
    const float mu = ds_block_sum(s, red) / (float)c;
    float q = 0.f;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
        const float d = ds_ld(xr, j) - mu;
        q += d * d;
    }
    const float rs = 1.0f / sqrtf(ds_block_sum(q, red) / (float)c + eps);
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) ds_st(yr, j, (ds_ld(xr, j) - mu) * rs * gamma[j] + beta[j]);
    if (threadIdx.x == 0) {
        mean[r] = mu;
        rstd[r] = rs;
    }
}

// Block r computes dx of row r. x, dy, dx (n, c); gamma (c); mean, rstd (n). Device.
template <typename T>
__global__ void ln_bwd_plain_kernel(const T *x, const float *gamma, const float *mean, const float *rstd, const T *dy,
                                    T *dx, int64_t c) {
    __shared__ float red[33];  // ds_block_sum scratch
    const int64_t r = blockIdx.x;
    const T *xr = x + r * c, *dyr = dy + r * c;
    T *dxr = dx + r * c;
    const float mu = mean[r], rs = rstd[r];
    float sg = 0.f, sgx = 0.f;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
        const float g = ds_ld(dyr, j) * gamma[j];
        sg += g;
        sgx += g * ((ds_ld(xr, j) - mu) * rs);
    }
    const float mean_g = ds_block_sum(sg, red) / (float)c;
    const float mean_gx = ds_block_sum(sgx, red) / (float)c;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
        const float xhat = (ds_ld(xr, j) - mu) * rs;
        ds_st(dxr, j, rs * (ds_ld(dyr, j) * gamma[j] - mean_g - xhat * mean_gx));
    }
}

// ---- FAST ----

// Unit j of a row as W floats: a 16-byte vector (VEC) or one element (W == 1).
template <bool VEC, typename T, int W>
__device__ __forceinline__ void ln_load(const T *p, int64_t j, float (&v)[W]) {
    if constexpr (VEC)
        ds_ld_vec<T, W>(p + j * W, v);
    else
        v[0] = ds_ld(p, j);
}
template <bool VEC, typename T, int W>
__device__ __forceinline__ void ln_store(T *p, int64_t j, const float (&v)[W]) {
    if constexpr (VEC)
        ds_st_vec<T, W>(p + j * W, v);
    else
        ds_st(p, j, v[0]);
}

// Warp w of block b normalises row b * (blockDim.x / 32) + w. Units: c / W per row (VEC: c % W == 0).
template <typename T, bool VEC>
__global__ void ln_fwd_fast_kernel(const T *x, const float *gamma, const float *beta, T *y, float *mean, float *rstd,
                                   int64_t n, int64_t c, float eps) {
    constexpr int W = VEC ? ds_vec16<T>() : 1;
    constexpr int MAXV = 32 / W;  // units a lane keeps in registers: 32 floats
    const int lane = threadIdx.x & 31;
    const int64_t r = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (r >= n) return;  // r is the same for the whole warp, so the shuffles below see 32 lanes
    const T *xr = x + r * c;
    T *yr = y + r * c;
    const int64_t nv = c / W;
    const bool cached = nv <= 32 * MAXV;
    float cache[MAXV][W];
    float s = 0.f;
    if (cached) {
#pragma unroll
        for (int i = 0; i < MAXV; i++) {
            const int64_t j = lane + 32 * i;
            if (j < nv) {
                ln_load<VEC>(xr, j, cache[i]);
#pragma unroll
                for (int w = 0; w < W; w++) s += cache[i][w];
            }
        }
    } else {
        for (int64_t j = lane; j < nv; j += 32) {
            float v[W];
            ln_load<VEC>(xr, j, v);
#pragma unroll
            for (int w = 0; w < W; w++) s += v[w];
        }
    }
    const float mu = ds_warp_sum(s) / (float)c;
    float q = 0.f;
    if (cached) {
#pragma unroll
        for (int i = 0; i < MAXV; i++) {
            if (lane + 32 * i < nv) {
#pragma unroll
                for (int w = 0; w < W; w++) {
                    const float d = cache[i][w] - mu;
                    q += d * d;
                }
            }
        }
    } else {
        for (int64_t j = lane; j < nv; j += 32) {
            float v[W];
            ln_load<VEC>(xr, j, v);
#pragma unroll
            for (int w = 0; w < W; w++) {
                const float d = v[w] - mu;
                q += d * d;
            }
        }
    }
    const float rs = 1.0f / sqrtf(ds_warp_sum(q) / (float)c + eps);
    // Third pass: y = (x - mu) rs gamma + beta.
    if (cached) {
#pragma unroll
        for (int i = 0; i < MAXV; i++) {
            const int64_t j = lane + 32 * i;
            if (j < nv) {
                float g[W], b[W], o[W];
                ln_load<VEC>(gamma, j, g);
                ln_load<VEC>(beta, j, b);
#pragma unroll
                for (int w = 0; w < W; w++) o[w] = (cache[i][w] - mu) * rs * g[w] + b[w];
                ln_store<VEC>(yr, j, o);
            }
        }
    } else {
        for (int64_t j = lane; j < nv; j += 32) {
            float v[W], g[W], b[W];
            ln_load<VEC>(xr, j, v);
            ln_load<VEC>(gamma, j, g);
            ln_load<VEC>(beta, j, b);
#pragma unroll
            for (int w = 0; w < W; w++) v[w] = (v[w] - mu) * rs * g[w] + b[w];
            ln_store<VEC>(yr, j, v);
        }
    }
    if (lane == 0) {
        mean[r] = mu;
        rstd[r] = rs;
    }
}

// Warp w of block b computes dx of row b * (blockDim.x / 32) + w.
template <typename T, bool VEC>
__global__ void ln_bwd_fast_kernel(const T *x, const float *gamma, const float *mean, const float *rstd, const T *dy,
                                   T *dx, int64_t n, int64_t c) {
    constexpr int W = VEC ? ds_vec16<T>() : 1;
    constexpr int MAXV = 32 / W;
    const int lane = threadIdx.x & 31;
    const int64_t r = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (r >= n) return;  // warp-uniform
    const T *xr = x + r * c, *dyr = dy + r * c;
    T *dxr = dx + r * c;
    const float mu = mean[r], rs = rstd[r];
    const int64_t nv = c / W;
    const bool cached = nv <= 32 * MAXV;
    float gc[MAXV][W], xc[MAXV][W];  // g = dy gamma and xhat of the lane's units when cached
    float sg = 0.f, sgx = 0.f;
    if (cached) {
#pragma unroll
        for (int i = 0; i < MAXV; i++) {
            const int64_t j = lane + 32 * i;
            if (j < nv) {
                float gm[W];
                ln_load<VEC>(dyr, j, gc[i]);
                ln_load<VEC>(xr, j, xc[i]);
                ln_load<VEC>(gamma, j, gm);
#pragma unroll
                for (int w = 0; w < W; w++) {
                    gc[i][w] *= gm[w];
                    xc[i][w] = (xc[i][w] - mu) * rs;
                    sg += gc[i][w];
                    sgx += gc[i][w] * xc[i][w];
                }
            }
        }
    } else {
        for (int64_t j = lane; j < nv; j += 32) {
            float dv[W], xv[W], gm[W];
            ln_load<VEC>(dyr, j, dv);
            ln_load<VEC>(xr, j, xv);
            ln_load<VEC>(gamma, j, gm);
#pragma unroll
            for (int w = 0; w < W; w++) {
                const float g = dv[w] * gm[w];
                sg += g;
                sgx += g * ((xv[w] - mu) * rs);
            }
        }
    }
    const float mean_g = ds_warp_sum(sg) / (float)c;
    const float mean_gx = ds_warp_sum(sgx) / (float)c;
    if (cached) {
#pragma unroll
        for (int i = 0; i < MAXV; i++) {
            const int64_t j = lane + 32 * i;
            if (j < nv) {
                float o[W];
#pragma unroll
                for (int w = 0; w < W; w++) o[w] = rs * (gc[i][w] - mean_g - xc[i][w] * mean_gx);
                ln_store<VEC>(dxr, j, o);
            }
        }
    } else {
        for (int64_t j = lane; j < nv; j += 32) {
            float dv[W], xv[W], gm[W], o[W];
            ln_load<VEC>(dyr, j, dv);
            ln_load<VEC>(xr, j, xv);
            ln_load<VEC>(gamma, j, gm);
#pragma unroll
            for (int w = 0; w < W; w++) o[w] = rs * (dv[w] * gm[w] - mean_g - (xv[w] - mu) * rs * mean_gx);
            ln_store<VEC>(dxr, j, o);
        }
    }
}

// The column-sum terms of dgamma and dbeta: t = {dy xhat, dy} at (r, j). Device pointers.
template <typename T>
struct ln_param_term {
    const T *x, *dy;
    const float *mean, *rstd;
    int64_t c;
    __device__ void operator()(int64_t r, int64_t j, float (&t)[2]) const {
        const float g = ds_ld(dy, r * c + j);
        t[0] = g * ((ds_ld(x, r * c + j) - mean[r]) * rstd[r]);
        t[1] = g;
    }
};

// ---- launches ----

enum { LN_THREADS = 256, LN_ROWS_PER_FAST_BLOCK = LN_THREADS / 32 };

template <typename T>
static ds_status ln_forward(ds_context *ctx, const ds_layernorm_fwd_args *a, int64_t n, int64_t c, float eps) {
    ds_cuda_state *cu = ctx->cuda;
    const T *x = (const T *)a->x.data;
    T *y = (T *)a->y.data;
    const float *gamma = (const float *)a->gamma.data, *beta = (const float *)a->beta.data;
    float *mean = (float *)a->mean.data, *rstd = (float *)a->rstd.data;
    if (cu->opt.kernels == DS_KERNELS_PLAIN) {
        ln_fwd_plain_kernel<T><<<(unsigned)n, LN_THREADS, 0, cu->stream>>>(x, gamma, beta, y, mean, rstd, c, eps);
    } else {
        const unsigned blocks = (unsigned)((n + LN_ROWS_PER_FAST_BLOCK - 1) / LN_ROWS_PER_FAST_BLOCK);
        // Row starts are x + r c: 16-byte aligned for every r when the base is and c is a multiple of W.
        const bool vec = c % ds_vec16<T>() == 0 && ds_cuda_aligned(x, 16) && ds_cuda_aligned(y, 16) &&
                         ds_cuda_aligned(gamma, 16) && ds_cuda_aligned(beta, 16);
        if (vec)
            ln_fwd_fast_kernel<T, true><<<blocks, LN_THREADS, 0, cu->stream>>>(x, gamma, beta, y, mean, rstd, n, c, eps);
        else
            ln_fwd_fast_kernel<T, false><<<blocks, LN_THREADS, 0, cu->stream>>>(x, gamma, beta, y, mean, rstd, n, c, eps);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

template <typename T>
static ds_status ln_backward(ds_context *ctx, const ds_layernorm_bwd_args *a, int64_t n, int64_t c) {
    ds_cuda_state *cu = ctx->cuda;
    const T *x = (const T *)a->x.data, *dy = (const T *)a->dy.data;
    T *dx = (T *)a->dx.data;
    const float *gamma = (const float *)a->gamma.data;
    const float *mean = (const float *)a->mean.data, *rstd = (const float *)a->rstd.data;
    if (n > 0 && c > 0) {
        if (cu->opt.kernels == DS_KERNELS_PLAIN) {
            ln_bwd_plain_kernel<T><<<(unsigned)n, LN_THREADS, 0, cu->stream>>>(x, gamma, mean, rstd, dy, dx, c);
        } else {
            const unsigned blocks = (unsigned)((n + LN_ROWS_PER_FAST_BLOCK - 1) / LN_ROWS_PER_FAST_BLOCK);
            const bool vec = c % ds_vec16<T>() == 0 && ds_cuda_aligned(x, 16) && ds_cuda_aligned(dy, 16) &&
                             ds_cuda_aligned(dx, 16) && ds_cuda_aligned(gamma, 16);
            if (vec)
                ln_bwd_fast_kernel<T, true><<<blocks, LN_THREADS, 0, cu->stream>>>(x, gamma, mean, rstd, dy, dx, n, c);
            else
                ln_bwd_fast_kernel<T, false><<<blocks, LN_THREADS, 0, cu->stream>>>(x, gamma, mean, rstd, dy, dx, n, c);
        }
        DS_CUDA_CHECK_LAUNCH(&ctx->err);
    }
    return ds_column_sums<2>(ctx, ln_param_term<T>{x, dy, mean, rstd, c}, n, c, (float *)a->dgamma.data,
                             (float *)a->dbeta.data, a->accumulate);
}

extern "C" ds_status ds_cuda_layernorm_forward(ds_context *ctx, const void *args) {
    const ds_layernorm_fwd_args *a = (const ds_layernorm_fwd_args *)args;
    const char *op = "layernorm_forward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;  // set by the first check
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, -1, &dt));
    DS_TRY(ds_cuda_check(ctx, op, "x", &a->x, dt, 2, NULL));
    const int64_t n = a->x.shape[0], c = a->x.shape[1];
    const int64_t c1[1] = {c}, n1[1] = {n}, nc[2] = {n, c};
    DS_TRY(ds_cuda_check(ctx, op, "gamma", &a->gamma, DS_F32, 1, c1));
    DS_TRY(ds_cuda_check(ctx, op, "beta", &a->beta, DS_F32, 1, c1));
    DS_TRY(ds_cuda_check(ctx, op, "y", &a->y, dt, 2, nc));
    DS_TRY(ds_cuda_check(ctx, op, "mean", &a->mean, DS_F32, 1, n1));
    DS_TRY(ds_cuda_check(ctx, op, "rstd", &a->rstd, DS_F32, 1, n1));
    DS_REQUIRE(&ctx->err, a->eps > 0 && isfinite(a->eps), DS_ERR_INVALID_ARG, "%s: eps must be positive, got %g", op,
               a->eps);
    DS_REQUIRE(&ctx->err, c > 0, DS_ERR_INVALID_ARG, "%s: x: normalised dim C must be positive, got 0", op);
    DS_REQUIRE(&ctx->err, n <= 0x7fffffff, DS_ERR_INVALID_ARG, "%s: x: %lld rows exceed the grid limit (2^31 - 1)", op,
               (long long)n);
    if (n == 0) return DS_OK;
    return dt == DS_BF16 ? ln_forward<__nv_bfloat16>(ctx, a, n, c, (float)a->eps)
                         : ln_forward<float>(ctx, a, n, c, (float)a->eps);
}

extern "C" ds_status ds_cuda_layernorm_backward(ds_context *ctx, const void *args) {
    const ds_layernorm_bwd_args *a = (const ds_layernorm_bwd_args *)args;
    const char *op = "layernorm_backward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;  // set by the first check
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dy", &a->dy, -1, &dt));
    DS_TRY(ds_cuda_check(ctx, op, "dy", &a->dy, dt, 2, NULL));
    const int64_t n = a->dy.shape[0], c = a->dy.shape[1];
    const int64_t c1[1] = {c}, n1[1] = {n}, nc[2] = {n, c};
    DS_TRY(ds_cuda_check(ctx, op, "x", &a->x, dt, 2, nc));
    DS_TRY(ds_cuda_check(ctx, op, "gamma", &a->gamma, DS_F32, 1, c1));
    DS_TRY(ds_cuda_check(ctx, op, "mean", &a->mean, DS_F32, 1, n1));
    DS_TRY(ds_cuda_check(ctx, op, "rstd", &a->rstd, DS_F32, 1, n1));
    DS_TRY(ds_cuda_check(ctx, op, "dx", &a->dx, dt, 2, nc));
    DS_TRY(ds_cuda_check(ctx, op, "dgamma", &a->dgamma, DS_F32, 1, c1));
    DS_TRY(ds_cuda_check(ctx, op, "dbeta", &a->dbeta, DS_F32, 1, c1));
    DS_REQUIRE(&ctx->err, n <= 0x7fffffff, DS_ERR_INVALID_ARG, "%s: dy: %lld rows exceed the grid limit (2^31 - 1)", op,
               (long long)n);
    return dt == DS_BF16 ? ln_backward<__nv_bfloat16>(ctx, a, n, c) : ln_backward<float>(ctx, a, n, c);
}
