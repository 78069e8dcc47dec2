// Dtype conversion of device arrays, callable from C whether or not CUDA was built (without it,
// kernels/cuda_absent/gpu_absent.c says so). Apart from kernels/gpu.h so that the many CUDA
// files including that header do not depend on it.
#ifndef DS_GPU_CONVERT_H
#define DS_GPU_CONVERT_H

#include <stddef.h>

#include "../runtime/base/context.h"

// dst (n elements, dst_dtype) = src (n elements, src_dtype), each F32 or BF16, device memory on
// the context's stream: F32 -> BF16 rounds to nearest even (NaN stays NaN), as torch's
// .to(torch.bfloat16) and ds_f32_to_bf16; BF16 -> F32 is exact; equal dtypes copy. dst and src
// must not overlap. For mixed precision's boundaries (wav2vec2: the audio into the bf16 feature
// encoder, the bf16 lm_head's logits into the fp32 log-softmax and CTC, and the CTC's fp32
// gradient back into the bf16 lm_head).
ds_status ds_gpu_convert(ds_context *ctx, void *dst, ds_dtype dst_dtype, const void *src, ds_dtype src_dtype,
                         size_t n);

#endif
