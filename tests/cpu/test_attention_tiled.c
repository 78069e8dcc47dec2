// The tiled F32 attention (kernels/cpu/attention_tiled.c) beyond what the torch fixtures of
// test_op_attention cover:
// - against the F64 op (the row-by-row reference, attention_real.inc, which test_op_attention
//   checks against torch) on T = 600 (three key blocks, ten query tiles) with padding and dropout,
//   and T = 64 (the main job's length), tensor-relative tolerance 5e-6 as test_op_attention
//   (float32 dot products and sums over <= 600 terms; a wrong rescaling of the online softmax or
//   a misplaced dropout factor is off by 1e-2 or more);
// - every instruction set this CPU supports gives the same bits (cpu_isa.h);
// - padded keys contribute nothing even when k and v hold NaN there: the outputs are bit for bit
//   those of a run with zeros there, and finite.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/cpu/cpu_isa.h"
#include "../../kernels/ops.h"
#include "../../runtime/base/philox.h"
#include "../test_util.h"

static const double k_tol = 5e-6;

typedef struct run_out {
    float *out, *lse, *dq, *dk, *dv;
} run_out;

// Forward + backward in F32 on (B, H, T, D) inputs; r's arrays are allocated here.
static bool run_f32(ds_test *t, ds_context *ctx, int64_t B, int64_t H, int64_t T, int64_t D, const float *q,
                    const float *k, const float *v, const float *dout, const int32_t *mask, float p, run_out *r) {
    const int64_t n = B * H * T * D;
    r->out = malloc(n * 4), r->lse = malloc(B * H * T * 4), r->dq = malloc(n * 4), r->dk = malloc(n * 4), r->dv = malloc(n * 4);
    const double scale = 1.0 / sqrt((double)D);
    ds_attention_fwd_args f = {.q = ds_tensor_cpu4((void *)q, DS_F32, B, H, T, D), .k = ds_tensor_cpu4((void *)k, DS_F32, B, H, T, D),
                               .v = ds_tensor_cpu4((void *)v, DS_F32, B, H, T, D), .key_mask = ds_tensor_cpu2((void *)mask, DS_I32, B, T),
                               .out = ds_tensor_cpu4(r->out, DS_F32, B, H, T, D), .lse = ds_tensor_cpu3(r->lse, DS_F32, B, H, T),
                               .scale = scale, .dropout_p = p, .dropout_offset = 77};
    ds_attention_bwd_args b = {.q = f.q, .k = f.k, .v = f.v, .key_mask = f.key_mask, .out = f.out, .lse = f.lse,
                               .dout = ds_tensor_cpu4((void *)dout, DS_F32, B, H, T, D),
                               .dq = ds_tensor_cpu4(r->dq, DS_F32, B, H, T, D), .dk = ds_tensor_cpu4(r->dk, DS_F32, B, H, T, D),
                               .dv = ds_tensor_cpu4(r->dv, DS_F32, B, H, T, D), .scale = scale, .dropout_p = p, .dropout_offset = 77};
    return ds_test_check(t, ds_attention_forward(ctx, &f) == DS_OK, "forward: %s", ctx->err.msg) &&
           ds_test_check(t, ds_attention_backward(ctx, &b) == DS_OK, "backward: %s", ctx->err.msg);
}

// The same in F64; results converted to double arrays.
static bool run_f64(ds_test *t, ds_context *ctx, int64_t B, int64_t H, int64_t T, int64_t D, const float *qf,
                    const float *kf, const float *vf, const float *doutf, const int32_t *mask, float p, double *o[5]) {
    const int64_t n = B * H * T * D;
    double *in[4];
    const float *src[4] = {qf, kf, vf, doutf};
    for (int a = 0; a < 4; a++) {
        in[a] = malloc(n * 8);
        for (int64_t i = 0; i < n; i++) in[a][i] = src[a][i];
    }
    for (int a = 0; a < 5; a++) o[a] = malloc((a == 1 ? B * H * T : n) * 8);
    const double scale = 1.0 / sqrt((double)D);
    ds_attention_fwd_args f = {.q = ds_tensor_cpu4(in[0], DS_F64, B, H, T, D), .k = ds_tensor_cpu4(in[1], DS_F64, B, H, T, D),
                               .v = ds_tensor_cpu4(in[2], DS_F64, B, H, T, D), .key_mask = ds_tensor_cpu2((void *)mask, DS_I32, B, T),
                               .out = ds_tensor_cpu4(o[0], DS_F64, B, H, T, D), .lse = ds_tensor_cpu3(o[1], DS_F64, B, H, T),
                               .scale = scale, .dropout_p = p, .dropout_offset = 77};
    ds_attention_bwd_args b = {.q = f.q, .k = f.k, .v = f.v, .key_mask = f.key_mask, .out = f.out, .lse = f.lse,
                               .dout = ds_tensor_cpu4(in[3], DS_F64, B, H, T, D),
                               .dq = ds_tensor_cpu4(o[2], DS_F64, B, H, T, D), .dk = ds_tensor_cpu4(o[3], DS_F64, B, H, T, D),
                               .dv = ds_tensor_cpu4(o[4], DS_F64, B, H, T, D), .scale = scale, .dropout_p = p, .dropout_offset = 77};
    const bool ok = ds_test_check(t, ds_attention_forward(ctx, &f) == DS_OK, "F64 forward: %s", ctx->err.msg) &&
                    ds_test_check(t, ds_attention_backward(ctx, &b) == DS_OK, "F64 backward: %s", ctx->err.msg);
    for (int a = 0; a < 4; a++) free(in[a]);
    return ok;
}

static void free_run(run_out *r) { free(r->out), free(r->lse), free(r->dq), free(r->dk), free(r->dv); }

static bool same_bits(const run_out *a, const run_out *b, int64_t n, int64_t nl) {
    return memcmp(a->out, b->out, n * 4) == 0 && memcmp(a->lse, b->lse, nl * 4) == 0 && memcmp(a->dq, b->dq, n * 4) == 0 &&
           memcmp(a->dk, b->dk, n * 4) == 0 && memcmp(a->dv, b->dv, n * 4) == 0;
}

static void one_shape(ds_test *t, ds_context *ctx, int64_t B, int64_t H, int64_t T, int64_t D, float p) {
    const int64_t n = B * H * T * D, nl = B * H * T;
    float *x[4];
    for (int a = 0; a < 4; a++) {
        x[a] = malloc(n * 4);
        for (int64_t i = 0; i < n; i++) x[a][i] = 2.0f * ds_philox_uniform(5, (uint64_t)a, (uint64_t)i) - 1.0f;
    }
    int32_t *mask = malloc(B * T * 4);
    for (int64_t b = 0; b < B; b++)  // element b keeps T - b T / (2 B) keys, with a hole in the middle
        for (int64_t j = 0; j < T; j++) mask[b * T + j] = (j < T - b * T / (2 * B)) && !(b == 1 && j == T / 3);
    char what[96];
    // Against the F64 reference.
    run_out r;
    double *ref[5];
    if (run_f32(t, ctx, B, H, T, D, x[0], x[1], x[2], x[3], mask, p, &r) &&
        run_f64(t, ctx, B, H, T, D, x[0], x[1], x[2], x[3], mask, p, ref)) {
        const float *got[5] = {r.out, r.lse, r.dq, r.dk, r.dv};
        const char *names[5] = {"out", "lse", "dq", "dk", "dv"};
        for (int a = 0; a < 5; a++) {
            const int64_t m = a == 1 ? nl : n;
            double *g = malloc(m * 8);
            for (int64_t i = 0; i < m; i++) g[i] = got[a][i];
            snprintf(what, sizeof what, "T=%lld p=%.2f %s vs F64", (long long)T, (double)p, names[a]);
            ds_test_close_f64(t, what, g, ref[a], (size_t)m, k_tol);
            free(g);
            free(ref[a]);
        }
    }
    // Every ISA: the same bits.
    const char *isa_env = getenv("DS_CPU_ISA");
    char *saved = isa_env ? strdup(isa_env) : NULL;
    for (int isa = 0; isa < (int)ds_cpu_isa_supported(); isa++) {
        setenv("DS_CPU_ISA", ds_cpu_isa_name((ds_cpu_isa)isa), 1);
        run_out ri;
        if (run_f32(t, ctx, B, H, T, D, x[0], x[1], x[2], x[3], mask, p, &ri))
            ds_test_check(t, same_bits(&r, &ri, n, nl), "T=%lld: %s gives the bits of %s", (long long)T,
                          ds_cpu_isa_name((ds_cpu_isa)isa), ds_cpu_isa_name(ds_cpu_isa_supported()));
        free_run(&ri);
    }
    if (saved) setenv("DS_CPU_ISA", saved, 1), free(saved);
    else unsetenv("DS_CPU_ISA");
    // NaN in the padded keys' k and v changes nothing.
    float *kn = malloc(n * 4), *vn = malloc(n * 4);
    memcpy(kn, x[1], n * 4), memcpy(vn, x[2], n * 4);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t j = 0; j < T; j++)
                if (!mask[b * T + j])
                    for (int64_t d = 0; d < D; d++) kn[((b * H + h) * T + j) * D + d] = vn[((b * H + h) * T + j) * D + d] = NAN;
    run_out rn;
    if (run_f32(t, ctx, B, H, T, D, x[0], kn, vn, x[3], mask, p, &rn)) {
        bool finite = true;
        for (int64_t i = 0; i < n; i++) finite &= isfinite(rn.out[i]) && isfinite(rn.dq[i]) && isfinite(rn.dk[i]) && isfinite(rn.dv[i]);
        ds_test_check(t, finite && same_bits(&r, &rn, n, nl), "T=%lld: NaN in padded k, v changes nothing (finite %d)",
                      (long long)T, (int)finite);
    }
    free_run(&rn);
    free_run(&r);
    free(kn), free(vn), free(mask);
    for (int a = 0; a < 4; a++) free(x[a]);
}

int main(void) {
    ds_test t = ds_test_begin("attention_tiled");
    ds_context ctx = ds_context_cpu();
    ctx.seed = 99;
    one_shape(&t, &ctx, 2, 2, 600, 16, 0.1f);
    one_shape(&t, &ctx, 3, 2, 64, 32, 0.1f);
    one_shape(&t, &ctx, 2, 1, 300, 8, 0.0f);
    return ds_test_finish(&t);
}
