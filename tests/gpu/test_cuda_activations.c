// CUDA GELU (erf form) and tanh, forward and backward, against the CPU ops: F32 and BF16, both
// kernel variants, sizes that leave a vector tail (FAST) and a misaligned view (FAST falls back
// to the scalar kernel), outputs poisoned, run twice for bit-identical results, and dtype errors
// that name the op.
//
// Tolerances (tensor-relative, ds_test_close):
// - F32: CUDA's erff/expf/tanhf are within 2 ulp of the glibc ones the CPU calls, and each
//   result takes at most a few roundings more: ~1e-6, so 1e-5.
// - BF16: inputs rounded to bf16 on the host first (the CPU sees what the GPU reads); the GPU
//   rounds each output once to bf16 (8-bit mantissa, <= 2^-9 = 2e-3 relative), so 1e-2.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

// 1: a single element; 13: shorter than a vector of 8 bf16 plus a tail; 4099: many vectors and a
// 3-element tail; (7, 13, 769): a 3-D activation shape (the op only sees numel).
typedef struct {
    int ndim;
    int64_t shape[3];
} shape_t;
static const shape_t k_shapes[] = {{1, {1}}, {1, {13}}, {1, {4099}}, {3, {7, 13, 769}}};

typedef ds_status (*fwd_fn)(ds_context *, const ds_unary_fwd_args *);
typedef ds_status (*bwd_fn)(ds_context *, const ds_unary_bwd_args *);

// A device view one element past the start of d, with numel - 1 elements: 4 (F32) or 2 (BF16)
// bytes off a 16-byte boundary, so FAST must take its scalar fallback.

// One activation (gelu: the backward reads x; tanh: it reads y) for one shape, dtype, variant.
static void check_act(ds_test *t, ds_context *ctx, const char *name, fwd_fn fwd, bwd_fn bwd, bool bwd_reads_x,
                      shape_t sh, ds_dtype dt, ds_kernel_variant v, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    const double tol = bf ? 1e-2 : 1e-5;
    ds_tensor x = ds_gpu_test_random(sh.ndim, sh.shape, seed, -4, 4);
    ds_tensor dy = ds_gpu_test_random(sh.ndim, sh.shape, seed + 1, -1, 1);
    if (bf) ds_gpu_test_round_bf16(&x), ds_gpu_test_round_bf16(&dy);

    ds_tensor want_y = ds_gpu_test_host_zeros_like(&x), want_dx = ds_gpu_test_host_zeros_like(&x);
    ds_unary_fwd_args cf = {.x = x, .y = want_y};
    ds_status s = fwd(ctx, &cf);
    ds_test_check(t, s == DS_OK, "cpu %s forward: %s", name, ctx->err.msg);
    // tanh's backward reads the forward output; in BF16 it is stored rounded, so the CPU takes
    // the same rounded values.
    ds_tensor y_in = want_y;
    ds_tensor y_rounded = ds_gpu_test_host_zeros_like(&x);
    memcpy(y_rounded.data, want_y.data, (size_t)ds_tensor_numel(&x) * sizeof(float));
    if (bf) {
        ds_gpu_test_round_bf16(&y_rounded);
        y_in = y_rounded;
    }
    ds_unary_bwd_args cb = {.dy = dy, .dx = want_dx};
    if (bwd_reads_x) cb.x = x;
    else cb.y = y_in;
    s = bwd(ctx, &cb);
    ds_test_check(t, s == DS_OK, "cpu %s backward: %s", name, ctx->err.msg);

    char what[160], w2[200];
    snprintf(what, sizeof what, "%s %s %s numel %lld", name, ds_dtype_name(dt), v == DS_KERNELS_FAST ? "fast" : "plain",
             (long long)ds_tensor_numel(&x));
    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gdy = ds_gpu_test_upload(ctx, &dy, dt);
    // The backward takes the CPU's (rounded) forward output, not the GPU's, so that a one-ulp bf16
    // difference in y cannot move dx: each backward is checked on its own.
    ds_tensor gy_in = ds_gpu_test_upload(ctx, &y_in, dt);
    ds_tensor gy[2], gdx[2];
    for (int run = 0; run < 2; run++) {
        gy[run] = ds_gpu_test_poisoned(ctx, &x, dt);
        gdx[run] = ds_gpu_test_poisoned(ctx, &x, dt);
        ds_unary_fwd_args gf = {.x = gx, .y = gy[run]};
        s = fwd(ctx, &gf);
        ds_test_check(t, s == DS_OK, "%s forward run %d: %s", what, run, ctx->err.msg);
        ds_unary_bwd_args gb = {.dy = gdy, .dx = gdx[run]};
        if (bwd_reads_x) gb.x = gx;
        else gb.y = gy_in;
        s = bwd(ctx, &gb);
        ds_test_check(t, s == DS_OK, "%s backward run %d: %s", what, run, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s y", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gy[0], &want_y, tol);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gy[0], &gy[1]);
    snprintf(w2, sizeof w2, "%s dx", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &want_dx, tol);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gdx[0], &gdx[1]);

    // Misaligned views (elements 1..n-1): the result must equal the CPU's on those elements.
    if (ds_tensor_numel(&x) > 1) {
        ds_tensor vx = ds_gpu_test_offset_view(&gx), vy = ds_gpu_test_offset_view(&gy[1]);
        ds_gpu_memset(ctx, gy[1].data, 0xff, ds_tensor_nbytes(&gy[1]));
        ds_unary_fwd_args gf = {.x = vx, .y = vy};
        s = fwd(ctx, &gf);
        ds_test_check(t, s == DS_OK, "%s forward (offset view): %s", what, ctx->err.msg);
        const int64_t n1 = ds_tensor_numel(&x) - 1;
        ds_tensor want_tail = ds_tensor_cpu1((float *)want_y.data + 1, DS_F32, n1);
        snprintf(w2, sizeof w2, "%s y (offset view)", what);
        ds_gpu_test_expect_close(t, ctx, w2, &vy, &want_tail, tol);
    }

    for (int run = 0; run < 2; run++) ds_gpu_test_free(ctx, &gy[run]), ds_gpu_test_free(ctx, &gdx[run]);
    ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gdy), ds_gpu_test_free(ctx, &gy_in);
    free(x.data), free(dy.data), free(want_y.data), free(want_dx.data), free(y_rounded.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t n = 10, m = 9;
    ds_tensor h = ds_gpu_test_random(1, &n, 1, -1, 1), h9 = ds_gpu_test_random(1, &m, 1, -1, 1);
    ds_tensor x = ds_gpu_test_upload(ctx, &h, DS_F32), y16 = ds_gpu_test_poisoned(ctx, &h, DS_BF16);
    ds_tensor y9 = ds_gpu_test_poisoned(ctx, &h9, DS_F32);
    ds_err_clear(&ctx->err);
    ds_unary_fwd_args f = {.x = x, .y = y16};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_gelu_forward(ctx, &f), "gelu_forward", "y BF16 with x F32");
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_tanh_forward(ctx, &f), "tanh_forward", "y BF16 with x F32");
    ds_unary_fwd_args f9 = {.x = x, .y = y9};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_gelu_forward(ctx, &f9), "gelu_forward", "numel mismatch");
    ds_unary_bwd_args b = {.x = x, .y = x, .dy = x, .dx = y16};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_gelu_backward(ctx, &b), "gelu_backward", "dx BF16 with dy F32");
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_tanh_backward(ctx, &b), "tanh_backward", "dx BF16 with dy F32");
    ds_gpu_test_free(ctx, &x), ds_gpu_test_free(ctx, &y16), ds_gpu_test_free(ctx, &y9);
    free(h.data), free(h9.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_activations")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_activations");
    uint64_t seed = 300;
    for (int vi = 0; vi < 2; vi++) {
        const ds_kernel_variant v = vi ? DS_KERNELS_FAST : DS_KERNELS_PLAIN;
        ds_gpu_set_kernels(&ctx, v);
        for (int di = 0; di < 2; di++)
            for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++) {
                const ds_dtype dt = di ? DS_BF16 : DS_F32;
                check_act(&t, &ctx, "gelu", ds_gelu_forward, ds_gelu_backward, true, k_shapes[i], dt, v, seed += 10);
                check_act(&t, &ctx, "tanh", ds_tanh_forward, ds_tanh_backward, false, k_shapes[i], dt, v, seed += 10);
            }
    }
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
