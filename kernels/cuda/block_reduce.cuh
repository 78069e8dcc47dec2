// Warp and block reductions in a fixed order (butterfly shuffles, then one warp over the warps'
// results), so that a reduction gives the same bits on every run: the basis of ctx->deterministic
// for the row-wise ops, layer norm and the losses. Device code only; 1-D blocks, blockDim.x a
// multiple of 32 (<= 1024), all lanes active.
#ifndef DS_CUDA_BLOCK_REDUCE_CUH
#define DS_CUDA_BLOCK_REDUCE_CUH

#include <cuda_runtime.h>
#include <math.h>

// Sum over the 32 lanes; every lane gets the result.
template <typename T>
static __device__ __forceinline__ T ds_warp_sum(T v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Max over the 32 lanes (NaN-ignoring, like the CPU's `x > mx ? x : mx`); every lane gets it.
static __device__ __forceinline__ float ds_warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block; every thread gets the result. Order: each warp's butterfly, then warp 0's
// butterfly over the per-warp sums (missing warps count as 0). sh: >= 33 elements of __shared__
// memory (slots 0..31 per warp, slot 32 the result), reused across calls (the two barriers make
// back-to-back calls safe: the next call writes slot 32 only after its first barrier).
template <typename T>
static __device__ __forceinline__ T ds_block_sum(T v, T *sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = ds_warp_sum(v);
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        T w = lane < warps ? sh[lane] : T(0);
        w = ds_warp_sum(w);
        if (lane == 0) sh[32] = w;
    }
    __syncthreads();
    return sh[32];
}

// Max over the block; every thread gets the result. sh as for ds_block_sum.
static __device__ __forceinline__ float ds_block_max(float v, float *sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = ds_warp_max(v);
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float w = lane < warps ? sh[lane] : -INFINITY;
        w = ds_warp_max(w);
        if (lane == 0) sh[32] = w;
    }
    __syncthreads();
    return sh[32];
}

// Online softmax state: running max m and sum s of exp(x - m) over the values seen so far.
// (m, s) = (-inf, 0) is the empty state.
static __device__ __forceinline__ void ds_online_add(float &m, float &s, float x) {
    if (x > m) {  // new max: rescale what was summed (exp(-inf) = 0 covers the empty state)
        s = s * expf(m - x) + 1.0f;
        m = x;
    } else if (m != -INFINITY) {  // (x = -inf with m = -inf would give exp(NaN))
        s += expf(x - m);
    } else {
        s += x == x ? 0.0f : x;  // NaN propagates into the sum, as exp(NaN - mx) does on the CPU
    }
}

// Merges state (m2, s2) into (m, s).
static __device__ __forceinline__ void ds_online_merge(float &m, float &s, float m2, float s2) {
    const float mx = fmaxf(m, m2);
    if (mx == -INFINITY) {  // both empty (or all -inf): keep s + s2 (0, or NaN when a NaN was seen)
        s = s + s2;
        return;
    }
    s = s * expf(m - mx) + s2 * expf(m2 - mx);
    m = mx;
}

// Merges the lanes' states; every lane gets the warp's (m, s).
static __device__ __forceinline__ void ds_warp_online(float &m, float &s) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        ds_online_merge(m, s, m2, s2);
    }
}

// Merges the block's states; every thread gets the block's (m, s). shm, shs: >= 33 floats each.
static __device__ __forceinline__ void ds_block_online(float &m, float &s, float *shm, float *shs) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    ds_warp_online(m, s);
    if (lane == 0) {
        shm[warp] = m;
        shs[warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
        float wm = lane < warps ? shm[lane] : -INFINITY, ws = lane < warps ? shs[lane] : 0.0f;
        ds_warp_online(wm, ws);
        if (lane == 0) {
            shm[32] = wm;
            shs[32] = ws;
        }
    }
    __syncthreads();
    m = shm[32];
    s = shs[32];
}

#endif
