// List files of (image, mask) pairs: CSV/TSV (data/common/csv.h) or JSON Lines (jsonl.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/csv.h"
#include "../common/jsonl.h"
#include "seg_dataset_internal.h"

#define NO_COLUMN ((size_t)-1)

static int ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

// Resolves both paths against the list file's folder and adds the pair.
static ds_status add_pair(ds_seg_builder *b, const char *list_path, long line, const char *image, const char *mask,
                          const char *id, ds_err *err) {
    DS_REQUIRE(err, image[0] != '\0' && mask[0] != '\0', DS_ERR_FORMAT, "%s:%ld: empty %s path", list_path, line,
               image[0] == '\0' ? "image" : "mask");
    char *ip = ds_seg_resolve_path(list_path, image), *mp = ds_seg_resolve_path(list_path, mask);
    char where[700];
    snprintf(where, sizeof where, "%s:%ld", list_path, line);
    const ds_status st = ip && mp ? ds_seg_builder_add(b, ip, mp, id, where, err)
                                  : ds_err_set(err, DS_ERR_OOM, "%s: out of memory", list_path);
    free(ip);
    free(mp);
    return st;
}

static ds_status column_of(const ds_csv_record *header, const char *name, const char *what, const char *path,
                           size_t *col, ds_err *err) {
    *col = NO_COLUMN;
    for (size_t i = 0; i < header->count; i++)
        if (strcmp(header->fields[i], name) == 0) {
            DS_REQUIRE(err, *col == NO_COLUMN, DS_ERR_FORMAT, "%s:%ld: the %s column '%s' appears twice in the header",
                       path, header->line, what, name);
            *col = i;
        }
    DS_REQUIRE(err, *col != NO_COLUMN, DS_ERR_FORMAT,
               "%s:%ld: no %s column '%s' in the header (a file without a header row needs has_header = false: "
               "then column 0 is the image and column 1 the mask)",
               path, header->line, what, name);
    return DS_OK;
}

static ds_status read_csv(ds_seg_builder *b, const char *path, const ds_csv_options *copt, ds_err *err) {
    ds_csv_reader r;
    DS_TRY(ds_csv_open_file(&r, path, copt, err));
    ds_status st = DS_OK;
    size_t ci = 0, cm = 1, fields = 0;
    int first = 1;
    for (;;) {
        ds_csv_record rec;
        int got = 0;
        if ((st = ds_csv_next(&r, &rec, &got, err)) != DS_OK || !got) break;
        if (first) {
            first = 0;
            fields = rec.count;
            if (b->o->has_header) {
                if ((st = column_of(&rec, b->o->image_field, "image", path, &ci, err)) != DS_OK) break;
                if ((st = column_of(&rec, b->o->mask_field, "mask", path, &cm, err)) != DS_OK) break;
                continue;
            }
            if (rec.count < 2) {
                st = ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: a row needs an image and a mask path, this has %zu field",
                                path, rec.line, rec.count);
                break;
            }
        }
        if (rec.count != fields) {
            st = ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: row has %zu fields, the first row %zu", path, rec.line,
                            rec.count, fields);
            break;
        }
        if ((st = add_pair(b, path, rec.line, rec.fields[ci], rec.fields[cm], NULL, err)) != DS_OK) break;
    }
    ds_csv_close(&r);
    return st;
}

static ds_status string_field(const cJSON *obj, const char *key, const char *path, long line, const char **out,
                              ds_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    DS_REQUIRE(err, cJSON_IsString(v), DS_ERR_FORMAT, "%s:%ld: \"%s\" must be a string path, it is %s", path, line, key,
               v ? ds_json_type_name(v) : "missing");
    *out = v->valuestring;
    return DS_OK;
}

static ds_status read_jsonl(ds_seg_builder *b, const char *path, ds_err *err) {
    ds_jsonl_reader r;
    DS_TRY(ds_jsonl_open_file(&r, path, err));
    ds_status st = DS_OK;
    for (;;) {
        const cJSON *obj = NULL;
        long line = 0;
        int got = 0;
        if ((st = ds_jsonl_next(&r, &obj, &line, &got, err)) != DS_OK || !got) break;
        const char *image = NULL, *mask = NULL;
        if ((st = string_field(obj, b->o->image_field, path, line, &image, err)) != DS_OK) break;
        if ((st = string_field(obj, b->o->mask_field, path, line, &mask, err)) != DS_OK) break;
        if ((st = add_pair(b, path, line, image, mask, NULL, err)) != DS_OK) break;
    }
    ds_jsonl_close(&r);
    return st;
}

ds_status ds_seg_dataset_open_list(const char *path, const ds_seg_dataset_options *o, ds_seg_dataset *d,
                                   ds_err *err) {
    ds_seg_builder b;
    ds_status st = ds_seg_builder_begin(&b, d, o, path, err);
    if (st == DS_OK) {
        if (ends_with(path, ".csv")) {
            const ds_csv_options c = ds_csv_options_csv();
            st = read_csv(&b, path, &c, err);
        } else if (ends_with(path, ".tsv")) {
            const ds_csv_options c = ds_csv_options_tsv();
            st = read_csv(&b, path, &c, err);
        } else if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson")) {
            st = read_jsonl(&b, path, err);
        } else {
            st = ds_err_set(err, DS_ERR_INVALID_ARG,
                            "%s: a list of image/mask pairs must be .csv, .tsv or .jsonl (the extension says which)",
                            path);
        }
    }
    if (st == DS_OK && d->count == 0) st = ds_err_set(err, DS_ERR_FORMAT, "%s: no image/mask pairs in the file", path);
    if (st != DS_OK) ds_seg_dataset_free(d);
    return st;
}
