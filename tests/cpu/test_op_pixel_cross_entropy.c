// Per-pixel cross-entropy against torch golden data (tests/fixtures/ops/pixel_cross_entropy.safetensors,
// from scripts/fixtures/ops_vision.py: F.cross_entropy on (N, K, H, W) logits with
// ignore_index 255 (and -100), class weights, partly and fully ignored targets), the reported
// denominator, the error for a target out of range, and thread-count independence.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// lse and the weighted mean are summed in double and rounded once; torch's float log-softmax
// and weighted sum carry a few ulps over <= 126 pixels and 21 classes: ~1e-7 relative. 1e-5
// leaves margin, while a mean over all pixels instead of the valid ones (>= 20% here) or
// unweighted terms err by 1e-1.
#define TOL 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    const ds_tensor logits = ds_op_fixture_get(t, f, k, "logits", DS_F32);
    const ds_tensor targets = ds_op_fixture_get(t, f, k, "targets", DS_I32);
    const ds_tensor lse_want = ds_op_fixture_get(t, f, k, "lse", DS_F32);
    const ds_tensor dl_want = ds_op_fixture_get(t, f, k, "dlogits", DS_F32);
    const ds_tensor cw = ds_op_fixture_has(f, k, "class_weights") ? ds_op_fixture_get(t, f, k, "class_weights", DS_F32)
                                                                  : (ds_tensor){0};
    const int ignore = (int)ds_op_fixture_scalar(t, f, k, "ignore_index");
    const double loss_want = ds_op_fixture_scalar(t, f, k, "loss"), ws_want = ds_op_fixture_scalar(t, f, k, "weight_sum");
    const double dloss = ds_op_fixture_scalar(t, f, k, "dloss");
    if (!logits.data || !targets.data || !lse_want.data || !dl_want.data) return;
    char what[64];
    float loss = 0, wsum = 0;
    ds_tensor lse = ds_test_zeros_like(&lse_want, DS_F32), dl = ds_test_zeros_like(&dl_want, DS_F32);
    ds_test_fill_nan(&dl);
    ds_pixel_ce_fwd_args fa = {.logits = logits, .targets = targets, .class_weights = cw,
                               .loss = ds_tensor_cpu1(&loss, DS_F32, 1), .weight_sum = ds_tensor_cpu1(&wsum, DS_F32, 1),
                               .lse = lse, .ignore_index = ignore};
    if (ds_test_check(t, ds_pixel_cross_entropy_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        if (isnan(loss_want)) {
            ds_test_check(t, isnan(loss) && wsum == 0, "case%d (all ignored): loss %g weight_sum %g, want NaN and 0", k,
                          (double)loss, (double)wsum);
        } else {
            ds_test_check(t, fabs(loss - loss_want) <= TOL * fabs(loss_want), "case%d loss %.9g, want %.9g", k,
                          (double)loss, loss_want);
        }
        ds_test_check(t, fabs(wsum - ws_want) <= TOL * fabs(ws_want), "case%d weight_sum %.9g, want %.9g", k,
                      (double)wsum, ws_want);
        snprintf(what, sizeof what, "case%d lse", k);
        ds_test_close(t, what, &lse, &lse_want, TOL);
    }
    ds_pixel_ce_bwd_args ba = {.logits = logits, .targets = targets, .class_weights = cw, .lse = lse_want,
                               .weight_sum = ds_tensor_cpu1(&wsum, DS_F32, 1), .dlogits = dl, .dloss = dloss,
                               .ignore_index = ignore};
    if (ds_test_check(t, ds_pixel_cross_entropy_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dlogits", k);
        if (isnan(loss_want)) {  // every pixel ignored: torch's gradient is 0 everywhere
            double m = 0;
            for (int64_t i = 0; i < ds_tensor_numel(&dl); i++) m = fmax(m, fabs(((float *)dl.data)[i]));
            ds_test_check(t, m == 0 && !isnan(m), "case%d (all ignored): dlogits not all 0 (max |.| %g)", k, m);
        } else {
            ds_test_close(t, what, &dl, &dl_want, TOL);
        }
    }
    free(lse.data), free(dl.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    float logits[1 * 3 * 2 * 2] = {0}, loss, wsum, lse[4];
    int32_t targets[4] = {0, 255, 2, 3};
    ds_pixel_ce_fwd_args a = {.logits = ds_tensor_cpu4(logits, DS_F32, 1, 3, 2, 2),
                              .targets = ds_tensor_cpu3(targets, DS_I32, 1, 2, 2), .loss = ds_tensor_cpu1(&loss, DS_F32, 1),
                              .weight_sum = ds_tensor_cpu1(&wsum, DS_F32, 1), .lse = ds_tensor_cpu3(lse, DS_F32, 1, 2, 2),
                              .ignore_index = 255};
    loss = 12345;
    ds_test_error(t, "target 3 with 3 classes", &ctx->err, ds_pixel_cross_entropy_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "target 3 at image 0, row 1, column 1");
    ds_test_check(t, loss == 12345, "a failed forward wrote the loss");
    targets[3] = -1;
    ds_test_error(t, "target -1 that is not ignore_index", &ctx->err, ds_pixel_cross_entropy_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "ignore_index (255)");
    targets[3] = 1;
    float cw[2];
    a.class_weights = ds_tensor_cpu1(cw, DS_F32, 2);
    ds_test_error(t, "class weights of 2 for 3 classes", &ctx->err, ds_pixel_cross_entropy_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "class_weights");
}

static void check_thread_independence(ds_test *t, ds_context *ctx) {
    enum { N = 2, K = 6, H = 23, W = 29, NP = N * H * W };
    float *logits = malloc(N * K * H * W * 4), *dl[2], loss[2], wsum[2], *lse = malloc(NP * 4);
    int32_t *targets = malloc(NP * 4);
    ds_fill_uniform_f32(logits, N * K * H * W, 111);
    for (int i = 0; i < NP; i++) targets[i] = i % 7 == 3 ? 255 : (i * 5) % K;
    const int threads = omp_get_max_threads();
    ds_status s = DS_OK;
    for (int i = 0; i < 2 && s == DS_OK; i++) {
        dl[i] = malloc(N * K * H * W * 4);
        omp_set_num_threads(i + 1);
        ds_pixel_ce_fwd_args fa = {.logits = ds_tensor_cpu4(logits, DS_F32, N, K, H, W),
                                   .targets = ds_tensor_cpu3(targets, DS_I32, N, H, W),
                                   .loss = ds_tensor_cpu1(&loss[i], DS_F32, 1), .weight_sum = ds_tensor_cpu1(&wsum[i], DS_F32, 1),
                                   .lse = ds_tensor_cpu3(lse, DS_F32, N, H, W), .ignore_index = 255};
        ds_pixel_ce_bwd_args ba = {.logits = fa.logits, .targets = fa.targets, .lse = fa.lse, .weight_sum = fa.weight_sum,
                                   .dlogits = ds_tensor_cpu4(dl[i], DS_F32, N, K, H, W), .dloss = 1, .ignore_index = 255};
        s = ds_pixel_cross_entropy_forward(ctx, &fa);
        if (s == DS_OK) s = ds_pixel_cross_entropy_backward(ctx, &ba);
    }
    omp_set_num_threads(threads);
    ds_test_check(t, s == DS_OK && loss[0] == loss[1] && wsum[0] == wsum[1] && memcmp(dl[0], dl[1], N * K * H * W * 4) == 0,
                  "pixel cross-entropy differs between 1 and 2 threads (%s)", ctx->err.msg);
    free(logits), free(lse), free(targets), free(dl[0]), free(dl[1]);
}

int main(void) {
    ds_test t = ds_test_begin("op_pixel_cross_entropy");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "pixel_cross_entropy")) {
        const int cases = ds_op_fixture_cases(&f, "logits");
        ds_test_check(&t, cases >= 5, "pixel_cross_entropy fixture holds %d cases, expected at least 5", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_errors(&t, &ctx);
    check_thread_independence(&t, &ctx);
    return ds_test_finish(&t);
}
