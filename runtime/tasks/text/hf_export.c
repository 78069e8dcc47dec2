#include "hf_export.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../data/common/file_read.h"
#include "../../base/check.h"
#include "../../io/fs.h"
#include "../../io/safetensors.h"

static void set_item(cJSON *obj, const char *key, cJSON *value) {
    if (cJSON_HasObjectItem(obj, key))
        cJSON_ReplaceItemInObject(obj, key, value);
    else
        cJSON_AddItemToObject(obj, key, value);
}

static ds_status write_config(const ds_bert_model *m, const ds_label_map *labels, const char *source_dir,
                              const char *out_dir, ds_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", source_dir);
    char *text = NULL;
    size_t len = 0;
    DS_TRY(ds_read_whole_file(path, &text, &len, err));
    cJSON *cfg = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cfg || !cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return ds_err_set(err, DS_ERR_FORMAT, "%s: not a JSON object", path);
    }
    cJSON *arch = cJSON_CreateArray();
    cJSON_AddItemToArray(arch, cJSON_CreateString("BertForSequenceClassification"));
    set_item(cfg, "architectures", arch);
    set_item(cfg, "problem_type", cJSON_CreateString(ds_problem_type_name(m->cfg.problem_type)));
    set_item(cfg, "num_labels", cJSON_CreateNumber((double)m->cfg.num_labels));
    cJSON *id2label = cJSON_CreateObject(), *label2id = cJSON_CreateObject();
    for (int64_t i = 0; i < m->cfg.num_labels; i++) {
        char id[32], fallback[48];
        snprintf(id, sizeof id, "%lld", (long long)i);
        snprintf(fallback, sizeof fallback, "LABEL_%lld", (long long)i);
        const char *name = labels && i < labels->count ? labels->names[i] : fallback;
        cJSON_AddItemToObject(id2label, id, cJSON_CreateString(name));
        cJSON_AddItemToObject(label2id, name, cJSON_CreateNumber((double)i));
    }
    set_item(cfg, "id2label", id2label);
    set_item(cfg, "label2id", label2id);
    char *out = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    if (!out) return ds_err_set(err, DS_ERR_OOM, "config.json: out of memory");
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    const ds_status st = ds_write_file_atomic(path, out, strlen(out), err);
    free(out);
    return st;
}

ds_status ds_hf_export(const ds_bert_model *m, const ds_label_map *labels, const char *source_dir, const char *out_dir,
                       ds_err *err) {
    DS_TRY(ds_mkdirs(out_dir, err));
    DS_TRY(write_config(m, labels, source_dir, out_dir, err));

    const ds_param_block *pb = &m->params;
    ds_st_entry *entries = calloc((size_t)pb->count, sizeof *entries);
    if (!entries) return ds_err_set(err, DS_ERR_OOM, "export: out of memory");
    for (int i = 0; i < pb->count; i++) {
        entries[i].name = pb->specs[i].name;
        entries[i].tensor = ds_param_block_param(pb, i);
    }
    const ds_st_meta meta = {.key = "format", .value = "pt"};  // what transformers' save_pretrained writes
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    ds_status st = ds_st_write(path, entries, pb->count, &meta, 1, err);
    free(entries);
    DS_TRY(st);

    static const char *const tokenizer_files[] = {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"};
    for (size_t i = 0; i < sizeof tokenizer_files / sizeof tokenizer_files[0]; i++) {
        char src[4096];
        snprintf(src, sizeof src, "%s/%s", source_dir, tokenizer_files[i]);
        if (access(src, R_OK) != 0) {
            if (i == 0) return ds_err_set(err, DS_ERR_IO, "%s: missing: the export needs the vocabulary", src);
            continue;  // optional files
        }
        char *text = NULL;
        size_t len = 0;
        DS_TRY(ds_read_whole_file(src, &text, &len, err));
        snprintf(path, sizeof path, "%s/%s", out_dir, tokenizer_files[i]);
        st = ds_write_file_atomic(path, text, len, err);
        free(text);
        DS_TRY(st);
    }
    return DS_OK;
}
