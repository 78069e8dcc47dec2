// Dropout on CUDA, forward and backward: y = x * keep / (1 - p), the keep decisions drawn from
// Philox (runtime/base/philox.h) exactly as kernels/cpu/dropout.c draws them: element i belongs
// to group g = i / 4, one Philox4x32-10 call with counter {g, offset} and key seed serves the
// group, and lane i % 4 keeps its element when (draw >> 8) * 2^-24 >= p. The product
// x * (keep ? fp32(1/(1-p)) : 0) is the CPU's operation in fp32, so F32 results are bit-identical
// to the CPU's, and a BF16 result is that fp32 product rounded once. A dropped element is
// multiplied by 0 (NaN and inf propagate, as torch). p == 0 is a copy. x and y (dy and dx) may
// be the same buffer.
//   PLAIN: one thread per group of 4, scalar accesses.
//   FAST:  one thread per group of 4, one 16-byte (F32) or 8-byte (BF16) access per full group
//          when both pointers are aligned to it; the partial last group goes element by element.
#include "../../runtime/base/philox.h"
#include "cuda_state.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "cuda_ops.h"
}

#define DROPOUT_BLOCK 256

// Keep decisions of elements 4g .. 4g+3 as bits 0..3, the arithmetic of kernels/cpu/dropout.c.
static __device__ __forceinline__ unsigned keep_bits4(uint64_t seed, uint64_t offset, uint64_t g, float p) {
    const ds_philox4 c = {{(uint32_t)g, (uint32_t)(g >> 32), (uint32_t)offset, (uint32_t)(offset >> 32)}};
    const ds_philox4 r = ds_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    unsigned bits = 0;
#pragma unroll
    for (unsigned lane = 0; lane < 4; lane++)
        bits |= (unsigned)((float)(r.v[lane] >> 8) * (1.0f / 16777216.0f) >= p) << lane;
    return bits;
}

// y[i] = x[i] * (keep_i ? scale : 0), i < n. x, y: (n) device.
template <typename T>
__global__ void dropout_plain(const T *x, T *y, int64_t n, uint64_t seed, uint64_t offset, float p, float scale) {
    const int64_t groups = (n + 3) / 4;
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += (int64_t)gridDim.x * blockDim.x) {
        const unsigned bits = keep_bits4(seed, offset, (uint64_t)g, p);
        for (int lane = 0; lane < 4; lane++) {
            const int64_t i = 4 * g + lane;
            if (i < n) ds_st(y, i, ds_ld(x, i) * (((bits >> lane) & 1u) ? scale : 0.0f));
        }
    }
}

// As dropout_plain with one 4-element access per full group; x and y aligned to 4 * sizeof(T).
template <typename T>
__global__ void dropout_vec4(const T *x, T *y, int64_t n, uint64_t seed, uint64_t offset, float p, float scale) {
    const int64_t groups = (n + 3) / 4;
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += (int64_t)gridDim.x * blockDim.x) {
        const unsigned bits = keep_bits4(seed, offset, (uint64_t)g, p);
        const int64_t i0 = 4 * g;
        if (i0 + 4 <= n) {
            float v[4];
            ds_ld_vec<T, 4>(x + i0, v);
#pragma unroll
            for (int lane = 0; lane < 4; lane++) v[lane] *= ((bits >> lane) & 1u) ? scale : 0.0f;
            ds_st_vec<T, 4>(y + i0, v);
        } else {
            for (int lane = 0; i0 + lane < n; lane++)
                ds_st(y, i0 + lane, ds_ld(x, i0 + lane) * (((bits >> lane) & 1u) ? scale : 0.0f));
        }
    }
}

template <typename T>
static ds_status launch(ds_context *ctx, ds_cuda_state *s, const void *in, void *out, int64_t n, float p,
                        uint64_t offset) {
    const T *x = (const T *)in;
    T *y = (T *)out;
    // 1/(1-p) rounded once to fp32, as the CPU does: 1 - p is exact in double for a float p.
    const float scale = (float)(1.0 / (1.0 - (double)p));
    const unsigned blocks = ds_cuda_grid((n + 3) / 4, DROPOUT_BLOCK);
    const size_t pack = 4 * sizeof(T);
    if (s->opt.kernels == DS_KERNELS_FAST && ds_cuda_aligned(x, pack) && ds_cuda_aligned(y, pack))
        dropout_vec4<T><<<blocks, DROPOUT_BLOCK, 0, s->stream>>>(x, y, n, ctx->seed, offset, p, scale);
    else
        dropout_plain<T><<<blocks, DROPOUT_BLOCK, 0, s->stream>>>(x, y, n, ctx->seed, offset, p, scale);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

// Checks in/out (same dtype F32/BF16, equal numel, CUDA) and p, then applies dropout.
static ds_status run(ds_context *ctx, const char *op, const char *in_name, const ds_tensor *in,
                     const char *out_name, const ds_tensor *out, float p, uint64_t offset) {
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, in_name, in, -1, &dt));
    const int64_t n = ds_tensor_numel(in);
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, out_name, out, dt, n));
    DS_REQUIRE(&ctx->err, p >= 0.0f && p < 1.0f, DS_ERR_INVALID_ARG, "%s: p must be in [0, 1), got %g", op, (double)p);
    if (n == 0) return DS_OK;
    if (p == 0.0f) {  // identity (every draw is >= 0)
        if (out->data != in->data)
            DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(out->data, in->data, ds_tensor_nbytes(in),
                                                     cudaMemcpyDeviceToDevice, s->stream));
        return DS_OK;
    }
    if (dt == DS_F32) return launch<float>(ctx, s, in->data, out->data, n, p, offset);
    return launch<__nv_bfloat16>(ctx, s, in->data, out->data, n, p, offset);
}

extern "C" ds_status ds_cuda_dropout_forward(ds_context *ctx, const void *args) {
    const ds_dropout_fwd_args *a = (const ds_dropout_fwd_args *)args;
    return run(ctx, "dropout_forward", "x", &a->x, "y", &a->y, a->p, a->offset);
}

extern "C" ds_status ds_cuda_dropout_backward(ds_context *ctx, const void *args) {
    const ds_dropout_bwd_args *a = (const ds_dropout_bwd_args *)args;
    return run(ctx, "dropout_backward", "dy", &a->dy, "dx", &a->dx, a->p, a->offset);
}
