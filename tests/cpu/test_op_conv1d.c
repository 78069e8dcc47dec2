// conv1d against torch (tests/fixtures/ops/conv1d.safetensors, from scripts/fixtures/ops_speech.py:
// F.conv1d with autograd in float32: wav2vec2's first conv (1 channel, kernel 10, stride 5, no bias),
// a strided conv with bias, the grouped positional conv with an even kernel and padding K/2, a
// dilated one), finite differences in F64, accumulation, thread independence and the errors.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// GEMMs over at most 40 products in float against torch's (differently ordered) float sums:
// ~1e-6 of the largest value; 1e-5 leaves a margin while a wrong tap, stride or group offset is
// off by >= 1e-2.
#define TOL 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), w = ds_op_fixture_get(t, f, k, "w", DS_F32);
    ds_tensor y_want = ds_op_fixture_get(t, f, k, "y", DS_F32), dy = ds_op_fixture_get(t, f, k, "dy", DS_F32);
    ds_tensor dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32), dw_want = ds_op_fixture_get(t, f, k, "dw", DS_F32);
    ds_tensor p = ds_op_fixture_get(t, f, k, "params", DS_I32);
    if (!x.data || !w.data || !y_want.data || !dy.data || !dx_want.data || !dw_want.data || !p.data) return;
    const bool has_b = ds_op_fixture_has(f, k, "b");
    ds_tensor b = has_b ? ds_op_fixture_get(t, f, k, "b", DS_F32) : (ds_tensor){0};
    const int32_t *pp = p.data;  // stride, padding, dilation, groups
    char what[64];
    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), dx = ds_test_zeros_like(&dx_want, DS_F32);
    ds_tensor dw = ds_test_zeros_like(&dw_want, DS_F32), db = has_b ? ds_test_zeros_like(&b, DS_F32) : (ds_tensor){0};
    ds_conv1d_fwd_args fa = {.x = x, .w = w, .b = b, .y = y, .stride = pp[0], .padding = pp[1], .dilation = pp[2],
                             .groups = pp[3]};
    if (ds_test_check(t, ds_conv1d_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y (s%d p%d d%d g%d)", k, pp[0], pp[1], pp[2], pp[3]);
        ds_test_close(t, what, &y, &y_want, TOL);
    }
    ds_test_fill_nan(&dx);
    ds_test_fill_nan(&dw);
    ds_conv1d_bwd_args ba = {.x = x, .w = w, .dy = dy, .dx = dx, .dw = dw, .db = db, .stride = pp[0], .padding = pp[1],
                             .dilation = pp[2], .groups = pp[3]};
    if (ds_test_check(t, ds_conv1d_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
        snprintf(what, sizeof what, "case%d dw", k);
        ds_test_close(t, what, &dw, &dw_want, TOL);
        if (has_b) {
            ds_tensor db_want = ds_op_fixture_get(t, f, k, "db", DS_F32);
            snprintf(what, sizeof what, "case%d db", k);
            if (db_want.data) ds_test_close(t, what, &db, &db_want, TOL);
        }
        ba.accumulate = true;
        ba.dx = (ds_tensor){0};  // absent: the first layer
        ds_tensor dw2 = ds_test_scaled_copy(&dw_want, 2.0f);
        if (ds_test_check(t, ds_conv1d_backward(ctx, &ba) == DS_OK, "case%d accumulate: %s", k, ctx->err.msg)) {
            snprintf(what, sizeof what, "case%d dw accumulated", k);
            ds_test_close(t, what, &dw, &dw2, TOL);
        }
        free(dw2.data);
    }
    free(y.data), free(dx.data), free(dw.data), free(db.data);
}

// F64 finite differences on a grouped, strided, padded, dilated conv.
enum { N = 2, CI = 4, L = 11, CO = 6, G = 2, K = 3, S = 2, P = 2, D = 2 };
enum { LO = (L + 2 * P - D * (K - 1) - 1) / S + 1, NX = N * CI * L, NW = CO * (CI / G) * K, NY = N * CO * LO };
typedef struct { ds_context *ctx; double *x, *w, *b, *r; } fd_case;

static double fd_loss(void *user) {
    fd_case *c = user;
    double y[NY], l = 0;
    ds_conv1d_fwd_args a = {.x = ds_tensor_cpu3(c->x, DS_F64, N, CI, L), .w = ds_tensor_cpu3(c->w, DS_F64, CO, CI / G, K),
                            .b = ds_tensor_cpu1(c->b, DS_F64, CO), .y = ds_tensor_cpu3(y, DS_F64, N, CO, LO), .stride = S,
                            .padding = P, .dilation = D, .groups = G};
    if (ds_conv1d_forward(c->ctx, &a) != DS_OK) return NAN;
    for (int i = 0; i < NY; i++) l += y[i] * c->r[i];
    return l;
}

static void check_fd(ds_test *t, ds_context *ctx) {
    double x[NX], w[NW], b[CO], r[NY], dx[NX], dw[NW], db[CO];
    ds_fill_uniform_f64(x, NX, 71);
    ds_fill_uniform_f64(w, NW, 72);
    ds_fill_uniform_f64(b, CO, 73);
    ds_fill_uniform_f64(r, NY, 74);
    ds_conv1d_bwd_args a = {.x = ds_tensor_cpu3(x, DS_F64, N, CI, L), .w = ds_tensor_cpu3(w, DS_F64, CO, CI / G, K),
                            .dy = ds_tensor_cpu3(r, DS_F64, N, CO, LO), .dx = ds_tensor_cpu3(dx, DS_F64, N, CI, L),
                            .dw = ds_tensor_cpu3(dw, DS_F64, CO, CI / G, K), .db = ds_tensor_cpu1(db, DS_F64, CO),
                            .stride = S, .padding = P, .dilation = D, .groups = G};
    if (!ds_test_check(t, ds_conv1d_backward(ctx, &a) == DS_OK, "conv1d F64 backward: %s", ctx->err.msg)) return;
    fd_case c = {ctx, x, w, b, r};
    // The conv is linear in each input: central differences are exact up to rounding (~1e-10).
    ds_gradcheck(t, "conv1d dx", x, dx, NX, NX, fd_loss, &c, 1e-6, 1e-6);
    ds_gradcheck(t, "conv1d dw", w, dw, NW, NW, fd_loss, &c, 1e-6, 1e-6);
    ds_gradcheck(t, "conv1d db", b, db, CO, CO, fd_loss, &c, 1e-6, 1e-6);
}

// Bit-identical results for 1 and 3 threads, sizes above the op's parallel thresholds.
static void check_threads(ds_test *t, ds_context *ctx) {
    enum { n = 2, ci = 32, l = 700, co = 32, k = 3, lo = (l - k) / 2 + 1 };
    float *x = malloc(sizeof(float) * n * ci * l), *w = malloc(sizeof(float) * co * ci * k), *dy = malloc(sizeof(float) * n * co * lo);
    float *y[2], *dx[2], *dw[2];
    ds_fill_uniform_f32(x, n * ci * l, 81);
    ds_fill_uniform_f32(w, co * ci * k, 82);
    ds_fill_uniform_f32(dy, n * co * lo, 83);
    const int threads = omp_get_max_threads();
    bool ok = true;
    for (int r = 0; r < 2; r++) {
        omp_set_num_threads(r == 0 ? 1 : 3);
        y[r] = malloc(sizeof(float) * n * co * lo), dx[r] = malloc(sizeof(float) * n * ci * l), dw[r] = malloc(sizeof(float) * co * ci * k);
        ds_conv1d_fwd_args a = {.x = ds_tensor_cpu3(x, DS_F32, n, ci, l), .w = ds_tensor_cpu3(w, DS_F32, co, ci, k),
                                .y = ds_tensor_cpu3(y[r], DS_F32, n, co, lo), .stride = 2, .dilation = 1, .groups = 1};
        ds_conv1d_bwd_args b = {.x = a.x, .w = a.w, .dy = ds_tensor_cpu3(dy, DS_F32, n, co, lo), .dx = ds_tensor_cpu3(dx[r], DS_F32, n, ci, l),
                                .dw = ds_tensor_cpu3(dw[r], DS_F32, co, ci, k), .stride = 2, .dilation = 1, .groups = 1};
        ok &= ds_conv1d_forward(ctx, &a) == DS_OK && ds_conv1d_backward(ctx, &b) == DS_OK;
    }
    omp_set_num_threads(threads);
    ds_test_check(t, ok && memcmp(y[0], y[1], sizeof(float) * n * co * lo) == 0 &&
                         memcmp(dx[0], dx[1], sizeof(float) * n * ci * l) == 0 &&
                         memcmp(dw[0], dw[1], sizeof(float) * co * ci * k) == 0,
                  "conv1d results differ between 1 and 3 threads (%s)", ctx->err.msg);
    free(x), free(w), free(dy);
    for (int r = 0; r < 2; r++) free(y[r]), free(dx[r]), free(dw[r]);
}

int main(void) {
    ds_test t = ds_test_begin("op_conv1d");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "conv1d")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 4, "conv1d fixture holds %d cases, expected at least 4", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_fd(&t, &ctx);
    check_threads(&t, &ctx);
    float x[2 * 3 * 5] = {0}, w[4 * 3 * 7] = {0}, y[8];
    ds_conv1d_fwd_args bad = {.x = ds_tensor_cpu3(x, DS_F32, 2, 3, 5), .w = ds_tensor_cpu3(w, DS_F32, 4, 3, 7),
                              .y = ds_tensor_cpu3(y, DS_F32, 2, 4, 1), .stride = 1, .dilation = 1, .groups = 1};
    ds_test_error(&t, "input shorter than the kernel", &ctx.err, ds_conv1d_forward(&ctx, &bad), DS_ERR_INVALID_ARG,
                  "shorter than the kernel");
    bad.groups = 2;
    ds_test_error(&t, "groups not dividing Cin", &ctx.err, ds_conv1d_forward(&ctx, &bad), DS_ERR_INVALID_ARG, "groups = 2");
    return ds_test_finish(&t);
}
