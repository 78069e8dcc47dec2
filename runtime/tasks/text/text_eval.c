// The text family's evaluation (runtime/tasks/task.h): the problem type's metric counts
// (runtime/metrics/metrics.h) over the batches a forward in eval mode ran, flat buffers to
// all-reduce, and the report: accuracy and macro-F1 (single-label), micro/macro-F1 and exact
// match (multi-label), MSE/MAE/Pearson (regression), with per-class precision, recall, F1 and the
// confusion matrix as text for single-label classification.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../base/check.h"
#include "../../base/log.h"
#include "text_family_internal.h"

struct ds_task_eval {
    ds_problem_type problem_type;
    ds_cls_counts cls;  // single-label
    ds_ml_counts ml;    // multi-label
    ds_reg_counts reg;  // regression
};

ds_status ds_text_eval_open(ds_task *t, ds_task_eval **out, ds_err *err) {
    const text_state *s = (const text_state *)t;
    ds_task_eval *e = calloc(1, sizeof *e);
    DS_REQUIRE(err, e != NULL, DS_ERR_OOM, "evaluation: out of memory");
    e->problem_type = s->problem_type;
    ds_reg_counts_reset(&e->reg);
    ds_status st = DS_OK;
    if (e->problem_type == DS_PROBLEM_SINGLE_LABEL) st = ds_cls_counts_init(&e->cls, (int)s->num_labels, err);
    if (e->problem_type == DS_PROBLEM_MULTI_LABEL) st = ds_ml_counts_init(&e->ml, (int)s->num_labels, err);
    if (st != DS_OK) {
        ds_text_eval_close(e);
        return st;
    }
    *out = e;
    return DS_OK;
}

void ds_text_eval_close(ds_task_eval *e) {
    if (!e) return;
    ds_cls_counts_free(&e->cls);
    ds_ml_counts_free(&e->ml);
    free(e);
}

ds_status ds_text_eval_add(ds_context *ctx, ds_task *t, ds_task_eval *e, const void *batch) {
    const text_state *s = (const text_state *)t;
    ds_bert_batch b;
    ds_text_unpack(batch, &b);
    const float *logits = s->out.logits.data;  // (B, K) host (the arena, or the CUDA download)
    if (e->problem_type == DS_PROBLEM_SINGLE_LABEL) return ds_cls_counts_add_logits(&e->cls, logits, b.labels, b.B, &ctx->err);
    if (e->problem_type == DS_PROBLEM_MULTI_LABEL) return ds_ml_counts_add(&e->ml, logits, b.label_values, b.B, &ctx->err);
    ds_reg_counts_add(&e->reg, logits, b.label_values, b.B * s->num_labels);
    return DS_OK;
}

int ds_text_eval_buffers(ds_task_eval *e, ds_metric_buffer *out, int cap) {
    if (cap < 1) return 0;
    if (e->problem_type == DS_PROBLEM_SINGLE_LABEL) out[0] = ds_cls_counts_buffer(&e->cls);
    else if (e->problem_type == DS_PROBLEM_MULTI_LABEL) out[0] = ds_ml_counts_buffer(&e->ml);
    else out[0] = ds_reg_counts_buffer(&e->reg);
    return 1;
}

// Per-class precision/recall/F1 and the confusion matrix, one class a line.
static void print_cls_report(const ds_cls_report *r, const ds_cls_counts *c, const ds_label_map *labels, FILE *f) {
    const int K = r->classes;
    fprintf(f, "  %-20s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
    for (int k = 0; k < K; k++)
        fprintf(f, "  %-20.20s %9.4f %9.4f %9.4f %8lld\n", labels && k < labels->count ? labels->names[k] : "?",
                r->precision[k], r->recall[k], r->f1[k], (long long)r->support[k]);
    fprintf(f, "  confusion matrix (rows: true, columns: predicted)\n");
    for (int i = 0; i < K; i++) {
        fprintf(f, "  %-20.20s", labels && i < labels->count ? labels->names[i] : "?");
        for (int j = 0; j < K; j++) fprintf(f, " %7lld", (long long)c->confusion[i * K + j]);
        fputc('\n', f);
    }
}

// The per-class table and the confusion matrix as JSON (ds_eval_result.details).
static char *cls_details(const ds_cls_report *r, const ds_cls_counts *c, const ds_label_map *labels) {
    const int K = r->classes;
    cJSON *root = cJSON_CreateObject(), *classes = cJSON_AddArrayToObject(root, "classes"),
          *per = cJSON_AddArrayToObject(root, "per_class"), *conf = cJSON_AddObjectToObject(root, "confusion");
    if (!root || !classes || !per || !conf) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddStringToObject(conf, "rows", "true");
    cJSON_AddStringToObject(conf, "columns", "predicted");
    cJSON *matrix = cJSON_AddArrayToObject(conf, "matrix");
    for (int k = 0; k < K; k++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "class %d", k);
        const char *name = labels && k < labels->count ? labels->names[k] : fallback;
        cJSON_AddItemToArray(classes, cJSON_CreateString(name));
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "class", name);
        cJSON_AddNumberToObject(row, "precision", r->precision[k]);
        cJSON_AddNumberToObject(row, "recall", r->recall[k]);
        cJSON_AddNumberToObject(row, "f1", r->f1[k]);
        cJSON_AddNumberToObject(row, "support", (double)r->support[k]);
        cJSON_AddItemToArray(per, row);
        cJSON *counts = cJSON_CreateArray();
        for (int j = 0; j < K; j++) cJSON_AddItemToArray(counts, cJSON_CreateNumber((double)c->confusion[k * K + j]));
        cJSON_AddItemToArray(matrix, counts);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

ds_status ds_text_eval_report(const ds_task *t, const ds_task_eval *e, const char *prefix, ds_eval_result *r,
                              ds_err *err) {
    const text_state *s = (const text_state *)t;
    if (e->problem_type == DS_PROBLEM_SINGLE_LABEL) {
        ds_cls_report cr;
        DS_TRY(ds_cls_report_compute(&e->cls, &cr, err));
        ds_metric_value v[4];
        const int n = ds_cls_report_values(&cr, prefix, v);
        for (int i = 0; i < n && r->count < DS_EVAL_MAX_VALUES; i++) r->values[r->count++] = v[i];
        size_t size = 0;
        FILE *f = open_memstream(&r->report, &size);
        if (f) {
            print_cls_report(&cr, &e->cls, ds_text_state_labels(s), f);
            fclose(f);
        }
        r->details = cls_details(&cr, &e->cls, ds_text_state_labels(s));
        ds_cls_report_free(&cr);
        DS_REQUIRE(err, r->report != NULL, DS_ERR_OOM, "evaluation report: out of memory");
    } else if (e->problem_type == DS_PROBLEM_MULTI_LABEL) {
        ds_ml_report mr;
        DS_TRY(ds_ml_report_compute(&e->ml, &mr, err));
        ds_metric_value v[4];
        const int n = ds_ml_report_values(&mr, prefix, v);
        for (int i = 0; i < n && r->count < DS_EVAL_MAX_VALUES; i++) r->values[r->count++] = v[i];
        ds_ml_report_free(&mr);
    } else {
        ds_reg_report rr;
        ds_reg_report_compute(&e->reg, &rr);
        ds_metric_value v[4];
        const int n = ds_reg_report_values(&rr, prefix, v);
        for (int i = 0; i < n && r->count < DS_EVAL_MAX_VALUES; i++) r->values[r->count++] = v[i];
    }
    return DS_OK;
}

ds_status ds_text_select_metric(const ds_task *t, const char *want, ds_metric_choice *out, ds_err *err) {
    const text_state *s = (const text_state *)t;
    const ds_problem_type p = s->problem_type;
    if (!want[0]) want = "accuracy";  // HF's examples select by accuracy
    DS_REQUIRE(err, strcmp(want, "accuracy") == 0 || strcmp(want, "macro_f1") == 0 || strcmp(want, "loss") == 0,
               DS_ERR_CONFIG, "train.metric '%s' is not a text-classification metric: accuracy, macro_f1 or loss", want);
    const char *name = "loss";
    if (strcmp(want, "accuracy") == 0 && p != DS_PROBLEM_REGRESSION)
        name = p == DS_PROBLEM_SINGLE_LABEL ? "accuracy" : "exact_match";
    else if (strcmp(want, "macro_f1") == 0 && p != DS_PROBLEM_REGRESSION)
        name = "macro_f1";
    if (strcmp(want, "loss") != 0 && strcmp(name, "loss") == 0 && s->log)
        DS_LOG_WARN(s->log, "train.metric %s does not apply to regression; selecting by eval_loss", want);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->greater_is_better = strcmp(name, "loss") != 0;
    return DS_OK;
}
