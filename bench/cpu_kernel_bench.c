// ds_cpu_kernel_bench: times the CPU ops that a main-job step spends its non-GEMM time in, at
// the main job's shapes (all-MiniLM-L6-v2: hidden 384, 12 heads of 32, intermediate 1536; batch
// 32, 64 tokens with the last quarter of every other sequence padded; 22.7 M parameters for
// AdamW), through the op API (kernels/ops.h), and sets AdamW beside a plain memcpy of the bytes
// it moves; also wav2vec2's weight norm (positional convolution, (768, 48, 128), dim 2). docs/cpu_speed.md gives the numbers before and after the vectorised kernels.
//
// usage: ds_cpu_kernel_bench [--repeats N] [--op NAME]
// Output: one JSON line per op on stdout: op, shape, cpu_ms (median process CPU time per call),
// wall_ms (median wall time per call), repeats; a table on stderr. CPU time is the measure to
// compare on a shared machine (with OMP_NUM_THREADS=1 it is the op's own work); wall time
// includes waiting for other processes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kernels/ops.h"
#include "../runtime/base/philox.h"

enum { B = 32, T = 64, HID = 384, HEADS = 12, HD = 32, FF = 1536 };
#define N_PARAMS 22713216LL  // all-MiniLM-L6-v2 with a 2-class head

static double clock_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// n floats, roughly N(0, 1)-shaped (sum of two uniforms), from Philox stream `stream`.
static float *randn(int64_t n, uint64_t stream) {
    float *p = malloc((size_t)n * sizeof *p);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++)
        p[i] = 2.0f * (ds_philox_uniform(7, stream, 2 * (uint64_t)i) + ds_philox_uniform(7, stream, 2 * (uint64_t)i + 1) - 1.0f);
    return p;
}

typedef struct bench_state {
    ds_context ctx;
    // GELU (B*T, FF); layer norm and dropout (B*T, HID); attention (B, HEADS, T, HD)
    float *gx, *gy, *gdy, *gdx;
    float *lx, *lgamma, *lbeta, *ly, *lmean, *lrstd, *ldy, *ldx, *ldgamma, *ldbeta;
    float *q, *k, *v, *out, *lse, *dout, *dq, *dk, *dv;
    int32_t *mask;
    float *param, *grad, *m, *vv;  // AdamW (N_PARAMS)
    unsigned char *copy_src, *copy_dst;
    float *wv, *wg, *ww, *wnorm, *wdw, *wdv, *wdg;  // weight norm (768, 48, 128), dim 2 (wav2vec2's pos conv)
    int64_t step;
} bench_state;

typedef ds_status (*bench_fn)(bench_state *s);

static ds_status op_gelu_fwd(bench_state *s) {
    ds_unary_fwd_args a = {.x = ds_tensor_cpu2(s->gx, DS_F32, B * T, FF), .y = ds_tensor_cpu2(s->gy, DS_F32, B * T, FF)};
    return ds_gelu_forward(&s->ctx, &a);
}

static ds_status op_gelu_bwd(bench_state *s) {
    ds_unary_bwd_args a = {.x = ds_tensor_cpu2(s->gx, DS_F32, B * T, FF), .dy = ds_tensor_cpu2(s->gdy, DS_F32, B * T, FF),
                           .dx = ds_tensor_cpu2(s->gdx, DS_F32, B * T, FF)};
    return ds_gelu_backward(&s->ctx, &a);
}

static ds_status op_ln_fwd(bench_state *s) {
    ds_layernorm_fwd_args a = {.x = ds_tensor_cpu2(s->lx, DS_F32, B * T, HID), .gamma = ds_tensor_cpu1(s->lgamma, DS_F32, HID),
                               .beta = ds_tensor_cpu1(s->lbeta, DS_F32, HID), .y = ds_tensor_cpu2(s->ly, DS_F32, B * T, HID),
                               .mean = ds_tensor_cpu1(s->lmean, DS_F32, B * T), .rstd = ds_tensor_cpu1(s->lrstd, DS_F32, B * T),
                               .eps = 1e-12};
    return ds_layernorm_forward(&s->ctx, &a);
}

static ds_status op_ln_bwd(bench_state *s) {
    ds_layernorm_bwd_args a = {.x = ds_tensor_cpu2(s->lx, DS_F32, B * T, HID), .gamma = ds_tensor_cpu1(s->lgamma, DS_F32, HID),
                               .mean = ds_tensor_cpu1(s->lmean, DS_F32, B * T), .rstd = ds_tensor_cpu1(s->lrstd, DS_F32, B * T),
                               .dy = ds_tensor_cpu2(s->ldy, DS_F32, B * T, HID), .dx = ds_tensor_cpu2(s->ldx, DS_F32, B * T, HID),
                               .dgamma = ds_tensor_cpu1(s->ldgamma, DS_F32, HID), .dbeta = ds_tensor_cpu1(s->ldbeta, DS_F32, HID),
                               .accumulate = false};
    return ds_layernorm_backward(&s->ctx, &a);
}

static ds_status op_dropout(bench_state *s) {
    ds_dropout_fwd_args a = {.x = ds_tensor_cpu2(s->lx, DS_F32, B * T, HID), .y = ds_tensor_cpu2(s->ly, DS_F32, B * T, HID),
                             .p = 0.1f, .offset = 5};
    return ds_dropout_forward(&s->ctx, &a);
}

static ds_status op_attn_fwd(bench_state *s) {
    ds_attention_fwd_args a = {.q = ds_tensor_cpu4(s->q, DS_F32, B, HEADS, T, HD), .k = ds_tensor_cpu4(s->k, DS_F32, B, HEADS, T, HD),
                               .v = ds_tensor_cpu4(s->v, DS_F32, B, HEADS, T, HD), .key_mask = ds_tensor_cpu2(s->mask, DS_I32, B, T),
                               .out = ds_tensor_cpu4(s->out, DS_F32, B, HEADS, T, HD), .lse = ds_tensor_cpu3(s->lse, DS_F32, B, HEADS, T),
                               .scale = 0.17677669529663687, .dropout_p = 0.1f, .dropout_offset = 9};
    return ds_attention_forward(&s->ctx, &a);
}

static ds_status op_attn_bwd(bench_state *s) {
    ds_attention_bwd_args a = {.q = ds_tensor_cpu4(s->q, DS_F32, B, HEADS, T, HD), .k = ds_tensor_cpu4(s->k, DS_F32, B, HEADS, T, HD),
                               .v = ds_tensor_cpu4(s->v, DS_F32, B, HEADS, T, HD), .key_mask = ds_tensor_cpu2(s->mask, DS_I32, B, T),
                               .out = ds_tensor_cpu4(s->out, DS_F32, B, HEADS, T, HD), .lse = ds_tensor_cpu3(s->lse, DS_F32, B, HEADS, T),
                               .dout = ds_tensor_cpu4(s->dout, DS_F32, B, HEADS, T, HD),
                               .dq = ds_tensor_cpu4(s->dq, DS_F32, B, HEADS, T, HD), .dk = ds_tensor_cpu4(s->dk, DS_F32, B, HEADS, T, HD),
                               .dv = ds_tensor_cpu4(s->dv, DS_F32, B, HEADS, T, HD),
                               .scale = 0.17677669529663687, .dropout_p = 0.1f, .dropout_offset = 9};
    return ds_attention_backward(&s->ctx, &a);
}

static ds_status op_adamw(bench_state *s) {
    ds_adamw_args a = {.param = ds_tensor_cpu1(s->param, DS_F32, N_PARAMS), .grad = ds_tensor_cpu1(s->grad, DS_F32, N_PARAMS),
                       .m = ds_tensor_cpu1(s->m, DS_F32, N_PARAMS), .v = ds_tensor_cpu1(s->vv, DS_F32, N_PARAMS),
                       .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01, .grad_scale = 1.0,
                       .step = ++s->step};
    return ds_adamw_step(&s->ctx, &a);
}

enum { WN_O = 768, WN_I = 48, WN_K = 128 };
static ds_status op_wn_fwd(bench_state *s) {
    ds_weight_norm_fwd_args a = {.v = ds_tensor_cpu3(s->wv, DS_F32, WN_O, WN_I, WN_K), .g = ds_tensor_cpu1(s->wg, DS_F32, WN_K),
                                 .w = ds_tensor_cpu3(s->ww, DS_F32, WN_O, WN_I, WN_K), .norm = ds_tensor_cpu1(s->wnorm, DS_F32, WN_K),
                                 .dim = 2};
    return ds_weight_norm_forward(&s->ctx, &a);
}

static ds_status op_wn_bwd(bench_state *s) {
    ds_weight_norm_bwd_args a = {.v = ds_tensor_cpu3(s->wv, DS_F32, WN_O, WN_I, WN_K), .g = ds_tensor_cpu1(s->wg, DS_F32, WN_K),
                                 .norm = ds_tensor_cpu1(s->wnorm, DS_F32, WN_K), .dw = ds_tensor_cpu3(s->ww, DS_F32, WN_O, WN_I, WN_K),
                                 .dv = ds_tensor_cpu3(s->wdv, DS_F32, WN_O, WN_I, WN_K), .dg = ds_tensor_cpu1(s->wdg, DS_F32, WN_K),
                                 .dim = 2, .accumulate = false};
    return ds_weight_norm_backward(&s->ctx, &a);
}

// AdamW reads param, grad, m, v and writes param, m, v: 28 bytes per element. The copy moves the
// same total (14 bytes per element read and written), the bandwidth floor of such a loop.
#define COPY_BYTES ((size_t)N_PARAMS * 14)
static ds_status op_copy(bench_state *s) {
    memcpy(s->copy_dst, s->copy_src, COPY_BYTES);
    return DS_OK;
}

typedef struct bench_op {
    const char *name, *shape;
    bench_fn fn;
} bench_op;

static const bench_op k_ops[] = {
    {"gelu_fwd", "(2048, 1536)", op_gelu_fwd},
    {"gelu_bwd", "(2048, 1536)", op_gelu_bwd},
    {"attention_fwd", "(32, 12, 64, 32) mask, dropout 0.1", op_attn_fwd},
    {"attention_bwd", "(32, 12, 64, 32) mask, dropout 0.1", op_attn_bwd},
    {"layernorm_fwd", "(2048, 384)", op_ln_fwd},
    {"layernorm_bwd", "(2048, 384)", op_ln_bwd},
    {"dropout_fwd", "(2048, 384) p 0.1", op_dropout},
    {"adamw", "22.7 M params, decay", op_adamw},
    {"copy_adamw_bytes", "memcpy of 14 B x 22.7 M", op_copy},
    {"weight_norm_fwd", "(768, 48, 128) dim 2", op_wn_fwd},
    {"weight_norm_bwd", "(768, 48, 128) dim 2", op_wn_bwd},
};

int main(int argc, char **argv) {
    int repeats = 20;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (strcmp(argv[i], "--op") == 0 && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--repeats N] [--op NAME]\n", argv[0]);
            return 2;
        }
    }
    if (repeats < 1) repeats = 1;
    bench_state s = {.ctx = ds_context_cpu()};
    s.ctx.seed = 1234;
    const int64_t ng = (int64_t)B * T * FF, nl = (int64_t)B * T * HID, na = (int64_t)B * HEADS * T * HD;
    s.gx = randn(ng, 1), s.gy = randn(ng, 2), s.gdy = randn(ng, 3), s.gdx = randn(ng, 4);
    s.lx = randn(nl, 5), s.lgamma = randn(HID, 6), s.lbeta = randn(HID, 7), s.ly = randn(nl, 8);
    s.lmean = randn(B * T, 9), s.lrstd = randn(B * T, 10), s.ldy = randn(nl, 11), s.ldx = randn(nl, 12);
    s.ldgamma = randn(HID, 13), s.ldbeta = randn(HID, 14);
    s.q = randn(na, 15), s.k = randn(na, 16), s.v = randn(na, 17), s.out = randn(na, 18), s.lse = randn(na / HD, 19);
    s.dout = randn(na, 20), s.dq = randn(na, 21), s.dk = randn(na, 22), s.dv = randn(na, 23);
    s.mask = malloc(sizeof(int32_t) * B * T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) s.mask[b * T + t] = (b % 2 == 1 && t >= 3 * T / 4) ? 0 : 1;
    // The 22.7 M-element arrays only when AdamW or the copy runs (they take seconds to fill, and
    // much longer under valgrind, which docs/cpu_speed.md uses for instruction counts).
    if (only == NULL || strcmp(only, "adamw") == 0 || strcmp(only, "copy_adamw_bytes") == 0) {
        s.param = randn(N_PARAMS, 24), s.grad = randn(N_PARAMS, 25), s.m = randn(N_PARAMS, 26), s.vv = randn(N_PARAMS, 27);
        for (int64_t i = 0; i < N_PARAMS; i++) s.vv[i] = s.vv[i] * s.vv[i];  // second moments are >= 0
        s.copy_src = malloc(COPY_BYTES), s.copy_dst = malloc(COPY_BYTES);
        if (s.copy_src == NULL || s.copy_dst == NULL) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        memset(s.copy_src, 1, COPY_BYTES), memset(s.copy_dst, 2, COPY_BYTES);
    }
    const int64_t nw = (int64_t)WN_O * WN_I * WN_K;
    s.wv = randn(nw, 28), s.ww = randn(nw, 29), s.wdv = randn(nw, 30), s.wg = randn(WN_K, 31);
    s.wnorm = randn(WN_K, 32), s.wdg = randn(WN_K, 33);
    op_ln_fwd(&s);  // valid mean/rstd for backward
    op_wn_fwd(&s);  // valid norm for backward
    op_attn_fwd(&s);  // valid out/lse for backward
    double *cpu = malloc(sizeof(double) * (size_t)repeats), *wall = malloc(sizeof(double) * (size_t)repeats);
    fprintf(stderr, "%-18s %-36s %10s %10s\n", "op", "shape", "cpu ms", "wall ms");
    for (size_t o = 0; o < sizeof k_ops / sizeof k_ops[0]; o++) {
        const bench_op *op = &k_ops[o];
        if (only != NULL && strcmp(only, op->name) != 0) continue;
        for (int r = -2; r < repeats; r++) {  // 2 warm-up calls
            const double c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ms(CLOCK_MONOTONIC);
            if (op->fn(&s) != DS_OK) {
                fprintf(stderr, "%s: %s\n", op->name, s.ctx.err.msg);
                return 1;
            }
            if (r >= 0) cpu[r] = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0, wall[r] = clock_ms(CLOCK_MONOTONIC) - w0;
        }
        qsort(cpu, (size_t)repeats, sizeof *cpu, cmp_double);
        qsort(wall, (size_t)repeats, sizeof *wall, cmp_double);
        printf("{\"op\": \"%s\", \"shape\": \"%s\", \"cpu_ms\": %.3f, \"wall_ms\": %.3f, \"repeats\": %d}\n", op->name,
               op->shape, cpu[repeats / 2], wall[repeats / 2], repeats);
        fprintf(stderr, "%-18s %-36s %10.3f %10.3f\n", op->name, op->shape, cpu[repeats / 2], wall[repeats / 2]);
    }
    fflush(stdout);
    return 0;
}
