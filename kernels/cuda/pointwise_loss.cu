// Pointwise losses with mean reduction on CUDA: BCE with logits (torch.nn.BCEWithLogitsLoss) and
// MSE (torch.nn.MSELoss), forward and backward; the CPU reference is kernels/cpu/pointwise_loss*.
// x, target (and dx) hold n elements of one dtype, F32 or BF16; loss is (1) F32.
// Like the CPU, each element's term and gradient are computed in double (the stable BCE form
// (1 - t) x - log_sigmoid(x) and the two-sided sigmoid), so the only differences from the CPU
// are the order of the double sum and the last-ulp behaviour of exp/log1p.
// Forward, deterministic: a grid whose size depends on n only (at most 1024 blocks of 256
// threads) writes one double partial sum per block, reduced as a fixed tree; one more block adds
// the partials in a fixed order and writes sum / n (NaN when n == 0, as torch). The partials live
// in ctx->cuda->scratch (8 KiB).
//   PLAIN: one element per thread per step. FAST: 4 elements per thread per step with one
//   16-byte (F32) or 8-byte (BF16) access when the pointers are aligned.
// Backward: dx_i = dloss (sigmoid(x_i) - t_i) / n (BCE) or dloss 2 (x_i - t_i) / n (MSE), one
// thread per element (PLAIN) or per 4 elements with vector accesses (FAST).
#include "block_reduce.cuh"
#include "cuda_state.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "cuda_ops.h"
}

#define PL_BLOCK 256
#define PL_MAX_BLOCKS 1024

enum loss_kind { LOSS_BCE = 0, LOSS_MSE = 1 };

// One term of the sum, in double (the CPU's bce_logits_term and MSE term).
template <int KIND>
static __device__ __forceinline__ double loss_term(double x, double t) {
    if (KIND == LOSS_BCE) {
        const double log_sigmoid = (x < 0 ? x : 0) - log1p(exp(-fabs(x)));
        return (1 - t) * x - log_sigmoid;
    }
    const double d = x - t;
    return d * d;
}

// The gradient before scaling: sigmoid(x) - t (BCE, exp of a non-positive argument only) or x - t.
template <int KIND>
static __device__ __forceinline__ double loss_grad(double x, double t) {
    if (KIND == LOSS_BCE) {
        double sig;
        if (x >= 0) {
            sig = 1 / (1 + exp(-x));
        } else {
            const double e = exp(x);
            sig = e / (1 + e);
        }
        return sig - t;
    }
    return x - t;
}

// partial[blockIdx.x] = sum of the terms of the elements this block's grid-stride loop visits
// (VEC consecutive elements per step), as a fixed tree. x, t: (n) device; partial: (gridDim.x).
template <typename T, int KIND, int VEC>
__global__ void loss_partials(const T *x, const T *t, int64_t n, double *partial) {
    __shared__ double sh[33];
    double acc = 0.0;
    const int64_t steps = (n + VEC - 1) / VEC;
    for (int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; k < steps; k += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i0 = k * VEC;
        if (VEC > 1 && i0 + VEC <= n) {
            float xv[VEC], tv[VEC];
            ds_ld_vec<T, VEC>(x + i0, xv);
            ds_ld_vec<T, VEC>(t + i0, tv);
#pragma unroll
            for (int e = 0; e < VEC; e++) acc += loss_term<KIND>(xv[e], tv[e]);
        } else {
            for (int64_t i = i0; i < i0 + VEC && i < n; i++) acc += loss_term<KIND>(ds_ld(x, i), ds_ld(t, i));
        }
    }
    acc = ds_block_sum(acc, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// loss[0] = (sum of partial[0 .. count)) / n, rounded to fp32; NaN when n == 0. One block.
__global__ void loss_final(const double *partial, int count, int64_t n, float *loss) {
    __shared__ double sh[33];
    double acc = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
    acc = ds_block_sum(acc, sh);
    if (threadIdx.x == 0) loss[0] = n > 0 ? (float)(acc / (double)n) : __int_as_float(0x7fc00000);  // NaN
}

// dx[i] = scale * grad(x[i], t[i]) rounded once to T, VEC elements per step. x, t, dx: (n) device.
template <typename T, int KIND, int VEC>
__global__ void loss_bwd(const T *x, const T *t, T *dx, int64_t n, double scale) {
    const int64_t steps = (n + VEC - 1) / VEC;
    for (int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; k < steps; k += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i0 = k * VEC;
        if (VEC > 1 && i0 + VEC <= n) {
            float xv[VEC], tv[VEC];
            ds_ld_vec<T, VEC>(x + i0, xv);
            ds_ld_vec<T, VEC>(t + i0, tv);
#pragma unroll
            for (int e = 0; e < VEC; e++) xv[e] = (float)(scale * loss_grad<KIND>(xv[e], tv[e]));
            ds_st_vec<T, VEC>(dx + i0, xv);
        } else {
            for (int64_t i = i0; i < i0 + VEC && i < n; i++)
                ds_st(dx, i, (float)(scale * loss_grad<KIND>(ds_ld(x, i), ds_ld(t, i))));
        }
    }
}

template <typename T, int KIND>
static ds_status launch_fwd(ds_context *ctx, ds_cuda_state *s, const void *xp, const void *tp, float *loss,
                            int64_t n) {
    const T *x = (const T *)xp, *t = (const T *)tp;
    double *partial = (double *)s->scratch;  // (PL_MAX_BLOCKS) device
    static_assert(PL_MAX_BLOCKS * sizeof(double) <= DS_CUDA_SCRATCH_BYTES, "scratch too small for the partials");
    int blocks = 0;
    if (n > 0) {
        const bool vec = s->opt.kernels == DS_KERNELS_FAST && ds_cuda_aligned(x, 4 * sizeof(T)) &&
                         ds_cuda_aligned(t, 4 * sizeof(T));
        const int64_t per_thread = vec ? 4 : 1;
        const int64_t want = (n + PL_BLOCK * per_thread - 1) / (PL_BLOCK * per_thread);
        blocks = (int)(want < PL_MAX_BLOCKS ? want : PL_MAX_BLOCKS);
        if (vec) loss_partials<T, KIND, 4><<<blocks, PL_BLOCK, 0, s->stream>>>(x, t, n, partial);
        else loss_partials<T, KIND, 1><<<blocks, PL_BLOCK, 0, s->stream>>>(x, t, n, partial);
        DS_CUDA_CHECK_LAUNCH(&ctx->err);
    }
    loss_final<<<1, PL_BLOCK, 0, s->stream>>>(partial, blocks, n, loss);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

template <typename T, int KIND>
static ds_status launch_bwd(ds_context *ctx, ds_cuda_state *s, const void *xp, const void *tp, void *dxp, int64_t n,
                            double scale) {
    const T *x = (const T *)xp, *t = (const T *)tp;
    T *dx = (T *)dxp;
    if (n == 0) return DS_OK;
    if (s->opt.kernels == DS_KERNELS_FAST && ds_cuda_aligned(x, 4 * sizeof(T)) && ds_cuda_aligned(t, 4 * sizeof(T)) &&
        ds_cuda_aligned(dx, 4 * sizeof(T)))
        loss_bwd<T, KIND, 4><<<ds_cuda_grid((n + 3) / 4, PL_BLOCK), PL_BLOCK, 0, s->stream>>>(x, t, dx, n, scale);
    else
        loss_bwd<T, KIND, 1><<<ds_cuda_grid(n, PL_BLOCK), PL_BLOCK, 0, s->stream>>>(x, t, dx, n, scale);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

// x (any shape, F32/BF16, CUDA) sets the dtype and n; target must match both.
static ds_status check_inputs(ds_context *ctx, const char *op, const ds_tensor *x, const ds_tensor *target,
                              ds_dtype *dt, int64_t *n) {
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", x, -1, dt));
    *n = ds_tensor_numel(x);
    return ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "target", target, *dt, *n);
}

template <int KIND>
static ds_status run_forward(ds_context *ctx, const char *op, const ds_pointwise_loss_fwd_args *a) {
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    int64_t n = 0;
    DS_TRY(check_inputs(ctx, op, &a->x, &a->target, &dt, &n));
    DS_TRY(ds_cuda_check_extents(ctx, op, "loss", &a->loss, DS_F32, 1, 1, -1));
    if (dt == DS_F32) return launch_fwd<float, KIND>(ctx, s, a->x.data, a->target.data, (float *)a->loss.data, n);
    return launch_fwd<__nv_bfloat16, KIND>(ctx, s, a->x.data, a->target.data, (float *)a->loss.data, n);
}

template <int KIND>
static ds_status run_backward(ds_context *ctx, const char *op, const ds_pointwise_loss_bwd_args *a) {
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    int64_t n = 0;
    DS_TRY(check_inputs(ctx, op, &a->x, &a->target, &dt, &n));
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "dx", &a->dx, dt, n));
    // The CPU's scale: dloss / n (BCE) or 2 dloss / n (MSE), in double.
    const double scale = n > 0 ? (KIND == LOSS_BCE ? a->dloss / (double)n : 2.0 * a->dloss / (double)n) : 0;
    if (dt == DS_F32) return launch_bwd<float, KIND>(ctx, s, a->x.data, a->target.data, a->dx.data, n, scale);
    return launch_bwd<__nv_bfloat16, KIND>(ctx, s, a->x.data, a->target.data, a->dx.data, n, scale);
}

extern "C" ds_status ds_cuda_bce_with_logits_forward(ds_context *ctx, const void *args) {
    return run_forward<LOSS_BCE>(ctx, "bce_with_logits_forward", (const ds_pointwise_loss_fwd_args *)args);
}

extern "C" ds_status ds_cuda_bce_with_logits_backward(ds_context *ctx, const void *args) {
    return run_backward<LOSS_BCE>(ctx, "bce_with_logits_backward", (const ds_pointwise_loss_bwd_args *)args);
}

extern "C" ds_status ds_cuda_mse_forward(ds_context *ctx, const void *args) {
    return run_forward<LOSS_MSE>(ctx, "mse_forward", (const ds_pointwise_loss_fwd_args *)args);
}

extern "C" ds_status ds_cuda_mse_backward(ds_context *ctx, const void *args) {
    return run_backward<LOSS_MSE>(ctx, "mse_backward", (const ds_pointwise_loss_bwd_args *)args);
}
