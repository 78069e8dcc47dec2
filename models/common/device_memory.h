// Device memory for the model's blocks: moving a parameter block to the CUDA device of a
// context, copying it up and down, activation arenas in device memory, and small host<->tensor
// copies for the model's own use (batch staging, the loss scalar, logits). The allocation goes
// through kernels/gpu.h (ds_gpu_alloc), so the context's live/peak accounting sees it. This sits
// in models/ because runtime/base (where ds_param_block and ds_arena are declared) is below the
// kernels layer and may not call it.
//
// Every function works on the CPU too (then a copy is a memcpy and a move is nothing), so that
// callers need no branch on the device.
#ifndef DS_DEVICE_MEMORY_H
#define DS_DEVICE_MEMORY_H

#include <stdbool.h>
#include <stddef.h>

#include "../../runtime/base/arena.h"
#include "../../runtime/base/context.h"
#include "../../runtime/base/param_block.h"

// An arena of `bytes` on ctx's device: host memory on the CPU (ds_arena_init_cpu), device memory
// on CUDA. Out of device memory, the message gives the bytes asked for and free, and what to change.
ds_status ds_arena_init_for(ds_context *ctx, ds_arena *a, size_t bytes);

// Moves pb to ctx's CUDA device: allocates params_dev, grads_dev and (bf16_copy) params_bf16_dev,
// uploads the host parameters (and their bf16 rounding, round to nearest even as torch's
// .to(torch.bfloat16)) and zeroes the device gradients. On the CPU (ctx->device CPU) it does
// nothing. pb keeps its host arrays as the staging copy.
ds_status ds_param_block_to_device(ds_context *ctx, ds_param_block *pb, bool bf16_copy);

// Host params -> device params (and the bf16 copy): after loading a checkpoint or a broadcast.
ds_status ds_param_block_upload(ds_context *ctx, ds_param_block *pb);
// Device params -> host params, waited for: before a checkpoint, an export or a hash.
ds_status ds_param_block_download(ds_context *ctx, ds_param_block *pb);
// Device grads -> host grads, waited for (tests, debugging).
ds_status ds_param_block_download_grads(ds_context *ctx, ds_param_block *pb);
// Zeroes the gradients where they live (an asynchronous memset on the device).
ds_status ds_param_block_zero_grads(ds_context *ctx, ds_param_block *pb);

// Host bytes -> tensor t (t's nbytes from src, host) on t's device; asynchronous on CUDA, but the
// source may be reused at once when it is pageable memory (cudaMemcpyAsync stages pageable
// memory before it returns). For pinned sources keep them until the next ds_gpu_sync.
ds_status ds_tensor_from_host(ds_context *ctx, const ds_tensor *t, const void *src);
// Tensor t -> host dst (t's nbytes), complete when this returns (a sync on CUDA).
ds_status ds_tensor_to_host(ds_context *ctx, void *dst, const ds_tensor *t);
// Tensor src -> tensor dst of the same bytes, both on the same device; asynchronous on CUDA (in
// stream order), a memcpy on the CPU.
ds_status ds_tensor_copy(ds_context *ctx, const ds_tensor *dst, const ds_tensor *src);
// Zero bytes over t.
ds_status ds_tensor_zero(ds_context *ctx, const ds_tensor *t);

#endif
