// Elementwise add and the attention-head permutation on CUDA, F32 or BF16 (one dtype per call).
#include <stdint.h>

#include "cuda_state.cuh"
#include "elementwise.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "cuda_ops.h"
}

// ---- add: y = a + b; y may be the same memory as a or b (elementwise.cuh allows it) ----

struct add_fn {
    __device__ float operator()(float a, float b) const { return a + b; }
};

extern "C" ds_status ds_cuda_add(ds_context *ctx, const void *args) {
    const ds_add_args *a = (const ds_add_args *)args;
    const char *op = "add";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;  // set by the first check
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "a", &a->a, -1, &dt));
    const int64_t n = ds_tensor_numel(&a->a);
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "b", &a->b, dt, n));
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "y", &a->y, dt, n));
    return ds_map2(ctx, dt, a->a.data, a->b.data, a->y.data, n, add_fn{});
}

// ---- permute_heads: (B, T, H*D) <-> (B, H, T, D) ----

// One output unit per step; a unit is one element (PLAIN: E = the element's bits, uint32_t for F32,
// uint16_t for BF16) or one 16-byte piece of a head row (FAST: E = uint4, D counted in pieces).
// Bits are copied unchanged. x, y device, not overlapping.
//   to_heads: y (B, H, T, D)[b, h, t, d] = x (B, T, H, D)[b, t, h, d]
//   else:     y (B, T, H, D)[b, t, h, d] = x (B, H, T, D)[b, h, t, d]
template <typename E>
__global__ void permute_heads_kernel(const E *__restrict__ x, E *__restrict__ y, int64_t B, int64_t H, int64_t T,
                                     int64_t D, bool to_heads) {
    const int64_t total = B * H * T * D;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
        const int64_t d = o % D;
        int64_t rest = o / D;
        int64_t src;
        if (to_heads) {  // o indexes (B, H, T, D)
            const int64_t t = rest % T;
            rest /= T;
            const int64_t h = rest % H, b = rest / H;
            src = ((b * T + t) * H + h) * D + d;
        } else {  // o indexes (B, T, H, D)
            const int64_t h = rest % H;
            rest /= H;
            const int64_t t = rest % T, b = rest / T;
            src = ((b * H + h) * T + t) * D + d;
        }
        y[o] = x[src];
    }
}

extern "C" ds_status ds_cuda_permute_heads(ds_context *ctx, const void *args) {
    const ds_permute_heads_args *a = (const ds_permute_heads_args *)args;
    const char *op = "permute_heads";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;  // set by the first check
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, -1, &dt));
    DS_TRY(ds_cuda_check(ctx, op, "y", &a->y, dt, -1, NULL));
    const ds_tensor *bthd = a->to_heads ? &a->x : &a->y;  // the (B, T, H*D) side
    const ds_tensor *bhtd = a->to_heads ? &a->y : &a->x;  // the (B, H, T, D) side
    const int64_t H = a->heads;
    DS_REQUIRE(&ctx->err,
               bthd->ndim == 3 && bhtd->ndim == 4 && H > 0 && bhtd->shape[1] == H &&
                   bthd->shape[0] == bhtd->shape[0] && bthd->shape[1] == bhtd->shape[2] &&
                   bthd->shape[2] == H * bhtd->shape[3],
               DS_ERR_INVALID_ARG, "%s: shapes do not match (B, T, H*D) <-> (B, H, T, D) with H = %lld", op,
               (long long)H);
    const int64_t B = bhtd->shape[0], T = bhtd->shape[2], D = bhtd->shape[3];
    const size_t es = ds_dtype_size(dt), bytes = (size_t)(B * H * T * D) * es;
    const uintptr_t xs = (uintptr_t)a->x.data, ys = (uintptr_t)a->y.data;
    DS_REQUIRE(&ctx->err, bytes == 0 || xs + bytes <= ys || ys + bytes <= xs, DS_ERR_INVALID_ARG,
               "%s: x and y overlap; the permutation needs separate memory", op);
    if (bytes == 0) return DS_OK;
    const unsigned threads = 256;
    const size_t row_bytes = (size_t)D * es;
    if (cu->opt.kernels == DS_KERNELS_FAST && row_bytes % 16 == 0 && ds_cuda_aligned(a->x.data, 16) &&
        ds_cuda_aligned(a->y.data, 16)) {
        const int64_t dv = (int64_t)(row_bytes / 16);  // 16-byte pieces per head row
        permute_heads_kernel<uint4><<<ds_cuda_blocks(B * H * T * dv, threads), threads, 0, cu->stream>>>(
            (const uint4 *)a->x.data, (uint4 *)a->y.data, B, H, T, dv, a->to_heads);
    } else if (dt == DS_BF16) {
        permute_heads_kernel<uint16_t><<<ds_cuda_blocks(B * H * T * D, threads), threads, 0, cu->stream>>>(
            (const uint16_t *)a->x.data, (uint16_t *)a->y.data, B, H, T, D, a->to_heads);
    } else {
        permute_heads_kernel<uint32_t><<<ds_cuda_blocks(B * H * T * D, threads), threads, 0, cu->stream>>>(
            (const uint32_t *)a->x.data, (uint32_t *)a->y.data, B, H, T, D, a->to_heads);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
