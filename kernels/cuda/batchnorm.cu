// Batch normalisation on CUDA, split as the op API splits it for SyncBatchNorm (kernels/ops.h):
// bn_stats, bn_finalize, bn_apply, bn_backward_reduce, bn_backward_apply, plus the fused
// apply + residual add + ReLU of kernels/cuda_fused.h. The CPU reference is
// kernels/cpu/batchnorm_impl.inc; the formulas are the same, term by term.
//
// Dtypes on CUDA: x, y, dy, dx F32 or BF16 (one per call, fp32 math, rounded once on store);
// mean, rstd, gamma, beta, dgamma, dbeta, running_mean, running_var F32 (statistics and parameters
// are fp32 whatever the activations are); the statistics buffers stats/sums (2C + 1) F64;
// num_batches_tracked (1) I64.
//
// Reductions (bn_stats, bn_backward_reduce) are double sums in a fixed order (channel_sums.cuh):
// the same bits every run, no atomics. Their order differs from the CPU's (4 lanes per channel),
// which changes the double sums by ~1e-16 relative.
// Elementwise passes (apply, backward apply): PLAIN one thread per element; FAST 16-byte vectors
// (4 F32 / 8 BF16) when HW is a multiple of the vector width (a vector never straddles two
// channels) and every pointer is 16-byte aligned, otherwise PLAIN's kernel. Products and sums are
// written with __fmul_rn / __fadd_rn so that nvcc does not contract them into FMAs: the F32
// results round exactly as the CPU's.
#include <math.h>

#include "channel_sums.cuh"
#include "cuda_state.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "../cuda_fused.h"
#include "cuda_ops.h"
}

// ---- statistics ----

template <typename T>
struct stats_term {
    const T *x;  // (N, C, HW) device
    int64_t C, HW;
    __device__ void operator()(int64_t n, int64_t c, int64_t i, double (&t)[2]) const {
        const double v = ds_ld(x, (n * C + c) * HW + i);
        t[0] = v;
        t[1] = v * v;
    }
};

struct stats_finish {
    double *stats;  // (2C + 1) device
    int64_t C;
    double count;
    __device__ void operator()(int64_t c, const double (&s)[2]) const {
        stats[c] = s[0];
        stats[C + c] = s[1];
        if (c == 0) stats[2 * C] = count;
    }
};

// ---- finalize: one thread per channel, the CPU's formulas in double ----

// mean, rstd (C) F32 device; stats (2C + 1) F64 device or NULL (use_running); running stats F32
// device or NULL; nbt (1) I64 device or NULL.
__global__ void bn_finalize_kernel(const double *stats, float *mean, float *rstd, float *run_mean, float *run_var,
                                   int64_t *nbt, int64_t C, double eps, double momentum, bool use_running) {
    const int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    if (use_running) {
        mean[c] = run_mean[c];
        rstd[c] = (float)(1.0 / sqrt((double)run_var[c] + eps));
        return;
    }
    const double n = stats[2 * C];
    if (!(n > 1)) {  // the host checks this unless trusted (kernels/gpu.h): make it visible anyway
        mean[c] = rstd[c] = __int_as_float(0x7fc00000);
        return;
    }
    const double m = stats[c] / n;
    double var = stats[C + c] / n - m * m;
    if (var < 0) var = 0;  // rounding of E[x^2] - m^2 for a constant channel
    mean[c] = (float)m;
    rstd[c] = (float)(1.0 / sqrt(var + eps));
    if (run_mean != NULL) run_mean[c] = (float)((1.0 - momentum) * run_mean[c] + momentum * m);
    if (run_var != NULL) run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * var * n / (n - 1.0));
    if (c == 0 && nbt != NULL) nbt[0] += 1;
}

// ---- apply (+ residual, + ReLU) ----

// y = (x - mean) (rstd gamma) + beta [+ r] [relu], in the CPU's rounding order; NaN survives the ReLU
// (as relu_forward).
static __device__ __forceinline__ float bn_apply_one(float x, float m, float a, float b, float r, bool has_r,
                                                     bool relu) {
    float v = __fadd_rn(__fmul_rn(__fsub_rn(x, m), a), b);
    if (has_r) v = __fadd_rn(v, r);
    if (relu && !(v > 0.0f) && v == v) v = 0.0f;
    return v;
}

struct apply_params {
    const float *mean, *rstd, *gamma, *beta;  // (C) device
    int64_t C, HW, total;                     // total = N * C * HW
    bool has_r, relu;
};

// PLAIN: one element per step. x, y, r: (N, C, HW) device; y may be x (each element is read and
// written by the same thread); r may be NULL.
template <typename T>
__global__ void bn_apply_plain(const T *x, const T *r, T *y, apply_params p) {
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < p.total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = (e / p.HW) % p.C;
        const float a = __fmul_rn(p.rstd[c], p.gamma[c]);
        ds_st(y, e, bn_apply_one(ds_ld(x, e), p.mean[c], a, p.beta[c], p.has_r ? ds_ld(r, e) : 0.0f, p.has_r, p.relu));
    }
}

// FAST: one 16-byte vector per step (HW % W == 0, so the vector's channel is that of its first element).
template <typename T>
__global__ void bn_apply_fast(const T *x, const T *r, T *y, apply_params p) {
    constexpr int W = ds_vec16<T>();
    const int64_t nv = p.total / W;
    for (int64_t v = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; v < nv; v += (int64_t)gridDim.x * blockDim.x) {
        const int64_t e = v * W, c = (e / p.HW) % p.C;
        const float m = p.mean[c], a = __fmul_rn(p.rstd[c], p.gamma[c]), b = p.beta[c];
        float xv[W], rv[W];
        ds_ld_vec<T, W>(x + e, xv);
        if (p.has_r) ds_ld_vec<T, W>(r + e, rv);
#pragma unroll
        for (int k = 0; k < W; k++) xv[k] = bn_apply_one(xv[k], m, a, b, p.has_r ? rv[k] : 0.0f, p.has_r, p.relu);
        ds_st_vec<T, W>(y + e, xv);
    }
}

// ---- backward reduce ----

template <typename T>
struct bwd_term {
    const T *x, *dy;     // (N, C, HW) device
    const float *mean;   // (C) device
    int64_t C, HW;
    __device__ void operator()(int64_t n, int64_t c, int64_t i, double (&t)[2]) const {
        const int64_t e = (n * C + c) * HW + i;
        const double g = ds_ld(dy, e);
        t[0] = g;
        t[1] = g * ((double)ds_ld(x, e) - (double)mean[c]);
    }
};

struct bwd_finish {
    const float *rstd;       // (C) device
    double *sums;            // (2C + 1) device or NULL
    float *dgamma, *dbeta;   // (C) device or NULL
    int64_t C;
    double count;
    bool accumulate;
    __device__ void operator()(int64_t c, const double (&s)[2]) const {
        const double sum_dy = s[0], sum_dy_xhat = s[1] * (double)rstd[c];
        if (sums != NULL) {
            sums[c] = sum_dy;
            sums[C + c] = sum_dy_xhat;
            if (c == 0) sums[2 * C] = count;
        }
        if (dgamma != NULL) dgamma[c] = (float)((accumulate ? (double)dgamma[c] : 0.0) + sum_dy_xhat);
        if (dbeta != NULL) dbeta[c] = (float)((accumulate ? (double)dbeta[c] : 0.0) + sum_dy);
    }
};

// ---- backward apply ----

struct bwd_apply_params {
    const float *mean, *rstd, *gamma;  // (C) device
    const double *sums;                // (2C + 1) device or NULL (eval: dx = dy gamma rstd)
    int64_t C, HW, total;
};

// dx for one element, the CPU's expression: a (dy - mdy - (x - m) k) with a = gamma rstd,
// mdy = (float)(sum dy / n), k = (float)(rstd sum(dy xhat) / n).
static __device__ __forceinline__ float bn_bwd_one(float x, float dy, float m, float a, float mdy, float k,
                                                   bool sums) {
    if (!sums) return __fmul_rn(dy, a);
    return __fmul_rn(a, __fsub_rn(__fsub_rn(dy, mdy), __fmul_rn(__fsub_rn(x, m), k)));
}

struct bwd_coef {
    float m, a, mdy, k;
};

static __device__ __forceinline__ bwd_coef bn_bwd_coef(const bwd_apply_params &p, int64_t c) {
    bwd_coef q;
    q.a = __fmul_rn(p.gamma[c], p.rstd[c]);
    q.m = p.mean[c];
    q.mdy = q.k = 0.0f;
    if (p.sums != NULL) {
        const double n = p.sums[2 * p.C];
        q.mdy = (float)(p.sums[c] / n);
        q.k = (float)((double)p.rstd[c] * p.sums[p.C + c] / n);
    }
    return q;
}

// PLAIN. x may be NULL without sums; dx may be dy.
template <typename T>
__global__ void bn_bwd_apply_plain(const T *x, const T *dy, T *dx, bwd_apply_params p) {
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < p.total; e += (int64_t)gridDim.x * blockDim.x) {
        const bwd_coef q = bn_bwd_coef(p, (e / p.HW) % p.C);
        const float xv = p.sums != NULL ? ds_ld(x, e) : 0.0f;
        ds_st(dx, e, bn_bwd_one(xv, ds_ld(dy, e), q.m, q.a, q.mdy, q.k, p.sums != NULL));
    }
}

template <typename T>
__global__ void bn_bwd_apply_fast(const T *x, const T *dy, T *dx, bwd_apply_params p) {
    constexpr int W = ds_vec16<T>();
    const int64_t nv = p.total / W;
    for (int64_t v = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; v < nv; v += (int64_t)gridDim.x * blockDim.x) {
        const int64_t e = v * W;
        const bwd_coef q = bn_bwd_coef(p, (e / p.HW) % p.C);
        float xv[W], gv[W];
        ds_ld_vec<T, W>(dy + e, gv);
        if (p.sums != NULL) ds_ld_vec<T, W>(x + e, xv);
#pragma unroll
        for (int k = 0; k < W; k++)
            gv[k] = bn_bwd_one(p.sums != NULL ? xv[k] : 0.0f, gv[k], q.m, q.a, q.mdy, q.k, p.sums != NULL);
        ds_st_vec<T, W>(dx + e, gv);
    }
}

// ---- host side ----

// x (N, C, H, W) F32 or BF16 on the context's device; sets dt and the sizes.
static ds_status check_act4(ds_context *ctx, const char *op, const char *name, const ds_tensor *x, ds_dtype *dt,
                            int64_t *N, int64_t *C, int64_t *HW) {
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, name, x, 4, dt));
    *N = x->shape[0], *C = x->shape[1], *HW = x->shape[2] * x->shape[3];
    DS_REQUIRE(&ctx->err, *C >= 1, DS_ERR_INVALID_ARG, "%s: %s has no channels", op, name);
    return DS_OK;
}

static ds_status check_vec(ds_context *ctx, const char *op, const char *name, const ds_tensor *t, ds_dtype dt,
                           int64_t n) {
    const int64_t want[1] = {n};
    return ds_cuda_check(ctx, op, name, t, dt, 1, want);
}

// Reads the per-channel value count stats[2C] (device) back, unless trusted_indices says the caller
// checked it: the op contract makes a count <= 1 in training an error.
static ds_status check_count(ds_context *ctx, const char *op, const char *name, const ds_tensor *stats, int64_t C,
                             double at_least_above) {
    if (ctx->cuda->opt.trusted_indices) return DS_OK;
    double n = 0;
    DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(&n, (const double *)stats->data + 2 * C, sizeof n, cudaMemcpyDeviceToHost,
                                             ctx->cuda->stream));
    DS_CUDA_CHECK(&ctx->err, cudaStreamSynchronize(ctx->cuda->stream));
    if (at_least_above > 0)
        DS_REQUIRE(&ctx->err, n > at_least_above, DS_ERR_INVALID_ARG,
                   "%s: expected more than 1 value per channel when training, got %g (batch statistics of a single "
                   "value; use a batch of 2 or more, or eval mode)",
                   op, n);
    else
        DS_REQUIRE(&ctx->err, n > 0, DS_ERR_INVALID_ARG, "%s: %s hold a count of %g values per channel", op, name, n);
    return DS_OK;
}

extern "C" ds_status ds_cuda_bn_stats(ds_context *ctx, const void *args) {
    const ds_bn_stats_args *a = (const ds_bn_stats_args *)args;
    const char *op = "bn_stats";
    ds_dtype dt = DS_F32;
    int64_t N = 0, C = 0, HW = 0;
    DS_TRY(check_act4(ctx, op, "x", &a->x, &dt, &N, &C, &HW));
    DS_TRY(check_vec(ctx, op, "stats", &a->stats, DS_F64, 2 * C + 1));
    const stats_finish fin = {(double *)a->stats.data, C, (double)N * (double)HW};
    if (dt == DS_F32) return ds_channel_sums<2>(ctx, stats_term<float>{(const float *)a->x.data, C, HW}, fin, N, C, HW);
    return ds_channel_sums<2>(ctx, stats_term<__nv_bfloat16>{(const __nv_bfloat16 *)a->x.data, C, HW}, fin, N, C, HW);
}

extern "C" ds_status ds_cuda_bn_finalize(ds_context *ctx, const void *args) {
    const ds_bn_finalize_args *a = (const ds_bn_finalize_args *)args;
    const char *op = "bn_finalize";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_err *err = &ctx->err;
    DS_TRY(ds_cuda_check(ctx, op, "mean", &a->mean, DS_F32, 1, NULL));
    const int64_t C = a->mean.shape[0];
    DS_TRY(check_vec(ctx, op, "rstd", &a->rstd, DS_F32, C));
    DS_REQUIRE(err, a->eps > 0 && isfinite(a->eps), DS_ERR_INVALID_ARG, "%s: eps = %g must be > 0", op, a->eps);
    const bool has_rm = ds_cuda_present(&a->running_mean), has_rv = ds_cuda_present(&a->running_var);
    if (has_rm) DS_TRY(check_vec(ctx, op, "running_mean", &a->running_mean, DS_F32, C));
    if (has_rv) DS_TRY(check_vec(ctx, op, "running_var", &a->running_var, DS_F32, C));
    const bool has_nbt = ds_cuda_present(&a->num_batches_tracked);
    if (has_nbt)
        DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "num_batches_tracked", &a->num_batches_tracked, DS_I64,
                                   1));
    if (a->use_running) {
        DS_REQUIRE(err, has_rm && has_rv, DS_ERR_INVALID_ARG, "%s: use_running needs running_mean and running_var", op);
    } else {
        DS_TRY(check_vec(ctx, op, "stats", &a->stats, DS_F64, 2 * C + 1));
        DS_REQUIRE(err, a->momentum >= 0 && a->momentum <= 1, DS_ERR_INVALID_ARG,
                   "%s: momentum = %g must lie in [0, 1]", op, a->momentum);
        DS_TRY(check_count(ctx, op, "stats", &a->stats, C, 1.0));
    }
    if (C == 0) return DS_OK;
    bn_finalize_kernel<<<(unsigned)((C + 255) / 256), 256, 0, cu->stream>>>(
        a->use_running ? NULL : (const double *)a->stats.data, (float *)a->mean.data, (float *)a->rstd.data,
        has_rm ? (float *)a->running_mean.data : NULL, has_rv ? (float *)a->running_var.data : NULL,
        has_nbt && !a->use_running ? (int64_t *)a->num_batches_tracked.data : NULL, C, a->eps, a->momentum,
        a->use_running);
    DS_CUDA_CHECK_LAUNCH(err);
    return DS_OK;
}

// Shared by bn_apply and the fused apply: checks, then one launch. r may be absent.
static ds_status apply(ds_context *ctx, const char *op, const ds_bn_apply_args *a, const ds_tensor *r, bool relu) {
    ds_dtype dt = DS_F32;
    int64_t N = 0, C = 0, HW = 0;
    DS_TRY(check_act4(ctx, op, "x", &a->x, &dt, &N, &C, &HW));
    DS_TRY(check_vec(ctx, op, "mean", &a->mean, DS_F32, C));
    DS_TRY(check_vec(ctx, op, "rstd", &a->rstd, DS_F32, C));
    DS_TRY(check_vec(ctx, op, "gamma", &a->gamma, DS_F32, C));
    DS_TRY(check_vec(ctx, op, "beta", &a->beta, DS_F32, C));
    DS_TRY(ds_cuda_check(ctx, op, "y", &a->y, dt, 4, a->x.shape));
    const bool has_r = ds_cuda_present(r);
    if (has_r) DS_TRY(ds_cuda_check(ctx, op, "residual", r, dt, 4, a->x.shape));
    const apply_params p = {(const float *)a->mean.data, (const float *)a->rstd.data, (const float *)a->gamma.data,
                            (const float *)a->beta.data, C, HW, N * C * HW, has_r, relu};
    if (p.total == 0) return DS_OK;
    ds_cuda_state *cu = ctx->cuda;
    const unsigned threads = 256;
    const int vec = dt == DS_BF16 ? ds_vec16<__nv_bfloat16>() : ds_vec16<float>();
    const bool fast = cu->opt.kernels == DS_KERNELS_FAST && HW % vec == 0 && ds_cuda_aligned(a->x.data, 16) &&
                      ds_cuda_aligned(a->y.data, 16) && (!has_r || ds_cuda_aligned(r->data, 16));
    const void *rp = has_r ? r->data : NULL;
    if (dt == DS_BF16) {
        typedef __nv_bfloat16 T;
        if (fast)
            bn_apply_fast<T><<<ds_cuda_blocks(p.total / vec, threads), threads, 0, cu->stream>>>(
                (const T *)a->x.data, (const T *)rp, (T *)a->y.data, p);
        else
            bn_apply_plain<T><<<ds_cuda_blocks(p.total, threads), threads, 0, cu->stream>>>(
                (const T *)a->x.data, (const T *)rp, (T *)a->y.data, p);
    } else {
        if (fast)
            bn_apply_fast<float><<<ds_cuda_blocks(p.total / vec, threads), threads, 0, cu->stream>>>(
                (const float *)a->x.data, (const float *)rp, (float *)a->y.data, p);
        else
            bn_apply_plain<float><<<ds_cuda_blocks(p.total, threads), threads, 0, cu->stream>>>(
                (const float *)a->x.data, (const float *)rp, (float *)a->y.data, p);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_bn_apply(ds_context *ctx, const void *args) {
    return apply(ctx, "bn_apply", (const ds_bn_apply_args *)args, NULL, false);
}

extern "C" ds_status ds_cuda_bn_apply_act(ds_context *ctx, const ds_bn_apply_args *a, ds_tensor residual, bool relu) {
    return apply(ctx, "bn_apply_act", a, &residual, relu);
}

extern "C" ds_status ds_cuda_bn_backward_reduce(ds_context *ctx, const void *args) {
    const ds_bn_bwd_reduce_args *a = (const ds_bn_bwd_reduce_args *)args;
    const char *op = "bn_backward_reduce";
    ds_err *err = &ctx->err;
    ds_dtype dt = DS_F32;
    int64_t N = 0, C = 0, HW = 0;
    DS_TRY(check_act4(ctx, op, "x", &a->x, &dt, &N, &C, &HW));
    DS_TRY(check_vec(ctx, op, "mean", &a->mean, DS_F32, C));
    DS_TRY(check_vec(ctx, op, "rstd", &a->rstd, DS_F32, C));
    DS_TRY(ds_cuda_check(ctx, op, "dy", &a->dy, dt, 4, a->x.shape));
    const bool has_sums = ds_cuda_present(&a->sums), has_dg = ds_cuda_present(&a->dgamma);
    DS_REQUIRE(err, has_dg == ds_cuda_present(&a->dbeta), DS_ERR_INVALID_ARG,
               "%s: dgamma and dbeta must be both present or both absent", op);
    if (has_sums) DS_TRY(check_vec(ctx, op, "sums", &a->sums, DS_F64, 2 * C + 1));
    if (has_dg) {
        DS_TRY(check_vec(ctx, op, "dgamma", &a->dgamma, DS_F32, C));
        DS_TRY(check_vec(ctx, op, "dbeta", &a->dbeta, DS_F32, C));
    }
    if (!has_sums && !has_dg) return DS_OK;
    const bwd_finish fin = {(const float *)a->rstd.data, has_sums ? (double *)a->sums.data : NULL,
                            has_dg ? (float *)a->dgamma.data : NULL, has_dg ? (float *)a->dbeta.data : NULL, C,
                            (double)N * (double)HW, a->accumulate};
    const float *mean = (const float *)a->mean.data;
    if (dt == DS_F32)
        return ds_channel_sums<2>(ctx, bwd_term<float>{(const float *)a->x.data, (const float *)a->dy.data, mean, C, HW},
                                  fin, N, C, HW);
    typedef __nv_bfloat16 T;
    return ds_channel_sums<2>(ctx, bwd_term<T>{(const T *)a->x.data, (const T *)a->dy.data, mean, C, HW}, fin, N, C, HW);
}

extern "C" ds_status ds_cuda_bn_backward_apply(ds_context *ctx, const void *args) {
    const ds_bn_bwd_apply_args *a = (const ds_bn_bwd_apply_args *)args;
    const char *op = "bn_backward_apply";
    ds_dtype dt = DS_F32;
    int64_t N = 0, C = 0, HW = 0;
    DS_TRY(check_act4(ctx, op, "dy", &a->dy, &dt, &N, &C, &HW));
    DS_TRY(check_vec(ctx, op, "mean", &a->mean, DS_F32, C));
    DS_TRY(check_vec(ctx, op, "rstd", &a->rstd, DS_F32, C));
    DS_TRY(check_vec(ctx, op, "gamma", &a->gamma, DS_F32, C));
    DS_TRY(ds_cuda_check(ctx, op, "dx", &a->dx, dt, 4, a->dy.shape));
    const bool has_sums = ds_cuda_present(&a->sums);
    if (has_sums) {
        DS_TRY(ds_cuda_check(ctx, op, "x", &a->x, dt, 4, a->dy.shape));
        DS_TRY(check_vec(ctx, op, "sums", &a->sums, DS_F64, 2 * C + 1));
        DS_TRY(check_count(ctx, op, "sums", &a->sums, C, 0.0));
    }
    const bwd_apply_params p = {(const float *)a->mean.data, (const float *)a->rstd.data, (const float *)a->gamma.data,
                                has_sums ? (const double *)a->sums.data : NULL, C, HW, N * C * HW};
    if (p.total == 0) return DS_OK;
    ds_cuda_state *cu = ctx->cuda;
    const unsigned threads = 256;
    const void *x = has_sums ? a->x.data : NULL;
    const int vec = dt == DS_BF16 ? ds_vec16<__nv_bfloat16>() : ds_vec16<float>();
    const bool fast = cu->opt.kernels == DS_KERNELS_FAST && HW % vec == 0 && ds_cuda_aligned(a->dy.data, 16) &&
                      ds_cuda_aligned(a->dx.data, 16) && (x == NULL || ds_cuda_aligned(x, 16));
    if (dt == DS_BF16) {
        typedef __nv_bfloat16 T;
        if (fast)
            bn_bwd_apply_fast<T><<<ds_cuda_blocks(p.total / vec, threads), threads, 0, cu->stream>>>(
                (const T *)x, (const T *)a->dy.data, (T *)a->dx.data, p);
        else
            bn_bwd_apply_plain<T><<<ds_cuda_blocks(p.total, threads), threads, 0, cu->stream>>>(
                (const T *)x, (const T *)a->dy.data, (T *)a->dx.data, p);
    } else {
        if (fast)
            bn_bwd_apply_fast<float><<<ds_cuda_blocks(p.total / vec, threads), threads, 0, cu->stream>>>(
                (const float *)x, (const float *)a->dy.data, (float *)a->dx.data, p);
        else
            bn_bwd_apply_plain<float><<<ds_cuda_blocks(p.total, threads), threads, 0, cu->stream>>>(
                (const float *)x, (const float *)a->dy.data, (float *)a->dx.data, p);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
