// CUDA add and permute_heads against the CPU ops: F32 and BF16, both kernel variants, add in
// place (y = a and y = b), a misaligned add (FAST's scalar fallback), permutations both ways with
// head sizes whose rows are and are not multiples of 16 bytes, a split followed by a merge giving
// back the input exactly, outputs poisoned, run twice for bit-identical results, and errors that
// name the op.
//
// Tolerances: permute_heads moves bits, so it must be exact (tolerance 0). add: F32 sums are the
// same single fp32 addition on both sides, exact too (0); BF16: inputs rounded to bf16 on the host
// first, the sum rounded once to bf16 on the GPU (<= 2^-9 relative), so 1e-2.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

static void check_add(ds_test *t, ds_context *ctx, int64_t n, ds_dtype dt, ds_kernel_variant v, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    const double tol = bf ? 1e-2 : 0;
    ds_tensor a = ds_gpu_test_random(1, &n, seed, -1, 1), b = ds_gpu_test_random(1, &n, seed + 1, -1, 1);
    if (bf) ds_gpu_test_round_bf16(&a), ds_gpu_test_round_bf16(&b);
    ds_tensor want = ds_gpu_test_host_zeros_like(&a);
    ds_add_args ca = {.a = a, .b = b, .y = want};
    ds_status s = ds_add(ctx, &ca);
    ds_test_check(t, s == DS_OK, "cpu add: %s", ctx->err.msg);

    char what[128], w2[160];
    snprintf(what, sizeof what, "add %s %s n %lld", ds_dtype_name(dt), ds_gpu_test_variant_name(v), (long long)n);
    ds_tensor ga = ds_gpu_test_upload(ctx, &a, dt), gb = ds_gpu_test_upload(ctx, &b, dt);
    ds_tensor gy[2];
    for (int run = 0; run < 2; run++) {
        gy[run] = ds_gpu_test_poisoned(ctx, &a, dt);
        ds_add_args g = {.a = ga, .b = gb, .y = gy[run]};
        s = ds_add(ctx, &g);
        ds_test_check(t, s == DS_OK, "%s run %d: %s", what, run, ctx->err.msg);
    }
    ds_gpu_test_expect_close(t, ctx, what, &gy[0], &want, tol);
    ds_gpu_test_expect_same_bits(t, ctx, what, &gy[0], &gy[1]);

    // In place: y = a (a += b), then y = b on fresh copies.
    for (int which = 0; which < 2; which++) {
        ds_tensor ia = ds_gpu_test_upload(ctx, &a, dt), ib = ds_gpu_test_upload(ctx, &b, dt);
        ds_add_args g = {.a = ia, .b = ib, .y = which == 0 ? ia : ib};
        s = ds_add(ctx, &g);
        ds_test_check(t, s == DS_OK, "%s in place: %s", what, ctx->err.msg);
        snprintf(w2, sizeof w2, "%s in place y = %s", what, which == 0 ? "a" : "b");
        ds_gpu_test_expect_close(t, ctx, w2, which == 0 ? &ia : &ib, &want, tol);
        ds_gpu_test_free(ctx, &ia), ds_gpu_test_free(ctx, &ib);
    }

    // Misaligned views (elements 1..n-1 of every operand): FAST falls back to scalar access.
    if (n > 1) {
        const int64_t n1 = n - 1;
        ds_gpu_memset(ctx, gy[1].data, 0xff, ds_tensor_nbytes(&gy[1]));
        ds_tensor va = ds_gpu_test_offset_view(&ga), vb = ds_gpu_test_offset_view(&gb);
        ds_tensor vy = ds_gpu_test_offset_view(&gy[1]);
        ds_add_args g = {.a = va, .b = vb, .y = vy};
        s = ds_add(ctx, &g);
        ds_test_check(t, s == DS_OK, "%s offset view: %s", what, ctx->err.msg);
        ds_tensor want_tail = ds_tensor_cpu1((float *)want.data + 1, DS_F32, n1);
        snprintf(w2, sizeof w2, "%s offset view", what);
        ds_gpu_test_expect_close(t, ctx, w2, &vy, &want_tail, tol);
    }
    ds_gpu_test_free(ctx, &gy[0]), ds_gpu_test_free(ctx, &gy[1]);
    ds_gpu_test_free(ctx, &ga), ds_gpu_test_free(ctx, &gb);
    free(a.data), free(b.data), free(want.data);
}

// Split (B, T, H*D) -> (B, H, T, D) and merge back, against the CPU op both ways.
static void check_permute(ds_test *t, ds_context *ctx, int64_t B, int64_t T, int64_t H, int64_t D, ds_dtype dt,
                          ds_kernel_variant v, uint64_t seed) {
    const int64_t s3[3] = {B, T, H * D}, s4[4] = {B, H, T, D};
    ds_tensor x = ds_gpu_test_random_rounded(3, s3, seed, -1, 1, dt == DS_BF16);
    ds_tensor want_h = ds_gpu_test_random(4, s4, 0, 0, 0);  // zeros, (B, H, T, D)
    ds_permute_heads_args cs = {.x = x, .y = want_h, .heads = (int)H, .to_heads = true};
    ds_status s = ds_permute_heads(ctx, &cs);
    ds_test_check(t, s == DS_OK, "cpu permute_heads: %s", ctx->err.msg);

    char what[160], w2[200];
    snprintf(what, sizeof what, "permute_heads %s %s B%lld T%lld H%lld D%lld", ds_dtype_name(dt),
             ds_gpu_test_variant_name(v), (long long)B, (long long)T, (long long)H, (long long)D);
    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt);
    ds_tensor gh[2];
    for (int run = 0; run < 2; run++) {
        gh[run] = ds_gpu_test_poisoned(ctx, &want_h, dt);
        ds_permute_heads_args g = {.x = gx, .y = gh[run], .heads = (int)H, .to_heads = true};
        s = ds_permute_heads(ctx, &g);
        ds_test_check(t, s == DS_OK, "%s split run %d: %s", what, run, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s split", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gh[0], &want_h, 0);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gh[0], &gh[1]);

    // Merge the GPU's split back: exactly x (and the CPU's merge of the same data).
    ds_tensor gm = ds_gpu_test_poisoned(ctx, &x, dt);
    ds_permute_heads_args g = {.x = gh[0], .y = gm, .heads = (int)H, .to_heads = false};
    s = ds_permute_heads(ctx, &g);
    ds_test_check(t, s == DS_OK, "%s merge: %s", what, ctx->err.msg);
    snprintf(w2, sizeof w2, "%s merge", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gm, &x, 0);

    ds_gpu_test_free(ctx, &gm), ds_gpu_test_free(ctx, &gh[0]), ds_gpu_test_free(ctx, &gh[1]);
    ds_gpu_test_free(ctx, &gx);
    free(x.data), free(want_h.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t s3[3] = {2, 3, 8}, s4[4] = {2, 2, 3, 4};
    ds_tensor h3 = ds_gpu_test_random(3, s3, 1, -1, 1), h4 = ds_gpu_test_random(4, s4, 2, -1, 1);
    ds_tensor x = ds_gpu_test_upload(ctx, &h3, DS_F32), x16 = ds_gpu_test_upload(ctx, &h3, DS_BF16);
    ds_tensor y4 = ds_gpu_test_poisoned(ctx, &h4, DS_F32), y416 = ds_gpu_test_poisoned(ctx, &h4, DS_BF16);
    ds_err_clear(&ctx->err);
    ds_add_args a = {.a = x, .b = x16, .y = x};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_add(ctx, &a), "add", "b BF16 with a F32");
    ds_permute_heads_args p = {.x = x, .y = y416, .heads = 2, .to_heads = true};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_permute_heads(ctx, &p), "permute_heads", "y BF16 with x F32");
    ds_permute_heads_args p2 = {.x = x, .y = y4, .heads = 3, .to_heads = true};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_permute_heads(ctx, &p2), "permute_heads",
                                   "heads do not divide the shape");
    ds_gpu_test_free(ctx, &x), ds_gpu_test_free(ctx, &x16), ds_gpu_test_free(ctx, &y4), ds_gpu_test_free(ctx, &y416);
    free(h3.data), free(h4.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_layout")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_layout");
    uint64_t seed = 400;
    const int64_t add_sizes[] = {1, 13, 4099, 7 * 13 * 768};
    for (int vi = 0; vi < 2; vi++) {
        const ds_kernel_variant v = vi ? DS_KERNELS_FAST : DS_KERNELS_PLAIN;
        ds_gpu_set_kernels(&ctx, v);
        for (int di = 0; di < 2; di++) {
            const ds_dtype dt = di ? DS_BF16 : DS_F32;
            for (size_t i = 0; i < sizeof add_sizes / sizeof add_sizes[0]; i++)
                check_add(&t, &ctx, add_sizes[i], dt, v, seed += 10);
            // D = 64 (BERT: 256 / 128-byte rows, FAST copies 16-byte pieces), D = 8 (a 16-byte
            // BF16 row, a 32-byte F32 row), D = 13 (rows not a multiple of 16 bytes: scalar), T = 1.
            check_permute(&t, &ctx, 2, 7, 12, 64, dt, v, seed += 10);
            check_permute(&t, &ctx, 3, 5, 2, 8, dt, v, seed += 10);
            check_permute(&t, &ctx, 1, 13, 3, 13, dt, v, seed += 10);
            check_permute(&t, &ctx, 2, 1, 4, 16, dt, v, seed += 10);
        }
    }
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
