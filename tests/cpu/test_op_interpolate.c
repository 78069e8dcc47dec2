// Bilinear interpolation against torch golden data (tests/fixtures/ops/interpolate.safetensors,
// from scripts/fixtures/ops_vision.py: F.interpolate(size=, mode="bilinear") with autograd: up by
// a non-integer ratio, down, from 1x1, equal sizes, align_corners both ways), plus thread-count
// independence of the deterministic backward.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// The forward follows torch's formula and order in float (source index rounded as torch's);
// results agree to a few ulps. dx sums up to ~(97/13)^2 ~ 56 weighted terms per cell in float, in
// torch's order (outputs in row-major order): ~1e-7 relative. 1e-5 leaves a wide margin, while a
// half-pixel shift (align_corners mixed up) errs by ~1e-1.
#define TOL 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    const ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), y_want = ds_op_fixture_get(t, f, k, "y", DS_F32);
    const ds_tensor dy = ds_op_fixture_get(t, f, k, "dy", DS_F32), dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    const double align = ds_op_fixture_scalar(t, f, k, "align_corners");
    if (!x.data || !y_want.data || !dy.data || !dx_want.data) return;
    char what[64];
    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), dx = ds_test_zeros_like(&dx_want, DS_F32);
    ds_test_fill_nan(&dx);
    ds_interpolate_args fa = {.x = x, .y = y, .mode = DS_INTERP_BILINEAR, .align_corners = align != 0};
    ds_interpolate_args ba = {.x = dy, .y = dx, .mode = DS_INTERP_BILINEAR, .align_corners = align != 0};
    if (ds_test_check(t, ds_interpolate_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y", k);
        ds_test_close(t, what, &y, &y_want, TOL);
    }
    if (ds_test_check(t, ds_interpolate_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
    }
    free(y.data), free(dx.data);
}

static void check_thread_independence(ds_test *t, ds_context *ctx) {
    enum { N = 2, C = 3, H = 9, W = 13, OH = 65, OW = 97 };
    float *dy = malloc(N * C * OH * OW * 4), dx[2][N * C * H * W];
    ds_fill_uniform_f32(dy, N * C * OH * OW, 101);
    const int threads = omp_get_max_threads();
    ds_status s = DS_OK;
    for (int i = 0; i < 2 && s == DS_OK; i++) {
        omp_set_num_threads(i + 1);
        ds_interpolate_args ba = {.x = ds_tensor_cpu4(dy, DS_F32, N, C, OH, OW), .y = ds_tensor_cpu4(dx[i], DS_F32, N, C, H, W)};
        s = ds_interpolate_backward(ctx, &ba);
    }
    omp_set_num_threads(threads);
    ds_test_check(t, s == DS_OK && memcmp(dx[0], dx[1], sizeof dx[0]) == 0,
                  "interpolate backward differs between 1 and 2 threads (%s)", ctx->err.msg);
    free(dy);
}

int main(void) {
    ds_test t = ds_test_begin("op_interpolate");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "interpolate")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 6, "interpolate fixture holds %d cases, expected at least 6", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_thread_independence(&t, &ctx);
    float x[2 * 4], y[3 * 4];
    ds_interpolate_args bad = {.x = ds_tensor_cpu4(x, DS_F32, 2, 1, 2, 2), .y = ds_tensor_cpu4(y, DS_F32, 3, 1, 2, 2)};
    ds_test_error(&t, "y with another batch size", &ctx.err, ds_interpolate_forward(&ctx, &bad), DS_ERR_INVALID_ARG,
                  "interpolate_forward: y");
    bad.y = ds_tensor_cpu4(y, DS_F32, 2, 1, 3, 2);
    bad.mode = (ds_interp_mode)7;
    ds_test_error(&t, "an unknown mode", &ctx.err, ds_interpolate_forward(&ctx, &bad), DS_ERR_UNSUPPORTED, "mode 7");
    return ds_test_finish(&t);
}
