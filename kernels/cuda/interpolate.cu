// Bilinear interpolation on CUDA (torch.nn.functional.interpolate(size=, mode="bilinear")),
// forward and backward; the CPU reference is kernels/cpu/interpolate_impl.inc. x, y, dy, dx F32
// or BF16 (one dtype per call); fp32 math, rounded once on store.
//
// Both passes reproduce the CPU's F32 arithmetic operation for operation: the source index and
// weights of an output index come from the same expression (torch's, the unaligned one in
// double), products and sums are __fmul_rn / __fadd_rn (no FMA contraction), in the same order.
//   forward:  one thread per output element.
//   backward: a gather, one thread per input cell (no atomics): the outputs whose source rows
//             hold the cell form a contiguous range (the source index is non-decreasing in the
//             output index), found by binary search; the cell adds each output's term in output
//             order and, within one output, in the CPU's order (r0w0, r0w1, r1w0, r1w1), so the
//             F32 sum is the CPU scatter's bit for bit, and in BF16 it is rounded once.
//   PLAIN computes every source index where it needs it; FAST first writes each axis's sources
//   (index pair and weights, 16 bytes per output row or column) into ctx->cuda->scratch when
//   OH + OW <= 65536 entries fit there (else PLAIN), and reads them back.
#include <math.h>

#include "cuda_state.cuh"
#include "op_checks.cuh"

extern "C" {
#include "cuda_ops.h"
}

// The sources of output index dst along one axis of in -> out.
struct src1d {
    int32_t i0, i1;
    float l0, l1;
};

// torch's area_pixel_compute_scale for a size given (no scale factor), in float.
static __host__ __device__ float axis_scale(int64_t in, int64_t out, bool align) {
    if (align) return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    return (float)in / (float)out;
}

// The CPU's RFN(source) for float (kernels/cpu/interpolate_impl.inc).
static __device__ __forceinline__ src1d axis_source(float scale, int64_t dst, int64_t in, int64_t out, bool align) {
    src1d r;
    if (in == out) {
        r.i0 = r.i1 = (int32_t)dst;
        r.l0 = 1.0f, r.l1 = 0.0f;
        return r;
    }
    float src = align ? __fmul_rn(scale, (float)dst) : (float)((double)scale * ((double)dst + 0.5) - 0.5);
    if (!align && src < 0) src = 0;
    int64_t f = (int64_t)floorf(src);
    if (f > in - 1) f = in - 1;
    float l = __fsub_rn(src, (float)f);
    l = l < 0 ? 0.0f : l > 1 ? 1.0f : l;
    r.i0 = (int32_t)f;
    r.i1 = (int32_t)(f + (f < in - 1 ? 1 : 0));
    r.l1 = l;
    r.l0 = __fsub_rn(1.0f, l);
    return r;
}

struct interp_geom {
    int64_t planes, H, W, OH, OW;  // input (H, W), output (OH, OW)
    float sh, sw;                   // axis scales
    bool align;
    const src1d *rows, *cols;       // FAST: (OH) and (OW) precomputed sources in the scratch; NULL: compute
};

static __device__ __forceinline__ src1d row_src(const interp_geom &g, int64_t oh) {
    return g.rows ? g.rows[oh] : axis_source(g.sh, oh, g.H, g.OH, g.align);
}
static __device__ __forceinline__ src1d col_src(const interp_geom &g, int64_t ow) {
    return g.cols ? g.cols[ow] : axis_source(g.sw, ow, g.W, g.OW, g.align);
}

// FAST's tables: rows[oh] for oh < OH, then cols[ow] for ow < OW.
__global__ void interp_tables(src1d *rows, src1d *cols, interp_geom g) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < g.OH) rows[i] = axis_source(g.sh, i, g.H, g.OH, g.align);
    else if (i < g.OH + g.OW) cols[i - g.OH] = axis_source(g.sw, i - g.OH, g.W, g.OW, g.align);
}

// y (planes, OH, OW) = bilinear samples of x (planes, H, W): along W in each row, then along H.
template <typename T>
__global__ void interp_fwd(const T *x, T *y, interp_geom g) {
    const int64_t total = g.planes * g.OH * g.OW;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
        const int64_t nc = o / (g.OH * g.OW), r = o - nc * g.OH * g.OW, oh = r / g.OW, ow = r - oh * g.OW;
        const src1d a = row_src(g, oh), b = col_src(g, ow);
        const T *r0 = x + (nc * g.H + a.i0) * g.W, *r1 = x + (nc * g.H + a.i1) * g.W;
        const float top = __fadd_rn(__fmul_rn(ds_ld(r0, b.i0), b.l0), __fmul_rn(ds_ld(r0, b.i1), b.l1));
        const float bot = __fadd_rn(__fmul_rn(ds_ld(r1, b.i0), b.l0), __fmul_rn(ds_ld(r1, b.i1), b.l1));
        ds_st(y, o, __fadd_rn(__fmul_rn(top, a.l0), __fmul_rn(bot, a.l1)));
    }
}

// The outputs [*lo, *hi) along one axis whose sources hold input index h: those with i0 in
// {h - 1, h} (i1 is i0 or i0 + 1), found by binary search on the non-decreasing i0.
template <bool ROWS>
static __device__ __forceinline__ void outputs_of(const interp_geom &g, int64_t h, int64_t out, int64_t *lo,
                                                  int64_t *hi) {
    int64_t a = 0, b = out;  // first index with i0 >= h - 1
    while (a < b) {
        const int64_t m = (a + b) / 2;
        if ((ROWS ? row_src(g, m) : col_src(g, m)).i0 < h - 1) a = m + 1;
        else b = m;
    }
    *lo = a;
    b = out;  // first index with i0 > h
    while (a < b) {
        const int64_t m = (a + b) / 2;
        if ((ROWS ? row_src(g, m) : col_src(g, m)).i0 <= h) a = m + 1;
        else b = m;
    }
    *hi = a;
}

// dx (planes, H, W): the adjoint of interp_fwd as a gather (see the top). dy: (planes, OH, OW).
template <typename T>
__global__ void interp_bwd(const T *dy, T *dx, interp_geom g) {
    const int64_t total = g.planes * g.H * g.W;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t nc = e / (g.H * g.W), hw = e - nc * g.H * g.W, h = hw / g.W, w = hw - h * g.W;
        int64_t oh0, oh1, ow0, ow1;
        outputs_of<true>(g, h, g.OH, &oh0, &oh1);
        outputs_of<false>(g, w, g.OW, &ow0, &ow1);
        const T *gp = dy + nc * g.OH * g.OW;
        float acc = 0.0f;
        for (int64_t oh = oh0; oh < oh1; oh++) {
            const src1d a = row_src(g, oh);
            if (a.i0 != h && a.i1 != h) continue;
            for (int64_t ow = ow0; ow < ow1; ow++) {
                const src1d b = col_src(g, ow);
                if (b.i0 != w && b.i1 != w) continue;
                const float v = ds_ld(gp, oh * g.OW + ow);
                if (a.i0 == h && b.i0 == w) acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(a.l0, b.l0), v));
                if (a.i0 == h && b.i1 == w) acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(a.l0, b.l1), v));
                if (a.i1 == h && b.i0 == w) acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(a.l1, b.l0), v));
                if (a.i1 == h && b.i1 == w) acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(a.l1, b.l1), v));
            }
        }
        ds_st(dx, e, acc);
    }
}

// in: (N, C, H, W) side read, out: the side written; same N, C and dtype.
static ds_status check(ds_context *ctx, const char *op, const ds_interpolate_args *a, ds_dtype *dt) {
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, 4, dt));
    const int64_t want[4] = {a->x.shape[0], a->x.shape[1], -1, -1};
    DS_TRY(ds_cuda_check(ctx, op, "y", &a->y, *dt, 4, want));
    DS_REQUIRE(&ctx->err, a->mode == DS_INTERP_BILINEAR, DS_ERR_UNSUPPORTED,
               "%s: mode %d is not supported (bilinear only)", op, (int)a->mode);
    for (int i = 2; i < 4; i++)
        DS_REQUIRE(&ctx->err, a->x.shape[i] >= 1 && a->y.shape[i] >= 1, DS_ERR_INVALID_ARG, "%s: empty spatial size",
                   op);
    DS_REQUIRE(&ctx->err, a->x.shape[2] <= INT32_MAX && a->x.shape[3] <= INT32_MAX && a->y.shape[2] <= INT32_MAX &&
                              a->y.shape[3] <= INT32_MAX,
               DS_ERR_INVALID_ARG, "%s: spatial sizes above 2^31", op);
    return DS_OK;
}

// Fills g's tables in the scratch when FAST and they fit (else leaves them NULL: computed inline).
static ds_status tables(ds_context *ctx, interp_geom *g) {
    ds_cuda_state *cu = ctx->cuda;
    g->rows = g->cols = NULL;
    const int64_t n = g->OH + g->OW;
    if (cu->opt.kernels != DS_KERNELS_FAST || (size_t)n * sizeof(src1d) > cu->scratch_bytes) return DS_OK;
    src1d *rows = (src1d *)cu->scratch, *cols = rows + g->OH;
    interp_tables<<<(unsigned)((n + 255) / 256), 256, 0, cu->stream>>>(rows, cols, *g);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    g->rows = rows, g->cols = cols;
    return DS_OK;
}

extern "C" ds_status ds_cuda_interpolate_forward(ds_context *ctx, const void *args) {
    const ds_interpolate_args *a = (const ds_interpolate_args *)args;
    ds_dtype dt = DS_F32;
    DS_TRY(check(ctx, "interpolate_forward", a, &dt));
    const int64_t *i = a->x.shape, *o = a->y.shape;
    interp_geom g = {i[0] * i[1], i[2], i[3], o[2], o[3], axis_scale(i[2], o[2], a->align_corners),
                     axis_scale(i[3], o[3], a->align_corners), a->align_corners, NULL, NULL};
    const int64_t total = g.planes * g.OH * g.OW;
    if (total == 0) return DS_OK;
    DS_TRY(tables(ctx, &g));
    const unsigned threads = 256;
    cudaStream_t st = ctx->cuda->stream;
    if (dt == DS_BF16)
        interp_fwd<__nv_bfloat16><<<ds_cuda_blocks(total, threads), threads, 0, st>>>(
            (const __nv_bfloat16 *)a->x.data, (__nv_bfloat16 *)a->y.data, g);
    else
        interp_fwd<float><<<ds_cuda_blocks(total, threads), threads, 0, st>>>((const float *)a->x.data,
                                                                            (float *)a->y.data, g);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_interpolate_backward(ds_context *ctx, const void *args) {
    const ds_interpolate_args *a = (const ds_interpolate_args *)args;  // x: dy (N, C, OH, OW), y: dx (N, C, H, W)
    ds_dtype dt = DS_F32;
    DS_TRY(check(ctx, "interpolate_backward", a, &dt));
    const int64_t *g_ = a->x.shape, *d = a->y.shape;
    interp_geom g = {d[0] * d[1], d[2], d[3], g_[2], g_[3], axis_scale(d[2], g_[2], a->align_corners),
                     axis_scale(d[3], g_[3], a->align_corners), a->align_corners, NULL, NULL};
    const int64_t total = g.planes * g.H * g.W;
    if (total == 0) return DS_OK;
    DS_TRY(tables(ctx, &g));
    const unsigned threads = 256;
    cudaStream_t st = ctx->cuda->stream;
    if (dt == DS_BF16)
        interp_bwd<__nv_bfloat16><<<ds_cuda_blocks(total, threads), threads, 0, st>>>(
            (const __nv_bfloat16 *)a->x.data, (__nv_bfloat16 *)a->y.data, g);
    else
        interp_bwd<float><<<ds_cuda_blocks(total, threads), threads, 0, st>>>((const float *)a->x.data,
                                                                            (float *)a->y.data, g);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
