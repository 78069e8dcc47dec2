// Evaluation of a BERT classifier over a tokenized example set: forward passes in eval mode
// (dropout off) in batches, the mean loss, and the problem type's metrics (runtime/metrics/metrics.h).
#ifndef DS_EVALUATE_H
#define DS_EVALUATE_H

#include <stdio.h>

#include "../../../models/bert/bert.h"
#include "../../metrics/metrics.h"
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

// ---- the same in three steps, for evaluation sharded across ranks -----------------------------
// What an evaluation sums before its report: sums that add up across example ranges and ranks.
// A distributed evaluation accumulates each rank's range, all-reduces (sum) the flat buffers of
// ds_eval_sums_buffers, and computes the report from the totals on every rank.
typedef struct ds_eval_sums {
    ds_problem_type problem_type;
    double loss_sum;   // sum over examples of their loss (each batch's mean loss times its size)
    int64_t examples;
    ds_cls_counts cls; // single-label
    ds_ml_counts ml;   // multi-label
    ds_reg_counts reg; // regression
} ds_eval_sums;

ds_status ds_eval_sums_init(ds_eval_sums *s, const ds_text_examples *e, ds_err *err);
void ds_eval_sums_free(ds_eval_sums *s);

// Adds examples [first, first + count) of e, in batches of batch_size.
ds_status ds_eval_accumulate(ds_context *ctx, ds_bert_model *m, const ds_text_examples *e, size_t first,
                             size_t count, size_t batch_size, ds_arena *arena, ds_eval_sums *s);

// The sums as flat buffers to all-reduce: [loss_sum] F64, [examples] I64, and the problem type's
// counts; returns how many (3).
int ds_eval_sums_buffers(ds_eval_sums *s, ds_metric_buffer out[3]);

// The report of the sums (r is filled as ds_evaluate fills it).
ds_status ds_eval_report(const ds_eval_sums *s, const char *prefix, ds_eval_result *r, ds_err *err);
void ds_eval_result_free(ds_eval_result *r);

// The value called `name` (e.g. "eval_accuracy"), or NaN.
double ds_eval_value(const ds_eval_result *r, const char *name);

// Per-class precision/recall/F1 and the confusion matrix (single-label), one class a line, to f.
void ds_eval_print_report(const ds_eval_result *r, const ds_label_map *labels, FILE *f);

#endif
