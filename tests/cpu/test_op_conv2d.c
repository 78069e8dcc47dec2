// conv2d against torch golden data (tests/fixtures/ops/conv2d.safetensors, from
// scripts/fixtures/ops_vision.py: F.conv2d with autograd over the stem, 1x1, strided, dilated,
// grouped and conv1d shapes; cases 12..16 take the tap-wise path of dilated kernels that mostly
// read padding, with empty taps, stride, groups and an asymmetric kernel), plus the workspace contract, accumulate semantics, absent
// outputs, error paths and thread-count independence (bit-identical results for 1 and 2 threads).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// fp32 sums of at most C/G*R*S = 147 products (forward, dx: K/G*R*S terms) and N*P*Q <= 180
// products (dw, db); ours and torch's summation orders differ (OpenBLAS vs oneDNN/at::native),
// so results agree to ~1e-7..1e-6 of each tensor's largest value. 1e-5 leaves a 10x margin,
// while a wrong index (an off-by-one padding, a flipped kernel, a dilation ignored) errs by
// O(1) and a missing term by >= 1e-2.
#define TOL 1e-5

static ds_conv2d_geom geom_of(ds_test *t, const ds_op_fixture *f, int k) {
    const ds_tensor g = ds_op_fixture_get(t, f, k, "geom", DS_I32);
    const int32_t *v = g.data;
    if (!v) return (ds_conv2d_geom){0};
    return (ds_conv2d_geom){.stride_h = v[0], .stride_w = v[1], .pad_h = v[2], .pad_w = v[3], .dilation_h = v[4],
                            .dilation_w = v[5], .groups = v[6]};
}

// A workspace of `bytes` (at least one byte, so that data is never NULL when asked for).
static ds_tensor workspace(size_t bytes) {
    return ds_tensor_cpu1(calloc(bytes ? bytes : 1, 1), DS_U8, (int64_t)(bytes ? bytes : 1));
}

static size_t ws_bytes(ds_test *t, ds_context *ctx, const ds_tensor *x, const ds_tensor *w, ds_conv2d_geom g) {
    size_t bytes = 0;
    ds_conv2d_workspace_args q = {.x = *x, .w = *w, .geom = g, .bytes = &bytes};
    // The query works on shapes alone.
    q.x.data = NULL;
    q.w.data = NULL;
    ds_test_check(t, ds_conv2d_workspace_size(ctx, &q) == DS_OK, "workspace query: %s", ctx->err.msg);
    return bytes;
}

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    const ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), w = ds_op_fixture_get(t, f, k, "w", DS_F32);
    const ds_tensor y_want = ds_op_fixture_get(t, f, k, "y", DS_F32), dy = ds_op_fixture_get(t, f, k, "dy", DS_F32);
    const ds_tensor dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    const ds_tensor dw_want = ds_op_fixture_get(t, f, k, "dw", DS_F32);
    const bool has_b = ds_op_fixture_has(f, k, "b");
    const ds_tensor b = has_b ? ds_op_fixture_get(t, f, k, "b", DS_F32) : (ds_tensor){0};
    const ds_tensor db_want = has_b ? ds_op_fixture_get(t, f, k, "db", DS_F32) : (ds_tensor){0};
    const ds_conv2d_geom g = geom_of(t, f, k);
    if (!x.data || !w.data || !y_want.data || !dy.data || !dx_want.data || !dw_want.data) return;
    char what[96];
    const size_t bytes = ws_bytes(t, ctx, &x, &w, g);
    ds_tensor ws = workspace(bytes);

    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32);
    ds_test_fill_nan(&y);  // must be overwritten, also where there is no bias
    ds_conv2d_fwd_args fa = {.x = x, .w = w, .b = b, .y = y, .workspace = ws, .geom = g};
    if (ds_test_check(t, ds_conv2d_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y", k);
        ds_test_close(t, what, &y, &y_want, TOL);
    }

    ds_tensor dx = ds_test_zeros_like(&dx_want, DS_F32), dw = ds_test_zeros_like(&dw_want, DS_F32);
    ds_tensor db = has_b ? ds_test_zeros_like(&db_want, DS_F32) : (ds_tensor){0};
    ds_test_fill_nan(&dx), ds_test_fill_nan(&dw);
    if (has_b) ds_test_fill_nan(&db);
    ds_conv2d_bwd_args ba = {.x = x, .w = w, .dy = dy, .dx = dx, .dw = dw, .db = db, .workspace = ws, .geom = g};
    if (ds_test_check(t, ds_conv2d_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
        snprintf(what, sizeof what, "case%d dw", k);
        ds_test_close(t, what, &dw, &dw_want, TOL);
        if (has_b) {
            snprintf(what, sizeof what, "case%d db", k);
            ds_test_close(t, what, &db, &db_want, TOL);
        }
    }
    // accumulate: dw and db add a second copy; dx absent (a first layer) is skipped.
    ba.accumulate = true;
    ba.dx = (ds_tensor){0};
    ds_tensor dw2 = ds_test_scaled_copy(&dw_want, 2);
    ds_tensor db2 = has_b ? ds_test_scaled_copy(&db_want, 2) : (ds_tensor){0};
    if (ds_test_check(t, ds_conv2d_backward(ctx, &ba) == DS_OK, "case%d backward (accumulate): %s", k,
                      ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dw accumulated twice", k);
        ds_test_close(t, what, &dw, &dw2, TOL);
        if (has_b) {
            snprintf(what, sizeof what, "case%d db accumulated twice", k);
            ds_test_close(t, what, &db, &db2, TOL);
        }
    }
    // dw absent (a frozen weight): dx alone.
    ds_test_fill_nan(&dx);
    ds_conv2d_bwd_args only_dx = {.x = x, .w = w, .dy = dy, .dx = dx, .workspace = ws, .geom = g};
    if (ds_test_check(t, ds_conv2d_backward(ctx, &only_dx) == DS_OK, "case%d backward (dx only): %s", k,
                      ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx without dw", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
    }
    free(y.data), free(dx.data), free(dw.data), free(db.data), free(dw2.data), free(db2.data), free(ws.data);
}

// Outputs of one forward+backward of a fixed problem (geometry g) under `threads` threads with
// a workspace of `slots` column slots (0: what the query asks for).
typedef struct outputs {
    float *y, *dx, *dw, *db;
} outputs;

enum { TN = 4, TH = 13, TW = 11 };
static ds_status run_threads(ds_context *ctx, int threads, ds_conv2d_geom g, int64_t TC, int64_t TK, int64_t R,
                             int64_t S, bool one_slot, const float *x, const float *w, const float *b, const float *dy,
                             outputs *o) {
    // one_slot: the workspace the query asks for under 1 thread (one slot), used under `threads`.
    omp_set_num_threads(one_slot ? 1 : threads);
    const int G = g.groups ? g.groups : 1;
    const int64_t P = ds_conv_out_size(TH, (int)R, g.stride_h, g.pad_h, g.dilation_h);
    const int64_t Q = ds_conv_out_size(TW, (int)S, g.stride_w, g.pad_w, g.dilation_w);
    const ds_tensor tx = ds_tensor_cpu4((void *)x, DS_F32, TN, TC, TH, TW);
    const ds_tensor tw = ds_tensor_cpu4((void *)w, DS_F32, TK, TC / G, R, S);
    size_t bytes = 0;
    ds_conv2d_workspace_args q = {.x = tx, .w = tw, .geom = g, .bytes = &bytes};
    ds_status s = ds_conv2d_workspace_size(ctx, &q);
    if (s != DS_OK) return s;
    omp_set_num_threads(threads);
    ds_tensor ws = workspace(bytes);
    ds_conv2d_fwd_args fa = {.x = tx, .w = tw, .b = ds_tensor_cpu1((void *)b, DS_F32, TK),
                             .y = ds_tensor_cpu4(o->y, DS_F32, TN, TK, P, Q), .workspace = ws, .geom = g};
    s = ds_conv2d_forward(ctx, &fa);
    ds_conv2d_bwd_args ba = {.x = tx, .w = tw, .dy = ds_tensor_cpu4((void *)dy, DS_F32, TN, TK, P, Q),
                             .dx = ds_tensor_cpu4(o->dx, DS_F32, TN, TC, TH, TW),
                             .dw = ds_tensor_cpu4(o->dw, DS_F32, TK, TC / G, R, S),
                             .db = ds_tensor_cpu1(o->db, DS_F32, TK), .workspace = ws, .geom = g};
    if (s == DS_OK) s = ds_conv2d_backward(ctx, &ba);
    free(ws.data);
    return s;
}

static bool same(const outputs *a, const outputs *b, size_t ny, size_t nx, size_t nw, size_t nb) {
    return memcmp(a->y, b->y, ny * 4) == 0 && memcmp(a->dx, b->dx, nx * 4) == 0 && memcmp(a->dw, b->dw, nw * 4) == 0 &&
           memcmp(a->db, b->db, nb * 4) == 0;
}

// 1 thread (units in turn, OpenBLAS on one thread), 2 threads (images in parallel, or one at a
// time with OpenBLAS threaded), and a one-slot workspace (never parallel over units) give the
// same bits. Covers the column path and the direct 1x1 path, with and without groups, and the
// tap-wise path (dw's (group, tap) tasks in parallel under 2 threads, in turn with one slot).
static void check_thread_independence(ds_test *t, ds_context *ctx) {
    const struct {
        const char *name;
        ds_conv2d_geom g;
        int64_t C, K, R, S;
    } shapes[] = {
        {"3x3 stride 2 dilation 2", {.stride_h = 2, .stride_w = 2, .pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 2}, 8, 12, 3, 3},
        {"1x1 direct", {0}, 8, 12, 1, 1},
        {"3x3 groups 4", {.pad_h = 1, .pad_w = 1, .groups = 4}, 8, 12, 3, 3},
        {"1x3 groups 2 (conv1d-like)", {.pad_w = 1, .groups = 2, .stride_w = 2}, 8, 12, 1, 3},
        {"3x3 dilation 5 groups 2 (tap-wise)", {.pad_h = 5, .pad_w = 5, .dilation_h = 5, .dilation_w = 5, .groups = 2}, 32, 32, 3, 3},
        {"3x3 dilation 13 (tap-wise, centre tap only)", {.pad_h = 13, .pad_w = 13, .dilation_h = 13, .dilation_w = 13}, 16, 24, 3, 3},
    };
    const int threads = omp_get_max_threads();
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const ds_conv2d_geom g = shapes[i].g;
        const int G = g.groups ? g.groups : 1;
        const int64_t R = shapes[i].R, S = shapes[i].S, TC = shapes[i].C, TK = shapes[i].K;
        const int64_t P = ds_conv_out_size(TH, (int)R, g.stride_h ? g.stride_h : 1, g.pad_h, g.dilation_h ? g.dilation_h : 1);
        const int64_t Q = ds_conv_out_size(TW, (int)S, g.stride_w ? g.stride_w : 1, g.pad_w, g.dilation_w ? g.dilation_w : 1);
        const size_t nx = TN * TC * TH * TW, nw = (size_t)(TK * TC / G * R * S), ny = (size_t)(TN * TK * P * Q);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(TK * 4), *dy = malloc(ny * 4);
        ds_fill_uniform_f32(x, nx, 61 + i), ds_fill_uniform_f32(w, nw, 62 + i), ds_fill_uniform_f32(b, TK, 63 + i);
        ds_fill_uniform_f32(dy, ny, 64 + i);
        outputs o[3];
        ds_status s[3];
        for (int r = 0; r < 3; r++) {
            o[r] = (outputs){malloc(ny * 4), malloc(nx * 4), malloc(nw * 4), malloc(TK * 4)};
            // Fixed geometry defaults for the run: 0 fields stand for 1.
            ds_conv2d_geom gg = g;
            gg.stride_h = g.stride_h ? g.stride_h : 1, gg.stride_w = g.stride_w ? g.stride_w : 1;
            gg.dilation_h = g.dilation_h ? g.dilation_h : 1, gg.dilation_w = g.dilation_w ? g.dilation_w : 1;
            s[r] = run_threads(ctx, r == 0 ? 1 : 2, gg, TC, TK, R, S, r == 2, x, w, b, dy, &o[r]);
        }
        ds_test_check(t, s[0] == DS_OK && s[1] == DS_OK && s[2] == DS_OK, "%s: a run failed: %s", shapes[i].name,
                      ctx->err.msg);
        ds_test_check(t, same(&o[0], &o[1], ny, nx, nw, TK), "%s: 1 and 2 threads differ", shapes[i].name);
        ds_test_check(t, same(&o[0], &o[2], ny, nx, nw, TK), "%s: a one-slot workspace changes the result",
                      shapes[i].name);
        for (int r = 0; r < 3; r++) free(o[r].y), free(o[r].dx), free(o[r].dw), free(o[r].db);
        free(x), free(w), free(b), free(dy);
    }
    omp_set_num_threads(threads);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    float x[2 * 4 * 5 * 5] = {0}, w[6 * 4 * 3 * 3] = {0}, y[2 * 6 * 3 * 3] = {0}, ws[4 * 9 * 9 * 2] = {0};
    const ds_conv2d_fwd_args ok = {.x = ds_tensor_cpu4(x, DS_F32, 2, 4, 5, 5), .w = ds_tensor_cpu4(w, DS_F32, 6, 4, 3, 3),
                                   .y = ds_tensor_cpu4(y, DS_F32, 2, 6, 3, 3),
                                   .workspace = ds_tensor_cpu1(ws, DS_F32, 4 * 9 * 9 * 2)};
    ds_conv2d_fwd_args a = ok;
    ds_test_check(t, ds_conv2d_forward(ctx, &a) == DS_OK, "valid 3x3 conv failed: %s", ctx->err.msg);
    a.w = ds_tensor_cpu4(w, DS_F32, 6, 3, 3, 3);
    ds_test_error(t, "w with 3 input channels for x with 4", &ctx->err, ds_conv2d_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "conv2d_forward: w");
    a = ok;
    a.geom.groups = 4;  // w must then be (6, 1, 3, 3), and 6 is no multiple of 4
    ds_test_error(t, "groups 4 with 6 output channels", &ctx->err, ds_conv2d_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "groups 4");
    a = ok;
    a.y = ds_tensor_cpu4(y, DS_F32, 2, 6, 5, 5);
    ds_test_error(t, "y of the padded size without padding", &ctx->err, ds_conv2d_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "conv2d_forward: y");
    a = ok;
    a.geom.dilation_h = 3;  // dilated kernel spans 7 rows of a 5-row input
    ds_test_error(t, "dilated kernel larger than the input", &ctx->err, ds_conv2d_forward(ctx, &a),
                  DS_ERR_INVALID_ARG, "smaller than the dilated kernel");
    a = ok;
    a.geom.pad_w = -1;
    ds_test_error(t, "negative padding", &ctx->err, ds_conv2d_forward(ctx, &a), DS_ERR_INVALID_ARG, "paddings >= 0");
    a = ok;
    a.workspace = ds_tensor_cpu1(ws, DS_F32, 10);
    ds_test_error(t, "a workspace below one column slot", &ctx->err, ds_conv2d_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "workspace");
    a = ok;
    a.workspace = (ds_tensor){0};
    ds_test_error(t, "no workspace for a 3x3 conv", &ctx->err, ds_conv2d_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "workspace");
    // A 1x1 stride-1 unpadded conv needs no workspace at all.
    float w1[6 * 4] = {0}, y1[2 * 6 * 25] = {0};
    size_t bytes = 99;
    ds_conv2d_workspace_args q = {.x = ok.x, .w = ds_tensor_cpu4(w1, DS_F32, 6, 4, 1, 1), .bytes = &bytes};
    ds_test_check(t, ds_conv2d_workspace_size(ctx, &q) == DS_OK && bytes == 0,
                  "a 1x1 direct conv asks for %zu workspace bytes (want 0)", bytes);
    ds_conv2d_fwd_args d = {.x = ok.x, .w = q.w, .y = ds_tensor_cpu4(y1, DS_F32, 2, 6, 5, 5)};
    ds_test_check(t, ds_conv2d_forward(ctx, &d) == DS_OK, "1x1 conv without workspace failed: %s", ctx->err.msg);
    double xd[2 * 4 * 5 * 5] = {0};
    a = ok;
    a.x = ds_tensor_cpu4(xd, DS_F64, 2, 4, 5, 5);
    ds_test_error(t, "F64 x with F32 w", &ctx->err, ds_conv2d_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "conv2d_forward: w");
}

// ds_conv_valid_pairs against counting every (output, tap) pair whose input lies inside, over
// small sizes, kernels, strides, paddings and dilations (including taps entirely in the padding).
static void check_valid_pairs(ds_test *t) {
    int bad = 0;
    for (int in = 1; in <= 12; in++)
        for (int k = 1; k <= 4; k++)
            for (int st = 1; st <= 3; st++)
                for (int pad = 0; pad <= 6; pad++)
                    for (int dil = 1; dil <= 5; dil++) {
                        const int64_t out = ds_conv_out_size(in, k, st, pad, dil);
                        int64_t want = 0;
                        for (int64_t p = 0; p < out; p++)
                            for (int r = 0; r < k; r++) {
                                const int64_t i = p * st - pad + (int64_t)r * dil;
                                want += i >= 0 && i < in;
                            }
                        const int64_t got = ds_conv_valid_pairs(in, k, st, pad, dil);
                        if (got != want && bad++ < 5)
                            ds_test_check(t, false, "valid pairs (in %d, k %d, stride %d, pad %d, dil %d): %lld, counted %lld",
                                          in, k, st, pad, dil, (long long)got, (long long)want);
                    }
    ds_test_check(t, bad == 0, "ds_conv_valid_pairs wrong in %d cases", bad);
}

int main(void) {
    ds_test t = ds_test_begin("op_conv2d");
    check_valid_pairs(&t);
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "conv2d")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 17, "conv2d fixture holds %d cases, expected at least 17", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_thread_independence(&t, &ctx);
    check_errors(&t, &ctx);
    return ds_test_finish(&t);
}
