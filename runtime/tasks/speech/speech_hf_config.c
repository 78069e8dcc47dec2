// Wav2Vec2's config.json (transformers' Wav2Vec2Config) read into ds_w2v_config and written back,
// and the built-in small model trained from scratch.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../../data/audio/json_file.h"

#include "../../base/check.h"
#include "speech_internal.h"

static const cJSON *item(const cJSON *j, const char *key) { return cJSON_GetObjectItemCaseSensitive(j, key); }

// A number key: absent or null keeps *v; another type is an error naming the file and key.
static ds_status num(const cJSON *j, const char *name, const char *key, double *v, ds_err *err) {
    const cJSON *x = item(j, key);
    if (!x || cJSON_IsNull(x)) return DS_OK;
    DS_REQUIRE(err, cJSON_IsNumber(x), DS_ERR_FORMAT, "%s: \"%s\" is not a number", name, key);
    *v = x->valuedouble;
    return DS_OK;
}

static ds_status flag(const cJSON *j, const char *name, const char *key, bool *v, ds_err *err) {
    const cJSON *x = item(j, key);
    if (!x || cJSON_IsNull(x)) return DS_OK;
    DS_REQUIRE(err, cJSON_IsBool(x), DS_ERR_FORMAT, "%s: \"%s\" is not true or false", name, key);
    *v = cJSON_IsTrue(x);
    return DS_OK;
}

static ds_status list(const cJSON *j, const char *name, const char *key, int64_t *out, int *n, ds_err *err) {
    const cJSON *x = item(j, key);
    if (!x) return DS_OK;
    DS_REQUIRE(err, cJSON_IsArray(x), DS_ERR_FORMAT, "%s: \"%s\" is not a list", name, key);
    const int count = cJSON_GetArraySize(x);
    DS_REQUIRE(err, count >= 1 && count <= DS_W2V_MAX_CONV, DS_ERR_UNSUPPORTED, "%s: \"%s\" has %d entries (1..%d supported)",
               name, key, count, DS_W2V_MAX_CONV);
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, x) {
        DS_REQUIRE(err, cJSON_IsNumber(e) && e->valuedouble >= 1, DS_ERR_FORMAT, "%s: \"%s\" holds a value that is not a "
                   "positive integer", name, key);
        out[k++] = (int64_t)e->valuedouble;
    }
    *n = count;
    return DS_OK;
}

// A string key that must be one of the values the model implements (absent: fine).
static ds_status must_be(const cJSON *j, const char *name, const char *key, const char *want, ds_err *err) {
    const cJSON *x = item(j, key);
    if (!x || cJSON_IsNull(x)) return DS_OK;
    const char *v = cJSON_GetStringValue(x);
    DS_REQUIRE(err, v && strcmp(v, want) == 0, DS_ERR_UNSUPPORTED, "%s: %s = %s%s%s is not supported (only \"%s\")", name,
               key, v ? "\"" : "", v ? v : "(not a string)", v ? "\"" : "", want);
    return DS_OK;
}

static ds_status must_be_false(const cJSON *j, const char *name, const char *key, const char *why, ds_err *err) {
    const cJSON *x = item(j, key);
    DS_REQUIRE(err, !x || cJSON_IsNull(x) || cJSON_IsFalse(x), DS_ERR_UNSUPPORTED, "%s: %s is not supported (%s)", name, key,
               why);
    return DS_OK;
}

bool ds_speech_config_is_wav2vec2(const cJSON *j) {
    const cJSON *a = item(j, "architectures");
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        const char *s = cJSON_GetStringValue(e);
        if (s && (strcmp(s, "Wav2Vec2ForCTC") == 0 || strcmp(s, "Wav2Vec2ForPreTraining") == 0 ||
                  strcmp(s, "Wav2Vec2Model") == 0))
            return true;
    }
    return false;
}

ds_status ds_speech_config_from_json(const cJSON *j, const char *name, ds_w2v_config *c, ds_err *err) {
    DS_REQUIRE(err, cJSON_IsObject(j), DS_ERR_FORMAT, "%s is not a JSON object", name);
    const char *type = cJSON_GetStringValue(item(j, "model_type"));
    DS_REQUIRE(err, !type || strcmp(type, "wav2vec2") == 0, DS_ERR_UNSUPPORTED,
               "%s: model_type \"%s\" is not wav2vec2 (speech_ctc reads Wav2Vec2ForCTC / Wav2Vec2ForPreTraining / "
               "Wav2Vec2Model checkpoints)", name, type);
    DS_TRY(must_be(j, name, "feat_extract_activation", "gelu", err));
    DS_TRY(must_be(j, name, "hidden_act", "gelu", err));
    DS_TRY(must_be_false(j, name, "add_adapter", "an adapter after the encoder", err));
    DS_TRY(must_be_false(j, name, "use_weighted_layer_sum", "a weighted sum of layers", err));
    const cJSON *pe = item(j, "position_embeddings_type");
    DS_REQUIRE(err, !pe || cJSON_IsNull(pe), DS_ERR_UNSUPPORTED, "%s: position_embeddings_type is a Wav2Vec2-Conformer "
               "setting, not supported", name);
    *c = ds_w2v_config_default();
    double v[22];
    const char *const keys[22] = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                  "intermediate_size", "num_conv_pos_embeddings", "num_conv_pos_embedding_groups",
                                  "layer_norm_eps", "hidden_dropout", "activation_dropout", "attention_dropout",
                                  "feat_proj_dropout", "final_dropout", "layerdrop", "initializer_range",
                                  "mask_time_prob", "mask_time_length", "mask_time_min_masks", "mask_feature_prob",
                                  "mask_feature_length", "mask_feature_min_masks", "pad_token_id"};
    v[0] = (double)c->vocab_size, v[1] = (double)c->hidden, v[2] = (double)c->layers, v[3] = (double)c->heads;
    v[4] = (double)c->intermediate, v[5] = (double)c->num_conv_pos_embeddings;
    v[6] = (double)c->num_conv_pos_embedding_groups, v[7] = c->layer_norm_eps, v[8] = c->hidden_dropout;
    v[9] = c->activation_dropout, v[10] = c->attention_dropout, v[11] = c->feat_proj_dropout, v[12] = c->final_dropout;
    v[13] = c->layerdrop, v[14] = c->initializer_range, v[15] = c->mask_time_prob, v[16] = (double)c->mask_time_length;
    v[17] = (double)c->mask_time_min_masks, v[18] = c->mask_feature_prob, v[19] = (double)c->mask_feature_length;
    v[20] = (double)c->mask_feature_min_masks, v[21] = (double)c->pad_token_id;
    for (int k = 0; k < 22; k++) DS_TRY(num(j, name, keys[k], &v[k], err));
    c->vocab_size = (int64_t)v[0], c->hidden = (int64_t)v[1], c->layers = (int64_t)v[2], c->heads = (int64_t)v[3];
    c->intermediate = (int64_t)v[4], c->num_conv_pos_embeddings = (int64_t)v[5];
    c->num_conv_pos_embedding_groups = (int64_t)v[6], c->layer_norm_eps = v[7], c->hidden_dropout = (float)v[8];
    c->activation_dropout = (float)v[9], c->attention_dropout = (float)v[10], c->feat_proj_dropout = (float)v[11];
    c->final_dropout = (float)v[12], c->layerdrop = (float)v[13], c->initializer_range = v[14];
    c->mask_time_prob = v[15], c->mask_time_length = (int64_t)v[16], c->mask_time_min_masks = (int64_t)v[17];
    c->mask_feature_prob = v[18], c->mask_feature_length = (int64_t)v[19];
    c->mask_feature_min_masks = (int64_t)v[20], c->pad_token_id = (int64_t)v[21];
    int nd = c->conv_layers, nk = c->conv_layers, ns = c->conv_layers;
    DS_TRY(list(j, name, "conv_dim", c->conv_dim, &nd, err));
    DS_TRY(list(j, name, "conv_kernel", c->conv_kernel, &nk, err));
    DS_TRY(list(j, name, "conv_stride", c->conv_stride, &ns, err));
    DS_REQUIRE(err, nd == nk && nk == ns, DS_ERR_FORMAT, "%s: conv_dim, conv_kernel and conv_stride have %d, %d and %d "
               "entries (they must agree)", name, nd, nk, ns);
    c->conv_layers = nd;
    DS_TRY(flag(j, name, "conv_bias", &c->conv_bias, err));
    DS_TRY(flag(j, name, "do_stable_layer_norm", &c->do_stable_layer_norm, err));
    DS_TRY(flag(j, name, "apply_spec_augment", &c->apply_spec_augment, err));
    DS_TRY(flag(j, name, "ctc_zero_infinity", &c->ctc_zero_infinity, err));
    const char *norm = cJSON_GetStringValue(item(j, "feat_extract_norm"));
    if (norm) {
        DS_REQUIRE(err, strcmp(norm, "group") == 0 || strcmp(norm, "layer") == 0, DS_ERR_UNSUPPORTED,
                   "%s: feat_extract_norm \"%s\" (group or layer)", name, norm);
        c->feat_extract_norm = strcmp(norm, "layer") == 0 ? DS_W2V_NORM_LAYER : DS_W2V_NORM_GROUP;
    }
    const char *red = cJSON_GetStringValue(item(j, "ctc_loss_reduction"));
    if (red) {
        DS_REQUIRE(err, strcmp(red, "sum") == 0 || strcmp(red, "mean") == 0, DS_ERR_UNSUPPORTED,
                   "%s: ctc_loss_reduction \"%s\" (sum or mean)", name, red);
        c->ctc_loss_reduction = strcmp(red, "mean") == 0 ? DS_CTC_MEAN : DS_CTC_SUM;
    }
    c->use_attention_mask = c->feat_extract_norm == DS_W2V_NORM_LAYER;  // until the processor says
    return DS_OK;
}

ds_w2v_config ds_speech_config_scratch(void) {
    ds_w2v_config c = ds_w2v_config_default();
    for (int i = 0; i < c.conv_layers; i++) c.conv_dim[i] = 64;
    c.hidden = 128, c.layers = 3, c.heads = 4, c.intermediate = 256;
    c.num_conv_pos_embeddings = 32, c.num_conv_pos_embedding_groups = 4;
    c.feat_extract_norm = DS_W2V_NORM_LAYER;
    c.do_stable_layer_norm = true;
    c.use_attention_mask = true;
    c.vocab_size = 20;
    return c;
}

static void put(cJSON *o, const char *key, cJSON *v) {
    if (!v) return;
    if (cJSON_GetObjectItemCaseSensitive(o, key)) cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else cJSON_AddItemToObject(o, key, v);
}

// float32 settings as the decimals they were given as (0.05, not 0.05000000074505806).
static cJSON *real(double v) { return cJSON_CreateNumber(v == 0 ? 0 : round(v * 1e9) / 1e9); }

cJSON *ds_speech_config_to_json(const ds_w2v_config *c, const cJSON *base) {
    cJSON *o = base ? cJSON_Duplicate(base, 1) : cJSON_CreateObject();
    if (!o) return NULL;
    const char *arch = "Wav2Vec2ForCTC";
    put(o, "architectures", cJSON_CreateStringArray(&arch, 1));
    put(o, "model_type", cJSON_CreateString("wav2vec2"));
    put(o, "vocab_size", cJSON_CreateNumber((double)c->vocab_size));
    put(o, "hidden_size", cJSON_CreateNumber((double)c->hidden));
    put(o, "num_hidden_layers", cJSON_CreateNumber((double)c->layers));
    put(o, "num_attention_heads", cJSON_CreateNumber((double)c->heads));
    put(o, "intermediate_size", cJSON_CreateNumber((double)c->intermediate));
    int dims[DS_W2V_MAX_CONV], kern[DS_W2V_MAX_CONV], strd[DS_W2V_MAX_CONV];
    for (int i = 0; i < c->conv_layers; i++)
        dims[i] = (int)c->conv_dim[i], kern[i] = (int)c->conv_kernel[i], strd[i] = (int)c->conv_stride[i];
    put(o, "conv_dim", cJSON_CreateIntArray(dims, c->conv_layers));
    put(o, "conv_kernel", cJSON_CreateIntArray(kern, c->conv_layers));
    put(o, "conv_stride", cJSON_CreateIntArray(strd, c->conv_layers));
    put(o, "num_feat_extract_layers", cJSON_CreateNumber(c->conv_layers));
    put(o, "conv_bias", cJSON_CreateBool(c->conv_bias));
    put(o, "feat_extract_norm", cJSON_CreateString(c->feat_extract_norm == DS_W2V_NORM_LAYER ? "layer" : "group"));
    put(o, "feat_extract_activation", cJSON_CreateString("gelu"));
    put(o, "hidden_act", cJSON_CreateString("gelu"));
    put(o, "num_conv_pos_embeddings", cJSON_CreateNumber((double)c->num_conv_pos_embeddings));
    put(o, "num_conv_pos_embedding_groups", cJSON_CreateNumber((double)c->num_conv_pos_embedding_groups));
    put(o, "do_stable_layer_norm", cJSON_CreateBool(c->do_stable_layer_norm));
    put(o, "layer_norm_eps", real(c->layer_norm_eps));
    put(o, "hidden_dropout", real(c->hidden_dropout));
    put(o, "activation_dropout", real(c->activation_dropout));
    put(o, "attention_dropout", real(c->attention_dropout));
    put(o, "feat_proj_dropout", real(c->feat_proj_dropout));
    put(o, "final_dropout", real(c->final_dropout));
    put(o, "layerdrop", real(c->layerdrop));
    put(o, "initializer_range", real(c->initializer_range));
    put(o, "apply_spec_augment", cJSON_CreateBool(c->apply_spec_augment));
    put(o, "mask_time_prob", real(c->mask_time_prob));
    put(o, "mask_time_length", cJSON_CreateNumber((double)c->mask_time_length));
    put(o, "mask_time_min_masks", cJSON_CreateNumber((double)c->mask_time_min_masks));
    put(o, "mask_feature_prob", real(c->mask_feature_prob));
    put(o, "mask_feature_length", cJSON_CreateNumber((double)c->mask_feature_length));
    put(o, "mask_feature_min_masks", cJSON_CreateNumber((double)c->mask_feature_min_masks));
    put(o, "pad_token_id", cJSON_CreateNumber((double)c->pad_token_id));
    put(o, "ctc_loss_reduction", cJSON_CreateString(c->ctc_loss_reduction == DS_CTC_MEAN ? "mean" : "sum"));
    put(o, "ctc_zero_infinity", cJSON_CreateBool(c->ctc_zero_infinity));
    put(o, "add_adapter", cJSON_CreateBool(false));
    put(o, "use_weighted_layer_sum", cJSON_CreateBool(false));
    return o;
}

ds_status ds_speech_config_read_file(const char *path, ds_w2v_config *c, ds_err *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *name = path;
    if (slash) {
        *slash = '\0';
        name = path + (slash - dir) + 1;
        if (!dir[0]) snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    cJSON *j = NULL;
    DS_TRY(ds_json_file_read(dir, name, false, &j, NULL, 0, err));
    const ds_status st = ds_speech_config_from_json(j, path, c, err);
    cJSON_Delete(j);
    return st;
}
