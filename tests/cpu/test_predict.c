// Prediction (runtime/tasks/text/predict.h): the JSON line of each problem type (keys, class names, argmax
// with ties to the first, softmax and sigmoids, float32 logits that read back bit for bit, null
// for non-finite values, escaped strings); reading the input (.txt and stdin as lines, CSV with
// or without its label column, an explicit format on stdin); and batched prediction on the tiny
// BERT fixture equal to one-example forwards without padding.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/tasks/text/predict.h"
#include "../../runtime/tasks/text/text_examples.h"
#include "../test_util.h"

// The JSON of one ds_predict_write_line call (caller cJSON_Deletes), or NULL (a failed check).
static cJSON *line_json(ds_test *t, const ds_predictor *p, const char *text, const char *pair, const float *logits,
                        char *raw, size_t cap) {
    char path[512];
    FILE *f = fopen(ds_test_tmpfile("line.jsonl", path, sizeof path), "w+");
    ds_err err = {0};
    if (!ds_test_check(t, f && ds_predict_write_line(p, text, pair, logits, f, &err) == DS_OK, "write: %s", err.msg)) {
        if (f) fclose(f);
        return NULL;
    }
    rewind(f);
    const size_t n = fread(raw, 1, cap - 1, f);
    raw[n] = '\0';
    fclose(f);
    remove(path);
    ds_test_check(t, n > 0 && raw[n - 1] == '\n' && strchr(raw, '\n') == raw + n - 1,
                  "one line ending in a newline: %s", raw);
    cJSON *j = cJSON_Parse(raw);
    ds_test_check(t, j != NULL, "not JSON: %s", raw);
    return j;
}

// Array `key` of j as doubles into v (at most cap); returns its length or -1.
static int numbers(const cJSON *j, const char *key, double *v, int cap) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsArray(a)) return -1;
    int n = 0;
    for (const cJSON *e = a->child; e && n < cap; e = e->next) v[n++] = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    return n;
}

static const char *string_of(const cJSON *j, const char *key) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

static void test_single_label_line(ds_test *t) {
    char *names[] = {"neg", "mixed \"so-so\"", "pos"};
    ds_predictor p = {.class_names = names, .num_labels = 3, .problem_type = DS_PROBLEM_SINGLE_LABEL};
    const float logits[3] = {-1.25f, 2.0000002f, 2.0000002f};  // a tie: the first wins, as torch.argmax
    const char *text = "caf\xC3\xA9 \"quoted\" back\\slash\ttab\nnewline \x01 end";
    char raw[2048];
    cJSON *j = line_json(t, &p, text, NULL, logits, raw, sizeof raw);
    if (!j) return;
    ds_test_check(t, string_of(j, "text") && strcmp(string_of(j, "text"), text) == 0, "text round-trips: %s", raw);
    ds_test_check(t, !cJSON_HasObjectItem(j, "text_pair"), "no text_pair for a single text");
    ds_test_check(t, string_of(j, "label") && strcmp(string_of(j, "label"), names[1]) == 0,
                  "label: the first argmax: %s", raw);
    double prob[4], got[4];
    ds_test_check(t, numbers(j, "probabilities", prob, 4) == 3 && numbers(j, "logits", got, 4) == 3, "3 + 3 numbers");
    double z = 0, sum = 0;
    for (int k = 0; k < 3; k++) z += exp((double)logits[k] - (double)logits[1]);
    for (int k = 0; k < 3; k++) {
        const double want = exp((double)logits[k] - (double)logits[1]) / z;
        // 9 significant digits printed: 5e-9 relative.
        ds_test_check(t, fabs(prob[k] - want) <= 5e-9 * want, "probability %d: %.12g, softmax %.12g", k, prob[k], want);
        ds_test_check(t, (float)got[k] == logits[k], "logit %d reads back as the same float32 (%.9g vs %.9g)", k,
                      got[k], (double)logits[k]);
        sum += prob[k];
    }
    ds_test_check(t, fabs(sum - 1) <= 1e-8, "probabilities sum to %.12g", sum);
    cJSON_Delete(j);
    // Key order as documented, and the pair after the text.
    j = line_json(t, &p, "a", "b", logits, raw, sizeof raw);
    ds_test_check(t, strncmp(raw, "{\"text\": \"a\", \"text_pair\": \"b\", \"label\": ", 41) == 0 &&
                         strstr(raw, "\"probabilities\": [") < strstr(raw, "\"logits\": ["),
                  "layout: %s", raw);
    cJSON_Delete(j);
}

static void test_multi_label_and_regression_lines(ds_test *t) {
    char *names[] = {"a", "b", "c"};
    ds_predictor p = {.class_names = names, .num_labels = 3, .problem_type = DS_PROBLEM_MULTI_LABEL};
    const float logits[3] = {0.0f, -0.1f, 3.5f};  // sigmoid(0) = 0.5 is listed (>= 0.5)
    char raw[2048];
    cJSON *j = line_json(t, &p, "x", NULL, logits, raw, sizeof raw);
    if (j) {
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
        ds_test_check(t, cJSON_GetArraySize(labels) == 2 &&
                             strcmp(cJSON_GetArrayItem(labels, 0)->valuestring, "a") == 0 &&
                             strcmp(cJSON_GetArrayItem(labels, 1)->valuestring, "c") == 0,
                      "multi-label: classes a and c: %s", raw);
        double prob[4];
        ds_test_check(t, numbers(j, "probabilities", prob, 4) == 3, "three sigmoids");
        for (int k = 0; k < 3; k++) {
            const double want = 1 / (1 + exp(-(double)logits[k]));
            ds_test_check(t, fabs(prob[k] - want) <= 5e-9 * want, "sigmoid %d: %.12g vs %.12g", k, prob[k], want);
        }
        ds_test_check(t, !cJSON_HasObjectItem(j, "label"), "no single label");
        cJSON_Delete(j);
    }
    const float none[3] = {-1, -2, -3};
    j = line_json(t, &p, "x", NULL, none, raw, sizeof raw);
    ds_test_check(t, j && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "labels")) == 0, "no class: []: %s",
                  raw);
    cJSON_Delete(j);

    ds_predictor r = {.num_labels = 1, .problem_type = DS_PROBLEM_REGRESSION};
    const float value[1] = {-3.14159274f};
    j = line_json(t, &r, "y", NULL, value, raw, sizeof raw);
    if (j) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
        double l[2];
        ds_test_check(t, cJSON_IsNumber(v) && (float)v->valuedouble == value[0] && numbers(j, "logits", l, 2) == 1 &&
                             (float)l[0] == value[0] && !cJSON_HasObjectItem(j, "probabilities"),
                      "regression: value and one logit: %s", raw);
        cJSON_Delete(j);
    }
    const float nan_value[1] = {NAN};
    j = line_json(t, &r, "y", NULL, nan_value, raw, sizeof raw);
    ds_test_check(t, j && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "value")), "NaN is written as null: %s",
                  raw);
    cJSON_Delete(j);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_read_input(ds_test *t) {
    char txt[512], csv[512], in[512];
    ds_text_dataset_options o = ds_text_dataset_default_options();
    ds_text_dataset d;
    ds_err err = {0};
    write_file(ds_test_tmpfile("input.txt", txt, sizeof txt), "one\ntwo\tpair\n\nthree\n");
    if (ds_test_check(t, ds_predict_read_input(txt, &o, &d, &err) == DS_OK, ".txt: %s", err.msg)) {
        ds_test_check(t, d.count == 3 && !d.has_labels && strcmp(ds_text_dataset_text_pair(&d, 1), "pair") == 0 &&
                             strcmp(ds_text_dataset_text(&d, 2), "three") == 0,
                      ".txt: lines, a pair, the blank line skipped");
        ds_text_dataset_free(&d);
    }
    // Labelled and unlabelled CSV; a label list in the options is not applied (the labels are not read).
    o.label_names = (const char *const[]){"x", "y"};
    o.num_label_names = 2;
    write_file(ds_test_tmpfile("input.csv", csv, sizeof csv), "text,label\nhello,unknown-label\nworld,\n");
    if (ds_test_check(t, ds_predict_read_input(csv, &o, &d, &err) == DS_OK, "labelled CSV: %s", err.msg)) {
        ds_test_check(t, d.count == 2 && d.labels.count == 0 && strcmp(ds_text_dataset_text(&d, 1), "world") == 0,
                      "labelled CSV read unlabelled");
        ds_text_dataset_free(&d);
    }
    o = ds_text_dataset_default_options();
    write_file(csv, "text\nhello\n");
    ds_test_check(t, ds_predict_read_input(csv, &o, &d, &err) == DS_OK && d.count == 1, "CSV without labels: %s",
                  err.msg);
    ds_text_dataset_free(&d);
    // stdin: lines by default, the configured format otherwise.
    write_file(ds_test_tmpfile("stdin", in, sizeof in), "text,label\na,b\n");
    if (freopen(in, "r", stdin)) {
        ds_test_check(t, ds_predict_read_input("-", &o, &d, &err) == DS_OK && d.count == 2 &&
                             strcmp(ds_text_dataset_text(&d, 0), "text,label") == 0 && strcmp(d.source, "<stdin>") == 0,
                      "stdin: plain lines: %s", err.msg);
        ds_text_dataset_free(&d);
    }
    o.format = DS_TEXT_FORMAT_CSV;
    if (freopen(in, "r", stdin)) {
        ds_test_check(t, ds_predict_read_input("-", &o, &d, &err) == DS_OK && d.count == 1 &&
                             strcmp(ds_text_dataset_text(&d, 0), "a") == 0,
                      "stdin with data.format csv: %s", err.msg);
        ds_text_dataset_free(&d);
    }
    ds_test_check(t, ds_predict_read_input("/nonexistent/in.csv", &o, &d, &err) != DS_OK &&
                         strstr(err.msg, "/nonexistent/in.csv"),
                  "a missing file is named: %s", err.msg);
    remove(txt), remove(csv), remove(in);
}

// Batched prediction equals one-example forwards (B = 1, no padding) of the same model.
static void test_predict_fixture(ds_test *t) {
    char dir[512];
    ds_test_fixture("trainer/tiny_bert", dir, sizeof dir);
    ds_context ctx = ds_context_cpu();
    ctx.log.level = DS_LOG_ERROR;  // the fixture has no classifier: HF's initialisation, with a warning
    ds_predictor p;
    if (!ds_test_check(t, ds_predictor_load(&ctx, dir, 3, 1000, &p) == DS_OK, "load: %s", ctx.err.msg)) return;
    ds_test_check(t, p.max_length == p.model.cfg.max_position && p.num_labels == 2 &&
                         strcmp(p.class_names[1], "LABEL_1") == 0,
                  "max length capped at %lld positions (got %lld); HF's default class names",
                  (long long)p.model.cfg.max_position, (long long)p.max_length);
    const char *text = "the movie was great .\nwhat a dull thing the plot was\n\nthe cast\tthe music is nice\n"
                       "i thought the acting was awful , really\nfine\n";
    ds_text_dataset_options o = ds_text_dataset_default_options();
    o.format = DS_TEXT_FORMAT_LINES;
    o.unlabeled = true;
    ds_text_dataset d;
    char path[512], raw[4096];
    FILE *f = fopen(ds_test_tmpfile("pred.jsonl", path, sizeof path), "w+");
    ds_predict_stats stats;
    if (!ds_test_check(t, ds_text_dataset_load_memory(text, strlen(text), "x", &o, &d, &ctx.err) == DS_OK && f,
                       "data: %s", ctx.err.msg) ||
        !ds_test_check(t, ds_predict_dataset(&ctx, &p, &d, f, NULL, &stats) == DS_OK, "predict: %s", ctx.err.msg)) {
        if (f) fclose(f);
        ds_predictor_free(&p);
        return;
    }
    ds_test_check(t, stats.examples == 5 && stats.truncated == 0, "5 examples predicted");
    rewind(f);
    ds_arena arena = {0};
    size_t bytes = 0;
    ds_bert_arena_bytes(&ctx, &p.model, 1, p.max_length, false, &bytes);
    ds_arena_init_cpu(&arena, bytes, &ctx.err);
    for (size_t i = 0; i < d.count && fgets(raw, sizeof raw, f); i++) {
        cJSON *j = cJSON_Parse(raw);
        double got[3];
        ds_text_examples e;
        ds_text_batch_buf buf;
        ds_bert_batch batch;
        ds_bert_output out;
        size_t zero = 0;
        if (!ds_test_check(t, j && numbers(j, "logits", got, 3) == 2, "line %zu: %s", i, raw) ||
            ds_text_examples_build(&d, &i, 1, &p.tok, p.max_length, 2, &e, &ctx.err) != DS_OK) {
            cJSON_Delete(j);
            continue;
        }
        ds_text_batch_buf_init(&buf, 1, p.max_length, 2, &ctx.err);
        ds_text_batch_make(&e, &zero, 1, &buf, &batch);
        batch.labels = NULL;
        if (ds_test_check(t, ds_bert_forward(&ctx, &p.model, &batch, false, 0, &arena, &out) == DS_OK, "forward: %s",
                          ctx.err.msg)) {
            const float *want = out.logits.data;  // (1, 2) host
            // Padding changes only the rounding (masked keys add exact zeros after exp, but the
            // GEMMs see other shapes): a few fp32 ulps through 2 layers; 1e-5 of the largest logit.
            const double scale = fmax(fabs(want[0]), fabs(want[1]));
            for (int k = 0; k < 2; k++)
                ds_test_check(t, fabs(got[k] - want[k]) <= 1e-5 * scale,
                              "example %zu logit %d: batched %.9g, alone %.9g", i, k, got[k], (double)want[k]);
        }
        ds_test_check(t, strcmp(string_of(j, "text"), ds_text_dataset_text(&d, i)) == 0, "example %zu text in order",
                      i);
        ds_text_batch_buf_free(&buf);
        ds_text_examples_free(&e);
        cJSON_Delete(j);
    }
    ds_test_check(t, fgets(raw, sizeof raw, f) == NULL, "no extra line");
    fclose(f);
    remove(path);
    ds_arena_free(&arena);
    ds_text_dataset_free(&d);
    ds_predictor_free(&p);

    ds_test_check(t, ds_predictor_load(&ctx, "/nonexistent/model", 3, 32, &p) != DS_OK &&
                         strstr(ctx.err.msg, "/nonexistent/model"),
                  "a missing model directory is named: %s", ctx.err.msg);
}

int main(void) {
    ds_test t = ds_test_begin("predict");
    test_single_label_line(&t);
    test_multi_label_and_regression_lines(&t);
    test_read_input(&t);
    test_predict_fixture(&t);
    return ds_test_finish(&t);
}
