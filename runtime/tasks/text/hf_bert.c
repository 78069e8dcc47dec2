// Hugging Face BERT checkpoint -> ds_bert_model: name mapping (prefix, legacy LayerNorm names),
// shape and dtype checks, F16/BF16 -> F32, and HF's handling of missing and unexpected tensors
// (see hf_bert.h). config.json is read by hf_bert_config.c.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../base/check.h"
#include "../../base/dtype.h"
#include "hf_bert.h"
#include "../../io/tensor_source.h"
#include "../../io/weight_loader.h"

enum { LIST_CAP = 600 };  // characters of tensor names quoted in one log line or message

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

// The model's name for checkpoint tensor `src`: a bare BertModel's names gain the "bert." prefix;
// the legacy "LayerNorm.gamma"/"LayerNorm.beta" become ".weight"/".bias" (as transformers renames
// them on load). Returns false when the name cannot be one of the model's (too long).
static bool canonical_name(const char *src, char *dst, size_t cap) {
    const bool bare = starts_with(src, "embeddings.") || starts_with(src, "encoder.") || starts_with(src, "pooler.");
    if ((size_t)snprintf(dst, cap, "%s%s", bare ? "bert." : "", src) >= cap) return false;
    const size_t n = strlen(dst);
    if (ends_with(dst, "LayerNorm.gamma")) snprintf(dst + n - strlen("gamma"), cap - (n - 5), "weight");
    else if (ends_with(dst, "LayerNorm.beta")) snprintf(dst + n - strlen("beta"), cap - (n - 4), "bias");
    return true;
}

static bool is_classifier(const ds_bert_model *m, int i) {
    return i == m->first_head_param + DS_BH_CLS_W || i == m->first_head_param + DS_BH_CLS_B;
}

// The weight loader's callbacks (runtime/io/weight_loader.h) for BERT.
typedef struct bert_map {
    ds_context *ctx;
    ds_bert_model *m;
} bert_map;

static bool bert_model_name(void *user, const char *name, char *dst, size_t cap) {
    (void)user;
    return canonical_name(name, dst, cap);
}

// The classifier of a checkpoint made for another label count (only the label dimension differs)
// is started afresh, as HF's ignore_mismatched_sizes; any other mismatch is an error.
static ds_weight_mismatch bert_on_mismatch(void *user, int i, const ds_tensor *found) {
    const bert_map *b = user;
    const ds_param_spec *s = &b->m->params.specs[i];
    const bool differs_in_labels_only =
        is_classifier(b->m, i) && found->ndim == s->ndim && (s->ndim == 1 || found->shape[1] == s->shape[1]);
    return differs_in_labels_only ? DS_WEIGHT_MISMATCH_REINIT : DS_WEIGHT_MISMATCH_ERROR;
}

// A pooler or classifier the checkpoint lacks is a new head, initialised as HF does; an encoder or
// embedding tensor is required.
static bool bert_init_missing(void *user, int i) {
    bert_map *b = user;
    if (i < b->m->first_head_param) return false;
    ds_bert_init_param(b->ctx, b->m, i);
    return true;
}

// Fills m's parameters from the open checkpoint.
static ds_status load_tensors(ds_context *ctx, const ds_tensor_source *src, ds_bert_model *m, ds_hf_bert_info *info) {
    bert_map b = {ctx, m};
    const ds_weight_map map = {.model_name = bert_model_name, .on_mismatch = bert_on_mismatch,
                               .init_missing = bert_init_missing, .user = &b,
                               .hint = "is it a BERT checkpoint of the shape config.json describes?"};
    ds_weight_report r;
    DS_TRY(ds_weights_load(ctx, src, &m->params, &map, &r));
    info->loaded = r.loaded;
    info->initialised = r.initialised;
    info->ignored = r.ignored;
    if (r.initialised > 0)
        DS_LOG_INFO(&ctx->log, "%s: %d tensors not in the checkpoint, initialised as HF does (weights ~ Normal(0, %g), "
                    "biases 0; seed %llu): %s", ds_tensor_source_path(src), r.initialised, m->cfg.initializer_range,
                    (unsigned long long)ctx->seed, r.initialised_names);
    return DS_OK;
}

// Opens <dir>/model.safetensors, or says why there is none.
static ds_status open_weights(ds_context *ctx, const char *dir, ds_tensor_source *f) {
    char path[4096], other[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!file_exists(path)) {
        snprintf(other, sizeof other, "%s/model.safetensors.index.json", dir);
        if (file_exists(other))
            return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED,
                              "%s holds a sharded checkpoint (%s); downstream reads one model.safetensors: save it "
                              "again with save_pretrained(dir, max_shard_size=\"100GB\")", dir, other);
        snprintf(other, sizeof other, "%s/pytorch_model.bin", dir);
        if (file_exists(other))
            return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED,
                              "%s has pytorch_model.bin but no model.safetensors; downstream reads safetensors only. "
                              "Convert it with: python -c \"import torch; from safetensors.torch import save_file; "
                              "sd = torch.load('%s', map_location='cpu'); save_file({k: v.clone().contiguous() for k, "
                              "v in sd.items()}, '%s', metadata={'format': 'pt'})\"", dir, other, path);
    }
    return ds_tensor_source_open(path, f, &ctx->err);
}

// Applies the caller's num_labels and problem type over config.json's.
static ds_status apply_options(ds_context *ctx, const char *dir, const ds_hf_bert_options *opt, ds_bert_config *cfg,
                               const ds_hf_bert_info *info) {
    if (opt && opt->num_labels > 0 && opt->num_labels != cfg->num_labels) {
        DS_LOG_INFO(&ctx->log, "%s/config.json has num_labels %lld, the dataset %lld: using %lld", dir,
                    (long long)cfg->num_labels, (long long)opt->num_labels, (long long)opt->num_labels);
        cfg->num_labels = opt->num_labels;
        if (!info->config_problem_type)  // HF's rule, again for the new count
            cfg->problem_type = cfg->num_labels == 1 ? DS_PROBLEM_REGRESSION : DS_PROBLEM_SINGLE_LABEL;
    }
    if (opt && opt->has_problem_type) cfg->problem_type = opt->problem_type;
    DS_REQUIRE(&ctx->err, !(cfg->problem_type == DS_PROBLEM_SINGLE_LABEL && cfg->num_labels == 1), DS_ERR_INVALID_ARG,
               "%s: single_label_classification needs num_labels > 1 (HF's rule); for two classes use "
               "num_labels 2, or regression for one output", dir);
    return DS_OK;
}

ds_status ds_hf_bert_load(ds_context *ctx, const char *dir, const ds_hf_bert_options *opt, ds_bert_model *m,
                          ds_hf_bert_info *info) {
    memset(m, 0, sizeof *m);
    ds_hf_bert_info local;
    ds_hf_bert_info *in = info ? info : &local;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    ds_bert_config cfg;
    DS_TRY(ds_hf_bert_read_config(ctx, path, &cfg, in));
    ds_status s = apply_options(ctx, dir, opt, &cfg, in);
    if (s == DS_OK) s = ds_bert_create(ctx, &cfg, m);
    if (s == DS_OK) {
        ds_tensor_source f = {0};
        s = open_weights(ctx, dir, &f);
        if (s == DS_OK) s = load_tensors(ctx, &f, m, in);
        ds_tensor_source_close(&f);
        if (s != DS_OK) ds_bert_free(m);
    }
    if (s == DS_OK)
        DS_LOG_INFO(&ctx->log, "%s: BERT %lld layers, hidden %lld, %lld heads, %lld labels, %s", dir,
                    (long long)cfg.layers, (long long)cfg.hidden, (long long)cfg.heads, (long long)cfg.num_labels,
                    ds_problem_type_name(cfg.problem_type));
    if (s != DS_OK || !info) ds_hf_bert_info_free(in);
    return s;
}
