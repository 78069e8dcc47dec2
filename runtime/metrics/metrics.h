// Evaluation metrics for the three problem types, built from counts and sums that add up across
// batches and across ranks: each accumulator exposes its state as one flat buffer
// (ds_*_counts_buffer) that a distributed run all-reduces (sum) before computing the report, so
// every rank reports the same numbers as one process that saw all the data.
//
// Conventions (those of scikit-learn, whose numbers HF's examples print):
// - precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2 tp / (2 tp + fp + fn); each is 0
//   where its denominator is 0 (sklearn's zero_division=0).
// - single-label macro_f1 averages over ALL K classes (sklearn with labels=range(K)): a class that
//   is never true and never predicted contributes an F1 of 0. macro_f1_present averages only the
//   classes that occur in the labels or the predictions (sklearn's default labels=None).
// - multi-label: a label is predicted when sigmoid(logit) >= 0.5, i.e. logit >= 0 (HF's example
//   thresholds torch.sigmoid in fp32, which also calls logits in (-1.8e-7, 0) positive: the only
//   difference); a target is positive when >= 0.5.
//   micro_f1 pools tp/fp/fn over labels; macro_f1 averages per-label F1 over all L labels;
//   exact_match is the fraction of samples with every label right (sklearn's subset accuracy).
// - regression: over every output value (n samples x outputs): MSE, MAE and Pearson's r, from
//   double sums (r is NaN when either side has zero variance, as scipy and numpy give; here
//   "zero" includes a variance below the sums' rounding noise, 1e-12 of the sum of squares).
#ifndef DS_METRICS_H
#define DS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/dtype.h"
#include "../base/status.h"

#define DS_LABEL_IGNORE (-100)  // a label to skip (HF's ignore index)

// A metric by name, for logs: {"eval_accuracy", 0.91}.
typedef struct ds_metric_value {
    char name[48];
    double value;
} ds_metric_value;

// The state of an accumulator as one flat array, to all-reduce with a sum.
typedef struct ds_metric_buffer {
    void *data;     // (count) host, of dtype (I64 or F64)
    ds_dtype dtype;
    int64_t count;
} ds_metric_buffer;

// dst += src elementwise (what an all-reduce computes); the buffers must have the same dtype and count.
ds_status ds_metric_buffer_add(ds_metric_buffer dst, ds_metric_buffer src, ds_err *err);

// ---- single-label classification -------------------------------------------------------------
typedef struct ds_cls_counts {
    int classes;         // K
    int64_t *confusion;  // (K, K) host, [true][predicted], zeroed by init
} ds_cls_counts;

ds_status ds_cls_counts_init(ds_cls_counts *c, int classes, ds_err *err);
void ds_cls_counts_free(ds_cls_counts *c);
void ds_cls_counts_reset(ds_cls_counts *c);
ds_metric_buffer ds_cls_counts_buffer(const ds_cls_counts *c);  // K*K I64

// Adds n samples: predicted and true class ids. Labels equal to DS_LABEL_IGNORE are skipped; any
// other id outside [0, K) fails with DS_ERR_INVALID_ARG naming the sample, and nothing is added.
ds_status ds_cls_counts_add(ds_cls_counts *c, const int32_t *pred, const int32_t *labels, int64_t n, ds_err *err);
// The same with the prediction the argmax of each row of logits (n, K) host (the first maximum,
// as torch.argmax; NaN never wins).
ds_status ds_cls_counts_add_logits(ds_cls_counts *c, const float *logits, const int32_t *labels, int64_t n,
                                   ds_err *err);

typedef struct ds_cls_report {
    int classes;
    int64_t total;            // samples counted
    double accuracy;          // 0 when total is 0
    double macro_f1;          // mean F1 over all K classes
    double macro_f1_present;  // mean F1 over classes with support or predictions (0 if none)
    double *precision;        // (K) host
    double *recall;           // (K)
    double *f1;               // (K)
    int64_t *support;         // (K) true samples per class
    int64_t *predicted;       // (K) predictions per class
} ds_cls_report;

ds_status ds_cls_report_compute(const ds_cls_counts *c, ds_cls_report *r, ds_err *err);
void ds_cls_report_free(ds_cls_report *r);
// "<prefix>accuracy", "<prefix>macro_f1" into out[0..2); returns 2.
int ds_cls_report_values(const ds_cls_report *r, const char *prefix, ds_metric_value *out);

// ---- multi-label classification --------------------------------------------------------------
typedef struct ds_ml_counts {
    int labels;       // L
    int64_t *counts;  // (L * 4 + 2) host: per label [tp, fp, fn, tn], then exact matches, samples
} ds_ml_counts;

ds_status ds_ml_counts_init(ds_ml_counts *c, int labels, ds_err *err);
void ds_ml_counts_free(ds_ml_counts *c);
void ds_ml_counts_reset(ds_ml_counts *c);
ds_metric_buffer ds_ml_counts_buffer(const ds_ml_counts *c);  // L*4+2 I64

// Adds n samples: logits (n, L) and multi-hot targets (n, L), host. A NaN target fails with
// DS_ERR_INVALID_ARG (nothing added).
ds_status ds_ml_counts_add(ds_ml_counts *c, const float *logits, const float *targets, int64_t n, ds_err *err);

typedef struct ds_ml_report {
    int labels;
    int64_t samples;
    double micro_f1, macro_f1, exact_match;
    double *precision, *recall, *f1;  // (L) host each
} ds_ml_report;

ds_status ds_ml_report_compute(const ds_ml_counts *c, ds_ml_report *r, ds_err *err);
void ds_ml_report_free(ds_ml_report *r);
// "<prefix>micro_f1", "<prefix>macro_f1", "<prefix>exact_match"; returns 3.
int ds_ml_report_values(const ds_ml_report *r, const char *prefix, ds_metric_value *out);

// ---- regression ------------------------------------------------------------------------------
// Sums over every value: [n, sum p, sum t, sum p^2, sum t^2, sum p t, sum (p-t)^2, sum |p-t|].
typedef struct ds_reg_counts {
    double sums[8];
} ds_reg_counts;

void ds_reg_counts_reset(ds_reg_counts *c);
ds_metric_buffer ds_reg_counts_buffer(ds_reg_counts *c);  // 8 F64
// Adds n values (host): predictions and targets (n outputs per sample count separately).
void ds_reg_counts_add(ds_reg_counts *c, const float *pred, const float *target, int64_t n);

typedef struct ds_reg_report {
    int64_t count;
    double mse, mae, pearson;  // NaN when count is 0 (pearson also when a variance is 0)
} ds_reg_report;

void ds_reg_report_compute(const ds_reg_counts *c, ds_reg_report *r);
// "<prefix>mse", "<prefix>mae", "<prefix>pearson"; returns 3.
int ds_reg_report_values(const ds_reg_report *r, const char *prefix, ds_metric_value *out);

#endif
