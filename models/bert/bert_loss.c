#include "bert_loss.h"

#include <string.h>

#include "../../runtime/base/check.h"

// HF's CrossEntropyLoss() default.
enum { IGNORE_INDEX = -100 };

ds_status ds_bert_loss_forward(ds_context *ctx, ds_problem_type p, const ds_tensor *logits, const ds_bert_labels *labels,
                               ds_arena *arena, ds_bert_loss_acts *acts) {
    const int64_t one = 1, B = logits->shape[0];
    DS_TRY(ds_arena_tensor(arena, DS_F32, 1, &one, &acts->loss, &ctx->err));
    DS_TRY(ds_arena_tensor(arena, DS_F32, 1, &B, &acts->lse, &ctx->err));
    if (arena->measuring) return DS_OK;
    if (p == DS_PROBLEM_SINGLE_LABEL) {
        ds_cross_entropy_fwd_args ce = {.logits = *logits, .targets = labels->class_ids, .loss = acts->loss,
                                        .lse = acts->lse, .ignore_index = IGNORE_INDEX};
        return ds_cross_entropy_forward(ctx, &ce);
    }
    ds_pointwise_loss_fwd_args pw = {.x = *logits, .target = labels->values, .loss = acts->loss};
    return p == DS_PROBLEM_MULTI_LABEL ? ds_bce_with_logits_forward(ctx, &pw) : ds_mse_forward(ctx, &pw);
}

ds_status ds_bert_loss_backward(ds_context *ctx, ds_problem_type p, const ds_tensor *logits,
                                const ds_bert_labels *labels, const ds_bert_loss_acts *acts, double dloss,
                                const ds_tensor *dlogits) {
    if (p == DS_PROBLEM_SINGLE_LABEL) {
        ds_cross_entropy_bwd_args ce = {.logits = *logits, .targets = labels->class_ids, .lse = acts->lse,
                                        .dlogits = *dlogits, .dloss = dloss, .ignore_index = IGNORE_INDEX};
        return ds_cross_entropy_backward(ctx, &ce);
    }
    ds_pointwise_loss_bwd_args pw = {.x = *logits, .target = labels->values, .dx = *dlogits, .dloss = dloss};
    return p == DS_PROBLEM_MULTI_LABEL ? ds_bce_with_logits_backward(ctx, &pw) : ds_mse_backward(ctx, &pw);
}
