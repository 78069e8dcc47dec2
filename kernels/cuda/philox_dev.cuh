// Device-side Philox4x32-10 helpers: the same bits as runtime/base/philox.h (which the CPU keeps
// using unchanged), written for the GPU. Three differences in how, none in what:
//   - each round's two 32x32 -> 64-bit products are __umulhi (high word) plus a 32-bit multiply
//     (low word) instead of a 64-bit multiply (mul.lo.s64 is several instructions on the SMs);
//   - the output word is picked with selects on the lane bits, never by indexing the result array
//     with a run-time index (that forces the array into local memory);
//   - ds_philox_keep4_dev returns the keep decisions of all four words of one call, for callers
//     that need four neighbouring elements of one counter (attention's FAST kernels).
// Included by kernels/cuda/*.cu only; tests/gpu/test_philox_cuda.cu checks these against the CPU.
#ifndef DS_CUDA_PHILOX_DEV_CUH
#define DS_CUDA_PHILOX_DEV_CUH

#include <stdint.h>

#include "../../runtime/base/philox.h"

// Philox4x32-10 of counter (c0..c3) and key (k0, k1): ds_philox4x32_10's bits.
__device__ __forceinline__ void ds_philox4x32_10_dev(uint32_t &c0, uint32_t &c1, uint32_t &c2, uint32_t &c3,
                                                     uint32_t k0, uint32_t k1) {
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
#pragma unroll
    for (int r = 0; r < 10; r++) {
        const uint32_t hi0 = __umulhi(M0, c0), lo0 = M0 * c0;
        const uint32_t hi1 = __umulhi(M1, c2), lo1 = M1 * c2;
        const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0, c1 = lo1, c2 = n2, c3 = lo0;
        k0 += W0;
        k1 += W1;
    }
}

// Word `lane` (0..3) of (w0, w1, w2, w3) by selects.
__device__ __forceinline__ uint32_t ds_philox_pick(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, uint32_t lane) {
    const uint32_t lo = (lane & 1u) ? w1 : w0, hi = (lane & 1u) ? w3 : w2;
    return (lane & 2u) ? hi : lo;
}

// The four words of block idx4 of stream (seed, offset): elements 4 idx4 .. 4 idx4 + 3.
__device__ __forceinline__ void ds_philox_block_dev(uint64_t seed, uint64_t offset, uint64_t idx4, uint32_t w[4]) {
    uint32_t c0 = (uint32_t)idx4, c1 = (uint32_t)(idx4 >> 32), c2 = (uint32_t)offset, c3 = (uint32_t)(offset >> 32);
    ds_philox4x32_10_dev(c0, c1, c2, c3, (uint32_t)seed, (uint32_t)(seed >> 32));
    w[0] = c0, w[1] = c1, w[2] = c2, w[3] = c3;
}

// ds_philox_keep's decision from a 32-bit draw: the 24-bit uniform u >= p.
__device__ __forceinline__ bool ds_philox_keep_word(uint32_t word, float p) {
    return (float)(word >> 8) * (1.0f / 16777216.0f) >= p;
}

// ds_philox_u32 / ds_philox_keep of element `index`, with the device round function and pick.
__device__ __forceinline__ uint32_t ds_philox_u32_dev(uint64_t seed, uint64_t offset, uint64_t index) {
    uint32_t w[4];
    ds_philox_block_dev(seed, offset, index >> 2, w);
    return ds_philox_pick(w[0], w[1], w[2], w[3], (uint32_t)(index & 3));
}
__device__ __forceinline__ bool ds_philox_keep_dev(uint64_t seed, uint64_t offset, uint64_t index, float p) {
    return ds_philox_keep_word(ds_philox_u32_dev(seed, offset, index), p);
}

// Keep decisions of elements 4 idx4 + u (u = 0..3) as bits u of the result.
__device__ __forceinline__ uint32_t ds_philox_keep4_dev(uint64_t seed, uint64_t offset, uint64_t idx4, float p) {
    uint32_t w[4];
    ds_philox_block_dev(seed, offset, idx4, w);
    return (uint32_t)ds_philox_keep_word(w[0], p) | (uint32_t)ds_philox_keep_word(w[1], p) << 1 |
           (uint32_t)ds_philox_keep_word(w[2], p) << 2 | (uint32_t)ds_philox_keep_word(w[3], p) << 3;
}

#endif
