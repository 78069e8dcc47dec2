// Evaluation metrics (runtime/metrics_*.c) against numpy implementations of sklearn's
// definitions on random predictions (tests/fixtures/trainer/metrics.safetensors, written by
// scripts/fixtures/metrics.py), accumulated batch by batch; and the distributed contract:
// counts accumulated on separate shards and summed (as an all-reduce would) give the report of
// the whole data.
//
// Tolerances: counts (confusion matrix, support) are integers: exact. Per-class precision,
// recall and F1 are one IEEE division of the same integers on both sides: exact as well, checked
// at 1e-15 relative. Means over K or L classes may add in another order than numpy's: 1e-14.
// MSE and MAE: numpy sums pairwise, we sequentially in double, over 300 values: ~300 * 2^-53
// ~ 3e-14 at worst; k_sum_tol = 1e-12. Pearson: numpy centres the data first, we use raw sums;
// the cancellation costs a factor mean^2/variance (~3 for these targets) on top of that, so
// 1e-10 is ample.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/metrics/metrics.h"
#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

static const double k_ratio_tol = 1e-15;
static const double k_mean_tol = 1e-14;
static const double k_sum_tol = 1e-12;
static const double k_pearson_tol = 1e-10;

static ds_tensor view(ds_test *t, const ds_st_file *f, const char *name, ds_dtype dtype) {
    ds_tensor v = {0};
    ds_err err = {0};
    ds_test_check(t, ds_st_view(f, name, dtype, &v, &err) == DS_OK, "%s", err.msg);
    return v;
}

static void close1(ds_test *t, const char *what, double got, double want, double tol) {
    ds_test_close_f64(t, what, &got, &want, 1, tol);
}

static void check_cls(ds_test *t, const ds_st_file *f) {
    ds_tensor logits = view(t, f, "cls.logits", DS_F32), labels = view(t, f, "cls.labels", DS_I32);
    ds_tensor conf = view(t, f, "cls.confusion", DS_I64), support = view(t, f, "cls.support", DS_I64);
    ds_tensor p = view(t, f, "cls.precision", DS_F64), r = view(t, f, "cls.recall", DS_F64);
    ds_tensor f1 = view(t, f, "cls.f1", DS_F64), sc = view(t, f, "cls.scalars", DS_F64);
    if (!logits.data || !labels.data || !conf.data || !support.data || !p.data || !r.data || !f1.data || !sc.data)
        return;
    const int64_t n = logits.shape[0];
    const int k = (int)logits.shape[1];
    ds_err err = {0};
    ds_cls_counts all, shard[3];
    ds_test_check(t, ds_cls_counts_init(&all, k, &err) == DS_OK, "%s", err.msg);
    for (int s = 0; s < 3; s++) ds_cls_counts_init(&shard[s], k, &err);
    const float *lg = logits.data;
    const int32_t *lb = labels.data;
    // Batches of 37 (the last one short); shard s gets batches s, s+3, ...
    for (int64_t b = 0, i = 0; i < n; b++, i += 37) {
        const int64_t m = n - i < 37 ? n - i : 37;
        ds_test_check(t, ds_cls_counts_add_logits(&all, lg + i * k, lb + i, m, &err) == DS_OK, "%s", err.msg);
        ds_test_check(t, ds_cls_counts_add_logits(&shard[b % 3], lg + i * k, lb + i, m, &err) == DS_OK, "%s", err.msg);
    }
    ds_test_check(t, memcmp(all.confusion, conf.data, sizeof(int64_t) * (size_t)(k * k)) == 0,
                  "confusion matrix equals numpy's (rows true, cols predicted; ties to the first maximum; -100 skipped)");
    ds_cls_report rep;
    if (ds_test_check(t, ds_cls_report_compute(&all, &rep, &err) == DS_OK, "%s", err.msg)) {
        ds_test_check(t, memcmp(rep.support, support.data, sizeof(int64_t) * (size_t)k) == 0, "support");
        ds_test_close_f64(t, "cls precision", rep.precision, p.data, (size_t)k, k_ratio_tol);
        ds_test_close_f64(t, "cls recall", rep.recall, r.data, (size_t)k, k_ratio_tol);
        ds_test_close_f64(t, "cls f1", rep.f1, f1.data, (size_t)k, k_ratio_tol);
        const double *w = sc.data;
        close1(t, "cls accuracy", rep.accuracy, w[0], k_ratio_tol);
        close1(t, "cls macro_f1 (all K classes)", rep.macro_f1, w[1], k_mean_tol);
        close1(t, "cls macro_f1_present", rep.macro_f1_present, w[2], k_mean_tol);
        int64_t counted = 0;
        for (int64_t i = 0; i < n; i++) counted += lb[i] != DS_LABEL_IGNORE;
        ds_test_check(t, rep.total == counted && counted < n, "ignored labels are not counted: %lld of %lld",
                      (long long)rep.total, (long long)n);
        ds_metric_value v[2];
        ds_test_check(t, ds_cls_report_values(&rep, "eval_", v) == 2 && strcmp(v[0].name, "eval_accuracy") == 0 &&
                             v[0].value == rep.accuracy && strcmp(v[1].name, "eval_macro_f1") == 0,
                      "named values");
        // Shards summed as an all-reduce would: the same counts, hence the same report.
        for (int s = 1; s < 3; s++)
            ds_test_check(t, ds_metric_buffer_add(ds_cls_counts_buffer(&shard[0]), ds_cls_counts_buffer(&shard[s]),
                                                  &err) == DS_OK, "%s", err.msg);
        ds_cls_report merged;
        if (ds_cls_report_compute(&shard[0], &merged, &err) == DS_OK) {
            ds_test_check(t, memcmp(shard[0].confusion, all.confusion, sizeof(int64_t) * (size_t)(k * k)) == 0 &&
                                 merged.accuracy == rep.accuracy && merged.macro_f1 == rep.macro_f1 &&
                                 memcmp(merged.f1, rep.f1, sizeof(double) * (size_t)k) == 0,
                          "3 shards summed give the same report bit for bit");
            ds_cls_report_free(&merged);
        }
        ds_cls_report_free(&rep);
    }
    ds_cls_counts_free(&all);
    for (int s = 0; s < 3; s++) ds_cls_counts_free(&shard[s]);
}

static void check_ml(ds_test *t, const ds_st_file *f) {
    ds_tensor logits = view(t, f, "ml.logits", DS_F32), targets = view(t, f, "ml.targets", DS_F32);
    ds_tensor p = view(t, f, "ml.precision", DS_F64), r = view(t, f, "ml.recall", DS_F64);
    ds_tensor f1 = view(t, f, "ml.f1", DS_F64), sc = view(t, f, "ml.scalars", DS_F64);
    if (!logits.data || !targets.data || !p.data || !r.data || !f1.data || !sc.data) return;
    const int64_t n = logits.shape[0];
    const int L = (int)logits.shape[1];
    ds_err err = {0};
    ds_ml_counts all, a, b;
    ds_ml_counts_init(&all, L, &err);
    ds_ml_counts_init(&a, L, &err);
    ds_ml_counts_init(&b, L, &err);
    const float *lg = logits.data, *tg = targets.data;
    for (int64_t i = 0; i < n; i += 25) {
        const int64_t m = n - i < 25 ? n - i : 25;
        ds_test_check(t, ds_ml_counts_add(&all, lg + i * L, tg + i * L, m, &err) == DS_OK, "%s", err.msg);
        ds_ml_counts_add(i < n / 2 ? &a : &b, lg + i * L, tg + i * L, m, &err);
    }
    ds_ml_report rep;
    if (ds_test_check(t, ds_ml_report_compute(&all, &rep, &err) == DS_OK, "%s", err.msg)) {
        ds_test_check(t, rep.samples == n, "samples %lld", (long long)rep.samples);
        ds_test_close_f64(t, "ml precision", rep.precision, p.data, (size_t)L, k_ratio_tol);
        ds_test_close_f64(t, "ml recall", rep.recall, r.data, (size_t)L, k_ratio_tol);
        ds_test_close_f64(t, "ml f1 (label 4: zero_division 0)", rep.f1, f1.data, (size_t)L, k_ratio_tol);
        const double *w = sc.data;
        close1(t, "ml micro_f1", rep.micro_f1, w[0], k_ratio_tol);
        close1(t, "ml macro_f1", rep.macro_f1, w[1], k_mean_tol);
        close1(t, "ml exact_match", rep.exact_match, w[2], k_ratio_tol);
        ds_metric_value v[3];
        ds_test_check(t, ds_ml_report_values(&rep, "eval_", v) == 3 && strcmp(v[2].name, "eval_exact_match") == 0,
                      "named values");
        ds_metric_buffer_add(ds_ml_counts_buffer(&a), ds_ml_counts_buffer(&b), &err);
        ds_test_check(t, memcmp(a.counts, all.counts, sizeof(int64_t) * (size_t)(4 * L + 2)) == 0,
                      "2 shards summed give the same counts");
        ds_ml_report_free(&rep);
    }
    // A NaN target is refused and nothing is added.
    float lg1[5] = {0}, tg1[5] = {0, 0, NAN, 0, 0};
    ds_test_check(t, ds_ml_counts_add(&all, lg1, tg1, 1, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "label 2"),
                  "NaN target: %s", err.msg);
    ds_test_check(t, all.counts[4 * L + 1] == n, "nothing added after the error");
    ds_ml_counts_free(&all);
    ds_ml_counts_free(&a);
    ds_ml_counts_free(&b);
}

static void check_reg(ds_test *t, const ds_st_file *f, const char *name) {
    char key[64];
    snprintf(key, sizeof key, "%s.pred", name);
    ds_tensor pred = view(t, f, key, DS_F32);
    snprintf(key, sizeof key, "%s.target", name);
    ds_tensor target = view(t, f, key, DS_F32);
    snprintf(key, sizeof key, "%s.scalars", name);
    ds_tensor sc = view(t, f, key, DS_F64);
    if (!pred.data || !target.data || !sc.data) return;
    const int64_t n = pred.shape[0];
    ds_reg_counts all, a, b;
    ds_reg_counts_reset(&all);
    ds_reg_counts_reset(&a);
    ds_reg_counts_reset(&b);
    const float *p = pred.data, *tg = target.data;
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t m = n - i < 16 ? n - i : 16;
        ds_reg_counts_add(&all, p + i, tg + i, m);
        ds_reg_counts_add(i % 32 ? &a : &b, p + i, tg + i, m);
    }
    ds_reg_report rep, merged;
    ds_reg_report_compute(&all, &rep);
    const double *w = sc.data;
    char what[64];
    snprintf(what, sizeof what, "%s mse", name);
    close1(t, what, rep.mse, w[0], k_sum_tol);
    snprintf(what, sizeof what, "%s mae", name);
    close1(t, what, rep.mae, w[1], k_sum_tol);
    snprintf(what, sizeof what, "%s pearson", name);
    if (isnan(w[2]))
        ds_test_check(t, isnan(rep.pearson), "%s: constant predictions give NaN, got %g", what, rep.pearson);
    else
        close1(t, what, rep.pearson, w[2], k_pearson_tol);
    ds_err err = {0};
    ds_metric_buffer_add(ds_reg_counts_buffer(&a), ds_reg_counts_buffer(&b), &err);
    ds_reg_report_compute(&a, &merged);
    ds_test_check(t, merged.count == n && fabs(merged.mse - rep.mse) <= k_sum_tol * rep.mse &&
                         (isnan(rep.pearson) ? isnan(merged.pearson) : fabs(merged.pearson - rep.pearson) <= 1e-12),
                  "%s: shards summed: mse %.17g vs %.17g, r %.17g vs %.17g", name, merged.mse, rep.mse, merged.pearson,
                  rep.pearson);
}

static void check_edges(ds_test *t) {
    ds_err err = {0};
    ds_cls_counts c;
    ds_test_check(t, ds_cls_counts_init(&c, 0, &err) == DS_ERR_INVALID_ARG, "0 classes refused");
    ds_err_clear(&err);
    if (!ds_test_check(t, ds_cls_counts_init(&c, 3, &err) == DS_OK, "%s", err.msg)) return;
    ds_cls_report r;
    ds_cls_report_compute(&c, &r, &err);
    ds_test_check(t, r.total == 0 && r.accuracy == 0 && r.macro_f1 == 0 && r.macro_f1_present == 0,
                  "empty counts: zeros, not NaN");
    ds_cls_report_free(&r);
    const int32_t pred[4] = {0, 1, 2, 9}, lab[4] = {0, 1, DS_LABEL_IGNORE, DS_LABEL_IGNORE};
    ds_test_check(t, ds_cls_counts_add(&c, pred, lab, 4, &err) == DS_OK, "ignored samples' predictions unchecked: %s",
                  err.msg);
    const int32_t bad[3] = {0, 3, 1};
    ds_test_check(t, ds_cls_counts_add(&c, pred, bad, 3, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "sample 1") &&
                         strstr(err.msg, "label 3"),
                  "label out of range named: %s", err.msg);
    ds_cls_report_compute(&c, &r, &err);
    ds_test_check(t, r.total == 2 && r.accuracy == 1.0, "nothing added by the failed call: %lld", (long long)r.total);
    // Classes 2 never appears: F1 0 counts in macro_f1 (over 3), not in macro_f1_present (over 2).
    ds_test_check(t, fabs(r.macro_f1 - 2.0 / 3.0) < 1e-15 && r.macro_f1_present == 1.0, "zero_division=0 averaging");
    ds_cls_report_free(&r);
    // NaN logits never win the argmax.
    const float lg[3] = {NAN, 0.5f, 0.25f};
    const int32_t l1[1] = {1};
    ds_cls_counts_reset(&c);
    ds_cls_counts_add_logits(&c, lg, l1, 1, &err);
    ds_test_check(t, c.confusion[1 * 3 + 1] == 1, "argmax skips NaN");
    ds_metric_buffer other = {c.confusion, DS_I64, 4};
    ds_test_check(t, ds_metric_buffer_add(ds_cls_counts_buffer(&c), other, &err) == DS_ERR_INVALID_ARG,
                  "buffers of different sizes refused: %s", err.msg);
    ds_cls_counts_free(&c);
    ds_reg_counts rc;
    ds_reg_counts_reset(&rc);
    ds_reg_report rr;
    ds_reg_report_compute(&rc, &rr);
    ds_test_check(t, rr.count == 0 && isnan(rr.mse) && isnan(rr.pearson), "empty regression: NaN");
}

int main(void) {
    ds_test t = ds_test_begin("metrics");
    char path[1024];
    ds_test_fixture("trainer/metrics.safetensors", path, sizeof path);
    ds_st_file f = {0};
    ds_err err = {0};
    if (ds_test_check(&t, ds_st_open(path, &f, &err) == DS_OK, "%s", err.msg)) {
        check_cls(&t, &f);
        check_ml(&t, &f);
        check_reg(&t, &f, "reg");
        check_reg(&t, &f, "reg_flat");
        ds_st_close(&f);
    }
    check_edges(&t);
    return ds_test_finish(&t);
}
