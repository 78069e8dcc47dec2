// CUDA SpecAugment masking against the CPU op: (B, T, C) = (2, 7, 5), (3, 50, 768) and (1, 1, 1);
// both masks, time mask only, feature mask only, none; ~30% of time steps and features masked;
// F32 and BF16 activations (embed and dembed F32); out of place and in place (y = x, dx = dy);
// dembed absent, overwritten (poisoned) and accumulated (random start); two runs bit-identical; a
// mask holding 2 is an error naming the element, and nothing is written.
// Tolerances: y and dx are copies, zeros or embed values: exact (0), in BF16 after the same
// rounding of x / embed; dembed 1e-5 (double sums in another order, rounded once to fp32).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

static const int64_t k_shapes[][3] = {{2, 7, 5}, {3, 50, 768}, {1, 1, 1}};

// A host I32 (rows, cols) mask with ~30% ones (calloc'd).
static ds_tensor make_mask(int64_t rows, int64_t cols, uint64_t seed) {
    const int64_t s[2] = {rows, cols};
    int32_t *m = calloc((size_t)(rows * cols), sizeof(int32_t));
    for (int64_t i = 0; i < rows * cols; i++) m[i] = ds_gpu_test_splitmix64(&seed) % 10 < 3;
    return ds_tensor_make(m, DS_I32, (ds_device){DS_DEVICE_CPU, 0}, 2, s);
}

static void check_case(ds_test *t, ds_context *ctx, const int64_t *sh, int masks, ds_dtype dt, bool in_place,
                       int de_mode, uint64_t seed) {
    const bool bf = dt == DS_BF16, has_tm = masks & 1, has_fm = masks & 2;
    const int64_t cs[1] = {sh[2]};
    ds_tensor x = ds_gpu_test_random_rounded(3, sh, seed, -1, 1, bf), dy = ds_gpu_test_random_rounded(3, sh, seed + 1, -1, 1, bf);
    ds_tensor embed = ds_gpu_test_random_rounded(1, cs, seed + 2, -1, 1, bf), de0 = ds_gpu_test_random(1, cs, seed + 3, -1, 1);
    ds_tensor tm = make_mask(sh[0], sh[1], seed + 4), fm = make_mask(sh[0], sh[2], seed + 5);
    ds_tensor y = ds_gpu_test_host_zeros_like(&x), dx = ds_gpu_test_host_zeros_like(&x), de = ds_gpu_test_host_copy(&de0);
    const ds_tensor none = {0};
    ds_spec_augment_fwd_args cf = {.x = x, .time_mask = has_tm ? tm : none, .feature_mask = has_fm ? fm : none,
                                   .embed = embed, .y = y};
    ds_test_check(t, ds_spec_augment_forward(ctx, &cf) == DS_OK, "cpu spec_augment forward: %s", ctx->err.msg);
    ds_spec_augment_bwd_args cb = {.dy = dy, .time_mask = cf.time_mask, .feature_mask = cf.feature_mask, .dx = dx,
                                   .dembed = de_mode ? de : none, .accumulate = de_mode == 2};
    ds_test_check(t, ds_spec_augment_backward(ctx, &cb) == DS_OK, "cpu spec_augment backward: %s", ctx->err.msg);

    char what[160], w2[220];
    snprintf(what, sizeof what, "spec_augment %lldx%lldx%lld%s%s %s%s dembed %s", (long long)sh[0], (long long)sh[1],
             (long long)sh[2], has_tm ? " time" : "", has_fm ? " feature" : "", ds_dtype_name(dt),
             in_place ? " in place" : "", de_mode == 0 ? "absent" : de_mode == 1 ? "set" : "accumulated");
    ds_tensor gtm = ds_gpu_test_upload(ctx, &tm, DS_I32), gfm = ds_gpu_test_upload(ctx, &fm, DS_I32);
    ds_tensor gemb = ds_gpu_test_upload(ctx, &embed, DS_F32);
    ds_tensor gy[2], gdx[2], gde[2], gx[2], gdy[2];
    for (int run = 0; run < 2; run++) {
        gx[run] = ds_gpu_test_upload(ctx, &x, dt), gdy[run] = ds_gpu_test_upload(ctx, &dy, dt);
        gy[run] = in_place ? gx[run] : ds_gpu_test_poisoned(ctx, &x, dt);
        gdx[run] = in_place ? gdy[run] : ds_gpu_test_poisoned(ctx, &x, dt);
        gde[run] = de_mode == 2 ? ds_gpu_test_upload(ctx, &de0, DS_F32) : ds_gpu_test_poisoned(ctx, &de0, DS_F32);
        ds_spec_augment_fwd_args f = {.x = gx[run], .time_mask = has_tm ? gtm : none,
                                      .feature_mask = has_fm ? gfm : none, .embed = gemb, .y = gy[run]};
        ds_test_check(t, ds_spec_augment_forward(ctx, &f) == DS_OK, "%s forward: %s", what, ctx->err.msg);
        ds_spec_augment_bwd_args b = {.dy = gdy[run], .time_mask = f.time_mask, .feature_mask = f.feature_mask,
                                      .dx = gdx[run], .dembed = de_mode ? gde[run] : none, .accumulate = de_mode == 2};
        ds_test_check(t, ds_spec_augment_backward(ctx, &b) == DS_OK, "%s backward: %s", what, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s y", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gy[0], &y, 0);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gy[0], &gy[1]);
    snprintf(w2, sizeof w2, "%s dx", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &dx, 0);
    if (de_mode) {
        snprintf(w2, sizeof w2, "%s dembed", what);
        ds_gpu_test_expect_close(t, ctx, w2, &gde[0], &de, 1e-5);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gde[0], &gde[1]);
    }
    for (int run = 0; run < 2; run++) {
        if (!in_place) ds_gpu_test_free(ctx, &gy[run]), ds_gpu_test_free(ctx, &gdx[run]);
        ds_gpu_test_free(ctx, &gx[run]), ds_gpu_test_free(ctx, &gdy[run]), ds_gpu_test_free(ctx, &gde[run]);
    }
    ds_gpu_test_free(ctx, &gtm), ds_gpu_test_free(ctx, &gfm), ds_gpu_test_free(ctx, &gemb);
    free(x.data), free(dy.data), free(embed.data), free(de0.data), free(tm.data), free(fm.data), free(y.data);
    free(dx.data), free(de.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t xs[3] = {2, 3, 4}, cs[1] = {4};
    ds_tensor hx = ds_gpu_test_random(3, xs, 1, -1, 1), he = ds_gpu_test_random(1, cs, 2, -1, 1);
    ds_tensor tm = make_mask(2, 3, 3);
    ((int32_t *)tm.data)[4] = 2;
    ds_tensor x = ds_gpu_test_upload(ctx, &hx, DS_F32), y = ds_gpu_test_poisoned(ctx, &hx, DS_F32);
    ds_tensor e = ds_gpu_test_upload(ctx, &he, DS_F32), gtm = ds_gpu_test_upload(ctx, &tm, DS_I32);
    ds_spec_augment_fwd_args f = {.x = x, .time_mask = gtm, .embed = e, .y = y};
    ds_err_clear(&ctx->err);
    const ds_status s = ds_spec_augment_forward(ctx, &f);
    ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "time_mask[4] = 2 is not 0 or 1") != NULL,
                  "a bad mask value must be named: %s", ctx->err.msg);
    ds_err_clear(&ctx->err);
    ds_tensor hy = ds_gpu_test_download(ctx, &y);
    ds_test_check(t, ((uint32_t *)hy.data)[0] == 0xffffffffu, "a failed spec_augment must write nothing");
    ds_gpu_test_free(ctx, &x), ds_gpu_test_free(ctx, &y), ds_gpu_test_free(ctx, &e), ds_gpu_test_free(ctx, &gtm);
    free(hx.data), free(he.data), free(tm.data), free(hy.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_spec_augment")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_spec_augment");
    uint64_t seed = 1700;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        for (int masks = 0; masks < 4; masks++)
            for (int di = 0; di < 2; di++)
                for (int ip = 0; ip < 2; ip++)
                    for (int de = 0; de < 3; de++)
                        check_case(&t, &ctx, k_shapes[i], masks, di ? DS_BF16 : DS_F32, ip, de, seed += 10);
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
