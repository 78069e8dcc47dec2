// cross_entropy against torch golden data (tests/fixtures/ops/cross_entropy.safetensors, from
// scripts/fixtures/ops_dense.py: F.cross_entropy with padded rows, a custom ignore_index that is
// also a real class, and an all-padding batch whose loss is NaN), plus out-of-range targets
// (rejected before anything is written), error paths and thread-count independence.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// Row logsumexp and the mean over up to 64 rows: ours sums in double, torch in float, so they
// agree to a few float ulp (~1e-7 relative); 1e-5 is a 10x+ margin, while counting ignored rows
// in the mean (off by >= 10% here) or a wrong gradient misses by far.
#define TOL 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    ds_tensor logits = ds_op_fixture_get(t, f, k, "logits", DS_F32);
    ds_tensor targets = ds_op_fixture_get(t, f, k, "targets", DS_I32);
    ds_tensor loss_want = ds_op_fixture_get(t, f, k, "loss", DS_F32), lse_want = ds_op_fixture_get(t, f, k, "lse", DS_F32);
    ds_tensor dlogits_want = ds_op_fixture_get(t, f, k, "dlogits", DS_F32);
    const double ignore = ds_op_fixture_scalar(t, f, k, "ignore_index"), dloss = ds_op_fixture_scalar(t, f, k, "dloss");
    if (!logits.data || !targets.data || !loss_want.data || !lse_want.data || !dlogits_want.data || isnan(ignore))
        return;
    char what[96];
    float loss_v = 0;
    ds_tensor loss = ds_tensor_cpu1(&loss_v, DS_F32, 1), lse = ds_test_zeros_like(&lse_want, DS_F32);
    ds_cross_entropy_fwd_args fa = {.logits = logits, .targets = targets, .loss = loss, .lse = lse,
                                    .ignore_index = (int)ignore};
    if (ds_test_check(t, ds_cross_entropy_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d loss (ignore_index %d)", k, (int)ignore);
        ds_test_close(t, what, &loss, &loss_want, TOL);  // NaN matches only NaN
        snprintf(what, sizeof what, "case%d lse", k);
        ds_test_close(t, what, &lse, &lse_want, TOL);
    }
    ds_tensor dlogits = ds_test_zeros_like(&dlogits_want, DS_F32);
    ds_test_fill_nan(&dlogits);  // ignored rows must be written as zeros
    ds_cross_entropy_bwd_args ba = {.logits = logits, .targets = targets, .lse = lse_want, .dlogits = dlogits,
                                    .dloss = dloss, .ignore_index = (int)ignore};
    if (ds_test_check(t, ds_cross_entropy_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dlogits", k);
        ds_test_close(t, what, &dlogits, &dlogits_want, TOL);
    }
    free(lse.data), free(dlogits.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    enum { N = 4, C = 5 };
    int32_t targets[N] = {1, -100, 5, 0};  // targets[2] = 5 is out of range for C = 5
    float logits[N * C] = {0}, loss = 7, lse[N] = {7, 7, 7, 7}, dlogits[N * C];
    for (int i = 0; i < N * C; i++) dlogits[i] = 7;
    ds_cross_entropy_fwd_args a = {.logits = ds_tensor_cpu2(logits, DS_F32, N, C),
                                   .targets = ds_tensor_cpu1(targets, DS_I32, N), .loss = ds_tensor_cpu1(&loss, DS_F32, 1),
                                   .lse = ds_tensor_cpu1(lse, DS_F32, N), .ignore_index = -100};
    ds_test_error(t, "forward with target 5 for C = 5", &ctx->err, ds_cross_entropy_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "cross_entropy_forward: targets[2] = 5");
    ds_test_check(t, loss == 7 && lse[0] == 7 && lse[3] == 7,
                  "cross_entropy_forward wrote loss/lse although a target was out of range");
    // -100 is only ignored while it is the ignore_index.
    targets[2] = 3;
    a.ignore_index = 4;
    ds_test_error(t, "forward with target -100 and ignore_index 4", &ctx->err, ds_cross_entropy_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "cross_entropy_forward: targets[1] = -100");
    ds_cross_entropy_bwd_args b = {.logits = a.logits, .targets = a.targets, .lse = a.lse,
                                   .dlogits = ds_tensor_cpu2(dlogits, DS_F32, N, C), .dloss = 1, .ignore_index = 4};
    ds_test_error(t, "backward with target -100 and ignore_index 4", &ctx->err, ds_cross_entropy_backward(ctx, &b),
                  DS_ERR_INVALID_ARG, "cross_entropy_backward: targets[1] = -100");
    bool untouched = true;
    for (int i = 0; i < N * C; i++) untouched &= dlogits[i] == 7;
    ds_test_check(t, untouched, "cross_entropy_backward wrote dlogits although a target was out of range");
    a.ignore_index = -100;
    a.loss = ds_tensor_cpu1(lse, DS_F32, 2);
    ds_test_error(t, "forward with loss of shape (2)", &ctx->err, ds_cross_entropy_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "cross_entropy_forward: loss");
    a.loss = ds_tensor_cpu1(&loss, DS_F32, 1);
    a.lse = ds_tensor_cpu1(lse, DS_F32, N - 1);
    ds_test_error(t, "forward with lse (3) for N = 4", &ctx->err, ds_cross_entropy_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "cross_entropy_forward: lse");
    a.lse = ds_tensor_cpu1(lse, DS_F32, N);
    a.targets = ds_tensor_cpu1(targets, DS_I32, N - 1);
    ds_test_error(t, "forward with targets (3) for N = 4", &ctx->err, ds_cross_entropy_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "cross_entropy_forward: targets");
    b.ignore_index = -100;
    b.dlogits = ds_tensor_cpu2(dlogits, DS_F32, C, N);
    ds_test_error(t, "backward with dlogits (5, 4)", &ctx->err, ds_cross_entropy_backward(ctx, &b),
                  DS_ERR_INVALID_ARG, "cross_entropy_backward: dlogits");
}

// Loss, lse and dlogits must be bit-identical for 1 and 3 threads. The size is above the op's
// threshold for going parallel.
static void check_thread_independence(ds_test *t, ds_context *ctx) {
    enum { N = 500, C = 101 };
    float *logits = malloc(sizeof(float) * N * C), *dlogits[2] = {malloc(sizeof(float) * N * C), malloc(sizeof(float) * N * C)};
    float lse[2][N], loss[2];
    int32_t targets[N];
    ds_fill_uniform_f32(logits, N * C, 5);
    for (int i = 0; i < N; i++) targets[i] = i % 9 == 0 ? -100 : (i * 31) % C;
    const int threads = omp_get_max_threads();
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        omp_set_num_threads(i == 0 ? 1 : 3);
        ds_cross_entropy_fwd_args a = {.logits = ds_tensor_cpu2(logits, DS_F32, N, C),
                                       .targets = ds_tensor_cpu1(targets, DS_I32, N),
                                       .loss = ds_tensor_cpu1(&loss[i], DS_F32, 1),
                                       .lse = ds_tensor_cpu1(lse[i], DS_F32, N), .ignore_index = -100};
        ds_cross_entropy_bwd_args b = {.logits = a.logits, .targets = a.targets, .lse = a.lse,
                                       .dlogits = ds_tensor_cpu2(dlogits[i], DS_F32, N, C), .dloss = 1,
                                       .ignore_index = -100};
        ok &= ds_cross_entropy_forward(ctx, &a) == DS_OK && ds_cross_entropy_backward(ctx, &b) == DS_OK;
    }
    omp_set_num_threads(threads);
    ds_test_check(t, ok && loss[0] == loss[1] && memcmp(lse[0], lse[1], sizeof lse[0]) == 0 &&
                         memcmp(dlogits[0], dlogits[1], sizeof(float) * N * C) == 0,
                  "cross-entropy results differ between 1 and 3 threads (%s)", ctx->err.msg);
    free(logits), free(dlogits[0]), free(dlogits[1]);
}

int main(void) {
    ds_test t = ds_test_begin("op_cross_entropy");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "cross_entropy")) {
        const int cases = ds_op_fixture_cases(&f, "logits");
        ds_test_check(&t, cases >= 3, "cross_entropy fixture holds %d cases, expected at least 3", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_errors(&t, &ctx);
    check_thread_independence(&t, &ctx);
    return ds_test_finish(&t);
}
