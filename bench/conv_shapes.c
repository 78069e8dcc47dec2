#include "conv_shapes.h"

#include "../runtime/base/check.h"

int ds_bench_wav2vec2_shapes(int64_t N, int64_t samples, ds_deeplab_conv_shape *out, int cap) {
    static const int kernel[7] = {10, 3, 3, 3, 3, 2, 2}, stride[7] = {5, 2, 2, 2, 2, 2, 2};
    int n = 0;
    int64_t T = samples, C = 1;
    for (int i = 0; i < 7 && n < cap; i++) {
        out[n++] = (ds_deeplab_conv_shape){.x = {N, C, 1, T}, .w = {512, C, 1, kernel[i]},
                                           .geom = {.stride_w = stride[i]}, .uses = 1};
        T = ds_conv_out_size(T, kernel[i], stride[i], 0, 1);
        C = 512;
    }
    if (n < cap)
        out[n++] = (ds_deeplab_conv_shape){.x = {N, 768, 1, T}, .w = {768, 48, 1, 128},
                                           .geom = {.pad_w = 64, .groups = 16}, .uses = 1};
    return n;
}

ds_status ds_bench_deeplab_shapes(ds_context *ctx, int depth, int64_t N, int64_t H, int64_t W,
                                  ds_deeplab_conv_shape *out, int cap, int *count) {
    ds_deeplab_config cfg = ds_deeplab_config_default();
    cfg.depth = depth;
    ds_deeplab_model m;
    DS_TRY(ds_deeplab_create(ctx, &cfg, &m));
    const ds_status st = ds_deeplab_conv_shapes(ctx, &m, N, H, W, out, cap, count);
    ds_deeplab_free(&m);
    return st;
}

static int or1(int v) { return v ? v : 1; }

void ds_bench_conv_out(const ds_deeplab_conv_shape *s, int64_t *P, int64_t *Q) {
    const ds_conv2d_geom *g = &s->geom;
    *P = ds_conv_out_size(s->x[2], (int)s->w[2], or1(g->stride_h), g->pad_h, or1(g->dilation_h));
    *Q = ds_conv_out_size(s->x[3], (int)s->w[3], or1(g->stride_w), g->pad_w, or1(g->dilation_w));
}

double ds_bench_conv_gflop(const ds_deeplab_conv_shape *s) {
    int64_t P, Q;
    ds_bench_conv_out(s, &P, &Q);
    return 2.0 * (double)(s->x[0] * s->w[0] * P * Q) * (double)(s->w[1] * s->w[2] * s->w[3]) * 1e-9;
}
