// Internal to the text dataset (text_dataset*.c): the builder the format readers feed rows into.
// A reader turns each record into a ds_text_raw_row; the builder checks the label, maps it to
// class ids, and copies the strings into the dataset.
#ifndef DS_TEXT_DATASET_BUILD_H
#define DS_TEXT_DATASET_BUILD_H

#include <cjson/cJSON.h>

#include "text_dataset.h"

typedef struct ds_text_raw_row {
    long line;
    const char *text;   // (text_len) bytes, NUL-terminated
    size_t text_len;
    const char *pair;   // (pair_len) bytes, NUL-terminated; NULL when the task has no pair
    size_t pair_len;
    // The label: a cell of text (CSV/TSV, or a JSON string) or a JSON value (JSONL); neither
    // with options.unlabeled.
    const char *label_text;  // NUL-terminated; NULL when label_json is set
    size_t label_len;
    const cJSON *label_json;
} ds_text_raw_row;

typedef struct ds_text_builder {
    ds_text_dataset *d;
    const ds_text_dataset_options *opt;
    bool labels_fixed;         // an explicit label list was given
    // The current row's label tokens, pointing into the row or into `numbers`.
    const char **tokens;       // (token_cap)
    size_t *token_lens;        // (token_cap)
    size_t token_cap;
    char *numbers;             // (numbers_cap) integers of JSON labels printed as text
    size_t numbers_cap;
} ds_text_builder;

// Checks and appends one row. A bad row goes through ds_text_bad_row.
ds_status ds_text_builder_add(ds_text_builder *b, const ds_text_raw_row *row, ds_err *err);

// A bad row at `line`: with skip_bad_rows, counts it and returns DS_OK (the caller goes on to
// the next row); otherwise fails with DS_ERR_FORMAT and "<source>:<line>: <message>".
ds_status ds_text_bad_row(ds_text_builder *b, long line, ds_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// The same for a message that already names file and line (from a reader's ds_err).
ds_status ds_text_bad_row_msg(ds_text_builder *b, long line, const char *msg, ds_err *err);

// The row's label: for regression the float in *value; for classification the class names in
// b->tokens[0, *n_tokens) (not yet deduplicated or mapped). *bad = 1 when the row was bad (and,
// with skip_bad_rows, skipped: DS_OK is returned then).
ds_status ds_text_row_label(ds_text_builder *b, const ds_text_raw_row *row, size_t *n_tokens, float *value, int *bad,
                            ds_err *err);

// After the last row: puts discovered class ids in the order options.label_order asks for.
ds_status ds_text_labels_finish(ds_text_builder *b, ds_err *err);

// Row readers: every record of the file into the builder.
ds_status ds_text_read_csv(ds_text_builder *b, const char *data, size_t size, ds_err *err);
ds_status ds_text_read_jsonl(ds_text_builder *b, const char *data, size_t size, ds_err *err);
ds_status ds_text_read_lines(ds_text_builder *b, const char *data, size_t size, ds_err *err);

#endif
