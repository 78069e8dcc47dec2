// Vectorised loads and stores of F32 or BF16 storage as fp32 values: VEC consecutive elements
// moved as one aligned access (16 bytes for 4 floats or 8 bf16). The caller guarantees the
// alignment (ds_cuda_aligned on the host and an element offset that is a multiple of VEC).
#ifndef DS_CUDA_VEC_IO_CUH
#define DS_CUDA_VEC_IO_CUH

#include "cuda_state.cuh"

template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) ds_pack {
    T v[VEC];
};

// out[e] = p[e], e < VEC; p: device, aligned to sizeof(T) * VEC.
template <typename T, int VEC>
static __device__ __forceinline__ void ds_ld_vec(const T *p, float *out) {
    const ds_pack<T, VEC> pk = *reinterpret_cast<const ds_pack<T, VEC> *>(p);
#pragma unroll
    for (int e = 0; e < VEC; e++) out[e] = ds_ld(pk.v, e);
}

// p[e] = in[e] * scale, rounded once to T, e < VEC; p: device, aligned as above.
template <typename T, int VEC>
static __device__ __forceinline__ void ds_st_vec(T *p, const float *in, float scale) {
    ds_pack<T, VEC> pk;
#pragma unroll
    for (int e = 0; e < VEC; e++) ds_st(pk.v, e, in[e] * scale);
    *reinterpret_cast<ds_pack<T, VEC> *>(p) = pk;
}

// Elements per 16-byte access.
template <typename T>
constexpr int ds_vec16() {
    return (int)(16 / sizeof(T));
}

#endif
