// cuDNN's convolution as an alternative to our own (run.conv = cudnn), and AUTO (run.conv =
// auto), which times both once per shape and pointer alignment and keeps the faster, as
// torch.backends.cudnn.benchmark does. Uses cuDNN 9's legacy convolution API
// (cudnnFindConvolution*Algorithm + cudnnConvolutionForward / BackwardData / BackwardFilter).
//
// Per shape (N, C, H, W, K, R, S, geometry, groups, dtype) an entry of ctx->cuda->conv_tuning (the
// device state: no global) holds the descriptors and, per pass, the fastest algorithm cudnnFind
// measured among those that succeed, need at most kMaxWorkspace bytes, and are deterministic
// (CUDNN_DETERMINISTIC) when ctx->deterministic, or "not supported" (then our own runs). Finding
// happens once per shape: in the workspace query (so that the query can report the algorithms'
// workspace) or at the first call. cudnnFind allocates its own scratch and synchronises: a
// one-time cost per shape.
//
// Dtypes: BF16 tensors with fp32 compute and tensor-op math; F32 with FMA math (exact fp32) unless
// the device was opened with allow_tf32. cuDNN has no F32 bias in the forward call and, with BF16
// data, writes dw in BF16: the bias is added by our kernel afterwards (ds_conv_add_bias, rounding
// y a second time in BF16), and BF16 dw goes to a BF16 copy at the end of the workspace and is then
// added into the F32 dw (rounded to bf16 once, as torch's autocast weight gradient is).
//
// AUTO: the first call of a pass for a (shape, alignment of its three pointers to 16 bytes) runs
// our own and cuDNN each 1 + 3 times into a temporary output buffer (allocated for that one
// measurement and freed: the only allocation this op makes, once per shape), takes each median
// of 3 (CUDA events on the context's stream), caches the faster and returns; the pass then runs
// for real. The temporary output keeps a weight-gradient accumulation (dw +=) from being applied
// twice.
#include <stdlib.h>
#include <string.h>

#include "conv2d_internal.cuh"

namespace {

#if DS_HAVE_CUDNN
constexpr size_t kMaxWorkspace = (size_t)512 << 20;

struct conv_key {
    int64_t N, C, H, W, K, R, S, G;
    int sh, sw, ph, pw, dh, dw;
    int dt;
};

struct conv_entry {
    conv_key key;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    bool found;                 // cudnnFind ran for the passes
    bool supported[3];          // per pass: an algorithm was found
    int algo[3];                // cudnnConvolutionFwdAlgo_t / BwdDataAlgo_t / BwdFilterAlgo_t
    size_t algo_ws[3];          // bytes each needs
    signed char choice[3][8];   // AUTO: per pass and alignment class: -1 untimed, 0 own, 1 cuDNN
};
#endif

}  // namespace

#if DS_HAVE_CUDNN
struct ds_conv_tuning {
    conv_entry *e;
    int n, cap;
};

void ds_conv_tuning_free(ds_conv_tuning *t) {
    if (t == NULL) return;
    for (int i = 0; i < t->n; i++) {
        conv_entry *e = &t->e[i];
        if (e->xd) cudnnDestroyTensorDescriptor(e->xd);
        if (e->yd) cudnnDestroyTensorDescriptor(e->yd);
        if (e->wd) cudnnDestroyFilterDescriptor(e->wd);
        if (e->cd) cudnnDestroyConvolutionDescriptor(e->cd);
    }
    free(t->e);
    free(t);
}

namespace {

size_t align256(size_t n) { return (n + 255) / 256 * 256; }

conv_key key_of(const ds_conv_problem &p) {
    conv_key k;
    memset(&k, 0, sizeof k);
    k.N = p.N, k.C = p.C, k.H = p.H, k.W = p.W, k.K = p.K, k.R = p.R, k.S = p.S, k.G = p.G;
    k.sh = p.sh, k.sw = p.sw, k.ph = p.ph, k.pw = p.pw, k.dh = p.dh, k.dw = p.dw, k.dt = (int)p.dt;
    return k;
}

// Sets the entry's descriptors for p.
ds_status describe(ds_context *ctx, const ds_conv_problem &p, conv_entry *e) {
    ds_err *err = &ctx->err;
    const cudnnDataType_t dt = p.dt == DS_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    DS_CUDNN_CHECK(err, cudnnCreateTensorDescriptor(&e->xd));
    DS_CUDNN_CHECK(err, cudnnCreateTensorDescriptor(&e->yd));
    DS_CUDNN_CHECK(err, cudnnCreateFilterDescriptor(&e->wd));
    DS_CUDNN_CHECK(err, cudnnCreateConvolutionDescriptor(&e->cd));
    DS_CUDNN_CHECK(err, cudnnSetTensor4dDescriptor(e->xd, CUDNN_TENSOR_NCHW, dt, (int)p.N, (int)p.C, (int)p.H, (int)p.W));
    DS_CUDNN_CHECK(err, cudnnSetTensor4dDescriptor(e->yd, CUDNN_TENSOR_NCHW, dt, (int)p.N, (int)p.K, (int)p.P, (int)p.Q));
    DS_CUDNN_CHECK(err, cudnnSetFilter4dDescriptor(e->wd, dt, CUDNN_TENSOR_NCHW, (int)p.K, (int)p.Cg, (int)p.R, (int)p.S));
    DS_CUDNN_CHECK(err, cudnnSetConvolution2dDescriptor(e->cd, p.ph, p.pw, p.sh, p.sw, p.dh, p.dw,
                                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DS_CUDNN_CHECK(err, cudnnSetConvolutionGroupCount(e->cd, (int)p.G));
    const cudnnMathType_t math = p.dt == DS_BF16         ? CUDNN_TENSOR_OP_MATH
                                 : ctx->cuda->opt.allow_tf32 ? CUDNN_DEFAULT_MATH
                                                             : CUDNN_FMA_MATH;
    DS_CUDNN_CHECK(err, cudnnSetConvolutionMathType(e->cd, math));
    return DS_OK;
}

// The first usable result of a cudnnFind list (sorted fastest first).
template <typename Perf>
void pick(const Perf *perf, int n, bool deterministic, bool *ok, int *algo, size_t *ws) {
    *ok = false;
    for (int i = 0; i < n; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kMaxWorkspace) continue;
        if (deterministic && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
        *ok = true;
        *algo = (int)perf[i].algo;
        *ws = perf[i].memory;
        return;
    }
}

// cudnnFind for the three passes of a new entry. A shape cuDNN rejects (NOT_SUPPORTED, bad
// param) leaves the pass unsupported; other failures are errors.
ds_status find_algos(ds_context *ctx, conv_entry *e) {
    cudnnHandle_t h = ctx->cuda->cudnn;
    const bool det = ctx->deterministic;
    int n = 0;
    cudnnStatus_t st;
    {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        st = cudnnFindConvolutionForwardAlgorithm(h, e->xd, e->wd, e->cd, e->yd, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n,
                                                  perf);
        if (st == CUDNN_STATUS_SUCCESS) pick(perf, n, det, &e->supported[0], &e->algo[0], &e->algo_ws[0]);
        else if (st != CUDNN_STATUS_NOT_SUPPORTED && st != CUDNN_STATUS_BAD_PARAM) DS_CUDNN_CHECK(&ctx->err, st);
    }
    {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        st = cudnnFindConvolutionBackwardDataAlgorithm(h, e->wd, e->yd, e->cd, e->xd,
                                                       CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf);
        if (st == CUDNN_STATUS_SUCCESS) pick(perf, n, det, &e->supported[1], &e->algo[1], &e->algo_ws[1]);
        else if (st != CUDNN_STATUS_NOT_SUPPORTED && st != CUDNN_STATUS_BAD_PARAM) DS_CUDNN_CHECK(&ctx->err, st);
    }
    {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        st = cudnnFindConvolutionBackwardFilterAlgorithm(h, e->xd, e->yd, e->cd, e->wd,
                                                         CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf);
        if (st == CUDNN_STATUS_SUCCESS) pick(perf, n, det, &e->supported[2], &e->algo[2], &e->algo_ws[2]);
        else if (st != CUDNN_STATUS_NOT_SUPPORTED && st != CUDNN_STATUS_BAD_PARAM) DS_CUDNN_CHECK(&ctx->err, st);
    }
    e->found = true;
    return DS_OK;
}

// The entry of p, created (descriptors set, algorithms found) when new. *out stays valid until
// the next call (the array may move).
ds_status entry_of(ds_context *ctx, const ds_conv_problem &p, conv_entry **out) {
    ds_cuda_state *cu = ctx->cuda;
    if (cu->conv_tuning == NULL) {
        cu->conv_tuning = (ds_conv_tuning *)calloc(1, sizeof(ds_conv_tuning));
        DS_REQUIRE(&ctx->err, cu->conv_tuning != NULL, DS_ERR_OOM, "conv2d: out of host memory for the tuning cache");
    }
    ds_conv_tuning *t = cu->conv_tuning;
    const conv_key k = key_of(p);
    for (int i = 0; i < t->n; i++)
        if (memcmp(&t->e[i].key, &k, sizeof k) == 0) {
            *out = &t->e[i];
            return DS_OK;
        }
    if (t->n == t->cap) {
        const int cap = t->cap ? 2 * t->cap : 16;
        conv_entry *grown = (conv_entry *)realloc(t->e, (size_t)cap * sizeof *grown);
        DS_REQUIRE(&ctx->err, grown != NULL, DS_ERR_OOM, "conv2d: out of host memory for the tuning cache");
        t->e = grown;
        t->cap = cap;
    }
    conv_entry *e = &t->e[t->n++];  // counted now so that ds_conv_tuning_free releases its descriptors
    memset(e, 0, sizeof *e);
    e->key = k;
    memset(e->choice, -1, sizeof e->choice);
    DS_TRY(describe(ctx, p, e));
    DS_TRY(find_algos(ctx, e));
    *out = e;
    return DS_OK;
}

// Workspace a pass needs (BF16 wgrad: the algorithm's, then a BF16 dw).
size_t pass_bytes(const ds_conv_problem &p, const conv_entry *e, int pass) {
    size_t b = e->algo_ws[pass];
    if (pass == DS_CONV_PASS_WGRAD && p.dt == DS_BF16) b = align256(b) + (size_t)(p.K * p.Cg * p.R * p.S) * 2;
    return b;
}

// cuDNN's own "cannot do this" answers become "not done"; anything else is an error.
bool declined(cudnnStatus_t st) { return st == CUDNN_STATUS_NOT_SUPPORTED || st == CUDNN_STATUS_BAD_PARAM; }

}  // namespace

ds_status ds_conv_cudnn_workspace(ds_context *ctx, const ds_conv_problem &p, size_t *bytes) {
    *bytes = 0;
    conv_entry *e = NULL;
    DS_TRY(entry_of(ctx, p, &e));
    for (int pass = 0; pass < 3; pass++)
        if (e->supported[pass] && pass_bytes(p, e, pass) > *bytes) *bytes = pass_bytes(p, e, pass);
    return DS_OK;
}

ds_status ds_conv_cudnn_forward(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *w,
                                const float *b, void *y, void *ws, size_t ws_bytes, bool *done) {
    *done = false;
    conv_entry *e = NULL;
    DS_TRY(entry_of(ctx, p, &e));
    if (!e->supported[0] || ws_bytes < e->algo_ws[0]) return DS_OK;
    const float one = 1.0f, zero = 0.0f;
    const cudnnStatus_t st = cudnnConvolutionForward(ctx->cuda->cudnn, &one, e->xd, x, e->wd, w, e->cd,
                                                     (cudnnConvolutionFwdAlgo_t)e->algo[0], ws, e->algo_ws[0], &zero,
                                                     e->yd, y);
    if (declined(st)) {
        e->supported[0] = false;
        return DS_OK;
    }
    DS_CUDNN_CHECK(&ctx->err, st);
    if (b != NULL) DS_TRY(ds_conv_add_bias(ctx, p, b, y));
    *done = true;
    return DS_OK;
}

ds_status ds_conv_cudnn_dgrad(ds_context *ctx, const ds_conv_problem &p, const void *w, const void *dy, void *dx,
                              void *ws, size_t ws_bytes, bool *done) {
    *done = false;
    conv_entry *e = NULL;
    DS_TRY(entry_of(ctx, p, &e));
    if (!e->supported[1] || ws_bytes < e->algo_ws[1]) return DS_OK;
    const float one = 1.0f, zero = 0.0f;
    const cudnnStatus_t st = cudnnConvolutionBackwardData(ctx->cuda->cudnn, &one, e->wd, w, e->yd, dy, e->cd,
                                                          (cudnnConvolutionBwdDataAlgo_t)e->algo[1], ws, e->algo_ws[1],
                                                          &zero, e->xd, dx);
    if (declined(st)) {
        e->supported[1] = false;
        return DS_OK;
    }
    DS_CUDNN_CHECK(&ctx->err, st);
    *done = true;
    return DS_OK;
}

ds_status ds_conv_cudnn_wgrad(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *dy, float *dw,
                              bool accumulate, void *ws, size_t ws_bytes, bool *done) {
    *done = false;
    conv_entry *e = NULL;
    DS_TRY(entry_of(ctx, p, &e));
    if (!e->supported[2] || ws_bytes < pass_bytes(p, e, DS_CONV_PASS_WGRAD)) return DS_OK;
    const bool bf16 = p.dt == DS_BF16;
    void *target = bf16 ? (char *)ws + align256(e->algo_ws[2]) : (void *)dw;  // BF16: (K, Cg, R, S) bf16 copy
    const float one = 1.0f, beta = !bf16 && accumulate ? 1.0f : 0.0f;
    const cudnnStatus_t st = cudnnConvolutionBackwardFilter(ctx->cuda->cudnn, &one, e->xd, x, e->yd, dy, e->cd,
                                                            (cudnnConvolutionBwdFilterAlgo_t)e->algo[2], ws,
                                                            e->algo_ws[2], &beta, e->wd, target);
    if (declined(st)) {
        e->supported[2] = false;
        return DS_OK;
    }
    DS_CUDNN_CHECK(&ctx->err, st);
    if (bf16) DS_TRY(ds_conv_accumulate_bf16(ctx, target, dw, p.K * p.Cg * p.R * p.S, accumulate));
    *done = true;
    return DS_OK;
}

namespace {

// 1 + 3 runs of `run` between events on the context's stream; the median of the 3 timed ones.
template <class F>
ds_status time_ms(ds_context *ctx, F run, float *ms) {
    cudaStream_t st = ctx->cuda->stream;
    cudaEvent_t ev[4];
    for (int i = 0; i < 4; i++) DS_CUDA_CHECK(&ctx->err, cudaEventCreate(&ev[i]));
    ds_status s = run();  // warm-up
    for (int i = 0; s == DS_OK && i < 3; i++) {
        if (cudaEventRecord(ev[i], st) != cudaSuccess) break;
        s = run();
    }
    if (s == DS_OK) cudaEventRecord(ev[3], st);
    const cudaError_t sync = cudaStreamSynchronize(st);
    float t[3] = {0, 0, 0};
    for (int i = 0; s == DS_OK && sync == cudaSuccess && i < 3; i++) cudaEventElapsedTime(&t[i], ev[i], ev[i + 1]);
    for (int i = 0; i < 4; i++) cudaEventDestroy(ev[i]);
    DS_TRY(s);
    DS_CUDA_CHECK(&ctx->err, sync);
    float a = t[0], b = t[1], c = t[2];  // median of three
    *ms = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
    return DS_OK;
}

int align_class(const void *a, const void *b, const void *c) {
    return ((uintptr_t)a % 16 == 0 ? 1 : 0) | ((uintptr_t)b % 16 == 0 ? 2 : 0) | ((uintptr_t)c % 16 == 0 ? 4 : 0);
}

}  // namespace

ds_status ds_conv_auto_pick(ds_context *ctx, const ds_conv_problem &p, ds_conv_pass pass, const ds_conv_operands &o,
                            bool *use_cudnn) {
    *use_cudnn = false;
    conv_entry *e = NULL;
    DS_TRY(entry_of(ctx, p, &e));
    const int cls = pass == DS_CONV_PASS_FWD     ? align_class(o.x, o.w, o.y)
                    : pass == DS_CONV_PASS_DGRAD ? align_class(o.w, o.dy, o.dx)
                                                 : align_class(o.x, o.dy, o.dw);
    signed char *choice = &e->choice[pass][cls];
    if (*choice >= 0) {
        *use_cudnn = *choice == 1 && e->supported[pass];
        return DS_OK;
    }
    if (!e->supported[pass] || o.ws_bytes < pass_bytes(p, e, pass)) {
        *choice = 0;  // cuDNN cannot run this pass here: our own, without timing
        return DS_OK;
    }
    if (!ds_conv_own_is_fast(ctx, p)) {
        // Our own would be the PLAIN reference kernel (F32 data, or run.kernels=plain): one thread
        // per output summing in double, never a contest for cuDNN, and timing it four times per
        // shape would add seconds to the first step of an fp32 DeepLabV3. cuDNN without timing.
        *choice = 1;
        *use_cudnn = true;
        return DS_OK;
    }
    // A temporary output of the pass's shape, so that timing never touches the caller's tensors.
    const size_t es = ds_dtype_size(p.dt);
    const size_t out_bytes = pass == DS_CONV_PASS_FWD     ? (size_t)(p.N * p.K * p.P * p.Q) * es
                             : pass == DS_CONV_PASS_DGRAD ? (size_t)(p.N * p.C * p.H * p.W) * es
                                                          : (size_t)(p.K * p.Cg * p.R * p.S) * sizeof(float);
    void *tmp = NULL;
    DS_TRY(ds_gpu_alloc(ctx, out_bytes, &tmp));
    float own_ms = 0, cudnn_ms = 0;
    bool ran = false;
    ds_status s = DS_OK;
    if (pass == DS_CONV_PASS_FWD) {
        s = time_ms(ctx, [&] { return ds_conv_own_forward(ctx, p, o.x, o.w, o.b, tmp, o.ws, o.ws_bytes); }, &own_ms);
        if (s == DS_OK)
            s = time_ms(ctx, [&] { return ds_conv_cudnn_forward(ctx, p, o.x, o.w, o.b, tmp, o.ws, o.ws_bytes, &ran); },
                        &cudnn_ms);
    } else if (pass == DS_CONV_PASS_DGRAD) {
        s = time_ms(ctx, [&] { return ds_conv_own_dgrad(ctx, p, o.w, o.dy, tmp); }, &own_ms);
        if (s == DS_OK)
            s = time_ms(ctx, [&] { return ds_conv_cudnn_dgrad(ctx, p, o.w, o.dy, tmp, o.ws, o.ws_bytes, &ran); },
                        &cudnn_ms);
    } else {
        float *t = (float *)tmp;
        s = time_ms(ctx, [&] { return ds_conv_own_wgrad(ctx, p, o.x, o.dy, t, false, o.ws, o.ws_bytes); }, &own_ms);
        if (s == DS_OK)
            s = time_ms(ctx, [&] { return ds_conv_cudnn_wgrad(ctx, p, o.x, o.dy, t, false, o.ws, o.ws_bytes, &ran); },
                        &cudnn_ms);
    }
    ds_gpu_sync(ctx);  // the temporary is idle before it is freed
    ds_gpu_free(ctx, tmp, out_bytes);
    DS_TRY(s);
    *choice = ran && e->supported[pass] && cudnn_ms < own_ms ? 1 : 0;
    *use_cudnn = *choice == 1;
    return DS_OK;
}

#else  // no cuDNN in this build: every pass is our own.

struct ds_conv_tuning {
    int unused;
};

void ds_conv_tuning_free(ds_conv_tuning *t) { free(t); }

ds_status ds_conv_cudnn_workspace(ds_context *ctx, const ds_conv_problem &p, size_t *bytes) {
    (void)ctx, (void)p;
    *bytes = 0;
    return DS_OK;
}
ds_status ds_conv_cudnn_forward(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *w,
                                const float *b, void *y, void *ws, size_t ws_bytes, bool *done) {
    (void)ctx, (void)p, (void)x, (void)w, (void)b, (void)y, (void)ws, (void)ws_bytes;
    *done = false;
    return DS_OK;
}
ds_status ds_conv_cudnn_dgrad(ds_context *ctx, const ds_conv_problem &p, const void *w, const void *dy, void *dx,
                              void *ws, size_t ws_bytes, bool *done) {
    (void)ctx, (void)p, (void)w, (void)dy, (void)dx, (void)ws, (void)ws_bytes;
    *done = false;
    return DS_OK;
}
ds_status ds_conv_cudnn_wgrad(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *dy, float *dw,
                              bool accumulate, void *ws, size_t ws_bytes, bool *done) {
    (void)ctx, (void)p, (void)x, (void)dy, (void)dw, (void)accumulate, (void)ws, (void)ws_bytes;
    *done = false;
    return DS_OK;
}
ds_status ds_conv_auto_pick(ds_context *ctx, const ds_conv_problem &p, ds_conv_pass pass, const ds_conv_operands &o,
                            bool *use_cudnn) {
    (void)ctx, (void)p, (void)pass, (void)o;
    *use_cudnn = false;
    return DS_OK;
}
#endif
