// Group norm on CUDA (torch.nn.GroupNorm, affine, biased variance); the CPU reference is
// kernels/cpu/groupnorm_impl.inc. x, y, dy, dx: (N, C, L...) device, row-major, F32 or BF16 (one
// dtype per call); gamma, beta, mean, rstd, dgamma, dbeta F32 (the CUDA dtype contract: parameters
// and statistics in fp32). Group g of sample n is the contiguous block of channels
// [g C/G, (g+1) C/G) x L (Wav2Vec2's feature encoder: G = C = 512, one group per channel over
// time).
//   forward   one 256-thread block per (n, g) (grid-stride): mean, then sum (x - mean)^2, both in
//             double with fixed-order block sums (two passes, as the CPU), rstd = 1/sqrt(var + eps);
//             y = x (rstd gamma) + (beta - mean rstd gamma) per channel, in double, rounded once.
//   backward  (1) one block per (n, g): mean(h) and mean(h xhat) with h = dy gamma, in double;
//             dx = rstd (h - mean(h) - xhat mean(h xhat)).
//             (2) one block per channel: dgamma (+)= sum_{n,l} dy xhat, dbeta (+)= sum_{n,l} dy,
//             samples in order, each sample's L positions a fixed-order block sum.
// No atomics; every sum's order depends only on the shape: identical bits every run. One
// variant (block per group); the rows are long (L = 32,000 frames for 10 s of audio), so a block
// per group already reads coalesced and fills the GPU with B x 512 blocks.
#include <math.h>

#include "block_reduce.cuh"
#include "cuda_state.cuh"
#include "op_checks.cuh"

extern "C" {
#include "cuda_ops.h"
}

enum { GN_BLOCK = 256 };

template <typename T>
__global__ void __launch_bounds__(GN_BLOCK)
    groupnorm_fwd_kernel(const T *x, const float *gamma, const float *beta, T *y, float *mean, float *rstd, int64_t n,
                         int64_t c, int64_t l, int64_t groups, double eps) {
    __shared__ double sh[33];
    const int64_t cpg = c / groups, m = cpg * l;
    for (int64_t ng = blockIdx.x; ng < n * groups; ng += gridDim.x) {
        const T *xg = x + ng * m;
        T *yg = y + ng * m;
        double s = 0.0;
        for (int64_t i = threadIdx.x; i < m; i += blockDim.x) s += (double)ds_ld(xg, i);
        const double mu = ds_block_sum(s, sh) / (double)m;
        double sq = 0.0;
        for (int64_t i = threadIdx.x; i < m; i += blockDim.x) {
            const double d = (double)ds_ld(xg, i) - mu;
            sq = fma(d, d, sq);
        }
        const double rs = 1.0 / sqrt(ds_block_sum(sq, sh) / (double)m + eps);
        const int64_t c0 = (ng % groups) * cpg;
        for (int64_t i = threadIdx.x; i < m; i += blockDim.x) {
            const int64_t ch = c0 + i / l;
            const double sc = rs * (double)gamma[ch], shift = (double)beta[ch] - mu * sc;
            ds_st(yg, i, (float)((double)ds_ld(xg, i) * sc + shift));
        }
        if (threadIdx.x == 0) {
            mean[ng] = (float)mu;
            rstd[ng] = (float)rs;
        }
    }
}

template <typename T>
__global__ void __launch_bounds__(GN_BLOCK)
    groupnorm_bwd_dx_kernel(const T *x, const float *gamma, const float *mean, const float *rstd, const T *dy, T *dx,
                            int64_t n, int64_t c, int64_t l, int64_t groups) {
    __shared__ double sh[33];
    const int64_t cpg = c / groups, m = cpg * l;
    for (int64_t ng = blockIdx.x; ng < n * groups; ng += gridDim.x) {
        const T *xg = x + ng * m, *dyg = dy + ng * m;
        T *dxg = dx + ng * m;
        const double mu = mean[ng], rs = rstd[ng];
        const int64_t c0 = (ng % groups) * cpg;
        double sh_h = 0.0, sh_hx = 0.0;
        for (int64_t i = threadIdx.x; i < m; i += blockDim.x) {
            const double h = (double)ds_ld(dyg, i) * (double)gamma[c0 + i / l];
            sh_h += h;
            sh_hx += h * (((double)ds_ld(xg, i) - mu) * rs);
        }
        const double mean_h = ds_block_sum(sh_h, sh) / (double)m;
        const double mean_hx = ds_block_sum(sh_hx, sh) / (double)m;
        for (int64_t i = threadIdx.x; i < m; i += blockDim.x) {
            const double xhat = ((double)ds_ld(xg, i) - mu) * rs;
            const double h = (double)ds_ld(dyg, i) * (double)gamma[c0 + i / l];
            ds_st(dxg, i, (float)(rs * (h - mean_h - xhat * mean_hx)));
        }
    }
}

template <typename T>
__global__ void __launch_bounds__(GN_BLOCK)
    groupnorm_bwd_params_kernel(const T *x, const float *mean, const float *rstd, const T *dy, float *dgamma,
                                float *dbeta, int64_t n, int64_t c, int64_t l, int64_t groups, bool accumulate) {
    __shared__ double sh[33];
    const int64_t cpg = c / groups;
    for (int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
        const int64_t g = ch / cpg;
        double acc_g = 0.0, acc_b = 0.0;  // thread 0's totals, samples added in order
        for (int64_t s = 0; s < n; s++) {
            const T *xr = x + (s * c + ch) * l, *dyr = dy + (s * c + ch) * l;
            const double mu = mean[s * groups + g], rs = rstd[s * groups + g];
            double pg = 0.0, pb = 0.0;
            for (int64_t i = threadIdx.x; i < l; i += blockDim.x) {
                const double d = (double)ds_ld(dyr, i);
                pg += d * (((double)ds_ld(xr, i) - mu) * rs);
                pb += d;
            }
            acc_g += ds_block_sum(pg, sh);
            acc_b += ds_block_sum(pb, sh);
        }
        if (threadIdx.x == 0) {
            dgamma[ch] = (float)((accumulate ? (double)dgamma[ch] : 0.0) + acc_g);
            dbeta[ch] = (float)((accumulate ? (double)dbeta[ch] : 0.0) + acc_b);
        }
    }
}

// x (N, C, trailing...) -> N, C, L; checks groups.
static ds_status gn_shape(ds_context *ctx, const char *op, const ds_tensor *x, int groups, int64_t *n, int64_t *c,
                          int64_t *l) {
    DS_REQUIRE(&ctx->err, x->ndim >= 2, DS_ERR_INVALID_ARG, "%s: x must be (N, C, ...), got %d dims", op, x->ndim);
    *n = x->shape[0], *c = x->shape[1], *l = 1;
    for (int i = 2; i < x->ndim; i++) *l *= x->shape[i];
    DS_REQUIRE(&ctx->err, groups >= 1 && *c % groups == 0, DS_ERR_INVALID_ARG,
               "%s: groups = %d must be >= 1 and divide the %lld channels", op, groups, (long long)*c);
    return DS_OK;
}

extern "C" ds_status ds_cuda_groupnorm_forward(ds_context *ctx, const void *args) {
    const ds_groupnorm_fwd_args *a = (const ds_groupnorm_fwd_args *)args;
    const char *op = "groupnorm_forward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, -1, &dt));
    int64_t n = 0, c = 0, l = 0;
    DS_TRY(gn_shape(ctx, op, &a->x, a->groups, &n, &c, &l));
    const int64_t cs[1] = {c}, ng[2] = {n, a->groups};
    DS_TRY(ds_cuda_check(ctx, op, "gamma", &a->gamma, DS_F32, 1, cs));
    DS_TRY(ds_cuda_check(ctx, op, "beta", &a->beta, DS_F32, 1, cs));
    DS_TRY(ds_cuda_check(ctx, op, "y", &a->y, dt, a->x.ndim, a->x.shape));
    DS_TRY(ds_cuda_check(ctx, op, "mean", &a->mean, DS_F32, 2, ng));
    DS_TRY(ds_cuda_check(ctx, op, "rstd", &a->rstd, DS_F32, 2, ng));
    DS_REQUIRE(&ctx->err, a->eps > 0 && isfinite(a->eps), DS_ERR_INVALID_ARG, "%s: eps must be positive, got %g", op,
               a->eps);
    DS_REQUIRE(&ctx->err, l > 0, DS_ERR_INVALID_ARG, "%s: x: the normalised extent is empty", op);
    if (n == 0) return DS_OK;
    const unsigned blocks = ds_cuda_grid(n * a->groups, 1);
    const float *gm = (const float *)a->gamma.data, *bt = (const float *)a->beta.data;
    float *mu = (float *)a->mean.data, *rs = (float *)a->rstd.data;
    if (dt == DS_F32)
        groupnorm_fwd_kernel<float><<<blocks, GN_BLOCK, 0, s->stream>>>((const float *)a->x.data, gm, bt,
                                                                       (float *)a->y.data, mu, rs, n, c, l, a->groups,
                                                                       a->eps);
    else
        groupnorm_fwd_kernel<__nv_bfloat16><<<blocks, GN_BLOCK, 0, s->stream>>>(
            (const __nv_bfloat16 *)a->x.data, gm, bt, (__nv_bfloat16 *)a->y.data, mu, rs, n, c, l, a->groups, a->eps);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

template <typename T>
static ds_status gn_backward(ds_context *ctx, ds_cuda_state *s, const ds_groupnorm_bwd_args *a, int64_t n, int64_t c,
                             int64_t l) {
    const T *x = (const T *)a->x.data, *dy = (const T *)a->dy.data;
    const float *mu = (const float *)a->mean.data, *rs = (const float *)a->rstd.data;
    groupnorm_bwd_dx_kernel<T><<<ds_cuda_grid(n * a->groups, 1), GN_BLOCK, 0, s->stream>>>(
        x, (const float *)a->gamma.data, mu, rs, dy, (T *)a->dx.data, n, c, l, a->groups);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    groupnorm_bwd_params_kernel<T><<<ds_cuda_grid(c, 1), GN_BLOCK, 0, s->stream>>>(
        x, mu, rs, dy, (float *)a->dgamma.data, (float *)a->dbeta.data, n, c, l, a->groups, a->accumulate);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_groupnorm_backward(ds_context *ctx, const void *args) {
    const ds_groupnorm_bwd_args *a = (const ds_groupnorm_bwd_args *)args;
    const char *op = "groupnorm_backward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dy", &a->dy, -1, &dt));
    int64_t n = 0, c = 0, l = 0;
    DS_TRY(gn_shape(ctx, op, &a->dy, a->groups, &n, &c, &l));
    const int64_t cs[1] = {c}, ng[2] = {n, a->groups};
    DS_TRY(ds_cuda_check(ctx, op, "x", &a->x, dt, a->dy.ndim, a->dy.shape));
    DS_TRY(ds_cuda_check(ctx, op, "dx", &a->dx, dt, a->dy.ndim, a->dy.shape));
    DS_TRY(ds_cuda_check(ctx, op, "gamma", &a->gamma, DS_F32, 1, cs));
    DS_TRY(ds_cuda_check(ctx, op, "mean", &a->mean, DS_F32, 2, ng));
    DS_TRY(ds_cuda_check(ctx, op, "rstd", &a->rstd, DS_F32, 2, ng));
    DS_TRY(ds_cuda_check(ctx, op, "dgamma", &a->dgamma, DS_F32, 1, cs));
    DS_TRY(ds_cuda_check(ctx, op, "dbeta", &a->dbeta, DS_F32, 1, cs));
    if (c == 0 || l == 0) return DS_OK;
    if (dt == DS_F32) return gn_backward<float>(ctx, s, a, n, c, l);
    return gn_backward<__nv_bfloat16>(ctx, s, a, n, c, l);
}
