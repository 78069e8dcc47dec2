// CUDA BatchNorm (the five split ops and the fused apply + residual + ReLU) against the CPU ops on
// fresh random inputs with a mean offset: bn_stats, bn_finalize in training (running statistics
// and num_batches_tracked updated) and eval (running statistics read), bn_apply,
// bn_backward_reduce (sums, dgamma/dbeta with accumulate off and on, and sums alone),
// bn_backward_apply with and without sums, and ds_cuda_bn_apply_act against bn_apply + add + relu
// on the CPU; F32 and BF16 activations; PLAIN and FAST; shapes with odd H*W, a vector-multiple
// H*W, one channel, and enough values per channel for several FAST chunks; outputs poisoned; two
// runs bit-identical; errors (a count of 1 in training, F32/BF16 mix) naming the op.
//
// Tolerances (tensor-relative, ds_test_close):
// - stats, sums (F64): both sides sum the same (bf16-rounded in BF16) values in double, in a
//   different order: ~sqrt(n) 1e-16 relative; 1e-12 (a missed or doubled element errs by >= 1/n).
// - mean, rstd, running statistics (F32): computed in double from those sums and rounded once:
//   1 ulp apart at most; 1e-6.
// - F32 y, dx, fused y: the same fp32 operations in the same order (no FMA on either side):
//   identical in practice; 1e-6 allows one ulp from the coefficients' double->float rounding.
// - BF16 y, dx: inputs pre-rounded, one bf16 rounding of the output: <= 2^-9; 1e-2. The fused op
//   rounds once where the CPU composition (F32 here) does not round at all: 1e-2.
// - dgamma, dbeta (F32): double sums of the same values: 1e-6.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/cuda_fused.h"
#include "../gpu_test_util.h"

typedef struct dims {
    int64_t N, C, H, W;
} dims;

// H*W odd (scalar FAST path), 8x8 (vector path for F32 and BF16), one channel, and 4 x 65 x 67 =
// 17420 values per channel (three FAST chunks of <= 8192).
static const dims k_dims[] = {{2, 5, 3, 7}, {3, 16, 8, 8}, {4, 1, 5, 5}, {4, 3, 65, 67}, {1, 64, 2, 2}};

// A host F64 vector of n zeros (calloc'd).
static ds_tensor host_f64(int64_t n) { return ds_tensor_cpu1(calloc((size_t)n, sizeof(double)), DS_F64, n); }

// Uploads / downloads an F64 host vector as raw bytes.
static ds_tensor upload_f64(ds_context *ctx, const ds_tensor *h) {
    ds_tensor d = ds_tensor_make(NULL, DS_F64, (ds_device){DS_DEVICE_CUDA, ctx->device.index}, 1, h->shape);
    ds_gpu_alloc(ctx, ds_tensor_nbytes(&d), &d.data);
    ds_gpu_upload(ctx, d.data, h->data, ds_tensor_nbytes(&d));
    return d;
}
static ds_tensor poisoned_f64(ds_context *ctx, int64_t n) {
    ds_tensor d = ds_tensor_make(NULL, DS_F64, (ds_device){DS_DEVICE_CUDA, ctx->device.index}, 1, &n);
    ds_gpu_alloc(ctx, ds_tensor_nbytes(&d), &d.data);
    ds_gpu_memset(ctx, d.data, 0xff, ds_tensor_nbytes(&d));
    return d;
}
static void expect_f64(ds_test *t, ds_context *ctx, const char *what, const ds_tensor *dev, const ds_tensor *want,
                       double tol) {
    const int64_t n = ds_tensor_numel(dev);
    double *h = malloc(sizeof(double) * (size_t)n);
    ds_gpu_download(ctx, h, dev->data, sizeof(double) * (size_t)n);
    ds_gpu_sync(ctx);
    ds_test_close_f64(t, what, h, want->data, (size_t)n, tol);
    free(h);
}
static void expect_same_f64(ds_test *t, ds_context *ctx, const char *what, const ds_tensor *a, const ds_tensor *b) {
    const size_t n = ds_tensor_nbytes(a);
    char *ha = malloc(n), *hb = malloc(n);
    ds_gpu_download(ctx, ha, a->data, n);
    ds_gpu_download(ctx, hb, b->data, n);
    ds_gpu_sync(ctx);
    ds_test_check(t, memcmp(ha, hb, n) == 0, "%s: two runs differ", what);
    free(ha), free(hb);
}

static void check_dims(ds_test *t, ds_context *ctx, dims d, ds_dtype dt, ds_kernel_variant v, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    const double tol_act = bf ? 1e-2 : 1e-6;
    const int64_t xs[4] = {d.N, d.C, d.H, d.W}, cs[1] = {d.C}, ns = 2 * d.C + 1;
    ds_tensor x = ds_gpu_test_random_rounded(4, xs, seed, -1, 3, bf), dy = ds_gpu_test_random_rounded(4, xs, seed + 1, -1, 1, bf);
    ds_tensor res = ds_gpu_test_random_rounded(4, xs, seed + 2, -2, 1, bf);
    ds_tensor gamma = ds_gpu_test_random(1, cs, seed + 3, 0.5f, 1.5f), beta = ds_gpu_test_random(1, cs, seed + 4, -1, 1);
    ds_tensor rm0 = ds_gpu_test_random(1, cs, seed + 5, -1, 1), rv0 = ds_gpu_test_random(1, cs, seed + 6, 0.5f, 2);
    ds_tensor dg0 = ds_gpu_test_random(1, cs, seed + 7, -1, 1), db0 = ds_gpu_test_random(1, cs, seed + 8, -1, 1);
    char what[200], w2[260];
    snprintf(what, sizeof what, "bn %s %s (%lld, %lld, %lld, %lld)", ds_dtype_name(dt), ds_gpu_test_variant_name(v),
             (long long)d.N, (long long)d.C, (long long)d.H, (long long)d.W);
    ds_gpu_set_kernels(ctx, v);
    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gdy = ds_gpu_test_upload(ctx, &dy, dt);
    ds_tensor gres = ds_gpu_test_upload(ctx, &res, dt);
    ds_tensor ggamma = ds_gpu_test_upload(ctx, &gamma, DS_F32), gbeta = ds_gpu_test_upload(ctx, &beta, DS_F32);

    // ---- stats ----
    ds_tensor stats = host_f64(ns);
    ds_bn_stats_args cs_ = {.x = x, .stats = stats};
    ds_test_check(t, ds_bn_stats(ctx, &cs_) == DS_OK, "cpu bn_stats: %s", ctx->err.msg);
    ds_tensor gstats[2];
    for (int run = 0; run < 2; run++) {
        gstats[run] = poisoned_f64(ctx, ns);
        ds_bn_stats_args a = {.x = gx, .stats = gstats[run]};
        ds_test_check(t, ds_bn_stats(ctx, &a) == DS_OK, "%s stats: %s", what, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s stats", what);
    expect_f64(t, ctx, w2, &gstats[0], &stats, 1e-12);
    expect_same_f64(t, ctx, w2, &gstats[0], &gstats[1]);

    // ---- finalize: training (from the CPU's stats on both sides), then eval ----
    ds_tensor mean = ds_gpu_test_host_zeros(1, cs), rstd = ds_gpu_test_host_zeros(1, cs);
    ds_tensor rm = ds_gpu_test_host_copy(&rm0), rv = ds_gpu_test_host_copy(&rv0);
    int64_t nbt = 3;
    ds_tensor tnbt = ds_tensor_cpu1(&nbt, DS_I64, 1);
    ds_bn_finalize_args cf = {.stats = stats, .mean = mean, .rstd = rstd, .running_mean = rm, .running_var = rv,
                              .num_batches_tracked = tnbt, .eps = 1e-5, .momentum = 0.1};
    ds_test_check(t, ds_bn_finalize(ctx, &cf) == DS_OK, "cpu bn_finalize: %s", ctx->err.msg);
    ds_tensor gst = upload_f64(ctx, &stats);
    ds_tensor gmean = ds_gpu_test_poisoned(ctx, &mean, DS_F32), grstd = ds_gpu_test_poisoned(ctx, &rstd, DS_F32);
    ds_tensor grm = ds_gpu_test_upload(ctx, &rm0, DS_F32), grv = ds_gpu_test_upload(ctx, &rv0, DS_F32);
    int64_t nbt0 = 3, nbt_back = 0;
    ds_tensor gnbt = ds_tensor_make(NULL, DS_I64, (ds_device){DS_DEVICE_CUDA, ctx->device.index}, 1, (int64_t[]){1});
    ds_gpu_alloc(ctx, 8, &gnbt.data);
    ds_gpu_upload(ctx, gnbt.data, &nbt0, 8);
    ds_bn_finalize_args gf = {.stats = gst, .mean = gmean, .rstd = grstd, .running_mean = grm, .running_var = grv,
                              .num_batches_tracked = gnbt, .eps = 1e-5, .momentum = 0.1};
    ds_test_check(t, ds_bn_finalize(ctx, &gf) == DS_OK, "%s finalize: %s", what, ctx->err.msg);
    snprintf(w2, sizeof w2, "%s finalize mean", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gmean, &mean, 1e-6);
    snprintf(w2, sizeof w2, "%s finalize rstd", what);
    ds_gpu_test_expect_close(t, ctx, w2, &grstd, &rstd, 1e-6);
    snprintf(w2, sizeof w2, "%s finalize running_mean", what);
    ds_gpu_test_expect_close(t, ctx, w2, &grm, &rm, 1e-6);
    snprintf(w2, sizeof w2, "%s finalize running_var", what);
    ds_gpu_test_expect_close(t, ctx, w2, &grv, &rv, 1e-6);
    ds_gpu_download(ctx, &nbt_back, gnbt.data, 8);
    ds_gpu_sync(ctx);
    ds_test_check(t, nbt_back == 4 && nbt == 4, "%s num_batches_tracked: %lld, cpu %lld (want 4)", what,
                  (long long)nbt_back, (long long)nbt);
    {  // eval: running statistics in, nothing updated
        ds_tensor em = ds_gpu_test_host_zeros(1, cs), er = ds_gpu_test_host_zeros(1, cs);
        ds_bn_finalize_args ce = {.mean = em, .rstd = er, .running_mean = rm0, .running_var = rv0, .eps = 1e-5,
                                  .use_running = true};
        ds_test_check(t, ds_bn_finalize(ctx, &ce) == DS_OK, "cpu bn_finalize eval: %s", ctx->err.msg);
        ds_tensor gem = ds_gpu_test_poisoned(ctx, &em, DS_F32), ger = ds_gpu_test_poisoned(ctx, &er, DS_F32);
        ds_tensor grm0 = ds_gpu_test_upload(ctx, &rm0, DS_F32), grv0 = ds_gpu_test_upload(ctx, &rv0, DS_F32);
        ds_bn_finalize_args ge = {.mean = gem, .rstd = ger, .running_mean = grm0, .running_var = grv0, .eps = 1e-5,
                                  .use_running = true};
        ds_test_check(t, ds_bn_finalize(ctx, &ge) == DS_OK, "%s finalize eval: %s", what, ctx->err.msg);
        snprintf(w2, sizeof w2, "%s finalize eval mean", what);
        ds_gpu_test_expect_close(t, ctx, w2, &gem, &em, 1e-6);
        snprintf(w2, sizeof w2, "%s finalize eval rstd", what);
        ds_gpu_test_expect_close(t, ctx, w2, &ger, &er, 1e-6);
        snprintf(w2, sizeof w2, "%s finalize eval running_mean unchanged", what);
        ds_gpu_test_expect_close(t, ctx, w2, &grm0, &rm0, 0);
        ds_gpu_test_free(ctx, &gem), ds_gpu_test_free(ctx, &ger), ds_gpu_test_free(ctx, &grm0), ds_gpu_test_free(ctx, &grv0);
        free(em.data), free(er.data);
    }
    // From here both sides use the CPU's mean and rstd.
    ds_tensor gm = ds_gpu_test_upload(ctx, &mean, DS_F32), gr = ds_gpu_test_upload(ctx, &rstd, DS_F32);

    // ---- apply, and the fused apply (+ residual) (+ relu) ----
    for (int mode = 0; mode < 4; mode++) {  // 0: bn_apply; fused: 1 relu, 2 residual, 3 residual + relu
        const bool fused = mode > 0, relu = mode == 1 || mode == 3, has_r = mode >= 2;
        ds_tensor want = ds_gpu_test_host_zeros(4, xs);
        ds_bn_apply_args ca = {.x = x, .mean = mean, .rstd = rstd, .gamma = gamma, .beta = beta, .y = want};
        ds_test_check(t, ds_bn_apply(ctx, &ca) == DS_OK, "cpu bn_apply: %s", ctx->err.msg);
        if (has_r) {
            ds_add_args ad = {.a = want, .b = res, .y = want};
            ds_test_check(t, ds_add(ctx, &ad) == DS_OK, "cpu add: %s", ctx->err.msg);
        }
        if (relu) {
            ds_unary_fwd_args r = {.x = want, .y = want};
            ds_test_check(t, ds_relu_forward(ctx, &r) == DS_OK, "cpu relu: %s", ctx->err.msg);
        }
        ds_tensor gy[2];
        for (int run = 0; run < 2; run++) {
            gy[run] = ds_gpu_test_poisoned(ctx, &x, dt);
            ds_bn_apply_args a = {.x = gx, .mean = gm, .rstd = gr, .gamma = ggamma, .beta = gbeta, .y = gy[run]};
            const ds_status s = fused ? ds_cuda_bn_apply_act(ctx, &a, has_r ? gres : (ds_tensor){0}, relu)
                                      : ds_bn_apply(ctx, &a);
            ds_test_check(t, s == DS_OK, "%s apply mode %d: %s", what, mode, ctx->err.msg);
        }
        static const char *names[4] = {"bn_apply", "bn_apply_act relu", "bn_apply_act residual",
                                       "bn_apply_act residual relu"};
        snprintf(w2, sizeof w2, "%s %s", what, names[mode]);
        ds_gpu_test_expect_close(t, ctx, w2, &gy[0], &want, tol_act);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gy[0], &gy[1]);
        ds_gpu_test_free(ctx, &gy[0]), ds_gpu_test_free(ctx, &gy[1]);
        free(want.data);
    }
    {  // in place: y = x
        ds_tensor want = ds_gpu_test_host_zeros(4, xs);
        ds_bn_apply_args ca = {.x = x, .mean = mean, .rstd = rstd, .gamma = gamma, .beta = beta, .y = want};
        ds_bn_apply(ctx, &ca);
        ds_tensor gxi = ds_gpu_test_upload(ctx, &x, dt);
        ds_bn_apply_args a = {.x = gxi, .mean = gm, .rstd = gr, .gamma = ggamma, .beta = gbeta, .y = gxi};
        ds_test_check(t, ds_bn_apply(ctx, &a) == DS_OK, "%s apply in place: %s", what, ctx->err.msg);
        snprintf(w2, sizeof w2, "%s bn_apply in place", what);
        ds_gpu_test_expect_close(t, ctx, w2, &gxi, &want, tol_act);
        ds_gpu_test_free(ctx, &gxi);
        free(want.data);
    }

    // ---- backward reduce ----
    for (int acc = 0; acc < 2; acc++) {
        ds_tensor sums = host_f64(ns), dg = ds_gpu_test_host_copy(&dg0), db = ds_gpu_test_host_copy(&db0);
        ds_bn_bwd_reduce_args cr = {.x = x, .mean = mean, .rstd = rstd, .dy = dy, .sums = sums, .dgamma = dg,
                                    .dbeta = db, .accumulate = acc};
        ds_test_check(t, ds_bn_backward_reduce(ctx, &cr) == DS_OK, "cpu bn_backward_reduce: %s", ctx->err.msg);
        ds_tensor gsums[2], gdg[2], gdb[2];
        for (int run = 0; run < 2; run++) {
            gsums[run] = poisoned_f64(ctx, ns);
            gdg[run] = acc ? ds_gpu_test_upload(ctx, &dg0, DS_F32) : ds_gpu_test_poisoned(ctx, &dg0, DS_F32);
            gdb[run] = acc ? ds_gpu_test_upload(ctx, &db0, DS_F32) : ds_gpu_test_poisoned(ctx, &db0, DS_F32);
            ds_bn_bwd_reduce_args a = {.x = gx, .mean = gm, .rstd = gr, .dy = gdy, .sums = gsums[run],
                                       .dgamma = gdg[run], .dbeta = gdb[run], .accumulate = acc};
            ds_test_check(t, ds_bn_backward_reduce(ctx, &a) == DS_OK, "%s bwd reduce: %s", what, ctx->err.msg);
        }
        snprintf(w2, sizeof w2, "%s bwd sums acc%d", what, acc);
        expect_f64(t, ctx, w2, &gsums[0], &sums, 1e-12);
        expect_same_f64(t, ctx, w2, &gsums[0], &gsums[1]);
        snprintf(w2, sizeof w2, "%s dgamma acc%d", what, acc);
        ds_gpu_test_expect_close(t, ctx, w2, &gdg[0], &dg, 1e-6);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gdg[0], &gdg[1]);
        snprintf(w2, sizeof w2, "%s dbeta acc%d", what, acc);
        ds_gpu_test_expect_close(t, ctx, w2, &gdb[0], &db, 1e-6);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gdb[0], &gdb[1]);

        // ---- backward apply, from the CPU's sums (with), and eval (without) ----
        for (int with = 0; with < 2; with++) {
            ds_tensor want = ds_gpu_test_host_zeros(4, xs);
            ds_bn_bwd_apply_args ca = {.x = x, .mean = mean, .rstd = rstd, .gamma = gamma, .dy = dy,
                                       .sums = with ? sums : (ds_tensor){0}, .dx = want};
            ds_test_check(t, ds_bn_backward_apply(ctx, &ca) == DS_OK, "cpu bn_backward_apply: %s", ctx->err.msg);
            ds_tensor gs = upload_f64(ctx, &sums);
            ds_tensor gdx[2];
            for (int run = 0; run < 2; run++) {
                gdx[run] = ds_gpu_test_poisoned(ctx, &x, dt);
                ds_bn_bwd_apply_args a = {.x = with ? gx : (ds_tensor){0}, .mean = gm, .rstd = gr, .gamma = ggamma,
                                          .dy = gdy, .sums = with ? gs : (ds_tensor){0}, .dx = gdx[run]};
                ds_test_check(t, ds_bn_backward_apply(ctx, &a) == DS_OK, "%s bwd apply: %s", what, ctx->err.msg);
            }
            snprintf(w2, sizeof w2, "%s bwd apply %s", what, with ? "with sums" : "eval");
            ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &want, tol_act);
            ds_gpu_test_expect_same_bits(t, ctx, w2, &gdx[0], &gdx[1]);
            ds_gpu_test_free(ctx, &gdx[0]), ds_gpu_test_free(ctx, &gdx[1]), ds_gpu_free(ctx, gs.data, ds_tensor_nbytes(&gs));
            free(want.data);
        }
        for (int run = 0; run < 2; run++) {
            ds_gpu_free(ctx, gsums[run].data, ds_tensor_nbytes(&gsums[run]));
            ds_gpu_test_free(ctx, &gdg[run]), ds_gpu_test_free(ctx, &gdb[run]);
        }
        free(sums.data), free(dg.data), free(db.data);
    }
    for (int run = 0; run < 2; run++) ds_gpu_free(ctx, gstats[run].data, ds_tensor_nbytes(&gstats[run]));
    ds_gpu_free(ctx, gst.data, ds_tensor_nbytes(&gst)), ds_gpu_free(ctx, gnbt.data, 8);
    ds_gpu_test_free(ctx, &gmean), ds_gpu_test_free(ctx, &grstd), ds_gpu_test_free(ctx, &grm), ds_gpu_test_free(ctx, &grv);
    ds_gpu_test_free(ctx, &gm), ds_gpu_test_free(ctx, &gr), ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gdy);
    ds_gpu_test_free(ctx, &gres), ds_gpu_test_free(ctx, &ggamma), ds_gpu_test_free(ctx, &gbeta);
    free(x.data), free(dy.data), free(res.data), free(gamma.data), free(beta.data), free(rm0.data), free(rv0.data);
    free(dg0.data), free(db0.data), free(stats.data), free(mean.data), free(rstd.data), free(rm.data), free(rv.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t xs[4] = {1, 2, 1, 1}, cs[1] = {2};
    ds_tensor hx = ds_gpu_test_random(4, xs, 1, -1, 1), hc = ds_gpu_test_random(1, cs, 2, 0.5f, 1);
    ds_tensor x = ds_gpu_test_upload(ctx, &hx, DS_F32), c = ds_gpu_test_upload(ctx, &hc, DS_F32);
    ds_tensor c16 = ds_gpu_test_upload(ctx, &hc, DS_BF16), y16 = ds_gpu_test_poisoned(ctx, &hx, DS_BF16);
    ds_tensor st = poisoned_f64(ctx, 5);
    ds_err_clear(&ctx->err);
    ds_bn_stats_args sa = {.x = x, .stats = st};
    ds_test_check(t, ds_bn_stats(ctx, &sa) == DS_OK, "stats of one value per channel: %s", ctx->err.msg);
    ds_tensor m = ds_gpu_test_poisoned(ctx, &hc, DS_F32), r = ds_gpu_test_poisoned(ctx, &hc, DS_F32);
    ds_bn_finalize_args fa = {.stats = st, .mean = m, .rstd = r, .eps = 1e-5, .momentum = 0.1};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_bn_finalize(ctx, &fa), "bn_finalize", "one value per channel in training");
    ds_bn_apply_args aa = {.x = x, .mean = c16, .rstd = c, .gamma = c, .beta = c, .y = x};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_bn_apply(ctx, &aa), "bn_apply", "mean BF16");
    ds_bn_apply_args ab = {.x = x, .mean = c, .rstd = c, .gamma = c, .beta = c, .y = y16};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_bn_apply(ctx, &ab), "bn_apply", "y BF16 with x F32");
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_cuda_bn_apply_act(ctx, &ab, (ds_tensor){0}, true), "bn_apply_act",
                                   "fused: y BF16 with x F32");
    ds_gpu_test_free(ctx, &x), ds_gpu_test_free(ctx, &c), ds_gpu_test_free(ctx, &c16), ds_gpu_test_free(ctx, &y16);
    ds_gpu_test_free(ctx, &m), ds_gpu_test_free(ctx, &r), ds_gpu_free(ctx, st.data, 5 * sizeof(double));
    free(hx.data), free(hc.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_batchnorm")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_batchnorm");
    uint64_t seed = 700;
    for (int vi = 0; vi < 2; vi++)
        for (int di = 0; di < 2; di++)
            for (size_t i = 0; i < sizeof k_dims / sizeof k_dims[0]; i++)
                check_dims(&t, &ctx, k_dims[i], di ? DS_BF16 : DS_F32, vi ? DS_KERNELS_FAST : DS_KERNELS_PLAIN,
                           seed += 20);
    ds_gpu_set_kernels(&ctx, DS_KERNELS_PLAIN);
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
