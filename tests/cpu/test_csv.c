// The CSV/TSV reader against Python's csv module: every well-formed fixture in
// tests/fixtures/textdata/ parses to the records (fields and start lines) that
// scripts/fixtures/textdata.py wrote with csv.reader; small in-memory cases pin the edge rules;
// every malformed fixture fails with DS_ERR_FORMAT naming file and line.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/common/csv.h"
#include "../../data/common/file_read.h"
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

// Reads every record of the reader and compares with the expected records array.
static void compare_records(ds_test *t, const char *what, ds_csv_reader *r, const cJSON *records) {
    ds_err err = {0};
    ds_csv_record rec;
    int got = 0;
    size_t n = 0;
    const cJSON *want = records ? records->child : NULL;
    for (;;) {
        if (!ds_test_check(t, ds_csv_next(r, &rec, &got, &err) == DS_OK, "%s: %s", what, err.msg)) return;
        if (!got) break;
        n++;
        if (!ds_test_check(t, want != NULL, "%s: record %zu (line %ld) beyond Python's", what, n, rec.line)) return;
        const cJSON *fields = cJSON_GetObjectItem(want, "fields");
        const long line = (long)cJSON_GetObjectItem(want, "line")->valuedouble;
        ds_test_check(t, rec.line == line, "%s: record %zu starts on line %ld, Python says %ld", what, n, rec.line, line);
        const size_t count = (size_t)cJSON_GetArraySize(fields);
        if (!ds_test_check(t, rec.count == count, "%s: record %zu has %zu fields, Python %zu", what, n, rec.count,
                           count))
            return;
        size_t i = 0;
        for (const cJSON *f = fields->child; f; f = f->next, i++) {
            const size_t len = strlen(f->valuestring);
            ds_test_check(t, rec.lengths[i] == len && memcmp(rec.fields[i], f->valuestring, len) == 0 &&
                                 rec.fields[i][len] == '\0',
                          "%s: record %zu field %zu is '%s', Python '%s'", what, n, i, rec.fields[i], f->valuestring);
        }
        want = want->next;
    }
    ds_test_check(t, want == NULL, "%s: %zu records, Python has %d", what, n, cJSON_GetArraySize(records));
}

static void check_fixture(ds_test *t, const char *name) {
    char rel[256], path[512];
    snprintf(rel, sizeof rel, "textdata/%s.expected.json", name);
    cJSON *expected = load_expected(t, rel);
    if (expected == NULL) return;
    const char *delim = cJSON_GetObjectItem(expected, "delimiter")->valuestring;
    const ds_csv_options opt = delim[0] == '\t' ? ds_csv_options_tsv() : ds_csv_options_csv();
    snprintf(rel, sizeof rel, "textdata/%s", name);
    ds_csv_reader r;
    ds_err err = {0};
    if (ds_test_check(t, ds_csv_open_file(&r, ds_test_fixture(rel, path, sizeof path), &opt, &err) == DS_OK, "%s: %s",
                      name, err.msg)) {
        compare_records(t, name, &r, cJSON_GetObjectItem(expected, "records"));
        ds_csv_close(&r);
    }
    cJSON_Delete(expected);
}

// Parses an in-memory input; the expected records are written as "[f1|f2][f1]" (each record
// in brackets, '|' between fields), their start lines in `lines`.
static void check_memory(ds_test *t, const char *what, const char *input, ds_csv_options opt,
                         const char *want, const long *lines) {
    ds_csv_reader r;
    ds_err err = {0};
    if (!ds_test_check(t, ds_csv_open_memory(&r, input, strlen(input), what, &opt, &err) == DS_OK, "%s: %s", what, err.msg))
        return;
    char got_text[512] = "";
    ds_csv_record rec;
    int got = 0, n = 0;
    while (ds_csv_next(&r, &rec, &got, &err) == DS_OK && got) {
        strcat(got_text, "[");
        for (size_t i = 0; i < rec.count; i++) {
            if (i) strcat(got_text, "|");
            strncat(got_text, rec.fields[i], sizeof got_text - strlen(got_text) - 2);
        }
        strcat(got_text, "]");
        ds_test_check(t, lines == NULL || rec.line == lines[n], "%s: record %d on line %ld, expected %ld", what, n,
                      rec.line, lines ? lines[n] : 0);
        n++;
    }
    ds_test_check(t, err.status == DS_OK, "%s: %s", what, err.msg);
    ds_test_check(t, strcmp(got_text, want) == 0, "%s: got \"%s\", expected \"%s\"", what, got_text, want);
    ds_csv_close(&r);
}

// A malformed input: records before the bad one read fine, then DS_ERR_FORMAT whose message
// holds "<name>:<line>:" and `phrase`.
static void check_malformed(ds_test *t, const char *name, char delimiter, int good_records, long line,
                            const char *phrase) {
    char rel[256], path[512], where[600];
    snprintf(rel, sizeof rel, "textdata/%s", name);
    ds_test_fixture(rel, path, sizeof path);
    ds_csv_options opt = ds_csv_options_csv();
    opt.delimiter = delimiter;
    ds_csv_reader r;
    ds_err err = {0};
    ds_status s = ds_csv_open_file(&r, path, &opt, &err);
    int records = 0;
    ds_csv_record rec;
    int got = 1;
    while (s == DS_OK && got) {
        s = ds_csv_next(&r, &rec, &got, &err);
        if (s == DS_OK && got) records++;
    }
    ds_csv_close(&r);
    snprintf(where, sizeof where, "%s:%ld:", path, line);
    ds_test_check(t, s == DS_ERR_FORMAT, "%s: status %s, expected a format error", name, ds_status_name(s));
    ds_test_check(t, records == good_records, "%s: %d records before the error, expected %d", name, records,
                  good_records);
    ds_test_check(t, strstr(err.msg, where) != NULL && strstr(err.msg, phrase) != NULL,
                  "%s: message \"%s\" should hold \"%s\" and \"%s\"", name, err.msg, where, phrase);
}

int main(void) {
    ds_test t = ds_test_begin("csv");
    const char *fixtures[] = {"sentiment.csv", "mixed_newlines.csv", "headerless.csv",
                              "multilabel.csv", "pairs.tsv", "regression.tsv"};
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) check_fixture(&t, fixtures[i]);

    const ds_csv_options csv = ds_csv_options_csv(), tsv = ds_csv_options_tsv();
    ds_csv_options raw_tsv = tsv;
    raw_tsv.quote = 0;
    const long l12[] = {1, 2}, l13[] = {1, 3}, l1[] = {1};
    check_memory(&t, "no final line end", "a,b\nc,d", csv, "[a|b][c|d]", l12);
    check_memory(&t, "lone CR ends records", "a\rb\r", csv, "[a][b]", l12);
    check_memory(&t, "blank lines skipped", "\r\n\na\r\n\r\nb", csv, "[a][b]", (const long[]){3, 5});
    check_memory(&t, "empty quoted field", "\"\"\n", csv, "[]", l1);
    check_memory(&t, "empty fields", ",\n,,x\n", csv, "[|][||x]", l12);
    check_memory(&t, "quoted newline counts a line", "\"a\nb\",c\nd\n", csv, "[a\nb|c][d]", l13);
    check_memory(&t, "doubled quotes", "\"say \"\"hi\"\"\",\"\"\"\"\n", csv, "[say \"hi\"|\"]", l1);
    check_memory(&t, "BOM skipped", "\xEF\xBB\xBFx,y\n", csv, "[x|y]", l1);
    check_memory(&t, "BOM alone", "\xEF\xBB\xBF", csv, "", NULL);
    check_memory(&t, "empty input", "", csv, "", NULL);
    check_memory(&t, "TSV honours quotes", "\"a\tb\"\tc\n", tsv, "[a\tb|c]", l1);
    check_memory(&t, "TSV keeps commas", "a,b\tc\n", tsv, "[a,b|c]", l1);
    check_memory(&t, "TSV without quoting", "say \"hi\tthere\"\tx\n", raw_tsv, "[say \"hi|there\"|x]", l1);
    check_memory(&t, "4-byte UTF-8", "\xF0\x9F\x99\x82,\xE6\x97\xA5\n", csv, "[\xF0\x9F\x99\x82|\xE6\x97\xA5]", l1);

    // Inputs the reader refuses.
    const struct {
        const char *what, *input;
        size_t size;
        long line;
        const char *phrase;
    } bad[] = {
        {"overlong NUL", "ok\n\xC0\x80\n", 5, 2, "invalid UTF-8"},
        {"surrogate", "a,\xED\xA0\x80\n", 6, 1, "invalid UTF-8"},
        {"above U+10FFFF", "\n\n\xF4\x90\x80\x80", 7, 3, "invalid UTF-8"},
        {"truncated sequence", "x,\xE6\x97", 4, 1, "invalid UTF-8"},
        {"NUL byte", "a\0b\n", 4, 1, "NUL byte"},
        {"CRLF line count", "a\r\nb\r\n\"c", 8, 3, "never closed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ds_csv_reader r;
        ds_err err = {0};
        ds_status s = ds_csv_open_memory(&r, bad[i].input, bad[i].size, "mem.csv", &csv, &err);
        ds_csv_record rec;
        int got = 1;
        while (s == DS_OK && got) s = ds_csv_next(&r, &rec, &got, &err);
        ds_csv_close(&r);
        char where[64];
        snprintf(where, sizeof where, "mem.csv:%ld:", bad[i].line);
        ds_test_check(&t, s == DS_ERR_FORMAT && strstr(err.msg, where) && strstr(err.msg, bad[i].phrase),
                      "%s: status %s, message \"%s\"; expected \"%s\" ... \"%s\"", bad[i].what, ds_status_name(s),
                      err.msg, where, bad[i].phrase);
    }
    ds_csv_reader r;
    ds_err err = {0};
    ds_csv_options same = {.delimiter = '"', .quote = '"'};
    ds_test_check(&t, ds_csv_open_memory(&r, "a", 1, "x", &same, &err) == DS_ERR_INVALID_ARG,
                  "a delimiter equal to the quote must be refused");

    // Malformed fixture files: (good records first, line of the error, words of the message).
    check_malformed(&t, "bad_unterminated.csv", ',', 2, 3, "never closed");
    check_malformed(&t, "bad_unterminated.tsv", '\t', 3, 4, "never closed");
    check_malformed(&t, "bad_quote_in_field.csv", ',', 3, 4, "quote inside an unquoted field");
    check_malformed(&t, "bad_after_quote.csv", ',', 1, 2, "after the closing quote");
    check_malformed(&t, "bad_after_quote.tsv", '\t', 1, 3, "after the closing quote");  // the field began on line 2
    check_malformed(&t, "bad_utf8.csv", ',', 0, 3, "invalid UTF-8 (byte 0xFF");
    return ds_test_finish(&t);
}
