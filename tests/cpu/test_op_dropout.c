// Dropout (kernels/cpu/dropout.c). torch's RNG cannot be reproduced, so the op is checked
// against its own contract: the keep decisions are exactly ds_philox_keep's for (ctx->seed,
// offset, i), the kept fraction is binomial, kept values are scaled by exactly 1/(1-p), backward
// uses the same mask, p == 0 is the identity and bad arguments are refused. The finite-difference
// check is in test_gradcheck_attention.c.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/philox.h"
#include "../gradcheck.h"
#include "../test_util.h"

enum { N = 1000000 };

// Keep fraction, exact scale, agreement with ds_philox_keep, and backward, for one p.
static void check_p(ds_test *t, ds_context *ctx, float p, const float *x, float *y, float *dx) {
    const uint64_t offset = 0x10000 + (uint64_t)(p * 100);
    ds_dropout_fwd_args f = {ds_tensor_cpu1((void *)x, DS_F32, N), ds_tensor_cpu1(y, DS_F32, N), p, offset};
    ds_test_check(t, ds_dropout_forward(ctx, &f) == DS_OK, "p=%g forward: %s", (double)p, ctx->err.msg);
    // dy = x as well: backward must give dx = x * factor with the same factors.
    ds_dropout_bwd_args b = {ds_tensor_cpu1((void *)x, DS_F32, N), ds_tensor_cpu1(dx, DS_F32, N), p, offset};
    ds_test_check(t, ds_dropout_backward(ctx, &b) == DS_OK, "p=%g backward: %s", (double)p, ctx->err.msg);

    const float scale = (float)(1.0 / (1.0 - (double)p));  // 1/(1-p) rounded once
    int64_t kept = 0, wrong_mask = 0, wrong_value = 0, wrong_backward = 0;
    for (int64_t i = 0; i < N; i++) {
        const int keep = ds_philox_keep(ctx->seed, offset, (uint64_t)i, p);
        kept += keep;
        const float want = keep ? x[i] * scale : 0.0f;
        wrong_mask += (y[i] != 0.0f) != keep;  // x has no zeros
        wrong_value += y[i] != want;
        wrong_backward += dx[i] != want;
    }
    ds_test_check(t, wrong_mask == 0, "p=%g: %lld keep decisions differ from ds_philox_keep", (double)p,
                  (long long)wrong_mask);
    ds_test_check(t, wrong_value == 0, "p=%g: %lld values are not exactly x * (float)(1/(1-p)) or 0", (double)p,
                  (long long)wrong_value);
    ds_test_check(t, wrong_backward == 0, "p=%g: backward differs from forward's mask in %lld elements",
                  (double)p, (long long)wrong_backward);
    // The kept count of a correct generator is Binomial(N, 1-p): mean N(1-p), sd sqrt(N p (1-p))
    // (300 for p = 0.1, 500 for p = 0.5). Bound: 6 sd, which a true binomial exceeds with
    // probability < 2e-9; a biased generator (e.g. keeping on u > p, or a 1-bit error in the
    // threshold) moves the mean by thousands. (The 24-bit uniform shifts the mean by < 1.)
    const double mean = N * (1.0 - p), sd = sqrt(N * (double)p * (1.0 - p));
    ds_test_check(t, fabs((double)kept - mean) <= 6 * sd, "p=%g: kept %lld, expected %.0f +- %.0f (6 sd)",
                  (double)p, (long long)kept, mean, 6 * sd);
    printf("p=%g: kept %lld of %d (expected %.0f, sd %.0f)\n", (double)p, (long long)kept, N, mean, sd);
}

static void check_identity_and_errors(ds_test *t, ds_context *ctx, const float *x, float *y) {
    // p == 0: a bit-exact copy, also in place.
    memset(y, 0, sizeof(float) * 1000);
    ds_dropout_fwd_args f = {ds_tensor_cpu1((void *)x, DS_F32, 1000), ds_tensor_cpu1(y, DS_F32, 1000), 0.0f, 3};
    ds_test_check(t, ds_dropout_forward(ctx, &f) == DS_OK && memcmp(x, y, sizeof(float) * 1000) == 0,
                  "p = 0 is not the identity");
    f.x = f.y;
    ds_test_check(t, ds_dropout_forward(ctx, &f) == DS_OK && memcmp(x, y, sizeof(float) * 1000) == 0,
                  "p = 0 in place is not the identity");

    // Bad p, shape and dtype: DS_ERR_INVALID_ARG, a message naming the op, nothing written.
    const float bad_p[] = {1.0f, -0.1f, 1.5f, NAN};
    for (size_t i = 0; i < sizeof bad_p / sizeof bad_p[0]; i++) {
        ds_err_clear(&ctx->err);
        for (int j = 0; j < 1000; j++) y[j] = 42.0f;
        ds_dropout_fwd_args a = {ds_tensor_cpu1((void *)x, DS_F32, 1000), ds_tensor_cpu1(y, DS_F32, 1000), bad_p[i], 3};
        const ds_status s = ds_dropout_forward(ctx, &a);
        ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "dropout_forward") != NULL,
                      "p=%g: status %d, message '%s'", (double)bad_p[i], (int)s, ctx->err.msg);
        ds_test_check(t, y[0] == 42.0f && y[999] == 42.0f, "p=%g: output written on error", (double)bad_p[i]);
        ds_err_clear(&ctx->err);
        ds_dropout_bwd_args b = {ds_tensor_cpu1((void *)x, DS_F32, 1000), ds_tensor_cpu1(y, DS_F32, 1000), bad_p[i], 3};
        ds_test_check(t, ds_dropout_backward(ctx, &b) == DS_ERR_INVALID_ARG, "backward accepts p=%g", (double)bad_p[i]);
    }
    ds_err_clear(&ctx->err);
    ds_dropout_fwd_args a = {ds_tensor_cpu1((void *)x, DS_F32, 1000), ds_tensor_cpu1(y, DS_F32, 999), 0.5f, 3};
    ds_test_check(t, ds_dropout_forward(ctx, &a) == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "y") != NULL,
                  "numel mismatch not refused: '%s'", ctx->err.msg);
    ds_err_clear(&ctx->err);
    a.y = ds_tensor_cpu1(y, DS_F64, 500);
    a.x = ds_tensor_cpu1((void *)x, DS_F32, 500);
    ds_test_check(t, ds_dropout_forward(ctx, &a) == DS_ERR_INVALID_ARG, "dtype mismatch not refused");
    ds_err_clear(&ctx->err);
    a.x = ds_tensor_cpu1((void *)x, DS_I32, 500);
    a.y = ds_tensor_cpu1(y, DS_I32, 500);
    ds_test_check(t, ds_dropout_forward(ctx, &a) == DS_ERR_INVALID_ARG, "I32 not refused");
    ds_err_clear(&ctx->err);
}

// F64 takes the same decisions; the thread count changes nothing; the seed and offset matter.
static void check_f64_threads_streams(ds_test *t, ds_context *ctx, const float *x) {
    enum { M = 4099 };  // not a multiple of 4: a partial last group
    double *xd = malloc(sizeof(double) * M), *yd = malloc(sizeof(double) * M);
    float *y1 = malloc(sizeof(float) * M), *y2 = malloc(sizeof(float) * M), *y3 = malloc(sizeof(float) * M);
    for (int i = 0; i < M; i++) xd[i] = x[i];
    const float p = 0.3f;
    ds_dropout_fwd_args fd = {ds_tensor_cpu1(xd, DS_F64, M), ds_tensor_cpu1(yd, DS_F64, M), p, 9};
    ds_test_check(t, ds_dropout_forward(ctx, &fd) == DS_OK, "f64 forward: %s", ctx->err.msg);
    ds_dropout_fwd_args f = {ds_tensor_cpu1((void *)x, DS_F32, M), ds_tensor_cpu1(y1, DS_F32, M), p, 9};
    omp_set_num_threads(1);
    ds_dropout_forward(ctx, &f);
    omp_set_num_threads(3);
    f.y = ds_tensor_cpu1(y2, DS_F32, M);
    ds_dropout_forward(ctx, &f);
    omp_set_num_threads(2);
    int64_t f64_diff = 0;
    const double scale = 1.0 / (1.0 - (double)p);
    for (int i = 0; i < M; i++)
        f64_diff += yd[i] != (ds_philox_keep(ctx->seed, 9, (uint64_t)i, p) ? xd[i] * scale : 0.0);
    ds_test_check(t, f64_diff == 0, "f64: %lld elements differ from x * keep / (1 - p)", (long long)f64_diff);
    ds_test_check(t, memcmp(y1, y2, sizeof(float) * M) == 0, "1 and 3 threads give different results");

    f.offset = 10;
    f.y = ds_tensor_cpu1(y3, DS_F32, M);
    ds_dropout_forward(ctx, &f);
    int same = 0;
    for (int i = 0; i < M; i++) same += (y1[i] == 0) == (y3[i] == 0);
    // Two independent masks with p = 0.3 agree on p^2 + (1-p)^2 = 58% of elements.
    ds_test_check(t, same < M * 0.7, "offsets 9 and 10 give nearly the same mask (%d of %d agree)", same, M);
    const uint64_t seed = ctx->seed;
    ctx->seed = seed + 1;
    f.offset = 9;
    ds_dropout_forward(ctx, &f);
    ctx->seed = seed;
    same = 0;
    for (int i = 0; i < M; i++) same += (y1[i] == 0) == (y3[i] == 0);
    ds_test_check(t, same < M * 0.7, "seeds s and s+1 give nearly the same mask (%d of %d agree)", same, M);
    free(xd), free(yd), free(y1), free(y2), free(y3);
}

int main(void) {
    ds_test t = ds_test_begin("op_dropout");
    ds_context ctx = ds_context_cpu();
    ctx.seed = 0x5eed0000000bull;
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N), *dx = malloc(sizeof(float) * N);
    ds_fill_uniform_f32(x, N, 7);
    for (int64_t i = 0; i < N; i++)
        if (x[i] == 0.0f) x[i] = 0.5f;  // no zeros: a zero output then means "dropped"
    check_p(&t, &ctx, 0.1f, x, y, dx);
    check_p(&t, &ctx, 0.5f, x, y, dx);
    check_identity_and_errors(&t, &ctx, x, y);
    check_f64_threads_streams(&t, &ctx, x);
    free(x), free(y), free(dx);
    return ds_test_finish(&t);
}
