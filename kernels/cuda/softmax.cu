// Softmax over the last dim on CUDA, forward and backward (the CPU reference is
// kernels/cpu/softmax_impl.inc). x, y, dy, dx: (N, C) device, row-major, all F32 or all BF16;
// every value is computed in fp32 and rounded once on store.
//   PLAIN: one block of 256 threads per row; three passes over the row (max, sum of exp, write).
//   FAST:  rows of C <= 1024: one warp per row, the row held in registers (read once, written
//          once), 16-byte loads/stores when C and the pointers allow; longer rows run the PLAIN
//          kernel (a block per row is the right shape for them).
// Reductions are fixed-order trees (block_reduce.cuh): the result is identical on every run.
#include "block_reduce.cuh"
#include "cuda_state.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "cuda_ops.h"
}

#define SOFTMAX_BLOCK 256      // PLAIN: threads per row
#define SOFTMAX_WARP_COLS 1024 // FAST: the longest row a warp keeps in registers (32 floats a lane)

// ---- PLAIN: one block per row (grid-stride over rows) ----

// y = softmax(x) per row. x, y: (n, c) device; may be the same buffer (each element is read
// before the same thread writes it).
template <typename T>
__global__ void softmax_fwd_block(const T *x, T *y, int64_t n, int64_t c) {
    __shared__ float sh[33];
    for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
        const T *xr = x + row * c;
        T *yr = y + row * c;
        float mx = -INFINITY;
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) mx = fmaxf(mx, ds_ld(xr, j));
        mx = ds_block_max(mx, sh);
        float sum = 0.0f;
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) sum += expf(ds_ld(xr, j) - mx);
        sum = ds_block_sum(sum, sh);
        const float inv = 1.0f / sum;
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) ds_st(yr, j, expf(ds_ld(xr, j) - mx) * inv);
    }
}

// dx = y (dy - sum_j dy_j y_j) per row. y, dy, dx: (n, c) device.
template <typename T>
__global__ void softmax_bwd_block(const T *y, const T *dy, T *dx, int64_t n, int64_t c) {
    __shared__ float sh[33];
    for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
        const T *yr = y + row * c, *dyr = dy + row * c;
        T *dxr = dx + row * c;
        float dot = 0.0f;
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) dot += ds_ld(dyr, j) * ds_ld(yr, j);
        dot = ds_block_sum(dot, sh);
        for (int64_t j = threadIdx.x; j < c; j += blockDim.x) ds_st(dxr, j, ds_ld(yr, j) * (ds_ld(dyr, j) - dot));
    }
}

// ---- FAST: one warp per row of c <= SOFTMAX_WARP_COLS, the row in registers ----
// Lane `lane` holds chunks k = 0 .. CHUNKS-1 of VEC consecutive elements starting at column
// (k*32 + lane)*VEC. With c % VEC == 0 a chunk is either wholly inside the row or wholly outside.

template <typename T, int VEC>
__global__ void softmax_fwd_warp(const T *x, T *y, int64_t n, int c) {
    constexpr int CHUNKS = SOFTMAX_WARP_COLS / (32 * VEC);
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); row < n; row += warps) {
        const T *xr = x + row * c;
        T *yr = y + row * c;
        float v[CHUNKS][VEC];
        float mx = -INFINITY;
#pragma unroll
        for (int k = 0; k < CHUNKS; k++) {
            const int col = (k * 32 + lane) * VEC;
            if (col < c) {
                ds_ld_vec<T, VEC>(xr + col, v[k]);
#pragma unroll
                for (int e = 0; e < VEC; e++) mx = fmaxf(mx, v[k][e]);
            }
        }
        mx = ds_warp_max(mx);
        float sum = 0.0f;
#pragma unroll
        for (int k = 0; k < CHUNKS; k++) {
            if ((k * 32 + lane) * VEC < c) {
#pragma unroll
                for (int e = 0; e < VEC; e++) {
                    v[k][e] = expf(v[k][e] - mx);
                    sum += v[k][e];
                }
            }
        }
        sum = ds_warp_sum(sum);
        const float inv = 1.0f / sum;
#pragma unroll
        for (int k = 0; k < CHUNKS; k++) {
            const int col = (k * 32 + lane) * VEC;
            if (col < c) ds_st_vec<T, VEC>(yr + col, v[k], inv);
        }
    }
}

template <typename T, int VEC>
__global__ void softmax_bwd_warp(const T *y, const T *dy, T *dx, int64_t n, int c) {
    constexpr int CHUNKS = SOFTMAX_WARP_COLS / (32 * VEC);
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); row < n; row += warps) {
        const T *yr = y + row * c, *dyr = dy + row * c;
        T *dxr = dx + row * c;
        float yv[CHUNKS][VEC], gv[CHUNKS][VEC];
        float dot = 0.0f;
#pragma unroll
        for (int k = 0; k < CHUNKS; k++) {
            const int col = (k * 32 + lane) * VEC;
            if (col < c) {
                ds_ld_vec<T, VEC>(yr + col, yv[k]);
                ds_ld_vec<T, VEC>(dyr + col, gv[k]);
#pragma unroll
                for (int e = 0; e < VEC; e++) dot += gv[k][e] * yv[k][e];
            }
        }
        dot = ds_warp_sum(dot);
#pragma unroll
        for (int k = 0; k < CHUNKS; k++) {
            const int col = (k * 32 + lane) * VEC;
            if (col < c) {
#pragma unroll
                for (int e = 0; e < VEC; e++) gv[k][e] = yv[k][e] * (gv[k][e] - dot);
                ds_st_vec<T, VEC>(dxr + col, gv[k]);
            }
        }
    }
}

// ---- launches ----

// True when the FAST warp kernels may use VEC-wide accesses on every row of these tensors.
template <typename T>
static bool rows_vectorisable(int64_t c, const void *a, const void *b, const void *d) {
    const int vec = ds_vec16<T>();
    return c % vec == 0 && ds_cuda_aligned(a, 16) && ds_cuda_aligned(b, 16) && (d == NULL || ds_cuda_aligned(d, 16));
}

template <typename T>
static ds_status launch_fwd(ds_context *ctx, ds_cuda_state *s, const T *x, T *y, int64_t n, int64_t c) {
    if (s->opt.kernels == DS_KERNELS_FAST && c <= SOFTMAX_WARP_COLS) {
        const unsigned blocks = ds_cuda_grid(n, SOFTMAX_BLOCK / 32);
        if (rows_vectorisable<T>(c, x, y, NULL))
            softmax_fwd_warp<T, ds_vec16<T>()><<<blocks, SOFTMAX_BLOCK, 0, s->stream>>>(x, y, n, (int)c);
        else
            softmax_fwd_warp<T, 1><<<blocks, SOFTMAX_BLOCK, 0, s->stream>>>(x, y, n, (int)c);
    } else {
        softmax_fwd_block<T><<<ds_cuda_grid(n, 1), SOFTMAX_BLOCK, 0, s->stream>>>(x, y, n, c);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

template <typename T>
static ds_status launch_bwd(ds_context *ctx, ds_cuda_state *s, const T *y, const T *dy, T *dx, int64_t n,
                            int64_t c) {
    if (s->opt.kernels == DS_KERNELS_FAST && c <= SOFTMAX_WARP_COLS) {
        const unsigned blocks = ds_cuda_grid(n, SOFTMAX_BLOCK / 32);
        if (rows_vectorisable<T>(c, y, dy, dx))
            softmax_bwd_warp<T, ds_vec16<T>()><<<blocks, SOFTMAX_BLOCK, 0, s->stream>>>(y, dy, dx, n, (int)c);
        else
            softmax_bwd_warp<T, 1><<<blocks, SOFTMAX_BLOCK, 0, s->stream>>>(y, dy, dx, n, (int)c);
    } else {
        softmax_bwd_block<T><<<ds_cuda_grid(n, 1), SOFTMAX_BLOCK, 0, s->stream>>>(y, dy, dx, n, c);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_softmax_forward(ds_context *ctx, const void *args) {
    const ds_softmax_fwd_args *a = (const ds_softmax_fwd_args *)args;
    const char *op = "softmax_forward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, 2, &dt));
    const int64_t n = a->x.shape[0], c = a->x.shape[1];
    DS_TRY(ds_cuda_check_extents(ctx, op, "y", &a->y, dt, 2, n, c));
    if (n == 0 || c == 0) return DS_OK;
    if (dt == DS_F32) return launch_fwd(ctx, s, (const float *)a->x.data, (float *)a->y.data, n, c);
    return launch_fwd(ctx, s, (const __nv_bfloat16 *)a->x.data, (__nv_bfloat16 *)a->y.data, n, c);
}

extern "C" ds_status ds_cuda_softmax_backward(ds_context *ctx, const void *args) {
    const ds_softmax_bwd_args *a = (const ds_softmax_bwd_args *)args;
    const char *op = "softmax_backward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dy", &a->dy, 2, &dt));
    const int64_t n = a->dy.shape[0], c = a->dy.shape[1];
    DS_TRY(ds_cuda_check_extents(ctx, op, "y", &a->y, dt, 2, n, c));
    DS_TRY(ds_cuda_check_extents(ctx, op, "dx", &a->dx, dt, 2, n, c));
    if (n == 0 || c == 0) return DS_OK;
    if (dt == DS_F32)
        return launch_bwd(ctx, s, (const float *)a->y.data, (const float *)a->dy.data, (float *)a->dx.data, n, c);
    return launch_bwd(ctx, s, (const __nv_bfloat16 *)a->y.data, (const __nv_bfloat16 *)a->dy.data,
                      (__nv_bfloat16 *)a->dx.data, n, c);
}
