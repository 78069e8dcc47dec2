// CUDA max pooling (with indices) and adaptive average pooling against the CPU ops: forward and
// backward on fresh random inputs, odd sizes and every geometry option (ResNet's 3x3/2 pad 1,
// ceil_mode, dilation, a 2x2/1 window, rectangular windows), inputs on a coarse grid so that
// windows hold ties (the first maximum must win, as on the CPU) and one NaN (NaN wins); backward
// with the forward geometry (FAST: gather) and without it (PLAIN walk of each plane); F32 and
// BF16; PLAIN and FAST; outputs poisoned; two runs bit-identical; a bad index named.
//
// Tolerances (tensor-relative):
// - max pool forward: a maximum and its index are exact in both dtypes: 0, indices equal.
// - max pool backward F32: the gather adds each cell's contributions in the CPU's order (outputs in
//   row-major order) in fp32: exact, 0. BF16: dy pre-rounded, the result rounded to bf16 once
//   (gather) or after each of <= 4 adds (PLAIN walk, 3x3/2 windows): <= 4 x 2^-9; 1e-2.
// - adaptive average F32: the same double window sums (forward) / fp32 adds in the same order
//   (backward) as the CPU: exact, 0 (1e-7 allowed for a libm-free rounding difference). BF16: one
//   bf16 rounding of each output, 1e-2.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

typedef struct pool_case {
    const char *name;
    int64_t N, C, H, W;
    ds_pool2d_geom geom;
} pool_case;

static const pool_case k_pools[] = {
    {"3x3/2 pad 1 (ResNet stem)", 2, 3, 17, 20, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
    {"3x3/2 pad 1 ceil_mode", 1, 2, 16, 15,
     {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .ceil_mode = true}},
    {"2x2/1", 2, 2, 7, 9, {.kernel_h = 2, .kernel_w = 2, .stride_h = 1, .stride_w = 1}},
    {"3x2 dilation 2 pad (1, 1)", 1, 3, 13, 11,
     {.kernel_h = 3, .kernel_w = 2, .stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1, .dilation_h = 2, .dilation_w = 2}},
    {"default stride (= kernel) 2x2", 3, 1, 8, 7, {.kernel_h = 2, .kernel_w = 2}},
};

// Values on a grid of 1/4 in [-2, 2): many ties, exact in bf16.
static ds_tensor coarse(int ndim, const int64_t *shape, uint64_t seed) {
    ds_tensor h = ds_gpu_test_random(ndim, shape, seed, -2, 2);
    float *p = h.data;
    for (int64_t i = 0; i < ds_tensor_numel(&h); i++) p[i] = floorf(p[i] * 4) / 4;
    return h;
}

static void check_maxpool(ds_test *t, ds_context *ctx, const pool_case *c, ds_dtype dt, ds_kernel_variant v,
                          bool with_geom, bool nan, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    ds_gpu_set_kernels(ctx, v);
    const int64_t xs[4] = {c->N, c->C, c->H, c->W};
    ds_tensor x = coarse(4, xs, seed);
    if (nan) ((float *)x.data)[ds_tensor_numel(&x) / 2] = NAN;
    const int64_t P = ds_pool_out_size(c->H, c->geom.kernel_h, c->geom.stride_h ? c->geom.stride_h : c->geom.kernel_h,
                                       c->geom.pad_h, c->geom.dilation_h ? c->geom.dilation_h : 1, c->geom.ceil_mode);
    const int64_t Q = ds_pool_out_size(c->W, c->geom.kernel_w, c->geom.stride_w ? c->geom.stride_w : c->geom.kernel_w,
                                       c->geom.pad_w, c->geom.dilation_w ? c->geom.dilation_w : 1, c->geom.ceil_mode);
    const int64_t ys[4] = {c->N, c->C, P, Q};
    ds_tensor y = ds_gpu_test_host_zeros(4, ys);
    ds_tensor idx = ds_tensor_make(calloc((size_t)(c->N * c->C * P * Q), 4), DS_I32, (ds_device){DS_DEVICE_CPU, 0}, 4, ys);
    ds_maxpool2d_fwd_args cf = {.x = x, .y = y, .indices = idx, .geom = c->geom};
    ds_test_check(t, ds_maxpool2d_forward(ctx, &cf) == DS_OK, "cpu maxpool2d_forward: %s", ctx->err.msg);
    ds_tensor dy = ds_gpu_test_random_rounded(4, ys, seed + 1, -1, 1, bf), dx = ds_gpu_test_host_zeros(4, xs);
    ds_maxpool2d_bwd_args cb = {.indices = idx, .dy = dy, .dx = dx};
    ds_test_check(t, ds_maxpool2d_backward(ctx, &cb) == DS_OK, "cpu maxpool2d_backward: %s", ctx->err.msg);

    char what[200], w2[260];
    snprintf(what, sizeof what, "maxpool %s [%s %s%s%s]", c->name, ds_dtype_name(dt), ds_gpu_test_variant_name(v),
             with_geom ? "" : ", backward without geometry", nan ? ", a NaN" : "");
    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gdy = ds_gpu_test_upload(ctx, &dy, dt);
    ds_tensor gy[2], gi[2], gdx[2];
    for (int run = 0; run < 2; run++) {
        gy[run] = ds_gpu_test_poisoned(ctx, &y, dt);
        gi[run] = ds_gpu_test_poisoned(ctx, &idx, DS_I32);
        gdx[run] = ds_gpu_test_poisoned(ctx, &x, dt);
        ds_maxpool2d_fwd_args f = {.x = gx, .y = gy[run], .indices = gi[run], .geom = c->geom};
        ds_test_check(t, ds_maxpool2d_forward(ctx, &f) == DS_OK, "%s forward: %s", what, ctx->err.msg);
        ds_maxpool2d_bwd_args b = {.indices = gi[run], .dy = gdy, .dx = gdx[run],
                                   .geom = with_geom ? c->geom : (ds_pool2d_geom){0}};
        ds_test_check(t, ds_maxpool2d_backward(ctx, &b) == DS_OK, "%s backward: %s", what, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s y", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gy[0], &y, 0);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gy[0], &gy[1]);
    ds_tensor hi = ds_gpu_test_download(ctx, &gi[0]);
    ds_test_check(t, memcmp(hi.data, idx.data, ds_tensor_nbytes(&idx)) == 0, "%s indices differ from the CPU's", what);
    free(hi.data);
    snprintf(w2, sizeof w2, "%s dx", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &dx, bf ? 1e-2 : 0);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gdx[0], &gdx[1]);
    for (int run = 0; run < 2; run++)
        ds_gpu_test_free(ctx, &gy[run]), ds_gpu_test_free(ctx, &gi[run]), ds_gpu_test_free(ctx, &gdx[run]);
    ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gdy);
    free(x.data), free(y.data), free(idx.data), free(dy.data), free(dx.data);
}

typedef struct aavg_case {
    int64_t N, C, H, W, P, Q;
} aavg_case;

// Global (ASPP's pooling branch), uneven windows, overlapping windows, and more outputs than inputs.
static const aavg_case k_aavg[] = {{2, 3, 7, 9, 1, 1}, {1, 2, 7, 9, 3, 4}, {2, 2, 10, 6, 4, 4}, {1, 3, 5, 5, 7, 8}};

static void check_aavg(ds_test *t, ds_context *ctx, aavg_case c, ds_dtype dt, ds_kernel_variant v, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    ds_gpu_set_kernels(ctx, v);
    const int64_t xs[4] = {c.N, c.C, c.H, c.W}, ys[4] = {c.N, c.C, c.P, c.Q};
    ds_tensor x = ds_gpu_test_random_rounded(4, xs, seed, -1, 1, bf), dy = ds_gpu_test_random_rounded(4, ys, seed + 1, -1, 1, bf);
    ds_tensor y = ds_gpu_test_host_zeros(4, ys), dx = ds_gpu_test_host_zeros(4, xs);
    ds_adaptive_avgpool2d_args cf = {.x = x, .y = y}, cb = {.x = dy, .y = dx};
    ds_test_check(t, ds_adaptive_avgpool2d_forward(ctx, &cf) == DS_OK, "cpu aavg forward: %s", ctx->err.msg);
    ds_test_check(t, ds_adaptive_avgpool2d_backward(ctx, &cb) == DS_OK, "cpu aavg backward: %s", ctx->err.msg);
    char what[200], w2[260];
    snprintf(what, sizeof what, "adaptive_avgpool (%lld, %lld) -> (%lld, %lld) [%s %s]", (long long)c.H, (long long)c.W,
             (long long)c.P, (long long)c.Q, ds_dtype_name(dt), ds_gpu_test_variant_name(v));
    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gdy = ds_gpu_test_upload(ctx, &dy, dt);
    ds_tensor gy[2], gdx[2];
    for (int run = 0; run < 2; run++) {
        gy[run] = ds_gpu_test_poisoned(ctx, &y, dt), gdx[run] = ds_gpu_test_poisoned(ctx, &x, dt);
        ds_adaptive_avgpool2d_args f = {.x = gx, .y = gy[run]}, b = {.x = gdy, .y = gdx[run]};
        ds_test_check(t, ds_adaptive_avgpool2d_forward(ctx, &f) == DS_OK, "%s forward: %s", what, ctx->err.msg);
        ds_test_check(t, ds_adaptive_avgpool2d_backward(ctx, &b) == DS_OK, "%s backward: %s", what, ctx->err.msg);
    }
    snprintf(w2, sizeof w2, "%s y", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gy[0], &y, bf ? 1e-2 : 1e-7);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gy[0], &gy[1]);
    snprintf(w2, sizeof w2, "%s dx", what);
    ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &dx, bf ? 1e-2 : 1e-7);
    ds_gpu_test_expect_same_bits(t, ctx, w2, &gdx[0], &gdx[1]);
    for (int run = 0; run < 2; run++) ds_gpu_test_free(ctx, &gy[run]), ds_gpu_test_free(ctx, &gdx[run]);
    ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gdy);
    free(x.data), free(dy.data), free(y.data), free(dx.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t xs[4] = {1, 1, 4, 4}, ys[4] = {1, 1, 2, 2};
    ds_tensor hx = ds_gpu_test_random(4, xs, 1, -1, 1), hy = ds_gpu_test_random(4, ys, 2, -1, 1);
    int32_t bad[4] = {0, 5, 16, 3};  // 16 is outside the 4 x 4 plane
    ds_tensor hi = ds_tensor_make(bad, DS_I32, (ds_device){DS_DEVICE_CPU, 0}, 4, ys);
    ds_tensor dx = ds_gpu_test_poisoned(ctx, &hx, DS_F32), dy = ds_gpu_test_upload(ctx, &hy, DS_F32);
    ds_tensor gi = ds_gpu_test_upload(ctx, &hi, DS_I32), y16 = ds_gpu_test_poisoned(ctx, &hy, DS_BF16);
    ds_tensor x = ds_gpu_test_upload(ctx, &hx, DS_F32);
    ds_err_clear(&ctx->err);
    ds_maxpool2d_bwd_args b = {.indices = gi, .dy = dy, .dx = dx};
    const ds_status s = ds_maxpool2d_backward(ctx, &b);
    ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "indices[2] = 16") != NULL,
                  "a bad max-pool index must be named: %s", ctx->err.msg);
    ds_err_clear(&ctx->err);
    ds_adaptive_avgpool2d_args a = {.x = x, .y = y16};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_adaptive_avgpool2d_forward(ctx, &a), "adaptive_avgpool2d_forward",
                                   "y BF16 with x F32");
    ds_maxpool2d_fwd_args f = {.x = x, .y = dy, .indices = gi, .geom = {.kernel_h = 2, .kernel_w = 2, .pad_h = 2}};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_maxpool2d_forward(ctx, &f), "maxpool2d_forward", "padding > kernel/2");
    ds_gpu_test_free(ctx, &dx), ds_gpu_test_free(ctx, &dy), ds_gpu_test_free(ctx, &gi), ds_gpu_test_free(ctx, &y16);
    ds_gpu_test_free(ctx, &x);
    free(hx.data), free(hy.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_pool")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_pool");
    uint64_t seed = 900;
    for (int vi = 0; vi < 2; vi++)
        for (int di = 0; di < 2; di++) {
            const ds_dtype dt = di ? DS_BF16 : DS_F32;
            const ds_kernel_variant v = vi ? DS_KERNELS_FAST : DS_KERNELS_PLAIN;
            for (size_t i = 0; i < sizeof k_pools / sizeof k_pools[0]; i++) {
                check_maxpool(&t, &ctx, &k_pools[i], dt, v, true, false, seed += 10);
                check_maxpool(&t, &ctx, &k_pools[i], dt, v, false, false, seed += 10);
            }
            check_maxpool(&t, &ctx, &k_pools[0], dt, v, true, true, seed += 10);
            for (size_t i = 0; i < sizeof k_aavg / sizeof k_aavg[0]; i++) check_aavg(&t, &ctx, k_aavg[i], dt, v, seed += 10);
        }
    ds_gpu_set_kernels(&ctx, DS_KERNELS_PLAIN);
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
