// The text dataset's unlabelled mode (options.unlabeled, for prediction) and the plain-text lines
// format: the label field is never read, so files with, without or with broken labels load the
// same texts; examples carry no labels for every problem type; lines split at the first TAB,
// line ends as Python's universal newlines, empty lines skipped; and the default (labelled)
// behaviour is unchanged: a file without its label column still fails.
#include <stdio.h>
#include <string.h>

#include "../../data/text/text_dataset.h"
#include "../test_util.h"

// Loads text[] (named `name`, which gives the format) with o; records a failed check on error.
static bool load(ds_test *t, const char *text, const char *name, const ds_text_dataset_options *o,
                 ds_text_dataset *d) {
    ds_err err = {0};
    return ds_test_check(t, ds_text_dataset_load_memory(text, strlen(text), name, o, d, &err) == DS_OK, "%s: %s", name,
                         err.msg);
}

// Loading fails with `status` and a message holding `phrase`.
static void expect_error(ds_test *t, const char *text, const char *name, const ds_text_dataset_options *o,
                         ds_status status, const char *phrase) {
    ds_err err = {0};
    ds_text_dataset d;
    const ds_status s = ds_text_dataset_load_memory(text, strlen(text), name, o, &d, &err);
    ds_test_check(t, s == status && strstr(err.msg, phrase), "%s: status %s, message \"%s\"; expected %s with \"%s\"",
                  name, ds_status_name(s), err.msg, ds_status_name(status), phrase);
    ds_text_dataset_free(&d);
}

// d holds exactly the texts (and pairs, "" meaning none) given, with their lines, and no labels.
static void expect_unlabeled(ds_test *t, const char *what, const ds_text_dataset *d, size_t n, const char *const *texts,
                             const char *const *pairs, const long *lines) {
    if (!ds_test_check(t, d->count == n, "%s: %zu examples, expected %zu", what, d->count, n)) return;
    ds_test_check(t, !d->has_labels && d->label_ids_len == 0, "%s: no labels (has_labels %d, %zu class ids)", what,
                  (int)d->has_labels, d->label_ids_len);
    for (size_t i = 0; i < n; i++) {
        const char *pair = ds_text_dataset_text_pair(d, i);
        const int32_t *ids = NULL;
        ds_test_check(t, strcmp(ds_text_dataset_text(d, i), texts[i]) == 0, "%s: text %zu is '%s', expected '%s'", what,
                      i, ds_text_dataset_text(d, i), texts[i]);
        if (pairs)
            ds_test_check(t, pairs[i][0] ? pair && strcmp(pair, pairs[i]) == 0 : pair == NULL,
                          "%s: pair %zu is '%s', expected '%s'", what, i, pair ? pair : "(none)", pairs[i]);
        if (lines)
            ds_test_check(t, ds_text_dataset_line(d, i) == lines[i], "%s: example %zu on line %ld, expected %ld", what,
                          i, ds_text_dataset_line(d, i), lines[i]);
        ds_test_check(t, ds_text_dataset_label(d, i) == -1 && ds_text_dataset_label_ids(d, i, &ids) == 0 &&
                             ds_text_dataset_value(d, i) == 0.0f,
                      "%s: example %zu has a label", what, i);
    }
}

static void test_default_unchanged(ds_test *t) {
    ds_text_dataset_options o = ds_text_dataset_default_options();
    ds_test_check(t, !o.unlabeled, "labels are required by default");
    expect_error(t, "text\nhello\n", "nolabel.csv", &o, DS_ERR_FORMAT, "no label column 'label'");
    ds_text_dataset d;
    if (load(t, "text,label\nhello,pos\n", "labelled.csv", &o, &d)) {
        ds_test_check(t, d.has_labels && ds_text_dataset_label(&d, 0) == 0, "a labelled load has labels");
        ds_text_dataset_free(&d);
    }
}

static void test_csv_and_tsv(ds_test *t) {
    ds_text_dataset_options o = ds_text_dataset_default_options();
    o.unlabeled = true;
    ds_text_dataset d;
    const char *texts[] = {"a fine film", "dull, long", "ok"};
    const long lines[] = {2, 3, 5};
    // The label column is ignored, even with empty or unknown labels in it.
    const char *labelled = "text,label\na fine film,pos\n\"dull, long\",\n\nok,whatever\n";
    o.label_names = (const char *const[]){"neg", "pos"};
    o.num_label_names = 2;
    if (load(t, labelled, "labelled.csv", &o, &d)) {
        expect_unlabeled(t, "labelled csv", &d, 3, texts, NULL, lines);
        ds_test_check(t, d.labels.count == 2 && strcmp(d.labels.names[1], "pos") == 0,
                      "the explicit label list still names the classes");
        ds_text_dataset_free(&d);
    }
    o.label_names = NULL;
    o.num_label_names = 0;
    // No label column at all; label_field names a column that does not exist.
    o.label_field = "missing";
    if (load(t, "text\na fine film\n\"dull, long\"\n\nok\n", "nolabel.csv", &o, &d)) {
        expect_unlabeled(t, "csv without labels", &d, 3, texts, NULL, lines);
        ds_test_check(t, d.labels.count == 0, "no classes discovered");
        ds_text_dataset_free(&d);
    }
    // Headerless: the label field need not be a column index.
    o.has_header = false;
    o.text_field = "1";
    o.label_field = "label";
    const char *no_header = "x,a fine film\ny,\"dull, long\"\n";
    if (load(t, no_header, "noheader.csv", &o, &d)) {
        expect_unlabeled(t, "headerless", &d, 2, texts, NULL, (const long[]){1, 2});
        ds_text_dataset_free(&d);
    }
    // Pairs in TSV; a short row is still a bad row.
    o = ds_text_dataset_default_options();
    o.unlabeled = true;
    o.text_field = "premise";
    o.text_pair_field = "hypothesis";
    if (load(t, "premise\thypothesis\na\tb\nc\td\n", "pairs.tsv", &o, &d)) {
        expect_unlabeled(t, "pairs", &d, 2, (const char *[]){"a", "c"}, (const char *[]){"b", "d"}, NULL);
        ds_text_dataset_free(&d);
    }
    expect_error(t, "premise\thypothesis\na\n", "short.tsv", &o, DS_ERR_FORMAT, "short.tsv:2: row has 1 field");
    o.skip_bad_rows = true;
    if (load(t, "premise\thypothesis\na\nc\td\n", "short.tsv", &o, &d)) {
        ds_test_check(t, d.count == 1 && d.skipped == 1, "bad rows are still skipped and counted");
        ds_text_dataset_free(&d);
    }
}

static void test_jsonl_and_problem_types(ds_test *t) {
    ds_text_dataset_options o = ds_text_dataset_default_options();
    o.unlabeled = true;
    ds_text_dataset d;
    // Missing label, a label of a wrong type, a label list: none of it is read.
    const char *jsonl = "{\"text\": \"one\"}\n{\"text\": \"two\", \"label\": {\"x\": 1}}\n"
                        "{\"text\": \"three\", \"label\": [\"a\", \"b\"]}\n";
    const char *texts[] = {"one", "two", "three"};
    for (int p = 0; p < DS_PROBLEM_COUNT; p++) {
        o.problem_type = (ds_problem_type)p;
        char what[80];
        snprintf(what, sizeof what, "jsonl, %s", ds_problem_type_name(o.problem_type));
        if (load(t, jsonl, "x.jsonl", &o, &d)) {
            expect_unlabeled(t, what, &d, 3, texts, NULL, (const long[]){1, 2, 3});
            ds_test_check(t, d.problem_type == o.problem_type, "%s: problem type kept", what);
            ds_text_dataset_free(&d);
        }
    }
    // The text itself is still checked.
    o.problem_type = DS_PROBLEM_SINGLE_LABEL;
    expect_error(t, "{\"text\": 3}\n", "x.jsonl", &o, DS_ERR_FORMAT, "x.jsonl:1: the text field 'text' is a number");
    // An empty label field name is fine when it is never read.
    o.label_field = "";
    if (load(t, jsonl, "x.jsonl", &o, &d)) ds_text_dataset_free(&d);
    o.unlabeled = false;
    expect_error(t, jsonl, "x.jsonl", &o, DS_ERR_INVALID_ARG, "no label field given");
}

static void test_lines(ds_test *t) {
    ds_text_dataset_options o = ds_text_dataset_default_options();
    o.format = DS_TEXT_FORMAT_LINES;
    o.unlabeled = true;
    ds_text_dataset d;
    // BOM, LF, CRLF, a lone CR, an empty line, a pair, a second TAB kept in the pair, no final end.
    const char *text = "\xEF\xBB\xBF" "first line\nsecond\tits pair\r\n\r\n third \rfourth\ta\tb\n\nlast";
    const char *texts[] = {"first line", "second", " third ", "fourth", "last"};
    const char *pairs[] = {"", "its pair", "", "a\tb", ""};
    const long lines[] = {1, 2, 4, 5, 7};
    if (load(t, text, "input", &o, &d)) {
        expect_unlabeled(t, "lines", &d, 5, texts, pairs, lines);
        ds_text_dataset_free(&d);
    }
    if (load(t, "", "empty", &o, &d)) {
        ds_test_check(t, d.count == 0, "an empty input is an empty dataset");
        ds_text_dataset_free(&d);
    }
    if (load(t, "\n\r\n\n", "blank", &o, &d)) {
        ds_test_check(t, d.count == 0, "blank lines are no examples");
        ds_text_dataset_free(&d);
    }
    expect_error(t, "ok\nbad \xC3(\n", "bad.txt", &o, DS_ERR_FORMAT, "bad.txt:2:");
    // The format is chosen, never inferred from .txt, and needs the unlabelled mode.
    o.unlabeled = false;
    expect_error(t, "a\n", "a.txt", &o, DS_ERR_INVALID_ARG, "plain-text lines carry no labels");
    ds_text_format f = DS_TEXT_FORMAT_AUTO;
    ds_err err = {0};
    ds_test_check(t, ds_text_format_parse("lines", &f, &err) == DS_OK && f == DS_TEXT_FORMAT_LINES &&
                         strcmp(ds_text_format_name(f), "lines") == 0,
                  "the lines format's name round-trips");
    ds_test_check(t, ds_text_format_infer("a.txt", &f, &err) == DS_ERR_INVALID_ARG, ".txt is not inferred");
}

int main(void) {
    ds_test t = ds_test_begin("text_dataset_unlabeled");
    test_default_unchanged(&t);
    test_csv_and_tsv(&t);
    test_jsonl_and_problem_types(&t);
    test_lines(&t);
    return ds_test_finish(&t);
}
