// CUDA ReLU (forward and backward from the output, in place and not, NaN kept) and channel copy
// (ASPP's concatenation and its backward, with and without accumulate, aligned and odd slices)
// against the CPU ops; F32 and BF16; PLAIN and FAST (odd sizes and offsets take FAST's scalar
// fallback); outputs poisoned; two runs bit-identical; errors named.
//
// Tolerances: ReLU and a plain copy move values unchanged: exact (0) in both dtypes. The
// accumulating copy adds two fp32 values once: exact in F32 (0); BF16 rounds the sum once: 1e-2.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../gpu_test_util.h"

static void check_relu(ds_test *t, ds_context *ctx, int64_t n, ds_dtype dt, ds_kernel_variant v, bool in_place,
                       uint64_t seed) {
    const bool bf = dt == DS_BF16;
    ds_gpu_set_kernels(ctx, v);
    const int64_t s1[1] = {n};
    ds_tensor x = ds_gpu_test_random_rounded(1, s1, seed, -2, 2, bf), dy = ds_gpu_test_random_rounded(1, s1, seed + 1, -1, 1, bf);
    ((float *)x.data)[n / 2] = NAN;
    ((float *)x.data)[0] = 0.0f;
    ds_tensor y = ds_gpu_test_host_zeros(1, s1), dx = ds_gpu_test_host_zeros(1, s1);
    ds_unary_fwd_args cf = {.x = x, .y = y};
    ds_unary_bwd_args cb = {.y = y, .dy = dy, .dx = dx};
    ds_test_check(t, ds_relu_forward(ctx, &cf) == DS_OK && ds_relu_backward(ctx, &cb) == DS_OK, "cpu relu: %s",
                  ctx->err.msg);
    char what[160], w2[200];
    snprintf(what, sizeof what, "relu n%lld%s [%s %s]", (long long)n, in_place ? " in place" : "", ds_dtype_name(dt),
             ds_gpu_test_variant_name(v));
    ds_tensor gy[2], gdx[2];
    for (int run = 0; run < 2; run++) {
        ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gdy = ds_gpu_test_upload(ctx, &dy, dt);
        gy[run] = in_place ? gx : ds_gpu_test_poisoned(ctx, &x, dt);
        gdx[run] = in_place ? gdy : ds_gpu_test_poisoned(ctx, &x, dt);
        ds_unary_fwd_args f = {.x = gx, .y = gy[run]};
        ds_test_check(t, ds_relu_forward(ctx, &f) == DS_OK, "%s forward: %s", what, ctx->err.msg);
        ds_unary_bwd_args b = {.y = gy[run], .dy = gdy, .dx = gdx[run]};
        ds_test_check(t, ds_relu_backward(ctx, &b) == DS_OK, "%s backward: %s", what, ctx->err.msg);
        if (!in_place) ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gdy);
    }
    snprintf(w2, sizeof w2, "%s y", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gy[0], &y, 0);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gy[0], &gy[1]);
    snprintf(w2, sizeof w2, "%s dx", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &dx, 0);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gdx[0], &gdx[1]);
    for (int run = 0; run < 2; run++) ds_gpu_test_free(ctx, &gy[run]), ds_gpu_test_free(ctx, &gdx[run]);
    free(x.data), free(dy.data), free(y.data), free(dx.data);
}

typedef struct copy_case {
    int64_t N, Cs, Cd, H, W, src_c0, dst_c0, channels;
} copy_case;

// Aligned ASPP-like slices (HW a multiple of 8), odd HW, and an odd channel offset.
static const copy_case k_copies[] = {
    {2, 16, 80, 4, 4, 0, 32, 16}, {2, 80, 16, 4, 4, 48, 0, 16}, {3, 5, 9, 3, 5, 1, 4, 3}, {1, 7, 7, 8, 8, 3, 1, 4},
};

static void check_copy(ds_test *t, ds_context *ctx, copy_case c, bool acc, ds_dtype dt, ds_kernel_variant v,
                       uint64_t seed) {
    const bool bf = dt == DS_BF16;
    ds_gpu_set_kernels(ctx, v);
    const int64_t ss[4] = {c.N, c.Cs, c.H, c.W}, ds[4] = {c.N, c.Cd, c.H, c.W};
    ds_tensor src = ds_gpu_test_random_rounded(4, ss, seed, -1, 1, bf), dst0 = ds_gpu_test_random_rounded(4, ds, seed + 1, -1, 1, bf);
    ds_tensor want = ds_gpu_test_host_copy(&dst0);
    ds_channel_copy_args ca = {.src = src, .dst = want, .src_c0 = c.src_c0, .dst_c0 = c.dst_c0, .channels = c.channels,
                               .accumulate = acc};
    ds_test_check(t, ds_channel_copy(ctx, &ca) == DS_OK, "cpu channel_copy: %s", ctx->err.msg);
    char what[200], w2[240];
    snprintf(what, sizeof what, "channel_copy %lld->%lld ch [%lld, +%lld) -> [%lld, ...) %dx%d acc%d [%s %s]",
             (long long)c.Cs, (long long)c.Cd, (long long)c.src_c0, (long long)c.channels, (long long)c.dst_c0, (int)c.H,
             (int)c.W, (int)acc, ds_dtype_name(dt), ds_gpu_test_variant_name(v));
    ds_tensor gs = ds_gpu_test_upload(ctx, &src, dt), gd[2];
    for (int run = 0; run < 2; run++) {
        gd[run] = ds_gpu_test_upload(ctx, &dst0, dt);
        ds_channel_copy_args a = {.src = gs, .dst = gd[run], .src_c0 = c.src_c0, .dst_c0 = c.dst_c0,
                                  .channels = c.channels, .accumulate = acc};
        ds_test_check(t, ds_channel_copy(ctx, &a) == DS_OK, "%s: %s", what, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s dst", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gd[0], &want, acc && bf ? 1e-2 : 0);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gd[0], &gd[1]);
    ds_gpu_test_free(ctx, &gs), ds_gpu_test_free(ctx, &gd[0]), ds_gpu_test_free(ctx, &gd[1]);
    free(src.data), free(dst0.data), free(want.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t s4[4] = {1, 4, 2, 2};
    ds_tensor h = ds_gpu_test_random(4, s4, 1, -1, 1);
    ds_tensor a = ds_gpu_test_upload(ctx, &h, DS_F32), b16 = ds_gpu_test_poisoned(ctx, &h, DS_BF16);
    ds_err_clear(&ctx->err);
    ds_unary_fwd_args f = {.x = a, .y = b16};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_relu_forward(ctx, &f), "relu_forward", "y BF16 with x F32");
    ds_channel_copy_args c1 = {.src = a, .dst = a, .channels = 1, .dst_c0 = 2};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_channel_copy(ctx, &c1), "channel_copy", "src and dst overlap");
    ds_tensor d = ds_gpu_test_poisoned(ctx, &h, DS_F32);
    ds_channel_copy_args c2 = {.src = a, .dst = d, .channels = 3, .src_c0 = 2};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_channel_copy(ctx, &c2), "channel_copy", "slice out of range");
    ds_gpu_test_free(ctx, &a), ds_gpu_test_free(ctx, &b16), ds_gpu_test_free(ctx, &d);
    free(h.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_relu_copy")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_relu_copy");
    uint64_t seed = 1500;
    static const int64_t sizes[] = {1, 13, 4099, 8 * 64};
    for (int vi = 0; vi < 2; vi++)
        for (int di = 0; di < 2; di++) {
            const ds_dtype dt = di ? DS_BF16 : DS_F32;
            const ds_kernel_variant v = vi ? DS_KERNELS_FAST : DS_KERNELS_PLAIN;
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
                for (int ip = 0; ip < 2; ip++) check_relu(&t, &ctx, sizes[i], dt, v, ip, seed += 10);
            for (size_t i = 0; i < sizeof k_copies / sizeof k_copies[0]; i++)
                for (int acc = 0; acc < 2; acc++) check_copy(&t, &ctx, k_copies[i], acc, dt, v, seed += 10);
        }
    ds_gpu_set_kernels(&ctx, DS_KERNELS_PLAIN);
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
