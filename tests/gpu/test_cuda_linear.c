// CUDA linear (cuBLASLt) against the CPU op: forward (with and without bias, F32 and BF16 bias
// for BF16, an F32 bias not 16-byte aligned), backward (dx, dw, db; accumulate on and off), linear + GELU (kernels/cuda_fused.h),
// in F32 and BF16, with both kernel variants (they differ in db's column-sum kernel), outputs
// poisoned, run twice for bit-identical results, and dtype errors that name the op.
//
// Tolerances (tensor-relative, ds_test_close):
// - F32 (TF32 off, the default): cuBLASLt and OpenBLAS both accumulate in fp32, in different
//   orders; for K <= 768 random inputs the difference is ~sqrt(K) 2^-24 of the output scale
//   (~1e-6), so 1e-5 leaves a 10x margin and still catches any indexing or transpose error (O(1)).
// - BF16 outputs (y, dx, pre_gelu): the inputs are rounded to bf16 on the host first, so the CPU
//   sees exactly what the GPU reads; the GPU rounds each output once to bf16 (8-bit mantissa,
//   relative error <= 2^-9 = 2e-3; an F32 bias is rounded to bf16 once more, <= 2^-9 |b|), so 1e-2.
// - F32 gradients from BF16 inputs (dw): identical inputs, exact bf16 products, fp32
//   accumulation on both sides; only the summation order differs, so 1e-4 (10x looser than F32
//   for the tensor cores' accumulation order, still far below any real error).
// - db: column sums in double on both sides, rounded once to F32: 1e-5.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/cuda_fused.h"
#include "../gpu_test_util.h"

typedef struct {
    int64_t n, m, k;
} dims;

// Odd shapes, one with a single row and column, BERT's hidden size as K or M, and an empty sum
// (K = 0: y = b, dw and dx empty, db still the column sums), and M = 600000: more columns than
// the FAST db partials fit in the scratch (one chunk, written directly), and with BF16 y and an
// F32 bias more than the scratch holds as bf16 (GEMM, then a separate bias kernel).
static const dims k_dims[] = {{1, 1, 1}, {7, 13, 5}, {13, 37, 768}, {33, 768, 64}, {5, 3, 0}, {2, 600000, 1}};

// Bit-identical device tensors (bf16 widens to f32 injectively, so comparing the widened values'
// bytes compares the bf16 bits).

// Forward (bias absent / F32 / BF16) and linear + GELU for one shape, dtype and variant.
static void check_forward(ds_test *t, ds_context *ctx, dims d, ds_dtype dt, ds_kernel_variant v, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    const double tol = bf ? 1e-2 : 1e-5;
    const int64_t xs[2] = {d.n, d.k}, ws[2] = {d.m, d.k}, bs[1] = {d.m};
    ds_tensor x = ds_gpu_test_random_rounded(2, xs, seed, -1, 1, bf),
              w = ds_gpu_test_random_rounded(2, ws, seed + 1, -1, 1, bf);
    ds_tensor b = ds_gpu_test_random(1, bs, seed + 2, -1, 1);
    ds_tensor b_rounded = ds_gpu_test_host_copy(&b);
    ds_gpu_test_round_bf16(&b_rounded);
    ds_tensor dx = ds_gpu_test_upload(ctx, &x, dt), dw = ds_gpu_test_upload(ctx, &w, dt);
    // Bias variants: 0 absent, 1 F32, 2 BF16 (BF16 only with BF16 activations).
    for (int bias = 0; bias < (bf ? 3 : 2); bias++) {
        const ds_tensor *hb = bias == 2 ? &b_rounded : &b;
        ds_tensor want = ds_tensor_cpu2(calloc((size_t)(d.n * d.m > 0 ? d.n * d.m : 1), 4), DS_F32, d.n, d.m);
        ds_linear_fwd_args ca = {.x = x, .w = w, .y = want};
        if (bias) ca.b = *hb;
        ds_status s = ds_linear_forward(ctx, &ca);
        ds_test_check(t, s == DS_OK, "cpu linear_forward: %s", ctx->err.msg);

        ds_tensor db = {0};
        if (bias) db = ds_gpu_test_upload(ctx, hb, bias == 2 ? DS_BF16 : DS_F32);
        ds_tensor y1 = ds_gpu_test_poisoned(ctx, &want, dt), y2 = ds_gpu_test_poisoned(ctx, &want, dt);
        ds_linear_fwd_args ga = {.x = dx, .w = dw, .b = db, .y = y1};
        char what[160];
        snprintf(what, sizeof what, "linear fwd %s %s N%lld M%lld K%lld bias%d y", ds_dtype_name(dt),
                 ds_gpu_test_variant_name(v), (long long)d.n, (long long)d.m, (long long)d.k, bias);
        s = ds_linear_forward(ctx, &ga);
        ds_test_check(t, s == DS_OK, "%s: %s", what, ctx->err.msg);
        ds_gpu_test_expect_close(t, ctx, what, &y1, &want, tol);
        ga.y = y2;
        s = ds_linear_forward(ctx, &ga);
        ds_test_check(t, s == DS_OK, "%s (second run): %s", what, ctx->err.msg);
        ds_gpu_test_expect_same_bits(t, ctx, what, &y1, &y2);

        if (bias == 1) {
            // The same F32 bias 4 bytes past a 16-byte boundary (a slice of a larger buffer): the op
            // must not hand it to the epilogue as is (staged in the scratch, or added separately).
            const int64_t m1 = d.m + 1;
            ds_tensor hb1 = ds_tensor_cpu1(calloc((size_t)m1, sizeof(float)), DS_F32, m1);
            memcpy((float *)hb1.data + 1, b.data, (size_t)d.m * sizeof(float));
            ds_tensor gb1 = ds_gpu_test_upload(ctx, &hb1, DS_F32);
            ga.b = ds_tensor_make((char *)gb1.data + sizeof(float), DS_F32, gb1.device, 1, &d.m);
            ds_gpu_memset(ctx, y2.data, 0xff, ds_tensor_nbytes(&y2));
            ga.y = y2;
            s = ds_linear_forward(ctx, &ga);
            ds_test_check(t, s == DS_OK, "%s (misaligned bias): %s", what, ctx->err.msg);
            char w3[200];
            snprintf(w3, sizeof w3, "%s (misaligned bias)", what);
            ds_gpu_test_expect_close(t, ctx, w3, &y2, &want, tol);
            ga.b = db;
            ds_gpu_test_free(ctx, &gb1);
            free(hb1.data);
        }

        // linear + GELU: pre_gelu = the linear output, y = gelu(pre_gelu) with the CPU's exact GELU.
        // With BF16 the GPU applies GELU to the bf16-rounded pre_gelu; |gelu'| <= 1.13, so the
        // difference stays within the bf16 tolerance.
        ds_tensor want_g = ds_gpu_test_host_zeros_like(&want);
        ds_unary_fwd_args cg = {.x = want, .y = want_g};
        s = ds_gelu_forward(ctx, &cg);
        ds_test_check(t, s == DS_OK, "cpu gelu_forward: %s", ctx->err.msg);
        ds_tensor pre = ds_gpu_test_poisoned(ctx, &want, dt), yg = ds_gpu_test_poisoned(ctx, &want, dt);
        ga.y = yg;
        snprintf(what, sizeof what, "linear_gelu %s %s N%lld M%lld K%lld bias%d", ds_dtype_name(dt),
                 ds_gpu_test_variant_name(v), (long long)d.n, (long long)d.m, (long long)d.k, bias);
        s = ds_cuda_linear_gelu_forward(ctx, &ga, pre);
        ds_test_check(t, s == DS_OK, "%s: %s", what, ctx->err.msg);
        char w2[200];
        snprintf(w2, sizeof w2, "%s pre_gelu", what);
        ds_gpu_test_expect_close(t, ctx, w2, &pre, &want, tol);
        snprintf(w2, sizeof w2, "%s y", what);
        ds_gpu_test_expect_close(t, ctx, w2, &yg, &want_g, tol);

        ds_gpu_test_free(ctx, &pre);
        ds_gpu_test_free(ctx, &yg);
        free(want_g.data);
        ds_gpu_test_free(ctx, &y1);
        ds_gpu_test_free(ctx, &y2);
        if (bias) ds_gpu_test_free(ctx, &db);
        free(want.data);
    }
    ds_gpu_test_free(ctx, &dx);
    ds_gpu_test_free(ctx, &dw);
    free(x.data);
    free(w.data);
    free(b.data);
    free(b_rounded.data);
}

// Backward for one shape, dtype, variant and accumulate flag.
static void check_backward(ds_test *t, ds_context *ctx, dims d, ds_dtype dt, ds_kernel_variant v, bool accumulate,
                           uint64_t seed) {
    const bool bf = dt == DS_BF16;
    const int64_t xs[2] = {d.n, d.k}, ws[2] = {d.m, d.k}, bs[1] = {d.m}, ys[2] = {d.n, d.m};
    ds_tensor x = ds_gpu_test_random_rounded(2, xs, seed, -1, 1, bf),
              w = ds_gpu_test_random_rounded(2, ws, seed + 1, -1, 1, bf);
    ds_tensor dy = ds_gpu_test_random_rounded(2, ys, seed + 2, -1, 1, bf);
    ds_tensor dw0 = ds_gpu_test_random(2, ws, seed + 3, -1, 1), db0 = ds_gpu_test_random(1, bs, seed + 4, -1, 1);

    ds_tensor want_dx = ds_gpu_test_host_zeros_like(&x), want_dw = ds_gpu_test_host_copy(&dw0),
              want_db = ds_gpu_test_host_copy(&db0);
    ds_linear_bwd_args ca = {.x = x, .w = w, .dy = dy, .dx = want_dx, .dw = want_dw, .db = want_db,
                             .accumulate = accumulate};
    ds_status s = ds_linear_backward(ctx, &ca);
    ds_test_check(t, s == DS_OK, "cpu linear_backward: %s", ctx->err.msg);

    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gw = ds_gpu_test_upload(ctx, &w, dt);
    ds_tensor gdy = ds_gpu_test_upload(ctx, &dy, dt);
    char what[160], w2[200];
    snprintf(what, sizeof what, "linear bwd %s %s N%lld M%lld K%lld acc%d", ds_dtype_name(dt),
             ds_gpu_test_variant_name(v), (long long)d.n, (long long)d.m, (long long)d.k, (int)accumulate);
    ds_tensor gdx[2], gdw[2], gdb[2];
    for (int run = 0; run < 2; run++) {
        gdx[run] = ds_gpu_test_poisoned(ctx, &x, dt);
        // With accumulate the parameter gradients start from dw0/db0; without, from poison.
        gdw[run] = accumulate ? ds_gpu_test_upload(ctx, &dw0, DS_F32) : ds_gpu_test_poisoned(ctx, &dw0, DS_F32);
        gdb[run] = accumulate ? ds_gpu_test_upload(ctx, &db0, DS_F32) : ds_gpu_test_poisoned(ctx, &db0, DS_F32);
        ds_linear_bwd_args ga = {.x = gx, .w = gw, .dy = gdy, .dx = gdx[run], .dw = gdw[run], .db = gdb[run],
                                 .accumulate = accumulate};
        s = ds_linear_backward(ctx, &ga);
        ds_test_check(t, s == DS_OK, "%s run %d: %s", what, run, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s dx", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &want_dx, bf ? 1e-2 : 1e-5);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gdx[0], &gdx[1]);
    snprintf(w2, sizeof w2, "%s dw", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdw[0], &want_dw, bf ? 1e-4 : 1e-5);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gdw[0], &gdw[1]);
    snprintf(w2, sizeof w2, "%s db", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdb[0], &want_db, 1e-5);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gdb[0], &gdb[1]);

    // dx and db absent (a first layer without bias): dw alone must still be right.
    ds_tensor gdw_only = accumulate ? ds_gpu_test_upload(ctx, &dw0, DS_F32) : ds_gpu_test_poisoned(ctx, &dw0, DS_F32);
    ds_linear_bwd_args gb = {.x = gx, .w = gw, .dy = gdy, .dw = gdw_only, .accumulate = accumulate};
    s = ds_linear_backward(ctx, &gb);
    ds_test_check(t, s == DS_OK, "%s (no dx, no db): %s", what, ctx->err.msg);
    snprintf(w2, sizeof w2, "%s dw (no dx/db)", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdw_only, &want_dw, bf ? 1e-4 : 1e-5);

    ds_gpu_test_free(ctx, &gdw_only);
    for (int run = 0; run < 2; run++) {
        ds_gpu_test_free(ctx, &gdx[run]);
        ds_gpu_test_free(ctx, &gdw[run]);
        ds_gpu_test_free(ctx, &gdb[run]);
    }
    ds_gpu_test_free(ctx, &gx);
    ds_gpu_test_free(ctx, &gw);
    ds_gpu_test_free(ctx, &gdy);
    free(x.data), free(w.data), free(dy.data), free(dw0.data), free(db0.data);
    free(want_dx.data), free(want_dw.data), free(want_db.data);
}

// An op error returns DS_ERR_INVALID_ARG with a message that names the op.

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t xs[2] = {4, 3}, ws[2] = {5, 3}, ys[2] = {4, 5};
    ds_tensor hx = ds_gpu_test_random(2, xs, 1, -1, 1), hw = ds_gpu_test_random(2, ws, 2, -1, 1);
    ds_tensor hy = ds_gpu_test_random(2, ys, 3, -1, 1);
    ds_tensor x = ds_gpu_test_upload(ctx, &hx, DS_F32), w16 = ds_gpu_test_upload(ctx, &hw, DS_BF16);
    ds_tensor w = ds_gpu_test_upload(ctx, &hw, DS_F32), y = ds_gpu_test_poisoned(ctx, &hy, DS_F32);
    ds_tensor dy = ds_gpu_test_upload(ctx, &hy, DS_F32), dw16 = ds_gpu_test_poisoned(ctx, &hw, DS_BF16);
    ds_tensor x16 = ds_gpu_test_upload(ctx, &hx, DS_BF16), y16 = ds_gpu_test_poisoned(ctx, &hy, DS_BF16);
    ds_err_clear(&ctx->err);

    ds_linear_fwd_args f = {.x = x, .w = w16, .y = y};  // w BF16 with x F32
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_linear_forward(ctx, &f), "linear_forward", "w dtype mismatch");
    ds_linear_fwd_args f2 = {.x = x, .w = w, .y = y16};  // y BF16 with x F32
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_linear_forward(ctx, &f2), "linear_forward", "y dtype mismatch");
    ds_linear_bwd_args bw = {.x = x, .w = w, .dy = dy, .dw = dw16};  // dw must be F32
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_linear_backward(ctx, &bw), "linear_backward", "dw BF16");
    ds_linear_fwd_args f3 = {.x = x16, .w = w16, .y = y16};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_cuda_linear_gelu_forward(ctx, &f3, y16), "linear_gelu_forward",
                                   "pre_gelu aliases y");

    ds_gpu_test_free(ctx, &x), ds_gpu_test_free(ctx, &w16), ds_gpu_test_free(ctx, &w), ds_gpu_test_free(ctx, &y);
    ds_gpu_test_free(ctx, &dy), ds_gpu_test_free(ctx, &dw16), ds_gpu_test_free(ctx, &x16), ds_gpu_test_free(ctx, &y16);
    free(hx.data), free(hw.data), free(hy.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_linear")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_linear");
    uint64_t seed = 100;
    for (int vi = 0; vi < 2; vi++) {
        const ds_kernel_variant v = vi ? DS_KERNELS_FAST : DS_KERNELS_PLAIN;
        ds_gpu_set_kernels(&ctx, v);
        for (int di = 0; di < 2; di++) {
            const ds_dtype dt = di ? DS_BF16 : DS_F32;
            for (size_t i = 0; i < sizeof k_dims / sizeof k_dims[0]; i++) {
                check_forward(&t, &ctx, k_dims[i], dt, v, seed += 10);
                check_backward(&t, &ctx, k_dims[i], dt, v, false, seed += 10);
                check_backward(&t, &ctx, k_dims[i], dt, v, true, seed += 10);
            }
        }
    }
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
