#include "w2v_fixture.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/io/safetensors.h"

static bool get_num(const cJSON *j, const char *key, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(x)) return false;
    *v = x->valuedouble;
    return true;
}
static bool get_bool(const cJSON *j, const char *key, bool *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsBool(x)) return false;
    *v = cJSON_IsTrue(x);
    return true;
}
static int get_list(const cJSON *j, const char *key, int64_t *out, int cap) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, x) {
        if (n < cap && cJSON_IsNumber(e)) out[n] = (int64_t)e->valuedouble;
        n++;
    }
    return n;
}

bool ds_w2v_test_config(ds_test *t, const char *case_dir, ds_w2v_config *cfg) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "wav2vec2/%s/config.json", case_dir);
    char *text = ds_test_read_file(ds_test_fixture(rel, path, sizeof path), NULL);
    if (!ds_test_check(t, text != NULL, "cannot read %s", path)) return false;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!ds_test_check(t, j != NULL, "%s is not JSON", path)) return false;
    *cfg = ds_w2v_config_default();
    double v = 0;
    bool ok = true;
#define NUM(key, field)                   \
    do {                                  \
        if (get_num(j, key, &v))          \
            cfg->field = v;               \
        else                              \
            ok = false;                   \
    } while (0)
    NUM("vocab_size", vocab_size);
    NUM("hidden_size", hidden);
    NUM("num_hidden_layers", layers);
    NUM("num_attention_heads", heads);
    NUM("intermediate_size", intermediate);
    NUM("num_conv_pos_embeddings", num_conv_pos_embeddings);
    NUM("num_conv_pos_embedding_groups", num_conv_pos_embedding_groups);
    NUM("layer_norm_eps", layer_norm_eps);
    NUM("hidden_dropout", hidden_dropout);
    NUM("activation_dropout", activation_dropout);
    NUM("attention_dropout", attention_dropout);
    NUM("feat_proj_dropout", feat_proj_dropout);
    NUM("final_dropout", final_dropout);
    NUM("layerdrop", layerdrop);
    NUM("initializer_range", initializer_range);
    NUM("mask_time_prob", mask_time_prob);
    NUM("mask_time_length", mask_time_length);
    NUM("mask_time_min_masks", mask_time_min_masks);
    NUM("mask_feature_prob", mask_feature_prob);
    NUM("mask_feature_length", mask_feature_length);
    NUM("mask_feature_min_masks", mask_feature_min_masks);
    NUM("pad_token_id", pad_token_id);
#undef NUM
    ok &= get_bool(j, "conv_bias", &cfg->conv_bias) && get_bool(j, "do_stable_layer_norm", &cfg->do_stable_layer_norm) &&
          get_bool(j, "apply_spec_augment", &cfg->apply_spec_augment) &&
          get_bool(j, "ctc_zero_infinity", &cfg->ctc_zero_infinity) &&
          get_bool(j, "use_attention_mask", &cfg->use_attention_mask);
    cfg->conv_layers = get_list(j, "conv_dim", cfg->conv_dim, DS_W2V_MAX_CONV);
    ok &= get_list(j, "conv_kernel", cfg->conv_kernel, DS_W2V_MAX_CONV) == cfg->conv_layers &&
          get_list(j, "conv_stride", cfg->conv_stride, DS_W2V_MAX_CONV) == cfg->conv_layers;
    const char *norm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "feat_extract_norm"));
    const char *red = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "ctc_loss_reduction"));
    ok &= norm != NULL && red != NULL;
    if (norm) cfg->feat_extract_norm = strcmp(norm, "layer") == 0 ? DS_W2V_NORM_LAYER : DS_W2V_NORM_GROUP;
    if (red) cfg->ctc_loss_reduction = strcmp(red, "mean") == 0 ? DS_CTC_MEAN : DS_CTC_SUM;
    cJSON_Delete(j);
    return ds_test_check(t, ok, "%s: a key the model needs is missing or of the wrong type", path);
}

bool ds_w2v_test_load(ds_test *t, ds_w2v_model *m, const char *rel) {
    char path[1024];
    ds_st_file f;
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, ds_st_open(ds_test_fixture(rel, path, sizeof path), &f, &err) == DS_OK, "%s", err.msg))
        return false;
    int *filled = calloc((size_t)m->params.count, sizeof *filled);
    bool ok = true;
    for (int k = 0; k < f.count; k++) {
        const ds_st_tensor *s = &f.tensors[k];
        const int i = ds_w2v_param_index(m, s->name);
        if (!ds_test_check(t, i >= 0, "%s: tensor %s is not a parameter of the model", rel, s->name)) {
            ok = false;
            continue;
        }
        const ds_tensor p = ds_param_block_param(&m->params, i);
        ok &= ds_test_check(t, s->dtype == DS_F32 && (size_t)(s->end - s->begin) == ds_tensor_nbytes(&p),
                            "%s: %s has another dtype or size than parameter %s", rel, s->name, m->params.specs[i].name);
        if (s->dtype == DS_F32 && (size_t)(s->end - s->begin) == ds_tensor_nbytes(&p)) memcpy(p.data, s->data, ds_tensor_nbytes(&p));
        filled[i]++;
    }
    for (int i = 0; i < m->params.count; i++)
        ok &= ds_test_check(t, filled[i] == 1, "%s: parameter %s filled %d times", rel, m->params.specs[i].name, filled[i]);
    free(filled);
    ds_st_close(&f);
    return ok;
}

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001B3ull;
    return h;
}
static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void ds_w2v_test_formula_fill(ds_w2v_model *m) {
    for (int i = 0; i < m->params.count; i++) {
        const ds_param_spec *s = &m->params.specs[i];
        const ds_tensor p = ds_param_block_param(&m->params, i);
        const int64_t n = ds_tensor_numel(&p);
        double center, scale;
        if (ends_with(s->name, "norm.weight") || ends_with(s->name, "weight_g") || ends_with(s->name, "original0"))
            center = 1.0, scale = 0.1;
        else if (ends_with(s->name, ".bias"))
            center = 0.0, scale = 0.02;
        else if (ends_with(s->name, "masked_spec_embed"))
            center = 0.5, scale = 0.5;
        else
            center = 0.0, scale = sqrt(3.0 / (double)(n / s->shape[0]));
        const uint64_t h = fnv1a64(s->name);
        float *x = p.data;
        for (int64_t j = 0; j < n; j++) {
            const uint64_t r = splitmix64(h ^ ((uint64_t)j * 0x9E3779B97F4A7C15ull));
            const double u = (double)(r >> 40) / 16777216.0;
            x[j] = (float)(center + scale * (2.0 * u - 1.0));
        }
    }
}
