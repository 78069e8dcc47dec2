// SGD with momentum on CUDA: one fused pass over a flat block of n parameters that reads param,
// grad and the momentum buffer (and the decay mask when present) and writes param, the buffer and
// the BF16 working copy (when present). Bit-identical to the CPU reference (kernels/cpu/sgd.c) by
// the construction kernels/cuda/adamw.cu explains: the per-step scalars are the CPU op's own floats
// (ds_sgd_scalars_of), and every float operation of an element is an _rn intrinsic (never
// contracted by nvcc), with __fmaf_rn exactly where the CPU calls fmaf.
// One kernel (one element per thread, grid-stride): SGD reads and writes 12-16 bytes per element
// and does a handful of flops, so it is bound by memory bandwidth either way; the run.kernels
// choice does not change it.
#include "cuda_state.cuh"

extern "C" {
#include "../sgd_scalars.h"
#include "cuda_ops.h"
}

// ds_f32_to_bf16 (runtime/base/dtype.c) on the device: round to nearest, ties to even.
__device__ __forceinline__ unsigned short sgd_bf16_bits(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return (unsigned short)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

#define SGD_THREADS 256

// param (n) F32 device, in place; grad (n) F32; buf (n) F32 in place or NULL (no momentum);
// mask (n) U8 or NULL; bf16 (n) BF16 bits or NULL.
__global__ void sgd_plain(ds_sgd_scalars s, int64_t n, float *__restrict__ param, const float *__restrict__ grad,
                          float *__restrict__ buf, const unsigned char *__restrict__ mask,
                          unsigned short *__restrict__ bf16) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float g = s.scaled ? __fmul_rn(grad[i], s.grad_scale) : grad[i];
        float p = param[i];
        if (s.decay && (mask == NULL || mask[i] != 0)) g = __fmaf_rn(p, s.weight_decay, g);
        if (s.has_momentum) {
            const float b = s.first ? g : __fadd_rn(__fmul_rn(buf[i], s.momentum), g);
            buf[i] = b;
            g = s.nesterov ? __fmaf_rn(b, s.momentum, g) : b;
        }
        p = __fmaf_rn(g, s.neg_lr, p);
        param[i] = p;
        if (bf16 != NULL) bf16[i] = sgd_bf16_bits(p);
    }
}

extern "C" ds_status ds_cuda_sgd(ds_context *ctx, const void *args) {
    const ds_sgd_args *a = (const ds_sgd_args *)args;
    ds_cuda_state *st = NULL;
    DS_TRY(ds_cuda_state_of(ctx, "sgd", &st));
    DS_TRY(ds_sgd_check_args(a, DS_DEVICE_CUDA, &ctx->err));
    const int64_t n = ds_tensor_numel(&a->param);
    if (n == 0) return DS_OK;
    const ds_sgd_scalars s = ds_sgd_scalars_of(a);
    sgd_plain<<<ds_cuda_blocks(n, SGD_THREADS), SGD_THREADS, 0, st->stream>>>(
        s, n, (float *)a->param.data, (const float *)a->grad.data, (float *)a->momentum_buf.data,
        (const unsigned char *)a->decay_mask.data, (unsigned short *)a->param_bf16.data);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
