// Pooling on CUDA: 2-d max pooling with indices and adaptive average pooling, forward and
// backward; the CPU references are kernels/cpu/maxpool_impl.inc and adaptive_avgpool_impl.inc.
// x, y, dy, dx F32 or BF16 (one dtype per call), indices I32; fp32 math (the average's window sum
// in double, as the CPU), rounded once on store.
//
// Every result is the CPU's bit for bit in F32: forward windows are walked in the CPU's order,
// and the backward passes are gathers (one thread per input cell) that add the contributions in
// the order the CPU's scatter adds them (outputs in row-major order), so there are no atomics and
// no dependence on timing.
//   max pool forward:  one thread per output (PLAIN and FAST alike: the window walk is the work).
//   max pool backward: PLAIN one thread per plane walks the outputs in order and adds dy at each
//                      winner (the CPU's loop; with BF16 dx each add rounds); FAST one thread per
//                      input cell gathers, from the outputs whose window holds the cell (found
//                      from the forward geometry, ds_maxpool2d_bwd_args.geom), the dy of those
//                      whose winner it is, in fp32, rounded once. FAST without a geometry runs PLAIN.
//   adaptive average:  forward one thread per output; backward one thread per input cell gathering
//                      the windows that hold it (both variants: the gather is the simple form here).
// Index tensors from the caller (backward's indices) are checked on the device unless
// opt.trusted_indices (index_check.cuh); a kernel never writes outside dx for a bad index.
#include <math.h>

#include "cuda_state.cuh"
#include "index_check.cuh"
#include "op_checks.cuh"

extern "C" {
#include "cuda_ops.h"
}

struct pool_geom {
    int64_t planes, H, W, P, Q;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

// ---- max pool ----

// y, idx (planes, P, Q) from x (planes, H, W): torch's CPU loop (window start moved past the
// padding by whole dilation steps, -inf start, `v > max || v != v` replaces the winner).
template <typename T>
__global__ void maxpool_fwd(const T *x, T *y, int32_t *idx, pool_geom g) {
    const int64_t total = g.planes * g.P * g.Q;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
        const int64_t nc = o / (g.P * g.Q), pq = o - nc * g.P * g.Q, p = pq / g.Q, q = pq - p * g.Q;
        const T *xp = x + nc * g.H * g.W;
        int64_t h0 = p * g.sh - g.ph, w0 = q * g.sw - g.pw;
        const int64_t h1 = min(h0 + (g.kh - 1) * g.dh + 1, g.H), w1 = min(w0 + (g.kw - 1) * g.dw + 1, g.W);
        while (h0 < 0) h0 += g.dh;
        while (w0 < 0) w0 += g.dw;
        int64_t best = h0 * g.W + w0;
        float m = -INFINITY;
        for (int64_t h = h0; h < h1; h += g.dh)
            for (int64_t w = w0; w < w1; w += g.dw) {
                const float v = ds_ld(xp, h * g.W + w);
                if (v > m || v != v) {
                    m = v;
                    best = h * g.W + w;
                }
            }
        ds_st(y, o, m);
        idx[o] = (int32_t)best;
    }
}

// PLAIN backward: thread nc walks plane nc's outputs in order and adds dy at each winner (dx
// zeroed before). A winner outside the plane (only with an unchecked bad index) is skipped.
template <typename T>
__global__ void maxpool_bwd_plane(const int32_t *idx, const T *dy, T *dx, int64_t planes, int64_t HW, int64_t PQ) {
    for (int64_t nc = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; nc < planes; nc += (int64_t)gridDim.x * blockDim.x) {
        T *xp = dx + nc * HW;
        const T *gp = dy + nc * PQ;
        const int32_t *ip = idx + nc * PQ;
        for (int64_t i = 0; i < PQ; i++) {
            const int32_t k = ip[i];
            if (k < 0 || k >= HW) continue;
            ds_st(xp, k, ds_ld(xp, k) + ds_ld(gp, i));
        }
    }
}

// The outputs along one axis whose window can hold input position h: [*lo, *hi).
static __device__ __forceinline__ void window_outputs(int64_t h, int64_t k, int64_t s, int64_t pad, int64_t d,
                                                      int64_t P, int64_t *lo, int64_t *hi) {
    // p s - pad <= h <= p s - pad + (k - 1) d
    const int64_t a = h + pad - (k - 1) * d, b = h + pad;
    int64_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t u = b < 0 ? -1 : b / s;
    if (u > P - 1) u = P - 1;
    *lo = l;
    *hi = u + 1 > l ? u + 1 : l;
}

// FAST backward: one thread per input cell; the outputs in row-major order, as the CPU adds them.
template <typename T>
__global__ void maxpool_bwd_gather(const int32_t *idx, const T *dy, T *dx, pool_geom g) {
    const int64_t total = g.planes * g.H * g.W;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t nc = e / (g.H * g.W), hw = e - nc * g.H * g.W, h = hw / g.W, w = hw - h * g.W;
        int64_t p0, p1, q0, q1;
        window_outputs(h, g.kh, g.sh, g.ph, g.dh, g.P, &p0, &p1);
        window_outputs(w, g.kw, g.sw, g.pw, g.dw, g.Q, &q0, &q1);
        const int32_t *ip = idx + nc * g.P * g.Q;
        const T *gp = dy + nc * g.P * g.Q;
        float acc = 0.0f;
        for (int64_t p = p0; p < p1; p++)
            for (int64_t q = q0; q < q1; q++)
                if (ip[p * g.Q + q] == (int32_t)hw) acc += ds_ld(gp, p * g.Q + q);
        ds_st(dx, e, acc);
    }
}

// ---- adaptive average pool ----

// torch's window of output cell a of b over an input of c: [floor(a c / b), ceil((a + 1) c / b)).
static __device__ __forceinline__ int64_t win_start(int64_t a, int64_t b, int64_t c) {
    return (a / b) * c + ((a % b) * c) / b;
}
static __device__ __forceinline__ int64_t win_end(int64_t a, int64_t b, int64_t c) { return 1 + ((a + 1) * c - 1) / b; }

// y (planes, P, Q): the mean of each window of x (planes, H, W), summed in double in (h, w) order.
template <typename T>
__global__ void aavg_fwd(const T *x, T *y, int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q) {
    const int64_t total = planes * P * Q;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
        const int64_t nc = o / (P * Q), pq = o - nc * P * Q, p = pq / Q, q = pq - p * Q;
        const int64_t h0 = win_start(p, P, H), h1 = win_end(p, P, H), w0 = win_start(q, Q, W), w1 = win_end(q, Q, W);
        const T *xp = x + nc * H * W;
        double s = 0;
        for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++) s += ds_ld(xp, h * W + w);
        ds_st(y, o, (float)(s / (double)((h1 - h0) * (w1 - w0))));
    }
}

// The output cells along one axis whose window holds input position h: [*lo, *hi).
static __device__ __forceinline__ void aavg_outputs(int64_t h, int64_t P, int64_t H, int64_t *lo, int64_t *hi) {
    int64_t p = (h * P) / H - 1;
    if (p < 0) p = 0;
    while (p < P && win_end(p, P, H) <= h) p++;  // first window that ends after h
    int64_t u = p;
    while (u < P && win_start(u, P, H) <= h) u++;  // past the last window that starts at or before h
    *lo = p;
    *hi = u;
}

// dx (planes, H, W): each cell gathers dy / window size of the windows holding it, in output
// order, each term rounded to fp32 first as the CPU's (real)((double)dy / count).
template <typename T>
__global__ void aavg_bwd(const T *dy, T *dx, int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q) {
    const int64_t total = planes * H * W;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t nc = e / (H * W), hw = e - nc * H * W, h = hw / W, w = hw - h * W;
        int64_t p0, p1, q0, q1;
        aavg_outputs(h, P, H, &p0, &p1);
        aavg_outputs(w, Q, W, &q0, &q1);
        const T *gp = dy + nc * P * Q;
        float acc = 0.0f;
        for (int64_t p = p0; p < p1; p++) {
            const int64_t rows = win_end(p, P, H) - win_start(p, P, H);
            for (int64_t q = q0; q < q1; q++) {
                const int64_t cols = win_end(q, Q, W) - win_start(q, Q, W);
                acc += (float)((double)ds_ld(gp, p * Q + q) / (double)(rows * cols));
            }
        }
        ds_st(dx, e, acc);
    }
}

// ---- host side ----

static ds_status resolve_pool(ds_context *ctx, const char *op, const ds_pool2d_geom *g, int64_t N, int64_t C,
                              int64_t H, int64_t W, pool_geom *ps) {
    ds_err *err = &ctx->err;
    ps->kh = g->kernel_h, ps->kw = g->kernel_w;
    ps->sh = g->stride_h ? g->stride_h : g->kernel_h, ps->sw = g->stride_w ? g->stride_w : g->kernel_w;
    ps->ph = g->pad_h, ps->pw = g->pad_w;
    ps->dh = g->dilation_h ? g->dilation_h : 1, ps->dw = g->dilation_w ? g->dilation_w : 1;
    DS_REQUIRE(err, ps->kh >= 1 && ps->kw >= 1 && ps->sh >= 1 && ps->sw >= 1 && ps->dh >= 1 && ps->dw >= 1,
               DS_ERR_INVALID_ARG, "%s: kernel (%lld, %lld), stride, dilation must be >= 1", op, (long long)ps->kh,
               (long long)ps->kw);
    DS_REQUIRE(err, ps->ph >= 0 && ps->pw >= 0 && 2 * ps->ph <= ps->kh && 2 * ps->pw <= ps->kw, DS_ERR_INVALID_ARG,
               "%s: padding (%lld, %lld) must lie in [0, kernel/2] for kernel (%lld, %lld)", op, (long long)ps->ph,
               (long long)ps->pw, (long long)ps->kh, (long long)ps->kw);
    ps->planes = N * C, ps->H = H, ps->W = W;
    ps->P = ds_pool_out_size(H, (int)ps->kh, (int)ps->sh, (int)ps->ph, (int)ps->dh, g->ceil_mode);
    ps->Q = ds_pool_out_size(W, (int)ps->kw, (int)ps->sw, (int)ps->pw, (int)ps->dw, g->ceil_mode);
    DS_REQUIRE(err, ps->P >= 1 && ps->Q >= 1 && H * W <= INT32_MAX, DS_ERR_INVALID_ARG,
               "%s: input (%lld, %lld) gives an output of %lld x %lld", op, (long long)H, (long long)W,
               (long long)ps->P, (long long)ps->Q);
    return DS_OK;
}

extern "C" ds_status ds_cuda_maxpool2d_forward(ds_context *ctx, const void *args) {
    const ds_maxpool2d_fwd_args *a = (const ds_maxpool2d_fwd_args *)args;
    const char *op = "maxpool2d_forward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, 4, &dt));
    const int64_t *s = a->x.shape;
    pool_geom g;
    DS_TRY(resolve_pool(ctx, op, &a->geom, s[0], s[1], s[2], s[3], &g));
    const int64_t out[4] = {s[0], s[1], g.P, g.Q};
    DS_TRY(ds_cuda_check(ctx, op, "y", &a->y, dt, 4, out));
    DS_TRY(ds_cuda_check(ctx, op, "indices", &a->indices, DS_I32, 4, out));
    const int64_t total = g.planes * g.P * g.Q;
    if (total == 0) return DS_OK;
    const unsigned threads = 256;
    if (dt == DS_BF16)
        maxpool_fwd<__nv_bfloat16><<<ds_cuda_blocks(total, threads), threads, 0, cu->stream>>>(
            (const __nv_bfloat16 *)a->x.data, (__nv_bfloat16 *)a->y.data, (int32_t *)a->indices.data, g);
    else
        maxpool_fwd<float><<<ds_cuda_blocks(total, threads), threads, 0, cu->stream>>>(
            (const float *)a->x.data, (float *)a->y.data, (int32_t *)a->indices.data, g);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

template <typename T>
static ds_status maxpool_bwd_launch(ds_context *ctx, const ds_maxpool2d_bwd_args *a, bool gather, const pool_geom &g) {
    ds_cuda_state *cu = ctx->cuda;
    const unsigned threads = 256;
    const int32_t *idx = (const int32_t *)a->indices.data;
    const T *dy = (const T *)a->dy.data;
    T *dx = (T *)a->dx.data;
    if (gather) {
        maxpool_bwd_gather<T><<<ds_cuda_blocks(g.planes * g.H * g.W, threads), threads, 0, cu->stream>>>(idx, dy, dx, g);
    } else {
        DS_CUDA_CHECK(&ctx->err, cudaMemsetAsync(dx, 0, ds_tensor_nbytes(&a->dx), cu->stream));
        maxpool_bwd_plane<T><<<ds_cuda_blocks(g.planes, 64), 64, 0, cu->stream>>>(idx, dy, dx, g.planes, g.H * g.W,
                                                                                  g.P * g.Q);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_maxpool2d_backward(ds_context *ctx, const void *args) {
    const ds_maxpool2d_bwd_args *a = (const ds_maxpool2d_bwd_args *)args;
    const char *op = "maxpool2d_backward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_err *err = &ctx->err;
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dy", &a->dy, 4, &dt));
    DS_TRY(ds_cuda_check(ctx, op, "indices", &a->indices, DS_I32, 4, a->dy.shape));
    const int64_t want[4] = {a->dy.shape[0], a->dy.shape[1], -1, -1};
    DS_TRY(ds_cuda_check(ctx, op, "dx", &a->dx, dt, 4, want));
    pool_geom g = {a->dy.shape[0] * a->dy.shape[1], a->dx.shape[2], a->dx.shape[3], a->dy.shape[2], a->dy.shape[3],
                   0, 0, 0, 0, 0, 0, 0, 0};
    const bool has_geom = a->geom.kernel_h != 0;
    if (has_geom) {
        pool_geom f;
        DS_TRY(resolve_pool(ctx, op, &a->geom, a->dy.shape[0], a->dy.shape[1], g.H, g.W, &f));
        DS_REQUIRE(err, f.P == g.P && f.Q == g.Q, DS_ERR_INVALID_ARG,
                   "%s: geom gives a %lld x %lld output for dx's (%lld, %lld) plane, but dy is %lld x %lld", op,
                   (long long)f.P, (long long)f.Q, (long long)g.H, (long long)g.W, (long long)g.P, (long long)g.Q);
        g = f;
    }
    const int64_t plane = g.H * g.W, n = ds_tensor_numel(&a->indices);
    bool found = false;
    int64_t pos = 0;
    int32_t value = 0;
    DS_TRY(ds_cuda_find_bad_index(ctx, cu, (const int32_t *)a->indices.data, n, plane, false, 0, &found, &pos, &value));
    DS_REQUIRE(err, !found, DS_ERR_INVALID_ARG, "%s: indices[%lld] = %d is outside the (%lld, %lld) input plane", op,
               (long long)pos, (int)value, (long long)g.H, (long long)g.W);
    if (g.planes * plane == 0) return DS_OK;
    const bool gather = cu->opt.kernels == DS_KERNELS_FAST && has_geom;
    if (dt == DS_BF16) return maxpool_bwd_launch<__nv_bfloat16>(ctx, a, gather, g);
    return maxpool_bwd_launch<float>(ctx, a, gather, g);
}

// big: the (N, C, H, W) side, small: the (N, C, P, Q) side; one dtype.
static ds_status check_aavg(ds_context *ctx, const char *op, const char *big_name, const ds_tensor *big,
                            const char *small_name, const ds_tensor *small, ds_dtype *dt) {
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, small_name, small, 4, dt));
    const int64_t want[4] = {small->shape[0], small->shape[1], -1, -1};
    DS_TRY(ds_cuda_check(ctx, op, big_name, big, *dt, 4, want));
    DS_REQUIRE(&ctx->err, small->shape[2] >= 1 && small->shape[3] >= 1 && big->shape[2] >= 1 && big->shape[3] >= 1,
               DS_ERR_INVALID_ARG, "%s: empty spatial size", op);
    return DS_OK;
}

extern "C" ds_status ds_cuda_adaptive_avgpool2d_forward(ds_context *ctx, const void *args) {
    const ds_adaptive_avgpool2d_args *a = (const ds_adaptive_avgpool2d_args *)args;
    ds_dtype dt = DS_F32;
    DS_TRY(check_aavg(ctx, "adaptive_avgpool2d_forward", "x", &a->x, "y", &a->y, &dt));
    const int64_t *s = a->x.shape, P = a->y.shape[2], Q = a->y.shape[3], planes = s[0] * s[1];
    const int64_t total = planes * P * Q;
    if (total == 0) return DS_OK;
    const unsigned threads = 256;
    cudaStream_t st = ctx->cuda->stream;
    if (dt == DS_BF16)
        aavg_fwd<__nv_bfloat16><<<ds_cuda_blocks(total, threads), threads, 0, st>>>(
            (const __nv_bfloat16 *)a->x.data, (__nv_bfloat16 *)a->y.data, planes, s[2], s[3], P, Q);
    else
        aavg_fwd<float><<<ds_cuda_blocks(total, threads), threads, 0, st>>>((const float *)a->x.data,
                                                                          (float *)a->y.data, planes, s[2], s[3], P, Q);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_adaptive_avgpool2d_backward(ds_context *ctx, const void *args) {
    const ds_adaptive_avgpool2d_args *a = (const ds_adaptive_avgpool2d_args *)args;  // x: dy (small), y: dx (big)
    ds_dtype dt = DS_F32;
    DS_TRY(check_aavg(ctx, "adaptive_avgpool2d_backward", "dx (y)", &a->y, "dy (x)", &a->x, &dt));
    const int64_t *s = a->y.shape, P = a->x.shape[2], Q = a->x.shape[3], planes = s[0] * s[1];
    const int64_t total = planes * s[2] * s[3];
    if (total == 0) return DS_OK;
    const unsigned threads = 256;
    cudaStream_t st = ctx->cuda->stream;
    if (dt == DS_BF16)
        aavg_bwd<__nv_bfloat16><<<ds_cuda_blocks(total, threads), threads, 0, st>>>(
            (const __nv_bfloat16 *)a->x.data, (__nv_bfloat16 *)a->y.data, planes, s[2], s[3], P, Q);
    else
        aavg_bwd<float><<<ds_cuda_blocks(total, threads), threads, 0, st>>>((const float *)a->x.data,
                                                                          (float *)a->y.data, planes, s[2], s[3], P, Q);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
