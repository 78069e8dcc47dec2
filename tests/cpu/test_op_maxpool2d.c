// maxpool2d against torch golden data (tests/fixtures/ops/maxpool2d.safetensors, from
// scripts/fixtures/ops_vision.py: F.max_pool2d(return_indices=True) with autograd on small-integer
// inputs full of ties, ResNet's 3x3/2/1 stem pool, ceil_mode, dilation, asymmetric windows).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// The forward picks values (exact); dx sums at most a few dy per cell in float, in the same
// order as torch's loop over outputs: exact in practice. 1e-6 allows one rounding of a sum.
#define TOL 1e-6

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    const ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), y_want = ds_op_fixture_get(t, f, k, "y", DS_F32);
    const ds_tensor idx_want = ds_op_fixture_get(t, f, k, "indices", DS_I32);
    const ds_tensor dy = ds_op_fixture_get(t, f, k, "dy", DS_F32), dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    const ds_tensor gt = ds_op_fixture_get(t, f, k, "geom", DS_I32);
    if (!x.data || !y_want.data || !idx_want.data || !dy.data || !dx_want.data || !gt.data) return;
    const int32_t *g = gt.data;
    const ds_pool2d_geom geom = {.kernel_h = g[0], .kernel_w = g[1], .stride_h = g[2], .stride_w = g[3], .pad_h = g[4],
                                 .pad_w = g[5], .dilation_h = g[6], .dilation_w = g[7], .ceil_mode = g[8] != 0};
    char what[64];
    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), idx = ds_test_zeros_like(&idx_want, DS_I32);
    ds_tensor dx = ds_test_zeros_like(&dx_want, DS_F32);
    ds_test_fill_nan(&dx);
    ds_maxpool2d_fwd_args fa = {.x = x, .y = y, .indices = idx, .geom = geom};
    if (ds_test_check(t, ds_maxpool2d_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y", k);
        ds_test_close(t, what, &y, &y_want, 0.0);
        ds_test_check(t, memcmp(idx.data, idx_want.data, ds_tensor_nbytes(&idx)) == 0,
                      "case%d indices differ from torch's (tie or window rule)", k);
    }
    ds_maxpool2d_bwd_args ba = {.indices = idx_want, .dy = dy, .dx = dx};
    if (ds_test_check(t, ds_maxpool2d_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
    }
    free(y.data), free(idx.data), free(dx.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    float x[1 * 1 * 4 * 4] = {0}, y[4] = {0}, dx[16];
    int32_t idx[4] = {0, 1, 2, 16};
    ds_maxpool2d_fwd_args a = {.x = ds_tensor_cpu4(x, DS_F32, 1, 1, 4, 4), .y = ds_tensor_cpu4(y, DS_F32, 1, 1, 2, 2),
                               .indices = ds_tensor_cpu4(idx, DS_I32, 1, 1, 2, 2),
                               .geom = {.kernel_h = 2, .kernel_w = 2, .pad_h = 2}};
    ds_test_error(t, "padding above kernel/2", &ctx->err, ds_maxpool2d_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "padding");
    ds_maxpool2d_bwd_args b = {.indices = a.indices, .dy = a.y, .dx = ds_tensor_cpu4(dx, DS_F32, 1, 1, 4, 4)};
    ds_test_error(t, "an index outside the plane", &ctx->err, ds_maxpool2d_backward(ctx, &b), DS_ERR_INVALID_ARG,
                  "indices[3] = 16");
}

// Planes are independent: 1 and 2 threads give the same bits.
static void check_thread_independence(ds_test *t, ds_context *ctx) {
    enum { N = 2, C = 3, H = 21, W = 17, P = 11, Q = 9 };
    float *x = malloc(N * C * H * W * 4), *dy = malloc(N * C * P * Q * 4), *dx[2], y[2][N * C * P * Q];
    int32_t idx[2][N * C * P * Q];
    ds_fill_uniform_f32(x, N * C * H * W, 91), ds_fill_uniform_f32(dy, N * C * P * Q, 92);
    const int threads = omp_get_max_threads();
    ds_status s = DS_OK;
    for (int i = 0; i < 2; i++) {
        dx[i] = malloc(N * C * H * W * 4);
        omp_set_num_threads(i + 1);
        ds_maxpool2d_fwd_args fa = {.x = ds_tensor_cpu4(x, DS_F32, N, C, H, W), .y = ds_tensor_cpu4(y[i], DS_F32, N, C, P, Q),
                                    .indices = ds_tensor_cpu4(idx[i], DS_I32, N, C, P, Q),
                                    .geom = {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}};
        ds_maxpool2d_bwd_args ba = {.indices = fa.indices, .dy = ds_tensor_cpu4(dy, DS_F32, N, C, P, Q),
                                    .dx = ds_tensor_cpu4(dx[i], DS_F32, N, C, H, W)};
        if (s == DS_OK) s = ds_maxpool2d_forward(ctx, &fa);
        if (s == DS_OK) s = ds_maxpool2d_backward(ctx, &ba);
    }
    omp_set_num_threads(threads);
    ds_test_check(t, s == DS_OK && memcmp(y[0], y[1], sizeof y[0]) == 0 && memcmp(idx[0], idx[1], sizeof idx[0]) == 0 &&
                         memcmp(dx[0], dx[1], N * C * H * W * 4) == 0,
                  "maxpool differs between 1 and 2 threads (%s)", ctx->err.msg);
    free(x), free(dy), free(dx[0]), free(dx[1]);
}

int main(void) {
    ds_test t = ds_test_begin("op_maxpool2d");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "maxpool2d")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 5, "maxpool2d fixture holds %d cases, expected at least 5", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_errors(&t, &ctx);
    check_thread_independence(&t, &ctx);
    return ds_test_finish(&t);
}
