// gelu (erf form) and tanh against torch golden data (tests/fixtures/ops/{gelu,tanh}.safetensors,
// from scripts/fixtures/ops_dense.py: F.gelu, torch.tanh), on 1-, 2- and 3-d shapes, plus error
// paths.
#include <stdlib.h>

#include "../../kernels/ops.h"
#include "../op_fixture.h"

// Elementwise: libm's erff/expf/tanhf and torch's vectorised versions each round within a few
// float ulp (~1e-7 relative); 1e-5 tensor-relative is a 10x+ margin, while the tanh-approximate
// GELU (off by up to ~5e-4) or a wrong derivative fails clearly.
#define TOL 1e-5

typedef ds_status (*fwd_fn)(ds_context *, const ds_unary_fwd_args *);
typedef ds_status (*bwd_fn)(ds_context *, const ds_unary_bwd_args *);

static void run_op(ds_test *t, ds_context *ctx, const char *op, fwd_fn fwd, bwd_fn bwd) {
    ds_op_fixture f;
    if (!ds_op_fixture_open(t, &f, op)) return;
    const int cases = ds_op_fixture_cases(&f, "x");
    ds_test_check(t, cases >= 3, "%s fixture holds %d cases, expected at least 3", op, cases);
    for (int k = 0; k < cases; k++) {
        ds_tensor x = ds_op_fixture_get(t, &f, k, "x", DS_F32), y_want = ds_op_fixture_get(t, &f, k, "y", DS_F32);
        ds_tensor dy = ds_op_fixture_get(t, &f, k, "dy", DS_F32), dx_want = ds_op_fixture_get(t, &f, k, "dx", DS_F32);
        if (!x.data || !y_want.data || !dy.data || !dx_want.data) continue;
        char what[96];
        ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), dx = ds_test_zeros_like(&dx_want, DS_F32);
        ds_unary_fwd_args fa = {.x = x, .y = y};
        if (ds_test_check(t, fwd(ctx, &fa) == DS_OK, "%s case%d forward: %s", op, k, ctx->err.msg)) {
            snprintf(what, sizeof what, "%s case%d y", op, k);
            ds_test_close(t, what, &y, &y_want, TOL);
        }
        // Backward reads torch's x and y, so it is tested on its own.
        ds_test_fill_nan(&dx);
        ds_unary_bwd_args ba = {.x = x, .y = y_want, .dy = dy, .dx = dx};
        if (ds_test_check(t, bwd(ctx, &ba) == DS_OK, "%s case%d backward: %s", op, k, ctx->err.msg)) {
            snprintf(what, sizeof what, "%s case%d dx", op, k);
            ds_test_close(t, what, &dx, &dx_want, TOL);
        }
        free(y.data), free(dx.data);
    }
    ds_op_fixture_close(&f);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    float x[12] = {0}, y[12] = {0}, dy[12] = {0}, dx[12] = {0};
    double y64[12] = {0};
    // Shapes may differ as long as numel agrees; numel may not.
    ds_unary_fwd_args a = {.x = ds_tensor_cpu2(x, DS_F32, 3, 4), .y = ds_tensor_cpu1(y, DS_F32, 12)};
    ds_test_check(t, ds_gelu_forward(ctx, &a) == DS_OK, "gelu_forward rejected (3, 4) -> (12): %s", ctx->err.msg);
    a.y = ds_tensor_cpu1(y, DS_F32, 11);
    ds_test_error(t, "gelu forward with y of 11 elements for x of 12", &ctx->err, ds_gelu_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "gelu_forward: y");
    a.y = ds_tensor_cpu1(y64, DS_F64, 12);
    ds_test_error(t, "tanh forward with F64 y and F32 x", &ctx->err, ds_tanh_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "tanh_forward: y");

    ds_unary_bwd_args b = {.dy = ds_tensor_cpu1(dy, DS_F32, 12), .dx = ds_tensor_cpu1(dx, DS_F32, 12),
                           .y = ds_tensor_cpu1(y, DS_F32, 12)};
    ds_test_error(t, "gelu backward without x", &ctx->err, ds_gelu_backward(ctx, &b), DS_ERR_INVALID_ARG,
                  "gelu_backward: x");
    b.y = (ds_tensor){0};
    b.x = ds_tensor_cpu1(x, DS_F32, 12);
    ds_test_error(t, "tanh backward without y", &ctx->err, ds_tanh_backward(ctx, &b), DS_ERR_INVALID_ARG,
                  "tanh_backward: y");
    b.y = ds_tensor_cpu1(y, DS_F32, 12);
    b.dx = ds_tensor_cpu1(dx, DS_F32, 6);
    ds_test_error(t, "tanh backward with dx of 6 elements", &ctx->err, ds_tanh_backward(ctx, &b), DS_ERR_INVALID_ARG,
                  "tanh_backward: dx");
}

int main(void) {
    ds_test t = ds_test_begin("op_activations");
    ds_context ctx = ds_context_cpu();
    run_op(&t, &ctx, "gelu", ds_gelu_forward, ds_gelu_backward);
    run_op(&t, &ctx, "tanh", ds_tanh_forward, ds_tanh_backward);
    check_errors(&t, &ctx);
    return ds_test_finish(&t);
}
