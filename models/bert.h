// BertForSequenceClassification (Hugging Face semantics): embeddings (word + position +
// token type, LayerNorm, dropout), N encoder layers (bert_layer.h), pooler (dense + tanh on the
// [CLS] position), dropout, classifier, and the loss of the problem type. Explicit forward and
// backward over the op API; parameters in one ds_param_block in HF's order and names; the
// activations of a (batch, length) shape in one arena.
#ifndef DS_BERT_H
#define DS_BERT_H

#include <stdbool.h>
#include <stdint.h>

#include "../kernels/ops.h"
#include "../runtime/base/arena.h"
#include "../runtime/base/problem_type.h"
#include "../runtime/base/param_block.h"
#include "bert_layer.h"

typedef struct ds_bert_config {
    int64_t vocab_size, hidden, layers, heads, intermediate, max_position, type_vocab;
    double ln_eps;              // layer_norm_eps
    float hidden_dropout;       // hidden_dropout_prob; also the classifier dropout when
    float attn_dropout;         // attention_probs_dropout_prob
    float classifier_dropout;   // classifier_dropout (HF: falls back to hidden_dropout_prob when null)
    double initializer_range;   // std of the normal initialisation of new weights
    int64_t num_labels;
    ds_problem_type problem_type;
    int64_t pad_token_id;
} ds_bert_config;

typedef struct ds_bert_model {
    ds_bert_config cfg;
    ds_param_block params;  // every tensor, HF order and names ("bert.embeddings.word_embeddings.weight", ...)
    int first_layer_param;  // index of layer 0's first tensor in `params`
    // ... implementation-owned saved activations follow (see bert.c)
} ds_bert_model;

// One batch, host memory, row-major.
typedef struct ds_bert_batch {
    int64_t B, T;
    const int32_t *input_ids;       // (B, T)
    const int32_t *token_type_ids;  // (B, T), may be NULL (all 0)
    const int32_t *attention_mask;  // (B, T), 1 = token, 0 = padding
    const int32_t *labels;          // (B) single-label class ids, or NULL
    const float *label_values;      // (B, num_labels) multi-hot (multi-label) or targets (regression), or NULL
} ds_bert_batch;

#endif
