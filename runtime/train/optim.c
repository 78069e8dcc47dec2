#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/gpu.h"
#include "../../kernels/ops.h"
#include "../base/check.h"

ds_optim_options ds_optim_options_default(void) {
    ds_optim_options o = {
        .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.0, .max_grad_norm = 1.0,
        .nonfinite = DS_NONFINITE_ERROR,
    };
    return o;
}

static ds_status check_options(const ds_optim_options *o, ds_err *err) {
    DS_REQUIRE(err, o->beta1 >= 0 && o->beta1 < 1, DS_ERR_INVALID_ARG, "optimizer: beta1 must be in [0, 1), got %g",
               o->beta1);
    DS_REQUIRE(err, o->beta2 >= 0 && o->beta2 < 1, DS_ERR_INVALID_ARG, "optimizer: beta2 must be in [0, 1), got %g",
               o->beta2);
    DS_REQUIRE(err, isfinite(o->eps) && o->eps >= 0, DS_ERR_INVALID_ARG, "optimizer: eps must be >= 0, got %g",
               o->eps);
    DS_REQUIRE(err, isfinite(o->weight_decay) && o->weight_decay >= 0, DS_ERR_INVALID_ARG,
               "optimizer: weight_decay must be >= 0, got %g", o->weight_decay);
    DS_REQUIRE(err, isfinite(o->max_grad_norm), DS_ERR_INVALID_ARG,
               "optimizer: max_grad_norm must be finite (<= 0 turns clipping off), got %g", o->max_grad_norm);
    DS_REQUIRE(err, o->nonfinite == DS_NONFINITE_ERROR || o->nonfinite == DS_NONFINITE_SKIP, DS_ERR_INVALID_ARG,
               "optimizer: unknown non-finite policy %d", (int)o->nonfinite);
    return DS_OK;
}

ds_status ds_optim_init(ds_optim *o, const ds_param_block *pb, const ds_optim_options *options, ds_err *err) {
    memset(o, 0, sizeof *o);
    DS_TRY(check_options(options, err));
    o->options = *options;
    o->total = pb->total;
    const size_t bytes = ((pb->total ? pb->total : 1) * sizeof(float) + 255) / 256 * 256;
    o->m = aligned_alloc(256, bytes);
    o->v = aligned_alloc(256, bytes);
    if (!o->m || !o->v) {
        ds_optim_free(o);
        return ds_err_set(err, DS_ERR_OOM, "optimizer: cannot allocate 2 x %zu bytes of moments", bytes);
    }
    memset(o->m, 0, bytes);
    memset(o->v, 0, bytes);
    return DS_OK;
}

void ds_optim_free(ds_optim *o) {
    if (o->dev_owner) {
        ds_context *ctx = o->dev_owner;
        const size_t n = o->total ? o->total : 1;
        ds_gpu_free(ctx, o->m_dev, n * sizeof(float));
        ds_gpu_free(ctx, o->v_dev, n * sizeof(float));
        ds_gpu_free(ctx, o->decay_mask_dev, n);
    }
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

static ds_tensor moment_view(const ds_param_block *pb, float *base, int i) {
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    return ds_tensor_make(base + pb->offset[i], DS_F32, cpu, pb->specs[i].ndim, pb->specs[i].shape);
}

ds_tensor ds_optim_m(const ds_optim *o, const ds_param_block *pb, int i) { return moment_view(pb, o->m, i); }
ds_tensor ds_optim_v(const ds_optim *o, const ds_param_block *pb, int i) { return moment_view(pb, o->v, i); }

// One tensor's 2-norm: squares summed in double over fixed chunks whose partial sums are then
// added in chunk order, so the result does not depend on the thread count; rounded to fp32 as
// torch returns it. (torch accumulates in fp32 with a CPU-dependent vector order; the double sum
// is closer to the exact norm, and the two agree within an ulp or two: tests/cpu/test_optim.c.)
#define NORM_CHUNK 8192
static double chunk_sum_sq(const float *g, int64_t n, int64_t c) {  // g: (n) host
    const int64_t end = (c + 1) * NORM_CHUNK < n ? (c + 1) * NORM_CHUNK : n;
    double s = 0;
    for (int64_t i = c * NORM_CHUNK; i < end; i++) s += (double)g[i] * g[i];
    return s;
}

static float tensor_norm(const float *g, int64_t n) {  // g: (n) host
    const int64_t chunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    double *partial = chunks > 1 ? malloc((size_t)chunks * sizeof *partial) : NULL;  // (chunks) host
    double sum = 0;
    if (partial == NULL) {  // one chunk, or no memory: the same order on this thread
        for (int64_t c = 0; c < chunks; c++) sum += chunk_sum_sq(g, n, c);
        return (float)sqrt(sum);
    }
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; c++) partial[c] = chunk_sum_sq(g, n, c);
    for (int64_t c = 0; c < chunks; c++) sum += partial[c];
    free(partial);
    return (float)sqrt(sum);
}

float ds_grad_global_norm(const ds_param_block *pb) {
    double sum = 0;  // of the fp32 per-tensor norms squared, as vector_norm(stack(norms))
    for (int i = 0; i < pb->count; i++) {
        const ds_tensor g = ds_param_block_grad(pb, i);
        const float n = tensor_norm(g.data, ds_tensor_numel(&g));
        sum += (double)n * n;
    }
    return (float)sqrt(sum);
}

float ds_clip_coef(float total_norm, double max_norm) {
    if (!(max_norm > 0)) return 1.0f;
    const float denom = total_norm + (float)1e-6;  // tensor + python scalar: the scalar as float
    const float coef = (1.0f / denom) * (float)max_norm;
    return isnan(coef) || coef < 1.0f ? coef : 1.0f;  // clamp(max=1.0) keeps NaN, as torch.clamp
}

static size_t elems(const ds_optim *o) { return o->total ? o->total : 1; }

ds_status ds_optim_to_device(ds_context *ctx, ds_optim *o, const ds_param_block *pb) {
    if (ctx->device.kind != DS_DEVICE_CUDA) return DS_OK;
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, o->device.kind == DS_DEVICE_CPU && o->total == pb->total, DS_ERR_INVALID_ARG,
               "optimizer: already on a device, or initialised for another block (%zu elements, block %zu)", o->total,
               pb->total);
    const size_t n = elems(o);
    o->dev_owner = ctx;  // from here on ds_optim_free frees what was allocated
    void *m = NULL, *v = NULL, *mask = NULL;
    DS_TRY(ds_gpu_alloc(ctx, n * sizeof(float), &m));
    o->m_dev = m;
    DS_TRY(ds_gpu_alloc(ctx, n * sizeof(float), &v));
    o->v_dev = v;
    DS_TRY(ds_gpu_alloc(ctx, n, &mask));
    o->decay_mask_dev = mask;
    uint8_t *h = calloc(n, 1);  // (n) host: the mask, 0 on padding
    DS_REQUIRE(err, h != NULL, DS_ERR_OOM, "optimizer: out of host memory for the decay mask");
    for (int i = 0; i < pb->count; i++) {
        if (!pb->specs[i].decay) continue;
        const ds_tensor p = ds_param_block_param(pb, i);
        memset(h + pb->offset[i], 1, (size_t)ds_tensor_numel(&p));
    }
    ds_status st = ds_gpu_upload(ctx, o->decay_mask_dev, h, n);
    if (st == DS_OK) st = ds_gpu_sync(ctx);  // before the pageable source goes
    free(h);
    DS_TRY(st);
    o->device = ctx->device;
    return ds_optim_upload(ctx, o);
}

ds_status ds_optim_upload(ds_context *ctx, ds_optim *o) {
    if (o->device.kind == DS_DEVICE_CPU) return DS_OK;
    DS_TRY(ds_gpu_upload(ctx, o->m_dev, o->m, elems(o) * sizeof(float)));
    return ds_gpu_upload(ctx, o->v_dev, o->v, elems(o) * sizeof(float));
}

ds_status ds_optim_download(ds_context *ctx, ds_optim *o) {
    if (o->device.kind == DS_DEVICE_CPU) return DS_OK;
    DS_TRY(ds_gpu_download(ctx, o->m, o->m_dev, elems(o) * sizeof(float)));
    DS_TRY(ds_gpu_download(ctx, o->v, o->v_dev, elems(o) * sizeof(float)));
    return ds_gpu_sync(ctx);
}

// The global norm on the device: one fixed-order reduction over the whole block (see optim.h).
static ds_status device_norm(ds_context *ctx, const ds_param_block *pb, float *norm) {
    double sum = 0;
    DS_TRY(ds_gpu_sum_squares(ctx, pb->grads_dev, pb->total, &sum));
    *norm = (float)sqrt(sum);
    return DS_OK;
}

// One AdamW update of the whole flat block on the device.
static ds_status device_update(ds_context *ctx, ds_optim *o, ds_param_block *pb, double lr, float coef,
                               int64_t step) {
    const int64_t n = (int64_t)pb->total;
    const ds_device dev = pb->device;
    const ds_adamw_args a = {
        .param = ds_param_block_op_flat_params(pb), .grad = ds_param_block_op_flat_grads(pb),
        .m = ds_tensor_make(o->m_dev, DS_F32, dev, 1, &n), .v = ds_tensor_make(o->v_dev, DS_F32, dev, 1, &n),
        .param_bf16 = ds_param_block_op_flat_bf16(pb),
        .lr = lr, .beta1 = o->options.beta1, .beta2 = o->options.beta2, .eps = o->options.eps,
        .weight_decay = o->options.weight_decay, .grad_scale = coef, .step = step,
        .decay_mask = ds_tensor_make(o->decay_mask_dev, DS_U8, dev, 1, &n),
    };
    return ds_adamw_step(ctx, &a);
}

ds_status ds_optim_step(ds_context *ctx, ds_optim *o, ds_param_block *pb, double lr, ds_optim_stats *stats) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, o->m != NULL && o->total == pb->total, DS_ERR_INVALID_ARG,
               "optimizer step: the optimizer was initialised for a block of %zu elements, this one has %zu",
               o->total, pb->total);
    DS_REQUIRE(err, isfinite(lr) && lr >= 0, DS_ERR_INVALID_ARG, "optimizer step: lr must be finite and >= 0, got %g",
               lr);
    const bool on_device = pb->device.kind != DS_DEVICE_CPU;
    DS_REQUIRE(err, on_device == (o->device.kind != DS_DEVICE_CPU), DS_ERR_INVALID_ARG,
               "optimizer step: the parameters are in %s memory but the moments in %s memory (ds_optim_to_device)",
               on_device ? "device" : "host", on_device ? "host" : "device");
    float norm = 0;
    if (on_device) DS_TRY(device_norm(ctx, pb, &norm));
    else norm = ds_grad_global_norm(pb);
    const float coef = ds_clip_coef(norm, o->options.max_grad_norm);
    ds_optim_stats s = {.grad_norm = norm, .clip_coef = coef, .lr = lr, .skipped = false};
    if (!isfinite(norm)) {
        if (o->options.nonfinite == DS_NONFINITE_SKIP) {
            s.skipped = true;
            if (stats) *stats = s;
            return DS_OK;
        }
        return ds_err_set(err, DS_ERR_NUMERIC,
                          "optimizer step %lld: the gradient norm is %g; no parameter was updated (a NaN or Inf "
                          "in the loss or gradients: lower the learning rate, or check the inputs)",
                          (long long)o->step + 1, (double)norm);
    }
    const int64_t step = o->step + 1;
    if (on_device) {
        DS_TRY(device_update(ctx, o, pb, lr, coef, step));
        o->step = step;
        if (stats) *stats = s;
        return DS_OK;
    }
    for (int i = 0; i < pb->count; i++) {
        const ds_adamw_args a = {
            .param = ds_param_block_param(pb, i), .grad = ds_param_block_grad(pb, i),
            .m = ds_optim_m(o, pb, i), .v = ds_optim_v(o, pb, i),
            .lr = lr, .beta1 = o->options.beta1, .beta2 = o->options.beta2, .eps = o->options.eps,
            .weight_decay = pb->specs[i].decay ? o->options.weight_decay : 0.0,
            .grad_scale = coef, .step = step,
        };
        const ds_status st = ds_adamw_step(ctx, &a);
        if (st != DS_OK) {
            // Tensors before i are updated already: only a broken block can get here.
            char prefix[sizeof err->msg];
            snprintf(prefix, sizeof prefix, "%s", err->msg);
            ds_err_clear(err);
            return ds_err_set(err, st, "optimizer step %lld, tensor '%s': %s", (long long)step, pb->specs[i].name,
                              prefix);
        }
    }
    o->step = step;
    if (stats) *stats = s;
    return DS_OK;
}
