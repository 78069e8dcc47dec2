// Vectorised loads and stores of F32 or BF16 storage as fp32 values: VEC consecutive elements
// moved as one aligned access (16 bytes for 4 floats or 8 bf16; 8 bytes for 4 bf16), or as two
// 16-byte accesses for 8 floats (F32 parameters read in the vector width of a BF16 activation).
// The caller guarantees the alignment (ds_cuda_aligned on the host and an element offset that is a
// multiple of VEC). Conversions are those of ds_ld / ds_st: bf16 widens exactly, and a store rounds
// to bf16 once (nearest even).
#ifndef DS_CUDA_VEC_IO_CUH
#define DS_CUDA_VEC_IO_CUH

#include <stddef.h>
#include <stdint.h>

#include "cuda_state.cuh"

// True when device pointer p is aligned to `bytes` (vectorised loads need it). Host code.
static inline bool ds_cuda_aligned(const void *p, size_t bytes) { return ((uintptr_t)p % bytes) == 0; }

// Elements of T per 16-byte access: 4 floats or 8 bf16.
template <typename T>
__host__ __device__ constexpr int ds_vec16() {
    return (int)(16 / sizeof(T));
}

// VEC elements of T moved as one unit; aligned to its size up to 16 bytes (a larger pack, 8 floats,
// is two 16-byte accesses and needs only 16-byte alignment).
template <typename T, int VEC>
struct alignas(sizeof(T) * VEC < 16 ? sizeof(T) * VEC : 16) ds_pack {
    T v[VEC];
};

// out[e] = p[e], e < VEC; p: device, aligned as ds_pack<T, VEC>.
template <typename T, int VEC>
static __device__ __forceinline__ void ds_ld_vec(const T *p, float *out) {
    const ds_pack<T, VEC> pk = *reinterpret_cast<const ds_pack<T, VEC> *>(p);
#pragma unroll
    for (int e = 0; e < VEC; e++) out[e] = ds_ld(pk.v, e);
}

// p[e] = in[e], rounded once to T, e < VEC; p: device, aligned as above.
template <typename T, int VEC>
static __device__ __forceinline__ void ds_st_vec(T *p, const float *in) {
    ds_pack<T, VEC> pk;
#pragma unroll
    for (int e = 0; e < VEC; e++) ds_st(pk.v, e, in[e]);
    *reinterpret_cast<ds_pack<T, VEC> *>(p) = pk;
}

// p[e] = in[e] * scale, rounded once to T, e < VEC; p: device, aligned as above.
template <typename T, int VEC>
static __device__ __forceinline__ void ds_st_vec(T *p, const float *in, float scale) {
    ds_pack<T, VEC> pk;
#pragma unroll
    for (int e = 0; e < VEC; e++) ds_st(pk.v, e, in[e] * scale);
    *reinterpret_cast<ds_pack<T, VEC> *>(p) = pk;
}

#endif
