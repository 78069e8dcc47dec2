// config.json of a Hugging Face BERT model -> ds_bert_config, with BertConfig's defaults for
// absent keys. Keys downstream does not use (architectures, dtype, transformers_version, ...)
// are ignored, as transformers ignores unknown ones; keys whose value would change the math
// in a way downstream does not compute are rejected.
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/check.h"
#include "hf_bert.h"

typedef struct json_doc {
    const char *path;
    const cJSON *root;
    ds_err *err;
} json_doc;

static ds_status read_text(const char *path, char **out, ds_err *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ds_err_set(err, DS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    const bool failed = ferror(f) != 0;
    fclose(f);
    if (!buf) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory reading the file", path);
    if (failed) {
        free(buf);
        return ds_err_set(err, DS_ERR_IO, "cannot read %s", path);
    }
    buf[len] = '\0';
    *out = buf;
    return DS_OK;
}

// An integer key in [lo, hi]; absent: def. null is accepted (and *is_null set) only when is_null != NULL.
static ds_status get_int(const json_doc *d, const char *key, int64_t def, int64_t lo, int64_t hi, int64_t *out,
                         bool *is_null) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d->root, key);
    if (is_null) *is_null = false;
    if (!v) {
        *out = def;
        return DS_OK;
    }
    if (cJSON_IsNull(v) && is_null) {
        *is_null = true;
        return DS_OK;
    }
    DS_REQUIRE(d->err, cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble), DS_ERR_FORMAT,
               "%s: \"%s\" must be an integer%s", d->path, key, is_null ? " or null" : "");
    DS_REQUIRE(d->err, v->valuedouble >= (double)lo && v->valuedouble <= (double)hi, DS_ERR_FORMAT,
               "%s: \"%s\" = %.17g is outside [%lld, %lld]", d->path, key, v->valuedouble, (long long)lo,
               (long long)hi);
    *out = (int64_t)v->valuedouble;
    return DS_OK;
}

// A number key in [lo, hi); absent: def; null accepted as for get_int.
static ds_status get_num(const json_doc *d, const char *key, double def, double lo, double hi, double *out,
                         bool *is_null) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d->root, key);
    if (is_null) *is_null = false;
    if (!v) {
        *out = def;
        return DS_OK;
    }
    if (cJSON_IsNull(v) && is_null) {
        *is_null = true;
        return DS_OK;
    }
    DS_REQUIRE(d->err, cJSON_IsNumber(v), DS_ERR_FORMAT, "%s: \"%s\" must be a number%s", d->path, key,
               is_null ? " or null" : "");
    DS_REQUIRE(d->err, v->valuedouble >= lo && v->valuedouble < hi, DS_ERR_FORMAT,
               "%s: \"%s\" = %.17g is outside [%g, %g)", d->path, key, v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return DS_OK;
}

// A string key (or null/absent: *out = NULL).
static ds_status get_str(const json_doc *d, const char *key, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d->root, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return DS_OK;
    DS_REQUIRE(d->err, cJSON_IsString(v), DS_ERR_FORMAT, "%s: \"%s\" must be a string", d->path, key);
    *out = v->valuestring;
    return DS_OK;
}

// id2label {"0": "neg", "1": "pos"}: keys exactly 0..n-1. Sets *n (0 when absent) and, when
// names != NULL, (*names)[i] (strdup'd).
static ds_status read_id2label(const json_doc *d, int64_t *n, char ***names) {
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(d->root, "id2label");
    *n = 0;
    if (!map || cJSON_IsNull(map)) return DS_OK;
    DS_REQUIRE(d->err, cJSON_IsObject(map), DS_ERR_FORMAT, "%s: \"id2label\" must be an object {\"0\": name, ...}",
               d->path);
    const int count = cJSON_GetArraySize(map);
    DS_REQUIRE(d->err, count >= 1, DS_ERR_FORMAT, "%s: \"id2label\" is empty", d->path);
    char **out = names ? calloc((size_t)count, sizeof *out) : NULL;
    DS_REQUIRE(d->err, !names || out, DS_ERR_OOM, "%s: out of memory for id2label", d->path);
    ds_status s = DS_OK;
    const cJSON *e;
    cJSON_ArrayForEach(e, map) {
        char *end = NULL;
        errno = 0;
        const long id = strtol(e->string, &end, 10);
        if (errno || end == e->string || *end != '\0' || id < 0 || id >= count || (out && out[id])) {
            s = ds_err_set(d->err, DS_ERR_FORMAT,
                           "%s: \"id2label\" key \"%s\" is not a distinct class id in [0, %d)", d->path, e->string,
                           count);
            break;
        }
        if (!cJSON_IsString(e)) {
            s = ds_err_set(d->err, DS_ERR_FORMAT, "%s: \"id2label\"[\"%s\"] must be a string", d->path, e->string);
            break;
        }
        if (out && !(out[id] = strdup(e->valuestring))) {
            s = ds_err_set(d->err, DS_ERR_OOM, "%s: out of memory for id2label", d->path);
            break;
        }
    }
    if (s != DS_OK) {
        for (int i = 0; out && i < count; i++) free(out[i]);
        free(out);
        return s;
    }
    *n = count;
    if (names) *names = out;
    return DS_OK;
}

// What BertConfig would accept but downstream does not compute.
static ds_status check_supported(const json_doc *d) {
    const char *s;
    DS_TRY(get_str(d, "model_type", &s));
    DS_REQUIRE(d->err, !s || strcmp(s, "bert") == 0, DS_ERR_UNSUPPORTED,
               "%s: model_type \"%s\" is not \"bert\"; downstream loads BERT checkpoints only", d->path, s);
    DS_TRY(get_str(d, "hidden_act", &s));
    DS_REQUIRE(d->err, !s || strcmp(s, "gelu") == 0, DS_ERR_UNSUPPORTED,
               "%s: hidden_act \"%s\" is not supported; downstream's BERT computes \"gelu\" (the exact erf form) "
               "only", d->path, s);
    DS_TRY(get_str(d, "position_embedding_type", &s));
    DS_REQUIRE(d->err, !s || strcmp(s, "absolute") == 0, DS_ERR_UNSUPPORTED,
               "%s: position_embedding_type \"%s\" is not supported; only \"absolute\" is", d->path, s);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d->root, "is_decoder");
    DS_REQUIRE(d->err, !v || cJSON_IsFalse(v) || cJSON_IsNull(v), DS_ERR_UNSUPPORTED,
               "%s: is_decoder must be false: downstream fine-tunes BERT encoders (no causal mask)", d->path);
    return DS_OK;
}

static ds_status read_fields(const json_doc *d, ds_bert_config *c, ds_hf_bert_info *info) {
    DS_TRY(check_supported(d));
    const int64_t big = INT32_MAX;
    DS_TRY(get_int(d, "vocab_size", 30522, 1, big, &c->vocab_size, NULL));
    DS_TRY(get_int(d, "hidden_size", 768, 1, big, &c->hidden, NULL));
    DS_TRY(get_int(d, "num_hidden_layers", 12, 0, 1000, &c->layers, NULL));
    DS_TRY(get_int(d, "num_attention_heads", 12, 1, big, &c->heads, NULL));
    DS_TRY(get_int(d, "intermediate_size", 3072, 1, big, &c->intermediate, NULL));
    DS_TRY(get_int(d, "max_position_embeddings", 512, 1, big, &c->max_position, NULL));
    DS_TRY(get_int(d, "type_vocab_size", 2, 1, big, &c->type_vocab, NULL));
    DS_REQUIRE(d->err, c->hidden % c->heads == 0, DS_ERR_FORMAT,
               "%s: hidden_size %lld is not a multiple of num_attention_heads %lld", d->path, (long long)c->hidden,
               (long long)c->heads);
    double v;
    bool null;
    DS_TRY(get_num(d, "layer_norm_eps", 1e-12, 1e-30, 1.0, &c->ln_eps, NULL));
    DS_TRY(get_num(d, "hidden_dropout_prob", 0.1, 0.0, 1.0, &v, NULL));
    c->hidden_dropout = (float)v;
    DS_TRY(get_num(d, "attention_probs_dropout_prob", 0.1, 0.0, 1.0, &v, NULL));
    c->attn_dropout = (float)v;
    DS_TRY(get_num(d, "classifier_dropout", 0.0, 0.0, 1.0, &v, &null));
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(d->root, "classifier_dropout");
    c->classifier_dropout = (!cd || null) ? -1.0f : (float)v;  // -1: HF's None
    DS_TRY(get_num(d, "initializer_range", 0.02, 0.0, 1e30, &c->initializer_range, NULL));
    DS_TRY(get_int(d, "pad_token_id", 0, 0, c->vocab_size - 1, &c->pad_token_id, &null));
    if (null) c->pad_token_id = -1;

    // num_labels: len(id2label), else "num_labels", else 2 (HF's PreTrainedConfig).
    int64_t n_map, n_key;
    DS_TRY(read_id2label(d, &n_map, info ? &info->id2label : NULL));
    if (info) info->config_num_labels = n_map;  // so that ds_hf_bert_info_free frees the names on a later error
    DS_TRY(get_int(d, "num_labels", 0, 1, big, &n_key, &null));
    if (n_map > 0 && n_key > 0 && n_key != n_map)
        return ds_err_set(d->err, DS_ERR_FORMAT, "%s: \"num_labels\" = %lld disagrees with the %lld entries of id2label",
                          d->path, (long long)n_key, (long long)n_map);
    c->num_labels = n_map > 0 ? n_map : (n_key > 0 ? n_key : 2);

    const char *p;
    DS_TRY(get_str(d, "problem_type", &p));
    if (p) {
        DS_REQUIRE(d->err, ds_problem_type_parse(p, &c->problem_type, NULL) == DS_OK, DS_ERR_FORMAT,
                   "%s: problem_type \"%s\" is not one of \"single_label_classification\", "
                   "\"multi_label_classification\", \"regression\"", d->path, p);
    } else {
        // HF decides at the first forward from the labels: integer class ids give single-label
        // classification, except with one output, which is regression.
        c->problem_type = c->num_labels == 1 ? DS_PROBLEM_REGRESSION : DS_PROBLEM_SINGLE_LABEL;
    }
    if (info) {
        info->config_num_labels = c->num_labels;
        info->config_problem_type = p != NULL;
    }
    return DS_OK;
}

void ds_hf_bert_info_free(ds_hf_bert_info *info) {
    for (int64_t i = 0; info->id2label && i < info->config_num_labels; i++) free(info->id2label[i]);
    free(info->id2label);
    memset(info, 0, sizeof *info);
}

// id2label names for a config without them: HF's "LABEL_i".
static ds_status default_names(ds_err *err, ds_hf_bert_info *info) {
    info->id2label = calloc((size_t)info->config_num_labels, sizeof *info->id2label);
    DS_REQUIRE(err, info->id2label, DS_ERR_OOM, "out of memory for label names");
    for (int64_t i = 0; i < info->config_num_labels; i++) {
        char name[32];
        snprintf(name, sizeof name, "LABEL_%lld", (long long)i);
        info->id2label[i] = strdup(name);
        DS_REQUIRE(err, info->id2label[i], DS_ERR_OOM, "out of memory for label names");
    }
    return DS_OK;
}

ds_status ds_hf_bert_read_config(ds_context *ctx, const char *config_path, ds_bert_config *cfg,
                                 ds_hf_bert_info *info) {
    memset(cfg, 0, sizeof *cfg);
    if (info) memset(info, 0, sizeof *info);
    char *text;
    DS_TRY(read_text(config_path, &text, &ctx->err));
    const char *stop = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &stop, 1);
    if (!root) {
        const long at = stop ? (long)(stop - text) : -1;
        free(text);
        return ds_err_set(&ctx->err, DS_ERR_FORMAT, "%s: not valid JSON (parsing stopped at byte %ld)", config_path,
                          at);
    }
    free(text);
    const json_doc d = {config_path, root, &ctx->err};
    ds_status s = cJSON_IsObject(root) ? read_fields(&d, cfg, info)
                                       : ds_err_set(&ctx->err, DS_ERR_FORMAT, "%s: the top level must be a JSON object",
                                                    config_path);
    cJSON_Delete(root);
    if (s == DS_OK && info && !info->id2label) s = default_names(&ctx->err, info);
    if (s != DS_OK && info) ds_hf_bert_info_free(info);
    return s;
}
