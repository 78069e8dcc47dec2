// BertForSequenceClassification: creation, parameter layout and initial values. The passes are
// in bert_pass.c, the batch checks and staging in bert_batch.c.
#include "bert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/param_init.h"

enum { SITE_BITS = 20 };

uint64_t ds_bert_dropout_offset(uint64_t rng_step, uint64_t site) { return (rng_step << SITE_BITS) + site; }

float ds_bert_classifier_dropout(const ds_bert_config *cfg) {
    return cfg->classifier_dropout >= 0 ? cfg->classifier_dropout : cfg->hidden_dropout;
}

static ds_status check_dropout(ds_err *err, const char *name, float p) {
    DS_REQUIRE(err, p >= 0 && p < 1, DS_ERR_INVALID_ARG, "bert config: %s = %g must lie in [0, 1)", name, (double)p);
    return DS_OK;
}

static ds_status check_config(ds_err *err, const ds_bert_config *c) {
    const struct {
        const char *name;
        int64_t v;
    } sizes[] = {{"vocab_size", c->vocab_size},     {"hidden_size", c->hidden},
                 {"num_attention_heads", c->heads}, {"intermediate_size", c->intermediate},
                 {"max_position_embeddings", c->max_position}, {"type_vocab_size", c->type_vocab},
                 {"num_labels", c->num_labels}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        DS_REQUIRE(err, sizes[i].v >= 1 && sizes[i].v <= INT32_MAX, DS_ERR_INVALID_ARG,
                   "bert config: %s = %lld must lie in [1, 2^31)", sizes[i].name, (long long)sizes[i].v);
    DS_REQUIRE(err, c->layers >= 0 && 3 * c->layers + 2 < (1 << SITE_BITS), DS_ERR_INVALID_ARG,
               "bert config: num_hidden_layers = %lld must lie in [0, %d]", (long long)c->layers,
               ((1 << SITE_BITS) - 3) / 3);
    DS_REQUIRE(err, c->hidden % c->heads == 0, DS_ERR_INVALID_ARG,
               "bert config: hidden_size %lld is not a multiple of num_attention_heads %lld", (long long)c->hidden,
               (long long)c->heads);
    DS_REQUIRE(err, c->ln_eps > 0 && isfinite(c->ln_eps), DS_ERR_INVALID_ARG,
               "bert config: layer_norm_eps = %g must be > 0", c->ln_eps);
    DS_REQUIRE(err, c->initializer_range >= 0 && isfinite(c->initializer_range), DS_ERR_INVALID_ARG,
               "bert config: initializer_range = %g must be >= 0", c->initializer_range);
    DS_TRY(check_dropout(err, "hidden_dropout_prob", c->hidden_dropout));
    DS_TRY(check_dropout(err, "attention_probs_dropout_prob", c->attn_dropout));
    if (c->classifier_dropout >= 0) DS_TRY(check_dropout(err, "classifier_dropout", c->classifier_dropout));
    DS_REQUIRE(err, (unsigned)c->problem_type <= DS_PROBLEM_REGRESSION, DS_ERR_INVALID_ARG,
               "bert config: problem_type %d is not a ds_problem_type", (int)c->problem_type);
    DS_REQUIRE(err, c->pad_token_id >= -1 && c->pad_token_id < c->vocab_size, DS_ERR_INVALID_ARG,
               "bert config: pad_token_id = %lld is not a token of the vocabulary [0, %lld) (-1: none)",
               (long long)c->pad_token_id, (long long)c->vocab_size);
    return DS_OK;
}

ds_status ds_bert_create(ds_context *ctx, const ds_bert_config *cfg, ds_bert_model *m) {
    memset(m, 0, sizeof *m);
    DS_TRY(check_config(&ctx->err, cfg));
    m->cfg = *cfg;
    const int count = DS_BE_PARAM_COUNT + (int)cfg->layers * DS_BL_PARAM_COUNT + DS_BH_PARAM_COUNT;
    ds_param_spec *specs = calloc((size_t)count, sizeof *specs);
    m->saved.layers = calloc((size_t)(cfg->layers > 0 ? cfg->layers : 1), sizeof *m->saved.layers);
    if (!specs || !m->saved.layers) {
        free(specs);
        ds_bert_free(m);
        return ds_err_set(&ctx->err, DS_ERR_OOM, "bert: out of memory for %d parameter specs", count);
    }
    int n = 0;
    const ds_bert_embeddings_dims ed = {.vocab = cfg->vocab_size, .max_position = cfg->max_position,
                                        .type_vocab = cfg->type_vocab, .hidden = cfg->hidden};
    ds_bert_embeddings_specs(&ed, "bert.embeddings.", specs, &n);
    m->first_layer_param = n;
    const ds_bert_layer_dims ld = {.hidden = cfg->hidden, .heads = cfg->heads, .intermediate = cfg->intermediate};
    for (int64_t i = 0; i < cfg->layers; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "bert.encoder.layer.%lld.", (long long)i);
        ds_bert_layer_specs(&ld, prefix, specs, &n);
    }
    m->first_head_param = n;
    const ds_bert_head_dims hd = {.hidden = cfg->hidden, .num_labels = cfg->num_labels};
    ds_bert_head_specs(&hd, "bert.", specs, &n);
    const ds_status s = ds_param_block_init(&m->params, specs, n, &ctx->err);
    free(specs);
    if (s != DS_OK) ds_bert_free(m);
    return s;
}

void ds_bert_free(ds_bert_model *m) {
    ds_param_block_free(&m->params);
    free(m->saved.layers);
    free(m->host_out);
    memset(m, 0, sizeof *m);
}

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void ds_bert_init_param(const ds_context *ctx, ds_bert_model *m, int i) {
    const ds_tensor p = ds_param_block_param(&m->params, i);
    const char *name = m->params.specs[i].name;
    float *x = p.data;  // (numel) F32 host
    const int64_t n = ds_tensor_numel(&p);
    if (ends_with(name, "LayerNorm.weight")) {
        ds_init_fill(x, n, 1.0f);
    } else if (ends_with(name, ".bias")) {
        ds_init_fill(x, n, 0.0f);
    } else {
        ds_init_normal(x, n, m->cfg.initializer_range, ctx->seed, DS_BERT_INIT_OFFSET + (uint64_t)i);
        // HF zeroes the padding_idx row of an nn.Embedding after drawing it.
        if (i == DS_BE_WORD && m->cfg.pad_token_id >= 0)
            ds_init_fill(x + m->cfg.pad_token_id * m->cfg.hidden, m->cfg.hidden, 0.0f);
    }
}

void ds_bert_init_weights(const ds_context *ctx, ds_bert_model *m) {
    for (int i = 0; i < m->params.count; i++) ds_bert_init_param(ctx, m, i);
}

ds_status ds_bert_zero_grads(ds_bert_model *m) {
    if (m->params.device.kind == DS_DEVICE_CPU) {
        memset(m->params.grads, 0, m->params.total * sizeof(float));
        return DS_OK;
    }
    return ds_param_block_zero_grads((ds_context *)m->params.dev_owner, &m->params);
}

ds_status ds_bert_to_device(ds_context *ctx, ds_bert_model *m, ds_dtype act) {
    DS_REQUIRE(&ctx->err, act == DS_F32 || act == DS_BF16, DS_ERR_INVALID_ARG,
               "bert: activations must be F32 or BF16, not %s", ds_dtype_name(act));
    DS_REQUIRE(&ctx->err, act == DS_F32 || ctx->device.kind == DS_DEVICE_CUDA, DS_ERR_INVALID_ARG,
               "bert: bf16 activations need a CUDA device (the CPU backend computes in fp32)");
    DS_TRY(ds_param_block_to_device(ctx, &m->params, act == DS_BF16));
    m->act_dtype = act;
    return DS_OK;
}
