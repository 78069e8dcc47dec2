// CUDA layer norm against the CPU op: forward (y, mean, rstd) and backward (dx, dgamma, dbeta;
// accumulate on and off), F32 and BF16 activations, both kernel variants, outputs poisoned, run
// twice for bit-identical results, a row count large enough for several FAST column-sum chunks,
// and dtype errors that name the op. Inputs have a mean offset (x in [-2, 4)) so a one-pass
// variance would lose digits.
//
// Tolerances (tensor-relative, ds_test_close):
// - F32: the GPU keeps every statistic in fp32, the CPU in double; for C <= 768 the fp32 sums
//   lose ~sqrt(C) 2^-24 relative (~1e-6), so 1e-5 with a 10x margin; any indexing error is O(1).
// - BF16 activations (y, dx): inputs rounded to bf16 on the host first (the CPU sees what the GPU
//   reads), each output rounded once to bf16: relative error <= 2^-9 = 2e-3, so 1e-2.
// - mean, rstd, dgamma, dbeta are F32 on the GPU in both modes, computed from identical inputs:
//   1e-5 (dgamma/dbeta are summed in double on both sides; mean/rstd as F32 above).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

typedef struct {
    int64_t n, c;
} dims;

// FAST paths: C = 13 (odd: scalar, row in registers), 768 (BERT: vectorised, in registers),
// 1000 (vectorised, in registers for F32 and BF16), 2056 (vectorised, longer than the register
// cache: read again per pass), 1029 (odd and longer than the cache: scalar, read again). N = 1 up
// to 1031 rows (FAST dgamma/dbeta then sum several chunks of rows through the scratch).
static const dims k_dims[] = {{1, 13}, {7, 768}, {13, 1000}, {5, 2056}, {3, 1029}, {1031, 13}, {300, 768}};

static void check_shape(ds_test *t, ds_context *ctx, dims d, ds_dtype dt, ds_kernel_variant v, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    const double tol_act = bf ? 1e-2 : 1e-5;
    const double eps = 1e-12;  // BERT's layer_norm_eps
    const int64_t xs[2] = {d.n, d.c}, cs[1] = {d.c}, ns[1] = {d.n};
    ds_tensor x = ds_gpu_test_random_rounded(2, xs, seed, -2, 4, bf),
              dy = ds_gpu_test_random_rounded(2, xs, seed + 1, -1, 1, bf);
    ds_tensor gamma = ds_gpu_test_random(1, cs, seed + 2, 0.5f, 1.5f),
              beta = ds_gpu_test_random(1, cs, seed + 3, -1, 1);
    ds_tensor dg0 = ds_gpu_test_random(1, cs, seed + 4, -1, 1), db0 = ds_gpu_test_random(1, cs, seed + 5, -1, 1);

    // CPU reference (F32 on the bf16-rounded inputs in BF16 mode).
    ds_tensor want_y = ds_gpu_test_host_zeros_like(&x), want_mean = ds_gpu_test_host_zeros(1, ns);
    ds_tensor want_rstd = ds_gpu_test_host_zeros(1, ns);
    ds_layernorm_fwd_args cf = {.x = x, .gamma = gamma, .beta = beta, .y = want_y, .mean = want_mean,
                                .rstd = want_rstd, .eps = eps};
    ds_status s = ds_layernorm_forward(ctx, &cf);
    ds_test_check(t, s == DS_OK, "cpu layernorm_forward: %s", ctx->err.msg);

    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gdy = ds_gpu_test_upload(ctx, &dy, dt);
    ds_tensor ggamma = ds_gpu_test_upload(ctx, &gamma, DS_F32), gbeta = ds_gpu_test_upload(ctx, &beta, DS_F32);
    char what[160], w2[200];
    snprintf(what, sizeof what, "layernorm fwd %s %s N%lld C%lld", ds_dtype_name(dt), ds_gpu_test_variant_name(v),
             (long long)d.n, (long long)d.c);
    ds_tensor gy[2], gmean[2], grstd[2];
    for (int run = 0; run < 2; run++) {
        gy[run] = ds_gpu_test_poisoned(ctx, &x, dt);
        gmean[run] = ds_gpu_test_poisoned(ctx, &want_mean, DS_F32);
        grstd[run] = ds_gpu_test_poisoned(ctx, &want_rstd, DS_F32);
        ds_layernorm_fwd_args gf = {.x = gx, .gamma = ggamma, .beta = gbeta, .y = gy[run], .mean = gmean[run],
                                    .rstd = grstd[run], .eps = eps};
        s = ds_layernorm_forward(ctx, &gf);
        ds_test_check(t, s == DS_OK, "%s run %d: %s", what, run, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s y", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gy[0], &want_y, tol_act);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gy[0], &gy[1]);
    snprintf(w2, sizeof w2, "%s mean", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gmean[0], &want_mean, 1e-5);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gmean[0], &gmean[1]);
    snprintf(w2, sizeof w2, "%s rstd", what);
    ds_gpu_test_expect_close(t, ctx, w2, &grstd[0], &want_rstd, 1e-5);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &grstd[0], &grstd[1]);

    // Backward: both sides take the CPU's mean and rstd, so they differentiate at the same point.
    ds_tensor gm = ds_gpu_test_upload(ctx, &want_mean, DS_F32), gr = ds_gpu_test_upload(ctx, &want_rstd, DS_F32);
    for (int acc = 0; acc < 2; acc++) {
        ds_tensor want_dx = ds_gpu_test_host_zeros_like(&x), want_dg = ds_gpu_test_host_copy(&dg0),
                  want_db = ds_gpu_test_host_copy(&db0);
        ds_layernorm_bwd_args cb = {.x = x, .gamma = gamma, .mean = want_mean, .rstd = want_rstd, .dy = dy,
                                    .dx = want_dx, .dgamma = want_dg, .dbeta = want_db, .accumulate = acc};
        s = ds_layernorm_backward(ctx, &cb);
        ds_test_check(t, s == DS_OK, "cpu layernorm_backward: %s", ctx->err.msg);
        snprintf(what, sizeof what, "layernorm bwd %s %s N%lld C%lld acc%d", ds_dtype_name(dt),
                 ds_gpu_test_variant_name(v), (long long)d.n, (long long)d.c, acc);
        ds_tensor gdx[2], gdg[2], gdb[2];
        for (int run = 0; run < 2; run++) {
            gdx[run] = ds_gpu_test_poisoned(ctx, &x, dt);
            gdg[run] = acc ? ds_gpu_test_upload(ctx, &dg0, DS_F32) : ds_gpu_test_poisoned(ctx, &dg0, DS_F32);
            gdb[run] = acc ? ds_gpu_test_upload(ctx, &db0, DS_F32) : ds_gpu_test_poisoned(ctx, &db0, DS_F32);
            ds_layernorm_bwd_args gb = {.x = gx, .gamma = ggamma, .mean = gm, .rstd = gr, .dy = gdy, .dx = gdx[run],
                                        .dgamma = gdg[run], .dbeta = gdb[run], .accumulate = acc};
            s = ds_layernorm_backward(ctx, &gb);
            ds_test_check(t, s == DS_OK, "%s run %d: %s", what, run, ctx->err.msg);
        }
        snprintf(w2, sizeof w2, "%s dx", what);
        ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &want_dx, tol_act);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gdx[0], &gdx[1]);
        snprintf(w2, sizeof w2, "%s dgamma", what);
        ds_gpu_test_expect_close(t, ctx, w2, &gdg[0], &want_dg, 1e-5);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gdg[0], &gdg[1]);
        snprintf(w2, sizeof w2, "%s dbeta", what);
        ds_gpu_test_expect_close(t, ctx, w2, &gdb[0], &want_db, 1e-5);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gdb[0], &gdb[1]);
        for (int run = 0; run < 2; run++) {
            ds_gpu_test_free(ctx, &gdx[run]);
            ds_gpu_test_free(ctx, &gdg[run]);
            ds_gpu_test_free(ctx, &gdb[run]);
        }
        free(want_dx.data), free(want_dg.data), free(want_db.data);
    }

    for (int run = 0; run < 2; run++) {
        ds_gpu_test_free(ctx, &gy[run]);
        ds_gpu_test_free(ctx, &gmean[run]);
        ds_gpu_test_free(ctx, &grstd[run]);
    }
    ds_gpu_test_free(ctx, &gm), ds_gpu_test_free(ctx, &gr);
    ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gdy), ds_gpu_test_free(ctx, &ggamma);
    ds_gpu_test_free(ctx, &gbeta);
    free(x.data), free(dy.data), free(gamma.data), free(beta.data), free(dg0.data), free(db0.data);
    free(want_y.data), free(want_mean.data), free(want_rstd.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t xs[2] = {3, 8}, cs[1] = {8}, ns[1] = {3};
    ds_tensor hx = ds_gpu_test_random(2, xs, 1, -1, 1), hc = ds_gpu_test_random(1, cs, 2, -1, 1);
    ds_tensor hn = ds_gpu_test_random(1, ns, 3, 0.5f, 1);
    ds_tensor x = ds_gpu_test_upload(ctx, &hx, DS_F32), y16 = ds_gpu_test_poisoned(ctx, &hx, DS_BF16);
    ds_tensor g = ds_gpu_test_upload(ctx, &hc, DS_F32), g16 = ds_gpu_test_upload(ctx, &hc, DS_BF16);
    ds_tensor m = ds_gpu_test_upload(ctx, &hn, DS_F32), r = ds_gpu_test_upload(ctx, &hn, DS_F32);
    ds_tensor y = ds_gpu_test_poisoned(ctx, &hx, DS_F32), dg = ds_gpu_test_poisoned(ctx, &hc, DS_F32);
    ds_err_clear(&ctx->err);
    ds_layernorm_fwd_args f = {.x = x, .gamma = g, .beta = g, .y = y16, .mean = m, .rstd = r, .eps = 1e-5};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_layernorm_forward(ctx, &f), "layernorm_forward", "y BF16 with x F32");
    ds_layernorm_fwd_args f2 = {.x = x, .gamma = g16, .beta = g, .y = y, .mean = m, .rstd = r, .eps = 1e-5};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_layernorm_forward(ctx, &f2), "layernorm_forward", "gamma BF16");
    ds_layernorm_bwd_args b = {.x = x, .gamma = g, .mean = m, .rstd = r, .dy = x, .dx = y16, .dgamma = dg,
                               .dbeta = dg};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_layernorm_backward(ctx, &b), "layernorm_backward", "dx BF16 with dy F32");
    ds_gpu_test_free(ctx, &x), ds_gpu_test_free(ctx, &y16), ds_gpu_test_free(ctx, &g), ds_gpu_test_free(ctx, &g16);
    ds_gpu_test_free(ctx, &m), ds_gpu_test_free(ctx, &r), ds_gpu_test_free(ctx, &y), ds_gpu_test_free(ctx, &dg);
    free(hx.data), free(hc.data), free(hn.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_layernorm")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_layernorm");
    uint64_t seed = 200;
    for (int vi = 0; vi < 2; vi++) {
        const ds_kernel_variant v = vi ? DS_KERNELS_FAST : DS_KERNELS_PLAIN;
        ds_gpu_set_kernels(&ctx, v);
        for (int di = 0; di < 2; di++)
            for (size_t i = 0; i < sizeof k_dims / sizeof k_dims[0]; i++)
                check_shape(&t, &ctx, k_dims[i], di ? DS_BF16 : DS_F32, v, seed += 10);
    }
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
