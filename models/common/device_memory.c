#include "device_memory.h"

#include <stdlib.h>
#include <string.h>

#include "../../kernels/gpu.h"
#include "../../runtime/base/check.h"

static bool is_cuda(const ds_context *ctx) { return ctx->device.kind == DS_DEVICE_CUDA; }

static void gpu_release(void *owner, void *dev_ptr, size_t bytes) { ds_gpu_free((ds_context *)owner, dev_ptr, bytes); }

// Appends what to change to an out-of-memory message of ds_gpu_alloc (which names the bytes
// asked for and the bytes free on the device).
static ds_status oom_advice(ds_context *ctx, ds_status st, const char *what) {
    if (st != DS_ERR_OOM) return st;
    char msg[sizeof ctx->err.msg];
    snprintf(msg, sizeof msg, "%s", ctx->err.msg);
    ds_err_clear(&ctx->err);
    return ds_err_set(&ctx->err, DS_ERR_OOM,
                      "%s: %s; lower train.batch_size (with train.grad_accum to keep the effective batch) or "
                      "model.max_length, or use run.precision=bf16",
                      what, msg);
}

ds_status ds_arena_init_for(ds_context *ctx, ds_arena *a, size_t bytes) {
    if (!is_cuda(ctx)) return ds_arena_init_cpu(a, bytes, &ctx->err);
    memset(a, 0, sizeof *a);
    const size_t rounded = (bytes + DS_ARENA_ALIGN - 1) / DS_ARENA_ALIGN * DS_ARENA_ALIGN;
    void *p = NULL;
    if (rounded) DS_TRY(oom_advice(ctx, ds_gpu_alloc(ctx, rounded, &p), "activation arena"));
    a->base = p;  // (rounded) device; ds_gpu_alloc aligns to at least 256 bytes
    a->size = rounded;
    a->device = ctx->device;
    a->dev_release = gpu_release;
    a->dev_owner = ctx;
    return DS_OK;
}

static size_t block_elems(const ds_param_block *pb) { return pb->total ? pb->total : 1; }

// The bf16 rounding of the host parameters, uploaded into params_bf16_dev.
static ds_status upload_bf16(ds_context *ctx, ds_param_block *pb) {
    const size_t n = block_elems(pb);
    uint16_t *h = malloc(n * sizeof *h);  // (n) host, pageable: staged by the copy before it returns
    DS_REQUIRE(&ctx->err, h != NULL, DS_ERR_OOM, "parameter block: no host memory for the bf16 copy (%zu bytes)",
               n * sizeof *h);
    for (size_t i = 0; i < pb->total; i++) h[i] = ds_f32_to_bf16(pb->params[i]);
    if (pb->total == 0) h[0] = 0;
    const ds_status st = ds_gpu_upload(ctx, pb->params_bf16_dev, h, n * sizeof *h);
    free(h);
    return st;
}

ds_status ds_param_block_to_device(ds_context *ctx, ds_param_block *pb, bool bf16_copy) {
    if (!is_cuda(ctx)) return DS_OK;
    DS_REQUIRE(&ctx->err, pb->device.kind == DS_DEVICE_CPU, DS_ERR_INVALID_ARG,
               "parameter block: already on a device");
    const size_t n = block_elems(pb);
    pb->dev_release = gpu_release;  // from here on ds_param_block_free frees whatever was allocated
    pb->dev_owner = ctx;
    void *p = NULL, *g = NULL, *h = NULL;
    DS_TRY(oom_advice(ctx, ds_gpu_alloc(ctx, n * sizeof(float), &p), "parameters"));
    pb->params_dev = p;
    DS_TRY(oom_advice(ctx, ds_gpu_alloc(ctx, n * sizeof(float), &g), "gradients"));
    pb->grads_dev = g;
    if (bf16_copy) {
        DS_TRY(oom_advice(ctx, ds_gpu_alloc(ctx, n * sizeof(uint16_t), &h), "bf16 parameter copy"));
        pb->params_bf16_dev = h;
    }
    pb->device = ctx->device;
    DS_TRY(ds_param_block_upload(ctx, pb));
    DS_TRY(ds_gpu_memset(ctx, pb->grads_dev, 0, n * sizeof(float)));
    return ds_gpu_sync(ctx);
}

ds_status ds_param_block_upload(ds_context *ctx, ds_param_block *pb) {
    if (pb->device.kind == DS_DEVICE_CPU) return DS_OK;
    DS_TRY(ds_gpu_upload(ctx, pb->params_dev, pb->params, block_elems(pb) * sizeof(float)));
    if (pb->params_bf16_dev) DS_TRY(upload_bf16(ctx, pb));
    return DS_OK;
}

ds_status ds_param_block_download(ds_context *ctx, ds_param_block *pb) {
    if (pb->device.kind == DS_DEVICE_CPU) return DS_OK;
    DS_TRY(ds_gpu_download(ctx, pb->params, pb->params_dev, block_elems(pb) * sizeof(float)));
    return ds_gpu_sync(ctx);
}

ds_status ds_param_block_download_grads(ds_context *ctx, ds_param_block *pb) {
    if (pb->device.kind == DS_DEVICE_CPU) return DS_OK;
    DS_TRY(ds_gpu_download(ctx, pb->grads, pb->grads_dev, block_elems(pb) * sizeof(float)));
    return ds_gpu_sync(ctx);
}

ds_status ds_param_block_zero_grads(ds_context *ctx, ds_param_block *pb) {
    if (pb->device.kind == DS_DEVICE_CPU) {
        // In 1 MiB pieces over the threads: one core alone does not reach the machine's memory
        // bandwidth, and the gradients are tens of MB (BERT-base: 440 MB) zeroed every step.
        const int64_t piece = (1 << 20) / (int64_t)sizeof(float), n = (int64_t)pb->total;
        float *g = pb->grads;  // (total) host
#pragma omp parallel for schedule(static) if (n > 4 * piece)
        for (int64_t i = 0; i < n; i += piece) memset(g + i, 0, (size_t)(n - i < piece ? n - i : piece) * sizeof(float));
        return DS_OK;
    }
    return ds_gpu_memset(ctx, pb->grads_dev, 0, block_elems(pb) * sizeof(float));
}

ds_status ds_tensor_from_host(ds_context *ctx, const ds_tensor *t, const void *src) {
    const size_t bytes = ds_tensor_nbytes(t);
    if (bytes == 0) return DS_OK;
    if (t->device.kind == DS_DEVICE_CPU) {
        memcpy(t->data, src, bytes);
        return DS_OK;
    }
    return ds_gpu_upload(ctx, t->data, src, bytes);
}

ds_status ds_tensor_to_host(ds_context *ctx, void *dst, const ds_tensor *t) {
    const size_t bytes = ds_tensor_nbytes(t);
    if (bytes == 0) return DS_OK;
    if (t->device.kind == DS_DEVICE_CPU) {
        memcpy(dst, t->data, bytes);
        return DS_OK;
    }
    DS_TRY(ds_gpu_download(ctx, dst, t->data, bytes));
    return ds_gpu_sync(ctx);
}

ds_status ds_tensor_copy(ds_context *ctx, const ds_tensor *dst, const ds_tensor *src) {
    const size_t bytes = ds_tensor_nbytes(src);
    DS_REQUIRE(&ctx->err, ds_tensor_nbytes(dst) == bytes && dst->device.kind == src->device.kind &&
                              dst->device.index == src->device.index,
               DS_ERR_INTERNAL, "tensor copy: %zu bytes into %zu, or across devices", bytes, ds_tensor_nbytes(dst));
    if (bytes == 0) return DS_OK;
    if (src->device.kind == DS_DEVICE_CPU) {
        memcpy(dst->data, src->data, bytes);
        return DS_OK;
    }
    return ds_gpu_copy(ctx, dst->data, src->data, bytes);
}

ds_status ds_tensor_zero(ds_context *ctx, const ds_tensor *t) {
    const size_t bytes = ds_tensor_nbytes(t);
    if (bytes == 0) return DS_OK;
    if (t->device.kind == DS_DEVICE_CPU) {
        memset(t->data, 0, bytes);
        return DS_OK;
    }
    return ds_gpu_memset(ctx, t->data, 0, bytes);
}
