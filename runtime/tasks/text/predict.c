#include "predict.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../../data/common/file_read.h"
#include "../../base/check.h"
#include "../../io/json_write.h"
#include "hf_bert.h"
#include "text_examples.h"

void ds_predictor_free(ds_predictor *p) {
    for (int64_t i = 0; p->class_names && i < p->num_labels; i++) free(p->class_names[i]);
    free(p->class_names);
    ds_arena_free(&p->arena);
    ds_bert_free(&p->model);
    ds_wp_tokenizer_free(&p->tok);
    memset(p, 0, sizeof *p);
}

ds_status ds_predictor_load(ds_context *ctx, const char *model_dir, size_t batch_size, int64_t max_length,
                            ds_predictor *p) {
    memset(p, 0, sizeof *p);
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, batch_size > 0 && max_length >= 2, DS_ERR_INVALID_ARG,
               "predict: batch size %zu and max length %lld: need a batch of at least 1 and at least 2 tokens",
               batch_size, (long long)max_length);
    ds_hf_bert_info info;
    memset(&info, 0, sizeof info);
    const ds_hf_bert_options mo = {.num_labels = 0};  // config.json's head, as it was exported
    DS_TRY(ds_hf_bert_load(ctx, model_dir, &mo, &p->model, &info));
    ds_status st = DS_OK;
    if (info.initialised > 0)
        DS_LOG_WARN(&ctx->log,
                    "%s: %d tensors were missing from the checkpoint and are random (a pretrained model, not a "
                    "fine-tuned one?): the predictions mean nothing",
                    model_dir, info.initialised);
    p->problem_type = p->model.cfg.problem_type;
    p->num_labels = p->model.cfg.num_labels;
    if (p->problem_type != DS_PROBLEM_REGRESSION) {  // take over id2label's names
        p->class_names = info.id2label;
        info.id2label = NULL;
    } else if (p->num_labels != 1) {
        st = ds_err_set(err, DS_ERR_FORMAT,
                        "%s/config.json: regression with %lld outputs; downstream predicts one value", model_dir,
                        (long long)p->num_labels);
    }
    ds_hf_bert_info_free(&info);
    if (st == DS_OK) st = ds_wp_tokenizer_load(model_dir, &p->tok, err);
    p->batch_size = batch_size;
    p->max_length = max_length;
    if (max_length > p->model.cfg.max_position) {
        DS_LOG_INFO(&ctx->log, "max length %lld exceeds the model's %lld positions; using %lld", (long long)max_length,
                    (long long)p->model.cfg.max_position, (long long)p->model.cfg.max_position);
        p->max_length = p->model.cfg.max_position;
    }
    // On CUDA the model runs with fp32 activations (TF32 off): predictions as exact as the CPU's;
    // prediction is forward-only, so mixed precision would save little.
    if (st == DS_OK) st = ds_bert_to_device(ctx, &p->model, DS_F32);
    size_t bytes = 0;
    if (st == DS_OK)
        st = ds_bert_arena_bytes(ctx, &p->model, (int64_t)batch_size, p->max_length, false, &bytes);
    if (st == DS_OK) st = ds_arena_init_for(ctx, &p->arena, bytes);
    if (st != DS_OK) ds_predictor_free(p);
    return st;
}

// All of `f` into a malloc'd buffer with a NUL after it (as ds_read_whole_file gives).
static ds_status read_stream(FILE *f, const char *name, char **data, size_t *size, ds_err *err) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    if (!buf) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory reading the input", name);
    if (ferror(f)) {
        free(buf);
        return ds_err_set(err, DS_ERR_IO, "%s: read error: %s", name, strerror(errno));
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return DS_OK;
}

static bool has_txt_extension(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    return dot && (!slash || dot > slash) && strcasecmp(dot, ".txt") == 0;
}

ds_status ds_predict_read_input(const char *path, const ds_text_dataset_options *opt, ds_text_dataset *d,
                                ds_err *err) {
    memset(d, 0, sizeof *d);
    ds_text_dataset_options o = *opt;
    o.unlabeled = true;
    o.label_names = NULL;  // never read: the model names the classes
    o.num_label_names = 0;
    const bool is_stdin = strcmp(path, "-") == 0;
    if (has_txt_extension(path) || (is_stdin && o.format == DS_TEXT_FORMAT_AUTO)) o.format = DS_TEXT_FORMAT_LINES;
    if (!is_stdin) return ds_text_dataset_load(path, &o, d, err);
    char *data = NULL;
    size_t size = 0;
    DS_TRY(read_stream(stdin, "<stdin>", &data, &size, err));
    const ds_status st = ds_text_dataset_load_memory(data, size, "<stdin>", &o, d, err);
    free(data);
    return st;
}

// ---- JSON output --------------------------------------------------------------------------

static void write_array(FILE *out, const char *key, const double *v, int64_t n) {
    fprintf(out, ", \"%s\": [", key);
    for (int64_t k = 0; k < n; k++) {
        if (k) fputs(", ", out);
        ds_json_write_float(out, v[k]);
    }
    fputc(']', out);
}

ds_status ds_predict_write_line(const ds_predictor *p, const char *text, const char *pair, const float *logits,
                                FILE *out, ds_err *err) {
    const int64_t K = p->num_labels;
    double *prob = malloc((size_t)(K > 0 ? K : 1) * sizeof *prob);
    double *raw = malloc((size_t)(K > 0 ? K : 1) * sizeof *raw);
    if (!prob || !raw) {
        free(prob), free(raw);
        return ds_err_set(err, DS_ERR_OOM, "predict: out of memory");
    }
    for (int64_t k = 0; k < K; k++) raw[k] = logits[k];
    fputs("{\"text\": ", out);
    ds_json_write_string(out, text);
    if (pair) {
        fputs(", \"text_pair\": ", out);
        ds_json_write_string(out, pair);
    }
    if (p->problem_type == DS_PROBLEM_SINGLE_LABEL) {
        // Softmax in double around the largest logit; the first largest wins ties (torch.argmax).
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            if (raw[k] > raw[best]) best = k;
        double sum = 0;
        for (int64_t k = 0; k < K; k++) sum += prob[k] = exp(raw[k] - raw[best]);
        for (int64_t k = 0; k < K; k++) prob[k] /= sum;
        fputs(", \"label\": ", out);
        ds_json_write_string(out, p->class_names[best]);
        write_array(out, "probabilities", prob, K);
    } else if (p->problem_type == DS_PROBLEM_MULTI_LABEL) {
        fputs(", \"labels\": [", out);
        int listed = 0;
        for (int64_t k = 0; k < K; k++) {
            prob[k] = 1.0 / (1.0 + exp(-raw[k]));
            if (prob[k] < 0.5) continue;
            if (listed++) fputs(", ", out);
            ds_json_write_string(out, p->class_names[k]);
        }
        fputc(']', out);
        write_array(out, "probabilities", prob, K);
    } else {
        fputs(", \"value\": ", out);
        ds_json_write_float(out, raw[0]);
    }
    write_array(out, "logits", raw, K);
    fputs("}\n", out);
    free(prob);
    free(raw);
    return DS_OK;
}

ds_status ds_predict_dataset(ds_context *ctx, ds_predictor *p, const ds_text_dataset *d, FILE *out,
                             const ds_predict_sink *sink, ds_predict_stats *stats) {
    ds_err *err = &ctx->err;
    if (stats) memset(stats, 0, sizeof *stats);
    const size_t B = p->batch_size;
    size_t *idx = malloc(B * sizeof *idx), *order = malloc(B * sizeof *order);
    ds_text_batch_buf buf;
    ds_status st = ds_text_batch_buf_init(&buf, B, p->max_length, p->num_labels, err);
    if (st == DS_OK && (!idx || !order)) st = ds_err_set(err, DS_ERR_OOM, "predict: out of memory");
    for (size_t at = 0; st == DS_OK && at < d->count; at += B) {
        // Tokenize one batch at a time: memory stays (batch, max_length) whatever the input size.
        const size_t n = d->count - at < B ? d->count - at : B;
        for (size_t i = 0; i < n; i++) idx[i] = at + i, order[i] = i;
        ds_text_examples e;
        if ((st = ds_text_examples_build(d, idx, n, &p->tok, p->max_length, p->num_labels, &e, err)) != DS_OK) break;
        ds_bert_batch batch;
        ds_text_batch_make(&e, order, n, &buf, &batch);
        batch.labels = NULL;  // no loss: the data has no labels
        batch.label_values = NULL;
        ds_bert_output o;
        st = ds_bert_forward(ctx, &p->model, &batch, false, 0, &p->arena, &o);
        const float *logits = o.logits.data;  // (n, num_labels) host (the arena, or the CUDA download)
        if (st == DS_OK && sink && sink->logits) st = sink->logits(sink->user, logits, n, err);
        for (size_t i = 0; st == DS_OK && i < n; i++)
            st = ds_predict_write_line(p, ds_text_dataset_text(d, at + i), ds_text_dataset_text_pair(d, at + i),
                                       logits + i * (size_t)p->num_labels, out, err);
        if (stats) stats->truncated += e.truncated;
        ds_text_examples_free(&e);
        if (st == DS_OK && ferror(out)) st = ds_err_set(err, DS_ERR_IO, "predict: cannot write the output");
        if (st == DS_OK && stats) stats->examples += n;
    }
    free(idx);
    free(order);
    ds_text_batch_buf_free(&buf);
    return st;
}
