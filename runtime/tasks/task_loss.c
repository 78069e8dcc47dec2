#include "task_loss.h"

#include "../../models/common/device_memory.h"
#include "../base/check.h"

double ds_task_loss_combine(const ds_task_loss *l, const float *terms) {
    if (l->count == 0) return l->value;
    double v = 0;
    for (int k = 0; k < l->count; k++) v += l->coef[k] * (double)terms[k];
    return l->round_f32 ? (double)(float)v : v;
}

ds_status ds_task_loss_to_host(ds_context *ctx, const ds_task_loss *l, double *out) {
    DS_REQUIRE(&ctx->err, l->count >= 0 && l->count <= DS_TASK_LOSS_TERMS, DS_ERR_INTERNAL,
               "task loss: %d terms (at most %d)", l->count, DS_TASK_LOSS_TERMS);
    float terms[DS_TASK_LOSS_TERMS] = {0};
    for (int k = 0; k < l->count; k++) DS_TRY(ds_tensor_to_host(ctx, &terms[k], &l->term[k]));
    *out = ds_task_loss_combine(l, terms);
    return DS_OK;
}
