// CUDA log-softmax against the CPU op: (N, C) = (1, 1), (7, 32) (the CTC head's vocabulary),
// (5, 1000), (3, 4099) (a tail past every multiple of the block), x in [-8, 8); F32 and BF16;
// backward fed the CPU's y (bf16-rounded in BF16); outputs poisoned; two runs bit-identical;
// errors (y BF16 with x F32).
// Tolerances (tensor-relative): F32 1e-5 (x - lse with the lse from a double sum of CUDA's
// double exp, within an ulp of the CPU's; dx = dy - exp(y) sum(dy) likewise); BF16 1e-2 (one
// bf16 rounding).
#include <stdio.h>
#include <stdlib.h>

#include "../gpu_test_util.h"

static const int64_t k_shapes[][2] = {{1, 1}, {7, 32}, {5, 1000}, {3, 4099}};

static void check_case(ds_test *t, ds_context *ctx, const int64_t *sh, ds_dtype dt, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    ds_tensor x = ds_gpu_test_random_rounded(2, sh, seed, -8, 8, bf), dy = ds_gpu_test_random_rounded(2, sh, seed + 1, -1, 1, bf);
    ds_tensor y = ds_gpu_test_host_zeros_like(&x), dx = ds_gpu_test_host_zeros_like(&x);
    ds_softmax_fwd_args cf = {.x = x, .y = y};
    ds_test_check(t, ds_log_softmax_forward(ctx, &cf) == DS_OK, "cpu log_softmax forward: %s", ctx->err.msg);
    if (bf) ds_gpu_test_round_bf16(&y);  // backward reads y as the BF16 forward stored it
    ds_softmax_bwd_args cb = {.y = y, .dy = dy, .dx = dx};
    ds_test_check(t, ds_log_softmax_backward(ctx, &cb) == DS_OK, "cpu log_softmax backward: %s", ctx->err.msg);
    char what[120], w2[160];
    snprintf(what, sizeof what, "log_softmax %lldx%lld %s", (long long)sh[0], (long long)sh[1], ds_dtype_name(dt));
    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gdy = ds_gpu_test_upload(ctx, &dy, dt), gyc = ds_gpu_test_upload(ctx, &y, dt);
    ds_tensor gy[2], gdx[2];
    for (int run = 0; run < 2; run++) {
        gy[run] = ds_gpu_test_poisoned(ctx, &x, dt), gdx[run] = ds_gpu_test_poisoned(ctx, &x, dt);
        ds_softmax_fwd_args f = {.x = gx, .y = gy[run]};
        ds_test_check(t, ds_log_softmax_forward(ctx, &f) == DS_OK, "%s forward: %s", what, ctx->err.msg);
        ds_softmax_bwd_args b = {.y = gyc, .dy = gdy, .dx = gdx[run]};
        ds_test_check(t, ds_log_softmax_backward(ctx, &b) == DS_OK, "%s backward: %s", what, ctx->err.msg);
    }
    const double tol = bf ? 1e-2 : 1e-5;
    snprintf(w2, sizeof w2, "%s y", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gy[0], &y, tol);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gy[0], &gy[1]);
    snprintf(w2, sizeof w2, "%s dx", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &dx, tol);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gdx[0], &gdx[1]);
    for (int run = 0; run < 2; run++) ds_gpu_test_free(ctx, &gy[run]), ds_gpu_test_free(ctx, &gdx[run]);
    ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gdy), ds_gpu_test_free(ctx, &gyc);
    free(x.data), free(dy.data), free(y.data), free(dx.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_log_softmax")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_log_softmax");
    uint64_t seed = 1800;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        for (int di = 0; di < 2; di++) check_case(&t, &ctx, k_shapes[i], di ? DS_BF16 : DS_F32, seed += 10);
    const int64_t sh[2] = {2, 3};
    ds_tensor hx = ds_gpu_test_random(2, sh, 1, -1, 1);
    ds_tensor x = ds_gpu_test_upload(&ctx, &hx, DS_F32), y = ds_gpu_test_poisoned(&ctx, &hx, DS_BF16);
    ds_softmax_fwd_args f = {.x = x, .y = y};
    ds_gpu_test_expect_invalid_arg(&t, &ctx, ds_log_softmax_forward(&ctx, &f), "log_softmax_forward", "y BF16, x F32");
    ds_gpu_test_free(&ctx, &x), ds_gpu_test_free(&ctx, &y);
    free(hx.data);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
