// The FAST convolution's launchers (the kernel is conv2d_igemm.cuh): tile configuration, the
// wgrad split of the reduction, and the split-K reduction kernel. BF16 x, w, dy, y, dx with fp32
// accumulation; dw F32.
//
// Choices depend on the shape only (never on the device or on timing), so results are identical
// on every run and every GPU for the same shape and workspace:
//   tiles:  128 x 128 (8 warps) when the GEMM has more than 64 rows and that still gives >= 132
//           blocks (one wave of an H100/H200), else 64 x 64 (4 warps).
//   wgrad split-K: the reduction (N P Q output pixels) is cut into `splits` ranges (multiples of
//           32) so that ~264 blocks (two waves) run: splits = min(ceil(264 / blocks of 64 x 64
//           tiles), reduction / 512, 64, 65535 / G), >= 1. Each split writes its fp32 partial
//           (Kg x Cg R S per group) to the caller's workspace; one kernel then adds the partials in
//           split order into dw (no atomics: deterministic). A workspace smaller than asked for
//           splits less (down to 1: the kernel writes dw itself); the split count changes the fp32
//           summation order, so results depend on (shape, workspace size), nothing else.
#include "conv2d_igemm.cuh"
#include "conv2d_internal.cuh"

using namespace ds_conv_igemm;

namespace {

constexpr int64_t kWaveBlocks = 132;    // SMs of an H100 / H200 SXM
constexpr int64_t kTargetBlocks = 264;  // two waves
constexpr int64_t kMaxSplits = 64;
constexpr int64_t kMinStepsPerSplit = 16;

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool big_tiles(int64_t M, int64_t NG, int64_t z) { return M > 64 && cdiv(M, 128) * cdiv(NG, 128) * z >= kWaveBlocks; }

// Params of pass MODE for p (pointers left for the caller).
Params params_of(const ds_conv_problem &p, int mode) {
    Params q = {};
    q.N = (int)p.N, q.C = (int)p.C, q.H = (int)p.H, q.W = (int)p.W, q.K = (int)p.K, q.R = (int)p.R, q.S = (int)p.S;
    q.P = (int)p.P, q.Q = (int)p.Q, q.Cg = (int)p.Cg, q.Kg = (int)p.Kg;
    q.sh = p.sh, q.sw = p.sw, q.ph = p.ph, q.pw = p.pw, q.dil_h = p.dh, q.dil_w = p.dw;
    q.RS = (int)(p.R * p.S), q.HW = (int)(p.H * p.W), q.PQ = (int)(p.P * p.Q), q.CRS = (int)(p.Cg * p.R * p.S);
    if (mode == FWD) q.M = (int)p.Kg, q.NG = (int)(p.N * p.P * p.Q), q.KG = q.CRS;
    else if (mode == DGRAD) q.M = (int)p.Cg, q.NG = (int)(p.N * p.H * p.W), q.KG = (int)(p.Kg * p.R * p.S);
    else q.M = (int)p.Kg, q.NG = q.CRS, q.KG = (int)(p.N * p.P * p.Q);
    q.splits = 1;
    q.ksplit = q.KG;
    return q;
}

template <int MODE, int MAPA>
ds_status launch(ds_context *ctx, const Params &q, int64_t z) {
    cudaStream_t st = ctx->cuda->stream;
    if (big_tiles(q.M, q.NG, z)) {
        const dim3 grid((unsigned)cdiv(q.NG, 128), (unsigned)cdiv(q.M, 128), (unsigned)z);
        igemm<MODE, 128, 128, 2, 4, MAPA><<<grid, 256, 0, st>>>(q);
    } else {
        const dim3 grid((unsigned)cdiv(q.NG, 64), (unsigned)cdiv(q.M, 64), (unsigned)z);
        igemm<MODE, 64, 64, 2, 2, MAPA><<<grid, 128, 0, st>>>(q);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

// dw (G * per_group) (+)= the sum over s < splits, in order, of partial (G, splits, per_group).
__global__ void wgrad_reduce(const float *partial, float *dw, int64_t G, int splits, int64_t per_group,
                             bool accumulate) {
    const int64_t total = G * per_group;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t g = i / per_group, r = i - g * per_group;
        const float *src = partial + g * splits * per_group + r;
        float s = 0.0f;
        for (int k = 0; k < splits; k++) s += src[(int64_t)k * per_group];
        dw[i] = accumulate ? dw[i] + s : s;
    }
}

// The split count before the workspace limit.
int64_t wanted_splits(const ds_conv_problem &p) {
    const int64_t M = p.Kg, NG = p.Cg * p.R * p.S, KG = p.N * p.P * p.Q;
    const int64_t blocks = cdiv(M, 64) * cdiv(NG, 64) * p.G;
    int64_t s = cdiv(kTargetBlocks, blocks);
    const int64_t by_length = KG / (BK * kMinStepsPerSplit);
    if (s > by_length) s = by_length;
    if (s > kMaxSplits) s = kMaxSplits;
    if (s > 65535 / p.G) s = 65535 / p.G;
    return s < 1 ? 1 : s;
}

}  // namespace

bool ds_conv_fast_fits(const ds_conv_problem &p) {
    const int64_t lim = INT32_MAX;
    const int64_t v[] = {p.N * p.P * p.Q, p.N * p.H * p.W, p.Cg * p.H * p.W, p.Kg * p.Cg * p.R * p.S,
                         p.Kg * p.P * p.Q, p.C, p.K, p.H + 2 * (int64_t)p.ph, p.W + 2 * (int64_t)p.pw,
                         (int64_t)p.dh * p.R, (int64_t)p.dw * p.S};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] >= lim) return false;
    // wgrad's reduction runs over N P Q in int32 with split ends up to ~1.5x past it
    // (conv2d_igemm.cuh: kbeg + ksplit): keep half the range.
    if (p.N * p.P * p.Q >= lim / 2) return false;
    return p.G <= 65535 && cdiv(p.Kg, 64) <= 65535 && cdiv(p.Cg, 64) <= 65535;
}

// The split of wgrad's reduction with a workspace of ws_bytes: *splits ranges of *ksplit output
// pixels (a multiple of BK; the last range may be shorter), *splits = 1 and *ksplit = N P Q for none.
static void wgrad_split(const ds_conv_problem &p, size_t ws_bytes, int *splits, int *ksplit) {
    const int64_t KG = p.N * p.P * p.Q;
    int64_t s = wanted_splits(p);
    const size_t per_split = (size_t)(p.G * p.Kg * p.Cg * p.R * p.S) * sizeof(float);
    const int64_t fit = per_split ? (int64_t)(ws_bytes / per_split) : 0;
    if (s > fit) s = fit;
    *splits = 1;
    *ksplit = (int)KG;
    if (s < 2) return;
    // Whole steps per range; rounding up may leave fewer ranges than s (never more).
    const int64_t k = cdiv(cdiv(KG, s), BK) * BK;
    *splits = (int)cdiv(KG, k);
    *ksplit = (int)k;
}

int ds_conv_fast_wgrad_splits(const ds_conv_problem &p, size_t ws_bytes) {
    int s = 1, k = 0;
    wgrad_split(p, ws_bytes, &s, &k);
    return s;
}

size_t ds_conv_own_workspace_bytes(const ds_conv_problem &p) {
    if (p.dt != DS_BF16 || !ds_conv_fast_fits(p)) return 0;
    const int64_t s = wanted_splits(p);
    return s > 1 ? (size_t)(s * p.G * p.Kg * p.Cg * p.R * p.S) * sizeof(float) : 0;
}

ds_status ds_conv_fast_forward(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *w, const float *b,
                               void *y) {
    Params q = params_of(p, FWD);
    q.pair_a = q.CRS % 2 == 0 && ((uintptr_t)w % 4) == 0;
    q.x = (const bf16 *)x, q.w = (const bf16 *)w, q.bias = b, q.out = (bf16 *)y;
    if (q.NG == 0 || q.M == 0) return DS_OK;
    return launch<FWD, K_FAST>(ctx, q, p.G);
}

ds_status ds_conv_fast_dgrad(ds_context *ctx, const ds_conv_problem &p, const void *w, const void *dy, void *dx) {
    Params q = params_of(p, DGRAD);
    q.w = (const bf16 *)w, q.dy = (const bf16 *)dy, q.out = (bf16 *)dx;
    if (q.NG == 0 || q.M == 0) return DS_OK;
    // A 1x1 kernel's weights are contiguous along the input channel (the GEMM row); else along k.
    if (q.RS == 1) return launch<DGRAD, ROW_FAST>(ctx, q, p.G);
    return launch<DGRAD, K_FAST>(ctx, q, p.G);
}

ds_status ds_conv_fast_wgrad(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *dy, float *dw,
                             bool accumulate, void *ws, size_t ws_bytes) {
    Params q = params_of(p, WGRAD);
    q.pair_a = q.PQ % 2 == 0 && ((uintptr_t)dy % 4) == 0;
    q.x = (const bf16 *)x, q.dy = (const bf16 *)dy, q.dw = dw, q.accumulate = accumulate;
    if (q.NG == 0 || q.M == 0) return DS_OK;
    int splits = 1, ksplit = q.KG;
    wgrad_split(p, ws != NULL ? ws_bytes : 0, &splits, &ksplit);
    if (splits > 1) {
        q.splits = splits;
        q.ksplit = ksplit;
        q.partial = (float *)ws;
    }
    DS_TRY((launch<WGRAD, K_FAST>(ctx, q, p.G * q.splits)));
    if (splits > 1) {
        const int64_t per_group = p.Kg * p.Cg * p.R * p.S;
        wgrad_reduce<<<ds_cuda_blocks(p.G * per_group, 256), 256, 0, ctx->cuda->stream>>>(q.partial, dw, p.G, splits,
                                                                                       per_group, accumulate);
        DS_CUDA_CHECK_LAUNCH(&ctx->err);
    }
    return DS_OK;
}
