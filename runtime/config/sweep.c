#include "sweep.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../data/common/file_read.h"
#include "../base/check.h"

void ds_sweep_point_free(ds_sweep_point *p) {
    for (int i = 0; i < p->nsets; i++) free(p->sets[i]);
    free(p->sets);
    free(p->json);
    memset(p, 0, sizeof *p);
}

// "key=value" for a JSON scalar, as --set would be typed.
static ds_status set_text(const char *path, const char *key, const cJSON *v, char **out, ds_err *err) {
    char value[512];
    if (cJSON_IsNumber(v)) snprintf(value, sizeof value, "%.17g", v->valuedouble);
    else if (cJSON_IsBool(v)) snprintf(value, sizeof value, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsString(v) && v->valuestring) snprintf(value, sizeof value, "%s", v->valuestring);
    else return ds_err_set(err, DS_ERR_CONFIG, "%s: the value of '%s' must be a number, a string or a boolean", path, key);
    const size_t n = strlen(key) + strlen(value) + 2;
    *out = malloc(n);
    DS_REQUIRE(err, *out != NULL, DS_ERR_OOM, "%s: out of memory", path);
    snprintf(*out, n, "%s=%s", key, value);
    return DS_OK;
}

// Adds key=value to p (and to the values object).
static ds_status add(ds_sweep_point *p, const char *path, const char *key, const cJSON *v, cJSON *values, ds_err *err) {
    DS_TRY(set_text(path, key, v, &p->sets[p->nsets], err));
    p->nsets++;
    cJSON_AddItemToObject(values, key, cJSON_Duplicate(v, true));
    return DS_OK;
}

static ds_status load(const cJSON *root, const char *path, int index, ds_sweep_point *p, cJSON *values, ds_err *err) {
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(root, "grid");
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
    DS_REQUIRE(err, cJSON_IsObject(root) && (cJSON_IsObject(grid) != cJSON_IsArray(runs)), DS_ERR_CONFIG,
               "%s: a sweep file is {\"grid\": {key: [values]}} or {\"runs\": [{key: value}, ...]}", path);
    if (cJSON_IsArray(runs)) {
        p->count = cJSON_GetArraySize(runs);
        DS_REQUIRE(err, p->count > 0, DS_ERR_CONFIG, "%s: \"runs\" is empty", path);
        DS_REQUIRE(err, index >= 0 && index < p->count, DS_ERR_CONFIG,
                   "%s: sweep index %d is out of range: the file lists %d runs (0..%d)", path, index, p->count,
                   p->count - 1);
        const cJSON *point = cJSON_GetArrayItem(runs, index);
        DS_REQUIRE(err, cJSON_IsObject(point), DS_ERR_CONFIG, "%s: run %d is not an object of key: value", path, index);
        p->sets = calloc((size_t)cJSON_GetArraySize(point) + 1, sizeof *p->sets);
        DS_REQUIRE(err, p->sets != NULL, DS_ERR_OOM, "%s: out of memory", path);
        const cJSON *v;
        cJSON_ArrayForEach(v, point) DS_TRY(add(p, path, v->string, v, values, err));
        return DS_OK;
    }
    // The grid: the count is the product of the list lengths; the last key varies fastest.
    const int keys = cJSON_GetArraySize(grid);
    DS_REQUIRE(err, keys > 0, DS_ERR_CONFIG, "%s: \"grid\" is empty", path);
    long long count = 1;
    const cJSON *v;
    cJSON_ArrayForEach(v, grid) {
        DS_REQUIRE(err, cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0, DS_ERR_CONFIG,
                   "%s: grid key '%s' needs a non-empty list of values", path, v->string);
        count *= cJSON_GetArraySize(v);
        DS_REQUIRE(err, count <= 1000000, DS_ERR_CONFIG, "%s: more than a million grid points", path);
    }
    p->count = (int)count;
    DS_REQUIRE(err, index >= 0 && index < p->count, DS_ERR_CONFIG,
               "%s: sweep index %d is out of range: the grid has %d points (0..%d)", path, index, p->count, p->count - 1);
    p->sets = calloc((size_t)keys + 1, sizeof *p->sets);
    DS_REQUIRE(err, p->sets != NULL, DS_ERR_OOM, "%s: out of memory", path);
    int stride = p->count;
    cJSON_ArrayForEach(v, grid) {
        const int n = cJSON_GetArraySize(v);
        stride /= n;
        DS_TRY(add(p, path, v->string, cJSON_GetArrayItem(v, (index / stride) % n), values, err));
    }
    return DS_OK;
}

ds_status ds_sweep_point_load(const char *path, int index, ds_sweep_point *p, ds_err *err) {
    memset(p, 0, sizeof *p);
    char *text = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &text, &size, err));
    cJSON *root = cJSON_Parse(text);
    free(text);
    DS_REQUIRE(err, root != NULL, DS_ERR_CONFIG, "%s: not valid JSON", path);
    cJSON *doc = cJSON_CreateObject(), *values = cJSON_CreateObject();
    ds_status st = doc && values ? load(root, path, index, p, values, err) : ds_err_set(err, DS_ERR_OOM, "out of memory");
    if (st == DS_OK) {
        p->index = index;
        cJSON_AddNumberToObject(doc, "index", index);
        cJSON_AddNumberToObject(doc, "count", p->count);
        cJSON_AddItemToObject(doc, "values", values);
        values = NULL;
        p->json = cJSON_PrintUnformatted(doc);
        if (!p->json) st = ds_err_set(err, DS_ERR_OOM, "out of memory");
    }
    cJSON_Delete(values);
    cJSON_Delete(doc);
    cJSON_Delete(root);
    if (st != DS_OK) ds_sweep_point_free(p);
    return st;
}
