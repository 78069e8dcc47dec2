// Exports a fine-tuned BERT classifier as a Hugging Face model directory that
// BertForSequenceClassification.from_pretrained and BertTokenizerFast.from_pretrained load:
// config.json (the source model's, with architectures, num_labels via id2label/label2id and
// problem_type set), model.safetensors (every parameter, F32, HF names), and the tokenizer files
// of the source directory (vocab.txt, tokenizer_config.json, special_tokens_map.json).
#ifndef DS_HF_EXPORT_H
#define DS_HF_EXPORT_H

#include "../../../data/common/label_map.h"
#include "../../../models/bert/bert.h"

// labels may be empty (regression). The directory is created when missing; each file is written
// atomically.
ds_status ds_hf_export(const ds_bert_model *m, const ds_label_map *labels, const char *source_dir, const char *out_dir,
                       ds_err *err);

#endif
