// ds_conv_bench_gpu: times the CUDA conv2d op (kernels/ops.h) on every distinct convolution of
// DeepLabV3 (the model's own layers, ds_deeplab_conv_shapes) at a batch of N x 3 x H x W (default
// 8 x 3 x 512 x 512, ResNet-50, 21 classes, aux head), or with --wav2vec2 SAMPLES on wav2vec2-base's
// convolutions (feature encoder and the grouped positional conv) on N clips, in BF16, for each
// implementation: "own" (our FAST implicit GEMM, run.conv=own, run.kernels=fast) and "cudnn"
// (run.conv=cudnn: cuDNN's fastest deterministic algorithm). scripts/bench/torch_conv_gpu.py times
// torch.nn.functional.conv2d (bf16, channels_last, cudnn.benchmark) on the lines this prints, and
// scripts/gpu_check.sh tabulates both (ratios, the weighted whole-model total, MFU).
//
// Method (as bench/kernel_bench.c): per shape and implementation, x, w, dy random on the device
// (ds_bench_fill), the workspace the op's query asks for; warm-up calls (the first one also runs
// cuDNN's algorithm search for a new shape), then `repeats` calls of forward (y from x, w; no bias)
// and of backward (dx and dw, no db) each between CUDA events on the context's stream, a 0.5 ms
// device spin before each start event so that the events time device work, not host enqueueing;
// the median of each. Inputs are not rotated (each conv's tensors are MBs; torch's side does the
// same), so small shapes may find their inputs in L2 on both sides.
//
// Output: a "device" line, then one JSON line per shape and implementation: kernel "conv2d", impl,
// model, x, w, stride, padding, dilation ([h, w] each), groups, uses (convs of the model with this
// shape), gflop (forward; backward counts 2x), fwd_ms, bwd_ms, fwd_tflops, bwd_tflops, mfu (forward
// + backward FLOPs / time / the bf16 dense peak); or the same keys with "error". A "total" line
// per implementation weighted by uses. A table on stderr.
// Exit status: 0 all measured, 2 some shape reported an error, 1 no device (then one line
// {"error": "no GPU: ..."}).
// usage: ds_conv_bench_gpu [--batch N] [--size H W] [--depth 50|101] [--wav2vec2 SAMPLES]
//                          [--repeats R] [--warmup W] [--impl own|cudnn|both]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/gpu.h"
#include "../kernels/ops.h"
#include "../runtime/base/check.h"
#include "bench_device.h"
#include "conv_shapes.h"

#define MAX_REPEATS 200
#define SPACER_US 500

typedef struct conv_run {
    ds_conv2d_fwd_args fwd;
    ds_conv2d_bwd_args bwd;
} conv_run;

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// Median ms of `repeats` calls of forward (backward when bwd), after `warmup` calls.
static ds_status time_pass(ds_context *ctx, ds_bench_timer *timer, const conv_run *r, bool bwd, int warmup,
                           int repeats, double *ms) {
    for (int i = 0; i < warmup; i++) DS_TRY(bwd ? ds_conv2d_backward(ctx, &r->bwd) : ds_conv2d_forward(ctx, &r->fwd));
    for (int i = 0; i < repeats; i++) {
        DS_TRY(ds_bench_spin(ctx, SPACER_US));
        DS_TRY(ds_bench_timer_start(ctx, timer, i));
        DS_TRY(bwd ? ds_conv2d_backward(ctx, &r->bwd) : ds_conv2d_forward(ctx, &r->fwd));
        DS_TRY(ds_bench_timer_stop(ctx, timer, i));
    }
    float t[MAX_REPEATS];
    DS_TRY(ds_bench_timer_read(ctx, timer, repeats, t));
    qsort(t, (size_t)repeats, sizeof t[0], cmp_float);
    *ms = repeats % 2 ? t[repeats / 2] : 0.5 * ((double)t[repeats / 2 - 1] + t[repeats / 2]);
    return DS_OK;
}

typedef struct buffers {
    void *ptr[8];
    size_t bytes[8];
    int n;
} buffers;

static ds_status device_tensor(ds_context *ctx, buffers *b, ds_dtype dt, int ndim, const int64_t *shape, uint64_t seed,
                               ds_tensor *out) {
    *out = ds_tensor_make(NULL, dt, (ds_device){DS_DEVICE_CUDA, ctx->device.index}, ndim, shape);
    const size_t bytes = ds_tensor_nbytes(out);
    DS_TRY(ds_gpu_alloc(ctx, bytes ? bytes : 1, &out->data));
    b->ptr[b->n] = out->data;
    b->bytes[b->n++] = bytes ? bytes : 1;
    if (dt == DS_U8) return DS_OK;
    return ds_bench_fill(ctx, out->data, dt, (size_t)ds_tensor_numel(out), seed, -1.0f, 1.0f);
}

static void free_buffers(ds_context *ctx, buffers *b) {
    ds_gpu_sync(ctx);
    for (int i = 0; i < b->n; i++) ds_gpu_free(ctx, b->ptr[i], b->bytes[i]);
    b->n = 0;
}

// Times shape s with the context's current implementation; fwd_ms, bwd_ms out.
static ds_status time_shape(ds_context *ctx, ds_bench_timer *timer, const ds_deeplab_conv_shape *s, int warmup,
                            int repeats, double *fwd_ms, double *bwd_ms) {
    int64_t P, Q;
    ds_bench_conv_out(s, &P, &Q);
    const int64_t y4[4] = {s->x[0], s->w[0], P, Q};
    buffers b = {.n = 0};
    conv_run r;
    memset(&r, 0, sizeof r);
    ds_tensor x, w, y, dy, dx, dw, ws = {0};
    ds_status st = device_tensor(ctx, &b, DS_BF16, 4, s->x, 11, &x);
    if (st == DS_OK) st = device_tensor(ctx, &b, DS_BF16, 4, s->w, 12, &w);
    if (st == DS_OK) st = device_tensor(ctx, &b, DS_BF16, 4, y4, 13, &y);
    if (st == DS_OK) st = device_tensor(ctx, &b, DS_BF16, 4, y4, 14, &dy);
    if (st == DS_OK) st = device_tensor(ctx, &b, DS_BF16, 4, s->x, 15, &dx);
    if (st == DS_OK) st = device_tensor(ctx, &b, DS_F32, 4, s->w, 16, &dw);
    size_t bytes = 0;
    if (st == DS_OK) {
        ds_conv2d_workspace_args q = {.x = x, .w = w, .geom = s->geom, .bytes = &bytes};
        st = ds_conv2d_workspace_size(ctx, &q);
    }
    if (st == DS_OK && bytes > 0) {
        const int64_t n = (int64_t)bytes;
        st = device_tensor(ctx, &b, DS_U8, 1, &n, 0, &ws);
    }
    if (st == DS_OK) {
        r.fwd = (ds_conv2d_fwd_args){.x = x, .w = w, .y = y, .workspace = ws, .geom = s->geom};
        r.bwd = (ds_conv2d_bwd_args){.x = x, .w = w, .dy = dy, .dx = dx, .dw = dw, .workspace = ws, .geom = s->geom};
        st = time_pass(ctx, timer, &r, false, warmup, repeats, fwd_ms);
    }
    if (st == DS_OK) st = time_pass(ctx, timer, &r, true, warmup, repeats, bwd_ms);
    free_buffers(ctx, &b);
    return st;
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", (unsigned char)*s);
        else putchar(*s);
    }
    putchar('"');
}

static void print_shape_keys(const char *impl, const char *model, const ds_deeplab_conv_shape *s) {
    const ds_conv2d_geom *g = &s->geom;
    printf("{\"kernel\": \"conv2d\", \"impl\": \"%s\", \"model\": \"%s\", \"x\": [%lld, %lld, %lld, %lld], "
           "\"w\": [%lld, %lld, %lld, %lld], \"stride\": [%d, %d], \"padding\": [%d, %d], \"dilation\": [%d, %d], "
           "\"groups\": %d, \"uses\": %d, \"gflop\": %.4f",
           impl, model, (long long)s->x[0], (long long)s->x[1], (long long)s->x[2], (long long)s->x[3],
           (long long)s->w[0], (long long)s->w[1], (long long)s->w[2], (long long)s->w[3],
           g->stride_h ? g->stride_h : 1, g->stride_w ? g->stride_w : 1, g->pad_h, g->pad_w,
           g->dilation_h ? g->dilation_h : 1, g->dilation_w ? g->dilation_w : 1, g->groups ? g->groups : 1, s->uses,
           ds_bench_conv_gflop(s));
}

static int usage(void) {
    fprintf(stderr, "usage: ds_conv_bench_gpu [--batch N] [--size H W] [--depth 50|101] [--wav2vec2 SAMPLES]\n"
                    "                         [--repeats R] [--warmup W] [--impl own|cudnn|both]\n");
    return 1;
}

int main(int argc, char **argv) {
    int64_t N = 8, H = 512, W = 512, samples = 0;
    int depth = 50, repeats = 20, warmup = 3;
    const char *impl = "both";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) N = atoll(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 2 < argc) H = atoll(argv[++i]), W = atoll(argv[++i]);
        else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc) depth = atoi(argv[++i]);
        else if (strcmp(argv[i], "--wav2vec2") == 0 && i + 1 < argc) samples = atoll(argv[++i]);
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "--impl") == 0 && i + 1 < argc) impl = argv[++i];
        else return usage();
    }
    if (N < 1 || H < 1 || W < 1 || repeats < 1 || repeats > MAX_REPEATS || warmup < 1 ||
        (strcmp(impl, "own") && strcmp(impl, "cudnn") && strcmp(impl, "both")))
        return usage();
    ds_context ctx = ds_context_cpu();
    enum { CAP = 256 };
    ds_deeplab_conv_shape shapes[CAP];
    int count = 0;
    const char *model = samples > 0 ? "wav2vec2-base" : depth == 101 ? "deeplabv3-resnet101" : "deeplabv3-resnet50";
    if (samples > 0) {
        count = ds_bench_wav2vec2_shapes(N, samples, shapes, CAP);
    } else if (ds_bench_deeplab_shapes(&ctx, depth, N, H, W, shapes, CAP, &count) != DS_OK || count > CAP) {
        fprintf(stderr, "ds_conv_bench_gpu: %s\n", ctx.err.msg);
        return 1;
    }
    ds_gpu_options o = ds_gpu_options_default();
    o.kernels = DS_KERNELS_FAST;
    if (ds_gpu_open(&ctx, &o) != DS_OK) {
        printf("{\"error\": ");
        char msg[sizeof ctx.err.msg + 16];
        snprintf(msg, sizeof msg, "no GPU: %s", ctx.err.msg);
        json_string(msg);
        printf("}\n");
        fprintf(stderr, "ds_conv_bench_gpu: no GPU: %s\n", ctx.err.msg);
        return 1;
    }
    ctx.deterministic = true;
    ds_gpu_peaks peaks;
    ds_bench_timer *timer = NULL;
    if (ds_gpu_peaks_get(&ctx, &peaks) != DS_OK || ds_bench_timer_create(&ctx, MAX_REPEATS, &timer) != DS_OK) {
        fprintf(stderr, "ds_conv_bench_gpu: %s\n", ctx.err.msg);
        ds_gpu_close(&ctx);
        return 1;
    }
    printf("{\"device\": ");
    json_string(peaks.name);
    printf(", \"peak_bf16_tflops\": %.1f, \"model\": \"%s\", \"shapes\": %d, \"repeats\": %d}\n",
           peaks.bf16_flops / 1e12, model, count, repeats);
    fflush(stdout);
    int errors = 0;
    static const struct {
        const char *name;
        ds_conv_impl conv;
    } impls[] = {{"own", DS_CONV_OWN}, {"cudnn", DS_CONV_CUDNN}};
    for (size_t k = 0; k < 2; k++) {
        if (strcmp(impl, "both") != 0 && strcmp(impl, impls[k].name) != 0) continue;
        ds_gpu_set_conv(&ctx, impls[k].conv);
        double total_f = 0, total_b = 0, total_gflop = 0;
        fprintf(stderr, "%-6s %-22s %-18s %-16s %4s %9s %9s %7s\n", impls[k].name, "x (N,C,H,W)", "w (K,C,R,S)",
                "s/p/d/g", "uses", "fwd ms", "bwd ms", "MFU");
        for (int i = 0; i < count; i++) {
            const ds_deeplab_conv_shape *s = &shapes[i];
            double f = 0, b = 0;
            const ds_status st = time_shape(&ctx, timer, s, warmup, repeats, &f, &b);
            print_shape_keys(impls[k].name, model, s);
            const double gflop = ds_bench_conv_gflop(s);
            if (st != DS_OK) {
                printf(", \"error\": ");
                json_string(ctx.err.msg);
                printf("}\n");
                fprintf(stderr, "  error: %s\n", ctx.err.msg);
                ds_err_clear(&ctx.err);
                errors++;
                continue;
            }
            const double mfu = peaks.bf16_flops > 0 ? 3 * gflop * 1e9 / ((f + b) * 1e-3) / peaks.bf16_flops : NAN;
            printf(", \"fwd_ms\": %.4f, \"bwd_ms\": %.4f, \"fwd_tflops\": %.2f, \"bwd_tflops\": %.2f", f, b,
                   gflop / f, 2 * gflop / b);
            if (isfinite(mfu)) printf(", \"mfu\": %.4f", mfu);
            printf("}\n");
            fflush(stdout);
            char xs[48], wsh[48], gs[40];
            snprintf(xs, sizeof xs, "%lld,%lld,%lld,%lld", (long long)s->x[0], (long long)s->x[1], (long long)s->x[2],
                     (long long)s->x[3]);
            snprintf(wsh, sizeof wsh, "%lld,%lld,%lld,%lld", (long long)s->w[0], (long long)s->w[1],
                     (long long)s->w[2], (long long)s->w[3]);
            const ds_conv2d_geom *gm = &s->geom;
            snprintf(gs, sizeof gs, "%d,%d/%d,%d/%d,%d/%d", gm->stride_h ? gm->stride_h : 1,
                     gm->stride_w ? gm->stride_w : 1, gm->pad_h, gm->pad_w, gm->dilation_h ? gm->dilation_h : 1,
                     gm->dilation_w ? gm->dilation_w : 1, gm->groups ? gm->groups : 1);
            fprintf(stderr, "       %-22s %-18s %-16s %4d %9.3f %9.3f %6.1f%%\n", xs, wsh, gs, s->uses, f, b, 100 * mfu);
            total_f += s->uses * f;
            total_b += s->uses * b;
            total_gflop += s->uses * gflop;
        }
        const double mfu = peaks.bf16_flops > 0 && total_f + total_b > 0
                               ? 3 * total_gflop * 1e9 / ((total_f + total_b) * 1e-3) / peaks.bf16_flops
                               : NAN;
        printf("{\"total\": true, \"impl\": \"%s\", \"model\": \"%s\", \"shapes\": %d, \"fwd_ms\": %.3f, "
               "\"bwd_ms\": %.3f, \"gflop\": %.3f",
               impls[k].name, model, count, total_f, total_b, total_gflop);
        if (isfinite(mfu)) printf(", \"mfu\": %.4f", mfu);
        printf("}\n");
        fprintf(stderr, "%s total (weighted by uses): forward %.2f ms, backward %.2f ms, MFU %.1f%%\n", impls[k].name,
                total_f, total_b, 100 * mfu);
    }
    ds_bench_timer_destroy(timer);
    ds_gpu_close(&ctx);
    return errors ? 2 : 0;
}
