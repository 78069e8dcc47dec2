#include "run_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../base/check.h"
#include "../io/fs.h"

// A file written through a memory stream, then atomically.
static ds_status write_text(const char *dir, const char *name, const char *text, size_t len, ds_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/%s", dir, name);
    return ds_write_file_atomic(path, text, len, err);
}

ds_status ds_run_files_write_config(const ds_config *cfg, const char *dir, ds_err *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    DS_REQUIRE(err, f != NULL, DS_ERR_OOM, "config.json: out of memory");
    ds_config_print(cfg, f);
    fclose(f);
    const ds_status st = text ? write_text(dir, "config.json", text, len, err)
                              : ds_err_set(err, DS_ERR_OOM, "config.json: out of memory");
    free(text);
    return st;
}

static ds_status write_eval(const char *dir, const char *split, const ds_eval_result *r, ds_err *err) {
    cJSON *root = r->details ? cJSON_Parse(r->details) : cJSON_CreateObject();
    if (root && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = NULL;
    }
    DS_REQUIRE(err, root != NULL, DS_ERR_INTERNAL, "eval_%s.json: the family's details are not a JSON object", split);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "split", split);
    cJSON_AddNumberToObject(out, "examples", (double)r->examples);
    cJSON_AddItemToObject(out, "loss", r->loss == r->loss ? cJSON_CreateNumber(r->loss) : cJSON_CreateNull());
    cJSON *metrics = cJSON_AddObjectToObject(out, "metrics");
    for (int i = 0; i < r->count; i++)
        cJSON_AddItemToObject(metrics, r->values[i].name,
                              r->values[i].value == r->values[i].value ? cJSON_CreateNumber(r->values[i].value)
                                                                       : cJSON_CreateNull());
    while (root->child) {  // the family's members after the common ones
        cJSON *item = cJSON_DetachItemViaPointer(root, root->child);
        cJSON_AddItemToObject(out, item->string, item);
    }
    cJSON_Delete(root);
    char *text = cJSON_Print(out);
    cJSON_Delete(out);
    DS_REQUIRE(err, text != NULL, DS_ERR_OOM, "eval_%s.json: out of memory", split);
    char name[64];
    snprintf(name, sizeof name, "eval_%s.json", split);
    const ds_status st = write_text(dir, name, text, strlen(text), err);
    free(text);
    return st;
}

ds_status ds_run_files_write_end(ds_context *ctx, ds_task *t, const char *dir, const ds_eval_result *dev,
                                 const ds_eval_result *test, size_t batch, ds_arena *arena) {
    ds_err *err = &ctx->err;
    if (dev) DS_TRY(write_eval(dir, "dev", dev, err));
    if (test) DS_TRY(write_eval(dir, "test", test, err));
    const ds_task_family *f = t->family;
    if (!f->write_samples || (!dev && !test)) return DS_OK;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    DS_REQUIRE(err, mem != NULL, DS_ERR_OOM, "samples.jsonl: out of memory");
    ds_status st = f->write_samples(ctx, t, test ? DS_DATA_TEST : DS_DATA_DEV, batch, arena, mem);
    fclose(mem);
    if (st == DS_OK) st = text ? write_text(dir, "samples.jsonl", text, len, err)
                               : ds_err_set(err, DS_ERR_OOM, "samples.jsonl: out of memory");
    free(text);
    return st;
}
