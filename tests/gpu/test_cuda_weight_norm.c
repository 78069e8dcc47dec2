// CUDA weight norm against the CPU op: v (768, 48, 128) with dim = 2 (wav2vec2-base's positional
// conv: one norm per tap), (16, 6, 9) with dim = 2, (5, 3, 4) with dim 0 and 1, (7) with dim 0;
// w F32 and BF16 (the conv's working copy; v, g and the gradients F32); backward with accumulate
// off (outputs poisoned) and on (random starting values); two runs bit-identical; errors (dim out
// of range, a BF16 v).
// Tolerances: norm, w (F32), dv, dg 1e-5 (double sums of squares / dot products in another order,
// rounded once to fp32); w BF16 1e-2 (one bf16 rounding).
#include <stdio.h>
#include <stdlib.h>

#include "../gpu_test_util.h"

typedef struct wn_case {
    int ndim;
    int64_t shape[3];
    int dim;
} wn_case;

static const wn_case k_cases[] = {
    {3, {768, 48, 128}, 2}, {3, {16, 6, 9}, 2}, {3, {5, 3, 4}, 0}, {3, {5, 3, 4}, 1}, {1, {7}, 0},
};

static void check_case(ds_test *t, ds_context *ctx, wn_case c, ds_dtype wt, bool acc, uint64_t seed) {
    const int64_t k = c.shape[c.dim], ks[1] = {k};
    ds_tensor v = ds_gpu_test_random(c.ndim, c.shape, seed, -1, 1), g = ds_gpu_test_random(1, ks, seed + 1, 0.5f, 2);
    ds_tensor dw = ds_gpu_test_random(c.ndim, c.shape, seed + 2, -1, 1);
    ds_tensor dv0 = ds_gpu_test_random(c.ndim, c.shape, seed + 3, -1, 1), dg0 = ds_gpu_test_random(1, ks, seed + 4, -1, 1);
    ds_tensor w = ds_gpu_test_host_zeros_like(&v), norm = ds_gpu_test_host_zeros(1, ks);
    ds_tensor dv = ds_gpu_test_host_copy(&dv0), dg = ds_gpu_test_host_copy(&dg0);
    ds_weight_norm_fwd_args cf = {.v = v, .g = g, .w = w, .norm = norm, .dim = c.dim};
    ds_test_check(t, ds_weight_norm_forward(ctx, &cf) == DS_OK, "cpu weight_norm forward: %s", ctx->err.msg);
    ds_weight_norm_bwd_args cb = {.v = v, .g = g, .norm = norm, .dw = dw, .dv = dv, .dg = dg, .dim = c.dim,
                                  .accumulate = acc};
    ds_test_check(t, ds_weight_norm_backward(ctx, &cb) == DS_OK, "cpu weight_norm backward: %s", ctx->err.msg);

    char what[160], w2[220];
    snprintf(what, sizeof what, "weight_norm %lld-d (%lld, ..) dim %d w %s%s", (long long)c.ndim, (long long)c.shape[0],
             c.dim, ds_dtype_name(wt), acc ? " accumulate" : "");
    ds_tensor gv = ds_gpu_test_upload(ctx, &v, DS_F32), gg = ds_gpu_test_upload(ctx, &g, DS_F32);
    ds_tensor gdw = ds_gpu_test_upload(ctx, &dw, DS_F32), gnorm = ds_gpu_test_upload(ctx, &norm, DS_F32);
    ds_tensor gw[2], gn[2], gdv[2], gdg[2];
    for (int run = 0; run < 2; run++) {
        gw[run] = ds_gpu_test_poisoned(ctx, &v, wt), gn[run] = ds_gpu_test_poisoned(ctx, &norm, DS_F32);
        gdv[run] = acc ? ds_gpu_test_upload(ctx, &dv0, DS_F32) : ds_gpu_test_poisoned(ctx, &dv0, DS_F32);
        gdg[run] = acc ? ds_gpu_test_upload(ctx, &dg0, DS_F32) : ds_gpu_test_poisoned(ctx, &dg0, DS_F32);
        ds_weight_norm_fwd_args f = {.v = gv, .g = gg, .w = gw[run], .norm = gn[run], .dim = c.dim};
        ds_test_check(t, ds_weight_norm_forward(ctx, &f) == DS_OK, "%s forward: %s", what, ctx->err.msg);
        ds_weight_norm_bwd_args b = {.v = gv, .g = gg, .norm = gnorm, .dw = gdw, .dv = gdv[run], .dg = gdg[run],
                                     .dim = c.dim, .accumulate = acc};
        ds_test_check(t, ds_weight_norm_backward(ctx, &b) == DS_OK, "%s backward: %s", what, ctx->err.msg);
    }
    struct {
        const char *name;
        ds_tensor *g;
        ds_tensor *want;
        double tol;
    } outs[] = {{"w", gw, &w, wt == DS_BF16 ? 1e-2 : 1e-5}, {"norm", gn, &norm, 1e-5}, {"dv", gdv, &dv, 1e-5},
                {"dg", gdg, &dg, 1e-5}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        snprintf(w2, sizeof w2, "%s %s", what, outs[i].name);
        ds_gpu_test_expect_close(t, ctx, w2, &outs[i].g[0], outs[i].want, outs[i].tol);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &outs[i].g[0], &outs[i].g[1]);
    }
    for (int run = 0; run < 2; run++) {
        ds_gpu_test_free(ctx, &gw[run]), ds_gpu_test_free(ctx, &gn[run]), ds_gpu_test_free(ctx, &gdv[run]);
        ds_gpu_test_free(ctx, &gdg[run]);
    }
    ds_gpu_test_free(ctx, &gv), ds_gpu_test_free(ctx, &gg), ds_gpu_test_free(ctx, &gdw), ds_gpu_test_free(ctx, &gnorm);
    free(v.data), free(g.data), free(dw.data), free(dv0.data), free(dg0.data), free(w.data), free(norm.data);
    free(dv.data), free(dg.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t vs[2] = {4, 3}, ks[1] = {3};
    ds_tensor hv = ds_gpu_test_random(2, vs, 1, -1, 1), hg = ds_gpu_test_random(1, ks, 2, 0.5f, 1);
    ds_tensor v = ds_gpu_test_upload(ctx, &hv, DS_F32), v16 = ds_gpu_test_upload(ctx, &hv, DS_BF16);
    ds_tensor g = ds_gpu_test_upload(ctx, &hg, DS_F32), w = ds_gpu_test_poisoned(ctx, &hv, DS_F32);
    ds_tensor n = ds_gpu_test_poisoned(ctx, &hg, DS_F32);
    ds_weight_norm_fwd_args f = {.v = v, .g = g, .w = w, .norm = n, .dim = 2};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_weight_norm_forward(ctx, &f), "weight_norm_forward", "dim 2 of 2 dims");
    f.dim = 1;
    f.v = v16;
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_weight_norm_forward(ctx, &f), "weight_norm_forward", "v BF16");
    ds_gpu_test_free(ctx, &v), ds_gpu_test_free(ctx, &v16), ds_gpu_test_free(ctx, &g), ds_gpu_test_free(ctx, &w);
    ds_gpu_test_free(ctx, &n);
    free(hv.data), free(hg.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_weight_norm")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_weight_norm");
    uint64_t seed = 1600;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++)
        for (int wi = 0; wi < 2; wi++)
            for (int acc = 0; acc < 2; acc++) check_case(&t, &ctx, k_cases[i], wi ? DS_BF16 : DS_F32, acc, seed += 10);
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
