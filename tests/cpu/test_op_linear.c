// linear (y = x w^T + b) against torch golden data (tests/fixtures/ops/linear.safetensors, from
// scripts/fixtures/ops_dense.py), plus accumulate semantics, absent dx/db, error paths and
// thread-count independence of the bias gradient.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// fp32 GEMM results from OpenBLAS and torch's own kernel differ only in summation order:
// each output sums K (up to 96) products, so both carry rounding near sqrt(K) * 2^-24 ~ 6e-7
// relative to the tensor's largest value; 1e-5 is over 10x that, while any indexing or
// transpose mistake gives errors of order 1.
#define TOL_GEMM 1e-5
// db sums dy's columns in double here and in float in torch: ~1e-7 apart; same margin.
#define TOL_DB 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    const bool bias = ds_op_fixture_has(f, k, "b");
    ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), w = ds_op_fixture_get(t, f, k, "w", DS_F32);
    ds_tensor y_want = ds_op_fixture_get(t, f, k, "y", DS_F32), dy = ds_op_fixture_get(t, f, k, "dy", DS_F32);
    ds_tensor dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32), dw_want = ds_op_fixture_get(t, f, k, "dw", DS_F32);
    ds_tensor b = {0}, db_want = {0};
    if (bias) {
        b = ds_op_fixture_get(t, f, k, "b", DS_F32);
        db_want = ds_op_fixture_get(t, f, k, "db", DS_F32);
    }
    if (!x.data || !w.data || !y_want.data || !dy.data || !dx_want.data || !dw_want.data) return;
    char what[96];

    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32);
    ds_test_fill_nan(&y);  // bias or not, y must be overwritten
    ds_linear_fwd_args fa = {.x = x, .w = w, .b = b, .y = y};
    if (ds_test_check(t, ds_linear_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y", k);
        ds_test_close(t, what, &y, &y_want, TOL_GEMM);
    }

    ds_tensor dx = ds_test_zeros_like(&dx_want, DS_F32), dw = ds_test_zeros_like(&dw_want, DS_F32);
    ds_tensor db = bias ? ds_test_zeros_like(&db_want, DS_F32) : (ds_tensor){0};
    // NaN in every output: accumulate=false must overwrite, not add.
    ds_test_fill_nan(&dx), ds_test_fill_nan(&dw);
    if (bias) ds_test_fill_nan(&db);
    ds_linear_bwd_args ba = {.x = x, .w = w, .dy = dy, .dx = dx, .dw = dw, .db = db, .accumulate = false};
    if (ds_test_check(t, ds_linear_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL_GEMM);
        snprintf(what, sizeof what, "case%d dw", k);
        ds_test_close(t, what, &dw, &dw_want, TOL_GEMM);
        if (bias) {
            snprintf(what, sizeof what, "case%d db", k);
            ds_test_close(t, what, &db, &db_want, TOL_DB);
        }
    }

    // accumulate=true: dw and db add a second copy of the gradient; dx is overwritten.
    ba.accumulate = true;
    ds_tensor dw2 = ds_test_scaled_copy(&dw_want, 2), db2 = bias ? ds_test_scaled_copy(&db_want, 2) : (ds_tensor){0};
    if (ds_test_check(t, ds_linear_backward(ctx, &ba) == DS_OK, "case%d backward (accumulate): %s", k,
                      ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx after accumulate", k);
        ds_test_close(t, what, &dx, &dx_want, TOL_GEMM);
        snprintf(what, sizeof what, "case%d dw accumulated twice", k);
        ds_test_close(t, what, &dw, &dw2, TOL_GEMM);
        if (bias) {
            snprintf(what, sizeof what, "case%d db accumulated twice", k);
            ds_test_close(t, what, &db, &db2, TOL_DB);
        }
    }

    // dx and db absent (a first layer without bias gradient): dw alone is computed.
    ds_test_fill_nan(&dw);
    ds_linear_bwd_args na = {.x = x, .w = w, .dy = dy, .dw = dw, .accumulate = false};
    if (ds_test_check(t, ds_linear_backward(ctx, &na) == DS_OK, "case%d backward without dx, db: %s", k,
                      ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dw without dx, db", k);
        ds_test_close(t, what, &dw, &dw_want, TOL_GEMM);
    }
    free(y.data), free(dx.data), free(dw.data), free(db.data), free(dw2.data), free(db2.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    float x[6 * 4] = {0}, w[3 * 4] = {0}, b[3] = {0}, y[6 * 3] = {0}, dy[6 * 3] = {0}, dw[3 * 4] = {0};
    double w64[3 * 4] = {0};
    ds_linear_fwd_args ok = {.x = ds_tensor_cpu2(x, DS_F32, 6, 4), .w = ds_tensor_cpu2(w, DS_F32, 3, 4),
                             .b = ds_tensor_cpu1(b, DS_F32, 3), .y = ds_tensor_cpu2(y, DS_F32, 6, 3)};
    ds_linear_fwd_args a = ok;
    a.w = ds_tensor_cpu2(w, DS_F32, 4, 3);  // K mismatch
    ds_test_error(t, "forward with w (4, 3) for x (6, 4)", &ctx->err, ds_linear_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "linear_forward: w");
    a = ok;
    a.y = ds_tensor_cpu2(y, DS_F32, 3, 6);
    ds_test_error(t, "forward with y (3, 6)", &ctx->err, ds_linear_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "linear_forward: y");
    a = ok;
    a.b = ds_tensor_cpu1(b, DS_F32, 2);
    ds_test_error(t, "forward with b (2)", &ctx->err, ds_linear_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "linear_forward: b");
    a = ok;
    a.w = ds_tensor_cpu2(w64, DS_F64, 3, 4);
    ds_test_error(t, "forward with F64 w and F32 x", &ctx->err, ds_linear_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "linear_forward: w");
    a = ok;
    a.x.dtype = DS_I32;
    ds_test_error(t, "forward with I32 x", &ctx->err, ds_linear_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "linear_forward: x");

    ds_linear_bwd_args okb = {.x = ok.x, .w = ok.w, .dy = ds_tensor_cpu2(dy, DS_F32, 6, 3),
                              .dw = ds_tensor_cpu2(dw, DS_F32, 3, 4)};
    ds_linear_bwd_args c = okb;
    c.dw = (ds_tensor){0};
    ds_test_error(t, "backward without dw", &ctx->err, ds_linear_backward(ctx, &c), DS_ERR_INVALID_ARG,
                  "linear_backward: dw");
    c = okb;
    c.x = ds_tensor_cpu2(x, DS_F32, 4, 6);
    ds_test_error(t, "backward with x (4, 6)", &ctx->err, ds_linear_backward(ctx, &c), DS_ERR_INVALID_ARG,
                  "linear_backward: x");
    c = okb;
    c.db = ds_tensor_cpu1(b, DS_F32, 4);
    ds_test_error(t, "backward with db (4)", &ctx->err, ds_linear_backward(ctx, &c), DS_ERR_INVALID_ARG,
                  "linear_backward: db");
}

// db is a column reduction over threads; it must be bit-identical for 1 and 3 threads. The size
// is above the op's threshold for going parallel.
static void check_thread_independence(ds_test *t, ds_context *ctx) {
    enum { N = 1000, K = 8, M = 77 };
    float *x = malloc(sizeof(float) * N * K), *w = malloc(sizeof(float) * M * K), *dy = malloc(sizeof(float) * N * M);
    float *dw = malloc(sizeof(float) * M * K), db1[M], db3[M];
    ds_fill_uniform_f32(x, N * K, 1), ds_fill_uniform_f32(w, M * K, 2), ds_fill_uniform_f32(dy, N * M, 3);
    ds_linear_bwd_args a = {.x = ds_tensor_cpu2(x, DS_F32, N, K), .w = ds_tensor_cpu2(w, DS_F32, M, K),
                            .dy = ds_tensor_cpu2(dy, DS_F32, N, M), .dw = ds_tensor_cpu2(dw, DS_F32, M, K),
                            .db = ds_tensor_cpu1(db1, DS_F32, M)};
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    ds_status s1 = ds_linear_backward(ctx, &a);
    omp_set_num_threads(3);
    a.db = ds_tensor_cpu1(db3, DS_F32, M);
    ds_status s3 = ds_linear_backward(ctx, &a);
    omp_set_num_threads(threads);
    ds_test_check(t, s1 == DS_OK && s3 == DS_OK && memcmp(db1, db3, sizeof db1) == 0,
                  "db differs between 1 and 3 threads (%s)", ctx->err.msg);
    free(x), free(w), free(dy), free(dw);
}

int main(void) {
    ds_test t = ds_test_begin("op_linear");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "linear")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 3, "linear fixture holds %d cases, expected at least 3", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_errors(&t, &ctx);
    check_thread_independence(&t, &ctx);
    return ds_test_finish(&t);
}
