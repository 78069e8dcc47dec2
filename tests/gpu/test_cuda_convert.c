// ds_gpu_convert (kernels/gpu_convert.h) against the host's conversion (runtime/base/dtype.h:
// ds_f32_to_bf16 / ds_bf16_to_f32, round to nearest even as torch): F32 -> BF16 and BF16 -> F32
// over random values, the rounding edge cases (halfway ties to even, the largest finite values,
// infinities, NaN, signed zero, subnormals) and sizes 1, 1000 and 2^20 + 3 (the grid-stride tail);
// F32 -> F32 and BF16 -> BF16 copy; n = 0 does nothing; errors (an I32 dtype, overlapping
// buffers, NULL with n > 0). Exact comparison (bits): the conversion is a single rounding, the
// same rule on both sides; NaN compared as "is NaN" (payloads may differ).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/gpu_convert.h"
#include "../gpu_test_util.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// Host input of n F32 values: the edge cases first, then random magnitudes over many binades.
static float *inputs(size_t n, uint64_t seed) {
    static const uint32_t edges[] = {
        0x3f808000u,  // 1 + 2^-8: halfway between two bf16 values, ties to even (down)
        0x3f818000u,  // halfway, odd neighbour below: rounds up
        0x3f808001u,  // just above halfway: up
        0x7f7fffffu,  // FLT_MAX: rounds to +inf in bf16, as torch
        0x7f7f0000u,  // the largest finite bf16
        0x7f800000u, 0xff800000u,  // +-inf
        0x7fc00000u, 0x7f800001u,  // quiet and signalling NaN
        0x00000000u, 0x80000000u,  // +-0
        0x00000001u, 0x00400000u, 0x807fffffu,  // subnormals
    };
    float *x = malloc(n * sizeof *x);
    if (!x) return NULL;
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) {
        if (i < sizeof edges / sizeof edges[0]) {
            x[i] = from_bits(edges[i]);
            continue;
        }
        const uint64_t r = ds_gpu_test_splitmix64(&st);
        const double mant = (double)(r & 0xffffffu) / (double)0x1000000u + 0.5;  // [0.5, 1.5)
        const int ex = (int)((r >> 24) % 60) - 30;
        x[i] = (float)((r >> 40 & 1 ? -1 : 1) * ldexp(mant, ex));
    }
    return x;
}

static bool same_f32(float a, float b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

static void check_size(ds_test *t, ds_context *ctx, size_t n) {
    float *x = inputs(n, 1234 + n);
    uint16_t *want16 = malloc(n * sizeof *want16), *got16 = malloc(n * sizeof *got16);
    float *got32 = malloc(n * sizeof *got32), *copy32 = malloc(n * sizeof *copy32);
    uint16_t *copy16 = malloc(n * sizeof *copy16);
    void *d32 = NULL, *d16 = NULL, *e32 = NULL, *e16 = NULL;
    if (!ds_test_check(t, x && want16 && got16 && got32 && copy32 && copy16, "out of memory") ||
        !ds_test_check(t, ds_gpu_alloc(ctx, n * 4, &d32) == DS_OK && ds_gpu_alloc(ctx, n * 2, &d16) == DS_OK &&
                              ds_gpu_alloc(ctx, n * 4, &e32) == DS_OK && ds_gpu_alloc(ctx, n * 2, &e16) == DS_OK,
                          "alloc: %s", ctx->err.msg))
        goto done;
    for (size_t i = 0; i < n; i++) want16[i] = ds_f32_to_bf16(x[i]);
    // Poison the outputs (0xff: NaN in both dtypes) so that a skipped element cannot pass.
    bool ok = ds_gpu_upload(ctx, d32, x, n * 4) == DS_OK && ds_gpu_memset(ctx, d16, 0xff, n * 2) == DS_OK &&
              ds_gpu_memset(ctx, e32, 0xff, n * 4) == DS_OK && ds_gpu_memset(ctx, e16, 0xff, n * 2) == DS_OK &&
              ds_gpu_convert(ctx, d16, DS_BF16, d32, DS_F32, n) == DS_OK &&  // F32 -> BF16
              ds_gpu_convert(ctx, e32, DS_F32, d16, DS_BF16, n) == DS_OK &&  // BF16 -> F32
              ds_gpu_convert(ctx, e16, DS_BF16, d16, DS_BF16, n) == DS_OK &&  // copies
              ds_gpu_download(ctx, got16, d16, n * 2) == DS_OK && ds_gpu_download(ctx, got32, e32, n * 4) == DS_OK &&
              ds_gpu_download(ctx, copy16, e16, n * 2) == DS_OK && ds_gpu_sync(ctx) == DS_OK;
    if (!ds_test_check(t, ok, "n %zu: %s", n, ctx->err.msg)) goto done;
    size_t bad16 = 0, bad32 = 0, badcopy = 0, first = n;
    for (size_t i = 0; i < n; i++) {
        const float w = ds_bf16_to_f32(want16[i]), g = ds_bf16_to_f32(got16[i]);
        if (!same_f32(g, w)) bad16++, first = first < i ? first : i;
        if (!same_f32(got32[i], g)) bad32++;  // widening is exact
        if (copy16[i] != got16[i]) badcopy++;
    }
    ds_test_check(t, bad16 == 0, "n %zu: f32 -> bf16: %zu elements differ from the host's rounding (first %zu: %a -> 0x%04x, "
                  "want 0x%04x)", n, bad16, first, first < n ? (double)x[first] : 0.0, first < n ? got16[first] : 0,
                  first < n ? want16[first] : 0);
    ds_test_check(t, bad32 == 0, "n %zu: bf16 -> f32: %zu elements not exact", n, bad32);
    ds_test_check(t, badcopy == 0, "n %zu: bf16 -> bf16 copy: %zu elements differ", n, badcopy);
    // F32 -> F32 copies.
    ok = ds_gpu_memset(ctx, e32, 0xff, n * 4) == DS_OK && ds_gpu_convert(ctx, e32, DS_F32, d32, DS_F32, n) == DS_OK &&
         ds_gpu_download(ctx, copy32, e32, n * 4) == DS_OK && ds_gpu_sync(ctx) == DS_OK;
    ds_test_check(t, ok && memcmp(copy32, x, n * 4) == 0, "n %zu: f32 -> f32 copy differs: %s", n, ctx->err.msg);
done:
    ds_gpu_free(ctx, d32, n * 4), ds_gpu_free(ctx, d16, n * 2), ds_gpu_free(ctx, e32, n * 4), ds_gpu_free(ctx, e16, n * 2);
    free(x), free(want16), free(got16), free(got32), free(copy32), free(copy16);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    void *d = NULL;
    if (!ds_test_check(t, ds_gpu_alloc(ctx, 4096, &d) == DS_OK, "alloc: %s", ctx->err.msg)) return;
    ds_err_clear(&ctx->err);
    ds_test_check(t, ds_gpu_convert(ctx, d, DS_BF16, d, DS_F32, 0) == DS_OK, "n = 0 must do nothing: %s", ctx->err.msg);
    ds_test_check(t, ds_gpu_convert(ctx, d, DS_I32, (char *)d + 2048, DS_F32, 8) == DS_ERR_INVALID_ARG,
                  "an I32 destination must be refused");
    ds_err_clear(&ctx->err);
    ds_test_check(t, ds_gpu_convert(ctx, (char *)d + 8, DS_BF16, d, DS_F32, 64) == DS_ERR_INVALID_ARG,
                  "overlapping buffers must be refused");
    ds_err_clear(&ctx->err);
    ds_test_check(t, ds_gpu_convert(ctx, NULL, DS_BF16, d, DS_F32, 8) == DS_ERR_INVALID_ARG,
                  "a NULL destination must be refused");
    ds_err_clear(&ctx->err);
    ds_gpu_free(ctx, d, 4096);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_convert")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_convert");
    const size_t sizes[] = {1, 1000, ((size_t)1 << 20) + 3};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) check_size(&t, &ctx, sizes[i]);
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
