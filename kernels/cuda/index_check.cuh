// Validation of an I32 index tensor that lives in device memory (embedding ids, cross-entropy
// targets): the CPU ops check indices on the host before touching anything; on CUDA the indices
// are device memory, so a kernel finds the first bad position and the host reads it back. That
// costs one stream synchronisation per call, the price of the op contract (kernels/ops.h: a bad
// index is an error and nothing is written). Host entry point plus its kernel.
#ifndef DS_CUDA_INDEX_CHECK_CUH
#define DS_CUDA_INDEX_CHECK_CUH

#include <stdint.h>

#include "cuda_state.cuh"
#include "op_checks.cuh"

// *first = min over i < n of the positions whose idx[i] is outside [0, hi) and != allowed
// (when has_allowed); *first must hold UINT64_MAX before. idx: (n) device; first: device.
static __global__ void ds_first_bad_index(const int32_t *idx, int64_t n, int64_t hi, bool has_allowed,
                                          int32_t allowed, unsigned long long *first) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int32_t v = idx[i];
        const bool ok = (v >= 0 && (int64_t)v < hi) || (has_allowed && v == allowed);
        if (!ok) atomicMin(first, (unsigned long long)i);  // integer min: the same answer every run
    }
}

// Finds the first position i < n whose idx[i] (device) is outside [0, hi) and is not `allowed`
// (when has_allowed). Sets *found, and *pos and *value when found. Uses the first 8 bytes of the
// scratch buffer and synchronises the stream (which also reports an earlier kernel's failure).
static inline ds_status ds_cuda_find_bad_index(ds_context *ctx, ds_cuda_state *s, const int32_t *idx, int64_t n,
                                               int64_t hi, bool has_allowed, int32_t allowed, bool *found,
                                               int64_t *pos, int32_t *value) {
    *found = false;
    if (n == 0 || s->opt.trusted_indices) return DS_OK;  // validated on the host (kernels/gpu.h)
    unsigned long long *first = (unsigned long long *)s->scratch;  // device
    DS_CUDA_CHECK(&ctx->err, cudaMemsetAsync(first, 0xff, sizeof *first, s->stream));
    ds_first_bad_index<<<ds_cuda_grid(n, 256), 256, 0, s->stream>>>(idx, n, hi, has_allowed, allowed, first);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    unsigned long long host_first = 0;
    DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(&host_first, first, sizeof host_first, cudaMemcpyDeviceToHost, s->stream));
    DS_CUDA_CHECK(&ctx->err, cudaStreamSynchronize(s->stream));
    if (host_first == ~0ull) return DS_OK;
    int32_t v = 0;
    DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(&v, idx + host_first, sizeof v, cudaMemcpyDeviceToHost, s->stream));
    DS_CUDA_CHECK(&ctx->err, cudaStreamSynchronize(s->stream));
    *found = true;
    *pos = (int64_t)host_first;
    *value = v;
    return DS_OK;
}

#endif
