// softmax over the last dim against torch golden data (tests/fixtures/ops/softmax.safetensors,
// from scripts/fixtures/ops_dense.py: F.softmax), including logits near 1000 that overflow exp
// unless the row max is subtracted, plus error paths.
#include <stdlib.h>

#include "../../kernels/ops.h"
#include "../op_fixture.h"

// Row-wise: expf per element plus one C-term sum (C <= 96); ours sums in double, torch in
// float, so results agree to a few float ulp (~1e-7 relative); 1e-5 is a 10x+ margin, while a
// wrong normalisation or a missing max-subtraction (inf/NaN) fails.
#define TOL 1e-5

int main(void) {
    ds_test t = ds_test_begin("op_softmax");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "softmax")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 3, "softmax fixture holds %d cases, expected at least 3", cases);
        for (int k = 0; k < cases; k++) {
            ds_tensor x = ds_op_fixture_get(&t, &f, k, "x", DS_F32), y_want = ds_op_fixture_get(&t, &f, k, "y", DS_F32);
            ds_tensor dy = ds_op_fixture_get(&t, &f, k, "dy", DS_F32);
            ds_tensor dx_want = ds_op_fixture_get(&t, &f, k, "dx", DS_F32);
            if (!x.data || !y_want.data || !dy.data || !dx_want.data) continue;
            char what[96];
            ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), dx = ds_test_zeros_like(&dx_want, DS_F32);
            ds_softmax_fwd_args fa = {.x = x, .y = y};
            if (ds_test_check(&t, ds_softmax_forward(&ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx.err.msg)) {
                snprintf(what, sizeof what, "case%d y", k);
                ds_test_close(&t, what, &y, &y_want, TOL);
            }
            ds_test_fill_nan(&dx);
            ds_softmax_bwd_args ba = {.y = y_want, .dy = dy, .dx = dx};
            if (ds_test_check(&t, ds_softmax_backward(&ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx.err.msg)) {
                snprintf(what, sizeof what, "case%d dx", k);
                ds_test_close(&t, what, &dx, &dx_want, TOL);
            }
            free(y.data), free(dx.data);
        }
        ds_op_fixture_close(&f);
    }

    float x[15] = {0}, y[15] = {0}, dx[15] = {0};
    ds_softmax_fwd_args a = {.x = ds_tensor_cpu2(x, DS_F32, 3, 5), .y = ds_tensor_cpu2(y, DS_F32, 5, 3)};
    ds_test_error(&t, "forward with y (5, 3) for x (3, 5)", &ctx.err, ds_softmax_forward(&ctx, &a),
                  DS_ERR_INVALID_ARG, "softmax_forward: y");
    a.x = ds_tensor_cpu3(x, DS_F32, 1, 3, 5);
    ds_test_error(&t, "forward with 3-d x", &ctx.err, ds_softmax_forward(&ctx, &a), DS_ERR_INVALID_ARG,
                  "softmax_forward: x");
    ds_softmax_bwd_args b = {.y = ds_tensor_cpu2(y, DS_F32, 3, 5), .dy = ds_tensor_cpu2(x, DS_F32, 3, 5),
                             .dx = ds_tensor_cpu2(dx, DS_F32, 3, 4)};
    ds_test_error(&t, "backward with dx (3, 4)", &ctx.err, ds_softmax_backward(&ctx, &b), DS_ERR_INVALID_ARG,
                  "softmax_backward: dx");
    return ds_test_finish(&t);
}
