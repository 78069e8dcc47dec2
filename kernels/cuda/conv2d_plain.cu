// The PLAIN convolution (direct loops, CUDA cores, obviously right) and the helpers every
// implementation shares: bias add, bias gradient, bf16 -> F32 weight-gradient accumulation, and
// the dispatch of our own passes (PLAIN, or FAST for BF16 with opt.kernels FAST).
//
// PLAIN: one thread per output element, the reduction in double in index order, rounded once:
//   forward  y[n, k, p, q]  = b[k] + sum_{c, r, s} w[k, c, r, s] x[n, g Cg + c, p sh - ph + r dh, q sw - pw + s dw]
//   dgrad    dx[n, c, h, w] = sum_{ko, r, s} w[g Kg + ko, c', r, s] dy[n, g Kg + ko, p, q] over the (r, s)
//            whose (h + ph - r dh, w + pw - s dw) is (p sh, q sw) inside the output (a gather: no atomics)
//   wgrad    dw[k, c, r, s] (+)= sum_{n, p, q} dy[n, k, p, q] x[n, g Cg + c, p sh - ph + r dh, q sw - pw + s dw]
// F32 or BF16 x/w/dy (one dtype), F32 bias, dw and db. F32 activations always take these kernels,
// under FAST too: the tensor-core path is bf16 (docs/cuda_conv.md; run.conv=cudnn is the fast
// fp32 route). The double sums make PLAIN more exact than the CPU's fp32 GEMMs.
#include "channel_sums.cuh"
#include "conv2d_internal.cuh"

struct plain_geom {
    int64_t N, C, H, W, K, R, S, P, Q, Cg, Kg;
    int sh, sw, ph, pw, dh, dw;
};

static plain_geom geom_of(const ds_conv_problem &p) {
    return plain_geom{p.N, p.C, p.H, p.W, p.K, p.R, p.S, p.P, p.Q, p.Cg, p.Kg, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw};
}

// y (N, K, P, Q) from x (N, C, H, W), w (K, Cg, R, S), b (K) F32 or NULL.
template <typename T>
__global__ void conv_fwd_plain(const T *x, const T *w, const float *b, T *y, plain_geom g) {
    const int64_t total = g.N * g.K * g.P * g.Q;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
        const int64_t q = o % g.Q, p = (o / g.Q) % g.P, k = (o / (g.P * g.Q)) % g.K, n = o / (g.K * g.P * g.Q);
        const int64_t grp = k / g.Kg;
        const T *xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;  // (Cg, H, W)
        const T *wk = w + k * g.Cg * g.R * g.S;                 // (Cg, R, S)
        double acc = b != NULL ? (double)b[k] : 0.0;
        for (int64_t c = 0; c < g.Cg; c++)
            for (int64_t r = 0; r < g.R; r++) {
                const int64_t h = p * g.sh - g.ph + r * g.dh;
                if (h < 0 || h >= g.H) continue;
                for (int64_t s = 0; s < g.S; s++) {
                    const int64_t ww = q * g.sw - g.pw + s * g.dw;
                    if (ww < 0 || ww >= g.W) continue;
                    acc += (double)ds_ld(wk, (c * g.R + r) * g.S + s) * (double)ds_ld(xg, (c * g.H + h) * g.W + ww);
                }
            }
        ds_st(y, o, (float)acc);
    }
}

// dx (N, C, H, W) from w (K, Cg, R, S) and dy (N, K, P, Q).
template <typename T>
__global__ void conv_dgrad_plain(const T *w, const T *dy, T *dx, plain_geom g) {
    const int64_t total = g.N * g.C * g.H * g.W;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t ww = e % g.W, h = (e / g.W) % g.H, c = (e / (g.H * g.W)) % g.C, n = e / (g.C * g.H * g.W);
        const int64_t grp = c / g.Cg, cl = c - grp * g.Cg;
        double acc = 0.0;
        for (int64_t ko = 0; ko < g.Kg; ko++) {
            const int64_t k = grp * g.Kg + ko;
            const T *wk = w + (k * g.Cg + cl) * g.R * g.S;  // (R, S)
            const T *dyk = dy + (n * g.K + k) * g.P * g.Q;   // (P, Q)
            for (int64_t r = 0; r < g.R; r++) {
                const int64_t th = h + g.ph - r * g.dh;
                if (th < 0 || th % g.sh != 0 || th / g.sh >= g.P) continue;
                for (int64_t s = 0; s < g.S; s++) {
                    const int64_t tw = ww + g.pw - s * g.dw;
                    if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.Q) continue;
                    acc += (double)ds_ld(wk, r * g.S + s) * (double)ds_ld(dyk, (th / g.sh) * g.Q + tw / g.sw);
                }
            }
        }
        ds_st(dx, e, (float)acc);
    }
}

// dw (K, Cg, R, S) F32 (+)= from x (N, C, H, W) and dy (N, K, P, Q).
template <typename T>
__global__ void conv_wgrad_plain(const T *x, const T *dy, float *dw, plain_geom g, bool accumulate) {
    const int64_t total = g.K * g.Cg * g.R * g.S;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t s = e % g.S, r = (e / g.S) % g.R, c = (e / (g.R * g.S)) % g.Cg, k = e / (g.Cg * g.R * g.S);
        const int64_t grp = k / g.Kg;
        double acc = 0.0;
        for (int64_t n = 0; n < g.N; n++) {
            const T *dyk = dy + (n * g.K + k) * g.P * g.Q;                  // (P, Q)
            const T *xc = x + (n * g.C + grp * g.Cg + c) * g.H * g.W;         // (H, W)
            for (int64_t p = 0; p < g.P; p++) {
                const int64_t h = p * g.sh - g.ph + r * g.dh;
                if (h < 0 || h >= g.H) continue;
                for (int64_t q = 0; q < g.Q; q++) {
                    const int64_t ww = q * g.sw - g.pw + s * g.dw;
                    if (ww < 0 || ww >= g.W) continue;
                    acc += (double)ds_ld(dyk, p * g.Q + q) * (double)ds_ld(xc, h * g.W + ww);
                }
            }
        }
        dw[e] = (float)((accumulate ? (double)dw[e] : 0.0) + acc);
    }
}

// y (N, K, PQ) += b[k], rounded once.
template <typename T>
__global__ void conv_add_bias(const float *b, T *y, int64_t K, int64_t PQ, int64_t total) {
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x)
        ds_st(y, e, ds_ld(y, e) + b[(e / PQ) % K]);
}

// dw (n) F32 (+)= src (n) BF16.
__global__ void conv_acc_bf16(const __nv_bfloat16 *src, float *dw, int64_t n, bool accumulate) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = __bfloat162float(src[i]);
        dw[i] = accumulate ? dw[i] + v : v;
    }
}

template <typename T>
struct db_term {
    const T *dy;  // (N, K, PQ) device
    int64_t K, PQ;
    __device__ void operator()(int64_t n, int64_t k, int64_t i, double (&t)[1]) const {
        t[0] = ds_ld(dy, (n * K + k) * PQ + i);
    }
};

struct db_finish {
    float *db;  // (K) device
    bool accumulate;
    __device__ void operator()(int64_t k, const double (&s)[1]) const {
        db[k] = (float)((accumulate ? (double)db[k] : 0.0) + s[0]);
    }
};

bool ds_conv_own_is_fast(const ds_context *ctx, const ds_conv_problem &p) {
    return p.dt == DS_BF16 && ctx->cuda->opt.kernels == DS_KERNELS_FAST && ds_conv_fast_fits(p);
}
static bool use_fast(ds_context *ctx, const ds_conv_problem &p) { return ds_conv_own_is_fast(ctx, p); }

static const unsigned kThreads = 256;

ds_status ds_conv_own_forward(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *w, const float *b,
                              void *y, void *ws, size_t ws_bytes) {
    (void)ws, (void)ws_bytes;
    if (use_fast(ctx, p)) return ds_conv_fast_forward(ctx, p, x, w, b, y);
    const int64_t total = p.N * p.K * p.P * p.Q;
    const plain_geom g = geom_of(p);
    cudaStream_t st = ctx->cuda->stream;
    if (p.dt == DS_BF16)
        conv_fwd_plain<__nv_bfloat16><<<ds_cuda_blocks(total, kThreads), kThreads, 0, st>>>(
            (const __nv_bfloat16 *)x, (const __nv_bfloat16 *)w, b, (__nv_bfloat16 *)y, g);
    else
        conv_fwd_plain<float><<<ds_cuda_blocks(total, kThreads), kThreads, 0, st>>>((const float *)x, (const float *)w,
                                                                                   b, (float *)y, g);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

ds_status ds_conv_own_dgrad(ds_context *ctx, const ds_conv_problem &p, const void *w, const void *dy, void *dx) {
    if (use_fast(ctx, p)) return ds_conv_fast_dgrad(ctx, p, w, dy, dx);
    const int64_t total = p.N * p.C * p.H * p.W;
    const plain_geom g = geom_of(p);
    cudaStream_t st = ctx->cuda->stream;
    if (p.dt == DS_BF16)
        conv_dgrad_plain<__nv_bfloat16><<<ds_cuda_blocks(total, kThreads), kThreads, 0, st>>>(
            (const __nv_bfloat16 *)w, (const __nv_bfloat16 *)dy, (__nv_bfloat16 *)dx, g);
    else
        conv_dgrad_plain<float><<<ds_cuda_blocks(total, kThreads), kThreads, 0, st>>>((const float *)w,
                                                                                     (const float *)dy, (float *)dx, g);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

ds_status ds_conv_own_wgrad(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *dy, float *dw,
                            bool accumulate, void *ws, size_t ws_bytes) {
    if (use_fast(ctx, p)) return ds_conv_fast_wgrad(ctx, p, x, dy, dw, accumulate, ws, ws_bytes);
    const int64_t total = p.K * p.Cg * p.R * p.S;
    const plain_geom g = geom_of(p);
    cudaStream_t st = ctx->cuda->stream;
    if (p.dt == DS_BF16)
        conv_wgrad_plain<__nv_bfloat16><<<ds_cuda_blocks(total, kThreads), kThreads, 0, st>>>(
            (const __nv_bfloat16 *)x, (const __nv_bfloat16 *)dy, dw, g, accumulate);
    else
        conv_wgrad_plain<float><<<ds_cuda_blocks(total, kThreads), kThreads, 0, st>>>(
            (const float *)x, (const float *)dy, dw, g, accumulate);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

ds_status ds_conv_bias_grad(ds_context *ctx, const ds_conv_problem &p, const void *dy, float *db, bool accumulate) {
    const int64_t PQ = p.P * p.Q;
    const db_finish fin = {db, accumulate};
    if (p.dt == DS_BF16)
        return ds_channel_sums<1>(ctx, db_term<__nv_bfloat16>{(const __nv_bfloat16 *)dy, p.K, PQ}, fin, p.N, p.K, PQ);
    return ds_channel_sums<1>(ctx, db_term<float>{(const float *)dy, p.K, PQ}, fin, p.N, p.K, PQ);
}

ds_status ds_conv_add_bias(ds_context *ctx, const ds_conv_problem &p, const float *b, void *y) {
    const int64_t PQ = p.P * p.Q, total = p.N * p.K * PQ;
    cudaStream_t st = ctx->cuda->stream;
    if (p.dt == DS_BF16)
        conv_add_bias<__nv_bfloat16><<<ds_cuda_blocks(total, kThreads), kThreads, 0, st>>>(b, (__nv_bfloat16 *)y, p.K,
                                                                                          PQ, total);
    else
        conv_add_bias<float><<<ds_cuda_blocks(total, kThreads), kThreads, 0, st>>>(b, (float *)y, p.K, PQ, total);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

ds_status ds_conv_accumulate_bf16(ds_context *ctx, const void *src, float *dw, int64_t n, bool accumulate) {
    conv_acc_bf16<<<ds_cuda_blocks(n, kThreads), kThreads, 0, ctx->cuda->stream>>>((const __nv_bfloat16 *)src, dw, n,
                                                                                   accumulate);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
