// Prediction with a fine-tuned BERT classifier (a Hugging Face directory such as `downstream
// train` exports): the model with its class names (config.json's id2label) and problem type, the
// input read as unlabelled text examples, batched forward passes in eval mode (dropout off), and
// one JSON line per example:
//   single-label:  {"text", ("text_pair"), "label": <name of the argmax>, "probabilities": softmax, "logits"}
//   multi-label:   {"text", ("text_pair"), "labels": [names with sigmoid >= 0.5], "probabilities": sigmoids, "logits"}
//   regression:    {"text", ("text_pair"), "value": <the output>, "logits": [<the output>]}
// Numbers are printed with 9 significant digits, which round-trip float32 exactly, so the logits
// can be compared with another implementation bit for bit; a non-finite value is written as null.
#ifndef DS_PREDICT_H
#define DS_PREDICT_H

#include <stdio.h>

#include "../../../data/text/text_dataset.h"
#include "../../../data/text/wordpiece.h"
#include "../../../models/bert/bert.h"
#include "../../base/arena.h"
#include "../../base/context.h"

typedef struct ds_predictor {
    ds_bert_model model;
    ds_wp_tokenizer tok;
    char **class_names;     // (num_labels) id2label in id order, owned; NULL for regression
    int64_t num_labels;     // outputs of the head (1 for regression)
    ds_problem_type problem_type;
    size_t batch_size;
    int64_t max_length;     // tokens per example after truncation (capped at max_position_embeddings)
    ds_arena arena;         // forward-only, sized for (batch_size, max_length)
} ds_predictor;

// Loads <model_dir> (config.json with its label count, model.safetensors, vocab.txt and
// tokenizer_config.json) for batches of batch_size examples of at most max_length tokens. A
// max_length above the model's max_position_embeddings is lowered to it (and logged).
ds_status ds_predictor_load(ds_context *ctx, const char *model_dir, size_t batch_size, int64_t max_length,
                            ds_predictor *p);
void ds_predictor_free(ds_predictor *p);

// Reads the examples of `path` unlabelled (opt->unlabeled is forced; a label column may be present
// or not). "-" is standard input. Plain text, one example per line with a TAB before the pair
// (DS_TEXT_FORMAT_LINES), for a .txt file, and for "-" unless opt->format names another format;
// otherwise opt->format (auto: by the extension) as the trainer reads data.
ds_status ds_predict_read_input(const char *path, const ds_text_dataset_options *opt, ds_text_dataset *d,
                                ds_err *err);

typedef struct ds_predict_stats {
    size_t examples;
    int64_t truncated;  // examples cut to max_length
} ds_predict_stats;

// Where the raw outputs go besides the JSON lines: logits(user, (n, num_labels) F32 host, n) per
// batch, in input order; a NULL callback keeps nothing.
typedef struct ds_predict_sink {
    ds_status (*logits)(void *user, const float *logits, size_t n, ds_err *err);
    void *user;
} ds_predict_sink;

// Predicts every example of d, in order, writing one JSON line each to out. sink and stats may be NULL.
ds_status ds_predict_dataset(ds_context *ctx, ds_predictor *p, const ds_text_dataset *d, FILE *out,
                             const ds_predict_sink *sink, ds_predict_stats *stats);

// Writes the JSON line of one example: logits[0, p->num_labels) host. pair may be NULL.
ds_status ds_predict_write_line(const ds_predictor *p, const char *text, const char *pair, const float *logits,
                                FILE *out, ds_err *err);

#endif
