// The CUDA device state and device memory, as a C API that exists in every build: without
// CUDA each call fails with DS_ERR_UNSUPPORTED ("this build has no CUDA backend"), so host code
// (trainer, bench, tests) needs no #ifdef.
//
// ds_gpu_open() puts a `struct ds_cuda_state` on the context: the device, one compute stream
// that every op of this context is enqueued on (ops are asynchronous; ds_gpu_sync waits), the
// cuBLASLt handle and workspace, the cuDNN handle (when built with cuDNN), a small device
// scratch buffer for reductions, and the kernel choices below.
#ifndef DS_GPU_H
#define DS_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../runtime/base/context.h"

// Every custom kernel exists twice: PLAIN (CUDA cores, simple indexing, obviously right) and
// FAST (tensor cores, tiling, vectorised access). PLAIN is the default until FAST has passed
// the GPU tests on a real GPU.
typedef enum ds_kernel_variant { DS_KERNELS_PLAIN = 0, DS_KERNELS_FAST = 1 } ds_kernel_variant;

// Which attention the attention op runs: the one written here (PLAIN/FAST as above) or cuDNN's
// fused SDPA (graph API), which also serves as a cross-check.
typedef enum ds_attention_impl { DS_ATTENTION_OWN = 0, DS_ATTENTION_CUDNN = 1 } ds_attention_impl;

// Which convolution the conv2d op runs (docs/cuda_conv.md): the implicit GEMM written here
// (PLAIN/FAST as above), cuDNN's legacy convolution API (its fastest deterministic algorithm per
// shape; our own where cuDNN says NOT_SUPPORTED), or AUTO: both timed once per shape and pointer
// alignment on the first call, the faster kept (as torch.backends.cudnn.benchmark), the choice
// cached in the device state.
typedef enum ds_conv_impl { DS_CONV_OWN = 0, DS_CONV_CUDNN = 1, DS_CONV_AUTO = 2 } ds_conv_impl;

// Which CTC loss the ctc_loss ops run (docs/cuda_ops_speech.md): the extended-range kernels
// written here, or cuDNN's (cudnnCTCLoss_v8, fp32 log space) for the cases it takes (F32, blank
// 0, at most 255 labels per utterance); other cases run the own kernels.
typedef enum ds_ctc_impl { DS_CTC_OWN = 0, DS_CTC_CUDNN = 1 } ds_ctc_impl;

typedef struct ds_gpu_options {
    int device_index;              // CUDA ordinal
    ds_kernel_variant kernels;     // PLAIN or FAST for every custom kernel
    ds_attention_impl attention;   // OWN or CUDNN
    ds_conv_impl conv;             // OWN, CUDNN or AUTO
    ds_ctc_impl ctc;               // OWN or CUDNN
    bool allow_tf32;               // F32 GEMMs may use TF32 tensor cores (off: exact fp32 mode)
    size_t gemm_workspace_bytes;   // cuBLASLt workspace; 0 picks 32 MiB (Hopper's recommendation)
    // The caller validated every index tensor (embedding ids, cross-entropy and per-pixel
    // cross-entropy targets, max-pool indices from forward) on the host before uploading it
    // (ds_bert_forward and ds_deeplab_forward do), and its BatchNorm batches hold more than one
    // value per channel: the ops skip their device-side checks (index ranges, bn_finalize's
    // count) and the stream synchronisation each costs. Kernels still never read or write outside
    // a tensor for a bad index (they skip it), and bn_finalize writes NaN statistics for a count
    // <= 1; it is just not reported. Off by default: the op contract holds.
    bool trusted_indices;
} ds_gpu_options;

// PLAIN kernels, own attention, convolution and CTC, TF32 off, default workspace, device 0.
ds_gpu_options ds_gpu_options_default(void);

// Opens the device for this context: sets ctx->cuda and ctx->device = {CUDA, index}.
ds_status ds_gpu_open(ds_context *ctx, const ds_gpu_options *opt);
// Waits for the stream, frees the handles and buffers, and sets ctx back to the CPU. NULL-safe.
void ds_gpu_close(ds_context *ctx);

// The options the context was opened with (NULL when it has no device).
const ds_gpu_options *ds_gpu_get_options(const ds_context *ctx);
// Switches the kernel variant / attention implementation of an open context (tests run both).
void ds_gpu_set_kernels(ds_context *ctx, ds_kernel_variant v);
void ds_gpu_set_attention(ds_context *ctx, ds_attention_impl a);
// How many attention forwards and backwards asked for cuDNN ran the own kernels instead because
// cuDNN does not take them (dropout, F32, a mask that is not right padding, no engine;
// kernels/cuda/attention.cu); 0 without a device. Tests use it to tell a real cuDNN comparison
// from the fallback.
uint64_t ds_gpu_attention_cudnn_fallbacks(const ds_context *ctx);
void ds_gpu_set_conv(ds_context *ctx, ds_conv_impl c);
void ds_gpu_set_ctc(ds_context *ctx, ds_ctc_impl c);
// How many CTC forwards and backwards cuDNN ran (DS_CTC_CUDNN and a case it takes); 0 without a
// device. Tests use it to tell a real cuDNN comparison from the own kernels.
uint64_t ds_gpu_ctc_cudnn_calls(const ds_context *ctx);

// Device memory (cudaMalloc on the context's device). An out-of-memory failure reports the
// bytes asked for and the bytes free/total on the device.
ds_status ds_gpu_alloc(ds_context *ctx, size_t bytes, void **dev_ptr);
// `bytes` is the size it was allocated with (keeps the live/peak accounting). NULL-safe.
void ds_gpu_free(ds_context *ctx, void *dev_ptr, size_t bytes);
// Page-locked host memory (cudaHostAlloc), for buffers the copy engines read or write.
ds_status ds_gpu_host_alloc(ds_context *ctx, size_t bytes, void **host_ptr);
void ds_gpu_host_free(ds_context *ctx, void *host_ptr);  // NULL-safe

// Copies and fills on the context's stream (asynchronous with respect to the host unless the
// host memory is pageable, as cudaMemcpyAsync).
ds_status ds_gpu_upload(ds_context *ctx, void *dev_dst, const void *host_src, size_t bytes);
ds_status ds_gpu_download(ds_context *ctx, void *host_dst, const void *dev_src, size_t bytes);
ds_status ds_gpu_copy(ds_context *ctx, void *dev_dst, const void *dev_src, size_t bytes);
ds_status ds_gpu_memset(ds_context *ctx, void *dev_dst, int byte, size_t bytes);
// Waits for every op enqueued so far and reports any error a kernel raised.
ds_status ds_gpu_sync(ds_context *ctx);

// Device memory free and total, in bytes.
ds_status ds_gpu_mem_info(ds_context *ctx, size_t *free_bytes, size_t *total_bytes);

// The largest total of live ds_gpu_alloc bytes (plus the context's own workspaces) so far.
size_t ds_gpu_peak_bytes(const ds_context *ctx);

// sum(x[i]^2) over an F32 device vector of n elements, reduced in a fixed order (the result is
// the same every run), written to *out (host) after a sync. For global-norm gradient clipping.
ds_status ds_gpu_sum_squares(ds_context *ctx, const float *x_dev, size_t n, double *out);

// The device's dense peak throughput (FLOP/s) for bf16 and fp32 tensor/CUDA-core math and its
// memory bandwidth (bytes/s), from the device properties and a table of known parts; 0 where
// unknown. Used for MFU and roofline figures.
typedef struct ds_gpu_peaks {
    double bf16_flops;
    double fp32_flops;
    double mem_bytes_per_s;
    char name[256];
} ds_gpu_peaks;
ds_status ds_gpu_peaks_get(ds_context *ctx, ds_gpu_peaks *out);

// The context's compute stream as an opaque handle (a cudaStream_t), for a communicator whose
// collectives must wait for gradients written on it (ds_comm_options.cuda_stream); NULL without
// an open device.
void *ds_gpu_stream_handle(const ds_context *ctx);

#endif
