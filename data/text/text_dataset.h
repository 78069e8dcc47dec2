// A text-classification dataset loaded whole from one CSV, TSV or JSON Lines file: per example a
// text, an optional second text (sentence pairs), and a label: one class id, a set of class ids
// (multi-label) or a float (regression), plus the line of the file it came from.
//
// Labels are strings as the file spells them (a JSON integer 3 is the label "3"), mapped to class
// ids 0..K-1 by an explicit list (options.label_names) or discovered (options.label_order). The
// training set's mapping must be saved with the model (ds_label_map_to_json gives HF's
// config.json "id2label"/"label2id") and passed as the explicit list for dev, test and predict
// data: a mapping discovered from another file can number the classes differently.
//
// A bad row (wrong field count, missing field, a text that is not a string, an empty label, an
// unknown label when the list is explicit, a bad or non-finite float, a JSONL line that is not
// one JSON object) is an error "<file>:<line>: ..." -- or, with skip_bad_rows, is skipped and
// counted. Broken CSV quoting and invalid UTF-8 are always errors: after them the rows that
// follow cannot be trusted.
//
// Unlabelled data (options.unlabeled, for prediction): the label field is not read at all, every
// example has label_count 0 and value 0; the same files load (their label column ignored), as do
// files without one, and plain text (DS_TEXT_FORMAT_LINES).
#ifndef DS_TEXT_DATASET_H
#define DS_TEXT_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "../common/label_map.h"
#include "text_dataset_options.h"

#define DS_TEXT_NO_PAIR SIZE_MAX       // ds_text_example.text_pair when the example has none
#define DS_TEXT_SKIPPED_LINES_KEPT 8   // line numbers of the first skipped rows kept for the report

typedef struct ds_text_example {
    size_t text;           // offset of the text in the dataset's pool
    size_t text_pair;      // offset of the second text in the pool, or DS_TEXT_NO_PAIR
    size_t labels;         // index of the first class id in the dataset's label_ids
    uint32_t label_count;  // single-label: 1; multi-label: 0 or more (distinct); regression: 0
    float value;           // regression target (float32, as HF casts it); 0 otherwise
    long line;             // physical line of the file where the example starts (1-based)
} ds_text_example;

typedef struct ds_text_dataset {
    char *source;                  // file path (or the name given to load_memory), owned
    ds_problem_type problem_type;
    bool has_labels;               // false when loaded with options.unlabeled: no example has a label
    size_t count;                  // examples
    ds_text_example *examples;     // (count) host
    char *pool;                    // (pool_len) every text, NUL-terminated UTF-8, host
    size_t pool_len;
    // Class ids of all examples back to back, host. Single-label: exactly one per example, so
    // label_ids[i] is example i's class (the `labels` ds_split_make's stratified mode takes).
    int32_t *label_ids;            // (label_ids_len)
    size_t label_ids_len;
    ds_label_map labels;           // K classes; empty for regression
    // Rows skipped under skip_bad_rows: how many, the lines of the first few, and the first
    // reason ("train.csv:7: row has 3 fields, the header 2 ...").
    size_t skipped;
    long skipped_lines[DS_TEXT_SKIPPED_LINES_KEPT];
    char first_skip_reason[1024];
    size_t examples_cap, pool_cap, label_ids_cap;  // growth bookkeeping while loading
} ds_text_dataset;

// Loads the file at path. On failure *out is left empty (safe to free) and err names the file,
// the line and what is wrong.
ds_status ds_text_dataset_load(const char *path, const ds_text_dataset_options *opt, ds_text_dataset *out,
                               ds_err *err);

// The same over data[0, size) (host); `name` stands for the path in messages and, with format
// AUTO, gives the extension.
ds_status ds_text_dataset_load_memory(const char *data, size_t size, const char *name,
                                      const ds_text_dataset_options *opt, ds_text_dataset *out, ds_err *err);

void ds_text_dataset_free(ds_text_dataset *d);

// Accessors; i < count.
const char *ds_text_dataset_text(const ds_text_dataset *d, size_t i);
const char *ds_text_dataset_text_pair(const ds_text_dataset *d, size_t i);  // NULL when none
// Single-label: the class id; -1 for the other problem types and for unlabelled data.
int32_t ds_text_dataset_label(const ds_text_dataset *d, size_t i);
// The class ids of example i ((return value) of them at *ids); 0 for regression.
size_t ds_text_dataset_label_ids(const ds_text_dataset *d, size_t i, const int32_t **ids);
// Regression target; 0 for classification.
float ds_text_dataset_value(const ds_text_dataset *d, size_t i);
long ds_text_dataset_line(const ds_text_dataset *d, size_t i);

// One line for the log about skipped rows, e.g. "train.csv: skipped 3 bad rows (lines 3, 5, 7);
// the first: train.csv:3: ..."; an empty string when none was skipped. Returns buf.
const char *ds_text_dataset_skip_summary(const ds_text_dataset *d, char *buf, size_t cap);

#endif
