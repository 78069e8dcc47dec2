// BCE with logits and MSE against torch golden data (tests/fixtures/ops/bce_with_logits and
// mse.safetensors, from scripts/fixtures/ops_losses.py: multi-hot, soft and +-100 logits for BCE;
// HF's squeezed (B,) regression shape for MSE), plus error paths (nothing written on a bad call),
// NaN for an empty input (torch's mean of nothing) and thread-count independence.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// Each element's term is computed in double here and in float by torch, and the mean runs over
// <= 6144 terms: the two agree to a few float ulp (~1e-7 relative); 1e-5 is a 10x+ margin,
// while a wrong sign, a missing 1/n or 2, or the overflowing naive BCE misses by far.
#define TOL 1e-5

typedef ds_status (*fwd_fn)(ds_context *, const ds_pointwise_loss_fwd_args *);
typedef ds_status (*bwd_fn)(ds_context *, const ds_pointwise_loss_bwd_args *);

typedef struct loss_op {
    const char *name;  // fixture file and op name
    fwd_fn fwd;
    bwd_fn bwd;
} loss_op;

static void run_case(ds_test *t, ds_context *ctx, const loss_op *op, const ds_op_fixture *f, int k) {
    ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), target = ds_op_fixture_get(t, f, k, "target", DS_F32);
    ds_tensor loss_want = ds_op_fixture_get(t, f, k, "loss", DS_F32), dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    const double dloss = ds_op_fixture_scalar(t, f, k, "dloss");
    if (!x.data || !target.data || !loss_want.data || !dx_want.data || isnan(dloss)) return;
    char what[96];
    float loss_v = NAN;
    ds_tensor loss = ds_tensor_cpu1(&loss_v, DS_F32, 1);
    ds_pointwise_loss_fwd_args fa = {.x = x, .target = target, .loss = loss};
    if (ds_test_check(t, op->fwd(ctx, &fa) == DS_OK, "%s case%d forward: %s", op->name, k, ctx->err.msg)) {
        snprintf(what, sizeof what, "%s case%d loss", op->name, k);
        ds_test_close(t, what, &loss, &loss_want, TOL);
    }
    ds_tensor dx = ds_test_zeros_like(&dx_want, DS_F32);
    ds_test_fill_nan(&dx);  // every element must be written
    ds_pointwise_loss_bwd_args ba = {.x = x, .target = target, .dx = dx, .dloss = dloss};
    if (ds_test_check(t, op->bwd(ctx, &ba) == DS_OK, "%s case%d backward: %s", op->name, k, ctx->err.msg)) {
        snprintf(what, sizeof what, "%s case%d dx", op->name, k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
    }
    free(dx.data);
}

static bool all_equal(const float *a, int n, float v) {
    for (int i = 0; i < n; i++)
        if (a[i] != v) return false;
    return true;
}

static void check_errors(ds_test *t, ds_context *ctx, const loss_op *op) {
    enum { N = 6 };
    float x[N] = {0}, target[N] = {0}, loss[2] = {7, 7}, dx[N];
    double target64[N] = {0};
    for (int i = 0; i < N; i++) dx[i] = 7;
    char what[128], needle[96];
    ds_pointwise_loss_fwd_args a = {.x = ds_tensor_cpu2(x, DS_F32, 2, 3), .target = ds_tensor_cpu1(target, DS_F32, N - 1),
                                    .loss = ds_tensor_cpu1(loss, DS_F32, 1)};
    snprintf(what, sizeof what, "%s_forward with 5 targets for 6 logits", op->name);
    snprintf(needle, sizeof needle, "%s_forward: target", op->name);
    ds_test_error(t, what, &ctx->err, op->fwd(ctx, &a), DS_ERR_INVALID_ARG, needle);
    a.target = ds_tensor_cpu1(target64, DS_F64, N);
    snprintf(what, sizeof what, "%s_forward with F64 targets for F32 logits", op->name);
    ds_test_error(t, what, &ctx->err, op->fwd(ctx, &a), DS_ERR_INVALID_ARG, needle);
    a.target = ds_tensor_cpu1(target, DS_F32, N);
    a.loss = ds_tensor_cpu1(loss, DS_F32, 2);
    snprintf(what, sizeof what, "%s_forward with loss of shape (2)", op->name);
    snprintf(needle, sizeof needle, "%s_forward: loss", op->name);
    ds_test_error(t, what, &ctx->err, op->fwd(ctx, &a), DS_ERR_INVALID_ARG, needle);
    ds_test_check(t, all_equal(loss, 2, 7), "%s_forward wrote the loss on a bad call", op->name);
    ds_pointwise_loss_bwd_args b = {.x = a.x, .target = a.target, .dx = ds_tensor_cpu1(dx, DS_F32, N + 1), .dloss = 1};
    snprintf(what, sizeof what, "%s_backward with dx of 7 elements for 6", op->name);
    snprintf(needle, sizeof needle, "%s_backward: dx", op->name);
    ds_test_error(t, what, &ctx->err, op->bwd(ctx, &b), DS_ERR_INVALID_ARG, needle);
    ds_test_check(t, all_equal(dx, N, 7), "%s_backward wrote dx on a bad call", op->name);
    b.x.data = NULL;
    snprintf(what, sizeof what, "%s_backward without x", op->name);
    snprintf(needle, sizeof needle, "%s_backward: x", op->name);
    ds_test_error(t, what, &ctx->err, op->bwd(ctx, &b), DS_ERR_INVALID_ARG, needle);
    // An empty batch: the mean of nothing is NaN in torch; the gradient has no elements.
    a.x = ds_tensor_cpu2(x, DS_F32, 0, 3);
    a.target = ds_tensor_cpu1(target, DS_F32, 0);
    a.loss = ds_tensor_cpu1(loss, DS_F32, 1);
    ds_test_check(t, op->fwd(ctx, &a) == DS_OK && isnan(loss[0]), "%s_forward on 0 elements: want NaN, got %g (%s)",
                  op->name, loss[0], ctx->err.msg);
    ds_err_clear(&ctx->err);
}

// Loss and dx bit-identical for 1 and 3 threads, at a size above the backward's parallel threshold.
static void check_thread_independence(ds_test *t, ds_context *ctx, const loss_op *op) {
    enum { N = 300000 };
    float *x = malloc(sizeof(float) * N), *target = malloc(sizeof(float) * N);
    float *dx[2] = {malloc(sizeof(float) * N), malloc(sizeof(float) * N)}, loss[2];
    ds_fill_uniform_f32(x, N, 41);
    ds_fill_uniform_f32(target, N, 42);
    for (int i = 0; i < N; i++) target[i] = target[i] > 0;  // multi-hot; any value suits MSE
    const int threads = omp_get_max_threads();
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        omp_set_num_threads(i == 0 ? 1 : 3);
        ds_pointwise_loss_fwd_args a = {.x = ds_tensor_cpu1(x, DS_F32, N), .target = ds_tensor_cpu1(target, DS_F32, N),
                                        .loss = ds_tensor_cpu1(&loss[i], DS_F32, 1)};
        ds_pointwise_loss_bwd_args b = {.x = a.x, .target = a.target, .dx = ds_tensor_cpu1(dx[i], DS_F32, N), .dloss = 1};
        ok &= op->fwd(ctx, &a) == DS_OK && op->bwd(ctx, &b) == DS_OK;
    }
    omp_set_num_threads(threads);
    ds_test_check(t, ok && loss[0] == loss[1] && memcmp(dx[0], dx[1], sizeof(float) * N) == 0,
                  "%s results differ between 1 and 3 threads (%s)", op->name, ctx->err.msg);
    free(x), free(target), free(dx[0]), free(dx[1]);
}

int main(void) {
    ds_test t = ds_test_begin("op_pointwise_loss");
    ds_context ctx = ds_context_cpu();
    const loss_op ops[] = {{"bce_with_logits", ds_bce_with_logits_forward, ds_bce_with_logits_backward},
                           {"mse", ds_mse_forward, ds_mse_backward}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        ds_op_fixture f;
        if (ds_op_fixture_open(&t, &f, ops[i].name)) {
            const int cases = ds_op_fixture_cases(&f, "x");
            ds_test_check(&t, cases >= 4, "%s fixture holds %d cases, expected at least 4", ops[i].name, cases);
            for (int k = 0; k < cases; k++) run_case(&t, &ctx, &ops[i], &f, k);
            ds_op_fixture_close(&f);
        }
        check_errors(&t, &ctx, &ops[i]);
        check_thread_independence(&t, &ctx, &ops[i]);
    }
    return ds_test_finish(&t);
}
