// Single-label classification metrics from a confusion matrix.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "metrics.h"
#include "metrics_internal.h"

ds_status ds_cls_counts_init(ds_cls_counts *c, int classes, ds_err *err) {
    memset(c, 0, sizeof *c);
    DS_REQUIRE(err, classes >= 1 && classes <= 1 << 15, DS_ERR_INVALID_ARG,
               "classification metrics: %d classes (1 .. 32768 supported)", classes);
    c->confusion = calloc((size_t)classes * (size_t)classes, sizeof *c->confusion);
    if (!c->confusion) return ds_err_set(err, DS_ERR_OOM, "classification metrics: out of memory for %d classes", classes);
    c->classes = classes;
    return DS_OK;
}

void ds_cls_counts_free(ds_cls_counts *c) {
    free(c->confusion);
    memset(c, 0, sizeof *c);
}

void ds_cls_counts_reset(ds_cls_counts *c) {
    memset(c->confusion, 0, (size_t)c->classes * (size_t)c->classes * sizeof *c->confusion);
}

ds_metric_buffer ds_cls_counts_buffer(const ds_cls_counts *c) {
    ds_metric_buffer b = {c->confusion, DS_I64, (int64_t)c->classes * c->classes};
    return b;
}

ds_status ds_cls_counts_add(ds_cls_counts *c, const int32_t *pred, const int32_t *labels, int64_t n, ds_err *err) {
    const int k = c->classes;
    for (int64_t i = 0; i < n; i++) {  // check everything first: all or nothing
        const bool label_ok = labels[i] == DS_LABEL_IGNORE || (labels[i] >= 0 && labels[i] < k);
        DS_REQUIRE(err, label_ok, DS_ERR_INVALID_ARG, "classification metrics: sample %lld has label %d; valid: 0 .. %d (or %d to skip)",
                   (long long)i, labels[i], k - 1, DS_LABEL_IGNORE);
        DS_REQUIRE(err, labels[i] == DS_LABEL_IGNORE || (pred[i] >= 0 && pred[i] < k), DS_ERR_INVALID_ARG,
                   "classification metrics: sample %lld has prediction %d; valid: 0 .. %d", (long long)i, pred[i], k - 1);
    }
    for (int64_t i = 0; i < n; i++)
        if (labels[i] != DS_LABEL_IGNORE) c->confusion[(int64_t)labels[i] * k + pred[i]]++;
    return DS_OK;
}

ds_status ds_cls_counts_add_logits(ds_cls_counts *c, const float *logits, const int32_t *labels, int64_t n,
                                   ds_err *err) {
    const int k = c->classes;
    int32_t *pred = malloc((size_t)(n > 0 ? n : 1) * sizeof *pred);  // (n) host
    if (!pred) return ds_err_set(err, DS_ERR_OOM, "classification metrics: out of memory for %lld samples", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        const float *row = logits + i * k;  // (K)
        int32_t best = 0;
        for (int j = 1; j < k; j++)
            if (row[j] > row[best] || (isnan(row[best]) && !isnan(row[j]))) best = j;
        pred[i] = best;
    }
    const ds_status st = ds_cls_counts_add(c, pred, labels, n, err);
    free(pred);
    return st;
}

void ds_cls_report_free(ds_cls_report *r) {
    free(r->precision);
    free(r->recall);
    free(r->f1);
    free(r->support);
    free(r->predicted);
    memset(r, 0, sizeof *r);
}

ds_status ds_cls_report_compute(const ds_cls_counts *c, ds_cls_report *r, ds_err *err) {
    memset(r, 0, sizeof *r);
    const int k = c->classes;
    r->classes = k;
    r->precision = calloc((size_t)k, sizeof(double));
    r->recall = calloc((size_t)k, sizeof(double));
    r->f1 = calloc((size_t)k, sizeof(double));
    r->support = calloc((size_t)k, sizeof(int64_t));
    r->predicted = calloc((size_t)k, sizeof(int64_t));
    if (!r->precision || !r->recall || !r->f1 || !r->support || !r->predicted) {
        ds_cls_report_free(r);
        return ds_err_set(err, DS_ERR_OOM, "classification metrics: out of memory for the report");
    }
    int64_t correct = 0;
    for (int t = 0; t < k; t++)
        for (int p = 0; p < k; p++) {
            const int64_t v = c->confusion[(int64_t)t * k + p];
            r->support[t] += v;
            r->predicted[p] += v;
            r->total += v;
            if (t == p) correct += v;
        }
    double f1_sum = 0, f1_present_sum = 0;
    int present = 0;
    for (int j = 0; j < k; j++) {
        const int64_t tp = c->confusion[(int64_t)j * k + j];
        const int64_t fp = r->predicted[j] - tp, fn = r->support[j] - tp;
        r->precision[j] = ds_metric_ratio(tp, tp + fp);
        r->recall[j] = ds_metric_ratio(tp, tp + fn);
        r->f1[j] = ds_metric_f1(tp, fp, fn);
        f1_sum += r->f1[j];
        if (r->support[j] > 0 || r->predicted[j] > 0) {
            f1_present_sum += r->f1[j];
            present++;
        }
    }
    r->accuracy = ds_metric_ratio(correct, r->total);
    r->macro_f1 = f1_sum / k;
    r->macro_f1_present = present ? f1_present_sum / present : 0.0;
    return DS_OK;
}

int ds_cls_report_values(const ds_cls_report *r, const char *prefix, ds_metric_value *out) {
    ds_metric_value_set(&out[0], prefix, "accuracy", r->accuracy);
    ds_metric_value_set(&out[1], prefix, "macro_f1", r->macro_f1);
    return 2;
}
