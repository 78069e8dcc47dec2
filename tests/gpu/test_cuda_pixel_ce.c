// CUDA per-pixel cross-entropy against the CPU op: forward (loss, weight_sum, lse) and backward
// (dlogits), with and without class weights (one of them 0), ignored pixels (255), every pixel
// ignored (loss NaN as torch, zero gradients), K = 1, 5, 21 (VOC) and 33, odd and vector-multiple
// H*W, dloss != 1; F32 and BF16 logits; PLAIN (two passes, double sum of exponentials) and FAST
// (online max/sum); outputs poisoned; two runs bit-identical; a bad target named by its pixel.
//
// Tolerances (tensor-relative):
// - lse (F32): CUDA's expf and logf are within 2 ulp of the CPU's; FAST's online sum is fp32
//   where the CPU sums in double: ~K ulp of the sum, <= 1e-6 relative for K <= 33; 1e-5.
// - loss, weight_sum: double sums of those lse over <= 2 x 37 x 45 pixels in a different order;
//   the lse error dominates: 1e-5. weight_sum sums the same class weights: 1e-6.
// - dlogits F32: softmax from exp(x - lse) with that lse: 1e-5. BF16: logits pre-rounded, dlogits
//   rounded once to bf16: 1e-2.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

typedef struct ce_case {
    int64_t N, K, H, W;
} ce_case;

static const ce_case k_cases[] = {{2, 5, 7, 9}, {1, 21, 8, 8}, {2, 33, 37, 45}, {3, 1, 3, 5}};

static void check_case(ds_test *t, ds_context *ctx, ce_case c, bool weights, int ignore_mode, ds_dtype dt,
                       ds_kernel_variant v, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    ds_gpu_set_kernels(ctx, v);
    const int64_t ls[4] = {c.N, c.K, c.H, c.W}, ts[3] = {c.N, c.H, c.W}, ks[1] = {c.K}, one[1] = {1};
    ds_tensor logits = ds_gpu_test_random_rounded(4, ls, seed, -4, 4, bf);
    ds_tensor cw = ds_gpu_test_random(1, ks, seed + 1, 0.2f, 2);
    if (c.K > 2) ((float *)cw.data)[1] = 0;  // a class of weight 0
    const int64_t npix = c.N * c.H * c.W;
    int32_t *tg = malloc(sizeof(int32_t) * (size_t)npix);
    uint64_t s = seed + 2;
    for (int64_t i = 0; i < npix; i++) {
        const uint64_t r = ds_gpu_test_splitmix64(&s);
        tg[i] = ignore_mode == 2 || (ignore_mode == 1 && r % 5 == 0) ? 255 : (int32_t)(r % (uint64_t)c.K);
    }
    ds_tensor targets = ds_tensor_make(tg, DS_I32, (ds_device){DS_DEVICE_CPU, 0}, 3, ts);
    ds_tensor lse = ds_gpu_test_host_zeros(3, ts), loss = ds_gpu_test_host_zeros(1, one), wsum = ds_gpu_test_host_zeros(1, one);
    ds_pixel_ce_fwd_args cf = {.logits = logits, .targets = targets, .class_weights = weights ? cw : (ds_tensor){0},
                               .loss = loss, .weight_sum = wsum, .lse = lse, .ignore_index = 255};
    ds_test_check(t, ds_pixel_cross_entropy_forward(ctx, &cf) == DS_OK, "cpu pixel ce forward: %s", ctx->err.msg);
    ds_tensor dl = ds_gpu_test_host_zeros(4, ls);
    ds_pixel_ce_bwd_args cb = {.logits = logits, .targets = targets, .class_weights = weights ? cw : (ds_tensor){0},
                               .lse = lse, .weight_sum = wsum, .dlogits = dl, .dloss = 0.75, .ignore_index = 255};
    ds_test_check(t, ds_pixel_cross_entropy_backward(ctx, &cb) == DS_OK, "cpu pixel ce backward: %s", ctx->err.msg);

    char what[200], w2[260];
    static const char *ign[3] = {"none ignored", "some ignored", "all ignored"};
    snprintf(what, sizeof what, "pixel_ce N%lld K%lld %lldx%lld %s %s [%s %s]", (long long)c.N, (long long)c.K,
             (long long)c.H, (long long)c.W, weights ? "weighted" : "unweighted", ign[ignore_mode], ds_dtype_name(dt),
             ds_gpu_test_variant_name(v));
    ds_tensor gl = ds_gpu_test_upload(ctx, &logits, dt), gt = ds_gpu_test_upload(ctx, &targets, DS_I32);
    ds_tensor gcw = ds_gpu_test_upload(ctx, &cw, DS_F32);
    ds_tensor glse[2], gloss[2], gws[2], gdl[2];
    for (int run = 0; run < 2; run++) {
        glse[run] = ds_gpu_test_poisoned(ctx, &lse, DS_F32), gloss[run] = ds_gpu_test_poisoned(ctx, &loss, DS_F32);
        gws[run] = ds_gpu_test_poisoned(ctx, &wsum, DS_F32), gdl[run] = ds_gpu_test_poisoned(ctx, &logits, dt);
        ds_pixel_ce_fwd_args f = {.logits = gl, .targets = gt, .class_weights = weights ? gcw : (ds_tensor){0},
                                  .loss = gloss[run], .weight_sum = gws[run], .lse = glse[run], .ignore_index = 255};
        ds_test_check(t, ds_pixel_cross_entropy_forward(ctx, &f) == DS_OK, "%s forward: %s", what, ctx->err.msg);
        ds_pixel_ce_bwd_args b = {.logits = gl, .targets = gt, .class_weights = weights ? gcw : (ds_tensor){0},
                                  .lse = glse[run], .weight_sum = gws[run], .dlogits = gdl[run], .dloss = 0.75,
                                  .ignore_index = 255};
        ds_test_check(t, ds_pixel_cross_entropy_backward(ctx, &b) == DS_OK, "%s backward: %s", what, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s lse", what);
    ds_gpu_test_expect_close(t, ctx, w2, &glse[0], &lse, 1e-5);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &glse[0], &glse[1]);
    snprintf(w2, sizeof w2, "%s loss", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gloss[0], &loss, 1e-5);  // NaN == NaN when every pixel is ignored
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gloss[0], &gloss[1]);
    snprintf(w2, sizeof w2, "%s weight_sum", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gws[0], &wsum, 1e-6);
    snprintf(w2, sizeof w2, "%s dlogits", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdl[0], &dl, bf ? 1e-2 : 1e-5);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gdl[0], &gdl[1]);
    if (ignore_mode == 2) {
        ds_tensor h = ds_gpu_test_download(ctx, &gloss[0]);
        ds_test_check(t, isnan(((float *)h.data)[0]), "%s: the loss of no valid pixel must be NaN", what);
        free(h.data);
    }
    for (int run = 0; run < 2; run++) {
        ds_gpu_test_free(ctx, &glse[run]), ds_gpu_test_free(ctx, &gloss[run]);
        ds_gpu_test_free(ctx, &gws[run]), ds_gpu_test_free(ctx, &gdl[run]);
    }
    ds_gpu_test_free(ctx, &gl), ds_gpu_test_free(ctx, &gt), ds_gpu_test_free(ctx, &gcw);
    free(logits.data), free(cw.data), free(tg), free(lse.data), free(loss.data), free(wsum.data), free(dl.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t ls[4] = {1, 3, 2, 4}, ts[3] = {1, 2, 4}, ks[1] = {3}, one[1] = {1};
    ds_tensor hl = ds_gpu_test_random(4, ls, 1, -1, 1), hk = ds_gpu_test_random(1, ks, 2, 0.5f, 1);
    int32_t tg[8] = {0, 1, 2, 255, 0, 7, 1, 2};  // 7 at image 0, row 1, column 1
    ds_tensor ht = ds_tensor_make(tg, DS_I32, (ds_device){DS_DEVICE_CPU, 0}, 3, ts);
    ds_tensor h1 = ds_gpu_test_host_zeros(1, one), hp = ds_gpu_test_host_zeros(3, ts);
    ds_tensor l = ds_gpu_test_upload(ctx, &hl, DS_F32), tgt = ds_gpu_test_upload(ctx, &ht, DS_I32);
    ds_tensor loss = ds_gpu_test_poisoned(ctx, &h1, DS_F32), ws = ds_gpu_test_poisoned(ctx, &h1, DS_F32);
    ds_tensor lse = ds_gpu_test_poisoned(ctx, &hp, DS_F32), cw16 = ds_gpu_test_upload(ctx, &hk, DS_BF16);
    ds_err_clear(&ctx->err);
    ds_pixel_ce_fwd_args f = {.logits = l, .targets = tgt, .loss = loss, .weight_sum = ws, .lse = lse, .ignore_index = 255};
    const ds_status s = ds_pixel_cross_entropy_forward(ctx, &f);
    ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "target 7 at image 0, row 1, column 1") != NULL,
                  "a bad target must be named by its pixel: %s", ctx->err.msg);
    ds_err_clear(&ctx->err);
    tg[5] = 1;
    ds_tensor tgt2 = ds_gpu_test_upload(ctx, &ht, DS_I32);
    ds_pixel_ce_fwd_args f2 = {.logits = l, .targets = tgt2, .class_weights = cw16, .loss = loss, .weight_sum = ws,
                               .lse = lse, .ignore_index = 255};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_pixel_cross_entropy_forward(ctx, &f2), "pixel_cross_entropy_forward",
                                   "class weights BF16");
    ds_gpu_test_free(ctx, &l), ds_gpu_test_free(ctx, &tgt), ds_gpu_test_free(ctx, &tgt2), ds_gpu_test_free(ctx, &loss);
    ds_gpu_test_free(ctx, &ws), ds_gpu_test_free(ctx, &lse), ds_gpu_test_free(ctx, &cw16);
    free(hl.data), free(hk.data), free(h1.data), free(hp.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_pixel_ce")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_pixel_ce");
    uint64_t seed = 1300;
    for (int vi = 0; vi < 2; vi++)
        for (int di = 0; di < 2; di++)
            for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++)
                for (int wt = 0; wt < 2; wt++)
                    for (int ig = 0; ig < 3; ig++)
                        check_case(&t, &ctx, k_cases[i], wt, ig, di ? DS_BF16 : DS_F32,
                                   vi ? DS_KERNELS_FAST : DS_KERNELS_PLAIN, seed += 10);
    ds_gpu_set_kernels(&ctx, DS_KERNELS_PLAIN);
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
