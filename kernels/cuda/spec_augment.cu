// SpecAugment's masking on CUDA (HF Wav2Vec2Model._mask_hidden_states; the CPU reference is
// kernels/cpu/spec_augment_impl.inc). x, y, dy, dx: (B, T, C) device, F32 or BF16; time_mask
// (B, T) and feature_mask (B, C) I32 0/1, each optional; embed (masked_spec_embed) and dembed (C)
// F32 (a parameter and its gradient).
//   forward   one thread per element (grid-stride): y = 0 where feature_mask[b, c], else embed[c]
//             where time_mask[b, t], else x. y may be x (each element is read and written by the
//             same thread).
//   backward  dx: one thread per element, dy where neither mask hits, else 0 (dx may be dy).
//             dembed: one 256-thread block per channel c, the B T rows strided over the threads,
//             a fixed-order block sum in double of dy over time-masked rows whose feature c is
//             not masked; added into dembed when accumulate. dembed is computed before dx, so
//             an in-place dx == dy still reads the original dy.
// Masks are checked to hold only 0 and 1 on the device (index_check.cuh: one synchronisation)
// unless opt.trusted_indices. No atomics: identical bits every run.
#include "block_reduce.cuh"
#include "cuda_state.cuh"
#include "index_check.cuh"
#include "op_checks.cuh"

extern "C" {
#include "cuda_ops.h"
}

enum { SA_THREADS = 256 };

template <typename T>
__global__ void spec_augment_fwd_kernel(const T *x, const int32_t *tm, const int32_t *fm, const float *embed, T *y,
                                        int64_t b, int64_t t, int64_t c) {
    const int64_t total = b * t * c;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = e / c, j = e - r * c, bi = r / t;
        float v;
        if (fm && fm[bi * c + j]) v = 0.0f;
        else if (tm && tm[r]) v = embed[j];
        else v = ds_ld(x, e);
        ds_st(y, e, v);
    }
}

template <typename T>
__global__ void spec_augment_bwd_dx_kernel(const T *dy, const int32_t *tm, const int32_t *fm, T *dx, int64_t b,
                                           int64_t t, int64_t c) {
    const int64_t total = b * t * c;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = e / c, j = e - r * c, bi = r / t;
        const bool masked = (tm && tm[r]) || (fm && fm[bi * c + j]);
        ds_st(dx, e, masked ? 0.0f : ds_ld(dy, e));
    }
}

template <typename T>
__global__ void __launch_bounds__(SA_THREADS)
    spec_augment_bwd_embed_kernel(const T *dy, const int32_t *tm, const int32_t *fm, float *dembed, int64_t b,
                                  int64_t t, int64_t c, bool accumulate) {
    __shared__ double sh[33];
    for (int64_t j = blockIdx.x; j < c; j += gridDim.x) {
        double acc = 0.0;
        for (int64_t r = threadIdx.x; r < b * t; r += blockDim.x)
            if (tm[r] && !(fm && fm[(r / t) * c + j])) acc += (double)ds_ld(dy, r * c + j);
        acc = ds_block_sum(acc, sh);
        if (threadIdx.x == 0) dembed[j] = (float)((accumulate ? (double)dembed[j] : 0.0) + acc);
    }
}

// Shapes of the optional masks and (unless trusted) their values: 0 or 1.
static ds_status check_masks(ds_context *ctx, ds_cuda_state *s, const char *op, const ds_tensor *tm,
                             const ds_tensor *fm, int64_t b, int64_t t, int64_t c) {
    const ds_tensor *m[2] = {tm, fm};
    const char *names[2] = {"time_mask", "feature_mask"};
    const int64_t shapes[2][2] = {{b, t}, {b, c}};
    for (int k = 0; k < 2; k++) {
        if (!ds_cuda_present(m[k])) continue;
        DS_TRY(ds_cuda_check(ctx, op, names[k], m[k], DS_I32, 2, shapes[k]));
        bool found = false;
        int64_t pos = 0;
        int32_t value = 0;
        DS_TRY(ds_cuda_find_bad_index(ctx, s, (const int32_t *)m[k]->data, shapes[k][0] * shapes[k][1], 2, false, 0,
                                      &found, &pos, &value));
        DS_REQUIRE(&ctx->err, !found, DS_ERR_INVALID_ARG, "%s: %s[%lld] = %d is not 0 or 1", op, names[k],
                   (long long)pos, (int)value);
    }
    return DS_OK;
}

extern "C" ds_status ds_cuda_spec_augment_forward(ds_context *ctx, const void *args) {
    const ds_spec_augment_fwd_args *a = (const ds_spec_augment_fwd_args *)args;
    const char *op = "spec_augment_forward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, 3, &dt));
    const int64_t b = a->x.shape[0], t = a->x.shape[1], c = a->x.shape[2];
    DS_TRY(ds_cuda_check(ctx, op, "y", &a->y, dt, 3, a->x.shape));
    const bool has_tm = ds_cuda_present(&a->time_mask), has_fm = ds_cuda_present(&a->feature_mask);
    if (has_tm) {
        const int64_t cs[1] = {c};
        DS_TRY(ds_cuda_check(ctx, op, "embed", &a->embed, DS_F32, 1, cs));
    }
    DS_TRY(check_masks(ctx, s, op, &a->time_mask, &a->feature_mask, b, t, c));
    if (b * t * c == 0) return DS_OK;
    const int32_t *tm = has_tm ? (const int32_t *)a->time_mask.data : NULL;
    const int32_t *fm = has_fm ? (const int32_t *)a->feature_mask.data : NULL;
    const float *embed = has_tm ? (const float *)a->embed.data : NULL;
    const unsigned blocks = ds_cuda_blocks(b * t * c, SA_THREADS);
    if (dt == DS_F32)
        spec_augment_fwd_kernel<float><<<blocks, SA_THREADS, 0, s->stream>>>((const float *)a->x.data, tm, fm, embed,
                                                                            (float *)a->y.data, b, t, c);
    else
        spec_augment_fwd_kernel<__nv_bfloat16><<<blocks, SA_THREADS, 0, s->stream>>>(
            (const __nv_bfloat16 *)a->x.data, tm, fm, embed, (__nv_bfloat16 *)a->y.data, b, t, c);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

template <typename T>
static ds_status sa_backward(ds_context *ctx, ds_cuda_state *s, const ds_spec_augment_bwd_args *a, const int32_t *tm,
                             const int32_t *fm, int64_t b, int64_t t, int64_t c) {
    const T *dy = (const T *)a->dy.data;
    if (ds_cuda_present(&a->dembed)) {
        if (tm) {
            spec_augment_bwd_embed_kernel<T><<<ds_cuda_grid(c, 1), SA_THREADS, 0, s->stream>>>(
                dy, tm, fm, (float *)a->dembed.data, b, t, c, a->accumulate);
            DS_CUDA_CHECK_LAUNCH(&ctx->err);
        } else if (!a->accumulate) {
            DS_CUDA_CHECK(&ctx->err, cudaMemsetAsync(a->dembed.data, 0, sizeof(float) * (size_t)c, s->stream));
        }
    }
    spec_augment_bwd_dx_kernel<T><<<ds_cuda_blocks(b * t * c, SA_THREADS), SA_THREADS, 0, s->stream>>>(
        dy, tm, fm, (T *)a->dx.data, b, t, c);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_spec_augment_backward(ds_context *ctx, const void *args) {
    const ds_spec_augment_bwd_args *a = (const ds_spec_augment_bwd_args *)args;
    const char *op = "spec_augment_backward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dy", &a->dy, 3, &dt));
    const int64_t b = a->dy.shape[0], t = a->dy.shape[1], c = a->dy.shape[2];
    DS_TRY(ds_cuda_check(ctx, op, "dx", &a->dx, dt, 3, a->dy.shape));
    if (ds_cuda_present(&a->dembed)) {
        const int64_t cs[1] = {c};
        DS_TRY(ds_cuda_check(ctx, op, "dembed", &a->dembed, DS_F32, 1, cs));
    }
    DS_TRY(check_masks(ctx, s, op, &a->time_mask, &a->feature_mask, b, t, c));
    if (b * t * c == 0) return DS_OK;
    const int32_t *tm = ds_cuda_present(&a->time_mask) ? (const int32_t *)a->time_mask.data : NULL;
    const int32_t *fm = ds_cuda_present(&a->feature_mask) ? (const int32_t *)a->feature_mask.data : NULL;
    if (dt == DS_F32) return sa_backward<float>(ctx, s, a, tm, fm, b, t, c);
    return sa_backward<__nv_bfloat16>(ctx, s, a, tm, fm, b, t, c);
}
