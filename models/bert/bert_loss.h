// The loss of BertForSequenceClassification by problem type, with Hugging Face's rules:
// single-label classification: cross-entropy over num_labels classes (targets -100 ignored);
// multi-label: BCE with logits against float multi-hot labels, mean over (B, num_labels);
// regression: MSE, mean over (B, num_labels) (HF squeezes (B, 1) to (B) when num_labels is 1,
// which leaves the mean unchanged).
#ifndef DS_BERT_LOSS_H
#define DS_BERT_LOSS_H

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/problem_type.h"

// Labels of one batch, host (copies in the arena when the model stages a batch).
typedef struct ds_bert_labels {
    ds_tensor class_ids;  // (B) I32 class in [0, num_labels) or -100 (ignored); single-label only
    ds_tensor values;     // (B, num_labels) F32 multi-hot (multi-label) or targets (regression)
} ds_bert_labels;

typedef struct ds_bert_loss_acts {
    ds_tensor loss;  // (1) F32
    ds_tensor lse;   // (B) F32 row logsumexp (single-label; carved for every problem type)
} ds_bert_loss_acts;

// loss = the problem type's loss of logits (B, num_labels).
ds_status ds_bert_loss_forward(ds_context *ctx, ds_problem_type p, const ds_tensor *logits, const ds_bert_labels *labels,
                               ds_arena *arena, ds_bert_loss_acts *acts);

// dlogits (B, num_labels) = dloss * d(loss)/d(logits), overwritten.
ds_status ds_bert_loss_backward(ds_context *ctx, ds_problem_type p, const ds_tensor *logits,
                                const ds_bert_labels *labels, const ds_bert_loss_acts *acts, double dloss,
                                const ds_tensor *dlogits);

#endif
