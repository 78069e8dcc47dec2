// group_norm against torch (tests/fixtures/ops/group_norm.safetensors, from
// scripts/fixtures/ops_speech.py: F.group_norm with autograd in float32 and aten.native_group_norm's
// mean/rstd; several channels per group, one group per channel over time as wav2vec2's
// GroupNorm(512, 512), a 4-D input, a single group), finite differences in F64, and the errors.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// Statistics in double against torch's float accumulation over up to 150 elements of an input
// with mean 3: a few ulp; dgamma/dbeta sum over up to 150 terms: ~1e-6 relative. 1e-5 leaves a
// margin while a one-pass variance, a wrong group layout or a missing term misses by >= 1e-3.
#define TOL 1e-5

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), gamma = ds_op_fixture_get(t, f, k, "gamma", DS_F32);
    ds_tensor beta = ds_op_fixture_get(t, f, k, "beta", DS_F32), y_want = ds_op_fixture_get(t, f, k, "y", DS_F32);
    ds_tensor mean_want = ds_op_fixture_get(t, f, k, "mean", DS_F32), rstd_want = ds_op_fixture_get(t, f, k, "rstd", DS_F32);
    ds_tensor dy = ds_op_fixture_get(t, f, k, "dy", DS_F32), dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    ds_tensor dg_want = ds_op_fixture_get(t, f, k, "dgamma", DS_F32), db_want = ds_op_fixture_get(t, f, k, "dbeta", DS_F32);
    const int groups = (int)ds_op_fixture_scalar(t, f, k, "groups");
    const double eps = ds_op_fixture_scalar(t, f, k, "eps");
    if (!x.data || !gamma.data || !beta.data || !y_want.data || !mean_want.data || !rstd_want.data || !dy.data ||
        !dx_want.data || !dg_want.data || !db_want.data)
        return;
    char what[64];
    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), mean = ds_test_zeros_like(&mean_want, DS_F32);
    ds_tensor rstd = ds_test_zeros_like(&rstd_want, DS_F32), dx = ds_test_zeros_like(&dx_want, DS_F32);
    ds_tensor dg = ds_test_zeros_like(&dg_want, DS_F32), db = ds_test_zeros_like(&db_want, DS_F32);
    ds_groupnorm_fwd_args fa = {.x = x, .gamma = gamma, .beta = beta, .y = y, .mean = mean, .rstd = rstd,
                                .groups = groups, .eps = eps};
    if (ds_test_check(t, ds_groupnorm_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y (G=%d)", k, groups);
        ds_test_close(t, what, &y, &y_want, TOL);
        snprintf(what, sizeof what, "case%d mean", k);
        ds_test_close(t, what, &mean, &mean_want, TOL);
        snprintf(what, sizeof what, "case%d rstd", k);
        ds_test_close(t, what, &rstd, &rstd_want, TOL);
    }
    ds_test_fill_nan(&dg);  // accumulate = false must overwrite
    ds_groupnorm_bwd_args ba = {.x = x, .gamma = gamma, .mean = mean_want, .rstd = rstd_want, .dy = dy, .dx = dx,
                                .dgamma = dg, .dbeta = db, .groups = groups};
    if (ds_test_check(t, ds_groupnorm_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
        snprintf(what, sizeof what, "case%d dgamma", k);
        ds_test_close(t, what, &dg, &dg_want, TOL);
        snprintf(what, sizeof what, "case%d dbeta", k);
        ds_test_close(t, what, &db, &db_want, TOL);
        // accumulate adds onto what is there: twice the gradient.
        ba.accumulate = true;
        ds_tensor dg2 = ds_test_scaled_copy(&dg_want, 2.0f);
        if (ds_groupnorm_backward(ctx, &ba) == DS_OK) {
            snprintf(what, sizeof what, "case%d dgamma accumulated", k);
            ds_test_close(t, what, &dg, &dg2, TOL);
        }
        free(dg2.data);
    }
    free(y.data), free(mean.data), free(rstd.data), free(dx.data), free(dg.data), free(db.data);
}

enum { N = 2, C = 6, L = 5, G = 3, NCL = N * C * L };
typedef struct { ds_context *ctx; double *x, *gamma, *beta, *r; } fd_case;

static double fd_loss(void *user) {  // sum(group_norm(x) * r)
    fd_case *c = user;
    double y[NCL], mean[N * G], rstd[N * G], l = 0;
    ds_groupnorm_fwd_args a = {.x = ds_tensor_cpu3(c->x, DS_F64, N, C, L), .gamma = ds_tensor_cpu1(c->gamma, DS_F64, C),
                               .beta = ds_tensor_cpu1(c->beta, DS_F64, C), .y = ds_tensor_cpu3(y, DS_F64, N, C, L),
                               .mean = ds_tensor_cpu2(mean, DS_F64, N, G), .rstd = ds_tensor_cpu2(rstd, DS_F64, N, G),
                               .groups = G, .eps = 1e-5};
    if (ds_groupnorm_forward(c->ctx, &a) != DS_OK) return NAN;
    for (int i = 0; i < NCL; i++) l += y[i] * c->r[i];
    return l;
}

static void check_fd(ds_test *t, ds_context *ctx) {
    double x[NCL], gamma[C], beta[C], r[NCL], y[NCL], mean[N * G], rstd[N * G], dx[NCL], dg[C], db[C];
    ds_fill_uniform_f64(x, NCL, 41);
    ds_fill_uniform_f64(gamma, C, 42);
    ds_fill_uniform_f64(beta, C, 43);
    ds_fill_uniform_f64(r, NCL, 44);
    ds_groupnorm_fwd_args a = {.x = ds_tensor_cpu3(x, DS_F64, N, C, L), .gamma = ds_tensor_cpu1(gamma, DS_F64, C),
                               .beta = ds_tensor_cpu1(beta, DS_F64, C), .y = ds_tensor_cpu3(y, DS_F64, N, C, L),
                               .mean = ds_tensor_cpu2(mean, DS_F64, N, G), .rstd = ds_tensor_cpu2(rstd, DS_F64, N, G),
                               .groups = G, .eps = 1e-5};
    ds_groupnorm_bwd_args b = {.x = a.x, .gamma = a.gamma, .mean = a.mean, .rstd = a.rstd,
                               .dy = ds_tensor_cpu3(r, DS_F64, N, C, L), .dx = ds_tensor_cpu3(dx, DS_F64, N, C, L),
                               .dgamma = ds_tensor_cpu1(dg, DS_F64, C), .dbeta = ds_tensor_cpu1(db, DS_F64, C), .groups = G};
    if (!ds_test_check(t, ds_groupnorm_forward(ctx, &a) == DS_OK && ds_groupnorm_backward(ctx, &b) == DS_OK,
                       "group_norm F64: %s", ctx->err.msg))
        return;
    fd_case c = {ctx, x, gamma, beta, r};
    // Central differences in double, h = 1e-6: ~1e-9 relative error (gradcheck.h); 1e-6 is a wide margin.
    ds_gradcheck(t, "group_norm dx", x, dx, NCL, NCL, fd_loss, &c, 1e-6, 1e-6);
    ds_gradcheck(t, "group_norm dgamma", gamma, dg, C, C, fd_loss, &c, 1e-6, 1e-6);
    ds_gradcheck(t, "group_norm dbeta", beta, db, C, C, fd_loss, &c, 1e-6, 1e-6);
}

int main(void) {
    ds_test t = ds_test_begin("op_group_norm");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "group_norm")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 4, "group_norm fixture holds %d cases, expected at least 4", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_fd(&t, &ctx);
    float x[24] = {0}, g[6] = {0}, y[24], m[8], r[8];
    ds_groupnorm_fwd_args bad = {.x = ds_tensor_cpu3(x, DS_F32, 2, 6, 2), .gamma = ds_tensor_cpu1(g, DS_F32, 6),
                                 .beta = ds_tensor_cpu1(g, DS_F32, 6), .y = ds_tensor_cpu3(y, DS_F32, 2, 6, 2),
                                 .mean = ds_tensor_cpu2(m, DS_F32, 2, 4), .rstd = ds_tensor_cpu2(r, DS_F32, 2, 4),
                                 .groups = 4, .eps = 1e-5};
    ds_test_error(&t, "groups not dividing C", &ctx.err, ds_groupnorm_forward(&ctx, &bad), DS_ERR_INVALID_ARG,
                  "groups = 4");
    return ds_test_finish(&t);
}
