// CUDA bilinear interpolation against the CPU op: forward and the deterministic (gather) backward,
// upsampling by 8 (DeepLab's logits to the input size), downsampling, odd ratios, one size kept and
// the other changed, 1 -> n and n -> 1 rows, align_corners false and true; F32 and BF16; PLAIN and
// FAST (precomputed source tables); outputs poisoned; two runs bit-identical; errors named.
//
// Tolerances (tensor-relative): F32 forward and backward repeat the CPU's fp32 operations in the
// same order without FMA contraction (source indices and weights from the same expression, the
// backward's gather adding in the CPU scatter's order): identical in practice; 1e-6 (any wrong
// source row or weight errs by O(1)). BF16: inputs pre-rounded, each output rounded to bf16 once:
// <= 2^-9; 1e-2.
#include <stdio.h>
#include <stdlib.h>

#include "../gpu_test_util.h"

typedef struct interp_case {
    int64_t N, C, H, W, OH, OW;
} interp_case;

static const interp_case k_cases[] = {
    {2, 3, 5, 7, 40, 56},   // x8 up (DeepLab: logits at output stride 8 to the image size)
    {1, 2, 33, 45, 9, 13},  // down, uneven ratios
    {2, 2, 7, 6, 10, 6},    // one axis up, the other unchanged
    {1, 3, 1, 9, 5, 4},     // a single input row up, columns down
    {1, 1, 6, 1, 1, 5},     // to one output row; one input column
    {1, 2, 11, 11, 11, 11}, // same size (identity)
    {3, 1, 13, 17, 31, 7},  // odd everything
};

static void check_case(ds_test *t, ds_context *ctx, interp_case c, bool align, ds_dtype dt, ds_kernel_variant v,
                       uint64_t seed) {
    const bool bf = dt == DS_BF16;
    ds_gpu_set_kernels(ctx, v);
    const int64_t xs[4] = {c.N, c.C, c.H, c.W}, ys[4] = {c.N, c.C, c.OH, c.OW};
    ds_tensor x = ds_gpu_test_random_rounded(4, xs, seed, -1, 1, bf), dy = ds_gpu_test_random_rounded(4, ys, seed + 1, -1, 1, bf);
    ds_tensor y = ds_gpu_test_host_zeros(4, ys), dx = ds_gpu_test_host_zeros(4, xs);
    ds_interpolate_args cf = {.x = x, .y = y, .align_corners = align}, cb = {.x = dy, .y = dx, .align_corners = align};
    ds_test_check(t, ds_interpolate_forward(ctx, &cf) == DS_OK, "cpu interpolate_forward: %s", ctx->err.msg);
    ds_test_check(t, ds_interpolate_backward(ctx, &cb) == DS_OK, "cpu interpolate_backward: %s", ctx->err.msg);
    char what[200], w2[260];
    snprintf(what, sizeof what, "interpolate (%lld, %lld) -> (%lld, %lld) align %d [%s %s]", (long long)c.H,
             (long long)c.W, (long long)c.OH, (long long)c.OW, (int)align, ds_dtype_name(dt), ds_gpu_test_variant_name(v));
    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gdy = ds_gpu_test_upload(ctx, &dy, dt);
    ds_tensor gy[2], gdx[2];
    for (int run = 0; run < 2; run++) {
        gy[run] = ds_gpu_test_poisoned(ctx, &y, dt), gdx[run] = ds_gpu_test_poisoned(ctx, &x, dt);
        ds_interpolate_args f = {.x = gx, .y = gy[run], .align_corners = align};
        ds_interpolate_args b = {.x = gdy, .y = gdx[run], .align_corners = align};
        ds_test_check(t, ds_interpolate_forward(ctx, &f) == DS_OK, "%s forward: %s", what, ctx->err.msg);
        ds_test_check(t, ds_interpolate_backward(ctx, &b) == DS_OK, "%s backward: %s", what, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s y", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gy[0], &y, bf ? 1e-2 : 1e-6);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gy[0], &gy[1]);
    snprintf(w2, sizeof w2, "%s dx", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &dx, bf ? 1e-2 : 1e-6);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gdx[0], &gdx[1]);
    for (int run = 0; run < 2; run++) ds_gpu_test_free(ctx, &gy[run]), ds_gpu_test_free(ctx, &gdx[run]);
    ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gdy);
    free(x.data), free(dy.data), free(y.data), free(dx.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t xs[4] = {1, 2, 3, 3}, ys[4] = {1, 2, 6, 6}, yc[4] = {1, 3, 6, 6};
    ds_tensor hx = ds_gpu_test_random(4, xs, 1, -1, 1), hy = ds_gpu_test_random(4, ys, 2, -1, 1);
    ds_tensor hc = ds_gpu_test_random(4, yc, 3, -1, 1);
    ds_tensor x = ds_gpu_test_upload(ctx, &hx, DS_F32), y16 = ds_gpu_test_poisoned(ctx, &hy, DS_BF16);
    ds_tensor yc3 = ds_gpu_test_poisoned(ctx, &hc, DS_F32);
    ds_err_clear(&ctx->err);
    ds_interpolate_args a = {.x = x, .y = y16};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_interpolate_forward(ctx, &a), "interpolate_forward", "y BF16 with x F32");
    ds_interpolate_args b = {.x = x, .y = yc3};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_interpolate_backward(ctx, &b), "interpolate_backward", "channel mismatch");
    ds_gpu_test_free(ctx, &x), ds_gpu_test_free(ctx, &y16), ds_gpu_test_free(ctx, &yc3);
    free(hx.data), free(hy.data), free(hc.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_interpolate")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_interpolate");
    uint64_t seed = 1100;
    for (int vi = 0; vi < 2; vi++)
        for (int di = 0; di < 2; di++)
            for (int al = 0; al < 2; al++)
                for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++)
                    check_case(&t, &ctx, k_cases[i], al, di ? DS_BF16 : DS_F32, vi ? DS_KERNELS_FAST : DS_KERNELS_PLAIN,
                               seed += 10);
    ds_gpu_set_kernels(&ctx, DS_KERNELS_PLAIN);
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
