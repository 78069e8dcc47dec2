// The JSON Lines reader against Python's json module: every well-formed fixture in
// tests/fixtures/textdata/ gives the objects (and line numbers) that scripts/fixtures/textdata.py
// wrote with json.loads per line; a bad line fails with its file:line and the reader goes on.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/common/file_read.h"
#include "../../data/common/jsonl.h"
#include "../test_util.h"

static cJSON *load_expected(ds_test *t, const char *rel) {
    char path[512];
    char *text = NULL;
    size_t size = 0;
    ds_err err = {0};
    if (!ds_test_check(t, ds_read_whole_file(ds_test_fixture(rel, path, sizeof path), &text, &size, &err) == DS_OK,
                       "%s", err.msg))
        return NULL;
    cJSON *json = cJSON_Parse(text);
    free(text);
    ds_test_check(t, json != NULL, "%s: not JSON (regenerate with scripts/make_fixtures.py textdata)", rel);
    return json;
}

static void check_fixture(ds_test *t, const char *name) {
    char rel[256], path[512];
    snprintf(rel, sizeof rel, "textdata/%s.expected.json", name);
    cJSON *expected = load_expected(t, rel);
    if (expected == NULL) return;
    snprintf(rel, sizeof rel, "textdata/%s", name);
    ds_jsonl_reader r;
    ds_err err = {0};
    if (!ds_test_check(t, ds_jsonl_open_file(&r, ds_test_fixture(rel, path, sizeof path), &err) == DS_OK, "%s: %s",
                       name, err.msg)) {
        cJSON_Delete(expected);
        return;
    }
    const cJSON *records = cJSON_GetObjectItem(expected, "records");
    const cJSON *want = records->child;
    int n = 0;
    for (;;) {
        const cJSON *obj = NULL;
        long line = 0;
        int got = 0;
        if (!ds_test_check(t, ds_jsonl_next(&r, &obj, &line, &got, &err) == DS_OK, "%s: %s", name, err.msg)) break;
        if (!got) break;
        n++;
        if (!ds_test_check(t, want != NULL, "%s: object %d (line %ld) beyond Python's", name, n, line)) break;
        const long want_line = (long)cJSON_GetObjectItem(want, "line")->valuedouble;
        ds_test_check(t, line == want_line, "%s: object %d on line %ld, Python says %ld", name, n, line, want_line);
        char *got_text = cJSON_PrintUnformatted(obj);
        // cJSON_Compare: same keys and values; numbers equal within DBL_EPSILON (both sides
        // parsed the same decimal text, so they are the same double).
        ds_test_check(t, cJSON_Compare(obj, cJSON_GetObjectItem(want, "object"), 1), "%s: line %ld is %s", name, line,
                      got_text);
        free(got_text);
        want = want->next;
    }
    ds_test_check(t, want == NULL, "%s: %d objects, Python has %d", name, n, cJSON_GetArraySize(records));
    ds_jsonl_close(&r);
    cJSON_Delete(expected);
}

int main(void) {
    ds_test t = ds_test_begin("jsonl");
    const char *fixtures[] = {"sentiment.jsonl", "pairs.jsonl", "multilabel.jsonl", "regression.jsonl"};
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) check_fixture(&t, fixtures[i]);

    // bad_rows.jsonl: lines 2 (syntax), 3 (an array) and 7 (text after the object) are not JSON
    // objects; the others are objects (whatever their fields), and reading goes on past errors.
    char path[512];
    ds_test_fixture("textdata/bad_rows.jsonl", path, sizeof path);
    const struct {
        long line;
        const char *phrase;  // NULL: an object
    } expect[] = {{1, NULL}, {2, "invalid JSON near byte column 29"}, {3, "expected a JSON object, found an array"},
                  {4, NULL}, {5, NULL}, {6, NULL}, {7, "text after the JSON value"}, {8, NULL}};
    ds_jsonl_reader r;
    ds_err err = {0};
    if (ds_test_check(&t, ds_jsonl_open_file(&r, path, &err) == DS_OK, "%s", err.msg)) {
        size_t k = 0;
        for (;; k++) {
            const cJSON *obj = NULL;
            long line = 0;
            int got = 0;
            ds_err_clear(&err);
            const ds_status s = ds_jsonl_next(&r, &obj, &line, &got, &err);
            if (s == DS_OK && !got) break;
            if (!ds_test_check(&t, k < sizeof expect / sizeof *expect, "bad_rows.jsonl: more lines than expected"))
                break;
            ds_test_check(&t, line == expect[k].line, "bad_rows.jsonl: entry %zu on line %ld, expected %ld", k, line,
                          expect[k].line);
            char where[600];
            snprintf(where, sizeof where, "%s:%ld:", path, expect[k].line);
            if (expect[k].phrase == NULL)
                ds_test_check(&t, s == DS_OK && obj != NULL, "bad_rows.jsonl:%ld: %s", line, err.msg);
            else
                ds_test_check(&t, s == DS_ERR_FORMAT && strstr(err.msg, where) && strstr(err.msg, expect[k].phrase),
                              "bad_rows.jsonl:%ld: message \"%s\", expected \"%s\" ... \"%s\"", line, err.msg, where,
                              expect[k].phrase);
        }
        ds_test_check(&t, k == sizeof expect / sizeof *expect, "bad_rows.jsonl: %zu entries read, expected 8", k);
        ds_jsonl_close(&r);
    }

    // Invalid UTF-8 is refused at open, naming the line (as Python's decoder refuses the file).
    ds_err_clear(&err);
    ds_test_fixture("textdata/bad_utf8.jsonl", path, sizeof path);
    const ds_status s = ds_jsonl_open_file(&r, path, &err);
    ds_test_check(&t, s == DS_ERR_FORMAT && strstr(err.msg, "bad_utf8.jsonl:2: invalid UTF-8 (byte 0xC0"),
                  "bad_utf8.jsonl: status %s, message \"%s\"", ds_status_name(s), err.msg);
    if (s == DS_OK) ds_jsonl_close(&r);

    // A whole-file JSON array gets a hint instead of a bare syntax error.
    const char *array = "[{\"text\": \"a\",\n \"label\": 1}]\n";
    ds_err_clear(&err);
    if (ds_test_check(&t, ds_jsonl_open_memory(&r, array, strlen(array), "data.json", &err) == DS_OK, "%s", err.msg)) {
        const cJSON *obj;
        long line;
        int got;
        const ds_status a = ds_jsonl_next(&r, &obj, &line, &got, &err);
        ds_test_check(&t, a == DS_ERR_FORMAT && strstr(err.msg, "data.json:1:") && strstr(err.msg, "one JSON array"),
                      "array file: %s", err.msg);
        ds_jsonl_close(&r);
    }
    return ds_test_finish(&t);
}
