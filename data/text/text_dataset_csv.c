// CSV/TSV rows into the text dataset: columns by header name, or by 0-based index when the file
// has no header; every record must have as many fields as the header (or the first record).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/csv.h"
#include "text_dataset_build.h"

#define NO_COLUMN ((size_t)-1)

// Lists the header's names into buf for a message ("text, label, id").
static const char *header_list(const ds_csv_record *h, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < h->count && used + 1 < cap; i++) {
        const int n = snprintf(buf + used, cap - used, "%s'%s'", i ? ", " : "", h->fields[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    return buf;
}

// The column of field `name` in the header record.
static ds_status column_by_name(const ds_csv_record *header, const char *name, const char *what, const char *source,
                                size_t *column, ds_err *err) {
    *column = NO_COLUMN;
    for (size_t i = 0; i < header->count; i++) {
        if (strcmp(header->fields[i], name) != 0) continue;
        DS_REQUIRE(err, *column == NO_COLUMN, DS_ERR_FORMAT,
                   "%s:%ld: the %s column '%s' appears twice in the header (columns %zu and %zu)", source,
                   header->line, what, name, *column, i);
        *column = i;
    }
    if (*column != NO_COLUMN) return DS_OK;
    char names[400];
    return ds_err_set(err, DS_ERR_FORMAT,
                      "%s:%ld: no %s column '%s' in the header; the columns are %s (a file without a header "
                      "row needs has_header = false and columns named by index, \"0\", \"1\", ...)",
                      source, header->line, what, name, header_list(header, names, sizeof names));
}

// The column `name` gives as a 0-based index ("0", "2") in a headerless file of `count` fields.
static ds_status column_by_index(const char *name, const char *what, const char *source, long first_line,
                                 size_t count, size_t *column, ds_err *err) {
    char *end = NULL;
    errno = 0;
    const unsigned long long v = name[0] >= '0' && name[0] <= '9' ? strtoull(name, &end, 10) : 0;
    DS_REQUIRE(err, end != NULL && *end == '\0' && errno == 0, DS_ERR_INVALID_ARG,
               "%s: the file has no header (has_header = false), so the %s field must be a 0-based column index "
               "such as \"0\"; got '%s'",
               source, what, name);
    DS_REQUIRE(err, v < count, DS_ERR_FORMAT, "%s:%ld: the %s field is column %llu, but the first row has only %zu",
               source, first_line, what, v, count);
    *column = (size_t)v;
    return DS_OK;
}

typedef struct columns {
    size_t text, pair, label;  // pair: NO_COLUMN when the task has no second text; label: when unlabeled
    size_t expected_fields;
} columns;

static ds_status resolve_columns(const ds_text_builder *b, const ds_csv_record *first, columns *c, ds_err *err) {
    const ds_text_dataset_options *o = b->opt;
    const char *src = b->d->source;
    c->expected_fields = first->count;
    c->pair = c->label = NO_COLUMN;  // label: none read with options.unlabeled
    if (o->has_header) {
        DS_TRY(column_by_name(first, o->text_field, "text", src, &c->text, err));
        if (!o->unlabeled) DS_TRY(column_by_name(first, o->label_field, "label", src, &c->label, err));
        if (o->text_pair_field) DS_TRY(column_by_name(first, o->text_pair_field, "text_pair", src, &c->pair, err));
    } else {
        DS_TRY(column_by_index(o->text_field, "text", src, first->line, first->count, &c->text, err));
        if (!o->unlabeled)
            DS_TRY(column_by_index(o->label_field, "label", src, first->line, first->count, &c->label, err));
        if (o->text_pair_field)
            DS_TRY(column_by_index(o->text_pair_field, "text_pair", src, first->line, first->count, &c->pair, err));
    }
    return DS_OK;
}

static ds_status add_record(ds_text_builder *b, const columns *c, const ds_csv_record *rec, ds_err *err) {
    if (rec->count > c->expected_fields)
        return ds_text_bad_row(b, rec->line, err,
                               "row has %zu fields, the %s %zu (a %s inside a text that is not quoted?)", rec->count,
                               b->opt->has_header ? "header" : "first row", c->expected_fields,
                               b->opt->format == DS_TEXT_FORMAT_TSV ? "tab" : "comma");
    if (rec->count < c->expected_fields)
        return ds_text_bad_row(b, rec->line, err, "row has %zu field%s, the %s %zu (a field is missing)", rec->count,
                               rec->count == 1 ? "" : "s", b->opt->has_header ? "header" : "first row",
                               c->expected_fields);
    ds_text_raw_row row = {
        .line = rec->line,
        .text = rec->fields[c->text],
        .text_len = rec->lengths[c->text],
    };
    if (c->label != NO_COLUMN) {
        row.label_text = rec->fields[c->label];
        row.label_len = rec->lengths[c->label];
    }
    if (c->pair != NO_COLUMN) {
        row.pair = rec->fields[c->pair];
        row.pair_len = rec->lengths[c->pair];
    }
    return ds_text_builder_add(b, &row, err);
}

ds_status ds_text_read_csv(ds_text_builder *b, const char *data, size_t size, ds_err *err) {
    ds_csv_options copt = b->opt->format == DS_TEXT_FORMAT_TSV ? ds_csv_options_tsv() : ds_csv_options_csv();
    if (!b->opt->quoting) copt.quote = 0;
    ds_csv_reader r;
    DS_TRY(ds_csv_open_memory(&r, data, size, b->d->source, &copt, err));
    ds_csv_record rec;
    int got = 0;
    columns c;
    ds_status s = ds_csv_next(&r, &rec, &got, err);
    if (s == DS_OK && !got) {  // an empty file
        if (b->opt->has_header)
            s = ds_err_set(err, DS_ERR_FORMAT, "%s: the file is empty; expected a header row", b->d->source);
        ds_csv_close(&r);
        return s;
    }
    if (s == DS_OK) s = resolve_columns(b, &rec, &c, err);
    if (s == DS_OK && !b->opt->has_header) s = add_record(b, &c, &rec, err);
    while (s == DS_OK) {
        s = ds_csv_next(&r, &rec, &got, err);
        if (s != DS_OK || !got) break;
        s = add_record(b, &c, &rec, err);
    }
    ds_csv_close(&r);
    return s;
}
