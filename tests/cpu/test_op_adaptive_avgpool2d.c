// adaptive_avgpool2d against torch golden data (tests/fixtures/ops/adaptive_avgpool2d.safetensors,
// from scripts/fixtures/ops_vision.py: F.adaptive_avg_pool2d with autograd to 1x1 (ASPP), to
// uneven windows, and to an output larger than the input).
#include <stdio.h>
#include <stdlib.h>

#include "../../kernels/ops.h"
#include "../op_fixture.h"

// Window means of <= 117 values: ours summed in double, torch's in float; ~1e-7 relative.
#define TOL 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    const ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), y_want = ds_op_fixture_get(t, f, k, "y", DS_F32);
    const ds_tensor dy = ds_op_fixture_get(t, f, k, "dy", DS_F32), dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    if (!x.data || !y_want.data || !dy.data || !dx_want.data) return;
    char what[64];
    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), dx = ds_test_zeros_like(&dx_want, DS_F32);
    ds_test_fill_nan(&dx);
    ds_adaptive_avgpool2d_args fa = {.x = x, .y = y}, ba = {.x = dy, .y = dx};
    if (ds_test_check(t, ds_adaptive_avgpool2d_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y", k);
        ds_test_close(t, what, &y, &y_want, TOL);
    }
    if (ds_test_check(t, ds_adaptive_avgpool2d_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
    }
    free(y.data), free(dx.data);
}

int main(void) {
    ds_test t = ds_test_begin("op_adaptive_avgpool2d");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "adaptive_avgpool2d")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 4, "adaptive_avgpool2d fixture holds %d cases, expected at least 4", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    float x[2 * 3 * 4 * 4], y[3];
    ds_adaptive_avgpool2d_args bad = {.x = ds_tensor_cpu4(x, DS_F32, 2, 3, 4, 4), .y = ds_tensor_cpu4(y, DS_F32, 1, 3, 1, 1)};
    ds_test_error(&t, "y with another batch size", &ctx.err, ds_adaptive_avgpool2d_forward(&ctx, &bad),
                  DS_ERR_INVALID_ARG, "adaptive_avgpool2d_forward: x");
    return ds_test_finish(&t);
}
