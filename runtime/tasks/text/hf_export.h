// Exports a fine-tuned BERT classifier as a Hugging Face model directory that
// BertForSequenceClassification.from_pretrained and BertTokenizerFast.from_pretrained load:
// config.json (the source model's, with architectures, num_labels via id2label/label2id and
// problem_type set), model.safetensors (every parameter, F32, HF names), and the tokenizer the
// model was trained with as vocab.txt, tokenizer.json and tokenizer_config.json (whichever of them
// the source directory had: transformers 4 and 5 and AutoTokenizer load the export alike), plus
// the source's special_tokens_map.json when present.
#ifndef DS_HF_EXPORT_H
#define DS_HF_EXPORT_H

#include "../../../data/common/label_map.h"
#include "../../../data/text/wordpiece.h"
#include "../../../models/bert/bert.h"

// labels may be empty (regression). The directory is created when missing; each file is written
// atomically.
ds_status ds_hf_export(const ds_bert_model *m, const ds_label_map *labels, const ds_wp_tokenizer *tok,
                       const char *source_dir, const char *out_dir, ds_err *err);

#endif
