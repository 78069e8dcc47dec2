// Where a config-driven command runs: the run.* keys resolved into an open device on the context.
//   run.device      auto: CUDA when ds_cuda_device_count() > 0, else the CPU (the log says why;
//                   also the CPU for a distributed run with dist.backend mpi or tcp, which
//                   all-reduce host memory);
//                   cpu; cuda (this rank's GPU: its local rank when the node shows several);
//                   cuda:N (that ordinal)
//   run.kernels     plain | fast   custom kernel variant (kernels/gpu.h)
//   run.attention   own | cudnn    attention implementation on CUDA
//   run.conv        own | cudnn | auto   convolution implementation on CUDA (auto: timed per shape)
//   run.ctc         own | cudnn          CTC loss implementation on CUDA
//   run.precision   auto | fp32 | bf16   activations: auto is bf16 on CUDA and fp32 on the CPU
//                   (the CPU backend computes in fp32 only); fp32 on CUDA runs with TF32 off
//   run.deterministic   no float atomics on CUDA: identical results run to run (bit-exact resume)
#ifndef DS_RUN_DEVICE_H
#define DS_RUN_DEVICE_H

#include <stdbool.h>

#include "../base/context.h"
#include "../base/dtype.h"
#include "../config/config.h"
#include "../dist/world.h"

typedef struct ds_run_device {
    bool cuda;             // a CUDA device is open on the context
    int index;             // its ordinal
    ds_dtype act;          // activation dtype (run.precision resolved)
    char description[512]; // what the log line says, e.g. "cuda:0 NVIDIA H200 (sm_90), bf16 mixed precision, ..."
} ds_run_device;

// Resolves run.device (world: this rank's place, for its GPU; NULL for a single process), opens
// the device on ctx (ds_gpu_open with run.kernels / run.attention, TF32 off), sets
// ctx->deterministic from run.deterministic, and logs "device: ..." at INFO. Fails (DS_ERR_CONFIG
// or DS_ERR_CUDA) with a message that says why, e.g. run.device cuda on a machine without a usable
// CUDA device, or run.precision bf16 on the CPU.
ds_status ds_run_device_open(ds_context *ctx, const ds_config *cfg, const ds_world *world, ds_run_device *out);

// Closes what ds_run_device_open opened (NULL-safe; nothing on the CPU).
void ds_run_device_close(ds_context *ctx);

// run.precision for the context's device: F32 or BF16 (DS_ERR_CONFIG for bf16 on the CPU).
ds_status ds_run_act_dtype(const ds_context *ctx, const ds_config *cfg, ds_dtype *act, ds_err *err);

#endif
