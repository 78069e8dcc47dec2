#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/check.h"

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

ds_status ds_eval_sums_init(ds_eval_sums *s, const ds_text_examples *e, ds_err *err) {
    memset(s, 0, sizeof *s);
    s->problem_type = e->problem_type;
    ds_reg_counts_reset(&s->reg);
    if (e->problem_type == DS_PROBLEM_SINGLE_LABEL) DS_TRY(ds_cls_counts_init(&s->cls, (int)e->num_labels, err));
    if (e->problem_type == DS_PROBLEM_MULTI_LABEL) DS_TRY(ds_ml_counts_init(&s->ml, (int)e->num_labels, err));
    return DS_OK;
}

void ds_eval_sums_free(ds_eval_sums *s) {
    ds_cls_counts_free(&s->cls);
    ds_ml_counts_free(&s->ml);
    memset(s, 0, sizeof *s);
}

ds_status ds_eval_accumulate(ds_context *ctx, ds_bert_model *m, const ds_text_examples *e, size_t first,
                             size_t count, size_t batch_size, ds_arena *arena, ds_eval_sums *s) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, first + count <= e->n, DS_ERR_INVALID_ARG, "evaluate: examples [%zu, %zu) of %zu", first,
               first + count, e->n);
    if (count == 0) return DS_OK;
    const int K = (int)e->num_labels;
    ds_text_batch_buf buf;
    ds_status st = ds_text_batch_buf_init(&buf, batch_size, e->max_length, e->num_labels, err);
    size_t *order = malloc(batch_size * sizeof *order);
    if (st == DS_OK && !order) st = ds_err_set(err, DS_ERR_OOM, "evaluate: out of memory");
    const size_t stop = first + count;
    for (size_t at = first; st == DS_OK && at < stop; at += batch_size) {
        const size_t n = stop - at < batch_size ? stop - at : batch_size;
        for (size_t i = 0; i < n; i++) order[i] = at + i;
        ds_bert_batch batch;
        ds_text_batch_make(e, order, n, &buf, &batch);
        ds_bert_output out;
        if ((st = ds_bert_forward(ctx, m, &batch, false, 0, arena, &out)) != DS_OK) break;
        s->loss_sum += (double)out.loss * (double)n;
        s->examples += (int64_t)n;
        const float *logits = out.logits.data;  // (n, K) host (the arena, or the CUDA download)
        if (e->problem_type == DS_PROBLEM_SINGLE_LABEL)
            st = ds_cls_counts_add_logits(&s->cls, logits, batch.labels, (int64_t)n, err);
        else if (e->problem_type == DS_PROBLEM_MULTI_LABEL)
            st = ds_ml_counts_add(&s->ml, logits, batch.label_values, (int64_t)n, err);
        else
            ds_reg_counts_add(&s->reg, logits, batch.label_values, (int64_t)n * K);
    }
    free(order);
    ds_text_batch_buf_free(&buf);
    return st;
}

int ds_eval_sums_buffers(ds_eval_sums *s, ds_metric_buffer out[3]) {
    out[0] = (ds_metric_buffer){&s->loss_sum, DS_F64, 1};
    out[1] = (ds_metric_buffer){&s->examples, DS_I64, 1};
    if (s->problem_type == DS_PROBLEM_SINGLE_LABEL) out[2] = ds_cls_counts_buffer(&s->cls);
    else if (s->problem_type == DS_PROBLEM_MULTI_LABEL) out[2] = ds_ml_counts_buffer(&s->ml);
    else out[2] = ds_reg_counts_buffer(&s->reg);
    return 3;
}

ds_status ds_eval_report(const ds_eval_sums *s, const char *prefix, ds_eval_result *r, ds_err *err) {
    memset(r, 0, sizeof *r);
    r->problem_type = s->problem_type;
    r->examples = s->examples;
    r->loss = s->examples ? s->loss_sum / (double)s->examples : NAN;
    snprintf(r->values[0].name, sizeof r->values[0].name, "%sloss", prefix);
    r->values[0].value = r->loss;
    r->count = 1;
    ds_status st = DS_OK;
    if (s->problem_type == DS_PROBLEM_SINGLE_LABEL) {
        st = ds_cls_counts_init(&r->counts, s->cls.classes, err);
        if (st == DS_OK) {
            memcpy(r->counts.confusion, s->cls.confusion,
                   (size_t)s->cls.classes * (size_t)s->cls.classes * sizeof *s->cls.confusion);
            st = ds_cls_report_compute(&r->counts, &r->cls, err);
        }
        if (st == DS_OK) r->count += ds_cls_report_values(&r->cls, prefix, r->values + r->count);
    } else if (s->problem_type == DS_PROBLEM_MULTI_LABEL) {
        ds_ml_report mr;
        if ((st = ds_ml_report_compute(&s->ml, &mr, err)) == DS_OK) {
            r->count += ds_ml_report_values(&mr, prefix, r->values + r->count);
            ds_ml_report_free(&mr);
        }
    } else {
        ds_reg_report rr;
        ds_reg_report_compute(&s->reg, &rr);
        r->count += ds_reg_report_values(&rr, prefix, r->values + r->count);
    }
    if (st != DS_OK) ds_eval_result_free(r);
    return st;
}

ds_status ds_evaluate(ds_context *ctx, ds_bert_model *m, const ds_text_examples *e, size_t batch_size,
                      ds_arena *arena, const char *prefix, ds_eval_result *r) {
    memset(r, 0, sizeof *r);
    ds_eval_sums s;
    DS_TRY(ds_eval_sums_init(&s, e, &ctx->err));
    ds_status st = ds_eval_accumulate(ctx, m, e, 0, e->n, batch_size, arena, &s);
    if (st == DS_OK) st = ds_eval_report(&s, prefix, r, &ctx->err);
    ds_eval_sums_free(&s);
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
