// Manifest rows from CSV/TSV (a header row names the columns) and JSON Lines (one object per line).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/csv.h"
#include "../common/jsonl.h"
#include "speech_dataset_internal.h"

#define NO_COLUMN ((size_t)-1)

static size_t column_of(const ds_csv_record *h, const char *name) {
    for (size_t i = 0; i < h->count; i++)
        if (strcmp(h->fields[i], name) == 0) return i;
    return NO_COLUMN;
}

static ds_status require_column(const ds_csv_record *h, const char *name, const char *what, const char *source,
                                size_t *col, ds_err *err) {
    *col = column_of(h, name);
    if (*col != NO_COLUMN) return DS_OK;
    char names[512];
    size_t used = 0;
    names[0] = '\0';
    for (size_t i = 0; i < h->count && used + 1 < sizeof names; i++) {
        const int n = snprintf(names + used, sizeof names - used, "%s'%s'", i ? ", " : "", h->fields[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    return ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: no %s column '%s' in the header; the columns are %s", source,
                      h->line, what, name, names);
}

ds_status ds_speech_manifest_read_csv(ds_speech_dataset *d, const ds_speech_dataset_options *opt, bool tsv,
                                      ds_err *err) {
    ds_csv_reader r;
    const ds_csv_options o = tsv ? ds_csv_options_tsv() : ds_csv_options_csv();
    DS_TRY(ds_csv_open_file(&r, d->source, &o, err));
    ds_csv_record rec;
    int got = 0;
    size_t audio = NO_COLUMN, text = NO_COLUMN, fields = 0;
    ds_status s = ds_csv_next(&r, &rec, &got, err);
    if (s == DS_OK && !got) s = ds_err_set(err, DS_ERR_FORMAT, "%s: empty manifest (no header row)", d->source);
    if (s == DS_OK) s = require_column(&rec, opt->audio_column, "audio", d->source, &audio, err);
    if (s == DS_OK && opt->text_column) s = require_column(&rec, opt->text_column, "text", d->source, &text, err);
    fields = s == DS_OK ? rec.count : 0;
    while (s == DS_OK) {
        s = ds_csv_next(&r, &rec, &got, err);
        if (s != DS_OK || !got) break;
        if (rec.count != fields) {
            s = ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: row has %zu fields, the header %zu", d->source, rec.line,
                           rec.count, fields);
            break;
        }
        s = ds_speech_dataset_add_row(d, rec.line, rec.fields[audio], text == NO_COLUMN ? NULL : rec.fields[text],
                                      text == NO_COLUMN ? 0 : rec.lengths[text], err);
    }
    ds_csv_close(&r);
    return s;
}

ds_status ds_speech_manifest_read_jsonl(ds_speech_dataset *d, const ds_speech_dataset_options *opt, ds_err *err) {
    ds_jsonl_reader r;
    DS_TRY(ds_jsonl_open_file(&r, d->source, err));
    ds_status s = DS_OK;
    for (;;) {
        const cJSON *obj = NULL;
        long line = 0;
        int got = 0;
        s = ds_jsonl_next(&r, &obj, &line, &got, err);
        if (s != DS_OK || !got) break;
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, opt->audio_column);
        if (cJSON_IsObject(a)) a = cJSON_GetObjectItemCaseSensitive(a, "path");  // {"path": ...} as HF's Audio
        if (!cJSON_IsString(a)) {
            s = ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: \"%s\" must be an audio path (a string, or an object with "
                           "\"path\"), got %s", d->source, line, opt->audio_column,
                           a ? ds_json_type_name(a) : "nothing");
            break;
        }
        const char *text = NULL;
        if (opt->text_column) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, opt->text_column);
            if (!cJSON_IsString(t)) {
                s = ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: the transcript \"%s\" must be a string, got %s", d->source,
                               line, opt->text_column, t ? ds_json_type_name(t) : "nothing");
                break;
            }
            text = t->valuestring;
        }
        s = ds_speech_dataset_add_row(d, line, a->valuestring, text, text ? strlen(text) : 0, err);
        if (s != DS_OK) break;
    }
    ds_jsonl_close(&r);
    return s;
}
