// The outcome of evaluating a model on a set, whatever the model family: the mean loss, the
// family's metrics by name (what the metrics log records and the best checkpoint is chosen by),
// and the family's detailed report as text (per-class table, confusion matrix, per-class IoU,
// worst transcriptions...), which the commands print as it is.
#ifndef DS_EVAL_RESULT_H
#define DS_EVAL_RESULT_H

#include <stdint.h>

#include "metrics.h"

#define DS_EVAL_MAX_VALUES 16

typedef struct ds_eval_result {
    int64_t examples;
    double loss;                                 // the loss's mean over its weight (NaN without data)
    ds_metric_value values[DS_EVAL_MAX_VALUES];  // "<prefix>loss", then the family's: "<prefix>accuracy", ...
    int count;
    char *report;                                // malloc'd detailed report (lines ending in '\n'), or NULL
    // malloc'd JSON object with the family's tables for files and the run report, or NULL:
    //   "classes": [names], "per_class": [{"class": name, <number fields: precision, recall, f1,
    //   support, iou, ...>}], "confusion": {"rows": "true", "columns": "predicted", "matrix": [[counts]]}
    // (each member optional). runtime/train/run_files.h writes it into eval_<split>.json.
    char *details;
} ds_eval_result;

// The value called `name` (e.g. "eval_accuracy"), or NaN.
double ds_eval_value(const ds_eval_result *r, const char *name);
void ds_eval_result_free(ds_eval_result *r);

// Appends name/value to r->values (ignored beyond DS_EVAL_MAX_VALUES: the caller sizes its list).
void ds_eval_result_add(ds_eval_result *r, const char *prefix, const char *name, double value);

#endif
