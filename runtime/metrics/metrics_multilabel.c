// Multi-label classification metrics from per-label tp/fp/fn/tn counts.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "metrics.h"
#include "metrics_internal.h"

enum { TP = 0, FP, FN, TN, PER_LABEL };

ds_status ds_ml_counts_init(ds_ml_counts *c, int labels, ds_err *err) {
    memset(c, 0, sizeof *c);
    DS_REQUIRE(err, labels >= 1 && labels <= 1 << 20, DS_ERR_INVALID_ARG,
               "multi-label metrics: %d labels (1 .. 2^20 supported)", labels);
    c->counts = calloc((size_t)labels * PER_LABEL + 2, sizeof *c->counts);
    if (!c->counts) return ds_err_set(err, DS_ERR_OOM, "multi-label metrics: out of memory for %d labels", labels);
    c->labels = labels;
    return DS_OK;
}

void ds_ml_counts_free(ds_ml_counts *c) {
    free(c->counts);
    memset(c, 0, sizeof *c);
}

void ds_ml_counts_reset(ds_ml_counts *c) {
    memset(c->counts, 0, ((size_t)c->labels * PER_LABEL + 2) * sizeof *c->counts);
}

ds_metric_buffer ds_ml_counts_buffer(const ds_ml_counts *c) {
    ds_metric_buffer b = {c->counts, DS_I64, (int64_t)c->labels * PER_LABEL + 2};
    return b;
}

// sigmoid(x) >= 0.5 exactly is x >= 0. (torch.sigmoid in fp32 rounds to 0.5 for x down to
// about -1.8e-7, so HF's example also counts those as positive: a difference only for logits
// within 2e-7 of 0; scripts/fixtures/metrics.py checks that claim.) NaN is negative.
static bool predicted_positive(float logit) { return logit >= 0.0f; }

ds_status ds_ml_counts_add(ds_ml_counts *c, const float *logits, const float *targets, int64_t n, ds_err *err) {
    const int L = c->labels;
    for (int64_t i = 0; i < n * L; i++)
        DS_REQUIRE(err, !isnan(targets[i]), DS_ERR_INVALID_ARG, "multi-label metrics: sample %lld label %lld: target is NaN",
                   (long long)(i / L), (long long)(i % L));
    int64_t *exact = &c->counts[(size_t)L * PER_LABEL], *samples = exact + 1;
    for (int64_t i = 0; i < n; i++) {
        bool all_right = true;
        for (int j = 0; j < L; j++) {
            const bool p = predicted_positive(logits[i * L + j]), t = targets[i * L + j] >= 0.5f;
            c->counts[(size_t)j * PER_LABEL + (p ? (t ? TP : FP) : (t ? FN : TN))]++;
            all_right = all_right && p == t;
        }
        *exact += all_right;
        ++*samples;
    }
    return DS_OK;
}

void ds_ml_report_free(ds_ml_report *r) {
    free(r->precision);
    free(r->recall);
    free(r->f1);
    memset(r, 0, sizeof *r);
}

ds_status ds_ml_report_compute(const ds_ml_counts *c, ds_ml_report *r, ds_err *err) {
    memset(r, 0, sizeof *r);
    const int L = c->labels;
    r->labels = L;
    r->precision = calloc((size_t)L, sizeof(double));
    r->recall = calloc((size_t)L, sizeof(double));
    r->f1 = calloc((size_t)L, sizeof(double));
    if (!r->precision || !r->recall || !r->f1) {
        ds_ml_report_free(r);
        return ds_err_set(err, DS_ERR_OOM, "multi-label metrics: out of memory for the report");
    }
    int64_t tp_sum = 0, fp_sum = 0, fn_sum = 0;
    double f1_sum = 0;
    for (int j = 0; j < L; j++) {
        const int64_t *k = &c->counts[(size_t)j * PER_LABEL];
        r->precision[j] = ds_metric_ratio(k[TP], k[TP] + k[FP]);
        r->recall[j] = ds_metric_ratio(k[TP], k[TP] + k[FN]);
        r->f1[j] = ds_metric_f1(k[TP], k[FP], k[FN]);
        f1_sum += r->f1[j];
        tp_sum += k[TP], fp_sum += k[FP], fn_sum += k[FN];
    }
    const int64_t exact = c->counts[(size_t)L * PER_LABEL];
    r->samples = c->counts[(size_t)L * PER_LABEL + 1];
    r->micro_f1 = ds_metric_f1(tp_sum, fp_sum, fn_sum);
    r->macro_f1 = f1_sum / L;
    r->exact_match = ds_metric_ratio(exact, r->samples);
    return DS_OK;
}

int ds_ml_report_values(const ds_ml_report *r, const char *prefix, ds_metric_value *out) {
    ds_metric_value_set(&out[0], prefix, "micro_f1", r->micro_f1);
    ds_metric_value_set(&out[1], prefix, "macro_f1", r->macro_f1);
    ds_metric_value_set(&out[2], prefix, "exact_match", r->exact_match);
    return 3;
}
