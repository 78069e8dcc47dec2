// Evaluation of a BERT classifier over a tokenized example set: forward passes in eval mode
// (dropout off) in batches, the mean loss, and the problem type's metrics (runtime/metrics.h).
#ifndef DS_EVALUATE_H
#define DS_EVALUATE_H

#include <stdio.h>

#include "../models/bert.h"
#include "metrics.h"
#include "text_examples.h"

#define DS_EVAL_MAX_VALUES 8

typedef struct ds_eval_result {
    int64_t examples;
    double loss;                                  // mean over batches weighted by examples
    ds_metric_value values[DS_EVAL_MAX_VALUES];   // "<prefix>loss", "<prefix>accuracy", ...
    int count;
    ds_problem_type problem_type;
    ds_cls_report cls;  // single-label: per-class precision, recall, confusion via counts
    ds_cls_counts counts;
} ds_eval_result;

// Runs every example of `e` through `m` in batches of batch_size (arena sized for that batch and
// e->max_length). prefix names the values ("eval_", "test_").
ds_status ds_evaluate(ds_context *ctx, ds_bert_model *m, const ds_text_examples *e, size_t batch_size,
                      ds_arena *arena, const char *prefix, ds_eval_result *r);
void ds_eval_result_free(ds_eval_result *r);

// The value called `name` (e.g. "eval_accuracy"), or NaN.
double ds_eval_value(const ds_eval_result *r, const char *name);

// Per-class precision/recall/F1 and the confusion matrix (single-label), one class a line, to f.
void ds_eval_print_report(const ds_eval_result *r, const ds_label_map *labels, FILE *f);

#endif
