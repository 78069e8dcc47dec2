// ds_gpu_convert (kernels/gpu_convert.h): F32 <-> BF16 element conversion on the context's stream, one
// element per grid-stride step (the tensors it serves are small next to the GEMMs around them:
// audio, logits of a 32-letter vocabulary). Rounding: __float2bfloat16_rn, round to nearest even
// with NaN kept NaN, the rule of torch and of the host's ds_f32_to_bf16.
#include <stdint.h>

#include "cuda_state.cuh"

extern "C" {
#include "../gpu_convert.h"
}

template <typename D, typename S>
__global__ void convert_kernel(D *__restrict__ dst, const S *__restrict__ src, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        ds_st(dst, i, ds_ld(src, i));
}

extern "C" ds_status ds_gpu_convert(ds_context *ctx, void *dst, ds_dtype dst_dtype, const void *src, ds_dtype src_dtype,
                                    size_t n) {
    const char *op = "ds_gpu_convert";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    const bool ok_dst = dst_dtype == DS_F32 || dst_dtype == DS_BF16, ok_src = src_dtype == DS_F32 || src_dtype == DS_BF16;
    DS_REQUIRE(&ctx->err, ok_dst && ok_src, DS_ERR_INVALID_ARG, "%s: %s -> %s: only F32 and BF16 convert", op,
               ds_dtype_name(src_dtype), ds_dtype_name(dst_dtype));
    if (n == 0) return DS_OK;
    DS_REQUIRE(&ctx->err, dst != NULL && src != NULL, DS_ERR_INVALID_ARG, "%s: NULL pointer for %zu elements", op, n);
    const size_t db = n * ds_dtype_size(dst_dtype), sb = n * ds_dtype_size(src_dtype);
    const uintptr_t d0 = (uintptr_t)dst, s0 = (uintptr_t)src;
    DS_REQUIRE(&ctx->err, d0 + db <= s0 || s0 + sb <= d0, DS_ERR_INVALID_ARG, "%s: dst and src overlap", op);
    if (dst_dtype == src_dtype) {
        DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(dst, src, db, cudaMemcpyDeviceToDevice, cu->stream));
        return DS_OK;
    }
    const unsigned threads = 256, blocks = ds_cuda_blocks((int64_t)n, threads);
    if (dst_dtype == DS_BF16)
        convert_kernel<<<blocks, threads, 0, cu->stream>>>((__nv_bfloat16 *)dst, (const float *)src, (int64_t)n);
    else
        convert_kernel<<<blocks, threads, 0, cu->stream>>>((float *)dst, (const __nv_bfloat16 *)src, (int64_t)n);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
