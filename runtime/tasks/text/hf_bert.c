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
#include "../../io/safetensors.h"

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

// Appends `name` to a comma-separated list, up to LIST_CAP characters; the count goes on.
static void list_add(char *list, int *count, const char *name) {
    const size_t n = strlen(list);
    if (n + strlen(name) + 8 < LIST_CAP) snprintf(list + n, LIST_CAP - n, "%s%s", n ? ", " : "", name);
    else if (n + 5 < LIST_CAP && !ends_with(list, "...")) snprintf(list + n, LIST_CAP - n, ", ...");
    (*count)++;
}

static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, ")");
    return buf;
}

static bool same_shape(const ds_st_tensor *t, const ds_param_spec *s) {
    if (t->ndim != s->ndim) return false;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] != s->shape[i]) return false;
    return true;
}

// Copies checkpoint tensor t into dst (numel F32 host), converting F16/BF16.
static ds_status copy_converted(const char *path, const ds_st_tensor *t, float *dst, int64_t numel, ds_err *err) {
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case DS_F32:
        memcpy(dst, src, (size_t)numel * sizeof(float));
        return DS_OK;
    case DS_F16:
    case DS_BF16:
        for (int64_t i = 0; i < numel; i++) {
            unsigned short h;
            memcpy(&h, src + 2 * i, sizeof h);  // little-endian file, little-endian host
            dst[i] = t->dtype == DS_F16 ? ds_f16_to_f32(h) : ds_bf16_to_f32(h);
        }
        return DS_OK;
    default:
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s' has dtype %s; downstream reads F32, F16 or BF16 weights",
                          path, t->name, ds_dtype_name(t->dtype));
    }
}

static bool is_classifier(const ds_bert_model *m, int i) {
    return i == m->first_head_param + DS_BH_CLS_W || i == m->first_head_param + DS_BH_CLS_B;
}

// The classifier of a checkpoint made for another label count: only the label dimension differs.
static bool label_count_differs(const ds_bert_model *m, int i, const ds_st_tensor *t) {
    const ds_param_spec *s = &m->params.specs[i];
    return is_classifier(m, i) && t->ndim == s->ndim && (s->ndim == 1 || t->shape[1] == s->shape[1]);
}

// Fills m's parameters from the open checkpoint f; *from[i] records which tensor filled param i.
static ds_status load_tensors(ds_context *ctx, const ds_st_file *f, ds_bert_model *m, ds_hf_bert_info *info) {
    ds_err *err = &ctx->err;
    const ds_param_block *pb = &m->params;
    int *from = malloc((size_t)pb->count * sizeof *from);  // checkpoint tensor that filled param i; -1 none, -2 reinit
    DS_REQUIRE(err, from, DS_ERR_OOM, "%s: out of memory", f->path);
    for (int i = 0; i < pb->count; i++) from[i] = -1;
    char ignored[LIST_CAP] = "", name[256], s0[96], s1[96];
    ds_status st = DS_OK;
    for (int k = 0; k < f->count && st == DS_OK; k++) {
        const ds_st_tensor *t = &f->tensors[k];
        const int i = canonical_name(t->name, name, sizeof name) ? ds_param_block_find(pb, name) : -1;
        if (i < 0) {
            DS_LOG_DEBUG(&ctx->log, "%s: ignoring tensor '%s' %s: the model has no '%s'", f->path, t->name,
                         shape_str(t->ndim, t->shape, s0, sizeof s0), name);
            list_add(ignored, &info->ignored, t->name);
            continue;
        }
        const ds_param_spec *s = &pb->specs[i];
        if (from[i] >= 0) {
            st = ds_err_set(err, DS_ERR_FORMAT, "%s: tensors '%s' and '%s' both hold the model's '%s'", f->path,
                            f->tensors[from[i]].name, t->name, s->name);
        } else if (!same_shape(t, s) && label_count_differs(m, i, t)) {
            // HF's ignore_mismatched_sizes: a head trained for other labels is started afresh.
            DS_LOG_WARN(&ctx->log, "%s: '%s' is %s but the model's %s is %s (num_labels %lld): re-initialised", f->path,
                        t->name, shape_str(t->ndim, t->shape, s0, sizeof s0), s->name,
                        shape_str(s->ndim, s->shape, s1, sizeof s1), (long long)m->cfg.num_labels);
            from[i] = -2;
        } else if (!same_shape(t, s)) {
            st = ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s' has shape %s but the model's '%s' is %s; does "
                            "config.json describe this checkpoint?", f->path, t->name,
                            shape_str(t->ndim, t->shape, s0, sizeof s0), s->name,
                            shape_str(s->ndim, s->shape, s1, sizeof s1));
        } else {
            const ds_tensor p = ds_param_block_param(pb, i);
            st = copy_converted(f->path, t, p.data, ds_tensor_numel(&p), err);
            from[i] = k;
            info->loaded++;
        }
    }
    char missing[LIST_CAP] = "", fresh[LIST_CAP] = "";
    int n_missing = 0;
    for (int i = 0; st == DS_OK && i < pb->count; i++) {
        if (from[i] >= 0) continue;
        if (i >= m->first_head_param) {  // pooler or classifier: a new head, as HF initialises it
            ds_bert_init_param(ctx, m, i);
            list_add(fresh, &info->initialised, pb->specs[i].name);
        } else {
            list_add(missing, &n_missing, pb->specs[i].name);
        }
    }
    free(from);
    if (st != DS_OK) return st;
    if (n_missing > 0)
        return ds_err_set(err, DS_ERR_FORMAT, "%s lacks %d of the model's tensors: %s; is it a BERT checkpoint of "
                          "the shape config.json describes?", f->path, n_missing, missing);
    if (info->ignored > 0)
        DS_LOG_INFO(&ctx->log, "%s: %d tensors not used by the model (ignored): %s", f->path, info->ignored, ignored);
    if (info->initialised > 0)
        DS_LOG_INFO(&ctx->log, "%s: %d tensors not in the checkpoint, initialised as HF does (weights ~ Normal(0, %g), "
                    "biases 0; seed %llu): %s", f->path, info->initialised, m->cfg.initializer_range,
                    (unsigned long long)ctx->seed, fresh);
    DS_LOG_INFO(&ctx->log, "%s: loaded %d tensors", f->path, info->loaded);
    return DS_OK;
}

// Opens <dir>/model.safetensors, or says why there is none.
static ds_status open_weights(ds_context *ctx, const char *dir, ds_st_file *f) {
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
    return ds_st_open(path, f, &ctx->err);
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
        ds_st_file f;
        s = open_weights(ctx, dir, &f);
        if (s == DS_OK) {
            s = load_tensors(ctx, &f, m, in);
            ds_st_close(&f);
        }
        if (s != DS_OK) ds_bert_free(m);
    }
    if (s == DS_OK)
        DS_LOG_INFO(&ctx->log, "%s: BERT %lld layers, hidden %lld, %lld heads, %lld labels, %s", dir,
                    (long long)cfg.layers, (long long)cfg.hidden, (long long)cfg.heads, (long long)cfg.num_labels,
                    ds_problem_type_name(cfg.problem_type));
    if (s != DS_OK || !info) ds_hf_bert_info_free(in);
    return s;
}
