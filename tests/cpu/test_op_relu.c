// relu against torch golden data (tests/fixtures/ops/relu.safetensors, from
// scripts/fixtures/ops_vision.py: F.relu with autograd on inputs with exact zeros), in place and
// not, and NaN propagation.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../kernels/ops.h"
#include "../op_fixture.h"

// ReLU is exact (a copy or a zero): any difference is a bug.
#define TOL 0.0

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    const ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), y_want = ds_op_fixture_get(t, f, k, "y", DS_F32);
    const ds_tensor dy = ds_op_fixture_get(t, f, k, "dy", DS_F32), dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    if (!x.data || !y_want.data || !dy.data || !dx_want.data) return;
    char what[64];
    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), dx = ds_test_zeros_like(&dx_want, DS_F32);
    ds_unary_fwd_args fa = {.x = x, .y = y};
    ds_unary_bwd_args ba = {.y = y, .dy = dy, .dx = dx};
    if (ds_test_check(t, ds_relu_forward(ctx, &fa) == DS_OK && ds_relu_backward(ctx, &ba) == DS_OK, "case%d: %s", k,
                      ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y", k);
        ds_test_close(t, what, &y, &y_want, TOL);
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
    }
    // In place: y over a copy of x, dx over a copy of dy.
    ds_tensor xy = ds_test_scaled_copy(&x, 1), g = ds_test_scaled_copy(&dy, 1);
    ds_unary_fwd_args fi = {.x = xy, .y = xy};
    ds_unary_bwd_args bi = {.y = xy, .dy = g, .dx = g};
    if (ds_test_check(t, ds_relu_forward(ctx, &fi) == DS_OK && ds_relu_backward(ctx, &bi) == DS_OK,
                      "case%d in place: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y in place", k);
        ds_test_close(t, what, &xy, &y_want, TOL);
        snprintf(what, sizeof what, "case%d dx in place", k);
        ds_test_close(t, what, &g, &dx_want, TOL);
    }
    free(y.data), free(dx.data), free(xy.data), free(g.data);
}

int main(void) {
    ds_test t = ds_test_begin("op_relu");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "relu")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 3, "relu fixture holds %d cases, expected at least 3", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    // NaN in, NaN out (torch's clamp_min keeps it), and its gradient passes (threshold_backward).
    double x[3] = {NAN, -1, 2}, y[3], dy[3] = {5, 6, 7}, dx[3];
    ds_unary_fwd_args fa = {.x = ds_tensor_cpu1(x, DS_F64, 3), .y = ds_tensor_cpu1(y, DS_F64, 3)};
    ds_unary_bwd_args ba = {.y = fa.y, .dy = ds_tensor_cpu1(dy, DS_F64, 3), .dx = ds_tensor_cpu1(dx, DS_F64, 3)};
    ds_test_check(&t, ds_relu_forward(&ctx, &fa) == DS_OK && ds_relu_backward(&ctx, &ba) == DS_OK && isnan(y[0]) &&
                          y[1] == 0 && y[2] == 2 && dx[0] == 5 && dx[1] == 0 && dx[2] == 7,
                  "F64 relu with NaN: y (%g, %g, %g), dx (%g, %g, %g)", y[0], y[1], y[2], dx[0], dx[1], dx[2]);
    float small[2];
    ds_unary_fwd_args bad = {.x = ds_tensor_cpu1(x, DS_F64, 3), .y = ds_tensor_cpu1(small, DS_F32, 2)};
    ds_test_error(&t, "relu with y of another dtype and size", &ctx.err, ds_relu_forward(&ctx, &bad),
                  DS_ERR_INVALID_ARG, "relu_forward: y");
    return ds_test_finish(&t);
}
