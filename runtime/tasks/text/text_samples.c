// The text family's sample predictions for the run report (task.h's write_samples): for
// single-label classification, up to SAMPLES_WRONG misclassified texts per true class and
// SAMPLES_RIGHT correct ones (so that a class without mistakes still shows an example), each a
// JSON line {"kind": "text", "split", "index", "line", "text", ["text_pair"], "label", "predicted",
// "correct", "probabilities": {class: p}} (runtime/train/run_files.h). Other problem types write
// nothing yet.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../base/check.h"
#include "text_family_internal.h"

#define SAMPLES_WRONG 5
#define SAMPLES_RIGHT 2

static const ds_text_dataset *dataset_of(const text_state *s, ds_data_split split) {
    if (s->data.split_from_train) return &s->data.train_set;
    return split == DS_DATA_DEV ? &s->data.dev_set : split == DS_DATA_TEST ? &s->data.test_set : &s->data.train_set;
}

// One example's line; probabilities = softmax of its logits (K) host.
static ds_status write_line(FILE *out, const ds_text_dataset *d, size_t source, size_t index, ds_data_split split,
                            const ds_label_map *labels, int32_t label, int32_t pred, const float *logits, int K,
                            ds_err *err) {
    const ds_text_example *ex = &d->examples[source];
    cJSON *o = cJSON_CreateObject();
    DS_REQUIRE(err, o != NULL, DS_ERR_OOM, "samples: out of memory");
    cJSON_AddStringToObject(o, "kind", "text");
    cJSON_AddStringToObject(o, "split", split == DS_DATA_DEV ? "dev" : split == DS_DATA_TEST ? "test" : "train");
    cJSON_AddNumberToObject(o, "index", (double)index);
    cJSON_AddNumberToObject(o, "line", (double)ex->line);
    cJSON_AddStringToObject(o, "text", d->pool + ex->text);
    if (ex->text_pair != DS_TEXT_NO_PAIR) cJSON_AddStringToObject(o, "text_pair", d->pool + ex->text_pair);
    cJSON_AddStringToObject(o, "label", labels->names[label]);
    cJSON_AddStringToObject(o, "predicted", labels->names[pred]);
    cJSON_AddBoolToObject(o, "correct", label == pred);
    double max = logits[0], sum = 0;
    for (int k = 1; k < K; k++) max = logits[k] > max ? logits[k] : max;
    for (int k = 0; k < K; k++) sum += exp((double)logits[k] - max);
    cJSON *p = cJSON_AddObjectToObject(o, "probabilities");
    for (int k = 0; k < K; k++) cJSON_AddNumberToObject(p, labels->names[k], exp((double)logits[k] - max) / sum);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    DS_REQUIRE(err, text != NULL, DS_ERR_OOM, "samples: out of memory");
    const bool ok = fprintf(out, "%s\n", text) > 0;
    free(text);
    DS_REQUIRE(err, ok, DS_ERR_IO, "samples: cannot write");
    return DS_OK;
}

ds_status ds_text_write_samples(ds_context *ctx, ds_task *t, ds_data_split split, size_t batch, ds_arena *arena,
                                FILE *out) {
    text_state *s = (text_state *)t;
    ds_err *err = &ctx->err;
    const ds_text_examples *e = ds_text_state_split(s, split);
    const ds_label_map *labels = ds_text_state_labels(s);
    if (s->problem_type != DS_PROBLEM_SINGLE_LABEL || !e->labels || e->n == 0 || labels->count < 1) return DS_OK;
    const int K = (int)s->num_labels;
    DS_REQUIRE(err, K == labels->count, DS_ERR_INTERNAL, "samples: %d outputs for %d classes", K, (int)labels->count);
    const ds_text_dataset *d = dataset_of(s, split);
    int *wrong = calloc((size_t)K, sizeof *wrong), *right = calloc((size_t)K, sizeof *right);
    const size_t bytes = ds_text_packed_bytes(batch, e->max_length, e->num_labels);
    void *buf = aligned_alloc(64, (bytes + 63) / 64 * 64);  // one packed batch, host
    size_t *idx = malloc(batch * sizeof *idx);
    ds_status st = wrong && right && buf && idx ? DS_OK : ds_err_set(err, DS_ERR_OOM, "samples: out of memory");
    int full = 0;  // classes with both quotas met
    for (size_t at = 0; st == DS_OK && at < e->n && full < K; at += batch) {
        const size_t n = e->n - at < batch ? e->n - at : batch;
        for (size_t i = 0; i < n; i++) idx[i] = at + i;
        ds_text_pack(e, idx, n, n, buf);
        ds_bert_batch b;
        ds_text_unpack(buf, &b);
        if ((st = ds_bert_forward(ctx, &s->model, &b, false, 0, arena, &s->out)) != DS_OK) break;
        const float *logits = s->out.logits.data;  // (n, K) host
        for (size_t i = 0; i < n && st == DS_OK; i++) {
            const int32_t label = e->labels[at + i];
            if (label < 0 || label >= K) continue;  // ignored examples
            int32_t pred = 0;
            for (int k = 1; k < K; k++)
                if (logits[i * (size_t)K + (size_t)k] > logits[i * (size_t)K + (size_t)pred]) pred = k;
            int *quota = pred == label ? &right[label] : &wrong[label];
            if (*quota >= (pred == label ? SAMPLES_RIGHT : SAMPLES_WRONG)) continue;
            (*quota)++;
            if (wrong[label] == SAMPLES_WRONG && right[label] == SAMPLES_RIGHT) full++;
            st = write_line(out, d, e->source_index[at + i], at + i, split, labels, label, pred,
                            logits + i * (size_t)K, K, err);
        }
    }
    free(idx);
    free(buf);
    free(wrong);
    free(right);
    return st;
}
