#include "text_dataset_options.h"

#include <string.h>
#include <strings.h>

#include "../../runtime/base/check.h"

ds_text_dataset_options ds_text_dataset_default_options(void) {
    return (ds_text_dataset_options){
        .format = DS_TEXT_FORMAT_AUTO,
        .text_field = "text",
        .text_pair_field = NULL,
        .label_field = "label",
        .has_header = true,
        .quoting = true,
        .problem_type = DS_PROBLEM_SINGLE_LABEL,
        .label_separator = "|",
        .label_names = NULL,
        .num_label_names = 0,
        .label_order = DS_LABEL_ORDER_AUTO,
        .skip_bad_rows = false,
        .unlabeled = false,
    };
}

static const char *const k_format_names[] = {"auto", "csv", "tsv", "jsonl", "lines"};
static const char *const k_order_names[] = {"auto", "first_seen", "sorted"};
_Static_assert(sizeof k_format_names / sizeof *k_format_names == DS_TEXT_FORMAT_COUNT, "format names");
_Static_assert(sizeof k_order_names / sizeof *k_order_names == DS_LABEL_ORDER_COUNT, "order names");

const char *ds_text_format_name(ds_text_format f) {
    return (int)f >= 0 && f < DS_TEXT_FORMAT_COUNT ? k_format_names[f] : "?";
}
const char *ds_label_order_name(ds_label_order o) {
    return (int)o >= 0 && o < DS_LABEL_ORDER_COUNT ? k_order_names[o] : "?";
}

// Index of s in names, or -1.
static int lookup(const char *s, const char *const *names, int count) {
    for (int i = 0; s != NULL && i < count; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

ds_status ds_text_format_parse(const char *s, ds_text_format *out, ds_err *err) {
    const int i = lookup(s, k_format_names, DS_TEXT_FORMAT_COUNT);
    DS_REQUIRE(err, i >= 0, DS_ERR_CONFIG, "unknown text data format '%s'; choose auto, csv, tsv, jsonl or lines",
               s ? s : "(null)");
    *out = (ds_text_format)i;
    return DS_OK;
}

ds_status ds_label_order_parse(const char *s, ds_label_order *out, ds_err *err) {
    const int i = lookup(s, k_order_names, DS_LABEL_ORDER_COUNT);
    DS_REQUIRE(err, i >= 0, DS_ERR_CONFIG, "unknown label order '%s'; choose auto, first_seen or sorted",
               s ? s : "(null)");
    *out = (ds_label_order)i;
    return DS_OK;
}

ds_status ds_text_format_infer(const char *path, ds_text_format *out, ds_err *err) {
    static const struct {
        const char *ext;
        ds_text_format format;
    } k_exts[] = {{".csv", DS_TEXT_FORMAT_CSV},
                  {".tsv", DS_TEXT_FORMAT_TSV},
                  {".jsonl", DS_TEXT_FORMAT_JSONL},
                  {".json", DS_TEXT_FORMAT_JSONL}};  // HF datasets' json loader reads JSON Lines too
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    for (size_t i = 0; dot != NULL && (slash == NULL || dot > slash) && i < sizeof k_exts / sizeof *k_exts; i++) {
        if (strcasecmp(dot, k_exts[i].ext) == 0) {
            *out = k_exts[i].format;
            return DS_OK;
        }
    }
    return ds_err_set(err, DS_ERR_INVALID_ARG,
                      "%s: cannot tell the data format from the file name (known: .csv, .tsv, .jsonl, .json); "
                      "set the format to csv, tsv or jsonl",
                      path);
}
