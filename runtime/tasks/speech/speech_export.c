// The speech family's export: a directory that transformers loads with
// Wav2Vec2ForCTC.from_pretrained(dir) and Wav2Vec2Processor.from_pretrained(dir), and that this
// family reads back (model.path for eval, predict and further fine-tuning):
//   config.json               Wav2Vec2Config (architectures ["Wav2Vec2ForCTC"]), the source model's
//                             other keys kept
//   model.safetensors         every tensor under HF's state_dict names; the positional conv's weight
//                             norm as parametrizations.weight.original0/1, as transformers 5 saves it
//   vocab.json, tokenizer_config.json (+ special_tokens_map.json, added_tokens.json when the source
//                             tokenizer had them)
//   preprocessor_config.json  Wav2Vec2FeatureExtractor's settings
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../data/audio/json_file.h"
#include "../../base/check.h"
#include "../../io/fs.h"
#include "../../io/safetensors.h"
#include "speech_internal.h"

static ds_status write_json(const char *dir, const char *name, cJSON *o, ds_err *err) {
    char *text = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    DS_REQUIRE(err, text != NULL, DS_ERR_OOM, "%s: out of memory", name);
    const size_t len = strlen(text);
    char *with_newline = realloc(text, len + 2);
    if (!with_newline) {
        free(text);
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", name);
    }
    with_newline[len] = '\n';
    with_newline[len + 1] = '\0';
    const ds_status st = ds_text_file_write(dir, name, with_newline, len + 1, err);
    free(with_newline);
    return st;
}

static cJSON *features_json(const ds_w2v2_feature_config *f) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "feature_extractor_type", "Wav2Vec2FeatureExtractor");
    cJSON_AddNumberToObject(o, "feature_size", f->feature_size);
    cJSON_AddNumberToObject(o, "sampling_rate", f->sampling_rate);
    cJSON_AddNumberToObject(o, "padding_value", (double)f->padding_value);
    cJSON_AddStringToObject(o, "padding_side", "right");
    cJSON_AddBoolToObject(o, "do_normalize", f->do_normalize);
    cJSON_AddBoolToObject(o, "return_attention_mask", f->return_attention_mask);
    cJSON_AddStringToObject(o, "processor_class", "Wav2Vec2Processor");
    return o;
}

ds_status ds_speech_export(const ds_w2v_model *m, const cJSON *base_config, const speech_vocab *v,
                           const ds_w2v2_feature_config *features, const char *dir, ds_err *err) {
    DS_TRY(ds_mkdirs(dir, err));
    const ds_param_block *pb = &m->params;
    ds_st_entry *entries = calloc((size_t)pb->count, sizeof *entries);
    DS_REQUIRE(err, entries != NULL, DS_ERR_OOM, "export: out of memory");
    for (int i = 0; i < pb->count; i++) {
        entries[i].name = pb->specs[i].name;  // HF's names (block order = HF's state_dict order)
        entries[i].tensor = ds_param_block_param(pb, i);  // host
    }
    const ds_st_meta meta = {.key = "format", .value = "pt"};
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ds_status st = ds_st_write(path, entries, pb->count, &meta, 1, err);
    free(entries);
    if (st == DS_OK) st = write_json(dir, "config.json", ds_speech_config_to_json(&m->cfg, base_config), err);
    if (st == DS_OK) st = ds_speech_vocab_write(v, dir, err);
    if (st == DS_OK) st = write_json(dir, "preprocessor_config.json", features_json(features), err);
    return st;
}
