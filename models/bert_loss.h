// The loss of BertForSequenceClassification by problem type, with Hugging Face's rules:
// single-label classification: cross-entropy over num_labels classes (targets -100 ignored);
// multi-label: BCE with logits against float multi-hot labels, mean over (B, num_labels);
// regression: MSE, mean over (B, num_labels) (HF squeezes (B, 1) to (B) when num_labels is 1,
// which leaves the mean unchanged).
#ifndef DS_BERT_LOSS_H
#define DS_BERT_LOSS_H

#include "../kernels/ops.h"
#include "../runtime/base/arena.h"

typedef enum ds_problem_type {
    DS_PROBLEM_SINGLE_LABEL = 0,  // cross-entropy over num_labels classes ("single_label_classification")
    DS_PROBLEM_MULTI_LABEL,       // BCE with logits, one sigmoid per label ("multi_label_classification")
    DS_PROBLEM_REGRESSION,        // MSE; num_labels outputs ("regression")
} ds_problem_type;

// HF's config.json spelling of a problem type, and its parse (-1 when unknown).
const char *ds_problem_type_name(ds_problem_type p);
int ds_problem_type_parse(const char *name, ds_problem_type *out);

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
