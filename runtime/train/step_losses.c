#include "step_losses.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/gpu.h"
#include "../base/check.h"
#include "../tasks/task_loss.h"

ds_status ds_step_losses_init(ds_context *ctx, ds_step_losses *s, int64_t cap) {
    memset(s, 0, sizeof *s);
    DS_REQUIRE(&ctx->err, cap >= 1, DS_ERR_INVALID_ARG, "step losses: capacity %lld < 1", (long long)cap);
    s->cap = cap;
    s->staged = calloc((size_t)cap * DS_TASK_LOSS_TERMS, sizeof *s->staged);
    s->loss = calloc((size_t)cap, sizeof *s->loss);
    s->value = calloc((size_t)cap, sizeof *s->value);
    if (!s->staged || !s->loss || !s->value) {
        ds_step_losses_free(ctx, s);
        return ds_err_set(&ctx->err, DS_ERR_OOM, "step losses: out of memory for %lld micro-batches", (long long)cap);
    }
    return DS_OK;
}

static size_t slot_bytes(const ds_step_losses *s) { return (size_t)s->cap * DS_TASK_LOSS_TERMS * sizeof(float); }

void ds_step_losses_free(ds_context *ctx, ds_step_losses *s) {
    if (s->slots) {
        if (s->device.kind == DS_DEVICE_CUDA) ds_gpu_free(ctx, s->slots, slot_bytes(s));
        else free(s->slots);
    }
    free(s->staged), free(s->loss), free(s->value);
    memset(s, 0, sizeof *s);
}

void ds_step_losses_reset(ds_step_losses *s) { s->n = 0; }

// The slots on `dev`, allocated at the first device term (the model's device is known only then).
static ds_status ensure_slots(ds_context *ctx, ds_step_losses *s, ds_device dev) {
    if (s->slots) {
        DS_REQUIRE(&ctx->err, s->device.kind == dev.kind && s->device.index == dev.index, DS_ERR_INTERNAL,
                   "step losses: a loss term on another device than the step's earlier ones");
        return DS_OK;
    }
    void *p = NULL;
    if (dev.kind == DS_DEVICE_CUDA) {
        DS_TRY(ds_gpu_alloc(ctx, slot_bytes(s), &p));
    } else {
        p = calloc(1, slot_bytes(s));
        DS_REQUIRE(&ctx->err, p != NULL, DS_ERR_OOM, "step losses: out of memory");
    }
    s->slots = p;
    s->device = dev;
    return DS_OK;
}

ds_status ds_step_losses_add(ds_context *ctx, ds_step_losses *s, const ds_task_loss *l, int64_t *index) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, s->n < s->cap, DS_ERR_INTERNAL, "step losses: more than %lld micro-batches in a step",
               (long long)s->cap);
    DS_REQUIRE(err, l->count >= 0 && l->count <= DS_TASK_LOSS_TERMS, DS_ERR_INTERNAL,
               "step losses: %d loss terms (at most %d)", l->count, DS_TASK_LOSS_TERMS);
    const int64_t i = s->n;
    float *slot = s->slots ? s->slots + i * DS_TASK_LOSS_TERMS : NULL;  // on s->device
    for (int k = 0; k < l->count; k++) {
        const ds_tensor *term = &l->term[k];
        DS_REQUIRE(err, term->dtype == DS_F32 && ds_tensor_numel(term) == 1 && term->data != NULL, DS_ERR_INTERNAL,
                   "step losses: loss term %d is not one F32 value", k);
        DS_TRY(ensure_slots(ctx, s, term->device));
        slot = s->slots + i * DS_TASK_LOSS_TERMS;
        if (s->device.kind == DS_DEVICE_CUDA) DS_TRY(ds_gpu_copy(ctx, slot + k, term->data, sizeof(float)));
        else memcpy(slot + k, term->data, sizeof(float));
    }
    s->loss[i] = *l;
    s->n++;
    *index = i;
    return DS_OK;
}

ds_status ds_step_losses_resolve(ds_context *ctx, ds_step_losses *s) {
    bool any = false;
    for (int64_t i = 0; i < s->n; i++) any = any || s->loss[i].count > 0;
    if (any) {
        const size_t bytes = (size_t)s->n * DS_TASK_LOSS_TERMS * sizeof(float);
        if (s->device.kind == DS_DEVICE_CUDA) {
            DS_TRY(ds_gpu_download(ctx, s->staged, s->slots, bytes));
            DS_TRY(ds_gpu_sync(ctx));
        } else {
            memcpy(s->staged, s->slots, bytes);
        }
    }
    for (int64_t i = 0; i < s->n; i++)
        s->value[i] = ds_task_loss_combine(&s->loss[i], s->staged + i * DS_TASK_LOSS_TERMS);
    return DS_OK;
}
