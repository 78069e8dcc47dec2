// Wav2Vec2ForCTC: configuration checks, parameter layout (HF state_dict order and names), name
// mapping, initial values. The passes are in w2v_pass.c, the batch staging in w2v_batch.c.
#include "w2v.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../../runtime/base/philox.h"
#include "../common/device_memory.h"
#include "../common/param_init.h"
#include "w2v_internal.h"

enum { SITE_BITS = 20 };

uint64_t ds_w2v_rng_offset(uint64_t rng_step, uint64_t site) { return (rng_step << SITE_BITS) + site; }

ds_w2v_config ds_w2v_config_default(void) {
    ds_w2v_config c = {
        .vocab_size = 32, .hidden = 768, .layers = 12, .heads = 12, .intermediate = 3072, .conv_layers = 7,
        .conv_dim = {512, 512, 512, 512, 512, 512, 512}, .conv_kernel = {10, 3, 3, 3, 3, 2, 2},
        .conv_stride = {5, 2, 2, 2, 2, 2, 2}, .conv_bias = false, .feat_extract_norm = DS_W2V_NORM_GROUP,
        .num_conv_pos_embeddings = 128, .num_conv_pos_embedding_groups = 16, .do_stable_layer_norm = false,
        .layer_norm_eps = 1e-5, .hidden_dropout = 0.1f, .activation_dropout = 0.1f, .attention_dropout = 0.1f,
        .feat_proj_dropout = 0.0f, .final_dropout = 0.1f, .layerdrop = 0.1f, .initializer_range = 0.02,
        .apply_spec_augment = true, .mask_time_prob = 0.05, .mask_time_length = 10, .mask_time_min_masks = 2,
        .mask_feature_prob = 0.0, .mask_feature_length = 10, .mask_feature_min_masks = 0, .pad_token_id = 0,
        .ctc_loss_reduction = DS_CTC_SUM, .ctc_zero_infinity = false, .use_attention_mask = false,
        .freeze_feature_encoder = false};
    return c;
}

static ds_status check_prob(ds_err *err, const char *name, double p, bool one_ok) {
    DS_REQUIRE(err, p >= 0 && (one_ok ? p <= 1 : p < 1), DS_ERR_INVALID_ARG, "wav2vec2 config: %s = %g must lie in [0, %s",
               name, p, one_ok ? "1]" : "1)");
    return DS_OK;
}

static ds_status check_config(ds_err *err, const ds_w2v_config *c) {
    const struct {
        const char *name;
        int64_t v;
    } sizes[] = {{"vocab_size", c->vocab_size}, {"hidden_size", c->hidden}, {"num_attention_heads", c->heads},
                 {"intermediate_size", c->intermediate}, {"num_conv_pos_embeddings", c->num_conv_pos_embeddings},
                 {"num_conv_pos_embedding_groups", c->num_conv_pos_embedding_groups},
                 {"mask_time_length", c->mask_time_length}, {"mask_feature_length", c->mask_feature_length}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        DS_REQUIRE(err, sizes[i].v >= 1 && sizes[i].v <= INT32_MAX, DS_ERR_INVALID_ARG,
                   "wav2vec2 config: %s = %lld must lie in [1, 2^31)", sizes[i].name, (long long)sizes[i].v);
    DS_REQUIRE(err, c->layers >= 0 && 4 * c->layers + 8 < (1 << SITE_BITS), DS_ERR_INVALID_ARG,
               "wav2vec2 config: num_hidden_layers = %lld is out of range", (long long)c->layers);
    DS_REQUIRE(err, c->hidden % c->heads == 0, DS_ERR_INVALID_ARG,
               "wav2vec2 config: hidden_size %lld is not a multiple of num_attention_heads %lld", (long long)c->hidden,
               (long long)c->heads);
    DS_REQUIRE(err, c->hidden % c->num_conv_pos_embedding_groups == 0, DS_ERR_INVALID_ARG,
               "wav2vec2 config: hidden_size %lld is not a multiple of num_conv_pos_embedding_groups %lld",
               (long long)c->hidden, (long long)c->num_conv_pos_embedding_groups);
    DS_REQUIRE(err, c->conv_layers >= 1 && c->conv_layers <= DS_W2V_MAX_CONV, DS_ERR_INVALID_ARG,
               "wav2vec2 config: conv_dim has %d entries; 1 to %d are supported", c->conv_layers, DS_W2V_MAX_CONV);
    for (int i = 0; i < c->conv_layers; i++)
        DS_REQUIRE(err, c->conv_dim[i] >= 1 && c->conv_kernel[i] >= 1 && c->conv_stride[i] >= 1, DS_ERR_INVALID_ARG,
                   "wav2vec2 config: conv layer %d has conv_dim %lld, conv_kernel %lld, conv_stride %lld (all must be "
                   ">= 1)", i, (long long)c->conv_dim[i], (long long)c->conv_kernel[i], (long long)c->conv_stride[i]);
    DS_REQUIRE(err, (unsigned)c->feat_extract_norm <= DS_W2V_NORM_LAYER, DS_ERR_INVALID_ARG,
               "wav2vec2 config: feat_extract_norm must be \"group\" or \"layer\"");
    DS_REQUIRE(err, c->layer_norm_eps > 0 && isfinite(c->layer_norm_eps), DS_ERR_INVALID_ARG,
               "wav2vec2 config: layer_norm_eps = %g must be > 0", c->layer_norm_eps);
    DS_REQUIRE(err, c->initializer_range >= 0 && isfinite(c->initializer_range), DS_ERR_INVALID_ARG,
               "wav2vec2 config: initializer_range = %g must be >= 0", c->initializer_range);
    DS_TRY(check_prob(err, "hidden_dropout", c->hidden_dropout, false));
    DS_TRY(check_prob(err, "activation_dropout", c->activation_dropout, false));
    DS_TRY(check_prob(err, "attention_dropout", c->attention_dropout, false));
    DS_TRY(check_prob(err, "feat_proj_dropout", c->feat_proj_dropout, false));
    DS_TRY(check_prob(err, "final_dropout", c->final_dropout, false));
    DS_TRY(check_prob(err, "layerdrop", c->layerdrop, true));
    DS_TRY(check_prob(err, "mask_time_prob", c->mask_time_prob, true));
    DS_TRY(check_prob(err, "mask_feature_prob", c->mask_feature_prob, true));
    DS_REQUIRE(err, c->mask_time_min_masks >= 0 && c->mask_feature_min_masks >= 0, DS_ERR_INVALID_ARG,
               "wav2vec2 config: mask_time_min_masks and mask_feature_min_masks must be >= 0");
    DS_REQUIRE(err, c->pad_token_id >= 0 && c->pad_token_id < c->vocab_size, DS_ERR_INVALID_ARG,
               "wav2vec2 config: pad_token_id = %lld (the CTC blank) must be a token of [0, vocab_size = %lld)",
               (long long)c->pad_token_id, (long long)c->vocab_size);
    DS_REQUIRE(err, c->ctc_loss_reduction == DS_CTC_MEAN || c->ctc_loss_reduction == DS_CTC_SUM, DS_ERR_INVALID_ARG,
               "wav2vec2 config: ctc_loss_reduction must be \"mean\" or \"sum\"");
    return DS_OK;
}

static bool has_masked_spec_embed(const ds_w2v_config *c) { return c->mask_time_prob > 0 || c->mask_feature_prob > 0; }

ds_w2v_fe_dims ds_w2v_fe_dims_of(const ds_w2v_config *c) {
    ds_w2v_fe_dims d = {.layers = c->conv_layers, .bias = c->conv_bias,
                        .layer_norm = c->feat_extract_norm == DS_W2V_NORM_LAYER, .frozen = c->freeze_feature_encoder};
    for (int i = 0; i < c->conv_layers; i++)
        d.dim[i] = c->conv_dim[i], d.kernel[i] = c->conv_kernel[i], d.stride[i] = c->conv_stride[i];
    return d;
}

// HF's names and order of an encoder layer's tensors: k, v, q, out projections, layer_norm (the
// attention block's), the feed-forward's two linears, final_layer_norm (the feed-forward block's).
static const ds_tl_names k_w2v_names = {
    .name = {
        [DS_TL_Q_W] = "attention.q_proj.weight",     [DS_TL_Q_B] = "attention.q_proj.bias",
        [DS_TL_K_W] = "attention.k_proj.weight",     [DS_TL_K_B] = "attention.k_proj.bias",
        [DS_TL_V_W] = "attention.v_proj.weight",     [DS_TL_V_B] = "attention.v_proj.bias",
        [DS_TL_AO_W] = "attention.out_proj.weight",  [DS_TL_AO_B] = "attention.out_proj.bias",
        [DS_TL_LN1_W] = "layer_norm.weight",         [DS_TL_LN1_B] = "layer_norm.bias",
        [DS_TL_I_W] = "feed_forward.intermediate_dense.weight", [DS_TL_I_B] = "feed_forward.intermediate_dense.bias",
        [DS_TL_O_W] = "feed_forward.output_dense.weight",       [DS_TL_O_B] = "feed_forward.output_dense.bias",
        [DS_TL_LN2_W] = "final_layer_norm.weight",   [DS_TL_LN2_B] = "final_layer_norm.bias",
    },
    .slot = {
        [DS_TL_K_W] = 0, [DS_TL_K_B] = 1, [DS_TL_V_W] = 2, [DS_TL_V_B] = 3, [DS_TL_Q_W] = 4, [DS_TL_Q_B] = 5,
        [DS_TL_AO_W] = 6, [DS_TL_AO_B] = 7, [DS_TL_LN1_W] = 8, [DS_TL_LN1_B] = 9, [DS_TL_I_W] = 10,
        [DS_TL_I_B] = 11, [DS_TL_O_W] = 12, [DS_TL_O_B] = 13, [DS_TL_LN2_W] = 14, [DS_TL_LN2_B] = 15,
    },
};

const ds_tl_names *ds_w2v_layer_names(void) { return &k_w2v_names; }

static void add_spec(ds_param_spec *specs, int *n, const char *name, int ndim, int64_t d0, int64_t d1) {
    ds_param_spec *s = &specs[(*n)++];
    *s = (ds_param_spec){0};
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ndim = ndim;
    s->shape[0] = d0;
    s->shape[1] = d1;
    s->decay = ds_w2v_decays(name);
}

ds_status ds_w2v_create(ds_context *ctx, const ds_w2v_config *cfg, ds_w2v_model *m) {
    memset(m, 0, sizeof *m);
    DS_TRY(check_config(&ctx->err, cfg));
    m->cfg = *cfg;
    const ds_w2v_fe_dims fd = ds_w2v_fe_dims_of(cfg);
    const int count = 1 + ds_w2v_fe_param_count(&fd) + 4 + DS_W2V_POS_PARAM_COUNT + 2 +
                      (int)cfg->layers * DS_TL_PARAM_COUNT + 2;
    ds_param_spec *specs = calloc((size_t)count, sizeof *specs);
    const size_t nl = (size_t)(cfg->layers > 0 ? cfg->layers : 1);
    m->saved.layers = calloc(nl, sizeof *m->saved.layers);
    m->saved.layer_dropped = calloc(nl, sizeof *m->saved.layer_dropped);
    if (!specs || !m->saved.layers || !m->saved.layer_dropped) {
        free(specs);
        ds_w2v_free(m);
        return ds_err_set(&ctx->err, DS_ERR_OOM, "wav2vec2: out of memory for %d parameter specs", count);
    }
    const int64_t H = cfg->hidden, C = cfg->conv_dim[cfg->conv_layers - 1];
    int n = 0;
    m->at.masked_spec_embed = -1;
    if (has_masked_spec_embed(cfg)) {
        m->at.masked_spec_embed = n;
        add_spec(specs, &n, "wav2vec2.masked_spec_embed", 1, H, 0);
    }
    m->at.feature_encoder = n;
    ds_w2v_fe_specs(&fd, "wav2vec2.feature_extractor.", specs, &n);
    m->at.feature_encoder_end = n;
    m->at.projection = n;
    add_spec(specs, &n, "wav2vec2.feature_projection.layer_norm.weight", 1, C, 0);
    add_spec(specs, &n, "wav2vec2.feature_projection.layer_norm.bias", 1, C, 0);
    add_spec(specs, &n, "wav2vec2.feature_projection.projection.weight", 2, H, C);
    add_spec(specs, &n, "wav2vec2.feature_projection.projection.bias", 1, H, 0);
    m->at.pos_conv = n;
    const ds_w2v_pos_dims pd = {.hidden = H, .kernel = cfg->num_conv_pos_embeddings,
                                .groups = cfg->num_conv_pos_embedding_groups};
    ds_w2v_pos_specs(&pd, "wav2vec2.encoder.pos_conv_embed.", specs, &n);
    m->at.encoder_norm = n;
    add_spec(specs, &n, "wav2vec2.encoder.layer_norm.weight", 1, H, 0);
    add_spec(specs, &n, "wav2vec2.encoder.layer_norm.bias", 1, H, 0);
    m->at.first_layer = n;
    const ds_tl_dims ld = {.hidden = H, .heads = cfg->heads, .intermediate = cfg->intermediate};
    for (int64_t i = 0; i < cfg->layers; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "wav2vec2.encoder.layers.%lld.", (long long)i);
        ds_tl_specs(&ld, &k_w2v_names, prefix, specs, &n);
    }
    m->at.lm_head = n;
    add_spec(specs, &n, "lm_head.weight", 2, cfg->vocab_size, H);
    add_spec(specs, &n, "lm_head.bias", 1, cfg->vocab_size, 0);
    const ds_status s = ds_param_block_init(&m->params, specs, n, &ctx->err);
    free(specs);
    if (s != DS_OK) ds_w2v_free(m);
    return s;
}

void ds_w2v_free(ds_w2v_model *m) {
    ds_param_block_free(&m->params);
    free(m->saved.layers);
    free(m->saved.layer_dropped);
    free(m->host_scratch);
    free(m->host_logits);
    memset(m, 0, sizeof *m);
}

int64_t ds_w2v_output_frames(const ds_w2v_config *cfg, int64_t samples) {
    int64_t l = samples;
    for (int i = 0; i < cfg->conv_layers; i++) {
        if (l < cfg->conv_kernel[i]) return 0;
        l = (l - cfg->conv_kernel[i]) / cfg->conv_stride[i] + 1;
    }
    return l;
}

// ---- names ----

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

// The two spellings of the positional conv's weight norm (torch.nn.utils.weight_norm / the
// parametrization), as suffixes of the same module path.
static const char *const k_legacy[2] = {".conv.weight_g", ".conv.weight_v"};
static const char *const k_param[2] = {".conv.parametrizations.weight.original0",
                                       ".conv.parametrizations.weight.original1"};

int ds_w2v_param_index(const ds_w2v_model *m, const char *checkpoint_name) {
    for (int k = 0; k < 2; k++) {
        if (!ends_with(checkpoint_name, k_legacy[k])) continue;
        char name[256];
        const size_t stem = strlen(checkpoint_name) - strlen(k_legacy[k]);
        if (stem + strlen(k_param[k]) + 1 > sizeof name) return -1;
        memcpy(name, checkpoint_name, stem);
        strcpy(name + stem, k_param[k]);
        return ds_param_block_find(&m->params, name);
    }
    return ds_param_block_find(&m->params, checkpoint_name);
}

bool ds_w2v_block_name(const ds_w2v_model *m, const char *checkpoint_name, char *dst, size_t cap) {
    const int i = ds_w2v_param_index(m, checkpoint_name);
    if (i < 0) return false;
    snprintf(dst, cap, "%s", m->params.specs[i].name);
    return true;
}

const char *ds_w2v_legacy_name(const char *name, char *buf, size_t cap) {
    for (int k = 0; k < 2; k++) {
        if (!ends_with(name, k_param[k])) continue;
        const size_t stem = strlen(name) - strlen(k_param[k]);
        snprintf(buf, cap, "%.*s%s", (int)stem, name, k_legacy[k]);
        return buf;
    }
    snprintf(buf, cap, "%s", name);
    return buf;
}

bool ds_w2v_decays(const char *name) {
    char low[256];
    size_t n = 0;
    for (; name[n] && n + 1 < sizeof low; n++) low[n] = (char)tolower((unsigned char)name[n]);
    low[n] = 0;
    if (strstr(low, "bias") || strstr(low, "layernorm") || strstr(low, "rmsnorm")) return false;
    // (?:^|\.)norm(?:$|\.) and _norm(?:$|\.): a component "norm", or a component ending in "_norm".
    for (const char *p = low; (p = strstr(p, "norm")) != NULL; p++) {
        const char after = p[4];
        if (after != 0 && after != '.') continue;
        if (p == low || p[-1] == '.' || p[-1] == '_') return false;
    }
    return true;
}

// ---- initial values ----

static const ds_param_spec *spec_of(const ds_w2v_model *m, int i) { return &m->params.specs[i]; }

// U(-k, k) from the Philox stream of tensor i.
static void init_uniform(float *x, int64_t n, double k, uint64_t seed, uint64_t offset) {
    for (int64_t j = 0; j < n; j++) x[j] = (float)(k * (2.0 * ds_philox_uniform(seed, offset, (uint64_t)j) - 1.0));
}

void ds_w2v_init_param(const ds_context *ctx, ds_w2v_model *m, int i) {
    const ds_tensor p = ds_param_block_param(&m->params, i);
    const ds_param_spec *s = spec_of(m, i);
    const char *name = s->name;
    float *x = p.data;  // (numel) F32 host
    const int64_t n = ds_tensor_numel(&p);
    const uint64_t off = DS_W2V_INIT_OFFSET + (uint64_t)i;
    const ds_w2v_config *c = &m->cfg;
    if (i == m->at.masked_spec_embed) {
        init_uniform(x, n, 0.5, ctx->seed, off);  // U(0, 1): U(-0.5, 0.5) shifted
        for (int64_t j = 0; j < n; j++) x[j] += 0.5f;
    } else if (i >= m->at.feature_encoder && i < m->at.feature_encoder_end) {
        if (ends_with(name, "conv.weight")) {  // kaiming_normal_: std sqrt(2 / fan_in)
            ds_init_normal(x, n, sqrt(2.0 / (double)(s->shape[1] * s->shape[2])), ctx->seed, off);
        } else if (ends_with(name, "conv.bias")) {  // U(-k, k), k = sqrt(groups / (in K)) of the conv before it
            const ds_param_spec *w = spec_of(m, i - 1);
            init_uniform(x, n, sqrt(1.0 / (double)(w->shape[1] * w->shape[2])), ctx->seed, off);
        } else {
            ds_init_fill(x, n, ends_with(name, ".weight") ? 1.0f : 0.0f);  // GroupNorm / LayerNorm
        }
    } else if (i == m->at.projection || i == m->at.projection + 1) {
        ds_init_fill(x, n, i == m->at.projection ? 1.0f : 0.0f);
    } else if (i == m->at.projection + 2 || i == m->at.projection + 3) {  // U(-k, k), k = 1/sqrt(in)
        init_uniform(x, n, 1.0 / sqrt((double)c->conv_dim[c->conv_layers - 1]), ctx->seed, off);
    } else if (i == m->at.pos_conv + DS_W2V_POS_BIAS) {
        ds_init_fill(x, n, 0.0f);
    } else if (i == m->at.pos_conv + DS_W2V_POS_V || i == m->at.pos_conv + DS_W2V_POS_G) {
        // v ~ N(0, 2 sqrt(1 / (K H))) and g = ||v|| per tap: weight_norm's initialisation of the
        // weight HF draws (so that w = v at the start). Both are set from v's stream.
        const int iv = m->at.pos_conv + DS_W2V_POS_V, ig = m->at.pos_conv + DS_W2V_POS_G;
        const ds_tensor v = ds_param_block_param(&m->params, iv), g = ds_param_block_param(&m->params, ig);
        const int64_t K = c->num_conv_pos_embeddings, rows = ds_tensor_numel(&v) / K;
        float *vx = v.data, *gx = g.data;
        ds_init_normal(vx, ds_tensor_numel(&v), 2.0 * sqrt(1.0 / (double)(K * c->hidden)), ctx->seed,
                       DS_W2V_INIT_OFFSET + (uint64_t)iv);
        for (int64_t k = 0; k < K; k++) {
            double sq = 0;
            for (int64_t r = 0; r < rows; r++) sq += (double)vx[r * K + k] * vx[r * K + k];
            gx[k] = (float)sqrt(sq);
        }
    } else if (s->ndim == 1 && (ends_with(name, "norm.weight"))) {
        ds_init_fill(x, n, 1.0f);
    } else if (s->ndim == 1) {
        ds_init_fill(x, n, 0.0f);  // biases and LayerNorm biases
    } else {
        ds_init_normal(x, n, c->initializer_range, ctx->seed, off);  // Linear weights
    }
}

void ds_w2v_init_weights(const ds_context *ctx, ds_w2v_model *m) {
    for (int i = 0; i < m->params.count; i++) ds_w2v_init_param(ctx, m, i);
}

ds_status ds_w2v_zero_grads(ds_w2v_model *m) {
    if (m->params.device.kind == DS_DEVICE_CPU) {
        memset(m->params.grads, 0, m->params.total * sizeof(float));
        return DS_OK;
    }
    return ds_param_block_zero_grads((ds_context *)m->params.dev_owner, &m->params);
}

ds_status ds_w2v_to_device(ds_context *ctx, ds_w2v_model *m, ds_dtype act) {
    DS_REQUIRE(&ctx->err, act == DS_F32 || act == DS_BF16, DS_ERR_INVALID_ARG,
               "wav2vec2: activations must be F32 or BF16, not %s", ds_dtype_name(act));
    DS_REQUIRE(&ctx->err, act == DS_F32 || ctx->device.kind == DS_DEVICE_CUDA, DS_ERR_INVALID_ARG,
               "wav2vec2: bf16 activations need a CUDA device (the CPU backend computes in fp32)");
    DS_TRY(ds_param_block_to_device(ctx, &m->params, act == DS_BF16));
    m->act_dtype = act;
    return DS_OK;
}
