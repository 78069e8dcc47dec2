// model.path for the speech family: a Hugging Face Wav2Vec2 directory (Wav2Vec2ForCTC, or a
// pre-trained Wav2Vec2ForPreTraining / Wav2Vec2Model to fine-tune), a Hub id (runtime/hub fetches
// the directory), a directory this family exported, or "" (the built-in small model, or
// model.scratch_config, from scratch). Weights: model.safetensors or pytorch_model.bin; names
// with the "wav2vec2." prefix (ForCTC, ForPreTraining) or without (Wav2Vec2Model), either
// weight-norm spelling of the positional conv; lm_head starts afresh (HF's initialisation) when
// absent or of another vocabulary size, as from_pretrained(..., ignore_mismatched_sizes) does in
// the recipe. A pre-training checkpoint's quantizer and project_* heads are ignored.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../../data/audio/json_file.h"
#include "../../../data/audio/w2v2_processor.h"
#include "../../base/check.h"
#include "../../base/log.h"
#include "../../hub/hub.h"
#include "../../io/tensor_source.h"
#include "../../io/weight_loader.h"
#include "speech_internal.h"

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

void ds_speech_model_info_free(speech_model_info *info) {
    cJSON_Delete(info->config);
    info->config = NULL;
}

bool ds_speech_recognizes(const char *path) {
    if (!is_dir(path)) return false;
    cJSON *j = NULL;
    ds_err err;
    ds_err_clear(&err);
    if (ds_json_file_read(path, "config.json", true, &j, NULL, 0, &err) != DS_OK || !j) return false;
    const bool yes = ds_speech_config_is_wav2vec2(j);
    cJSON_Delete(j);
    return yes;
}

// The feature extractor's settings of dir: processor_config.json's or preprocessor_config.json's.
static ds_status read_features(const char *dir, speech_model_info *info, ds_err *err) {
    info->features = ds_w2v2_feature_defaults();
    const char *const names[2] = {"processor_config.json", "preprocessor_config.json"};
    for (int k = 0; k < 2; k++) {
        cJSON *j = NULL;
        char path[4300];
        DS_TRY(ds_json_file_read(dir, names[k], true, &j, path, sizeof path, err));
        if (!j) continue;
        const cJSON *obj = k == 0 ? cJSON_GetObjectItemCaseSensitive(j, "feature_extractor") : j;
        if (k == 0 && !obj) obj = cJSON_GetObjectItemCaseSensitive(j, "audio_processor");
        ds_status st = DS_OK;
        if (obj) {
            st = ds_w2v2_feature_config_from_json(obj, path, &info->features, err);
            info->has_features = st == DS_OK;
        }
        cJSON_Delete(j);
        DS_TRY(st);
        if (info->has_features) return DS_OK;
    }
    return DS_OK;
}

ds_status ds_speech_model_probe(ds_context *ctx, const char *path, speech_model_info *info) {
    ds_err *err = &ctx->err;
    memset(info, 0, sizeof *info);
    info->features = ds_w2v2_feature_defaults();
    if (!path[0]) {
        info->features.return_attention_mask = true;  // the scratch model's layer norm: as HF's layer checkpoints
        return DS_OK;
    }
    char local[4000];
    DS_TRY(ds_hub_resolve(&ctx->log, path, "speech_ctc", local, sizeof local, err));
    DS_REQUIRE(err, is_dir(local), DS_ERR_CONFIG,
               "model.path %s is not a directory: speech_ctc reads a Hugging Face Wav2Vec2 directory (config.json and "
               "model.safetensors or pytorch_model.bin), a Hub id, or empty to train from scratch", local);
    snprintf(info->dir, sizeof info->dir, "%s", local);
    char name[4300];
    DS_TRY(ds_json_file_read(local, "config.json", false, &info->config, name, sizeof name, err));
    if (!ds_speech_config_is_wav2vec2(info->config))
        DS_LOG_WARN(&ctx->log, "%s: architectures names no Wav2Vec2ForCTC / Wav2Vec2ForPreTraining / Wav2Vec2Model; "
                    "reading it as Wav2Vec2", name);
    snprintf(info->weights, sizeof info->weights, "%s/model.safetensors", local);
    if (!is_file(info->weights)) snprintf(info->weights, sizeof info->weights, "%s/pytorch_model.bin", local);
    DS_REQUIRE(err, is_file(info->weights), DS_ERR_IO, "%s has neither model.safetensors nor pytorch_model.bin", local);
    char vocab[4300];
    snprintf(vocab, sizeof vocab, "%s/vocab.json", local);
    info->has_tokenizer = is_file(vocab);
    DS_TRY(read_features(local, info, err));
    if (!info->has_features) {
        // No processor: HF's checkpoints return an attention mask exactly for feat_extract_norm "layer".
        const char *norm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info->config, "feat_extract_norm"));
        info->features.return_attention_mask = norm && strcmp(norm, "layer") == 0;
    }
    return DS_OK;
}

typedef struct w2v_map {
    ds_context *ctx;
    ds_w2v_model *m;
    bool reinit_head;  // training: a missing or mismatched lm_head starts afresh
    int reinit;
} w2v_map;

static bool is_head(const ds_w2v_model *m, int i) { return i >= m->at.lm_head; }

// Checkpoint names to the block's: "wav2vec2.*" and "lm_head.*" as they are; a bare Wav2Vec2Model's
// names get the prefix; the legacy weight-norm names map to parametrizations.
static bool map_name(void *user, const char *name, char *dst, size_t cap) {
    const w2v_map *s = user;
    if (starts_with(name, "wav2vec2.") || starts_with(name, "lm_head.")) return ds_w2v_block_name(s->m, name, dst, cap);
    char prefixed[512];
    snprintf(prefixed, sizeof prefixed, "wav2vec2.%s", name);
    return ds_w2v_block_name(s->m, prefixed, dst, cap);
}

static ds_weight_mismatch on_mismatch(void *user, int i, const ds_tensor *found) {
    (void)found;
    const w2v_map *s = user;
    // The loader then asks init_missing to initialise it.
    return s->reinit_head && is_head(s->m, i) ? DS_WEIGHT_MISMATCH_REINIT : DS_WEIGHT_MISMATCH_ERROR;
}

static bool init_missing(void *user, int i) {
    w2v_map *s = user;
    const bool head = s->reinit_head && is_head(s->m, i);
    // masked_spec_embed exists only when SpecAugment is on; a checkpoint trained without it lacks it.
    const bool embed = i == s->m->at.masked_spec_embed;
    if (!head && !embed) return false;
    ds_w2v_init_param(s->ctx, s->m, i);
    s->reinit += head;
    return true;
}

ds_status ds_speech_model_load(ds_context *ctx, speech_model_info *info, const ds_w2v_config *cfg,
                               bool for_eval, ds_w2v_model *m) {
    DS_TRY(ds_w2v_create(ctx, cfg, m));
    if (!info->weights[0]) {
        ds_w2v_init_weights(ctx, m);
        return DS_OK;
    }
    ds_tensor_source src;
    ds_status st = ds_tensor_source_open(info->weights, &src, &ctx->err);
    if (st == DS_OK) {
        w2v_map s = {ctx, m, !for_eval, 0};
        const ds_weight_map map = {.model_name = map_name, .on_mismatch = on_mismatch, .init_missing = init_missing,
                                   .user = &s, .hint = "is it a Wav2Vec2 checkpoint of this config.json?"};
        ds_weight_report r;
        st = ds_weights_load(ctx, &src, &m->params, &map, &r);
        ds_tensor_source_close(&src);
        if (st == DS_OK && s.reinit > 0)
            DS_LOG_INFO(&ctx->log, "%s: lm_head starts afresh (%s; vocabulary of %lld ids)", info->weights,
                        s.reinit == 2 ? "absent or of another vocabulary size" : "partly absent",
                        (long long)cfg->vocab_size);
        info->lm_head_reinit = s.reinit;
    }
    if (st != DS_OK) ds_w2v_free(m);
    return st;
}
