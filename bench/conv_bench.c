// ds_conv_bench: times the CPU conv2d op (kernels/cpu/conv2d.c) forward and backward on every
// distinct convolution shape of DeepLabV3 (ds_deeplab_conv_shapes: the model's own layers, so
// the list cannot drift from the model), at a batch of N x 3 x H x W (default 2 x 3 x 256 x 256,
// full width ResNet-50, 21 classes, aux head); or, with --wav2vec2 SAMPLES, the conv1d layers of
// wav2vec2-base (feature encoder: 512 channels, kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2;
// positional conv: 768 channels, kernel 128, padding 64, 16 groups) on N clips of SAMPLES samples.
// scripts/bench/conv_cpu_vs_torch.sh runs it and the same shapes through
// torch.nn.functional.conv2d (scripts/bench/torch_conv.py).
//
// Method: the process first puts OpenBLAS on its fast kernels as `downstream` does
// (runtime/cli/blas_fastpath.h). Per shape: random inputs in [-1, 1), one warm-up call, then
// `repeats` calls of forward (y from x, w; workspace from ds_conv2d_workspace_size, allocated
// once) and of backward (dx, dw from x, w, dy; no bias), the median of each. Threads: as
// OMP_NUM_THREADS says (OpenBLAS follows it).
//
// Output: one JSON line per shape on stdout: x, w, stride, padding, dilation ([h, w] each), groups, uses (how
// many convolutions of the model have that shape), fwd_ms, bwd_ms, gflop (forward; backward
// counts twice that); then a "total" line weighted by uses. A readable table goes to stderr.
// usage: ds_conv_bench [--batch N] [--size H W] [--repeats R] [--depth 50|101] [--wav2vec2 SAMPLES]
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kernels/ops.h"
#include "../models/deeplab/deeplab.h"
#include "../runtime/base/philox.h"
#include "../runtime/cli/blas_fastpath.h"
#include "conv_shapes.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float *random_buffer(int64_t n, uint64_t offset) {
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; p && i < n; i++) p[i] = 2.0f * ds_philox_uniform(1, offset, (uint64_t)i) - 1.0f;
    return p;
}

typedef struct timing {
    double fwd_ms, bwd_ms;
} timing;

static int time_shape(ds_context *ctx, const ds_deeplab_conv_shape *s, int repeats, timing *out) {
    const int64_t P = ds_conv_out_size(s->x[2], (int)s->w[2], s->geom.stride_h ? s->geom.stride_h : 1, s->geom.pad_h,
                                       s->geom.dilation_h ? s->geom.dilation_h : 1);
    const int64_t Q = ds_conv_out_size(s->x[3], (int)s->w[3], s->geom.stride_w ? s->geom.stride_w : 1, s->geom.pad_w,
                                       s->geom.dilation_w ? s->geom.dilation_w : 1);
    const int64_t nx = s->x[0] * s->x[1] * s->x[2] * s->x[3], nw = s->w[0] * s->w[1] * s->w[2] * s->w[3];
    const int64_t ny = s->x[0] * s->w[0] * P * Q;
    float *x = random_buffer(nx, 1), *w = random_buffer(nw, 2), *dy = random_buffer(ny, 3);
    float *y = malloc((size_t)ny * 4), *dx = malloc((size_t)nx * 4), *dw = malloc((size_t)nw * 4);
    const ds_tensor tx = ds_tensor_cpu4(x, DS_F32, s->x[0], s->x[1], s->x[2], s->x[3]);
    const ds_tensor tw = ds_tensor_cpu4(w, DS_F32, s->w[0], s->w[1], s->w[2], s->w[3]);
    size_t bytes = 0;
    ds_conv2d_workspace_args q = {.x = tx, .w = tw, .geom = s->geom, .bytes = &bytes};
    int rc = ds_conv2d_workspace_size(ctx, &q) == DS_OK ? 0 : 1;
    void *ws = malloc(bytes ? bytes : 1);
    ds_conv2d_fwd_args fa = {.x = tx, .w = tw, .y = ds_tensor_cpu4(y, DS_F32, s->x[0], s->w[0], P, Q),
                             .workspace = ds_tensor_cpu1(ws, DS_U8, (int64_t)(bytes ? bytes : 1)), .geom = s->geom};
    ds_conv2d_bwd_args ba = {.x = tx, .w = tw, .dy = fa.y, .dx = ds_tensor_cpu4(dx, DS_F32, s->x[0], s->x[1], s->x[2], s->x[3]),
                             .dw = ds_tensor_cpu4(dw, DS_F32, s->w[0], s->w[1], s->w[2], s->w[3]),
                             .workspace = fa.workspace, .geom = s->geom};
    ba.dy.data = dy;
    double *tf = malloc(sizeof(double) * (size_t)repeats), *tb = malloc(sizeof(double) * (size_t)repeats);
    if (!x || !w || !dy || !y || !dx || !dw || !ws || !tf || !tb) rc = 1;
    for (int r = -1; rc == 0 && r < repeats; r++) {  // r = -1: warm-up
        double t0 = now_ms();
        if (ds_conv2d_forward(ctx, &fa) != DS_OK) rc = 1;
        double t1 = now_ms();
        if (ds_conv2d_backward(ctx, &ba) != DS_OK) rc = 1;
        double t2 = now_ms();
        if (r >= 0) tf[r] = t1 - t0, tb[r] = t2 - t1;
    }
    if (rc == 0) {
        qsort(tf, (size_t)repeats, sizeof *tf, cmp_double);
        qsort(tb, (size_t)repeats, sizeof *tb, cmp_double);
        out->fwd_ms = tf[repeats / 2];
        out->bwd_ms = tb[repeats / 2];
    } else {
        fprintf(stderr, "ds_conv_bench: %s\n", ctx->err.msg);
    }
    free(x), free(w), free(dy), free(y), free(dx), free(dw), free(ws), free(tf), free(tb);
    return rc;
}

int main(int argc, char **argv) {
    ds_blas_fast_path(argv);
    int64_t N = 2, H = 256, W = 256;
    int repeats = 5, depth = 50;
    int64_t wav_samples = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) N = atoll(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 2 < argc) H = atoll(argv[++i]), W = atoll(argv[++i]);
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc) depth = atoi(argv[++i]);
        else if (strcmp(argv[i], "--wav2vec2") == 0 && i + 1 < argc) wav_samples = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: ds_conv_bench [--batch N] [--size H W] [--repeats R] [--depth 50|101] "
                            "[--wav2vec2 SAMPLES]\n");
            return 1;
        }
    }
    if (repeats < 1 || N < 1 || H < 1 || W < 1) {
        fprintf(stderr, "ds_conv_bench: batch, size and repeats must be >= 1\n");
        return 1;
    }
    char report[256];
    fprintf(stderr, "ds_conv_bench: %s; %d threads\n", ds_blas_fast_path_report(report, sizeof report),
            omp_get_max_threads());
    ds_context ctx = ds_context_cpu();
    enum { CAP = 256 };
    ds_deeplab_conv_shape shapes[CAP];
    int count = 0;
    if (wav_samples > 0) {
        count = ds_bench_wav2vec2_shapes(N, wav_samples, shapes, CAP);
    } else if (ds_bench_deeplab_shapes(&ctx, depth, N, H, W, shapes, CAP, &count) != DS_OK || count > CAP) {
        fprintf(stderr, "ds_conv_bench: %s\n", ctx.err.msg);
        return 1;
    }
    double total_f = 0, total_b = 0, total_gflop = 0;
    fprintf(stderr, "%-22s %-16s %-14s %4s %9s %9s %8s\n", "x (N,C,H,W)", "w (K,C,R,S)", "s/p/d/g", "uses", "fwd ms",
            "bwd ms", "GFLOP/s");
    for (int i = 0; i < count; i++) {
        const ds_deeplab_conv_shape *s = &shapes[i];
        timing tm;
        if (time_shape(&ctx, s, repeats, &tm) != 0) return 2;
        const int64_t P = ds_conv_out_size(s->x[2], (int)s->w[2], s->geom.stride_h ? s->geom.stride_h : 1, s->geom.pad_h,
                                           s->geom.dilation_h ? s->geom.dilation_h : 1);
        const int64_t Q = ds_conv_out_size(s->x[3], (int)s->w[3], s->geom.stride_w ? s->geom.stride_w : 1, s->geom.pad_w,
                                           s->geom.dilation_w ? s->geom.dilation_w : 1);
        const double gflop = 2.0 * (double)(s->x[0] * s->w[0] * P * Q) * (double)(s->w[1] * s->w[2] * s->w[3]) * 1e-9;
        const ds_conv2d_geom *gm = &s->geom;
        const int sh = gm->stride_h ? gm->stride_h : 1, sw = gm->stride_w ? gm->stride_w : 1;
        const int dh = gm->dilation_h ? gm->dilation_h : 1, dw = gm->dilation_w ? gm->dilation_w : 1;
        const int st = sh, dl = dh;
        printf("{\"x\": [%lld, %lld, %lld, %lld], \"w\": [%lld, %lld, %lld, %lld], \"stride\": [%d, %d], "
               "\"padding\": [%d, %d], \"dilation\": [%d, %d], \"groups\": %d, \"uses\": %d, \"fwd_ms\": %.3f, "
               "\"bwd_ms\": %.3f, \"gflop\": %.4f}\n",
               (long long)s->x[0], (long long)s->x[1], (long long)s->x[2], (long long)s->x[3], (long long)s->w[0],
               (long long)s->w[1], (long long)s->w[2], (long long)s->w[3], sh, sw, gm->pad_h, gm->pad_w, dh, dw,
               gm->groups ? gm->groups : 1, s->uses, tm.fwd_ms, tm.bwd_ms, gflop);
        char xs[32], wsh[32], g[24];
        snprintf(xs, sizeof xs, "%lld,%lld,%lld,%lld", (long long)s->x[0], (long long)s->x[1], (long long)s->x[2],
                 (long long)s->x[3]);
        snprintf(wsh, sizeof wsh, "%lld,%lld,%lld,%lld", (long long)s->w[0], (long long)s->w[1], (long long)s->w[2],
                 (long long)s->w[3]);
        snprintf(g, sizeof g, "%d/%d/%d/%d", st == 1 ? sw : st, gm->pad_h ? gm->pad_h : gm->pad_w, dl == 1 ? dw : dl,
                 gm->groups ? gm->groups : 1);
        fprintf(stderr, "%-22s %-16s %-14s %4d %9.2f %9.2f %8.1f\n", xs, wsh, g, s->uses, tm.fwd_ms, tm.bwd_ms,
                3 * gflop / ((tm.fwd_ms + tm.bwd_ms) * 1e-3));
        total_f += s->uses * tm.fwd_ms;
        total_b += s->uses * tm.bwd_ms;
        total_gflop += s->uses * gflop;
    }
    printf("{\"total\": true, \"shapes\": %d, \"fwd_ms\": %.3f, \"bwd_ms\": %.3f, \"gflop\": %.3f, \"threads\": %d}\n",
           count, total_f, total_b, total_gflop, omp_get_max_threads());
    fprintf(stderr, "total (weighted by uses): forward %.1f ms, backward %.1f ms, %.1f GFLOP/s\n", total_f, total_b,
            3 * total_gflop / ((total_f + total_b) * 1e-3));
    return 0;
}
