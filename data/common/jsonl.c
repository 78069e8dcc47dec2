#include "jsonl.h"

#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "file_read.h"
#include "utf8_check.h"

ds_status ds_jsonl_open_memory(ds_jsonl_reader *r, const char *data, size_t size, const char *name, ds_err *err) {
    memset(r, 0, sizeof *r);
    if (name == NULL) name = "<memory>";
    DS_TRY(ds_utf8_check(data, size, name, err));
    r->name = strdup(name);
    if (r->name == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", name);
    r->data = data;
    r->size = size;
    r->pos = ds_utf8_bom_length(data, size);
    r->line = 1;
    return DS_OK;
}

ds_status ds_jsonl_open_file(ds_jsonl_reader *r, const char *path, ds_err *err) {
    memset(r, 0, sizeof *r);
    char *data = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &data, &size, err));
    const ds_status s = ds_jsonl_open_memory(r, data, size, path, err);
    if (s != DS_OK) {
        free(data);
        return s;
    }
    r->owned = data;
    return DS_OK;
}

void ds_jsonl_close(ds_jsonl_reader *r) {
    cJSON_Delete(r->current);
    free(r->name);
    free(r->owned);
    memset(r, 0, sizeof *r);
}

const char *ds_json_type_name(const cJSON *v) {
    if (v == NULL) return "missing";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

// JSON's insignificant whitespace (RFC 8259): space, tab, LF, CR.
static int is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

ds_status ds_jsonl_next(ds_jsonl_reader *r, const cJSON **obj, long *line, int *got, ds_err *err) {
    *got = 0;
    *obj = NULL;
    cJSON_Delete(r->current);
    r->current = NULL;
    for (;;) {
        if (r->pos >= r->size) return DS_OK;
        const char *begin = r->data + r->pos;
        const char *nl = memchr(begin, '\n', r->size - r->pos);
        const size_t len = nl ? (size_t)(nl - begin) : r->size - r->pos;
        const long this_line = r->line;
        r->pos += len + (nl ? 1 : 0);
        r->line++;
        size_t first = 0;
        while (first < len && is_json_space(begin[first])) first++;
        if (first == len) continue;  // blank line
        *line = this_line;
        const char *end = NULL;
        cJSON *v = cJSON_ParseWithLengthOpts(begin, len, &end, 0);
        if (v == NULL) {
            const size_t column = end ? (size_t)(end - begin) + 1 : 1;
            if (this_line == 1 && begin[first] == '[')
                return ds_err_set(err, DS_ERR_FORMAT,
                                  "%s:%ld: not JSON Lines: the file looks like one JSON array; write one "
                                  "object per line instead",
                                  r->name, this_line);
            return ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: invalid JSON near byte column %zu", r->name, this_line,
                              column);
        }
        size_t rest = (size_t)(end - begin);
        while (rest < len && is_json_space(begin[rest])) rest++;
        if (rest < len) {
            cJSON_Delete(v);
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s:%ld: text after the JSON value at byte column %zu; JSON Lines holds one "
                              "object per line",
                              r->name, this_line, rest + 1);
        }
        if (!cJSON_IsObject(v)) {
            const char *type = ds_json_type_name(v);
            cJSON_Delete(v);
            return ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: expected a JSON object, found %s", r->name, this_line,
                              type);
        }
        r->current = v;
        *obj = v;
        *got = 1;
        return DS_OK;
    }
}
