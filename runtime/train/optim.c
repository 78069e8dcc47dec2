#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/gpu.h"
#include "../../kernels/ops.h"
#include "../base/check.h"

static const char *const k_kind_names[] = {[DS_OPTIM_ADAMW] = "adamw", [DS_OPTIM_SGD] = "sgd"};
#define KIND_COUNT ((int)(sizeof k_kind_names / sizeof k_kind_names[0]))

const char *ds_optim_kind_name(ds_optim_kind k) {
    return (int)k >= 0 && (int)k < KIND_COUNT ? k_kind_names[k] : "unknown";
}

int ds_optim_kind_parse(const char *name, ds_optim_kind *out) {
    for (int k = 0; k < KIND_COUNT; k++)
        if (strcmp(name, k_kind_names[k]) == 0) {
            *out = (ds_optim_kind)k;
            return 0;
        }
    return -1;
}

ds_optim_options ds_optim_options_default(void) {
    ds_optim_options o = {
        .kind = DS_OPTIM_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .momentum = 0.9, .nesterov = false,
        .weight_decay = 0.0, .max_grad_norm = 1.0, .nonfinite = DS_NONFINITE_ERROR,
    };
    return o;
}

static ds_status check_options(const ds_optim_options *o, ds_err *err) {
    DS_REQUIRE(err, (int)o->kind >= 0 && (int)o->kind < KIND_COUNT, DS_ERR_INVALID_ARG,
               "optimizer: unknown kind %d", (int)o->kind);
    DS_REQUIRE(err, o->beta1 >= 0 && o->beta1 < 1, DS_ERR_INVALID_ARG, "optimizer: beta1 must be in [0, 1), got %g",
               o->beta1);
    DS_REQUIRE(err, o->beta2 >= 0 && o->beta2 < 1, DS_ERR_INVALID_ARG, "optimizer: beta2 must be in [0, 1), got %g",
               o->beta2);
    DS_REQUIRE(err, isfinite(o->eps) && o->eps >= 0, DS_ERR_INVALID_ARG, "optimizer: eps must be >= 0, got %g",
               o->eps);
    DS_REQUIRE(err, isfinite(o->momentum) && o->momentum >= 0, DS_ERR_INVALID_ARG,
               "optimizer: momentum must be >= 0, got %g", o->momentum);
    DS_REQUIRE(err, !(o->kind == DS_OPTIM_SGD && o->nesterov && o->momentum == 0), DS_ERR_INVALID_ARG,
               "optimizer: Nesterov momentum requires train.momentum > 0 (as torch.optim.SGD)");
    DS_REQUIRE(err, isfinite(o->weight_decay) && o->weight_decay >= 0, DS_ERR_INVALID_ARG,
               "optimizer: weight_decay must be >= 0, got %g", o->weight_decay);
    DS_REQUIRE(err, isfinite(o->max_grad_norm), DS_ERR_INVALID_ARG,
               "optimizer: max_grad_norm must be finite (<= 0 turns clipping off), got %g", o->max_grad_norm);
    DS_REQUIRE(err, o->nonfinite == DS_NONFINITE_ERROR || o->nonfinite == DS_NONFINITE_SKIP, DS_ERR_INVALID_ARG,
               "optimizer: unknown non-finite policy %d", (int)o->nonfinite);
    return DS_OK;
}

static size_t elems(const ds_optim *o) { return o->total ? o->total : 1; }

static float *alloc_state(size_t n) {
    const size_t bytes = (n * sizeof(float) + 255) / 256 * 256;
    float *p = aligned_alloc(256, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

ds_status ds_optim_init(ds_optim *o, const ds_param_block *pb, const ds_optim_options *options, ds_err *err) {
    memset(o, 0, sizeof *o);
    DS_TRY(check_options(options, err));
    o->options = *options;
    o->begin = pb->train_begin;
    o->total = pb->train_end - pb->train_begin;
    if (options->kind == DS_OPTIM_ADAMW) {
        o->m = o->state[o->nstates++] = alloc_state(elems(o));
        o->v = o->state[o->nstates++] = alloc_state(elems(o));
    } else if (options->momentum != 0) {
        o->buf = o->state[o->nstates++] = alloc_state(elems(o));
    }
    for (int k = 0; k < o->nstates; k++)
        if (!o->state[k]) {
            ds_optim_free(o);
            return ds_err_set(err, DS_ERR_OOM, "optimizer: cannot allocate %d x %zu bytes of state", o->nstates,
                              elems(o) * sizeof(float));
        }
    return DS_OK;
}

void ds_optim_free(ds_optim *o) {
    if (o->dev_owner) {
        ds_context *ctx = o->dev_owner;
        for (int k = 0; k < o->nstates; k++) ds_gpu_free(ctx, o->state_dev[k], elems(o) * sizeof(float));
        ds_gpu_free(ctx, o->decay_mask_dev, elems(o));
    }
    for (int k = 0; k < o->nstates; k++) free(o->state[k]);
    memset(o, 0, sizeof *o);
}

const char *ds_optim_state_name(const ds_optim *o, int k) {
    if (k < 0 || k >= o->nstates) return "?";
    if (o->options.kind == DS_OPTIM_SGD) return "sgd_momentum";
    return k == 0 ? "adam_m" : "adam_v";
}

static ds_tensor state_view(const ds_optim *o, const ds_param_block *pb, const float *base, int i) {
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    if (!base || !ds_param_is_trainable(pb, i) || pb->offset[i] < o->begin)
        return ds_tensor_make(NULL, DS_F32, cpu, pb->specs[i].ndim, pb->specs[i].shape);
    return ds_tensor_make((float *)base + (pb->offset[i] - o->begin), DS_F32, cpu, pb->specs[i].ndim,
                          pb->specs[i].shape);
}

ds_tensor ds_optim_state_view(const ds_optim *o, const ds_param_block *pb, int k, int i) {
    return state_view(o, pb, k >= 0 && k < o->nstates ? o->state[k] : NULL, i);
}
ds_tensor ds_optim_m(const ds_optim *o, const ds_param_block *pb, int i) { return state_view(o, pb, o->m, i); }
ds_tensor ds_optim_v(const ds_optim *o, const ds_param_block *pb, int i) { return state_view(o, pb, o->v, i); }
ds_tensor ds_optim_buf(const ds_optim *o, const ds_param_block *pb, int i) { return state_view(o, pb, o->buf, i); }

// The global norm: each tensor's squares summed in double over fixed chunks of NORM_CHUNK
// elements, each chunk over 16 lanes (element j into lane j % 16, in order) and then a fixed tree;
// a tensor's chunk sums are added in chunk order and its norm rounded to fp32 as torch returns it.
// Neither order depends on the thread count. (torch accumulates in fp32 with a CPU-dependent
// vector order; the double sum is closer to the exact norm, and the two agree within an ulp or
// two: tests/cpu/test_optim.c. Each product of two floats is exact in double, so only the adds
// round, and their error, ~1e-16 relative, almost never reaches the fp32 rounding of the norm.)
// The 16 independent lane sums let the compiler vectorise the loop (one running sum is a chain
// of dependent adds), and all tensors' chunks share one parallel region.
#define NORM_CHUNK 8192
static int64_t norm_chunks(int64_t n) { return (n + NORM_CHUNK - 1) / NORM_CHUNK; }

static double chunk_sum_sq(const float *restrict g, int64_t n, int64_t c) {  // g: (n) host
    const int64_t end = (c + 1) * NORM_CHUNK < n ? (c + 1) * NORM_CHUNK : n;
    double a[16];
    for (int l = 0; l < 16; l++) a[l] = 0.0;
    int64_t i = c * NORM_CHUNK;
    for (; i + 16 <= end; i += 16)
        for (int l = 0; l < 16; l++) a[l] += (double)g[i + l] * (double)g[i + l];
    for (int l = 0; i + l < end; l++) a[l] += (double)g[i + l] * (double)g[i + l];
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) a[l] += a[l + w];
    return a[0];
}

// Chunk sums of trainable tensor i (the grad view g, n elements) into p (chunks); inside a
// parallel region every thread calls it for the same tensors in the same order, and the chunks
// are shared out without a barrier between tensors.
static void tensor_chunk_sums(const float *g, int64_t n, double *p) {  // g: (n) host; p: (chunks) host
#pragma omp for schedule(static) nowait
    for (int64_t c = 0; c < norm_chunks(n); c++) p[c] = chunk_sum_sq(g, n, c);
}

float ds_grad_global_norm(const ds_param_block *pb) {
    int64_t total = 0;  // chunks of all trainable tensors
    for (int i = 0; i < pb->count; i++)
        if (ds_param_is_trainable(pb, i)) {
            const ds_tensor g = ds_param_block_grad(pb, i);
            total += norm_chunks(ds_tensor_numel(&g));
        }
    double *partial = malloc((size_t)(total > 0 ? total : 1) * sizeof *partial);  // (total) host, tensor by tensor
    double sum = 0;  // of the fp32 per-tensor norms squared, as vector_norm(stack(norms))
    if (partial == NULL) {  // no memory: the same sums, in the same order, on this thread
        for (int i = 0; i < pb->count; i++) {
            if (!ds_param_is_trainable(pb, i)) continue;
            const ds_tensor g = ds_param_block_grad(pb, i);
            const int64_t n = ds_tensor_numel(&g);
            double t = 0;
            for (int64_t c = 0; c < norm_chunks(n); c++) t += chunk_sum_sq(g.data, n, c);
            const float norm = (float)sqrt(t);
            sum += (double)norm * norm;
        }
        return (float)sqrt(sum);
    }
#pragma omp parallel
    {
        int64_t at = 0;
        for (int i = 0; i < pb->count; i++) {
            if (!ds_param_is_trainable(pb, i)) continue;
            const ds_tensor g = ds_param_block_grad(pb, i);
            const int64_t n = ds_tensor_numel(&g);
            tensor_chunk_sums(g.data, n, partial + at);
            at += norm_chunks(n);
        }
    }
    int64_t at = 0;
    for (int i = 0; i < pb->count; i++) {
        if (!ds_param_is_trainable(pb, i)) continue;
        const ds_tensor g = ds_param_block_grad(pb, i);
        const int64_t chunks = norm_chunks(ds_tensor_numel(&g));
        double t = 0;
        for (int64_t c = 0; c < chunks; c++) t += partial[at + c];
        at += chunks;
        const float norm = (float)sqrt(t);
        sum += (double)norm * norm;
    }
    free(partial);
    return (float)sqrt(sum);
}

float ds_clip_coef(float total_norm, double max_norm) {
    if (!(max_norm > 0)) return 1.0f;
    const float denom = total_norm + (float)1e-6;  // tensor + python scalar: the scalar as float
    const float coef = (1.0f / denom) * (float)max_norm;
    return isnan(coef) || coef < 1.0f ? coef : 1.0f;  // clamp(max=1.0) keeps NaN, as torch.clamp
}

static bool same_range(const ds_optim *o, const ds_param_block *pb) {
    return o->begin == pb->train_begin && o->total == pb->train_end - pb->train_begin;
}

ds_status ds_optim_to_device(ds_context *ctx, ds_optim *o, const ds_param_block *pb) {
    if (ctx->device.kind != DS_DEVICE_CUDA) return DS_OK;
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, o->device.kind == DS_DEVICE_CPU && same_range(o, pb), DS_ERR_INVALID_ARG,
               "optimizer: already on a device, or initialised for another block (%zu elements, block %zu)", o->total,
               pb->train_end - pb->train_begin);
    const size_t n = elems(o);
    o->dev_owner = ctx;  // from here on ds_optim_free frees what was allocated
    for (int k = 0; k < o->nstates; k++) {
        void *s = NULL;
        DS_TRY(ds_gpu_alloc(ctx, n * sizeof(float), &s));
        o->state_dev[k] = s;
    }
    void *mask = NULL;
    DS_TRY(ds_gpu_alloc(ctx, n, &mask));
    o->decay_mask_dev = mask;
    uint8_t *h = calloc(n, 1);  // (n) host: the mask of the trainable range, 0 on padding
    DS_REQUIRE(err, h != NULL, DS_ERR_OOM, "optimizer: out of host memory for the decay mask");
    for (int i = 0; i < pb->count; i++) {
        if (!pb->specs[i].decay || !ds_param_is_trainable(pb, i)) continue;
        memset(h + (pb->offset[i] - o->begin), 1, ds_param_spec_numel(&pb->specs[i]));
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
    for (int k = 0; k < o->nstates; k++)
        DS_TRY(ds_gpu_upload(ctx, o->state_dev[k], o->state[k], elems(o) * sizeof(float)));
    return DS_OK;
}

ds_status ds_optim_download(ds_context *ctx, ds_optim *o) {
    if (o->device.kind == DS_DEVICE_CPU) return DS_OK;
    for (int k = 0; k < o->nstates; k++)
        DS_TRY(ds_gpu_download(ctx, o->state[k], o->state_dev[k], elems(o) * sizeof(float)));
    return ds_gpu_sync(ctx);
}

// The global norm on the device: one fixed-order reduction over the trainable range (see optim.h).
static ds_status device_norm(ds_context *ctx, const ds_optim *o, const ds_param_block *pb, float *norm) {
    double sum = 0;
    DS_TRY(ds_gpu_sum_squares(ctx, pb->grads_dev + o->begin, o->total, &sum));
    *norm = (float)sqrt(sum);
    return DS_OK;
}

// One update of group g's flat range [g.begin, g.end) on the device.
static ds_status device_update(ds_context *ctx, ds_optim *o, ds_param_block *pb, const ds_param_group *g,
                               double lr, float coef, int64_t step) {
    const int64_t n = (int64_t)(g->end - g->begin);
    const size_t at = g->begin - o->begin;  // in the state arrays
    const ds_device dev = pb->device;
    const ds_tensor param = ds_tensor_make(pb->params_dev + g->begin, DS_F32, dev, 1, &n);
    const ds_tensor grad = ds_tensor_make(pb->grads_dev + g->begin, DS_F32, dev, 1, &n);
    const ds_tensor bf16 = pb->params_bf16_dev ? ds_tensor_make(pb->params_bf16_dev + g->begin, DS_BF16, dev, 1, &n)
                                               : (ds_tensor){0};
    const ds_tensor mask = ds_tensor_make(o->decay_mask_dev + at, DS_U8, dev, 1, &n);
    if (o->options.kind == DS_OPTIM_SGD) {
        const ds_sgd_args a = {
            .param = param, .grad = grad, .param_bf16 = bf16, .decay_mask = mask,
            .momentum_buf = o->buf ? ds_tensor_make(o->state_dev[0] + at, DS_F32, dev, 1, &n) : (ds_tensor){0},
            .lr = lr, .momentum = o->options.momentum, .weight_decay = o->options.weight_decay,
            .nesterov = o->options.nesterov, .grad_scale = coef, .step = step,
        };
        return ds_sgd_step(ctx, &a);
    }
    const ds_adamw_args a = {
        .param = param, .grad = grad, .param_bf16 = bf16, .decay_mask = mask,
        .m = ds_tensor_make(o->state_dev[0] + at, DS_F32, dev, 1, &n),
        .v = ds_tensor_make(o->state_dev[1] + at, DS_F32, dev, 1, &n),
        .lr = lr, .beta1 = o->options.beta1, .beta2 = o->options.beta2, .eps = o->options.eps,
        .weight_decay = o->options.weight_decay, .grad_scale = coef, .step = step,
    };
    return ds_adamw_step(ctx, &a);
}

// One update of trainable tensor i on the host.
static ds_status host_update(ds_context *ctx, ds_optim *o, ds_param_block *pb, int i, double lr, float coef,
                             int64_t step) {
    const double wd = pb->specs[i].decay ? o->options.weight_decay : 0.0;
    if (o->options.kind == DS_OPTIM_SGD) {
        const ds_sgd_args a = {
            .param = ds_param_block_param(pb, i), .grad = ds_param_block_grad(pb, i),
            .momentum_buf = o->buf ? ds_optim_buf(o, pb, i) : (ds_tensor){0},
            .lr = lr, .momentum = o->options.momentum, .weight_decay = wd, .nesterov = o->options.nesterov,
            .grad_scale = coef, .step = step,
        };
        return ds_sgd_step(ctx, &a);
    }
    const ds_adamw_args a = {
        .param = ds_param_block_param(pb, i), .grad = ds_param_block_grad(pb, i),
        .m = ds_optim_m(o, pb, i), .v = ds_optim_v(o, pb, i),
        .lr = lr, .beta1 = o->options.beta1, .beta2 = o->options.beta2, .eps = o->options.eps,
        .weight_decay = wd, .grad_scale = coef, .step = step,
    };
    return ds_adamw_step(ctx, &a);
}

ds_status ds_optim_step(ds_context *ctx, ds_optim *o, ds_param_block *pb, double base_lr, double lr_factor,
                        ds_optim_stats *stats) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, same_range(o, pb) && (o->nstates > 0 || o->options.kind == DS_OPTIM_SGD), DS_ERR_INVALID_ARG,
               "optimizer step: the optimizer was initialised for a trainable range of %zu elements, this block has "
               "%zu", o->total, pb->train_end - pb->train_begin);
    const double lr = base_lr * lr_factor;
    DS_REQUIRE(err, isfinite(lr) && lr >= 0, DS_ERR_INVALID_ARG, "optimizer step: lr must be finite and >= 0, got %g",
               lr);
    const bool on_device = pb->device.kind != DS_DEVICE_CPU;
    DS_REQUIRE(err, on_device == (o->device.kind != DS_DEVICE_CPU), DS_ERR_INVALID_ARG,
               "optimizer step: the parameters are in %s memory but the optimizer state in %s memory "
               "(ds_optim_to_device)", on_device ? "device" : "host", on_device ? "host" : "device");
    float norm = 0;
    if (on_device) DS_TRY(device_norm(ctx, o, pb, &norm));
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
    for (int gi = 0; gi < pb->group_count; gi++) {
        const ds_param_group *g = &pb->groups[gi];
        // torch: each param group's lr is its initial lr (base x multiplier) times the schedule's factor.
        const double glr = (base_lr * g->lr_mult) * lr_factor;
        if (on_device) {
            DS_TRY(device_update(ctx, o, pb, g, glr, coef, step));
            continue;
        }
        for (int i = 0; i < pb->count; i++) {
            if (!ds_param_is_trainable(pb, i) || pb->offset[i] < g->begin || pb->offset[i] >= g->end) continue;
            const ds_status st = host_update(ctx, o, pb, i, glr, coef, step);
            if (st != DS_OK) {
                // Tensors before i are updated already: only a broken block can get here.
                char prefix[sizeof err->msg];
                snprintf(prefix, sizeof prefix, "%s", err->msg);
                ds_err_clear(err);
                return ds_err_set(err, st, "optimizer step %lld, tensor '%s': %s", (long long)step, pb->specs[i].name,
                                  prefix);
            }
        }
    }
    o->step = step;
    if (stats) *stats = s;
    return DS_OK;
}
