// `downstream predict` for a text classifier (runtime/tasks/text/predict.h does the work): the
// input read as unlabelled text (the data.* keys of the config), one JSON line per example to
// stdout or --output, and with --save-logits DIR every example's logits in DIR/logits.safetensors
// ("logits", (N, num_labels) F32, in input order).
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/check.h"
#include "../../io/fs.h"
#include "../../io/safetensors.h"
#include "predict.h"
#include "text_family_internal.h"

// A FILE that also keeps every logit it is handed (for --save-logits).
typedef struct logit_store {
    float *data;  // (n, K) host
    size_t n, cap;
    int64_t K;
} logit_store;

static ds_status keep_logits(void *user, const float *logits, size_t n, ds_err *err) {
    logit_store *s = user;
    if (s->n + n > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        while (cap < s->n + n) cap *= 2;
        float *bigger = realloc(s->data, cap * (size_t)s->K * sizeof(float));
        DS_REQUIRE(err, bigger != NULL, DS_ERR_OOM, "predict --save-logits: out of memory for %zu examples", cap);
        s->data = bigger;
        s->cap = cap;
    }
    memcpy(s->data + s->n * (size_t)s->K, logits, n * (size_t)s->K * sizeof(float));
    s->n += n;
    return DS_OK;
}

static ds_status write_logits(const logit_store *s, const char *dir, ds_err *err) {
    DS_TRY(ds_mkdirs(dir, err));
    char path[4200];
    snprintf(path, sizeof path, "%s/logits.safetensors", dir);
    const ds_st_entry e = {"logits", ds_tensor_cpu2(s->data, DS_F32, (int64_t)s->n, s->K)};
    return ds_st_write(path, &e, 1, NULL, 0, err);
}

ds_status ds_text_predict(ds_context *ctx, const ds_config *cfg, const ds_predict_args *a) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, a->resize == 0 && !a->overlay, DS_ERR_CONFIG,
               "predict: --resize and --overlay apply to segmentation models; %s is a text classifier", a->model);
    DS_REQUIRE(err, !a->save_logits || a->save_logits[0], DS_ERR_CONFIG,
               "predict: --save-logits needs a folder for a text classifier (--save-logits DIR)");
    const int64_t max_length = a->max_length ? a->max_length : ds_config_int(cfg, "model.max_length");
    ds_text_dataset_options dopt;
    ds_text_dataset data = {0};
    ds_predictor pred = {0};
    logit_store logits = {0};
    FILE *out = stdout;
    ds_status st = ds_text_task_dataset_options(cfg, &dopt, err);
    if (st == DS_OK) st = ds_predictor_load(ctx, a->model, (size_t)a->batch_size, max_length, &pred);
    if (st == DS_OK) dopt.problem_type = pred.problem_type;
    if (st == DS_OK) st = ds_predict_read_input(a->input, &dopt, &data, err);
    if (st == DS_OK && data.skipped) {
        char skip[1400];
        DS_LOG_WARN(&ctx->log, "%s", ds_text_dataset_skip_summary(&data, skip, sizeof skip));
    }
    if (st == DS_OK && a->output && !(out = fopen(a->output, "w"))) {
        out = stdout;
        st = ds_err_set(err, DS_ERR_IO, "%s: cannot write: %s", a->output, strerror(errno));
    }
    logits.K = pred.num_labels;
    const double t0 = ds_now_seconds();
    ds_predict_stats stats = {0};
    if (st == DS_OK) {
        DS_LOG_INFO(&ctx->log, "predicting %zu examples of %s with %s (%lld %s, batch %zu, max length %lld)", data.count,
                    data.source, a->model, (long long)pred.num_labels,
                    pred.problem_type == DS_PROBLEM_REGRESSION ? "output" : "classes", pred.batch_size,
                    (long long)pred.max_length);
        const ds_predict_sink sink = {.logits = a->save_logits ? keep_logits : NULL, .user = &logits};
        st = ds_predict_dataset(ctx, &pred, &data, out, &sink, &stats);
    }
    if (out != stdout && fclose(out) != 0 && st == DS_OK)
        st = ds_err_set(err, DS_ERR_IO, "%s: cannot write: %s", a->output, strerror(errno));
    if (out == stdout && fflush(stdout) != 0 && st == DS_OK)
        st = ds_err_set(err, DS_ERR_IO, "stdout: cannot write: %s", strerror(errno));
    if (st == DS_OK && a->save_logits) st = write_logits(&logits, a->save_logits, err);
    if (st == DS_OK) {
        if (stats.truncated)
            DS_LOG_INFO(&ctx->log, "%lld examples truncated to %lld tokens", (long long)stats.truncated,
                        (long long)pred.max_length);
        DS_LOG_INFO(&ctx->log, "%zu predictions in %.2f s%s%s%s%s", stats.examples, ds_now_seconds() - t0,
                    a->output ? " written to " : "", a->output ? a->output : "",
                    a->save_logits ? "; logits in " : "", a->save_logits ? a->save_logits : "");
    }
    free(logits.data);
    ds_predictor_free(&pred);
    ds_text_dataset_free(&data);
    return st;
}
