// embedding against torch golden data (tests/fixtures/ops/embedding.safetensors, from
// scripts/fixtures/ops_dense.py: F.embedding with repeated ids, and with padding_idx where the
// case stores one), plus accumulate semantics,
// out-of-range ids (rejected before anything is written), error paths and thread-count
// independence of the scatter-add.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// The forward is a row copy: exact.
#define TOL_OUT 0.0
// dtable rows sum the gradients of repeated ids (<= ~10 terms) in position order here and in
// torch's order there: a few float ulp apart (~1e-7 relative); 1e-5 is a 10x+ margin, while a
// lost or double-counted repeat misses by order 1.
#define TOL_GRAD 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    ds_tensor ids = ds_op_fixture_get(t, f, k, "ids", DS_I32), table = ds_op_fixture_get(t, f, k, "table", DS_F32);
    ds_tensor out_want = ds_op_fixture_get(t, f, k, "out", DS_F32), dout = ds_op_fixture_get(t, f, k, "dout", DS_F32);
    ds_tensor dtable_want = ds_op_fixture_get(t, f, k, "dtable", DS_F32);
    if (!ids.data || !table.data || !out_want.data || !dout.data || !dtable_want.data) return;
    char what[96];
    ds_tensor out = ds_test_zeros_like(&out_want, DS_F32);
    ds_embedding_fwd_args fa = {.ids = ids, .table = table, .out = out};
    if (ds_test_check(t, ds_embedding_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d out", k);
        ds_test_close(t, what, &out, &out_want, TOL_OUT);
    }
    ds_tensor dtable = ds_test_zeros_like(&dtable_want, DS_F32);
    ds_test_fill_nan(&dtable);  // accumulate=false must overwrite every row, used or not
    ds_embedding_bwd_args ba = {.ids = ids, .dout = dout, .dtable = dtable, .accumulate = false};
    if (ds_op_fixture_has(f, k, "padding_idx")) {
        ba.has_padding_idx = true;
        ba.padding_idx = (int32_t)ds_op_fixture_scalar(t, f, k, "padding_idx");
    }
    if (ds_test_check(t, ds_embedding_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dtable", k);
        ds_test_close(t, what, &dtable, &dtable_want, TOL_GRAD);
    }
    ba.accumulate = true;
    ds_tensor dtable2 = ds_test_scaled_copy(&dtable_want, 2);
    if (ds_test_check(t, ds_embedding_backward(ctx, &ba) == DS_OK, "case%d backward (accumulate): %s", k,
                      ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dtable accumulated twice", k);
        ds_test_close(t, what, &dtable, &dtable2, TOL_GRAD);
    }
    free(out.data), free(dtable.data), free(dtable2.data);
}

static bool all_equal(const float *a, int n, float v) {
    for (int i = 0; i < n; i++)
        if (a[i] != v) return false;
    return true;
}

static void check_errors(ds_test *t, ds_context *ctx) {
    enum { N = 4, V = 5, C = 3 };
    int32_t ids[N] = {1, 4, 5, 0};  // ids[2] = 5 is out of range for V = 5
    float table[V * C] = {0}, out[N * C], dout[N * C] = {0}, dtable[V * C];
    for (int i = 0; i < N * C; i++) out[i] = 7;
    for (int i = 0; i < V * C; i++) dtable[i] = 7;
    ds_embedding_fwd_args a = {.ids = ds_tensor_cpu1(ids, DS_I32, N), .table = ds_tensor_cpu2(table, DS_F32, V, C),
                               .out = ds_tensor_cpu2(out, DS_F32, N, C)};
    ds_test_error(t, "forward with id 5 for V = 5", &ctx->err, ds_embedding_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "embedding_forward: ids[2] = 5");
    ds_test_check(t, all_equal(out, N * C, 7), "embedding_forward wrote out although an id was out of range");
    ids[2] = -1;
    ds_test_error(t, "forward with id -1", &ctx->err, ds_embedding_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "embedding_forward: ids[2] = -1");
    ds_embedding_bwd_args b = {.ids = a.ids, .dout = ds_tensor_cpu2(dout, DS_F32, N, C),
                               .dtable = ds_tensor_cpu2(dtable, DS_F32, V, C)};
    ds_test_error(t, "backward with id -1", &ctx->err, ds_embedding_backward(ctx, &b), DS_ERR_INVALID_ARG,
                  "embedding_backward: ids[2] = -1");
    ds_test_check(t, all_equal(dtable, V * C, 7), "embedding_backward wrote dtable although an id was out of range");
    ids[2] = 2;
    a.out = ds_tensor_cpu2(out, DS_F32, N, C - 1);
    ds_test_error(t, "forward with out (4, 2) for C = 3", &ctx->err, ds_embedding_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "embedding_forward: out");
    a.out = ds_tensor_cpu2(out, DS_F32, N, C);
    a.ids.dtype = DS_I64;
    ds_test_error(t, "forward with I64 ids", &ctx->err, ds_embedding_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "embedding_forward: ids");
    b.ids.dtype = DS_I32;
    b.has_padding_idx = true;
    b.padding_idx = V;
    ds_test_error(t, "backward with padding_idx 5 for V = 5", &ctx->err, ds_embedding_backward(ctx, &b),
                  DS_ERR_INVALID_ARG, "embedding_backward: padding_idx 5");
    ds_test_check(t, all_equal(dtable, V * C, 7), "embedding_backward wrote dtable although padding_idx was bad");
    b.has_padding_idx = false;
    b.dtable = ds_tensor_cpu2(dtable, DS_F32, C, V);
    ds_test_error(t, "backward with dtable (3, 5) for C = 3", &ctx->err, ds_embedding_backward(ctx, &b),
                  DS_ERR_INVALID_ARG, "embedding_backward: dtable");
}

// The scatter-add of repeated ids must be bit-identical for 1 and 3 threads. The size is above
// the op's threshold for going parallel.
static void check_thread_independence(ds_test *t, ds_context *ctx) {
    enum { N = 2000, V = 50, C = 200 };
    int32_t *ids = malloc(sizeof(int32_t) * N);
    float *dout = malloc(sizeof(float) * N * C), *dtable[2] = {malloc(sizeof(float) * V * C), malloc(sizeof(float) * V * C)};
    for (int i = 0; i < N; i++) ids[i] = (i * 7919) % V;
    ds_fill_uniform_f32(dout, N * C, 9);
    const int threads = omp_get_max_threads();
    ds_status s[2];
    for (int i = 0; i < 2; i++) {
        omp_set_num_threads(i == 0 ? 1 : 3);
        ds_embedding_bwd_args a = {.ids = ds_tensor_cpu1(ids, DS_I32, N), .dout = ds_tensor_cpu2(dout, DS_F32, N, C),
                                   .dtable = ds_tensor_cpu2(dtable[i], DS_F32, V, C)};
        s[i] = ds_embedding_backward(ctx, &a);
    }
    omp_set_num_threads(threads);
    ds_test_check(t, s[0] == DS_OK && s[1] == DS_OK && memcmp(dtable[0], dtable[1], sizeof(float) * V * C) == 0,
                  "dtable differs between 1 and 3 threads (%s)", ctx->err.msg);
    free(ids), free(dout), free(dtable[0]), free(dtable[1]);
}

int main(void) {
    ds_test t = ds_test_begin("op_embedding");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "embedding")) {
        const int cases = ds_op_fixture_cases(&f, "ids");
        ds_test_check(&t, cases >= 4 && ds_op_fixture_has(&f, cases - 1, "padding_idx"),
                      "embedding fixture holds %d cases, expected at least 4, the last with padding_idx", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_errors(&t, &ctx);
    check_thread_independence(&t, &ctx);
    return ds_test_finish(&t);
}
