// The JSONL metrics log (runtime/train/metrics_log.c): every line is one valid JSON object with the
// values written (checked by parsing with cJSON), non-finite values as null, eval-only lines
// without training fields, escaping of odd names, a new run truncating, and a resume dropping the
// lines beyond the checkpoint's step and a torn last line before appending.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../runtime/train/metrics_log.h"
#include "../test_util.h"

// Parses every line; returns the number of lines, each checked to be one JSON object.
static int parse_lines(ds_test *t, const char *text, cJSON **objs, int cap) {
    int n = 0;
    for (const char *s = text; *s;) {
        const char *nl = strchr(s, '\n');
        if (!ds_test_check(t, nl != NULL, "line %d ends with a newline", n + 1)) break;
        char *line = strndup(s, (size_t)(nl - s));
        cJSON *o = cJSON_Parse(line);
        ds_test_check(t, cJSON_IsObject(o), "line %d is a JSON object: %s", n + 1, line);
        if (n < cap) objs[n] = o;
        else cJSON_Delete(o);
        n++;
        free(line);
        s = nl + 1;
    }
    return n;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void write_steps(ds_test *t, ds_metrics_log *l, int from, int to) {
    ds_err err = {0};
    for (int s = from; s <= to; s++) {
        ds_metrics_record r = {.step = s, .epoch = s / 4.0, .has_train = true, .loss = 1.0 / s, .lr = 2e-5 * s,
                               .grad_norm = 0.5, .samples_per_s = 123.25};
        ds_test_check(t, ds_metrics_log_write(l, &r, &err) == DS_OK, "write step %d: %s", s, err.msg);
    }
}

static void check_lines(ds_test *t, const char *path) {
    ds_metrics_log l;
    ds_err err = {0};
    if (!ds_test_check(t, ds_metrics_log_open(&l, path, -1, &err) == DS_OK, "%s", err.msg)) return;
    write_steps(t, &l, 1, 2);
    // Flushed per line: visible to a reader before the log is closed.
    char *mid = ds_test_read_file(path, NULL);
    ds_test_check(t, mid && strlen(mid) > 0 && mid[strlen(mid) - 1] == '\n', "flushed after each line");
    free(mid);
    const ds_metric_value extra[3] = {{"eval_accuracy", 0.875}, {"eval_pearson", NAN}, {"we\"ird\\name\n", 1.0}};
    ds_metrics_record ev = {.step = 2, .epoch = 0.5, .has_train = false, .extra = extra, .extra_count = 3};
    ds_test_check(t, ds_metrics_log_write(&l, &ev, &err) == DS_OK, "%s", err.msg);
    ds_metrics_record bad = {.step = 3, .epoch = 0.75, .has_train = true, .loss = NAN, .lr = 1e-5,
                             .grad_norm = INFINITY, .samples_per_s = 1.0};
    ds_test_check(t, ds_metrics_log_write(&l, &bad, &err) == DS_OK, "%s", err.msg);
    ds_metrics_log_close(&l);

    char *text = ds_test_read_file(path, NULL);
    cJSON *o[8] = {0};
    const int n = text ? parse_lines(t, text, o, 8) : 0;
    if (ds_test_check(t, n == 4, "4 lines, got %d:\n%s", n, text ? text : "")) {
        ds_test_check(t, num(o[0], "step") == 1 && num(o[0], "epoch") == 0.25 && num(o[0], "loss") == 1.0 &&
                             num(o[0], "lr") == 2e-5 && num(o[0], "grad_norm") == 0.5 &&
                             num(o[0], "samples_per_s") == 123.25,
                      "training line values");
        ds_test_check(t, fabs(num(o[1], "loss") - 0.5) == 0 && fabs(num(o[1], "lr") - 4e-5) <= 1e-15,
                      "second line values");
        ds_test_check(t, !cJSON_HasObjectItem(o[2], "loss") && !cJSON_HasObjectItem(o[2], "lr") &&
                             num(o[2], "eval_accuracy") == 0.875 &&
                             cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o[2], "eval_pearson")) &&
                             num(o[2], "we\"ird\\name\n") == 1.0,
                      "eval line: no training fields, NaN as null, escaped name");
        ds_test_check(t, cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o[3], "loss")) &&
                             cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o[3], "grad_norm")),
                      "non-finite training values are null");
        // The key order is fixed: step first, epoch second.
        ds_test_check(t, strncmp(text, "{\"step\": 1, \"epoch\": 0.25, \"loss\": 1, \"lr\": 2e-05", 48) == 0,
                      "layout: %.60s", text);
    }
    for (int i = 0; i < 8; i++) cJSON_Delete(o[i]);
    free(text);
}

static void check_resume(ds_test *t, const char *path) {
    ds_metrics_log l;
    ds_err err = {0};
    if (!ds_test_check(t, ds_metrics_log_open(&l, path, -1, &err) == DS_OK, "%s", err.msg)) return;
    write_steps(t, &l, 1, 5);
    ds_metrics_log_close(&l);
    FILE *f = fopen(path, "ab");  // a crash in the middle of a line
    fputs("{\"step\": 6, \"epoch\": 1.5, \"lo", f);
    fclose(f);
    // Resume from the checkpoint of step 3: steps 4, 5 and the torn line go; 4.. are appended again.
    if (!ds_test_check(t, ds_metrics_log_open(&l, path, 3, &err) == DS_OK, "resume: %s", err.msg)) return;
    write_steps(t, &l, 4, 4);
    ds_metrics_log_close(&l);
    char *text = ds_test_read_file(path, NULL);
    cJSON *o[8] = {0};
    const int n = text ? parse_lines(t, text, o, 8) : 0;
    ds_test_check(t, n == 4 && num(o[0], "step") == 1 && num(o[2], "step") == 3 && num(o[3], "step") == 4,
                  "after resume: steps 1, 2, 3, 4 (%d lines):\n%s", n, text ? text : "");
    for (int i = 0; i < 8; i++) cJSON_Delete(o[i]);
    free(text);
    // A resume with nothing to drop keeps the file and appends.
    if (ds_metrics_log_open(&l, path, 100, &err) == DS_OK) {
        write_steps(t, &l, 5, 5);
        ds_metrics_log_close(&l);
    }
    text = ds_test_read_file(path, NULL);
    ds_test_check(t, text && count_lines(text) == 5, "append without drops: %s", text ? text : "");
    free(text);
    // A new run starts the file afresh.
    if (ds_metrics_log_open(&l, path, -1, &err) == DS_OK) ds_metrics_log_close(&l);
    text = ds_test_read_file(path, NULL);
    ds_test_check(t, text && text[0] == 0, "a new run truncates");
    free(text);
    // A resume where there is no log yet creates it.
    remove(path);
    ds_test_check(t, ds_metrics_log_open(&l, path, 7, &err) == DS_OK, "resume without a file: %s", err.msg);
    ds_metrics_log_close(&l);
}

static void check_errors(ds_test *t, const char *path) {
    ds_metrics_log l;
    ds_err err = {0};
    char bad[1200];
    snprintf(bad, sizeof bad, "%s.d/no/such/folder/log.jsonl", path);
    ds_test_check(t, ds_metrics_log_open(&l, bad, -1, &err) == DS_ERR_IO && strstr(err.msg, bad),
                  "missing folder named: %s", err.msg);
    // A record with many extra values goes through the heap path in one line.
    ds_metric_value many[64];
    for (int i = 0; i < 64; i++) {
        snprintf(many[i].name, sizeof many[i].name, "eval_per_class_f1_%02d", i);
        many[i].value = i / 64.0;
    }
    ds_metrics_record r = {.step = 9, .epoch = 1, .extra = many, .extra_count = 64};
    char small[64];
    const size_t need = ds_metrics_record_format(&r, small, sizeof small);
    ds_test_check(t, need > 1024 && strlen(small) == sizeof small - 1, "format reports the full length: %zu", need);
    ds_err_clear(&err);
    if (ds_test_check(t, ds_metrics_log_open(&l, path, -1, &err) == DS_OK, "%s", err.msg)) {
        ds_test_check(t, ds_metrics_log_write(&l, &r, &err) == DS_OK, "%s", err.msg);
        ds_metrics_log_close(&l);
        char *text = ds_test_read_file(path, NULL);
        cJSON *o[2] = {0};
        ds_test_check(t, text && parse_lines(t, text, o, 2) == 1 && num(o[0], "eval_per_class_f1_63") == 63 / 64.0,
                      "long line intact");
        cJSON_Delete(o[0]);
        free(text);
    }
}

int main(void) {
    ds_test t = ds_test_begin("metrics_log");
    char path[1024];
    ds_test_tmpfile("metrics.jsonl", path, sizeof path);
    check_lines(&t, path);
    check_resume(&t, path);
    check_errors(&t, path);
    remove(path);
    return ds_test_finish(&t);
}
