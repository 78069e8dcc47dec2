// JSON Lines rows into the text dataset: fields are keys of each line's object.
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/jsonl.h"
#include "text_dataset_build.h"

// The string under key `name`, or a bad-row message saying what was there instead.
static ds_status string_field(ds_text_builder *b, const cJSON *obj, long line, const char *name, const char *what,
                              const char **out, size_t *len, int *bad, ds_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (cJSON_IsString(v) && v->valuestring != NULL) {
        *out = v->valuestring;
        *len = strlen(v->valuestring);
        return DS_OK;
    }
    *bad = 1;
    if (v == NULL) return ds_text_bad_row(b, line, err, "missing %s field '%s'", what, name);
    return ds_text_bad_row(b, line, err, "the %s field '%s' is %s, expected a string", what, name,
                           ds_json_type_name(v));
}

static ds_status add_object(ds_text_builder *b, const cJSON *obj, long line, ds_err *err) {
    const ds_text_dataset_options *o = b->opt;
    ds_text_raw_row row = {.line = line};
    int bad = 0;
    DS_TRY(string_field(b, obj, line, o->text_field, "text", &row.text, &row.text_len, &bad, err));
    if (bad) return DS_OK;  // skipped
    if (o->text_pair_field) {
        DS_TRY(string_field(b, obj, line, o->text_pair_field, "text_pair", &row.pair, &row.pair_len, &bad, err));
        if (bad) return DS_OK;
    }
    if (o->unlabeled) return ds_text_builder_add(b, &row, err);
    row.label_json = cJSON_GetObjectItemCaseSensitive(obj, o->label_field);
    if (row.label_json == NULL) return ds_text_bad_row(b, line, err, "missing label field '%s'", o->label_field);
    return ds_text_builder_add(b, &row, err);
}

ds_status ds_text_read_jsonl(ds_text_builder *b, const char *data, size_t size, ds_err *err) {
    ds_jsonl_reader r;
    DS_TRY(ds_jsonl_open_memory(&r, data, size, b->d->source, err));
    ds_status s = DS_OK;
    while (s == DS_OK) {
        const cJSON *obj = NULL;
        long line = 0;
        int got = 0;
        ds_err line_err = {0};
        s = ds_jsonl_next(&r, &obj, &line, &got, &line_err);
        if (s == DS_ERR_FORMAT) {  // this line alone is bad: it may be skipped
            s = ds_text_bad_row_msg(b, line, line_err.msg, err);
            continue;
        }
        if (s != DS_OK) {
            ds_err_set(err, s, "%s", line_err.msg);
            break;
        }
        if (!got) break;
        s = add_object(b, obj, line, err);
    }
    ds_jsonl_close(&r);
    return s;
}
