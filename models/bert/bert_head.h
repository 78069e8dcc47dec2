// BertForSequenceClassification's head (Hugging Face BertPooler + dropout + classifier):
// pooled = tanh(dense(h[:, 0])), logits = classifier(dropout(pooled)). Explicit forward and
// backward over the op API; parameters are 4 consecutive tensors of a ds_param_block.
#ifndef DS_BERT_HEAD_H
#define DS_BERT_HEAD_H

#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/param_block.h"

typedef struct ds_bert_head_dims {
    int64_t hidden, num_labels;
    float dropout;  // classifier dropout when training (HF: classifier_dropout, else hidden_dropout_prob), 0 in eval
    ds_dtype act;   // activation dtype: F32 (0, the default) or BF16 (CUDA mixed precision; logits too,
                    // as torch.autocast's nn.Linear returns bf16: the loss ops read them in fp32)
} ds_bert_head_dims;

// Parameter order: pooler dense weight/bias ("<bert_prefix>pooler.dense.*"), classifier
// weight/bias ("classifier.*": outside the "bert." module in HF's naming).
enum { DS_BH_POOL_W, DS_BH_POOL_B, DS_BH_CLS_W, DS_BH_CLS_B, DS_BH_PARAM_COUNT };

void ds_bert_head_specs(const ds_bert_head_dims *d, const char *bert_prefix, ds_param_spec *specs, int *count);

typedef struct ds_bert_head_acts {
    ds_tensor first_rows;  // (B) I32 row b*T of each sequence's first token ([CLS]) in h (B*T, H)
    ds_tensor first;       // (B, H) h[:, 0]
    ds_tensor pooled;      // (B, H) tanh(dense(first))
    ds_tensor dropped;     // (B, H) dropout(pooled); the same view as pooled when dropout is off
    ds_tensor logits;      // (B, num_labels)
} ds_bert_head_acts;

// Forward from the encoder output h (B*T, H). The (B) first-token row indices are written from
// the host (an upload on CUDA).
ds_status ds_bert_head_forward(ds_context *ctx, const ds_bert_head_dims *d, const ds_param_block *pb, int first_param,
                               const ds_tensor *h, int64_t B, int64_t T, uint64_t dropout_offset, ds_arena *arena,
                               ds_bert_head_acts *acts);

// Backward from dlogits (B, num_labels): parameter gradients added into pb->grads, and dh
// (B*T, H) overwritten (zero except at each first token).
ds_status ds_bert_head_backward(ds_context *ctx, const ds_bert_head_dims *d, const ds_param_block *pb, int first_param,
                                const ds_bert_head_acts *acts, const ds_tensor *dlogits, const ds_tensor *dh,
                                uint64_t dropout_offset, ds_arena *arena);

#endif
