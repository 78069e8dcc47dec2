#include "step_losses.h"

#include <stdlib.h>
#include <string.h>

#include "../../models/common/device_memory.h"
#include "../base/check.h"
#include "../tasks/task_loss.h"

ds_status ds_step_losses_init(ds_context *ctx, ds_step_losses *s, int64_t cap) {
    memset(s, 0, sizeof *s);
    DS_REQUIRE(&ctx->err, cap >= 1, DS_ERR_INVALID_ARG, "step losses: capacity %lld < 1", (long long)cap);
    s->cap = cap;
    const int64_t shape[] = {cap, DS_TASK_LOSS_TERMS};
    ds_status st = ds_arena_init_for(ctx, &s->memory, (size_t)(cap * DS_TASK_LOSS_TERMS) * sizeof(float) +
                                                          DS_ARENA_ALIGN);
    if (st == DS_OK) st = ds_arena_tensor(&s->memory, DS_F32, 2, shape, &s->slots, &ctx->err);
    s->staged = calloc((size_t)cap * DS_TASK_LOSS_TERMS, sizeof *s->staged);
    s->loss = calloc((size_t)cap, sizeof *s->loss);
    s->value = calloc((size_t)cap, sizeof *s->value);
    if (st == DS_OK && (!s->staged || !s->loss || !s->value))
        st = ds_err_set(&ctx->err, DS_ERR_OOM, "step losses: out of memory for %lld micro-batches", (long long)cap);
    if (st != DS_OK) ds_step_losses_free(s);
    return st;
}

void ds_step_losses_free(ds_step_losses *s) {
    ds_arena_free(&s->memory);
    free(s->staged), free(s->loss), free(s->value);
    memset(s, 0, sizeof *s);
}

void ds_step_losses_reset(ds_step_losses *s) { s->n = 0; }

// Elements [first, first + count) of the slots, as a tensor.
static ds_tensor slot_view(const ds_step_losses *s, int64_t first, int64_t count) {
    return ds_tensor_make((float *)s->slots.data + first, DS_F32, s->slots.device, 1, &count);
}

ds_status ds_step_losses_add(ds_context *ctx, ds_step_losses *s, const ds_task_loss *l) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, s->n < s->cap, DS_ERR_INTERNAL, "step losses: more than %lld micro-batches in a step",
               (long long)s->cap);
    DS_REQUIRE(err, l->count >= 0 && l->count <= DS_TASK_LOSS_TERMS, DS_ERR_INTERNAL,
               "step losses: %d loss terms (at most %d)", l->count, DS_TASK_LOSS_TERMS);
    const int64_t i = s->n;
    for (int k = 0; k < l->count; k++) {
        const ds_tensor *term = &l->term[k];
        DS_REQUIRE(err, term->dtype == DS_F32 && ds_tensor_numel(term) == 1 && term->data != NULL, DS_ERR_INTERNAL,
                   "step losses: loss term %d is not one F32 value", k);
        const ds_tensor slot = slot_view(s, i * DS_TASK_LOSS_TERMS + k, 1);
        DS_TRY(ds_tensor_copy(ctx, &slot, term));  // refuses a term on another device
    }
    s->loss[i] = *l;
    s->n++;
    return DS_OK;
}

ds_status ds_step_losses_resolve(ds_context *ctx, ds_step_losses *s) {
    bool any = false;
    for (int64_t i = 0; i < s->n; i++) any = any || s->loss[i].count > 0;
    if (any) {
        const ds_tensor filled = slot_view(s, 0, s->n * DS_TASK_LOSS_TERMS);
        DS_TRY(ds_tensor_to_host(ctx, s->staged, &filled));
    }
    for (int64_t i = 0; i < s->n; i++)
        s->value[i] = ds_task_loss_combine(&s->loss[i], s->staged + i * DS_TASK_LOSS_TERMS);
    return DS_OK;
}
