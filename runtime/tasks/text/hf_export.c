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

static ds_status write_text(const char *dir, const char *name, const char *text, size_t len, ds_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return ds_write_file_atomic(path, text, len, err);
}

// The tokenizer the model was trained with, as every reader may look for it: vocab.txt,
// tokenizer.json (what transformers prefers and v5 writes) and tokenizer_config.json (the source's,
// with the settings made explicit), and the source's special_tokens_map.json when it has one.
static ds_status write_tokenizer(const ds_wp_tokenizer *tok, const char *source_dir, const char *out_dir,
                                 ds_err *err) {
    char *text = NULL;
    size_t len = 0;
    DS_TRY(ds_wp_vocab_text(tok, &text, &len, err));
    ds_status st = write_text(out_dir, "vocab.txt", text, len, err);
    free(text);
    DS_TRY(st);
    DS_TRY(ds_wp_tokenizer_json_text(tok, &text, err));
    st = write_text(out_dir, "tokenizer.json", text, strlen(text), err);
    free(text);
    DS_TRY(st);

    char src[4096];
    char *source = NULL;
    snprintf(src, sizeof src, "%s/tokenizer_config.json", source_dir);
    if (access(src, R_OK) == 0) DS_TRY(ds_read_whole_file(src, &source, &len, err));
    st = ds_wp_tokenizer_config_text(tok, source, &text, err);
    free(source);
    DS_TRY(st);
    st = write_text(out_dir, "tokenizer_config.json", text, strlen(text), err);
    free(text);
    DS_TRY(st);

    snprintf(src, sizeof src, "%s/special_tokens_map.json", source_dir);
    if (access(src, R_OK) != 0) return DS_OK;  // optional
    DS_TRY(ds_read_whole_file(src, &text, &len, err));
    st = write_text(out_dir, "special_tokens_map.json", text, len, err);
    free(text);
    return st;
}

ds_status ds_hf_export(const ds_bert_model *m, const ds_label_map *labels, const ds_wp_tokenizer *tok,
                       const char *source_dir, const char *out_dir, ds_err *err) {
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

    return write_tokenizer(tok, source_dir, out_dir, err);
    return DS_OK;
}
