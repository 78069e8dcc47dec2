// Channel slice copy on CUDA (concatenation along channels and its backward); the CPU reference
// is kernels/cpu/channel_copy.c: dst[:, dst_c0 + i] (+)= src[:, src_c0 + i] for i < channels.
// F32 or BF16 (one dtype); with accumulate the sum is taken in fp32 and rounded once. Per image the
// slice is one contiguous run of channels * H * W elements on both sides.
//   PLAIN: one element per step of a grid-stride loop over N * run elements.
//   FAST:  16-byte vectors (4 F32 / 8 BF16) when the run, both channel strides (Cs*HW, Cd*HW)
//          and both slice offsets are multiples of the vector width and both pointers are
//          16-byte aligned (so every vector is aligned and inside one image); otherwise PLAIN.
#include "cuda_state.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "cuda_ops.h"
}

struct copy_geom {
    int64_t run;            // channels * HW: elements per image on both sides
    int64_t src_img, dst_img;  // Cs * HW, Cd * HW
    int64_t src_off, dst_off;  // src_c0 * HW, dst_c0 * HW
    int64_t total;          // N * run
    bool accumulate;
};

// src, dst: device; the run of image n starts at n*src_img + src_off and n*dst_img + dst_off.
template <typename T>
__global__ void channel_copy_plain(const T *src, T *dst, copy_geom g) {
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < g.total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = e / g.run, i = e - n * g.run;
        const int64_t s = n * g.src_img + g.src_off + i, d = n * g.dst_img + g.dst_off + i;
        ds_st(dst, d, g.accumulate ? ds_ld(dst, d) + ds_ld(src, s) : ds_ld(src, s));
    }
}

template <typename T>
__global__ void channel_copy_fast(const T *src, T *dst, copy_geom g) {
    constexpr int W = ds_vec16<T>();
    const int64_t nv = g.total / W, run_v = g.run / W;
    for (int64_t v = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; v < nv; v += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = v / run_v, i = (v - n * run_v) * W;
        const T *s = src + n * g.src_img + g.src_off + i;
        T *d = dst + n * g.dst_img + g.dst_off + i;
        if (!g.accumulate) {  // a plain copy moves the bits
            *reinterpret_cast<ds_pack<T, W> *>(d) = *reinterpret_cast<const ds_pack<T, W> *>(s);
            continue;
        }
        float a[W], b[W];
        ds_ld_vec<T, W>(d, a);
        ds_ld_vec<T, W>(s, b);
#pragma unroll
        for (int k = 0; k < W; k++) a[k] += b[k];
        ds_st_vec<T, W>(d, a);
    }
}

template <typename T>
static ds_status launch(ds_context *ctx, const void *src, void *dst, const copy_geom &g) {
    ds_cuda_state *cu = ctx->cuda;
    const unsigned threads = 256;
    constexpr int W = ds_vec16<T>();
    const bool fast = cu->opt.kernels == DS_KERNELS_FAST && g.run % W == 0 && g.src_img % W == 0 &&
                      g.dst_img % W == 0 && g.src_off % W == 0 && g.dst_off % W == 0 && ds_cuda_aligned(src, 16) &&
                      ds_cuda_aligned(dst, 16);
    if (fast)
        channel_copy_fast<T><<<ds_cuda_blocks(g.total / W, threads), threads, 0, cu->stream>>>((const T *)src, (T *)dst, g);
    else
        channel_copy_plain<T><<<ds_cuda_blocks(g.total, threads), threads, 0, cu->stream>>>((const T *)src, (T *)dst, g);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_channel_copy(ds_context *ctx, const void *args) {
    const ds_channel_copy_args *a = (const ds_channel_copy_args *)args;
    const char *op = "channel_copy";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_err *err = &ctx->err;
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "src", &a->src, 4, &dt));
    const int64_t N = a->src.shape[0], Cs = a->src.shape[1], H = a->src.shape[2], W = a->src.shape[3];
    const int64_t want[4] = {N, -1, H, W};
    DS_TRY(ds_cuda_check(ctx, op, "dst", &a->dst, dt, 4, want));
    const int64_t Cd = a->dst.shape[1], k = a->channels;
    DS_REQUIRE(err, k >= 0 && a->src_c0 >= 0 && a->dst_c0 >= 0 && a->src_c0 + k <= Cs && a->dst_c0 + k <= Cd,
               DS_ERR_INVALID_ARG,
               "%s: channels [%lld, %lld) of src (%lld channels) into [%lld, %lld) of dst (%lld channels) are out of "
               "range",
               op, (long long)a->src_c0, (long long)(a->src_c0 + k), (long long)Cs, (long long)a->dst_c0,
               (long long)(a->dst_c0 + k), (long long)Cd);
    const size_t es = ds_dtype_size(dt);
    const char *s = (const char *)a->src.data, *d = (const char *)a->dst.data;
    DS_REQUIRE(err, d + (size_t)(N * Cd * H * W) * es <= s || s + (size_t)(N * Cs * H * W) * es <= d,
               DS_ERR_INVALID_ARG, "%s: src and dst overlap", op);
    const int64_t HW = H * W;
    const copy_geom g = {k * HW, Cs * HW, Cd * HW, a->src_c0 * HW, a->dst_c0 * HW, N * k * HW, a->accumulate};
    if (g.total == 0) return DS_OK;
    if (dt == DS_BF16) return launch<__nv_bfloat16>(ctx, a->src.data, a->dst.data, g);
    return launch<float>(ctx, a->src.data, a->dst.data, g);
}
