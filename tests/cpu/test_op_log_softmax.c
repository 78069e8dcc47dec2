// log_softmax against torch (tests/fixtures/ops/log_softmax.safetensors, from
// scripts/fixtures/ops_speech.py: F.log_softmax with autograd in float32, including logits scaled
// by 20 and a single class), plus finite differences of the backward in F64.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// Row logsumexp in double against torch's float: a few float ulp of values up to ~60 in
// magnitude (logits x 20): ~1e-6 of the tensor's largest entry; 1e-5 leaves a 10x margin while a
// missing max-subtraction (overflow) or a wrong backward term is off by >= 1e-2.
#define TOL 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), y_want = ds_op_fixture_get(t, f, k, "y", DS_F32);
    ds_tensor dy = ds_op_fixture_get(t, f, k, "dy", DS_F32), dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    if (!x.data || !y_want.data || !dy.data || !dx_want.data) return;
    char what[64];
    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), dx = ds_test_zeros_like(&dx_want, DS_F32);
    ds_softmax_fwd_args fa = {.x = x, .y = y};
    if (ds_test_check(t, ds_log_softmax_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y", k);
        ds_test_close(t, what, &y, &y_want, TOL);
    }
    ds_softmax_bwd_args ba = {.y = y_want, .dy = dy, .dx = dx};
    if (ds_test_check(t, ds_log_softmax_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
    }
    free(y.data), free(dx.data);
}

enum { N = 4, C = 7 };
typedef struct { ds_context *ctx; double *x, *r; } fd_case;

static double fd_loss(void *user) {  // sum(log_softmax(x) * r)
    fd_case *c = user;
    double y[N * C], l = 0;
    ds_softmax_fwd_args a = {.x = ds_tensor_cpu2(c->x, DS_F64, N, C), .y = ds_tensor_cpu2(y, DS_F64, N, C)};
    if (ds_log_softmax_forward(c->ctx, &a) != DS_OK) return NAN;
    for (int i = 0; i < N * C; i++) l += y[i] * c->r[i];
    return l;
}

static void check_fd(ds_test *t, ds_context *ctx) {
    double x[N * C], r[N * C], y[N * C], dx[N * C];
    ds_fill_uniform_f64(x, N * C, 31);
    ds_fill_uniform_f64(r, N * C, 32);
    for (int i = 0; i < N * C; i++) x[i] *= 4;
    ds_softmax_fwd_args a = {.x = ds_tensor_cpu2(x, DS_F64, N, C), .y = ds_tensor_cpu2(y, DS_F64, N, C)};
    ds_softmax_bwd_args b = {.y = a.y, .dy = ds_tensor_cpu2(r, DS_F64, N, C), .dx = ds_tensor_cpu2(dx, DS_F64, N, C)};
    if (!ds_test_check(t, ds_log_softmax_forward(ctx, &a) == DS_OK && ds_log_softmax_backward(ctx, &b) == DS_OK,
                       "log_softmax F64: %s", ctx->err.msg))
        return;
    fd_case c = {ctx, x, r};
    // Central differences in double, h = 1e-6: ~1e-9 relative error (gradcheck.h); 1e-6 is a wide margin.
    ds_gradcheck(t, "log_softmax dx", x, dx, N * C, N * C, fd_loss, &c, 1e-6, 1e-6);
}

int main(void) {
    ds_test t = ds_test_begin("op_log_softmax");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "log_softmax")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 4, "log_softmax fixture holds %d cases, expected at least 4", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_fd(&t, &ctx);
    float x[6] = {0}, y[5];
    ds_softmax_fwd_args bad = {.x = ds_tensor_cpu2(x, DS_F32, 2, 3), .y = ds_tensor_cpu2(y, DS_F32, 1, 5)};
    ds_test_error(&t, "y of another shape", &ctx.err, ds_log_softmax_forward(&ctx, &bad), DS_ERR_INVALID_ARG,
                  "log_softmax_forward: y");
    return ds_test_finish(&t);
}
