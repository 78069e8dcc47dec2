// How a text-classification dataset file is read: format, which fields hold the text(s) and the
// label, what kind of label it is, and what to do with bad rows. Every field has a default
// (ds_text_dataset_default_options); the config key table maps onto these one to one.
#ifndef DS_TEXT_DATASET_OPTIONS_H
#define DS_TEXT_DATASET_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/base/problem_type.h"
#include "../../runtime/base/status.h"

typedef enum ds_text_format {
    DS_TEXT_FORMAT_AUTO = 0,  // from the file's extension: .csv, .tsv, .jsonl or .json (case ignored)
    DS_TEXT_FORMAT_CSV,       // comma-separated, RFC 4180 quoting (data/common/csv.h)
    DS_TEXT_FORMAT_TSV,       // tab-separated, quotes honoured unless quoting = false (data/common/csv.h)
    DS_TEXT_FORMAT_JSONL,     // one JSON object per line (data/common/jsonl.h); .json files are read as this
    // Plain text, one example per line (a TAB separates the two texts of a pair; empty lines are
    // skipped), no labels: only with `unlabeled`. Never inferred from an extension: prediction
    // picks it for .txt files and stdin.
    DS_TEXT_FORMAT_LINES,
    DS_TEXT_FORMAT_COUNT
} ds_text_format;


// Class ids for labels discovered in the data (no explicit list given).
typedef enum ds_label_order {
    // Default. When every label is an integer ("0", "1", "-1", "10"), ids follow numeric order,
    // so 0/1 labels keep their meaning whichever comes first in the file (binary F1's positive
    // class is id 1, as in HF's run_glue, which sorts labels); otherwise ids follow the order
    // of first appearance.
    DS_LABEL_ORDER_AUTO = 0,
    DS_LABEL_ORDER_FIRST_SEEN,  // ids in order of first appearance, whatever the labels
    DS_LABEL_ORDER_SORTED,      // numeric order when all labels are integers, else byte order (run_glue)
    DS_LABEL_ORDER_COUNT
} ds_label_order;

typedef struct ds_text_dataset_options {
    ds_text_format format;        // default AUTO (from the extension)
    // Field names: JSON keys, or CSV/TSV header names. In a headerless CSV/TSV, a field is its
    // 0-based column index written as a string ("0", "1", ...).
    const char *text_field;       // default "text"
    const char *text_pair_field;  // default NULL: single-text task; else every row needs it
    const char *label_field;      // default "label"
    bool has_header;              // default true: the first CSV/TSV record names the columns
    bool quoting;                 // default true: '"' quotes fields in CSV and TSV (false: literal)
    ds_problem_type problem_type; // default single_label_classification
    const char *label_separator;  // default "|": between the labels of one multi-label cell ("a|b");
                                  // a JSONL row may instead give a JSON array of labels
    // Explicit label list: names[i] gets id i and any other label is a bad row. Give the
    // training set's list (saved with the model) when loading dev/test data. NULL: discover.
    const char *const *label_names;  // (num_label_names)
    int32_t num_label_names;
    ds_label_order label_order;   // default AUTO; used only when labels are discovered
    bool skip_bad_rows;           // default false: a bad row is an error naming file and line;
                                  // true: bad rows are skipped and counted (see ds_text_dataset)
    // Default false: every row needs a label. true (prediction): the label field is never read,
    // so the file may lack it (or hold anything there); the examples have no labels
    // (ds_text_dataset.has_labels false), and label_names, when given, only names the classes.
    bool unlabeled;
} ds_text_dataset_options;

ds_text_dataset_options ds_text_dataset_default_options(void);

// Names as configs spell them, and their parsers (DS_ERR_CONFIG listing the choices).
const char *ds_text_format_name(ds_text_format f);           // "auto", "csv", "tsv", "jsonl", "lines"
const char *ds_label_order_name(ds_label_order o);           // "auto", "first_seen", "sorted"
ds_status ds_text_format_parse(const char *s, ds_text_format *out, ds_err *err);
ds_status ds_label_order_parse(const char *s, ds_label_order *out, ds_err *err);

// The format of `path` by its extension; DS_ERR_INVALID_ARG naming the path when unknown.
ds_status ds_text_format_infer(const char *path, ds_text_format *out, ds_err *err);

#endif
