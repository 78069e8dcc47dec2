// layernorm against torch golden data (tests/fixtures/ops/layernorm.safetensors, from
// scripts/fixtures/ops_dense.py: F.layer_norm and aten.native_layer_norm's mean/rstd), plus
// accumulate semantics, error paths and thread-count independence of dgamma/dbeta.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/cpu/cpu_isa.h"
#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// Our statistics are exact to double and rounded once to float; torch's fp32 kernel carries
// a few ulp of rounding from C (<= 96) terms, so the results are ~1e-7..1e-6 apart relative
// to each tensor's largest value; 1e-5 leaves a 10x margin while a wrong formula (e.g. an
// unbiased variance, off by C/(C-1) >= 1%) misses by orders of magnitude.
#define TOL 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), gamma = ds_op_fixture_get(t, f, k, "gamma", DS_F32);
    ds_tensor beta = ds_op_fixture_get(t, f, k, "beta", DS_F32), dy = ds_op_fixture_get(t, f, k, "dy", DS_F32);
    ds_tensor y_want = ds_op_fixture_get(t, f, k, "y", DS_F32), mean_want = ds_op_fixture_get(t, f, k, "mean", DS_F32);
    ds_tensor rstd_want = ds_op_fixture_get(t, f, k, "rstd", DS_F32), dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    ds_tensor dgamma_want = ds_op_fixture_get(t, f, k, "dgamma", DS_F32);
    ds_tensor dbeta_want = ds_op_fixture_get(t, f, k, "dbeta", DS_F32);
    const double eps = ds_op_fixture_scalar(t, f, k, "eps");
    if (!x.data || !gamma.data || !beta.data || !dy.data || !y_want.data || !mean_want.data || !rstd_want.data ||
        !dx_want.data || !dgamma_want.data || !dbeta_want.data)
        return;
    char what[96];

    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), mean = ds_test_zeros_like(&mean_want, DS_F32);
    ds_tensor rstd = ds_test_zeros_like(&rstd_want, DS_F32);
    ds_layernorm_fwd_args fa = {.x = x, .gamma = gamma, .beta = beta, .y = y, .mean = mean, .rstd = rstd, .eps = eps};
    if (ds_test_check(t, ds_layernorm_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y", k);
        ds_test_close(t, what, &y, &y_want, TOL);
        snprintf(what, sizeof what, "case%d mean", k);
        ds_test_close(t, what, &mean, &mean_want, TOL);
        snprintf(what, sizeof what, "case%d rstd", k);
        ds_test_close(t, what, &rstd, &rstd_want, TOL);
    }

    // Backward from torch's saved statistics, so that it is tested on its own.
    ds_tensor dx = ds_test_zeros_like(&dx_want, DS_F32), dgamma = ds_test_zeros_like(&dgamma_want, DS_F32);
    ds_tensor dbeta = ds_test_zeros_like(&dbeta_want, DS_F32);
    ds_test_fill_nan(&dx), ds_test_fill_nan(&dgamma), ds_test_fill_nan(&dbeta);  // must be overwritten
    ds_layernorm_bwd_args ba = {.x = x, .gamma = gamma, .mean = mean_want, .rstd = rstd_want, .dy = dy,
                                .dx = dx, .dgamma = dgamma, .dbeta = dbeta, .accumulate = false};
    if (ds_test_check(t, ds_layernorm_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
        snprintf(what, sizeof what, "case%d dgamma", k);
        ds_test_close(t, what, &dgamma, &dgamma_want, TOL);
        snprintf(what, sizeof what, "case%d dbeta", k);
        ds_test_close(t, what, &dbeta, &dbeta_want, TOL);
    }

    // accumulate=true: dgamma and dbeta add a second copy; dx is overwritten.
    ba.accumulate = true;
    ds_tensor dgamma2 = ds_test_scaled_copy(&dgamma_want, 2), dbeta2 = ds_test_scaled_copy(&dbeta_want, 2);
    if (ds_test_check(t, ds_layernorm_backward(ctx, &ba) == DS_OK, "case%d backward (accumulate): %s", k,
                      ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx after accumulate", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
        snprintf(what, sizeof what, "case%d dgamma accumulated twice", k);
        ds_test_close(t, what, &dgamma, &dgamma2, TOL);
        snprintf(what, sizeof what, "case%d dbeta accumulated twice", k);
        ds_test_close(t, what, &dbeta, &dbeta2, TOL);
    }
    free(y.data), free(mean.data), free(rstd.data), free(dx.data), free(dgamma.data), free(dbeta.data);
    free(dgamma2.data), free(dbeta2.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    enum { N = 3, C = 5 };
    float x[N * C] = {0}, g[C] = {0}, b[C] = {0}, y[N * C] = {0}, m[N] = {0}, r[N] = {0}, dx[N * C] = {0};
    float dg[C] = {0}, db[C] = {0};
    double g64[C] = {0};
    ds_layernorm_fwd_args ok = {.x = ds_tensor_cpu2(x, DS_F32, N, C), .gamma = ds_tensor_cpu1(g, DS_F32, C),
                                .beta = ds_tensor_cpu1(b, DS_F32, C), .y = ds_tensor_cpu2(y, DS_F32, N, C),
                                .mean = ds_tensor_cpu1(m, DS_F32, N), .rstd = ds_tensor_cpu1(r, DS_F32, N),
                                .eps = 1e-5};
    ds_layernorm_fwd_args a = ok;
    a.gamma = ds_tensor_cpu1(g, DS_F32, C - 1);
    ds_test_error(t, "forward with gamma (4) for C = 5", &ctx->err, ds_layernorm_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "layernorm_forward: gamma");
    a = ok;
    a.mean = ds_tensor_cpu1(m, DS_F32, N - 1);
    ds_test_error(t, "forward with mean (2) for N = 3", &ctx->err, ds_layernorm_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "layernorm_forward: mean");
    a = ok;
    a.gamma = ds_tensor_cpu1(g64, DS_F64, C);
    ds_test_error(t, "forward with F64 gamma and F32 x", &ctx->err, ds_layernorm_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "layernorm_forward: gamma");
    a = ok;
    a.eps = 0;
    ds_test_error(t, "forward with eps 0", &ctx->err, ds_layernorm_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "layernorm_forward: eps");

    ds_layernorm_bwd_args okb = {.x = ok.x, .gamma = ok.gamma, .mean = ok.mean, .rstd = ok.rstd,
                                 .dy = ds_tensor_cpu2(y, DS_F32, N, C), .dx = ds_tensor_cpu2(dx, DS_F32, N, C),
                                 .dgamma = ds_tensor_cpu1(dg, DS_F32, C), .dbeta = ds_tensor_cpu1(db, DS_F32, C)};
    ds_layernorm_bwd_args c = okb;
    c.dx = ds_tensor_cpu2(dx, DS_F32, C, N);
    ds_test_error(t, "backward with dx (5, 3)", &ctx->err, ds_layernorm_backward(ctx, &c), DS_ERR_INVALID_ARG,
                  "layernorm_backward: dx");
    c = okb;
    c.dbeta = (ds_tensor){0};
    ds_test_error(t, "backward without dbeta", &ctx->err, ds_layernorm_backward(ctx, &c), DS_ERR_INVALID_ARG,
                  "layernorm_backward: dbeta");
}

// dgamma/dbeta are column reductions over threads: bit-identical for 1 and 3 threads. The size
// is above the op's threshold for going parallel.
static void check_thread_independence(ds_test *t, ds_context *ctx) {
    enum { N = 600, C = 131 };
    float *x = malloc(sizeof(float) * N * C), *dy = malloc(sizeof(float) * N * C), *dx = malloc(sizeof(float) * N * C);
    float g[C], m[N], r[N], dg[2][C], db[2][C];
    ds_fill_uniform_f32(x, N * C, 1), ds_fill_uniform_f32(dy, N * C, 2), ds_fill_uniform_f32(g, C, 3);
    ds_fill_uniform_f32(m, N, 4), ds_fill_uniform_f32(r, N, 5);
    const int threads = omp_get_max_threads();
    ds_status s[2];
    for (int i = 0; i < 2; i++) {
        omp_set_num_threads(i == 0 ? 1 : 3);
        ds_layernorm_bwd_args a = {.x = ds_tensor_cpu2(x, DS_F32, N, C), .gamma = ds_tensor_cpu1(g, DS_F32, C),
                                   .mean = ds_tensor_cpu1(m, DS_F32, N), .rstd = ds_tensor_cpu1(r, DS_F32, N),
                                   .dy = ds_tensor_cpu2(dy, DS_F32, N, C), .dx = ds_tensor_cpu2(dx, DS_F32, N, C),
                                   .dgamma = ds_tensor_cpu1(dg[i], DS_F32, C),
                                   .dbeta = ds_tensor_cpu1(db[i], DS_F32, C)};
        s[i] = ds_layernorm_backward(ctx, &a);
    }
    omp_set_num_threads(threads);
    ds_test_check(t, s[0] == DS_OK && s[1] == DS_OK && memcmp(dg[0], dg[1], sizeof dg[0]) == 0 &&
                         memcmp(db[0], db[1], sizeof db[0]) == 0,
                  "dgamma/dbeta differ between 1 and 3 threads (%s)", ctx->err.msg);
    free(x), free(dy), free(dx);
}

// F32 forward and backward run one compiled variant per instruction set (cpu_isa.h): each
// variant this CPU supports gives the baseline's bits, at a width with a tail (C % 16 != 0) and at
// BERT's 384, with inputs of a large mean (the two-pass variance matters there).
static void check_isa_independence(ds_test *t, ds_context *ctx) {
    enum { N = 300, CMAX = 384 };
    const int widths[] = {131, 384};
    float *x = malloc(sizeof(float) * N * CMAX), *dy = malloc(sizeof(float) * N * CMAX);
    float *out[3][5];  // per ISA: y, mean, rstd, dx, (dgamma | dbeta)
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 5; k++) out[i][k] = malloc(sizeof(float) * N * CMAX);
    float g[CMAX], b[CMAX];
    const char *isa_env = getenv("DS_CPU_ISA");
    char *saved = isa_env ? strdup(isa_env) : NULL;
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++) {
        const int C = widths[wi];
        ds_fill_uniform_f32(x, N * C, 11), ds_fill_uniform_f32(dy, N * C, 12);
        ds_fill_uniform_f32(g, C, 13), ds_fill_uniform_f32(b, C, 14);
        for (int i = 0; i < N * C; i++) x[i] = 100.0f + 3.0f * x[i];
        const int top = (int)ds_cpu_isa_supported();
        for (int isa = 0; isa <= top; isa++) {
            setenv("DS_CPU_ISA", ds_cpu_isa_name((ds_cpu_isa)isa), 1);
            float *y = out[isa][0], *m = out[isa][1], *r = out[isa][2], *dx = out[isa][3], *dgb = out[isa][4];
            ds_layernorm_fwd_args f = {.x = ds_tensor_cpu2(x, DS_F32, N, C), .gamma = ds_tensor_cpu1(g, DS_F32, C),
                                       .beta = ds_tensor_cpu1(b, DS_F32, C), .y = ds_tensor_cpu2(y, DS_F32, N, C),
                                       .mean = ds_tensor_cpu1(m, DS_F32, N), .rstd = ds_tensor_cpu1(r, DS_F32, N),
                                       .eps = 1e-12};
            ds_layernorm_bwd_args a = {.x = f.x, .gamma = f.gamma, .mean = f.mean, .rstd = f.rstd,
                                       .dy = ds_tensor_cpu2(dy, DS_F32, N, C), .dx = ds_tensor_cpu2(dx, DS_F32, N, C),
                                       .dgamma = ds_tensor_cpu1(dgb, DS_F32, C),
                                       .dbeta = ds_tensor_cpu1(dgb + C, DS_F32, C)};
            const ds_status s1 = ds_layernorm_forward(ctx, &f), s2 = ds_layernorm_backward(ctx, &a);
            ds_test_check(t, s1 == DS_OK && s2 == DS_OK, "C=%d %s: %s", C, ds_cpu_isa_name((ds_cpu_isa)isa),
                          ctx->err.msg);
            if (isa == 0) continue;
            const size_t sizes[5] = {(size_t)N * C, N, N, (size_t)N * C, 2 * (size_t)C};
            const char *names[5] = {"y", "mean", "rstd", "dx", "dgamma/dbeta"};
            for (int k = 0; k < 5; k++)
                ds_test_check(t, memcmp(out[isa][k], out[0][k], sizes[k] * sizeof(float)) == 0,
                              "C=%d: %s under %s differs from the baseline's", C, names[k],
                              ds_cpu_isa_name((ds_cpu_isa)isa));
        }
    }
    if (saved) setenv("DS_CPU_ISA", saved, 1), free(saved);
    else unsetenv("DS_CPU_ISA");
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 5; k++) free(out[i][k]);
    free(x), free(dy);
}

int main(void) {
    ds_test t = ds_test_begin("op_layernorm");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "layernorm")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 3, "layernorm fixture holds %d cases, expected at least 3", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_errors(&t, &ctx);
    check_thread_independence(&t, &ctx);
    check_isa_independence(&t, &ctx);
    return ds_test_finish(&t);
}
