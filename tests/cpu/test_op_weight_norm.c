// weight_norm against torch (tests/fixtures/ops/weight_norm.safetensors, from
// scripts/fixtures/ops_speech.py: torch._weight_norm, the function behind both
// nn.utils.weight_norm and parametrizations.weight_norm, with autograd in float32; dim 2 of a
// (Cout, Cin/groups, K) conv weight as wav2vec2's positional conv, dims 0 and 1), finite
// differences in F64 and the errors.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// Norms over at most 32 elements in double against torch's float: a few ulp; 1e-5 leaves a wide
// margin while a norm over the wrong dims is off by >= 10%.
#define TOL 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    ds_tensor v = ds_op_fixture_get(t, f, k, "v", DS_F32), g = ds_op_fixture_get(t, f, k, "g", DS_F32);
    ds_tensor w_want = ds_op_fixture_get(t, f, k, "w", DS_F32), n_want = ds_op_fixture_get(t, f, k, "norm", DS_F32);
    ds_tensor dw = ds_op_fixture_get(t, f, k, "dw", DS_F32), dv_want = ds_op_fixture_get(t, f, k, "dv", DS_F32);
    ds_tensor dg_want = ds_op_fixture_get(t, f, k, "dg", DS_F32);
    const int dim = (int)ds_op_fixture_scalar(t, f, k, "dim");
    if (!v.data || !g.data || !w_want.data || !n_want.data || !dw.data || !dv_want.data || !dg_want.data) return;
    char what[64];
    ds_tensor w = ds_test_zeros_like(&w_want, DS_F32), norm = ds_test_zeros_like(&n_want, DS_F32);
    ds_tensor dv = ds_test_zeros_like(&dv_want, DS_F32), dg = ds_test_zeros_like(&dg_want, DS_F32);
    ds_weight_norm_fwd_args fa = {.v = v, .g = g, .w = w, .norm = norm, .dim = dim};
    if (ds_test_check(t, ds_weight_norm_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d w (dim %d)", k, dim);
        ds_test_close(t, what, &w, &w_want, TOL);
        snprintf(what, sizeof what, "case%d norm", k);
        ds_test_close(t, what, &norm, &n_want, TOL);
    }
    ds_test_fill_nan(&dv);
    ds_weight_norm_bwd_args ba = {.v = v, .g = g, .norm = n_want, .dw = dw, .dv = dv, .dg = dg, .dim = dim};
    if (ds_test_check(t, ds_weight_norm_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dv", k);
        ds_test_close(t, what, &dv, &dv_want, TOL);
        snprintf(what, sizeof what, "case%d dg", k);
        ds_test_close(t, what, &dg, &dg_want, TOL);
        ba.accumulate = true;
        ds_tensor dg2 = ds_test_scaled_copy(&dg_want, 2.0f);
        if (ds_weight_norm_backward(ctx, &ba) == DS_OK) {
            snprintf(what, sizeof what, "case%d dg accumulated", k);
            ds_test_close(t, what, &dg, &dg2, TOL);
        }
        free(dg2.data);
    }
    free(w.data), free(norm.data), free(dv.data), free(dg.data);
}

enum { A = 4, B = 3, K = 5, NV = A * B * K };
typedef struct { ds_context *ctx; double *v, *g, *r; int dim; } fd_case;

static int64_t kdim(int dim) { return dim == 0 ? A : dim == 1 ? B : K; }

static double fd_loss(void *user) {  // sum(weight_norm(v, g) * r)
    fd_case *c = user;
    double w[NV], norm[A > K ? A : K], l = 0;
    ds_weight_norm_fwd_args a = {.v = ds_tensor_cpu3(c->v, DS_F64, A, B, K), .g = ds_tensor_cpu1(c->g, DS_F64, kdim(c->dim)),
                                 .w = ds_tensor_cpu3(w, DS_F64, A, B, K), .norm = ds_tensor_cpu1(norm, DS_F64, kdim(c->dim)),
                                 .dim = c->dim};
    if (ds_weight_norm_forward(c->ctx, &a) != DS_OK) return NAN;
    for (int i = 0; i < NV; i++) l += w[i] * c->r[i];
    return l;
}

static void check_fd(ds_test *t, ds_context *ctx, int dim) {
    double v[NV], g[8], r[NV], w[NV], norm[8], dv[NV], dg[8];
    ds_fill_uniform_f64(v, NV, 51);
    ds_fill_uniform_f64(g, 8, 52);
    ds_fill_uniform_f64(r, NV, 53);
    const int64_t k = kdim(dim);
    ds_weight_norm_fwd_args a = {.v = ds_tensor_cpu3(v, DS_F64, A, B, K), .g = ds_tensor_cpu1(g, DS_F64, k),
                                 .w = ds_tensor_cpu3(w, DS_F64, A, B, K), .norm = ds_tensor_cpu1(norm, DS_F64, k), .dim = dim};
    ds_weight_norm_bwd_args b = {.v = a.v, .g = a.g, .norm = a.norm, .dw = ds_tensor_cpu3(r, DS_F64, A, B, K),
                                 .dv = ds_tensor_cpu3(dv, DS_F64, A, B, K), .dg = ds_tensor_cpu1(dg, DS_F64, k), .dim = dim};
    if (!ds_test_check(t, ds_weight_norm_forward(ctx, &a) == DS_OK && ds_weight_norm_backward(ctx, &b) == DS_OK,
                       "weight_norm F64: %s", ctx->err.msg))
        return;
    fd_case c = {ctx, v, g, r, dim};
    char what[64];
    // Central differences in double, h = 1e-6: ~1e-9 relative error (gradcheck.h); 1e-6 is a wide margin.
    snprintf(what, sizeof what, "weight_norm dv (dim %d)", dim);
    ds_gradcheck(t, what, v, dv, NV, NV, fd_loss, &c, 1e-6, 1e-6);
    snprintf(what, sizeof what, "weight_norm dg (dim %d)", dim);
    ds_gradcheck(t, what, g, dg, (size_t)k, (size_t)k, fd_loss, &c, 1e-6, 1e-6);
}

int main(void) {
    ds_test t = ds_test_begin("op_weight_norm");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "weight_norm")) {
        const int cases = ds_op_fixture_cases(&f, "v");
        ds_test_check(&t, cases >= 3, "weight_norm fixture holds %d cases, expected at least 3", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    for (int dim = 0; dim < 3; dim++) check_fd(&t, &ctx, dim);
    float v[12] = {0}, g[4] = {0}, w[12], n[4];
    ds_weight_norm_fwd_args bad = {.v = ds_tensor_cpu2(v, DS_F32, 3, 4), .g = ds_tensor_cpu1(g, DS_F32, 4),
                                   .w = ds_tensor_cpu2(w, DS_F32, 3, 4), .norm = ds_tensor_cpu1(n, DS_F32, 4), .dim = 2};
    ds_test_error(&t, "dim out of range", &ctx.err, ds_weight_norm_forward(&ctx, &bad), DS_ERR_INVALID_ARG, "dim = 2");
    bad.dim = 0;
    ds_test_error(&t, "g of the wrong size", &ctx.err, ds_weight_norm_forward(&ctx, &bad), DS_ERR_INVALID_ARG,
                  "weight_norm_forward: g");
    return ds_test_finish(&t);
}
