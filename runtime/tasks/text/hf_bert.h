// Loads a Hugging Face BERT model directory into a ds_bert_model: config.json (BertConfig
// fields, HF's defaults where a key is absent) and model.safetensors (F32, F16 or BF16 tensors,
// converted to F32).
//
// Tensor names: those of BertForSequenceClassification ("bert.embeddings...", "classifier.*"),
// or of a bare BertModel ("embeddings...", "encoder...", "pooler...": sentence-transformers'
// all-MiniLM-L6-v2 for one), and the legacy LayerNorm names "LayerNorm.gamma"/"LayerNorm.beta".
// As HF does:
// - tensors the model does not use ("embeddings.position_ids", pretraining heads "cls.*") are
//   ignored and listed in the log;
// - a classifier head (or pooler) missing from the checkpoint is initialised as HF's
//   _init_weights does (weight ~ Normal(0, initializer_range) from the Philox stream of
//   ctx->seed, bias 0) and the log says so; so is a classifier whose label count differs from
//   the caller's num_labels (HF's ignore_mismatched_sizes);
// - any other shape mismatch is an error naming the tensor and both shapes.
// Unlike HF, a missing encoder or embedding tensor is an error (naming them), not a random
// initialisation: fine-tuning from a partly random encoder is almost always a wrong checkpoint.
#ifndef DS_HF_BERT_H
#define DS_HF_BERT_H

#include <stdbool.h>
#include <stdint.h>

#include "../../../models/bert/bert.h"
#include "../../base/context.h"

typedef struct ds_hf_bert_options {
    int64_t num_labels;            // the dataset's label count; overrides config.json's (logged when
                                   // they differ); 0 keeps config.json's
    bool has_problem_type;         // true: problem_type below overrides config.json's
    ds_problem_type problem_type;
} ds_hf_bert_options;

// What config.json and the checkpoint held, beyond the model config.
typedef struct ds_hf_bert_info {
    int64_t config_num_labels;  // len(id2label), else "num_labels", else HF's default 2
    char **id2label;            // [config_num_labels] names from config.json ("LABEL_i" when absent)
    bool config_problem_type;   // config.json named a problem_type
    int loaded;                 // tensors read from the checkpoint
    int initialised;            // model tensors initialised because the checkpoint lacked them
    int ignored;                // checkpoint tensors the model does not use
} ds_hf_bert_info;

void ds_hf_bert_info_free(ds_hf_bert_info *info);

// Reads `config_path` (a config.json) into cfg. Rejects what downstream's BERT does not compute
// (hidden_act other than "gelu", model_type other than "bert", position_embedding_type other
// than "absolute", is_decoder) and wrongly typed or out-of-range values, naming the key.
// problem_type: config.json's when present, else HF's rule for integer labels (regression when
// num_labels is 1, single-label classification otherwise). info may be NULL.
ds_status ds_hf_bert_read_config(ds_context *ctx, const char *config_path, ds_bert_config *cfg,
                                 ds_hf_bert_info *info);

// Reads <dir>/config.json, applies opt (may be NULL), creates *m and fills it from
// <dir>/model.safetensors. On failure *m is left freed. info may be NULL.
ds_status ds_hf_bert_load(ds_context *ctx, const char *dir, const ds_hf_bert_options *opt, ds_bert_model *m,
                          ds_hf_bert_info *info);

#endif
