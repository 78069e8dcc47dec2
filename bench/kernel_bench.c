// ds_kernel_bench: times each custom CUDA kernel through the op API (kernels/ops.h) at BERT-base
// training shapes and sets the result beside the device's roofline (ds_gpu_peaks_get) and beside
// a device-to-device copy of the same bytes. docs/kernel_bench.md describes the method and the
// counts; scripts/bench/torch_kernels.py measures the same with PyTorch, scripts/gpu_check.sh runs
// both and tabulates them.
//
// Output: one JSON line per measurement on stdout (first a "device" line), keys
//   kernel, variant, shape, ms_median, tflops | gb_s, frac_of_peak, frac_of_copy_bw
//   (+ flops | bytes, peak, repeats, buffers), or kernel, variant, shape, error
// and a readable table on stderr. An op that fails (e.g. "not built yet") gives an error line and
// the bench goes on. Exit status: 0 all measured, 2 some kernel reported an error, 1 no device.
//
// Method: warm-up calls, then `repeats` calls (default 50) each between a pair of CUDA events on
// the context's stream, median of the event times. Before each start event a 0.5 ms spin
// kernel keeps the device busy while the host enqueues the call, so the events time device work
// only (host launch overhead is the end-to-end bench's business). Inputs rotate among several
// buffer sets so that a call never finds its inputs in L2: sets = ceil(3 * L2 / bytes one call
// touches), at most 16 (H200: 50 MB of L2; a set of >= 150 MB needs no rotation). A slow kernel
// gets fewer repeats (at least 5) so that one measurement stays within ~3 s.
//
// What is counted (the algorithmic minimum: every input byte read once, every output written
// once; workspace traffic of an implementation is not counted, so it shows as lower GB/s):
// - attention (B, H, T, D) bf16, no mask, no dropout. FLOPs as FlashAttention counts them:
//   forward 4 B H T^2 D (two matmuls of 2 B H T^2 D), backward 2.5x forward = 10 B H T^2 D
//   (five matmuls: four in the backward proper plus the recomputation of S). TFLOP/s against the
//   dense bf16 peak.
// - adamw over n = 110e6 F32 parameters (BERT-base ~110M): reads param, grad, m, v (4 B each)
//   [+ decay_mask 1 B], writes param, m, v (4 B each) and the BF16 copy (2 B):
//   30 B per element, 31 with the mask.
// - layernorm N = 32 * 512 = 16384 rows, C = 768, x/y/dy/dx bf16, gamma/beta/dgamma/dbeta and the
//   saved mean/rstd F32: forward reads x (2NC) + gamma, beta (8C), writes y (2NC) + mean, rstd
//   (8N); backward reads x, dy (4NC) + gamma (4C) + mean, rstd (8N), writes dx (2NC) + dgamma,
//   dbeta (8C) (accumulate off).
// - gelu over N x 3072 = 50,331,648 bf16 elements: forward reads x, writes y (4 B per element);
//   backward reads x, dy, writes dx (6 B per element).
// - copy: cudaMemcpyAsync device to device of total/2 bytes for a kernel that moves `total`
//   bytes, so that it reads and writes the same total; its GB/s = 2 * copied bytes / time. This
//   is the practical bandwidth ceiling; frac_of_copy_bw = kernel GB/s / copy GB/s.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/gpu.h"
#include "../runtime/base/check.h"
#include "../kernels/ops.h"
#include "bench_device.h"

#define MAX_SETS 16
#define MAX_REPEATS 1000
#define POOL_MAX 256
#define MAX_COPIES 16
#define SPACER_US 500  // device busy-wait before each start event (see the top)

typedef struct bench {
    ds_context *ctx;
    ds_bench_timer *timer;  // MAX_REPEATS event pairs
    ds_gpu_peaks peaks;
    size_t l2_bytes;
    int warmup, repeats;
    double budget_ms;  // one measurement's timed calls stay under this (repeats shrink, >= 5)
    const char *only;  // only kernels whose name contains this; NULL: all
    int errors;        // measurements that reported an error
    struct {
        double total_bytes, gb_s;
    } copies[MAX_COPIES];  // copy references measured so far
    int ncopies;
} bench;

// ---- device buffers of one case, freed together ----
typedef struct pool {
    void *ptr[POOL_MAX];
    size_t bytes[POOL_MAX];
    int n;
} pool;

// A device tensor (contiguous, `shape`) filled on the device from (seed, index); see ds_bench_fill.
static ds_status pool_tensor(bench *b, pool *p, ds_dtype dt, int ndim, const int64_t *shape, uint64_t seed,
                             float lo, float hi, ds_tensor *out) {
    ds_context *ctx = b->ctx;
    DS_REQUIRE(&ctx->err, p->n < POOL_MAX, DS_ERR_INTERNAL, "bench: more than %d buffers in one case", POOL_MAX);
    *out = ds_tensor_make(NULL, dt, (ds_device){DS_DEVICE_CUDA, ctx->device.index}, ndim, shape);
    const size_t bytes = ds_tensor_nbytes(out);
    DS_TRY(ds_gpu_alloc(ctx, bytes, &out->data));
    p->ptr[p->n] = out->data;
    p->bytes[p->n++] = bytes;
    return ds_bench_fill(ctx, out->data, dt, (size_t)ds_tensor_numel(out), seed, lo, hi);
}

static void pool_free(bench *b, pool *p) {
    ds_gpu_sync(b->ctx);  // nothing still running reads a buffer freed here
    for (int i = 0; i < p->n; i++) ds_gpu_free(b->ctx, p->ptr[i], p->bytes[i]);
    p->n = 0;
}

// Buffer sets so that sets * bytes >= 3 * L2 (a set's data has left L2 when it is used again).
static int sets_for(const bench *b, double bytes_per_call) {
    const double want = ceil(3.0 * (double)b->l2_bytes / fmax(bytes_per_call, 1.0));
    return want < 1 ? 1 : want > MAX_SETS ? MAX_SETS : (int)want;
}

static bool wanted(const bench *b, const char *kernel) { return b->only == NULL || strstr(kernel, b->only) != NULL; }

// ---- timing ----
typedef ds_status (*run_fn)(ds_context *ctx, void *state, int set);

static int cmp_float(const void *x, const void *y) {
    const float a = *(const float *)x, c = *(const float *)y;
    return (a > c) - (a < c);
}

// Median time in ms of run(state, set) over the repeats, sets rotating (see the top).
static ds_status measure(bench *b, run_fn run, void *state, int nsets, double *ms_median, int *repeats_done) {
    ds_context *ctx = b->ctx;
    float first = 0.0f;
    DS_TRY(ds_bench_spin(ctx, SPACER_US));
    DS_TRY(ds_bench_timer_start(ctx, b->timer, 0));
    DS_TRY(run(ctx, state, 0));
    DS_TRY(ds_bench_timer_stop(ctx, b->timer, 0));
    DS_TRY(ds_bench_timer_read(ctx, b->timer, 1, &first));  // also the first warm-up call
    for (int i = 1; i < b->warmup; i++) DS_TRY(run(ctx, state, i % nsets));
    int reps = b->repeats;
    if (first > 0.0f && (double)first * reps > b->budget_ms) reps = (int)(b->budget_ms / first);
    if (reps < 5) reps = 5;
    if (reps > b->repeats) reps = b->repeats;
    for (int r = 0; r < reps; r++) {
        DS_TRY(ds_bench_spin(ctx, SPACER_US));
        DS_TRY(ds_bench_timer_start(ctx, b->timer, r));
        DS_TRY(run(ctx, state, (b->warmup + r) % nsets));
        DS_TRY(ds_bench_timer_stop(ctx, b->timer, r));
    }
    float ms[MAX_REPEATS];
    DS_TRY(ds_bench_timer_read(ctx, b->timer, reps, ms));
    qsort(ms, (size_t)reps, sizeof ms[0], cmp_float);
    *ms_median = reps % 2 ? ms[reps / 2] : 0.5 * ((double)ms[reps / 2 - 1] + ms[reps / 2]);
    *repeats_done = reps;
    return DS_OK;
}

// ---- output ----
static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void json_number_or_null(const char *key, double x) {
    if (isfinite(x)) printf(",\"%s\":%.6g", key, x);
    else printf(",\"%s\":null", key);
}

static void emit_error(bench *b, const char *kernel, const char *variant, const char *shape, const char *msg) {
    b->errors++;
    printf("{\"kernel\":");
    json_string(kernel);
    printf(",\"variant\":");
    json_string(variant);
    printf(",\"shape\":");
    json_string(shape);
    printf(",\"error\":");
    json_string(msg);
    printf("}\n");
    fflush(stdout);
    fprintf(stderr, "%-14s %-6s %-26s error: %s\n", kernel, variant, shape, msg);
    ds_err_clear(&b->ctx->err);
}

// flops > 0: a compute figure (TFLOP/s vs the bf16 peak); otherwise bytes > 0: a bandwidth
// figure (GB/s vs the memory peak and vs copy_gb_s, which may be NaN when unknown).
static void emit(const bench *b, const char *kernel, const char *variant, const char *shape, double ms, int reps,
                 int nsets, double flops, double bytes, double copy_gb_s) {
    printf("{\"kernel\":");
    json_string(kernel);
    printf(",\"variant\":");
    json_string(variant);
    printf(",\"shape\":");
    json_string(shape);
    printf(",\"ms_median\":%.6g", ms);
    const double s = ms * 1e-3;
    if (flops > 0) {
        const double tflops = flops / s / 1e12, peak = b->peaks.bf16_flops / 1e12;
        printf(",\"flops\":%.6g,\"tflops\":%.6g", flops, tflops);
        json_number_or_null("peak_tflops", peak > 0 ? peak : NAN);
        json_number_or_null("frac_of_peak", peak > 0 ? tflops / peak : NAN);
        printf(",\"frac_of_copy_bw\":null");
        fprintf(stderr, "%-14s %-6s %-26s %9.4f ms %9.1f TFLOP/s of %6.0f peak (%5.1f%%)\n", kernel, variant, shape,
                ms, tflops, peak, peak > 0 ? 100 * tflops / peak : NAN);
    } else {
        const double gb_s = bytes / s / 1e9, peak = b->peaks.mem_bytes_per_s / 1e9;
        printf(",\"bytes\":%.6g,\"gb_s\":%.6g", bytes, gb_s);
        json_number_or_null("peak_gb_s", peak > 0 ? peak : NAN);
        json_number_or_null("frac_of_peak", peak > 0 ? gb_s / peak : NAN);
        json_number_or_null("frac_of_copy_bw", gb_s / copy_gb_s);
        fprintf(stderr, "%-14s %-6s %-26s %9.4f ms %9.1f GB/s of %6.0f peak (%5.1f%%), %5.1f%% of copy\n", kernel,
                variant, shape, ms, gb_s, peak, peak > 0 ? 100 * gb_s / peak : NAN, 100 * gb_s / copy_gb_s);
    }
    printf(",\"repeats\":%d,\"buffers\":%d}\n", reps, nsets);
    fflush(stdout);
}

// ---- copy: the bandwidth reference ----
typedef struct copy_state {
    void *src[MAX_SETS], *dst[MAX_SETS];  // (half) bytes each, device
    size_t half;
} copy_state;

static ds_status run_copy(ds_context *ctx, void *state, int set) {
    copy_state *c = state;
    return ds_gpu_copy(ctx, c->dst[set], c->src[set], c->half);
}

// GB/s of a copy moving `total` bytes (total/2 read + total/2 written); measured once per size,
// printed as its own line. NaN when it cannot be measured (the error is printed).
static double copy_gb_s(bench *b, double total) {
    for (int i = 0; i < b->ncopies; i++)
        if (b->copies[i].total_bytes == total) return b->copies[i].gb_s;
    char shape[64];
    snprintf(shape, sizeof shape, "bytes=%.0f", total / 2);
    copy_state c = {.half = (size_t)(total / 2)};
    const int nsets = sets_for(b, total);
    pool p = {.n = 0};
    double ms = NAN, gb_s = NAN;
    int reps = 0;
    ds_status st = DS_OK;
    for (int s = 0; s < nsets && st == DS_OK; s++) {
        const int64_t shp[] = {(int64_t)c.half};
        ds_tensor src, dst;
        st = pool_tensor(b, &p, DS_U8, 1, shp, 900 + (uint64_t)s, 0, 1, &src);
        if (st == DS_OK) st = pool_tensor(b, &p, DS_U8, 1, shp, 950 + (uint64_t)s, 0, 1, &dst);
        if (st == DS_OK) c.src[s] = src.data, c.dst[s] = dst.data;
    }
    if (st == DS_OK) st = measure(b, run_copy, &c, nsets, &ms, &reps);
    if (st == DS_OK) {
        emit(b, "copy", "d2d", shape, ms, reps, nsets, 0, total, total / (ms * 1e-3) / 1e9);
        gb_s = total / (ms * 1e-3) / 1e9;
    } else {
        emit_error(b, "copy", "d2d", shape, b->ctx->err.msg);
    }
    pool_free(b, &p);
    if (b->ncopies < MAX_COPIES) b->copies[b->ncopies].total_bytes = total, b->copies[b->ncopies++].gb_s = gb_s;
    return gb_s;
}

// ---- variants ----
typedef struct variant {
    const char *name;
    ds_kernel_variant kernels;
    ds_attention_impl attention;
} variant;

static const variant k_own[] = {{"plain", DS_KERNELS_PLAIN, DS_ATTENTION_OWN},
                                {"fast", DS_KERNELS_FAST, DS_ATTENTION_OWN}};
static const variant k_attention[] = {{"plain", DS_KERNELS_PLAIN, DS_ATTENTION_OWN},
                                      {"fast", DS_KERNELS_FAST, DS_ATTENTION_OWN},
                                      {"cudnn", DS_KERNELS_PLAIN, DS_ATTENTION_CUDNN}};

static void use_variant(bench *b, const variant *v) {
    ds_gpu_set_kernels(b->ctx, v->kernels);
    ds_gpu_set_attention(b->ctx, v->attention);
}

// Times run over nsets sets and prints the line (or the error line).
static void time_and_emit(bench *b, const char *kernel, const variant *v, const char *shape, run_fn run, void *state,
                          int nsets, double flops, double bytes) {
    const double copy = bytes > 0 && flops <= 0 ? copy_gb_s(b, bytes) : NAN;
    use_variant(b, v);
    double ms = NAN;
    int reps = 0;
    if (measure(b, run, state, nsets, &ms, &reps) == DS_OK)
        emit(b, kernel, v->name, shape, ms, reps, nsets, flops, bytes, copy);
    else
        emit_error(b, kernel, v->name, shape, b->ctx->err.msg);
}

// ---- attention ----
typedef struct attn_state {
    ds_attention_fwd_args fwd[MAX_SETS];
    ds_attention_bwd_args bwd[MAX_SETS];
} attn_state;

static ds_status run_attn_fwd(ds_context *ctx, void *state, int set) {
    return ds_attention_forward(ctx, &((attn_state *)state)->fwd[set]);
}
static ds_status run_attn_bwd(ds_context *ctx, void *state, int set) {
    return ds_attention_backward(ctx, &((attn_state *)state)->bwd[set]);
}

static void bench_attention(bench *b, int64_t T) {
    const int64_t B = 32, H = 12, D = 64;
    char shape[64];
    snprintf(shape, sizeof shape, "B=%lld,H=%lld,T=%lld,D=%lld", (long long)B, (long long)H, (long long)T,
             (long long)D);
    const double fwd_flops = 4.0 * B * H * T * T * D, bwd_flops = 2.5 * fwd_flops;
    const double elems = (double)(B * H * T * D);
    const int nsets = sets_for(b, 4 * 2 * elems);  // forward: q, k, v, out bf16 (the smaller set)
    attn_state *st = calloc(1, sizeof *st);  // MAX_SETS args structs of each: on the heap
    if (st == NULL) {
        emit_error(b, "attention_fwd", "-", shape, "out of host memory");
        return;
    }
    pool p = {.n = 0};
    const int64_t qshape[] = {B, H, T, D}, lshape[] = {B, H, T};
    ds_status s = DS_OK;
    for (int i = 0; i < nsets && s == DS_OK; i++) {
        ds_tensor q, k, v, out, lse, dout, dq, dk, dv;
        const uint64_t seed = 100 * (uint64_t)(i + 1);
        s = pool_tensor(b, &p, DS_BF16, 4, qshape, seed + 1, -1, 1, &q);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 4, qshape, seed + 2, -1, 1, &k);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 4, qshape, seed + 3, -1, 1, &v);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 4, qshape, seed + 4, -1, 1, &out);
        // Near log(T), where the logsumexp of these scores lies, in case backward runs on its own.
        const float log_t = logf((float)T);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_F32, 3, lshape, seed + 5, log_t - 1, log_t + 1, &lse);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 4, qshape, seed + 6, -1, 1, &dout);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 4, qshape, seed + 7, 0, 0, &dq);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 4, qshape, seed + 8, 0, 0, &dk);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 4, qshape, seed + 9, 0, 0, &dv);
        if (s != DS_OK) break;
        const double scale = 1.0 / sqrt((double)D);
        st->fwd[i] = (ds_attention_fwd_args){.q = q, .k = k, .v = v, .out = out, .lse = lse, .scale = scale};
        st->bwd[i] = (ds_attention_bwd_args){.q = q, .k = k, .v = v, .out = out, .lse = lse, .dout = dout,
                                            .dq = dq, .dk = dk, .dv = dv, .scale = scale};
    }
    for (size_t vi = 0; vi < sizeof k_attention / sizeof k_attention[0]; vi++) {
        const variant *v = &k_attention[vi];
        if (s != DS_OK) {
            emit_error(b, "attention_fwd", v->name, shape, b->ctx->err.msg);
            emit_error(b, "attention_bwd", v->name, shape, b->ctx->err.msg);
            continue;
        }
        time_and_emit(b, "attention_fwd", v, shape, run_attn_fwd, st, nsets, fwd_flops, 0);
        // Backward reads this variant's own out and lse: one forward per set first (when the
        // forward fails, backward still runs on the filled values, which time the same).
        for (int i = 0; i < nsets; i++)
            if (run_attn_fwd(b->ctx, st, i) != DS_OK) {
                ds_err_clear(&b->ctx->err);
                break;
            }
        time_and_emit(b, "attention_bwd", v, shape, run_attn_bwd, st, nsets, bwd_flops, 0);
    }
    pool_free(b, &p);
    free(st);
}

// ---- AdamW ----
typedef struct adamw_state {
    ds_adamw_args a;
    int64_t step;
} adamw_state;

static ds_status run_adamw(ds_context *ctx, void *state, int set) {
    (void)set;  // one set: 3.3 GB, far beyond L2
    adamw_state *s = state;
    s->a.step = ++s->step;
    return ds_adamw_step(ctx, &s->a);
}

static void bench_adamw(bench *b) {
    const int64_t n = 110000000;
    const int64_t shp[] = {n};
    pool p = {.n = 0};
    ds_tensor param, grad, m, v, bf16, mask;
    ds_status s = pool_tensor(b, &p, DS_F32, 1, shp, 11, -0.1f, 0.1f, &param);
    if (s == DS_OK) s = pool_tensor(b, &p, DS_F32, 1, shp, 12, -1e-3f, 1e-3f, &grad);
    if (s == DS_OK) s = pool_tensor(b, &p, DS_F32, 1, shp, 13, -1e-4f, 1e-4f, &m);
    if (s == DS_OK) s = pool_tensor(b, &p, DS_F32, 1, shp, 14, 0.0f, 1e-6f, &v);
    if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 1, shp, 15, 0, 0, &bf16);
    if (s == DS_OK) s = pool_tensor(b, &p, DS_U8, 1, shp, 16, 0, 1, &mask);
    for (int with_mask = 0; with_mask <= 1; with_mask++) {
        char shape[64];
        snprintf(shape, sizeof shape, "n=%lld%s", (long long)n, with_mask ? ",mask" : "");
        // param, grad, m, v read (16 B) [+ mask 1 B]; param, m, v (12 B) and bf16 (2 B) written.
        const double bytes = (double)n * (30 + with_mask);
        for (size_t vi = 0; vi < sizeof k_own / sizeof k_own[0]; vi++) {
            if (s != DS_OK) {
                emit_error(b, "adamw", k_own[vi].name, shape, b->ctx->err.msg);
                continue;
            }
            adamw_state st = {.a = {.param = param, .grad = grad, .m = m, .v = v, .param_bf16 = bf16,
                                    .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01,
                                    .grad_scale = 1.0},
                              .step = 0};
            if (with_mask) st.a.decay_mask = mask;
            time_and_emit(b, "adamw", &k_own[vi], shape, run_adamw, &st, 1, 0, bytes);
        }
    }
    pool_free(b, &p);
}

// ---- layer norm ----
typedef struct ln_state {
    ds_layernorm_fwd_args fwd[MAX_SETS];
    ds_layernorm_bwd_args bwd[MAX_SETS];
} ln_state;

static ds_status run_ln_fwd(ds_context *ctx, void *state, int set) {
    return ds_layernorm_forward(ctx, &((ln_state *)state)->fwd[set]);
}
static ds_status run_ln_bwd(ds_context *ctx, void *state, int set) {
    return ds_layernorm_backward(ctx, &((ln_state *)state)->bwd[set]);
}

static void bench_layernorm(bench *b) {
    const int64_t N = 32 * 512, C = 768;
    char shape[64];
    snprintf(shape, sizeof shape, "N=%lld,C=%lld", (long long)N, (long long)C);
    const double fwd_bytes = 2.0 * N * C + 8.0 * C + 2.0 * N * C + 8.0 * N;
    const double bwd_bytes = 4.0 * N * C + 4.0 * C + 8.0 * N + 2.0 * N * C + 8.0 * C;
    const int nsets = sets_for(b, fwd_bytes);
    ln_state *st = calloc(1, sizeof *st);  // MAX_SETS args structs of each: on the heap
    if (st == NULL) {
        emit_error(b, "layernorm_fwd", "-", shape, "out of host memory");
        return;
    }
    pool p = {.n = 0};
    const int64_t xs[] = {N, C}, cs[] = {C}, ns[] = {N};
    ds_status s = DS_OK;
    for (int i = 0; i < nsets && s == DS_OK; i++) {
        ds_tensor x, y, dy, dx, gamma, beta, mean, rstd, dgamma, dbeta;
        const uint64_t seed = 1000 + 20 * (uint64_t)i;
        s = pool_tensor(b, &p, DS_BF16, 2, xs, seed + 1, -2, 2, &x);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 2, xs, seed + 2, 0, 0, &y);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 2, xs, seed + 3, -1, 1, &dy);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 2, xs, seed + 4, 0, 0, &dx);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_F32, 1, cs, seed + 5, 0.5f, 1.5f, &gamma);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_F32, 1, cs, seed + 6, -0.1f, 0.1f, &beta);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_F32, 1, ns, seed + 7, -0.1f, 0.1f, &mean);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_F32, 1, ns, seed + 8, 0.5f, 2.0f, &rstd);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_F32, 1, cs, seed + 9, 0, 0, &dgamma);
        if (s == DS_OK) s = pool_tensor(b, &p, DS_F32, 1, cs, seed + 10, 0, 0, &dbeta);
        if (s != DS_OK) break;
        st->fwd[i] = (ds_layernorm_fwd_args){.x = x, .gamma = gamma, .beta = beta, .y = y, .mean = mean, .rstd = rstd,
                                            .eps = 1e-12};
        st->bwd[i] = (ds_layernorm_bwd_args){.x = x, .gamma = gamma, .mean = mean, .rstd = rstd, .dy = dy, .dx = dx,
                                            .dgamma = dgamma, .dbeta = dbeta, .accumulate = false};
    }
    for (size_t vi = 0; vi < sizeof k_own / sizeof k_own[0]; vi++) {
        if (s != DS_OK) {
            emit_error(b, "layernorm_fwd", k_own[vi].name, shape, b->ctx->err.msg);
            emit_error(b, "layernorm_bwd", k_own[vi].name, shape, b->ctx->err.msg);
            continue;
        }
        time_and_emit(b, "layernorm_fwd", &k_own[vi], shape, run_ln_fwd, st, nsets, 0, fwd_bytes);
        time_and_emit(b, "layernorm_bwd", &k_own[vi], shape, run_ln_bwd, st, nsets, 0, bwd_bytes);
    }
    pool_free(b, &p);
    free(st);
}

// ---- GELU ----
typedef struct gelu_state {
    ds_unary_fwd_args fwd;
    ds_unary_bwd_args bwd;
} gelu_state;

static ds_status run_gelu_fwd(ds_context *ctx, void *state, int set) {
    (void)set;  // one set: 200 MB and more per call
    return ds_gelu_forward(ctx, &((gelu_state *)state)->fwd);
}
static ds_status run_gelu_bwd(ds_context *ctx, void *state, int set) {
    (void)set;
    return ds_gelu_backward(ctx, &((gelu_state *)state)->bwd);
}

static void bench_gelu(bench *b) {
    const int64_t N = 32 * 512, C = 3072;
    char shape[64];
    snprintf(shape, sizeof shape, "N=%lld,C=%lld", (long long)N, (long long)C);
    const double n = (double)(N * C), fwd_bytes = 4.0 * n, bwd_bytes = 6.0 * n;
    pool p = {.n = 0};
    const int64_t xs[] = {N, C};
    gelu_state st;
    ds_tensor x, y, dy, dx;
    ds_status s = pool_tensor(b, &p, DS_BF16, 2, xs, 2001, -3, 3, &x);
    if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 2, xs, 2002, 0, 0, &y);
    if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 2, xs, 2003, -1, 1, &dy);
    if (s == DS_OK) s = pool_tensor(b, &p, DS_BF16, 2, xs, 2004, 0, 0, &dx);
    if (s == DS_OK) {
        st.fwd = (ds_unary_fwd_args){.x = x, .y = y};
        st.bwd = (ds_unary_bwd_args){.x = x, .dy = dy, .dx = dx};  // y absent: GELU's backward reads x
    }
    for (size_t vi = 0; vi < sizeof k_own / sizeof k_own[0]; vi++) {
        if (s != DS_OK) {
            emit_error(b, "gelu_fwd", k_own[vi].name, shape, b->ctx->err.msg);
            emit_error(b, "gelu_bwd", k_own[vi].name, shape, b->ctx->err.msg);
            continue;
        }
        time_and_emit(b, "gelu_fwd", &k_own[vi], shape, run_gelu_fwd, &st, 1, 0, fwd_bytes);
        time_and_emit(b, "gelu_bwd", &k_own[vi], shape, run_gelu_bwd, &st, 1, 0, bwd_bytes);
    }
    pool_free(b, &p);
}

static int usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [--repeats N] [--warmup N] [--only SUBSTRING]\n"
            "  times the custom CUDA kernels (attention, adamw, layernorm, gelu) and a copy;\n"
            "  JSON lines on stdout, a table on stderr (docs/kernel_bench.md)\n",
            argv0);
    return 1;
}

int main(int argc, char **argv) {
    bench b = {.warmup = 5, .repeats = 50, .budget_ms = 3000.0, .only = NULL};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) b.repeats = atoi(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) b.warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) b.only = argv[++i];
        else return usage(argv[0]);
    }
    if (b.repeats < 5 || b.repeats > MAX_REPEATS || b.warmup < 1) {
        fprintf(stderr, "ds_kernel_bench: --repeats must be in [5, %d] and --warmup >= 1\n", MAX_REPEATS);
        return 1;
    }
    ds_context ctx = ds_context_cpu();
    b.ctx = &ctx;
    const ds_gpu_options o = ds_gpu_options_default();
    if (ds_gpu_open(&ctx, &o) != DS_OK) {
        printf("{\"error\":");
        json_string(ctx.err.msg);
        printf("}\n");
        fprintf(stderr, "ds_kernel_bench: no CUDA device: %s\n", ctx.err.msg);
        return 1;
    }
    if (ds_gpu_peaks_get(&ctx, &b.peaks) != DS_OK || ds_bench_l2_bytes(&ctx, &b.l2_bytes) != DS_OK ||
        ds_bench_timer_create(&ctx, MAX_REPEATS, &b.timer) != DS_OK) {
        fprintf(stderr, "ds_kernel_bench: %s\n", ctx.err.msg);
        ds_gpu_close(&ctx);
        return 1;
    }
    printf("{\"device\":");
    json_string(b.peaks.name);
    json_number_or_null("peak_bf16_tflops", b.peaks.bf16_flops > 0 ? b.peaks.bf16_flops / 1e12 : NAN);
    json_number_or_null("peak_mem_gb_s", b.peaks.mem_bytes_per_s > 0 ? b.peaks.mem_bytes_per_s / 1e9 : NAN);
    printf(",\"l2_bytes\":%zu,\"warmup\":%d,\"repeats\":%d}\n", b.l2_bytes, b.warmup, b.repeats);
    fprintf(stderr, "%s: bf16 peak %.0f TFLOP/s, memory %.0f GB/s, L2 %.1f MB\n", b.peaks.name,
            b.peaks.bf16_flops / 1e12, b.peaks.mem_bytes_per_s / 1e9, b.l2_bytes / 1e6);
    if (wanted(&b, "attention")) {
        bench_attention(&b, 512);
        bench_attention(&b, 128);
    }
    if (wanted(&b, "adamw")) bench_adamw(&b);
    if (wanted(&b, "layernorm")) bench_layernorm(&b);
    if (wanted(&b, "gelu")) bench_gelu(&b);
    ds_bench_timer_destroy(b.timer);
    ds_gpu_close(&ctx);
    return b.errors ? 2 : 0;
}
