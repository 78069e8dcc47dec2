// Device helpers shared by the FAST kernels of linear, layer norm, activations and layout:
// 16-byte vector loads/stores of F32 or BF16 storage as fp32 values, and fixed-order warp and
// block sums (fixed order: the result is the same every run, as ctx->deterministic asks).
#ifndef DS_KERNEL_UTIL_CUH
#define DS_KERNEL_UTIL_CUH

#include <stdint.h>
#include <string.h>

#include "cuda_state.cuh"

// Elements of T in one 16-byte vector: 4 floats or 8 bf16.
template <typename T>
struct ds_vec16 {
    static constexpr int width = 16 / (int)sizeof(T);
};

// True when p is 16-byte aligned (so that vector j of p can be read as one 16-byte access).
static inline bool ds_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

// Vector j (elements 4j..4j+3 / 8j..8j+7) of p, a 16-byte aligned device array, as floats.
__device__ __forceinline__ void ds_ld_vec(const float *p, int64_t j, float (&v)[4]) {
    const float4 q = reinterpret_cast<const float4 *>(p)[j];
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
}
__device__ __forceinline__ void ds_ld_vec(const __nv_bfloat16 *p, int64_t j, float (&v)[8]) {
    const uint4 q = reinterpret_cast<const uint4 *>(p)[j];
    __nv_bfloat162 h[4];
    memcpy(h, &q, sizeof q);  // reinterpret the 16 bytes as 4 bf16 pairs without aliasing UB
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const float2 f = __bfloat1622float2(h[i]);
        v[2 * i] = f.x, v[2 * i + 1] = f.y;
    }
}
// F32 parameters (gamma, beta) read in the vector width of a BF16 activation: 8 floats = two
// 16-byte accesses (p must be 16-byte aligned).
__device__ __forceinline__ void ds_ld_vec(const float *p, int64_t j, float (&v)[8]) {
    const float4 a = reinterpret_cast<const float4 *>(p)[2 * j], b = reinterpret_cast<const float4 *>(p)[2 * j + 1];
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

// Stores v as vector j of p (16-byte aligned), rounding to bf16 once (nearest even) for BF16.
__device__ __forceinline__ void ds_st_vec(float *p, int64_t j, const float (&v)[4]) {
    reinterpret_cast<float4 *>(p)[j] = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void ds_st_vec(__nv_bfloat16 *p, int64_t j, const float (&v)[8]) {
    __nv_bfloat162 h[4];
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    uint4 q;
    memcpy(&q, h, sizeof q);
    reinterpret_cast<uint4 *>(p)[j] = q;
}

// Sum over the 32 lanes of a warp (all lanes active); every lane gets the same value, from the
// same butterfly order every run.
__device__ __forceinline__ float ds_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the threads of a block (blockDim.x a multiple of 32, at most 1024, 1-D); every thread
// gets the result. `red` is __shared__ float[32]. Fixed order: warp butterflies, then warp 0
// sums the per-warp values. Ends with a barrier so `red` may be reused right after.
__device__ __forceinline__ float ds_block_sum(float v, float *red) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = ds_warp_sum(v);
    if (lane == 0) red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < warps ? red[lane] : 0.f;
        s = ds_warp_sum(s);
        if (lane == 0) red[0] = s;
    }
    __syncthreads();
    const float r = red[0];
    __syncthreads();
    return r;
}

#endif
