// `downstream bench` for the segmentation family: a training step of DeepLabV3-ResNet (forward in
// training mode with the aux head, pixel cross-entropy, backward, one SGD step with momentum 0.9
// and weight decay 1e-4 over each lr group, the gradients zeroed) on random normalised images and
// random masks, as torchvision's recipe runs it; the same step as scripts/bench/torch_seg_step.py.
// Defaults: the full-width ResNet-50 model (bench.width 64, bench.classes 21) at 2 x 3 x 256 x 256
// (bench.batch when set, else 2; bench.image_size). One JSON object to `out`, keys as the text
// family's CPU bench.
//
// FLOPs of a step (the basis of achieved_gflops and mfu): the convolutions only, 2 per multiply-add,
// 2 * N * Cout * (Cin / groups) * pairs_h * pairs_w each (ds_deeplab_conv_shapes lists them), where
// pairs_h counts the (output row, kernel row) pairs whose input row lies inside the image (R * P
// without padding; ds_conv_valid_pairs), likewise pairs_w: products with the zero padding are not
// work the model needs (ASPP's rate-36 3x3 on a 32 x 32 map is a 1x1: 8 of its 9 taps read only
// padding; the CPU conv skips them, so counting them made mfu exceed 1). Times 3 for forward + backward (dx and dw each
// cost a forward); BN, ReLU, pooling, upsampling and the loss are not counted.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../kernels/ops.h"
#include "../../base/check.h"
#include "../../base/log.h"
#include "../../../kernels/gpu.h"
#include "../../../models/common/device_memory.h"
#include "../bench_mfu.h"
#include "../task_loss.h"
#include "../../base/philox.h"
#include "../../train/optim.h"
#include "seg_internal.h"

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench_opts {
    int64_t batch, size, classes;
    int warmup, repeats;
    ds_deeplab_config cfg;
} bench_opts;

// Forward convolution FLOPs of one step of (N, size, size).
static ds_status conv_flops(ds_context *ctx, const ds_deeplab_model *m, const bench_opts *o, double *flops) {
    ds_deeplab_conv_shape shapes[256];
    int count = 0;
    DS_TRY(ds_deeplab_conv_shapes(ctx, m, o->batch, o->size, o->size, shapes, 256, &count));
    DS_REQUIRE(&ctx->err, count <= 256, DS_ERR_INTERNAL, "bench: %d conv shapes", count);
    double f = 0;
    for (int i = 0; i < count; i++) {
        const ds_deeplab_conv_shape *c = &shapes[i];
        const ds_conv2d_geom *g = &c->geom;
        const int sh = g->stride_h ? g->stride_h : 1, sw = g->stride_w ? g->stride_w : 1;
        const int dh = g->dilation_h ? g->dilation_h : 1, dw = g->dilation_w ? g->dilation_w : 1;
        const double pairs_h = (double)ds_conv_valid_pairs(c->x[2], (int)c->w[2], sh, g->pad_h, dh);
        const double pairs_w = (double)ds_conv_valid_pairs(c->x[3], (int)c->w[3], sw, g->pad_w, dw);
        f += 2.0 * (double)c->x[0] * (double)c->w[0] * (double)c->w[1] * pairs_h * pairs_w * c->uses;
    }
    *flops = f;
    return DS_OK;
}

ds_status ds_seg_bench(ds_context *ctx, const ds_config *cfg, const ds_bench_env *env, FILE *out) {
    ds_err *err = &ctx->err;
    bench_opts o = {.batch = ds_config_source_of(cfg, "bench.batch") == DS_CFG_FROM_DEFAULT ? 2
                                                                                           : ds_config_int(cfg, "bench.batch"),
                    .size = ds_config_int(cfg, "bench.image_size"), .classes = ds_config_int(cfg, "bench.classes"),
                    .warmup = (int)ds_config_int(cfg, "bench.warmup"), .repeats = (int)ds_config_int(cfg, "bench.repeats"),
                    .cfg = ds_deeplab_config_default()};
    o.cfg.depth = (int)ds_config_int(cfg, "bench.depth");
    o.cfg.width = ds_config_int(cfg, "bench.width");
    o.cfg.num_classes = o.classes;
    DS_REQUIRE(err, o.cfg.depth == 50 || o.cfg.depth == 101, DS_ERR_CONFIG, "bench.depth %d: 50 or 101", o.cfg.depth);
    DS_LOG_INFO(&ctx->log, "benchmarking a DeepLabV3-ResNet%d training step: width %lld, %lld classes, aux head, batch "
                "%lld x 3 x %lld x %lld, SGD momentum: %d warm-up + %d timed steps on %d threads", o.cfg.depth,
                (long long)o.cfg.width, (long long)o.classes, (long long)o.batch, (long long)o.size, (long long)o.size,
                o.warmup, o.repeats, omp_get_max_threads());
    ds_deeplab_model m;
    DS_TRY(ds_deeplab_create(ctx, &o.cfg, &m));
    ds_deeplab_init_weights(ctx, &m);
    const size_t px = (size_t)(o.batch * o.size * o.size);
    float *images = malloc(px * 3 * sizeof *images);  // (N, 3, S, S) F32 host
    int32_t *masks = malloc(px * sizeof *masks);       // (N, S, S) I32 host
    double *times = malloc((size_t)o.repeats * sizeof *times);
    ds_arena arena = {0};
    // The recipe's optimizer through the trainer's driver: SGD momentum 0.9, weight decay 1e-4, lr
    // 0.01 (x10 for the aux head's group), one fused pass per lr group on CUDA.
    ds_optim_options oo = ds_optim_options_default();
    oo.kind = DS_OPTIM_SGD;
    oo.momentum = 0.9;
    oo.weight_decay = 1e-4;
    oo.max_grad_norm = 0;
    ds_optim opt = {0};
    ds_status st = images && masks && times ? DS_OK : ds_err_set(err, DS_ERR_OOM, "bench: out of memory");
    if (st == DS_OK) st = ds_optim_init(&opt, &m.params, &oo, err);
    if (st == DS_OK) st = ds_deeplab_to_device(ctx, &m, env->act);
    if (st == DS_OK) st = ds_optim_to_device(ctx, &opt, &m.params);
    for (size_t i = 0; st == DS_OK && i < px * 3; i++)
        images[i] = 4.0f * ds_philox_uniform(ctx->seed, 201, i) - 2.0f;  // about the range of normalised photos
    for (size_t i = 0; st == DS_OK && i < px; i++)
        masks[i] = (int32_t)(ds_philox_u32(ctx->seed, 202, i) % (uint32_t)o.classes);
    size_t arena_bytes = 0;
    if (st == DS_OK) st = ds_deeplab_arena_bytes(ctx, &m, o.batch, o.size, o.size, true, &arena_bytes);
    if (st == DS_OK) st = ds_arena_init_for(ctx, &arena, arena_bytes);
    double flops = 0, last_loss = NAN, first_step_s = 0;
    if (st == DS_OK) st = conv_flops(ctx, &m, &o, &flops);
    ds_gpu_peaks peaks = {0};  // CUDA: the data-sheet peaks, the basis of mfu
    if (st == DS_OK && env->cuda) st = ds_gpu_peaks_get(ctx, &peaks);
    const ds_deeplab_batch b = {.N = o.batch, .H = o.size, .W = o.size, .images = images, .masks = masks};
    for (int i = 0; st == DS_OK && i < o.warmup + o.repeats; i++) {
        const double t0 = ds_now_seconds();
        // As the trainer runs a step: the loss stays on the device until the optimizer step is done.
        ds_deeplab_output y;
        st = ds_deeplab_forward_train(ctx, &m, &b, (uint64_t)i, NULL, &arena, &y);
        if (st == DS_OK) st = ds_deeplab_backward(ctx, &m, 1.0, &arena, NULL);
        if (st == DS_OK) st = ds_optim_step(ctx, &opt, &m.params, 0.01, 1.0, NULL);
        if (st == DS_OK) st = ds_deeplab_zero_grads(&m);
        const ds_task_loss l = {.count = m.cfg.aux ? 2 : 1, .term = {y.loss_term[0], y.loss_term[1]},
                                .coef = {1.0, (double)m.cfg.aux_weight}, .round_f32 = true};
        if (st == DS_OK) st = ds_task_loss_to_host(ctx, &l, &last_loss);
        if (st == DS_OK && env->cuda) st = ds_gpu_sync(ctx);  // the step's time includes its device work
        const double t1 = ds_now_seconds();
        if (i == 0) first_step_s = t1 - env->process_start_s;
        if (i >= o.warmup) times[i - o.warmup] = t1 - t0;
    }
    if (st == DS_OK) {
        qsort(times, (size_t)o.repeats, sizeof *times, cmp_double);
        const double med = times[o.repeats / 2];
        const int p90 = (int)ceil(0.9 * o.repeats) - 1;
        const double gflop = 3.0 * flops / 1e9, achieved = gflop / med;
        // mfu (bench_mfu.h): on the CPU against the measured sgemm rate; on CUDA against the
        // data-sheet dense peak of the precision in use, as the text family's CUDA bench.
        // Parameters, gradients and the momentum buffer (the block's size) + the activation arena.
        // CUDA: the device's peak of live allocations; CPU: the blocks and the arena.
        const size_t peak = env->cuda ? ds_gpu_peak_bytes(ctx) : 2 * m.params.total * sizeof(float) +
                            (m.params.train_end - m.params.train_begin) * sizeof(float) + arena_bytes;
        fprintf(out, "{\"device\": \"%s\", \"precision\": \"%s\", \"model\": \"deeplabv3_resnet%d\", \"width\": %lld, "
                "\"classes\": %lld, \"aux\": true, \"batch\": %lld, \"image_size\": %lld, \"params\": %lld, \"threads\": %d, "
                "\"samples_per_s\": %.3f, \"step_ms_median\": %.3f, \"step_ms_p90\": %.3f, \"model_gflop_per_step\": %.3f, "
                "\"achieved_gflops\": %.2f, \"gemm_gflops\": %.2f, \"mfu\": ",
                env->cuda ? "cuda" : "cpu", env->cuda && env->act == DS_BF16 ? "bf16" : "fp32", o.cfg.depth,
                (long long)o.cfg.width, (long long)o.classes, (long long)o.batch, (long long)o.size,
                (long long)ds_param_block_numel(&m.params), omp_get_max_threads(), (double)o.batch / med, 1e3 * med,
                1e3 * times[p90 < 0 ? 0 : p90], gflop, achieved, env->gemm_gflops);
        ds_bench_write_mfu(out, env, &peaks, achieved);
        fprintf(out, ", \"peak_mem_bytes\": %zu, \"arena_bytes\": %zu, "
                "\"first_step_s\": %.3f, \"data_wait_frac\": null, \"last_loss\": %.4f, \"blas_core\": \"%s\"}\n",
                peak, arena_bytes, first_step_s, last_loss, env->blas_core ? env->blas_core : "");
    }
    ds_arena_free(&arena);
    ds_deeplab_free(&m);
    ds_optim_free(&opt);
    free(images), free(masks), free(times);
    return st;
}
