// What every CUDA op body shares: the per-context device state and small launch helpers.
// Included by kernels/cuda/*.cu only.
#ifndef DS_CUDA_STATE_CUH
#define DS_CUDA_STATE_CUH

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#if DS_HAVE_CUDNN
#include <cudnn.h>
#endif

#include <stdint.h>

extern "C" {
#include "../../runtime/base/check.h"
#include "../gpu.h"
#include "../ops.h"
}

// conv2d's per-shape memory of cuDNN's algorithms and of AUTO's choices (conv2d_cudnn.cu); it
// lives in the device state, never in a global, and is freed with it.
struct ds_conv_tuning;
void ds_conv_tuning_free(ds_conv_tuning *t);  // NULL-safe
// linear.cu's cache of cuBLASLt GEMM descriptors and heuristic results, keyed by shape, types and
// pointer alignments; in the device state, freed with it.
struct ds_gemm_cache;
void ds_gemm_cache_free(ds_gemm_cache *c);  // NULL-safe

struct ds_cuda_state {
    ds_gpu_options opt;
    int device;
    int sm_major, sm_minor, num_sms;
    size_t max_smem_optin;           // bytes of shared memory a block may opt into
    cudaStream_t stream;             // every op of the context runs on this stream, in order
    cublasLtHandle_t lt;
    void *lt_workspace;              // (lt_workspace_bytes) device
    size_t lt_workspace_bytes;
#if DS_HAVE_CUDNN
    cudnnHandle_t cudnn;
#endif
    void *scratch;                   // (scratch_bytes) device, for reductions inside one op
    size_t scratch_bytes;
    ds_conv_tuning *conv_tuning;     // run.conv = cudnn | auto: grown on first use; NULL until then
    ds_gemm_cache *gemm_cache;       // linear.cu's GEMM descriptors: grown on first use; NULL until then
    size_t live_bytes, peak_bytes;   // ds_gpu_alloc bookkeeping
    uint64_t attn_cudnn_fallbacks;   // attention forwards and backwards cuDNN refused, run by the own kernels
    uint64_t ctc_cudnn_calls;        // CTC forwards and backwards run by cuDNN (run.ctc = cudnn)
};

#define DS_CUDA_SCRATCH_BYTES ((size_t)1 << 20)

// The state of a context whose ops run on CUDA; ops check it before anything else.
static inline ds_status ds_cuda_state_of(ds_context *ctx, const char *op, ds_cuda_state **out) {
    if (ctx->cuda == NULL)
        return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG,
                          "%s: CUDA tensors given but the context has no open device (ds_gpu_open)", op);
    *out = ctx->cuda;
    return DS_OK;
}

// Blocks of `threads` covering n items, capped so a grid-stride loop finishes the rest.
static inline unsigned ds_cuda_blocks(int64_t n, unsigned threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > 65535 * 32) b = 65535 * 32;
    return (unsigned)b;
}

// Blocks for a grid-stride loop over `items` work items of `per_block` each, capped at 2^20 blocks
// (the loop covers the rest); at least 1. (Kept apart from ds_cuda_blocks: its cap differs, and the
// softmax, dropout, embedding and loss kernels were sized with this one.)
static inline unsigned ds_cuda_grid(int64_t items, int64_t per_block) {
    int64_t b = (items + per_block - 1) / per_block;
    if (b < 1) b = 1;
    if (b > ((int64_t)1 << 20)) b = (int64_t)1 << 20;
    return (unsigned)b;
}

// Loads/stores of F32 or BF16 storage as fp32 arithmetic values.
__device__ __forceinline__ float ds_ld(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ds_ld(const __nv_bfloat16 *p, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void ds_st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void ds_st(__nv_bfloat16 *p, int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }

#endif
