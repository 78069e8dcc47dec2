// Elementwise maps over F32 or BF16 device arrays, in both kernel variants:
//   map1: y[i] = f(x[i]);   map2: y[i] = f(a[i], b[i]).
// Values are read as fp32, f computes in fp32, and the result is rounded once on store.
// PLAIN: grid-stride loop, one element per step.
// FAST:  grid-stride loop over 16-byte vectors (4 floats / 8 bf16) when every pointer is 16-byte
//        aligned, the tail (n mod width) element by element; otherwise the PLAIN kernel.
// Each element is read and written by the same thread in one step, so y may be the same memory
// as an input (add's y = a + b in place); no __restrict__ here for that reason.
// A functor is a small struct with __device__ float operator()(float) const (map1) or
// (float, float) const (map2).
#ifndef DS_ELEMENTWISE_CUH
#define DS_ELEMENTWISE_CUH

#include "cuda_state.cuh"
#include "vec_io.cuh"

template <typename T, class F>
__global__ void ds_map1_plain_kernel(const T *x, T *y, int64_t n, F f) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        ds_st(y, i, f(ds_ld(x, i)));
}

template <typename T, class F>
__global__ void ds_map2_plain_kernel(const T *a, const T *b, T *y, int64_t n, F f) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        ds_st(y, i, f(ds_ld(a, i), ds_ld(b, i)));
}

template <typename T, class F>
__global__ void ds_map1_fast_kernel(const T *x, T *y, int64_t n, F f) {
    constexpr int W = ds_vec16<T>();
    const int64_t nv = n / W, stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t j = tid; j < nv; j += stride) {
        float v[W];
        ds_ld_vec<T, W>(x + j * W, v);
#pragma unroll
        for (int w = 0; w < W; w++) v[w] = f(v[w]);
        ds_st_vec<T, W>(y + j * W, v);
    }
    for (int64_t i = nv * W + tid; i < n; i += stride) ds_st(y, i, f(ds_ld(x, i)));
}

template <typename T, class F>
__global__ void ds_map2_fast_kernel(const T *a, const T *b, T *y, int64_t n, F f) {
    constexpr int W = ds_vec16<T>();
    const int64_t nv = n / W, stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t j = tid; j < nv; j += stride) {
        float va[W], vb[W];
        ds_ld_vec<T, W>(a + j * W, va);
        ds_ld_vec<T, W>(b + j * W, vb);
#pragma unroll
        for (int w = 0; w < W; w++) va[w] = f(va[w], vb[w]);
        ds_st_vec<T, W>(y + j * W, va);
    }
    for (int64_t i = nv * W + tid; i < n; i += stride) ds_st(y, i, f(ds_ld(a, i), ds_ld(b, i)));
}

// y (n) = f(x (n)), dtype dt (F32 or BF16), device, on ctx's stream.
template <typename T, class F>
static ds_status ds_map1_typed(ds_context *ctx, const void *x, void *y, int64_t n, F f) {
    ds_cuda_state *cu = ctx->cuda;
    const unsigned threads = 256;
    if (cu->opt.kernels == DS_KERNELS_FAST && ds_cuda_aligned(x, 16) && ds_cuda_aligned(y, 16)) {
        const int64_t nv = n / ds_vec16<T>();
        ds_map1_fast_kernel<T, F><<<ds_cuda_blocks(nv > 0 ? nv : n, threads), threads, 0, cu->stream>>>(
            (const T *)x, (T *)y, n, f);
    } else {
        ds_map1_plain_kernel<T, F><<<ds_cuda_blocks(n, threads), threads, 0, cu->stream>>>((const T *)x, (T *)y, n, f);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

template <class F>
static ds_status ds_map1(ds_context *ctx, ds_dtype dt, const void *x, void *y, int64_t n, F f) {
    if (n == 0) return DS_OK;
    return dt == DS_BF16 ? ds_map1_typed<__nv_bfloat16>(ctx, x, y, n, f) : ds_map1_typed<float>(ctx, x, y, n, f);
}

// y (n) = f(a (n), b (n)), dtype dt (F32 or BF16), device, on ctx's stream.
template <typename T, class F>
static ds_status ds_map2_typed(ds_context *ctx, const void *a, const void *b, void *y, int64_t n, F f) {
    ds_cuda_state *cu = ctx->cuda;
    const unsigned threads = 256;
    if (cu->opt.kernels == DS_KERNELS_FAST && ds_cuda_aligned(a, 16) && ds_cuda_aligned(b, 16) &&
        ds_cuda_aligned(y, 16)) {
        const int64_t nv = n / ds_vec16<T>();
        ds_map2_fast_kernel<T, F><<<ds_cuda_blocks(nv > 0 ? nv : n, threads), threads, 0, cu->stream>>>(
            (const T *)a, (const T *)b, (T *)y, n, f);
    } else {
        ds_map2_plain_kernel<T, F><<<ds_cuda_blocks(n, threads), threads, 0, cu->stream>>>((const T *)a, (const T *)b,
                                                                                            (T *)y, n, f);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

template <class F>
static ds_status ds_map2(ds_context *ctx, ds_dtype dt, const void *a, const void *b, void *y, int64_t n, F f) {
    if (n == 0) return DS_OK;
    return dt == DS_BF16 ? ds_map2_typed<__nv_bfloat16>(ctx, a, b, y, n, f)
                         : ds_map2_typed<float>(ctx, a, b, y, n, f);
}

#endif
