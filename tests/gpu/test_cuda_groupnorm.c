// CUDA group norm against the CPU op: (N, C, L) = (2, 6, 7) G = 3, (3, 512, 33) G = 512 (wav2vec2's
// feature-encoder norm, one group per channel), (1, 8, 1000) G = 2, L = 1, a 4-D x (2, 6, 3, 5)
// G = 2; x in [-2, 4) (a mean offset), eps 1e-5; F32 and BF16 activations (parameters and
// statistics F32); backward fed the CPU's mean/rstd, accumulate off (gradients poisoned) and on
// (random starting values); outputs poisoned; two runs bit-identical; errors (groups not dividing
// C, a BF16 gamma).
// Tolerances: F32 activations 1e-5 (fp32 rounding of the same double expressions; the sums run in
// another order, ~1e-15); BF16 activations 1e-2 (one bf16 rounding, 2^-9); mean, rstd 1e-5;
// dgamma, dbeta 1e-5 (double sums of the same products in another order, rounded once).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

typedef struct gn_case {
    int ndim;
    int64_t shape[4];
    int groups;
} gn_case;

static const gn_case k_cases[] = {
    {3, {2, 6, 7}, 3}, {3, {3, 512, 33}, 512}, {3, {1, 8, 1000}, 2}, {3, {2, 4, 1}, 1}, {4, {2, 6, 3, 5}, 2},
};

static void check_case(ds_test *t, ds_context *ctx, gn_case c, ds_dtype dt, bool acc, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    const int64_t C = c.shape[1], cs[1] = {C}, ng[2] = {c.shape[0], c.groups};
    ds_tensor x = ds_gpu_test_random_rounded(c.ndim, c.shape, seed, -2, 4, bf);
    ds_tensor dy = ds_gpu_test_random_rounded(c.ndim, c.shape, seed + 1, -1, 1, bf);
    ds_tensor gamma = ds_gpu_test_random(1, cs, seed + 2, 0.5f, 1.5f), beta = ds_gpu_test_random(1, cs, seed + 3, -1, 1);
    ds_tensor dg0 = ds_gpu_test_random(1, cs, seed + 4, -1, 1), db0 = ds_gpu_test_random(1, cs, seed + 5, -1, 1);
    ds_tensor y = ds_gpu_test_host_zeros_like(&x), mean = ds_gpu_test_host_zeros(2, ng), rstd = ds_gpu_test_host_zeros(2, ng);
    ds_tensor dx = ds_gpu_test_host_zeros_like(&x), dgm = ds_gpu_test_host_copy(&dg0), dbt = ds_gpu_test_host_copy(&db0);
    ds_groupnorm_fwd_args cf = {.x = x, .gamma = gamma, .beta = beta, .y = y, .mean = mean, .rstd = rstd,
                                .groups = c.groups, .eps = 1e-5};
    ds_test_check(t, ds_groupnorm_forward(ctx, &cf) == DS_OK, "cpu groupnorm forward: %s", ctx->err.msg);
    ds_groupnorm_bwd_args cb = {.x = x, .gamma = gamma, .mean = mean, .rstd = rstd, .dy = dy, .dx = dx, .dgamma = dgm,
                                .dbeta = dbt, .groups = c.groups, .accumulate = acc};
    ds_test_check(t, ds_groupnorm_backward(ctx, &cb) == DS_OK, "cpu groupnorm backward: %s", ctx->err.msg);

    char what[160], w2[220];
    snprintf(what, sizeof what, "groupnorm %lldx%lldx%lld%s G%d %s%s", (long long)c.shape[0], (long long)C,
             (long long)c.shape[2], c.ndim == 4 ? "x5" : "", c.groups, ds_dtype_name(dt), acc ? " accumulate" : "");
    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gdy = ds_gpu_test_upload(ctx, &dy, dt);
    ds_tensor gg = ds_gpu_test_upload(ctx, &gamma, DS_F32), gb = ds_gpu_test_upload(ctx, &beta, DS_F32);
    ds_tensor gmean = ds_gpu_test_upload(ctx, &mean, DS_F32), grstd = ds_gpu_test_upload(ctx, &rstd, DS_F32);
    ds_tensor gy[2], gm[2], gr[2], gdx[2], gdg[2], gdb[2];
    for (int run = 0; run < 2; run++) {
        gy[run] = ds_gpu_test_poisoned(ctx, &x, dt), gm[run] = ds_gpu_test_poisoned(ctx, &mean, DS_F32);
        gr[run] = ds_gpu_test_poisoned(ctx, &rstd, DS_F32), gdx[run] = ds_gpu_test_poisoned(ctx, &x, dt);
        gdg[run] = acc ? ds_gpu_test_upload(ctx, &dg0, DS_F32) : ds_gpu_test_poisoned(ctx, &dg0, DS_F32);
        gdb[run] = acc ? ds_gpu_test_upload(ctx, &db0, DS_F32) : ds_gpu_test_poisoned(ctx, &db0, DS_F32);
        ds_groupnorm_fwd_args f = {.x = gx, .gamma = gg, .beta = gb, .y = gy[run], .mean = gm[run], .rstd = gr[run],
                                   .groups = c.groups, .eps = 1e-5};
        ds_test_check(t, ds_groupnorm_forward(ctx, &f) == DS_OK, "%s forward: %s", what, ctx->err.msg);
        ds_groupnorm_bwd_args b = {.x = gx, .gamma = gg, .mean = gmean, .rstd = grstd, .dy = gdy, .dx = gdx[run],
                                   .dgamma = gdg[run], .dbeta = gdb[run], .groups = c.groups, .accumulate = acc};
        ds_test_check(t, ds_groupnorm_backward(ctx, &b) == DS_OK, "%s backward: %s", what, ctx->err.msg);
    }
    const double tol = bf ? 1e-2 : 1e-5;
    struct {
        const char *name;
        ds_tensor *g;
        ds_tensor *want;
        double tol;
    } outs[] = {{"y", gy, &y, tol},       {"mean", gm, &mean, 1e-5},     {"rstd", gr, &rstd, 1e-5},
                {"dx", gdx, &dx, tol},    {"dgamma", gdg, &dgm, 1e-5}, {"dbeta", gdb, &dbt, 1e-5}};
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
        snprintf(w2, sizeof w2, "%s %s", what, outs[k].name);
        ds_gpu_test_expect_close(t, ctx, w2, &outs[k].g[0], outs[k].want, outs[k].tol);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &outs[k].g[0], &outs[k].g[1]);
    }
    for (int run = 0; run < 2; run++) {
        ds_gpu_test_free(ctx, &gy[run]), ds_gpu_test_free(ctx, &gm[run]), ds_gpu_test_free(ctx, &gr[run]);
        ds_gpu_test_free(ctx, &gdx[run]), ds_gpu_test_free(ctx, &gdg[run]), ds_gpu_test_free(ctx, &gdb[run]);
    }
    ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gdy), ds_gpu_test_free(ctx, &gg), ds_gpu_test_free(ctx, &gb);
    ds_gpu_test_free(ctx, &gmean), ds_gpu_test_free(ctx, &grstd);
    free(x.data), free(dy.data), free(gamma.data), free(beta.data), free(dg0.data), free(db0.data), free(y.data);
    free(mean.data), free(rstd.data), free(dx.data), free(dgm.data), free(dbt.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t xs[3] = {2, 6, 5}, cs[1] = {6}, ng[2] = {2, 4};
    ds_tensor hx = ds_gpu_test_random(3, xs, 1, -1, 1), hg = ds_gpu_test_random(1, cs, 2, 0.5f, 1);
    ds_tensor hm = ds_gpu_test_host_zeros(2, ng);
    ds_tensor x = ds_gpu_test_upload(ctx, &hx, DS_F32), y = ds_gpu_test_poisoned(ctx, &hx, DS_F32);
    ds_tensor g = ds_gpu_test_upload(ctx, &hg, DS_F32), g16 = ds_gpu_test_upload(ctx, &hg, DS_BF16);
    ds_tensor m = ds_gpu_test_poisoned(ctx, &hm, DS_F32), r = ds_gpu_test_poisoned(ctx, &hm, DS_F32);
    ds_groupnorm_fwd_args f = {.x = x, .gamma = g, .beta = g, .y = y, .mean = m, .rstd = r, .groups = 4, .eps = 1e-5};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_groupnorm_forward(ctx, &f), "groupnorm_forward", "4 groups of 6 channels");
    f.groups = 2;
    f.gamma = g16;
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_groupnorm_forward(ctx, &f), "groupnorm_forward", "gamma BF16");
    ds_gpu_test_free(ctx, &x), ds_gpu_test_free(ctx, &y), ds_gpu_test_free(ctx, &g), ds_gpu_test_free(ctx, &g16);
    ds_gpu_test_free(ctx, &m), ds_gpu_test_free(ctx, &r);
    free(hx.data), free(hg.data), free(hm.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_groupnorm")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_groupnorm");
    uint64_t seed = 1500;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++)
        for (int di = 0; di < 2; di++)
            for (int acc = 0; acc < 2; acc++) check_case(&t, &ctx, k_cases[i], di ? DS_BF16 : DS_F32, acc, seed += 10);
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
