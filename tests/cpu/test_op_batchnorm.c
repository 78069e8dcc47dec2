// The split batch-norm ops (stats, finalize, apply, backward reduce, backward apply) against
// torch golden data (tests/fixtures/ops/batchnorm.safetensors, from scripts/fixtures/ops_vision.py:
// F.batch_norm in training and eval mode with autograd, aten.native_batch_norm's saved statistics,
// and the running statistics torch leaves), plus the SyncBN contract (two halves of a batch with
// their buffers summed give the full batch's results), accumulate, errors and thread independence.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// Our per-channel sums are in double and rounded once; torch's CPU kernel also accumulates in
// double (at::acc_type of float on the CPU) but in another order and applies the normalisation
// with fused float constants. Results agree to ~1e-7 relative (a few float ulps); 1e-5 leaves a
// wide margin while a biased/unbiased mix-up (n/(n-1) >= 1.5% here) or a missing mean term in
// dx errs by orders of magnitude more.
#define TOL 1e-5

typedef struct bn_case {
    ds_tensor x, gamma, beta, dy;
    int64_t N, C, H, W;
} bn_case;

static ds_tensor vecf(float *p, int64_t c) { return ds_tensor_cpu1(p, DS_F32, c); }
static ds_tensor vecd(double *p, int64_t c) { return ds_tensor_cpu1(p, DS_F64, c); }

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    const ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), gamma = ds_op_fixture_get(t, f, k, "gamma", DS_F32);
    const ds_tensor beta = ds_op_fixture_get(t, f, k, "beta", DS_F32), dy = ds_op_fixture_get(t, f, k, "dy", DS_F32);
    const ds_tensor rm0 = ds_op_fixture_get(t, f, k, "running_mean0", DS_F32);
    const ds_tensor rv0 = ds_op_fixture_get(t, f, k, "running_var0", DS_F32);
    const ds_tensor hp = ds_op_fixture_get(t, f, k, "hparams", DS_F64);
    const ds_tensor y_want = ds_op_fixture_get(t, f, k, "y", DS_F32), dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    const ds_tensor rm_want = ds_op_fixture_get(t, f, k, "running_mean", DS_F32);
    const ds_tensor rv_want = ds_op_fixture_get(t, f, k, "running_var", DS_F32);
    const ds_tensor dg_want = ds_op_fixture_get(t, f, k, "dgamma", DS_F32);
    const ds_tensor db_want = ds_op_fixture_get(t, f, k, "dbeta", DS_F32);
    if (!x.data || !gamma.data || !beta.data || !dy.data || !rm0.data || !rv0.data || !hp.data || !y_want.data ||
        !dx_want.data || !rm_want.data || !rv_want.data || !dg_want.data || !db_want.data)
        return;
    const double *h = hp.data;
    const double eps = h[0], momentum = h[1];
    const bool training = h[2] != 0;
    const int64_t C = x.shape[1];
    char what[96];
    float *mean = calloc((size_t)C, 4), *rstd = calloc((size_t)C, 4), *rm = malloc((size_t)C * 4);
    float *rv = malloc((size_t)C * 4);
    double *stats = calloc((size_t)(2 * C + 1), 8), *sums = calloc((size_t)(2 * C + 1), 8);
    memcpy(rm, rm0.data, (size_t)C * 4), memcpy(rv, rv0.data, (size_t)C * 4);
    int64_t nbt = 7;
    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), dx = ds_test_zeros_like(&dx_want, DS_F32);
    ds_tensor dg = ds_test_zeros_like(&dg_want, DS_F32), db = ds_test_zeros_like(&db_want, DS_F32);
    ds_test_fill_nan(&y), ds_test_fill_nan(&dx), ds_test_fill_nan(&dg), ds_test_fill_nan(&db);

    ds_bn_stats_args sa = {.x = x, .stats = vecd(stats, 2 * C + 1)};
    ds_bn_finalize_args fa = {.stats = sa.stats, .mean = vecf(mean, C), .rstd = vecf(rstd, C),
                              .running_mean = vecf(rm, C), .running_var = vecf(rv, C),
                              .num_batches_tracked = ds_tensor_cpu1(&nbt, DS_I64, 1), .eps = eps,
                              .momentum = momentum, .use_running = !training};
    if (!training) fa.stats = (ds_tensor){0};
    ds_status s = training ? ds_bn_stats(ctx, &sa) : DS_OK;
    if (s == DS_OK) s = ds_bn_finalize(ctx, &fa);
    ds_bn_apply_args aa = {.x = x, .mean = fa.mean, .rstd = fa.rstd, .gamma = gamma, .beta = beta, .y = y};
    if (s == DS_OK) s = ds_bn_apply(ctx, &aa);
    if (ds_test_check(t, s == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y", k);
        ds_test_close(t, what, &y, &y_want, TOL);
        snprintf(what, sizeof what, "case%d running_mean", k);
        ds_test_close(t, what, &fa.running_mean, &rm_want, TOL);
        snprintf(what, sizeof what, "case%d running_var", k);
        ds_test_close(t, what, &fa.running_var, &rv_want, TOL);
        ds_test_check(t, nbt == (training ? 8 : 7), "case%d num_batches_tracked %lld, want %d", k, (long long)nbt,
                      training ? 8 : 7);
        if (training) {
            const ds_tensor mw = ds_op_fixture_get(t, f, k, "mean", DS_F32);
            const ds_tensor iw = ds_op_fixture_get(t, f, k, "invstd", DS_F32);
            snprintf(what, sizeof what, "case%d mean", k);
            if (mw.data) ds_test_close(t, what, &fa.mean, &mw, TOL);
            snprintf(what, sizeof what, "case%d rstd", k);
            if (iw.data) ds_test_close(t, what, &fa.rstd, &iw, TOL);
            ds_test_check(t, stats[2 * C] == (double)(x.shape[0] * x.shape[2] * x.shape[3]),
                          "case%d stats count %g", k, stats[2 * C]);
        }
    }

    ds_bn_bwd_reduce_args ra = {.x = x, .mean = fa.mean, .rstd = fa.rstd, .dy = dy,
                                .sums = training ? vecd(sums, 2 * C + 1) : (ds_tensor){0}, .dgamma = dg, .dbeta = db};
    ds_bn_bwd_apply_args pa = {.x = x, .mean = fa.mean, .rstd = fa.rstd, .gamma = gamma, .dy = dy, .sums = ra.sums,
                               .dx = dx};
    s = ds_bn_backward_reduce(ctx, &ra);
    if (s == DS_OK) s = ds_bn_backward_apply(ctx, &pa);
    if (ds_test_check(t, s == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
        snprintf(what, sizeof what, "case%d dgamma", k);
        ds_test_close(t, what, &dg, &dg_want, TOL);
        snprintf(what, sizeof what, "case%d dbeta", k);
        ds_test_close(t, what, &db, &db_want, TOL);
    }
    // accumulate: dgamma/dbeta add a second copy.
    ra.accumulate = true;
    ds_tensor dg2 = ds_test_scaled_copy(&dg_want, 2), db2 = ds_test_scaled_copy(&db_want, 2);
    if (ds_test_check(t, ds_bn_backward_reduce(ctx, &ra) == DS_OK, "case%d reduce (accumulate): %s", k,
                      ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dgamma accumulated twice", k);
        ds_test_close(t, what, &dg, &dg2, TOL);
        snprintf(what, sizeof what, "case%d dbeta accumulated twice", k);
        ds_test_close(t, what, &db, &db2, TOL);
    }
    // In place: dx written over a copy of dy.
    ds_tensor dyc = ds_test_scaled_copy(&dy, 1);
    pa.dy = dyc, pa.dx = dyc;
    if (ds_test_check(t, ds_bn_backward_apply(ctx, &pa) == DS_OK, "case%d in-place apply: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx in place", k);
        ds_test_close(t, what, &dyc, &dx_want, TOL);
    }
    free(mean), free(rstd), free(rm), free(rv), free(stats), free(sums), free(y.data), free(dx.data), free(dg.data);
    free(db.data), free(dg2.data), free(db2.data), free(dyc.data);
}

// SyncBN: the two halves (images [0, N/2) and [N/2, N)) of a batch, each with its own stats and
// sums buffers summed as an all-reduce would, give the same mean/rstd, y, dx as the whole batch,
// and their dgamma/dbeta add up to the whole batch's.
static void check_sync(ds_test *t, ds_context *ctx) {
    enum { N = 4, C = 3, H = 5, W = 6, HALF = N / 2 * C * H * W };
    float x[N * C * H * W], dy[N * C * H * W], g[C], b[C];
    ds_fill_uniform_f32(x, N * C * H * W, 71), ds_fill_uniform_f32(dy, N * C * H * W, 72);
    ds_fill_uniform_f32(g, C, 73), ds_fill_uniform_f32(b, C, 74);
    for (int i = 0; i < N * C * H * W; i++) x[i] = 2 + 3 * x[i];
    // Whole batch.
    float mean[C], rstd[C], y[N * C * H * W], dx[N * C * H * W], dg[C], dbeta[C];
    double st[2 * C + 1], sm[2 * C + 1];
    ds_bn_stats_args sa = {.x = ds_tensor_cpu4(x, DS_F32, N, C, H, W), .stats = vecd(st, 2 * C + 1)};
    ds_bn_finalize_args fa = {.stats = sa.stats, .mean = vecf(mean, C), .rstd = vecf(rstd, C), .eps = 1e-5};
    ds_bn_apply_args aa = {.x = sa.x, .mean = fa.mean, .rstd = fa.rstd, .gamma = vecf(g, C), .beta = vecf(b, C),
                           .y = ds_tensor_cpu4(y, DS_F32, N, C, H, W)};
    ds_bn_bwd_reduce_args ra = {.x = sa.x, .mean = fa.mean, .rstd = fa.rstd,
                                .dy = ds_tensor_cpu4(dy, DS_F32, N, C, H, W), .sums = vecd(sm, 2 * C + 1),
                                .dgamma = vecf(dg, C), .dbeta = vecf(dbeta, C)};
    ds_bn_bwd_apply_args pa = {.x = sa.x, .mean = fa.mean, .rstd = fa.rstd, .gamma = aa.gamma, .dy = ra.dy,
                               .sums = ra.sums, .dx = ds_tensor_cpu4(dx, DS_F32, N, C, H, W)};
    ds_status s = ds_bn_stats(ctx, &sa);
    if (s == DS_OK) s = ds_bn_finalize(ctx, &fa);
    if (s == DS_OK) s = ds_bn_apply(ctx, &aa);
    if (s == DS_OK) s = ds_bn_backward_reduce(ctx, &ra);
    if (s == DS_OK) s = ds_bn_backward_apply(ctx, &pa);
    if (!ds_test_check(t, s == DS_OK, "sync whole batch: %s", ctx->err.msg)) return;
    // Halves.
    float hmean[2][C], hrstd[2][C], hy[N * C * H * W], hdx[N * C * H * W], hdg[2][C], hdb[2][C];
    double hst[2][2 * C + 1], hsm[2][2 * C + 1], red[2 * C + 1];
    for (int r = 0; r < 2; r++) {
        ds_bn_stats_args s2 = {.x = ds_tensor_cpu4(x + r * HALF, DS_F32, N / 2, C, H, W), .stats = vecd(hst[r], 2 * C + 1)};
        if (s == DS_OK) s = ds_bn_stats(ctx, &s2);
    }
    for (int i = 0; i < 2 * C + 1; i++) red[i] = hst[0][i] + hst[1][i];  // the all-reduce
    for (int r = 0; r < 2 && s == DS_OK; r++) {
        ds_bn_finalize_args f2 = {.stats = vecd(red, 2 * C + 1), .mean = vecf(hmean[r], C), .rstd = vecf(hrstd[r], C),
                                  .eps = 1e-5};
        ds_bn_apply_args a2 = {.x = ds_tensor_cpu4(x + r * HALF, DS_F32, N / 2, C, H, W), .mean = f2.mean,
                               .rstd = f2.rstd, .gamma = vecf(g, C), .beta = vecf(b, C),
                               .y = ds_tensor_cpu4(hy + r * HALF, DS_F32, N / 2, C, H, W)};
        ds_bn_bwd_reduce_args r2 = {.x = a2.x, .mean = f2.mean, .rstd = f2.rstd,
                                    .dy = ds_tensor_cpu4(dy + r * HALF, DS_F32, N / 2, C, H, W),
                                    .sums = vecd(hsm[r], 2 * C + 1), .dgamma = vecf(hdg[r], C), .dbeta = vecf(hdb[r], C)};
        s = ds_bn_finalize(ctx, &f2);
        if (s == DS_OK) s = ds_bn_apply(ctx, &a2);
        if (s == DS_OK) s = ds_bn_backward_reduce(ctx, &r2);
    }
    for (int i = 0; i < 2 * C + 1; i++) red[i] = hsm[0][i] + hsm[1][i];
    for (int r = 0; r < 2 && s == DS_OK; r++) {
        ds_bn_bwd_apply_args p2 = {.x = ds_tensor_cpu4(x + r * HALF, DS_F32, N / 2, C, H, W), .mean = vecf(hmean[r], C),
                                   .rstd = vecf(hrstd[r], C), .gamma = vecf(g, C),
                                   .dy = ds_tensor_cpu4(dy + r * HALF, DS_F32, N / 2, C, H, W),
                                   .sums = vecd(red, 2 * C + 1),
                                   .dx = ds_tensor_cpu4(hdx + r * HALF, DS_F32, N / 2, C, H, W)};
        s = ds_bn_backward_apply(ctx, &p2);
    }
    if (!ds_test_check(t, s == DS_OK, "sync halves: %s", ctx->err.msg)) return;
    float dgsum[C], dbsum[C];
    for (int c = 0; c < C; c++) dgsum[c] = hdg[0][c] + hdg[1][c], dbsum[c] = hdb[0][c] + hdb[1][c];
    // The halves' sums are the same numbers added in another grouping: ~1e-16 relative in double,
    // then one float rounding; 1e-6 is far below any formula error.
    const ds_tensor ty = ds_tensor_cpu1(y, DS_F32, N * C * H * W), thy = ds_tensor_cpu1(hy, DS_F32, N * C * H * W);
    const ds_tensor tdx = ds_tensor_cpu1(dx, DS_F32, N * C * H * W), thdx = ds_tensor_cpu1(hdx, DS_F32, N * C * H * W);
    const ds_tensor tm = vecf(mean, C), thm = vecf(hmean[1], C), tdg = vecf(dg, C), tdgs = vecf(dgsum, C);
    const ds_tensor tdb = vecf(dbeta, C), tdbs = vecf(dbsum, C);
    ds_test_close(t, "sync y", &thy, &ty, 1e-6);
    ds_test_close(t, "sync mean", &thm, &tm, 1e-6);
    ds_test_close(t, "sync dx", &thdx, &tdx, 1e-6);
    ds_test_close(t, "sync dgamma (sum of the halves')", &tdgs, &tdg, 1e-6);
    ds_test_close(t, "sync dbeta (sum of the halves')", &tdbs, &tdb, 1e-6);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    enum { C = 3 };
    float x[1 * C] = {1, 2, 3}, m[C], r[C], rm[C] = {0}, rv[C] = {1, 1, 1};
    double st[2 * C + 1];
    ds_bn_stats_args sa = {.x = ds_tensor_cpu4(x, DS_F32, 1, C, 1, 1), .stats = vecd(st, 2 * C + 1)};
    ds_test_check(t, ds_bn_stats(ctx, &sa) == DS_OK, "stats of one value: %s", ctx->err.msg);
    ds_bn_finalize_args fa = {.stats = sa.stats, .mean = vecf(m, C), .rstd = vecf(r, C), .running_mean = vecf(rm, C),
                              .running_var = vecf(rv, C), .eps = 1e-5, .momentum = 0.1};
    ds_test_error(t, "training with one value per channel", &ctx->err, ds_bn_finalize(ctx, &fa), DS_ERR_INVALID_ARG,
                  "more than 1 value per channel");
    ds_test_check(t, rm[0] == 0 && rv[0] == 1, "a failed finalize changed the running statistics");
    fa.use_running = true;
    fa.running_var = (ds_tensor){0};
    ds_test_error(t, "eval without running_var", &ctx->err, ds_bn_finalize(ctx, &fa), DS_ERR_INVALID_ARG,
                  "use_running needs");
    ds_bn_stats_args bad = sa;
    bad.stats = vecd(st, 2 * C);
    ds_test_error(t, "stats buffer of 2C", &ctx->err, ds_bn_stats(ctx, &bad), DS_ERR_INVALID_ARG, "bn_stats: stats");
    ds_bn_bwd_reduce_args ra = {.x = sa.x, .mean = vecf(m, C), .rstd = vecf(r, C), .dy = sa.x, .dgamma = vecf(m, C)};
    ds_test_error(t, "dgamma without dbeta", &ctx->err, ds_bn_backward_reduce(ctx, &ra), DS_ERR_INVALID_ARG,
                  "both present");
}

// Each channel is one thread's fixed-order double sum: 1 and 2 threads give the same bits.
static void check_thread_independence(ds_test *t, ds_context *ctx) {
    enum { N = 3, C = 5, H = 17, W = 19, NE = N * C * H * W };
    float *x = malloc(NE * 4), *dy = malloc(NE * 4), g[C], m[C], r[C], dg[2][C], db[2][C];
    double st[2][2 * C + 1], sm[2][2 * C + 1];
    ds_fill_uniform_f32(x, NE, 81), ds_fill_uniform_f32(dy, NE, 82), ds_fill_uniform_f32(g, C, 83);
    const int threads = omp_get_max_threads();
    ds_status s = DS_OK;
    for (int i = 0; i < 2 && s == DS_OK; i++) {
        omp_set_num_threads(i + 1);
        ds_bn_stats_args sa = {.x = ds_tensor_cpu4(x, DS_F32, N, C, H, W), .stats = vecd(st[i], 2 * C + 1)};
        ds_bn_finalize_args fa = {.stats = sa.stats, .mean = vecf(m, C), .rstd = vecf(r, C), .eps = 1e-5};
        ds_bn_bwd_reduce_args ra = {.x = sa.x, .mean = fa.mean, .rstd = fa.rstd,
                                    .dy = ds_tensor_cpu4(dy, DS_F32, N, C, H, W), .sums = vecd(sm[i], 2 * C + 1),
                                    .dgamma = vecf(dg[i], C), .dbeta = vecf(db[i], C)};
        s = ds_bn_stats(ctx, &sa);
        if (s == DS_OK) s = ds_bn_finalize(ctx, &fa);
        if (s == DS_OK) s = ds_bn_backward_reduce(ctx, &ra);
    }
    omp_set_num_threads(threads);
    ds_test_check(t, s == DS_OK && memcmp(st[0], st[1], sizeof st[0]) == 0 && memcmp(sm[0], sm[1], sizeof sm[0]) == 0 &&
                         memcmp(dg[0], dg[1], sizeof dg[0]) == 0 && memcmp(db[0], db[1], sizeof db[0]) == 0,
                  "batch-norm sums differ between 1 and 2 threads (%s)", ctx->err.msg);
    free(x), free(dy);
}

int main(void) {
    ds_test t = ds_test_begin("op_batchnorm");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "batchnorm")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 5, "batchnorm fixture holds %d cases, expected at least 5", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_sync(&t, &ctx);
    check_errors(&t, &ctx);
    check_thread_independence(&t, &ctx);
    return ds_test_finish(&t);
}
