// CUDA conv2d against the CPU op (kernels/cpu/conv2d.c) on fresh random inputs: forward (with and
// without bias), backward dx, dw (accumulate off and on) and db, over shapes with odd sizes and
// every geometry feature (stride, padding, dilation in each axis, groups, 1x1 direct, the
// ResNet/DeepLab and wav2vec2 kinds, scaled down); F32 and BF16 activations; PLAIN and FAST
// kernels; our own convolution, cuDNN and AUTO (run.conv); outputs poisoned (NaN) so an unwritten
// element fails; every op run twice and compared bit for bit; the workspace the CUDA query asks for
// and none at all; errors that name the op.
//
// Tolerances (tensor-relative, ds_test_close):
// - F32 y, dx: the CUDA PLAIN kernels sum in double, the CPU in fp32 through OpenBLAS: the CPU's own
//   error is ~sqrt(C R S) 2^-24 of the output scale (<= 2e-6 for the 576-term sums here); 1e-5
//   leaves 5x, while a wrong index is O(1). cuDNN in F32 runs FMA math (TF32 off): same bound.
// - F32 dw, db: dw sums N P Q <= 1156 products (fp32 on the CPU: ~3e-6); db in double on both
//   sides; 1e-5.
// - BF16 y, dx: inputs are pre-rounded to bf16 (the CPU sees what the GPU reads), every product is
//   exact in fp32 and the sums differ only in order (~1e-6), then y/dx are rounded once to bf16:
//   <= 2^-9 = 2e-3 of an element; 1e-2 (a wrong tap or channel errs by O(1)).
// - BF16 dw (F32): exact products, fp32 (FAST mma) or double (PLAIN) sums of <= 1156 terms in a
//   different order: ~1e-6; 1e-4 as linear's dw. cuDNN writes BF16 dw (rounded once, as torch's
//   autocast does): 1e-2.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

typedef struct shape {
    const char *name;
    int64_t N, C, H, W, K, R, S;
    ds_conv2d_geom geom;
} shape;

static const shape k_shapes[] = {
    {"3x3 pad 1, odd sizes", 2, 5, 7, 9, 6, 3, 3, {.pad_h = 1, .pad_w = 1}},
    {"1x1 direct", 2, 16, 9, 11, 24, 1, 1, {0}},
    {"1x1 stride 2 (downsample)", 2, 12, 9, 7, 20, 1, 1, {.stride_h = 2, .stride_w = 2}},
    {"7x7 stride 2 pad 3 (stem)", 1, 3, 19, 21, 8, 7, 7, {.stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3}},
    {"3x3 stride 2 (layer2)", 2, 8, 13, 12, 8, 3, 3, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
    {"3x3 dilation 2 (layer3)", 1, 16, 11, 10, 16, 3, 3, {.pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 2}},
    {"3x3 rate 12 on 6x5 (ASPP)", 1, 64, 6, 5, 16, 3, 3,
     {.pad_h = 12, .pad_w = 12, .dilation_h = 12, .dilation_w = 12}},
    {"mixed 3x2 stride (2,3) pad (2,1) dil (3,2)", 2, 6, 13, 11, 10, 3, 2,
     {.stride_h = 2, .stride_w = 3, .pad_h = 2, .pad_w = 1, .dilation_h = 3, .dilation_w = 2}},
    {"groups 3", 1, 9, 8, 8, 6, 5, 1, {.stride_w = 2, .pad_h = 2, .groups = 3}},
    {"depthwise 3x3 stride 2", 2, 8, 9, 9, 8, 3, 3, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 8}},
    {"wav2vec2 feature conv0: k10 s5, 1 channel, H 1", 2, 1, 1, 203, 64, 1, 10, {.stride_w = 5}},
    {"wav2vec2 positional: k16 pad 8, 4 groups of 12", 1, 48, 1, 37, 48, 1, 16, {.pad_w = 8, .groups = 4}},
    {"130 output channels (tile tail)", 1, 33, 6, 6, 130, 1, 1, {0}},
    {"kernel larger than input", 1, 4, 3, 5, 5, 5, 5, {.pad_h = 2, .pad_w = 2}},
};

static int or1(int v) { return v ? v : 1; }

static int64_t out_size(int64_t in, int64_t k, int s, int p, int d) { return ds_conv_out_size(in, (int)k, or1(s), p, or1(d)); }

// The CPU op on host tensors (workspace allocated here).
static bool cpu_forward(ds_test *t, ds_context *ctx, const ds_tensor *x, const ds_tensor *w, const ds_tensor *b,
                        ds_tensor *y, const ds_conv2d_geom *g) {
    size_t bytes = 0;
    ds_conv2d_workspace_args q = {.x = *x, .w = *w, .geom = *g, .bytes = &bytes};
    if (!ds_test_check(t, ds_conv2d_workspace_size(ctx, &q) == DS_OK, "cpu workspace: %s", ctx->err.msg)) return false;
    void *ws = malloc(bytes ? bytes : 1);
    ds_conv2d_fwd_args a = {.x = *x, .w = *w, .b = b ? *b : (ds_tensor){0}, .y = *y,
                            .workspace = ds_tensor_cpu1(ws, DS_U8, (int64_t)(bytes ? bytes : 1)), .geom = *g};
    const bool ok = ds_test_check(t, ds_conv2d_forward(ctx, &a) == DS_OK, "cpu conv2d_forward: %s", ctx->err.msg);
    free(ws);
    return ok;
}

static bool cpu_backward(ds_test *t, ds_context *ctx, const ds_tensor *x, const ds_tensor *w, const ds_tensor *dy,
                         ds_tensor *dx, ds_tensor *dw, ds_tensor *db, bool acc, const ds_conv2d_geom *g) {
    size_t bytes = 0;
    ds_conv2d_workspace_args q = {.x = *x, .w = *w, .geom = *g, .bytes = &bytes};
    if (!ds_test_check(t, ds_conv2d_workspace_size(ctx, &q) == DS_OK, "cpu workspace: %s", ctx->err.msg)) return false;
    void *ws = malloc(bytes ? bytes : 1);
    ds_conv2d_bwd_args a = {.x = *x, .w = *w, .dy = *dy, .dx = *dx, .dw = *dw, .db = *db,
                            .workspace = ds_tensor_cpu1(ws, DS_U8, (int64_t)(bytes ? bytes : 1)), .geom = *g,
                            .accumulate = acc};
    const bool ok = ds_test_check(t, ds_conv2d_backward(ctx, &a) == DS_OK, "cpu conv2d_backward: %s", ctx->err.msg);
    free(ws);
    return ok;
}

// The device workspace the CUDA query asks for (absent when 0 bytes or when `none`).
static ds_tensor gpu_workspace(ds_test *t, ds_context *ctx, const ds_tensor *gx, const ds_tensor *gw,
                               const ds_conv2d_geom *g, bool none, size_t *bytes_out) {
    size_t bytes = 0;
    ds_conv2d_workspace_args q = {.x = *gx, .w = *gw, .geom = *g, .bytes = &bytes};
    ds_test_check(t, ds_conv2d_workspace_size(ctx, &q) == DS_OK, "cuda workspace: %s", ctx->err.msg);
    *bytes_out = bytes;
    if (none || bytes == 0) return (ds_tensor){0};
    const int64_t n = (int64_t)bytes;
    const ds_tensor like = ds_tensor_cpu1(NULL, DS_U8, n);
    return ds_gpu_test_poisoned(ctx, &like, DS_U8);  // poisoned: the op must not read what it did not write
}

static const char *impl_name(ds_conv_impl c) {
    return c == DS_CONV_CUDNN ? "cudnn" : c == DS_CONV_AUTO ? "auto" : "own";
}

static void check_shape(ds_test *t, ds_context *ctx, const shape *s, ds_dtype dt, ds_kernel_variant v,
                        ds_conv_impl impl, bool no_workspace, uint64_t seed) {
    const bool bf = dt == DS_BF16;
    const ds_conv2d_geom *g = &s->geom;
    const int G = or1(g->groups);
    const int64_t P = out_size(s->H, s->R, g->stride_h, g->pad_h, g->dilation_h);
    const int64_t Q = out_size(s->W, s->S, g->stride_w, g->pad_w, g->dilation_w);
    const int64_t xs[4] = {s->N, s->C, s->H, s->W}, ws_[4] = {s->K, s->C / G, s->R, s->S};
    const int64_t ys[4] = {s->N, s->K, P, Q}, ks[1] = {s->K};
    ds_tensor x = ds_gpu_test_random_rounded(4, xs, seed, -1, 1, bf), w = ds_gpu_test_random_rounded(4, ws_, seed + 1, -1, 1, bf);
    ds_tensor dy = ds_gpu_test_random_rounded(4, ys, seed + 2, -1, 1, bf);
    ds_tensor b = ds_gpu_test_random(1, ks, seed + 3, -1, 1);
    ds_tensor dw0 = ds_gpu_test_random(4, ws_, seed + 4, -1, 1), db0 = ds_gpu_test_random(1, ks, seed + 5, -1, 1);
    const double tol_act = bf ? 1e-2 : 1e-5;
    const double tol_dw = bf ? (impl == DS_CONV_OWN ? 1e-4 : 1e-2) : 1e-5;

    char what[256], w2[300];
    snprintf(what, sizeof what, "conv2d %s [%s %s %s%s]", s->name, ds_dtype_name(dt), ds_gpu_test_variant_name(v),
             impl_name(impl), no_workspace ? ", no workspace" : "");
    ds_gpu_set_kernels(ctx, v);
    ds_gpu_set_conv(ctx, impl);
    ds_tensor gx = ds_gpu_test_upload(ctx, &x, dt), gw = ds_gpu_test_upload(ctx, &w, dt);
    ds_tensor gdy = ds_gpu_test_upload(ctx, &dy, dt), gb = ds_gpu_test_upload(ctx, &b, DS_F32);
    size_t ws_bytes = 0;
    ds_tensor gws = gpu_workspace(t, ctx, &gx, &gw, g, no_workspace, &ws_bytes);

    // ---- forward, with and without bias ----
    for (int with_b = 0; with_b < 2; with_b++) {
        ds_tensor want = ds_gpu_test_host_zeros(4, ys);
        if (!cpu_forward(t, ctx, &x, &w, with_b ? &b : NULL, &want, g)) return;
        ds_tensor gy[2];
        for (int run = 0; run < 2; run++) {
            gy[run] = ds_gpu_test_poisoned(ctx, &want, dt);
            ds_conv2d_fwd_args a = {.x = gx, .w = gw, .b = with_b ? gb : (ds_tensor){0}, .y = gy[run],
                                    .workspace = gws, .geom = *g};
            ds_test_check(t, ds_conv2d_forward(ctx, &a) == DS_OK, "%s forward run %d: %s", what, run, ctx->err.msg);
        }
        snprintf(w2, sizeof w2, "%s y%s", what, with_b ? " (bias)" : "");
        ds_gpu_test_expect_close(t, ctx, w2, &gy[0], &want, tol_act);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gy[0], &gy[1]);
        ds_gpu_test_free(ctx, &gy[0]), ds_gpu_test_free(ctx, &gy[1]);
        free(want.data);
    }

    // ---- backward, accumulate off and on ----
    for (int acc = 0; acc < 2; acc++) {
        ds_tensor want_dx = ds_gpu_test_host_zeros(4, xs), want_dw = ds_gpu_test_host_copy(&dw0);
        ds_tensor want_db = ds_gpu_test_host_copy(&db0);
        if (!cpu_backward(t, ctx, &x, &w, &dy, &want_dx, &want_dw, &want_db, acc, g)) return;
        ds_tensor gdx[2], gdw[2], gdb[2];
        for (int run = 0; run < 2; run++) {
            gdx[run] = ds_gpu_test_poisoned(ctx, &x, dt);
            gdw[run] = acc ? ds_gpu_test_upload(ctx, &dw0, DS_F32) : ds_gpu_test_poisoned(ctx, &dw0, DS_F32);
            gdb[run] = acc ? ds_gpu_test_upload(ctx, &db0, DS_F32) : ds_gpu_test_poisoned(ctx, &db0, DS_F32);
            ds_conv2d_bwd_args a = {.x = gx, .w = gw, .dy = gdy, .dx = gdx[run], .dw = gdw[run], .db = gdb[run],
                                    .workspace = gws, .geom = *g, .accumulate = acc};
            ds_test_check(t, ds_conv2d_backward(ctx, &a) == DS_OK, "%s backward run %d: %s", what, run, ctx->err.msg);
        }
        snprintf(w2, sizeof w2, "%s dx acc%d", what, acc);
        ds_gpu_test_expect_close(t, ctx, w2, &gdx[0], &want_dx, tol_act);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gdx[0], &gdx[1]);
        snprintf(w2, sizeof w2, "%s dw acc%d", what, acc);
        ds_gpu_test_expect_close(t, ctx, w2, &gdw[0], &want_dw, tol_dw);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gdw[0], &gdw[1]);
        snprintf(w2, sizeof w2, "%s db acc%d", what, acc);
        ds_gpu_test_expect_close(t, ctx, w2, &gdb[0], &want_db, 1e-5);
        ds_gpu_test_expect_same_bits(t, ctx, w2, &gdb[0], &gdb[1]);
        for (int run = 0; run < 2; run++)
            ds_gpu_test_free(ctx, &gdx[run]), ds_gpu_test_free(ctx, &gdw[run]), ds_gpu_test_free(ctx, &gdb[run]);
        free(want_dx.data), free(want_dw.data), free(want_db.data);
    }
    if (gws.data) ds_gpu_free(ctx, gws.data, ws_bytes);
    ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gw), ds_gpu_test_free(ctx, &gdy), ds_gpu_test_free(ctx, &gb);
    free(x.data), free(w.data), free(dy.data), free(b.data), free(dw0.data), free(db0.data);
}

// Backward with dx, dw and db each absent in turn (a first layer, a frozen weight, no bias).
static void check_absent_outputs(ds_test *t, ds_context *ctx) {
    const shape *s = &k_shapes[0];
    const int64_t P = out_size(s->H, s->R, 1, 1, 1), Q = out_size(s->W, s->S, 1, 1, 1);
    const int64_t xs[4] = {s->N, s->C, s->H, s->W}, ws_[4] = {s->K, s->C, s->R, s->S}, ys[4] = {s->N, s->K, P, Q};
    ds_tensor x = ds_gpu_test_random(4, xs, 7, -1, 1), w = ds_gpu_test_random(4, ws_, 8, -1, 1);
    ds_tensor dy = ds_gpu_test_random(4, ys, 9, -1, 1);
    ds_tensor want_dx = ds_gpu_test_host_zeros(4, xs), want_dw = ds_gpu_test_host_zeros(4, ws_);
    ds_tensor none = {0};
    if (!cpu_backward(t, ctx, &x, &w, &dy, &want_dx, &want_dw, &none, false, &s->geom)) return;
    ds_tensor gx = ds_gpu_test_upload(ctx, &x, DS_F32), gw = ds_gpu_test_upload(ctx, &w, DS_F32);
    ds_tensor gdy = ds_gpu_test_upload(ctx, &dy, DS_F32);
    ds_tensor gdx = ds_gpu_test_poisoned(ctx, &x, DS_F32), gdw = ds_gpu_test_poisoned(ctx, &w, DS_F32);
    ds_conv2d_bwd_args only_dx = {.x = gx, .w = gw, .dy = gdy, .dx = gdx, .geom = s->geom};
    ds_test_check(t, ds_conv2d_backward(ctx, &only_dx) == DS_OK, "backward dx only: %s", ctx->err.msg);
    ds_gpu_test_expect_close(t, ctx, "conv2d backward with dx only: dx", &gdx, &want_dx, 1e-5);
    ds_conv2d_bwd_args only_dw = {.x = gx, .w = gw, .dy = gdy, .dw = gdw, .geom = s->geom};
    ds_test_check(t, ds_conv2d_backward(ctx, &only_dw) == DS_OK, "backward dw only: %s", ctx->err.msg);
    ds_gpu_test_expect_close(t, ctx, "conv2d backward with dw only: dw", &gdw, &want_dw, 1e-5);
    ds_gpu_test_free(ctx, &gx), ds_gpu_test_free(ctx, &gw), ds_gpu_test_free(ctx, &gdy);
    ds_gpu_test_free(ctx, &gdx), ds_gpu_test_free(ctx, &gdw);
    free(x.data), free(w.data), free(dy.data), free(want_dx.data), free(want_dw.data);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t xs[4] = {1, 4, 5, 5}, ws_[4] = {3, 4, 3, 3}, ys[4] = {1, 3, 3, 3}, wg[4] = {3, 3, 3, 3};
    ds_tensor hx = ds_gpu_test_random(4, xs, 1, -1, 1), hw = ds_gpu_test_random(4, ws_, 2, -1, 1);
    ds_tensor hy = ds_gpu_test_random(4, ys, 3, -1, 1), hwg = ds_gpu_test_random(4, wg, 4, -1, 1);
    ds_tensor x = ds_gpu_test_upload(ctx, &hx, DS_F32), w16 = ds_gpu_test_upload(ctx, &hw, DS_BF16);
    ds_tensor w = ds_gpu_test_upload(ctx, &hw, DS_F32), y = ds_gpu_test_poisoned(ctx, &hy, DS_F32);
    ds_tensor wbad = ds_gpu_test_upload(ctx, &hwg, DS_F32), dw16 = ds_gpu_test_poisoned(ctx, &hw, DS_BF16);
    ds_err_clear(&ctx->err);
    ds_conv2d_fwd_args f = {.x = x, .w = w16, .y = y};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_conv2d_forward(ctx, &f), "conv2d_forward", "w BF16 with x F32");
    ds_conv2d_fwd_args f2 = {.x = x, .w = wbad, .y = y};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_conv2d_forward(ctx, &f2), "conv2d_forward", "w's C/groups != C");
    ds_conv2d_fwd_args f3 = {.x = x, .w = w, .y = y, .geom = {.groups = 3}};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_conv2d_forward(ctx, &f3), "conv2d_forward", "groups not dividing C");
    ds_conv2d_fwd_args f4 = {.x = x, .w = w, .y = x};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_conv2d_forward(ctx, &f4), "conv2d_forward", "y of the wrong shape");
    ds_conv2d_bwd_args b = {.x = x, .w = w, .dy = y, .dw = dw16};
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_conv2d_backward(ctx, &b), "conv2d_backward", "dw BF16");
    ds_gpu_test_free(ctx, &x), ds_gpu_test_free(ctx, &w16), ds_gpu_test_free(ctx, &w), ds_gpu_test_free(ctx, &y);
    ds_gpu_test_free(ctx, &wbad), ds_gpu_test_free(ctx, &dw16);
    free(hx.data), free(hw.data), free(hy.data), free(hwg.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_conv2d")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_conv2d");
    const bool small = getenv("DS_TEST_SMALL") != NULL;  // compute-sanitizer runs: a few shapes only
    const size_t nshapes = small ? 3 : sizeof k_shapes / sizeof k_shapes[0];
    uint64_t seed = 500;
    for (size_t i = 0; i < nshapes; i++)
        for (int di = 0; di < 2; di++)
            for (int vi = 0; vi < 2; vi++) {
                const ds_dtype dt = di ? DS_BF16 : DS_F32;
                const ds_kernel_variant v = vi ? DS_KERNELS_FAST : DS_KERNELS_PLAIN;
                check_shape(&t, &ctx, &k_shapes[i], dt, v, DS_CONV_OWN, false, seed += 10);
                // FAST BF16 without a workspace: wgrad runs without a split of the reduction.
                if (dt == DS_BF16 && v == DS_KERNELS_FAST)
                    check_shape(&t, &ctx, &k_shapes[i], dt, v, DS_CONV_OWN, true, seed += 10);
            }
    for (size_t i = 0; i < nshapes; i++)
        for (int di = 0; di < 2; di++) {
            const ds_dtype dt = di ? DS_BF16 : DS_F32;
            check_shape(&t, &ctx, &k_shapes[i], dt, DS_KERNELS_FAST, DS_CONV_CUDNN, false, seed += 10);
            check_shape(&t, &ctx, &k_shapes[i], dt, DS_KERNELS_FAST, DS_CONV_AUTO, false, seed += 10);
        }
    ds_gpu_set_kernels(&ctx, DS_KERNELS_PLAIN);
    ds_gpu_set_conv(&ctx, DS_CONV_OWN);
    check_absent_outputs(&t, &ctx);
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
