// The text-classification dataset: every fixture case of datasets.expected.json (texts, pairs,
// labels, values and lines as Python's csv/json read them, scripts/fixtures/textdata.py) loads to
// the same examples; then label mapping (first seen, integers, sorted, explicit list, unknown
// label), its JSON form, multi-label, regression, bad rows (error and skip), format inference.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/common/file_read.h"
#include "../../data/text/text_dataset.h"
#include "../test_util.h"

static const char *fixture(const char *name, char *buf, size_t cap) {
    char rel[256];
    snprintf(rel, sizeof rel, "textdata/%s", name);
    return ds_test_fixture(rel, buf, cap);
}

static cJSON *load_expected(ds_test *t) {
    char path[512];
    char *text = NULL;
    size_t size = 0;
    ds_err err = {0};
    if (!ds_test_check(t, ds_read_whole_file(fixture("datasets.expected.json", path, sizeof path), &text, &size,
                                             &err) == DS_OK,
                       "%s", err.msg))
        return NULL;
    cJSON *json = cJSON_Parse(text);
    free(text);
    ds_test_check(t, json != NULL, "datasets.expected.json: not JSON");
    return json;
}

// Loads fixture `name`; on failure records a failed check with the message.
static int load(ds_test *t, const char *name, const ds_text_dataset_options *o, ds_text_dataset *d) {
    char path[512];
    ds_err err = {0};
    return ds_test_check(t, ds_text_dataset_load(fixture(name, path, sizeof path), o, d, &err) == DS_OK, "%s: %s",
                         name, err.msg);
}

// Loading fixture `name` fails with `status` and a message holding "<name>:<line>:" (line > 0)
// and `phrase`.
static void expect_error(ds_test *t, const char *name, const ds_text_dataset_options *o, ds_status status, long line,
                         const char *phrase) {
    char path[512], where[600];
    ds_err err = {0};
    ds_text_dataset d;
    const ds_status s = ds_text_dataset_load(fixture(name, path, sizeof path), o, &d, &err);
    if (line > 0)
        snprintf(where, sizeof where, "%s:%ld:", path, line);
    else
        snprintf(where, sizeof where, "%s", name);
    ds_test_check(t, s == status && strstr(err.msg, where) && strstr(err.msg, phrase),
                  "%s: status %s, message \"%s\"; expected %s with \"%s\" ... \"%s\"", name, ds_status_name(s), err.msg,
                  ds_status_name(status), where, phrase);
    ds_test_check(t, d.count == 0 && d.examples == NULL && d.pool == NULL, "%s: a failed load leaves data behind", name);
    ds_text_dataset_free(&d);
}

static const char *label_name(const ds_text_dataset *d, int32_t id) {
    return id >= 0 && id < d->labels.count ? d->labels.names[id] : "(bad id)";
}

// ---- every fixture case against Python ------------------------------------------------------

static void check_case(ds_test *t, const cJSON *c, const char *separator) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const cJSON *pair = cJSON_GetObjectItem(c, "pair");
    const char *problem = cJSON_GetObjectItem(c, "problem")->valuestring;
    ds_text_dataset_options o = ds_text_dataset_default_options();
    o.text_field = cJSON_GetObjectItem(c, "text")->valuestring;
    o.text_pair_field = cJSON_IsString(pair) ? pair->valuestring : NULL;
    o.label_field = cJSON_GetObjectItem(c, "label")->valuestring;
    o.has_header = cJSON_IsTrue(cJSON_GetObjectItem(c, "header"));
    o.label_separator = separator;
    o.problem_type = strcmp(problem, "multi") == 0        ? DS_PROBLEM_MULTI_LABEL
                     : strcmp(problem, "regression") == 0 ? DS_PROBLEM_REGRESSION
                                                          : DS_PROBLEM_SINGLE_LABEL;
    ds_text_dataset d;
    if (!load(t, cJSON_GetObjectItem(c, "file")->valuestring, &o, &d)) return;
    const cJSON *examples = cJSON_GetObjectItem(c, "examples");
    ds_test_check(t, d.count == (size_t)cJSON_GetArraySize(examples), "%s: %zu examples, Python %d", name, d.count,
                  cJSON_GetArraySize(examples));
    size_t i = 0;
    for (const cJSON *e = examples->child; e && i < d.count; e = e->next, i++) {
        const char *text = cJSON_GetObjectItem(e, "text")->valuestring;
        const cJSON *want_pair = cJSON_GetObjectItem(e, "pair");
        const long line = (long)cJSON_GetObjectItem(e, "line")->valuedouble;
        ds_test_check(t, strcmp(ds_text_dataset_text(&d, i), text) == 0, "%s[%zu]: text '%s', Python '%s'", name, i,
                      ds_text_dataset_text(&d, i), text);
        const char *got_pair = ds_text_dataset_text_pair(&d, i);
        if (cJSON_IsString(want_pair))
            ds_test_check(t, got_pair && strcmp(got_pair, want_pair->valuestring) == 0,
                          "%s[%zu]: text_pair '%s', Python '%s'", name, i, got_pair ? got_pair : "(null)",
                          want_pair->valuestring);
        else
            ds_test_check(t, got_pair == NULL, "%s[%zu]: a text_pair where there is none", name, i);
        ds_test_check(t, ds_text_dataset_line(&d, i) == line, "%s[%zu]: line %ld, Python %ld", name, i,
                      ds_text_dataset_line(&d, i), line);
        if (o.problem_type == DS_PROBLEM_REGRESSION) {
            // Exact: both sides round the same decimal to float32 (strtod, then a cast; Python's float()).
            const float want = (float)cJSON_GetObjectItem(e, "value")->valuedouble;
            ds_test_check(t, ds_text_dataset_value(&d, i) == want, "%s[%zu]: value %g, Python %g", name, i,
                          (double)ds_text_dataset_value(&d, i), (double)want);
            continue;
        }
        const cJSON *labels = cJSON_GetObjectItem(e, "labels");
        const int32_t *ids = NULL;
        const size_t n = ds_text_dataset_label_ids(&d, i, &ids);
        ds_test_check(t, n == (size_t)cJSON_GetArraySize(labels), "%s[%zu]: %zu labels, Python %d", name, i, n,
                      cJSON_GetArraySize(labels));
        size_t k = 0;
        for (const cJSON *l = labels->child; l && k < n; l = l->next, k++)
            ds_test_check(t, strcmp(label_name(&d, ids[k]), l->valuestring) == 0, "%s[%zu]: label %zu '%s', Python '%s'",
                          name, i, k, label_name(&d, ids[k]), l->valuestring);
        if (o.problem_type == DS_PROBLEM_SINGLE_LABEL)
            ds_test_check(t, ds_text_dataset_label(&d, i) == ids[0], "%s[%zu]: label() disagrees with label_ids()",
                          name, i);
    }
    ds_text_dataset_free(&d);
}

// ---- label mapping ----------------------------------------------------------------------------

// The class names of d, "a,b,c".
static const char *names_of(const ds_text_dataset *d, char *buf, size_t cap) {
    buf[0] = '\0';
    for (int32_t i = 0; i < d->labels.count; i++) {
        if (i) strncat(buf, ",", cap - strlen(buf) - 1);
        strncat(buf, d->labels.names[i], cap - strlen(buf) - 1);
    }
    return buf;
}

static void check_names(ds_test *t, const char *what, const ds_text_dataset *d, const char *want) {
    char got[256];
    ds_test_check(t, strcmp(names_of(d, got, sizeof got), want) == 0, "%s: classes %s, expected %s", what, got, want);
}

static void test_label_mapping(ds_test *t) {
    ds_text_dataset_options o = ds_text_dataset_default_options();
    ds_text_dataset d;
    // Strings: order of first appearance (AUTO and FIRST_SEEN), or byte order (SORTED).
    if (load(t, "sentiment.csv", &o, &d)) {
        check_names(t, "strings, auto", &d, "pos,neg,neutral");
        ds_test_check(t, ds_text_dataset_label(&d, 2) == 1, "plain text without quotes is neg = id 1");
        ds_text_dataset_free(&d);
    }
    o.label_order = DS_LABEL_ORDER_SORTED;
    if (load(t, "sentiment.csv", &o, &d)) {
        check_names(t, "strings, sorted", &d, "neg,neutral,pos");
        ds_test_check(t, ds_text_dataset_label(&d, 0) == 2 && ds_text_dataset_label(&d, 3) == 1,
                      "sorted ids must follow the examples' labels");
        ds_text_dataset_free(&d);
    }
    // Integers: numeric order under AUTO although "2" comes first; first appearance on request.
    o = ds_text_dataset_default_options();
    o.text_field = "sentence1";
    o.text_pair_field = "sentence2";
    if (load(t, "pairs.tsv", &o, &d)) {
        check_names(t, "integers, auto", &d, "0,1,2");
        ds_test_check(t, ds_text_dataset_label(&d, 0) == 2 && ds_text_dataset_label(&d, 1) == 0,
                      "integer labels keep their value as id");
        ds_text_dataset_free(&d);
    }
    o.label_order = DS_LABEL_ORDER_FIRST_SEEN;
    if (load(t, "pairs.tsv", &o, &d)) {
        check_names(t, "integers, first seen", &d, "2,0,1");
        ds_test_check(t, ds_text_dataset_label(&d, 0) == 0, "first seen: the first label is id 0");
        ds_text_dataset_free(&d);
    }
    // Numeric, not byte order: 10 after 2; negative first. JSON integers are labels too.
    ds_err err = {0};
    const char *ints = "text,label\na,10\nb,2\nc,-1\nd,2\n";
    o = ds_text_dataset_default_options();
    if (ds_test_check(t, ds_text_dataset_load_memory(ints, strlen(ints), "ints.csv", &o, &d, &err) == DS_OK, "%s",
                      err.msg)) {
        check_names(t, "numeric order", &d, "-1,2,10");
        ds_text_dataset_free(&d);
    }
    o.label_order = DS_LABEL_ORDER_SORTED;
    const char *mixed = "{\"text\": \"a\", \"label\": 10}\n{\"text\": \"b\", \"label\": \"x\"}\n"
                        "{\"text\": \"c\", \"label\": 2}\n";
    if (ds_test_check(t, ds_text_dataset_load_memory(mixed, strlen(mixed), "mixed.jsonl", &o, &d, &err) == DS_OK, "%s",
                      err.msg)) {
        check_names(t, "mixed labels sorted by bytes", &d, "10,2,x");
        ds_text_dataset_free(&d);
    }
    o.label_order = DS_LABEL_ORDER_AUTO;
    if (ds_test_check(t, ds_text_dataset_load_memory(mixed, strlen(mixed), "mixed.jsonl", &o, &d, &err) == DS_OK, "%s",
                      err.msg)) {
        check_names(t, "mixed labels, auto: first seen", &d, "10,x,2");
        ds_text_dataset_free(&d);
    }
    // An explicit list fixes the ids, even for labels that never occur.
    const char *list[] = {"neutral", "neg", "pos", "unused"};
    o = ds_text_dataset_default_options();
    o.label_names = list;
    o.num_label_names = 4;
    o.label_order = DS_LABEL_ORDER_SORTED;  // ignored with a list
    if (load(t, "sentiment.csv", &o, &d)) {
        check_names(t, "explicit list", &d, "neutral,neg,pos,unused");
        ds_test_check(t, ds_text_dataset_label(&d, 0) == 2 && ds_text_dataset_label(&d, 3) == 0,
                      "explicit list: ids follow the list");
        ds_text_dataset_free(&d);
    }
    // An unknown label under an explicit list: error naming file, line and label; or skipped.
    o.num_label_names = 2;
    o.label_names = (const char *[]){"pos", "neg"};
    expect_error(t, "sentiment.csv", &o, DS_ERR_FORMAT, 5, "unknown label 'neutral'");
    o.skip_bad_rows = true;
    if (load(t, "sentiment.csv", &o, &d)) {
        ds_test_check(t, d.count == 6 && d.skipped == 1 && d.skipped_lines[0] == 5,
                      "skip unknown label: %zu examples, %zu skipped (line %ld)", d.count, d.skipped, d.skipped_lines[0]);
        ds_text_dataset_free(&d);
    }
    // A repeated name in the list is refused.
    o.label_names = (const char *[]){"pos", "neg", "pos"};
    o.num_label_names = 3;
    expect_error(t, "sentiment.csv", &o, DS_ERR_INVALID_ARG, 0, "'pos' appears twice");
}

// ---- the mapping's JSON form (HF config.json) --------------------------------------------------

static void test_label_map_json(ds_test *t) {
    ds_err err = {0};
    ds_label_map m, back;
    const char *names[] = {"neg", "pos", "\xE6\x97\xA5"};
    if (!ds_test_check(t, ds_label_map_from_names(&m, names, 3, NULL, &err) == DS_OK, "%s", err.msg)) return;
    cJSON *json = NULL;
    if (ds_test_check(t, ds_label_map_to_json(&m, &json, &err) == DS_OK, "%s", err.msg)) {
        char *text = cJSON_PrintUnformatted(json);
        const char *want = "{\"id2label\":{\"0\":\"neg\",\"1\":\"pos\",\"2\":\"\xE6\x97\xA5\"},"
                           "\"label2id\":{\"neg\":0,\"pos\":1,\"\xE6\x97\xA5\":2}}";
        ds_test_check(t, strcmp(text, want) == 0, "label map JSON %s, expected %s", text, want);
        free(text);
        if (ds_test_check(t, ds_label_map_from_json(json, "config.json", &back, &err) == DS_OK, "%s", err.msg)) {
            ds_test_check(t, back.count == 3 && strcmp(back.names[2], names[2]) == 0 &&
                                 ds_label_map_find(&back, "pos", 3) == 1,
                          "label map JSON round trip");
            ds_label_map_free(&back);
        }
        cJSON_Delete(json);
    }
    ds_label_map_free(&m);
    // HF's own layout: id2label keys out of order, and no label2id at all, are fine.
    const struct {
        const char *json, *phrase;  // phrase NULL: accepted
    } cases[] = {
        {"{\"id2label\": {\"1\": \"b\", \"0\": \"a\"}}", NULL},
        {"{\"id2label\": {\"0\": \"a\", \"2\": \"b\"}}", "not an id in 0..1"},
        {"{\"id2label\": {\"0\": \"a\", \"1\": \"a\"}}", "'a' appears twice"},
        {"{\"id2label\": {\"0\": \"a\", \"01\": \"b\"}}", "not an id"},
        {"{\"id2label\": {\"0\": 5}}", "must be a string"},
        {"{\"label2id\": {\"a\": 0}}", "\"id2label\" is missing"},
        {"{\"id2label\": {\"0\": \"a\", \"1\": \"b\"}, \"label2id\": {\"a\": 1, \"b\": 0}}", "another id"},
        {"{\"id2label\": {\"0\": \"a\", \"1\": \"b\"}, \"label2id\": {\"a\": 0}}", "label2id has 1 entries"},
        {"{\"id2label\": {\"0\": \"a\"}, \"label2id\": {\"a\": 0, \"c\": 1}}", "'c', which id2label lacks"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *obj = cJSON_Parse(cases[i].json);
        ds_err_clear(&err);
        const ds_status s = ds_label_map_from_json(obj, "config.json", &m, &err);
        if (cases[i].phrase == NULL) {
            ds_test_check(t, s == DS_OK && m.count == 2 && strcmp(m.names[0], "a") == 0, "%s: %s", cases[i].json,
                          err.msg);
        } else {
            ds_test_check(t, s == DS_ERR_FORMAT && strstr(err.msg, "config.json") && strstr(err.msg, cases[i].phrase),
                          "%s: status %s, message \"%s\", expected \"%s\"", cases[i].json, ds_status_name(s), err.msg,
                          cases[i].phrase);
        }
        ds_label_map_free(&m);
        cJSON_Delete(obj);
    }
}

// ---- pairs, multi-label, regression --------------------------------------------------------

static void test_pairs(ds_test *t) {
    ds_text_dataset_options o = ds_text_dataset_default_options();
    ds_text_dataset d;
    o.text_field = "sentence1";
    o.text_pair_field = "sentence2";
    if (load(t, "pairs.tsv", &o, &d)) {
        ds_test_check(t, strcmp(ds_text_dataset_text_pair(&d, 2), "She said \"hi\"") == 0, "TSV pair with quotes");
        ds_text_dataset_free(&d);
    }
    o.text_pair_field = "sentence3";
    expect_error(t, "pairs.tsv", &o, DS_ERR_FORMAT, 1, "no text_pair column 'sentence3'");
    o = ds_text_dataset_default_options();
    o.text_field = "premise";
    o.text_pair_field = "hypothesis";
    const char *missing = "{\"premise\": \"a\", \"hypothesis\": \"b\", \"label\": 0}\n"
                          "{\"premise\": \"c\", \"label\": 1}\n{\"premise\": \"d\", \"hypothesis\": null, \"label\": 1}\n";
    ds_err err = {0};
    ds_test_check(t, ds_text_dataset_load_memory(missing, strlen(missing), "p.jsonl", &o, &d, &err) == DS_ERR_FORMAT &&
                         strstr(err.msg, "p.jsonl:2: missing text_pair field 'hypothesis'"),
                  "missing pair: %s", err.msg);
    o.skip_bad_rows = true;
    if (ds_test_check(t, ds_text_dataset_load_memory(missing, strlen(missing), "p.jsonl", &o, &d, &err) == DS_OK, "%s",
                      err.msg)) {
        ds_test_check(t, d.count == 1 && d.skipped == 2 && d.skipped_lines[1] == 3 &&
                             strstr(d.first_skip_reason, "p.jsonl:2:"),
                      "missing pairs skipped: %zu examples, %zu skipped", d.count, d.skipped);
        ds_text_dataset_free(&d);
    }
}

static void test_multi_label(ds_test *t) {
    ds_text_dataset_options o = ds_text_dataset_default_options();
    o.label_field = "labels";
    o.problem_type = DS_PROBLEM_MULTI_LABEL;
    ds_text_dataset d;
    const int32_t *ids;
    if (load(t, "multilabel.csv", &o, &d)) {
        check_names(t, "multi-label classes", &d, "sports,politics,economy");
        ds_test_check(t, ds_text_dataset_label_ids(&d, 0, &ids) == 2 && ids[0] == 0 && ids[1] == 1, "first: {0, 1}");
        ds_test_check(t, ds_text_dataset_label_ids(&d, 3, &ids) == 1 && ids[0] == 2, "economy|economy counts once");
        ds_test_check(t, ds_text_dataset_label(&d, 0) == -1, "label() is single-label only");
        ds_text_dataset_free(&d);
    }
    if (load(t, "multilabel.jsonl", &o, &d)) {
        ds_test_check(t, ds_text_dataset_label_ids(&d, 3, &ids) == 0, "[] is an example without labels");
        ds_text_dataset_free(&d);
    }
    // Another separator; an empty piece is a bad row.
    o.label_separator = ";";
    ds_err err = {0};
    const char *semi = "text,labels\na,x;y\nb,\"x;;y\"\n";
    ds_test_check(t, ds_text_dataset_load_memory(semi, strlen(semi), "m.csv", &o, &d, &err) == DS_ERR_FORMAT &&
                         strstr(err.msg, "m.csv:3: empty label in 'x;;y'"),
                  "empty multi-label piece: %s", err.msg);
    const char *floats = "{\"text\": \"a\", \"labels\": [1, 2.5]}\n";
    ds_err_clear(&err);
    ds_test_check(t, ds_text_dataset_load_memory(floats, strlen(floats), "m.jsonl", &o, &d, &err) == DS_ERR_FORMAT &&
                         strstr(err.msg, "m.jsonl:1: the label field 'labels' is a number with a fraction"),
                  "fractional label: %s", err.msg);
}

static void test_regression(ds_test *t) {
    ds_text_dataset_options o = ds_text_dataset_default_options();
    o.label_field = "score";
    o.problem_type = DS_PROBLEM_REGRESSION;
    ds_text_dataset d;
    if (load(t, "regression.tsv", &o, &d)) {
        ds_test_check(t, d.labels.count == 0 && ds_text_dataset_label(&d, 0) == -1, "regression has no classes");
        ds_text_dataset_free(&d);
    }
    expect_error(t, "bad_float.tsv", &o, DS_ERR_FORMAT, 3, "'abc' is not a number");
    o.skip_bad_rows = true;
    if (load(t, "bad_float.tsv", &o, &d)) {
        ds_test_check(t, d.count == 2 && d.skipped == 2 && d.skipped_lines[0] == 3 && d.skipped_lines[1] == 4,
                      "bad floats skipped: %zu examples, %zu skipped", d.count, d.skipped);
        ds_test_check(t, strstr(d.first_skip_reason, "bad_float.tsv:3:") != NULL, "first reason: %s",
                      d.first_skip_reason);
        ds_text_dataset_free(&d);
    }
    o.skip_bad_rows = false;
    const char *big = "text\tscore\na\t1e39\n";
    ds_err err = {0};
    ds_test_check(t, ds_text_dataset_load_memory(big, strlen(big), "r.tsv", &o, &d, &err) == DS_ERR_FORMAT &&
                         strstr(err.msg, "r.tsv:2: the regression label '1e39' is not a finite float32"),
                  "float32 overflow: %s", err.msg);
    const char *flag = "{\"text\": \"a\", \"score\": true}\n";
    ds_err_clear(&err);
    ds_test_check(t, ds_text_dataset_load_memory(flag, strlen(flag), "r.jsonl", &o, &d, &err) == DS_ERR_FORMAT &&
                         strstr(err.msg, "r.jsonl:1: the label field 'score' is a boolean, expected a number"),
                  "boolean target: %s", err.msg);
}

// ---- bad rows, headers, formats -----------------------------------------------------------------

static void test_bad_rows(ds_test *t) {
    ds_text_dataset_options o = ds_text_dataset_default_options();
    ds_text_dataset d;
    expect_error(t, "bad_rows.csv", &o, DS_ERR_FORMAT, 3, "row has 3 fields, the header 2");
    o.skip_bad_rows = true;
    if (load(t, "bad_rows.csv", &o, &d)) {
        ds_test_check(t, d.count == 3 && d.skipped == 3, "bad_rows.csv: %zu examples, %zu skipped", d.count, d.skipped);
        ds_test_check(t, d.skipped_lines[0] == 3 && d.skipped_lines[1] == 5 && d.skipped_lines[2] == 7,
                      "skipped lines %ld, %ld, %ld; expected 3, 5, 7", d.skipped_lines[0], d.skipped_lines[1],
                      d.skipped_lines[2]);
        ds_test_check(t, ds_text_dataset_line(&d, 2) == 6 && strcmp(ds_text_dataset_text(&d, 2), "ok three") == 0,
                      "the rows around the bad ones are kept");
        char summary[2048];
        ds_text_dataset_skip_summary(&d, summary, sizeof summary);
        ds_test_check(t, strstr(summary, "skipped 3 bad rows (lines 3, 5, 7); the first: ") &&
                             strstr(summary, "bad_rows.csv:3: row has 3 fields"),
                      "summary: %s", summary);
        ds_text_dataset_free(&d);
    }
    o.skip_bad_rows = false;
    expect_error(t, "bad_rows.jsonl", &o, DS_ERR_FORMAT, 2, "invalid JSON");
    o.skip_bad_rows = true;
    if (load(t, "bad_rows.jsonl", &o, &d)) {
        // 2 syntax, 3 array, 4 missing text, 5 empty label, 6 text not a string, 7 trailing text.
        ds_test_check(t, d.count == 2 && d.skipped == 6 && d.skipped_lines[2] == 4 && d.skipped_lines[5] == 7,
                      "bad_rows.jsonl: %zu examples, %zu skipped", d.count, d.skipped);
        ds_test_check(t, ds_text_dataset_line(&d, 1) == 8, "bad_rows.jsonl: the last example is line 8");
        ds_text_dataset_free(&d);
    }
    // Each kind of bad JSONL row on its own: (line, message).
    o.skip_bad_rows = false;
    const char *rows[][2] = {
        {"{\"label\": \"neg\"}\n", "x.jsonl:1: missing text field 'text'"},
        {"\n\n{\"text\": \"a\", \"label\": \"\"}\n", "x.jsonl:3: empty label in field 'label'"},
        {"{\"text\": 5, \"label\": \"pos\"}\n", "x.jsonl:1: the text field 'text' is a number, expected a string"},
        {"{\"text\": \"a\"}\n", "x.jsonl:1: missing label field 'label'"},
        {"{\"text\": \"a\", \"label\": null}\n", "x.jsonl:1: the label field 'label' is null"},
        {"{\"text\": \"a\", \"label\": [\"x\"]}\n", "x.jsonl:1: the label field 'label' is an array"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        ds_err err = {0};
        ds_test_check(t, ds_text_dataset_load_memory(rows[i][0], strlen(rows[i][0]), "x.jsonl", &o, &d, &err) ==
                                 DS_ERR_FORMAT &&
                             strstr(err.msg, rows[i][1]),
                      "message \"%s\", expected \"%s\"", err.msg, rows[i][1]);
    }
    // Syntax errors of the CSV file itself are never skipped, nor is invalid UTF-8.
    o.skip_bad_rows = true;
    expect_error(t, "bad_unterminated.csv", &o, DS_ERR_FORMAT, 3, "never closed");
    expect_error(t, "bad_utf8.csv", &o, DS_ERR_FORMAT, 3, "invalid UTF-8");
    expect_error(t, "bad_utf8.jsonl", &o, DS_ERR_FORMAT, 2, "invalid UTF-8");
}

static void test_headers_and_formats(ds_test *t) {
    ds_text_dataset_options o = ds_text_dataset_default_options();
    ds_text_dataset d;
    ds_err err = {0};
    o.label_field = "category";
    expect_error(t, "sentiment.csv", &o, DS_ERR_FORMAT, 1, "no label column 'category' in the header; the columns are "
                                                           "'text', 'label'");
    // Headerless: columns by index; a name is refused; an index past the row is an error.
    o = ds_text_dataset_default_options();
    o.has_header = false;
    expect_error(t, "headerless.csv", &o, DS_ERR_INVALID_ARG, 0, "must be a 0-based column index");
    o.text_field = "1";
    o.label_field = "2";
    expect_error(t, "headerless.csv", &o, DS_ERR_FORMAT, 1, "the label field is column 2, but the first row has only 2");
    o.label_field = "0";
    if (load(t, "headerless.csv", &o, &d)) {
        check_names(t, "headerless integers", &d, "-1,1");
        ds_text_dataset_free(&d);
    }
    const char *dup = "text,label,text\na,b,c\n";
    o = ds_text_dataset_default_options();
    ds_test_check(t, ds_text_dataset_load_memory(dup, strlen(dup), "dup.csv", &o, &d, &err) == DS_ERR_FORMAT &&
                         strstr(err.msg, "dup.csv:1: the text column 'text' appears twice"),
                  "duplicate column: %s", err.msg);
    ds_err_clear(&err);
    ds_test_check(t, ds_text_dataset_load_memory("", 0, "empty.csv", &o, &d, &err) == DS_ERR_FORMAT &&
                         strstr(err.msg, "empty.csv: the file is empty"),
                  "empty file: %s", err.msg);
    ds_err_clear(&err);
    if (ds_test_check(t, ds_text_dataset_load_memory("text,label\n", 11, "h.csv", &o, &d, &err) == DS_OK, "%s",
                      err.msg)) {
        ds_test_check(t, d.count == 0, "a header alone is an empty dataset");
        ds_text_dataset_free(&d);
    }
    // Quoting off (GLUE-style TSV): quotes are text.
    const char *raw = "text\tlabel\nsay \"hi\tx\n\"open\ty\n";
    o.quoting = false;
    if (ds_test_check(t, ds_text_dataset_load_memory(raw, strlen(raw), "raw.tsv", &o, &d, &err) == DS_OK, "%s",
                      err.msg)) {
        ds_test_check(t, d.count == 2 && strcmp(ds_text_dataset_text(&d, 1), "\"open") == 0, "quotes as text");
        ds_text_dataset_free(&d);
    }
    // Format from the extension (case ignored), or refused.
    const struct {
        const char *name;
        ds_text_format format;
    } ext[] = {{"a.csv", DS_TEXT_FORMAT_CSV},     {"dir.v2/b.TSV", DS_TEXT_FORMAT_TSV},
               {"c.jsonl", DS_TEXT_FORMAT_JSONL}, {"d.Json", DS_TEXT_FORMAT_JSONL},
               {"e.txt", DS_TEXT_FORMAT_AUTO},    {"dir.csv/noext", DS_TEXT_FORMAT_AUTO}};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        ds_text_format f = DS_TEXT_FORMAT_AUTO;
        ds_err_clear(&err);
        const ds_status s = ds_text_format_infer(ext[i].name, &f, &err);
        if (ext[i].format == DS_TEXT_FORMAT_AUTO)
            ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(err.msg, ext[i].name), "%s: should be refused",
                          ext[i].name);
        else
            ds_test_check(t, s == DS_OK && f == ext[i].format, "%s: inferred %s", ext[i].name, ds_text_format_name(f));
    }
    // An explicit format overrides the extension.
    o = ds_text_dataset_default_options();
    o.format = DS_TEXT_FORMAT_TSV;
    const char *tsv = "text\tlabel\na,b\tc\n";
    if (ds_test_check(t, ds_text_dataset_load_memory(tsv, strlen(tsv), "data.txt", &o, &d, &err) == DS_OK, "%s",
                      err.msg)) {
        ds_test_check(t, strcmp(ds_text_dataset_text(&d, 0), "a,b") == 0, "explicit TSV");
        ds_text_dataset_free(&d);
    }
    // Names of the enums round-trip through their parsers.
    ds_problem_type p;
    ds_label_order lo;
    ds_text_format f;
    ds_test_check(t, ds_problem_type_parse("multi_label_classification", &p, &err) == DS_OK &&
                         p == DS_PROBLEM_MULTI_LABEL && strcmp(ds_problem_type_name(p), "multi_label_classification") == 0,
                  "problem type names");
    ds_test_check(t, ds_label_order_parse("first_seen", &lo, &err) == DS_OK && lo == DS_LABEL_ORDER_FIRST_SEEN,
                  "label order names");
    ds_err_clear(&err);
    ds_test_check(t, ds_text_format_parse("xml", &f, &err) == DS_ERR_CONFIG && strstr(err.msg, "'xml'"),
                  "an unknown format name is a config error");
}

int main(void) {
    ds_test t = ds_test_begin("text_dataset");
    cJSON *expected = load_expected(&t);
    if (expected) {
        const char *sep = cJSON_GetObjectItem(expected, "multi_label_separator")->valuestring;
        for (const cJSON *c = cJSON_GetObjectItem(expected, "cases")->child; c; c = c->next) check_case(&t, c, sep);
        cJSON_Delete(expected);
    }
    test_label_mapping(&t);
    test_label_map_json(&t);
    test_pairs(&t);
    test_multi_label(&t);
    test_regression(&t);
    test_bad_rows(&t);
    test_headers_and_formats(&t);
    return ds_test_finish(&t);
}
