#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/check.h"

void ds_eval_result_free(ds_eval_result *r) {
    ds_cls_report_free(&r->cls);
    ds_cls_counts_free(&r->counts);
    memset(r, 0, sizeof *r);
}

double ds_eval_value(const ds_eval_result *r, const char *name) {
    for (int i = 0; i < r->count; i++)
        if (strcmp(r->values[i].name, name) == 0) return r->values[i].value;
    return NAN;
}

ds_status ds_evaluate(ds_context *ctx, ds_bert_model *m, const ds_text_examples *e, size_t batch_size,
                      ds_arena *arena, const char *prefix, ds_eval_result *r) {
    memset(r, 0, sizeof *r);
    r->problem_type = e->problem_type;
    ds_err *err = &ctx->err;
    const int K = (int)e->num_labels;
    ds_ml_counts ml = {0};
    ds_reg_counts reg;
    ds_reg_counts_reset(&reg);
    if (e->problem_type == DS_PROBLEM_SINGLE_LABEL) DS_TRY(ds_cls_counts_init(&r->counts, K, err));
    if (e->problem_type == DS_PROBLEM_MULTI_LABEL) DS_TRY(ds_ml_counts_init(&ml, K, err));
    ds_text_batch_buf buf;
    ds_status st = ds_text_batch_buf_init(&buf, batch_size, e->max_length, e->num_labels, err);
    size_t *order = malloc(batch_size * sizeof *order);
    if (st == DS_OK && !order) st = ds_err_set(err, DS_ERR_OOM, "evaluate: out of memory");
    double loss_sum = 0;
    for (size_t at = 0; st == DS_OK && at < e->n; at += batch_size) {
        const size_t n = e->n - at < batch_size ? e->n - at : batch_size;
        for (size_t i = 0; i < n; i++) order[i] = at + i;
        ds_bert_batch batch;
        ds_text_batch_make(e, order, n, &buf, &batch);
        ds_bert_output out;
        if ((st = ds_bert_forward(ctx, m, &batch, false, 0, arena, &out)) != DS_OK) break;
        loss_sum += (double)out.loss * (double)n;
        const float *logits = out.logits.data;  // (n, K) host, in the arena
        if (e->problem_type == DS_PROBLEM_SINGLE_LABEL)
            st = ds_cls_counts_add_logits(&r->counts, logits, batch.labels, (int64_t)n, err);
        else if (e->problem_type == DS_PROBLEM_MULTI_LABEL)
            st = ds_ml_counts_add(&ml, logits, batch.label_values, (int64_t)n, err);
        else
            ds_reg_counts_add(&reg, logits, batch.label_values, (int64_t)n * K);
    }
    free(order);
    ds_text_batch_buf_free(&buf);
    if (st == DS_OK) {
        r->examples = (int64_t)e->n;
        r->loss = e->n ? loss_sum / (double)e->n : NAN;
        snprintf(r->values[0].name, sizeof r->values[0].name, "%sloss", prefix);
        r->values[0].value = r->loss;
        r->count = 1;
        if (e->problem_type == DS_PROBLEM_SINGLE_LABEL) {
            if ((st = ds_cls_report_compute(&r->counts, &r->cls, err)) == DS_OK)
                r->count += ds_cls_report_values(&r->cls, prefix, r->values + r->count);
        } else if (e->problem_type == DS_PROBLEM_MULTI_LABEL) {
            ds_ml_report mr;
            if ((st = ds_ml_report_compute(&ml, &mr, err)) == DS_OK) {
                r->count += ds_ml_report_values(&mr, prefix, r->values + r->count);
                ds_ml_report_free(&mr);
            }
        } else {
            ds_reg_report rr;
            ds_reg_report_compute(&reg, &rr);
            r->count += ds_reg_report_values(&rr, prefix, r->values + r->count);
        }
    }
    ds_ml_counts_free(&ml);
    if (st != DS_OK) ds_eval_result_free(r);
    return st;
}

void ds_eval_print_report(const ds_eval_result *r, const ds_label_map *labels, FILE *f) {
    if (r->problem_type != DS_PROBLEM_SINGLE_LABEL || !r->cls.precision) return;
    const int K = r->cls.classes;
    fprintf(f, "  %-20s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
    for (int k = 0; k < K; k++)
        fprintf(f, "  %-20.20s %9.4f %9.4f %9.4f %8lld\n", labels && k < labels->count ? labels->names[k] : "?",
                r->cls.precision[k], r->cls.recall[k], r->cls.f1[k], (long long)r->cls.support[k]);
    fprintf(f, "  confusion matrix (rows: true, columns: predicted)\n");
    for (int i = 0; i < K; i++) {
        fprintf(f, "  %-20.20s", labels && i < labels->count ? labels->names[i] : "?");
        for (int j = 0; j < K; j++) fprintf(f, " %7lld", (long long)r->counts.confusion[i * K + j]);
        fputc('\n', f);
    }
}
