// Wav2Vec2ForCTC's behaviour beyond the parity fixtures: training randomness (dropouts, LayerDrop,
// SpecAugment) is deterministic per rng_step and differs across steps; LayerDrop of every layer
// equals a model without layers; SpecAugment in training feeds masked_spec_embed; the frozen
// feature encoder gets no gradient; one arena plan covers smaller batches; the CTC input lengths
// with and without an attention mask; HF's initialisation; and the errors a caller can cause
// (bf16 on the CPU among them).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/safetensors.h"
#include "../op_fixture.h"
#include "../w2v_fixture.h"

typedef struct fixture_io {
    ds_st_file f;
    ds_w2v_batch batch;
} fixture_io;

static bool open_io(ds_test *t, const char *name, fixture_io *io) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "wav2vec2/%s/io.safetensors", name);
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, ds_st_open(ds_test_fixture(rel, path, sizeof path), &io->f, &err) == DS_OK, "%s", err.msg))
        return false;
    ds_tensor audio, lengths, labels;
    const bool ok = ds_st_view(&io->f, "input_values", DS_F32, &audio, &err) == DS_OK &&
                    ds_st_view(&io->f, "lengths", DS_I32, &lengths, &err) == DS_OK &&
                    ds_st_view(&io->f, "labels", DS_I32, &labels, &err) == DS_OK;
    io->batch = (ds_w2v_batch){.B = audio.shape[0], .S = audio.shape[1], .audio = audio.data, .lengths = lengths.data,
                               .labels = labels.data, .label_len = labels.shape[1]};
    return ds_test_check(t, ok, "%s", err.msg);
}

// A model of fixture `name`'s weights with the config changed by `edit`.
static bool make(ds_test *t, const char *name, void (*edit)(ds_w2v_config *), ds_w2v_model *m) {
    ds_context ctx = ds_context_cpu();
    ds_w2v_config cfg;
    if (!ds_w2v_test_config(t, name, &cfg)) return false;
    if (edit) edit(&cfg);
    if (!ds_test_check(t, ds_w2v_create(&ctx, &cfg, m) == DS_OK, "create: %s", ctx.err.msg)) return false;
    char rel[256];
    snprintf(rel, sizeof rel, "wav2vec2/%s/model.safetensors", name);
    return ds_w2v_test_load(t, m, rel);
}

typedef struct pass {
    float loss;
    float *logits, *grads;
} pass;

static bool run_pass(ds_test *t, ds_context *ctx, ds_w2v_model *m, const ds_w2v_batch *b, bool training, uint64_t step,
                     pass *p) {
    size_t bytes = 0;
    ds_arena arena = {0};
    ds_w2v_output out;
    ds_w2v_zero_grads(m);
    const bool ok = ds_test_check(t, ds_w2v_arena_bytes(ctx, m, b->B, b->S, b->label_len, true, &bytes) == DS_OK &&
                                         ds_arena_init_cpu(&arena, bytes, &ctx->err) == DS_OK &&
                                         ds_w2v_forward(ctx, m, b, training, step, &arena, &out) == DS_OK &&
                                         ds_w2v_backward(ctx, m, 1.0, &arena, NULL) == DS_OK,
                                  "pass: %s", ctx->err.msg);
    if (ok) {
        p->loss = out.loss;
        p->logits = malloc(ds_tensor_nbytes(&out.logits));
        memcpy(p->logits, out.logits.data, ds_tensor_nbytes(&out.logits));
        p->grads = malloc(sizeof(float) * m->params.total);
        memcpy(p->grads, m->params.grads, sizeof(float) * m->params.total);
    }
    ds_arena_free(&arena);
    return ok;
}

static void noisy(ds_w2v_config *c) {
    c->hidden_dropout = 0.1f, c->attention_dropout = 0.1f, c->activation_dropout = 0.1f, c->feat_proj_dropout = 0.1f;
    c->final_dropout = 0.1f, c->layerdrop = 0.3f, c->mask_time_prob = 0.2, c->mask_feature_prob = 0.2;
    c->mask_feature_length = 4;
}

static void check_randomness(ds_test *t) {
    ds_w2v_model m;
    fixture_io io;
    if (!make(t, "post_ln_group", noisy, &m) || !open_io(t, "post_ln_group", &io)) return;
    ds_context ctx = ds_context_cpu();
    ds_w2v_batch b = io.batch;
    pass a = {0}, a2 = {0}, c = {0}, e = {0};
    const size_t nl = (size_t)(b.B * ds_w2v_output_frames(&m.cfg, b.S) * m.cfg.vocab_size);
    if (run_pass(t, &ctx, &m, &b, true, 5, &a) && run_pass(t, &ctx, &m, &b, true, 5, &a2) &&
        run_pass(t, &ctx, &m, &b, true, 6, &c) && run_pass(t, &ctx, &m, &b, false, 5, &e)) {
        ds_test_check(t, a.loss == a2.loss && memcmp(a.logits, a2.logits, nl * sizeof(float)) == 0 &&
                             memcmp(a.grads, a2.grads, sizeof(float) * m.params.total) == 0,
                      "a training pass is not reproducible for the same rng_step");
        ds_test_check(t, a.loss != c.loss, "rng_step 5 and 6 give the same loss %g: no randomness in training", a.loss);
        ds_test_check(t, a.loss != e.loss, "training and eval give the same loss %g", a.loss);
        // SpecAugment in training: masked_spec_embed gets a gradient; in eval it does not.
        const ds_tensor g = ds_param_block_grad(&m.params, m.at.masked_spec_embed);
        double sum_train = 0, sum_eval = 0;
        for (int64_t i = 0; i < ds_tensor_numel(&g); i++) {
            sum_train += fabs(a.grads[m.params.offset[m.at.masked_spec_embed] + i]);
            sum_eval += fabs(e.grads[m.params.offset[m.at.masked_spec_embed] + i]);
        }
        ds_test_check(t, sum_train > 0 && sum_eval == 0, "masked_spec_embed gradient: training %g (want > 0), eval %g (want 0)",
                      sum_train, sum_eval);
    }
    free(a.logits), free(a.grads), free(a2.logits), free(a2.grads), free(c.logits), free(c.grads), free(e.logits),
        free(e.grads);
    ds_st_close(&io.f);
    ds_w2v_free(&m);
}

static void drop_all(ds_w2v_config *c) {
    c->layerdrop = 1.0f;
    c->apply_spec_augment = false;
}
static void no_layers(ds_w2v_config *c) { c->layers = 0; }

// layerdrop = 1 skips every layer: the same as a model without layers (dropouts are 0 in the fixture).
static void check_layerdrop(ds_test *t) {
    ds_w2v_model m, z;
    fixture_io io;
    if (!make(t, "post_ln_group", drop_all, &m) || !open_io(t, "post_ln_group", &io)) return;
    ds_context ctx = ds_context_cpu();
    ds_w2v_config zc = m.cfg;
    no_layers(&zc);
    if (ds_test_check(t, ds_w2v_create(&ctx, &zc, &z) == DS_OK, "create: %s", ctx.err.msg)) {
        for (int i = 0; i < z.params.count; i++) {
            const int j = ds_param_block_find(&m.params, z.params.specs[i].name);
            const ds_tensor src = ds_param_block_param(&m.params, j), dst = ds_param_block_param(&z.params, i);
            memcpy(dst.data, src.data, ds_tensor_nbytes(&dst));
        }
        pass a = {0}, b = {0};
        if (run_pass(t, &ctx, &m, &io.batch, true, 3, &a) && run_pass(t, &ctx, &z, &io.batch, false, 0, &b)) {
            ds_test_check(t, a.loss == b.loss, "LayerDrop of every layer: loss %.7g, a model without layers %.7g", a.loss,
                          b.loss);
            double layer_grad = 0;
            for (size_t k = m.params.offset[m.at.first_layer]; k < m.params.offset[m.at.lm_head]; k++)
                layer_grad += fabs(a.grads[k]);
            ds_test_check(t, layer_grad == 0, "dropped layers got gradients (%g)", layer_grad);
        }
        free(a.logits), free(a.grads), free(b.logits), free(b.grads);
        ds_w2v_free(&z);
    }
    ds_st_close(&io.f);
    ds_w2v_free(&m);
}

static void freeze(ds_w2v_config *c) { c->freeze_feature_encoder = true; }

static void check_frozen_and_plan(ds_test *t) {
    ds_w2v_model m;
    fixture_io io;
    if (!make(t, "post_ln_group", freeze, &m) || !open_io(t, "post_ln_group", &io)) return;
    ds_context ctx = ds_context_cpu();
    bool frozen = true;
    for (int i = m.at.feature_encoder; i < m.at.feature_encoder_end; i++)
        frozen &= m.params.specs[i].kind == DS_PARAM_FROZEN && m.params.offset[i] < m.params.train_begin;
    ds_test_check(t, frozen, "freeze_feature_encoder: the conv stack is frozen and laid out first");
    // One plan for the full batch covers a smaller one (fewer rows, fewer samples, shorter labels).
    size_t bytes = 0, small = 0;
    ds_arena arena = {0};
    ds_w2v_output out;
    const ds_w2v_batch sb = {.B = 2, .S = 600, .audio = io.batch.audio, .lengths = NULL, .labels = io.batch.labels,
                             .label_len = 3};
    ds_test_check(t, ds_w2v_arena_bytes(&ctx, &m, io.batch.B, io.batch.S, io.batch.label_len, true, &bytes) == DS_OK &&
                         ds_w2v_arena_bytes(&ctx, &m, 2, 600, 3, true, &small) == DS_OK && small <= bytes &&
                         ds_arena_init_cpu(&arena, bytes, &ctx.err) == DS_OK,
                  "plan: %s", ctx.err.msg);
    ds_test_check(t, ds_w2v_forward(&ctx, &m, &io.batch, true, 0, &arena, &out) == DS_OK &&
                         ds_w2v_backward(&ctx, &m, 1.0, &arena, NULL) == DS_OK && arena.peak <= bytes,
                  "full batch in its plan: %s", ctx.err.msg);
    // Without an attention mask every row's CTC input length is the batch's frame count.
    bool frames = out.T == 39;
    for (int64_t r = 0; r < io.batch.B; r++)
        frames &= out.frames[r] == out.T && out.valid_frames[r] == ds_w2v_output_frames(&m.cfg, io.batch.lengths[r]);
    ds_test_check(t, frames, "no attention mask: frames = T for every row, valid_frames = each row's own");
    // Source rows of (2, 600) are not contiguous in (3, 800): give it its own audio.
    float *audio = calloc(2 * 600, sizeof(float));
    for (int i = 0; i < 2 * 600; i++) audio[i] = io.batch.audio[i];
    ds_w2v_batch sb2 = sb;
    sb2.audio = audio;
    int32_t labels[2 * 3] = {1, 2, -100, 3, 4, 5};
    sb2.labels = labels;
    ds_test_check(t, ds_w2v_forward(&ctx, &m, &sb2, true, 1, &arena, &out) == DS_OK &&
                         ds_w2v_backward(&ctx, &m, 1.0, &arena, NULL) == DS_OK && arena.peak <= bytes,
                  "a smaller batch in the larger plan: %s", ctx.err.msg);
    free(audio);
    ds_arena_free(&arena);
    ds_st_close(&io.f);
    ds_w2v_free(&m);
}

static void check_masked_frames(ds_test *t) {
    ds_w2v_model m;
    fixture_io io;
    if (!make(t, "stable_layer", NULL, &m) || !open_io(t, "stable_layer", &io)) return;
    ds_context ctx = ds_context_cpu();
    size_t bytes = 0;
    ds_arena arena = {0};
    ds_w2v_output out;
    if (ds_test_check(t, ds_w2v_arena_bytes(&ctx, &m, io.batch.B, io.batch.S, io.batch.label_len, false, &bytes) == DS_OK &&
                              ds_arena_init_cpu(&arena, bytes, &ctx.err) == DS_OK &&
                              ds_w2v_forward(&ctx, &m, &io.batch, false, 0, &arena, &out) == DS_OK,
                      "forward: %s", ctx.err.msg)) {
        bool ok = true;
        for (int64_t r = 0; r < io.batch.B; r++)
            ok &= out.frames[r] == out.valid_frames[r] && out.valid_frames[r] == ds_w2v_output_frames(&m.cfg, io.batch.lengths[r]);
        ds_test_check(t, ok && out.frames[2] < out.T, "attention mask: each row's CTC input length is its own frame count");
        // Errors a caller can cause.
        ds_w2v_batch b = io.batch;
        int32_t mt[3 * 39] = {0};
        b.mask_time_indices = mt;
        ds_test_error(t, "mask_time_indices without masked_spec_embed", &ctx.err,
                      ds_w2v_forward(&ctx, &m, &b, false, 0, &arena, &out), DS_ERR_INVALID_ARG, "masked_spec_embed");
        b = io.batch;
        int32_t lengths[3] = {800, 900, 10};
        b.lengths = lengths;
        ds_test_error(t, "a length beyond S", &ctx.err, ds_w2v_forward(&ctx, &m, &b, false, 0, &arena, &out),
                      DS_ERR_INVALID_ARG, "lengths[1] = 900");
        lengths[1] = 500;
        ds_test_error(t, "an utterance shorter than the receptive field", &ctx.err,
                      ds_w2v_forward(&ctx, &m, &b, false, 0, &arena, &out), DS_ERR_INVALID_ARG, "receptive field");
        b = io.batch;
        int32_t labels[3 * 2] = {1, 11, 2, 3, 4, -100};
        b.labels = labels, b.label_len = 2;
        ds_test_error(t, "a label beyond vocab_size", &ctx.err, ds_w2v_forward(&ctx, &m, &b, false, 0, &arena, &out),
                      DS_ERR_INVALID_ARG, "labels[0][1] = 11");
        b = io.batch;
        b.S = 20;  // 20 samples give no frame
        ds_test_error(t, "audio shorter than the receptive field", &ctx.err,
                      ds_w2v_forward(&ctx, &m, &b, false, 0, &arena, &out), DS_ERR_INVALID_ARG, "receptive field");
        b = io.batch;
        b.labels = NULL;
        ds_test_check(t, ds_w2v_forward(&ctx, &m, &b, false, 0, &arena, &out) == DS_OK && !out.has_loss,
                      "forward without labels: %s", ctx.err.msg);
        ds_test_error(t, "backward without labels", &ctx.err, ds_w2v_backward(&ctx, &m, 1.0, &arena, NULL),
                      DS_ERR_INVALID_ARG, "no labels");
    }
    ds_arena_free(&arena);
    ds_st_close(&io.f);
    ds_w2v_free(&m);
}

static void check_init(ds_test *t) {
    ds_context ctx = ds_context_cpu();
    ctx.seed = 42;
    ds_w2v_config cfg;
    if (!ds_w2v_test_config(t, "post_ln_group", &cfg)) return;
    ds_w2v_model m, m2;
    if (!ds_test_check(t, ds_w2v_create(&ctx, &cfg, &m) == DS_OK && ds_w2v_create(&ctx, &cfg, &m2) == DS_OK, "create: %s",
                       ctx.err.msg))
        return;
    ds_w2v_init_weights(&ctx, &m);
    ds_w2v_init_weights(&ctx, &m2);
    ds_test_check(t, memcmp(m.params.params, m2.params.params, sizeof(float) * m.params.total) == 0,
                  "initial values depend only on the seed");
    const ds_tensor lm = ds_param_block_param(&m.params, m.at.lm_head);
    double sq = 0;
    for (int64_t i = 0; i < ds_tensor_numel(&lm); i++) sq += (double)((float *)lm.data)[i] * ((float *)lm.data)[i];
    const double std = sqrt(sq / (double)ds_tensor_numel(&lm));
    ds_test_check(t, fabs(std - cfg.initializer_range) < 0.2 * cfg.initializer_range,
                  "lm_head ~ N(0, initializer_range): std %g for %g (352 draws: within 20%%)", std, cfg.initializer_range);
    // weight_norm's initialisation: g = ||v|| per tap, so that the normed weight is v.
    const int ig = m.at.pos_conv + DS_W2V_POS_G, iv = m.at.pos_conv + DS_W2V_POS_V;
    const ds_tensor g = ds_param_block_param(&m.params, ig), v = ds_param_block_param(&m.params, iv);
    const int64_t K = cfg.num_conv_pos_embeddings, rows = ds_tensor_numel(&v) / K;
    bool norms = true;
    for (int64_t k = 0; k < K; k++) {
        double s = 0;
        for (int64_t r = 0; r < rows; r++) s += (double)((float *)v.data)[r * K + k] * ((float *)v.data)[r * K + k];
        norms &= fabs(sqrt(s) - ((float *)g.data)[k]) <= 1e-6 * sqrt(s);
    }
    ds_test_check(t, norms, "positional conv: g = ||v|| per tap");
    const ds_tensor ln = ds_param_block_param(&m.params, m.at.encoder_norm);
    ds_test_check(t, ((float *)ln.data)[0] == 1.0f, "LayerNorm weights start at 1");
    ds_w2v_free(&m);
    ds_w2v_free(&m2);
}

static void check_config_errors(ds_test *t) {
    ds_context ctx = ds_context_cpu();
    ds_w2v_model m;
    ds_w2v_config c = ds_w2v_config_default();
    c.num_conv_pos_embedding_groups = 7;
    ds_test_error(t, "hidden not a multiple of the positional groups", &ctx.err, ds_w2v_create(&ctx, &c, &m),
                  DS_ERR_INVALID_ARG, "num_conv_pos_embedding_groups");
    c = ds_w2v_config_default();
    c.pad_token_id = 32;
    ds_test_error(t, "blank outside the vocabulary", &ctx.err, ds_w2v_create(&ctx, &c, &m), DS_ERR_INVALID_ARG,
                  "pad_token_id = 32");
    c = ds_w2v_config_default();
    c.hidden_dropout = 1.0f;
    ds_test_error(t, "dropout of 1", &ctx.err, ds_w2v_create(&ctx, &c, &m), DS_ERR_INVALID_ARG, "hidden_dropout");
    c = ds_w2v_config_default();
    c.conv_layers = 0;
    ds_test_error(t, "no conv layer", &ctx.err, ds_w2v_create(&ctx, &c, &m), DS_ERR_INVALID_ARG, "conv_dim");
    // bf16 mixed precision needs CUDA (the CPU backend computes in fp32); F32 on the CPU moves nothing.
    ds_w2v_config tiny;
    if (ds_w2v_test_config(t, "post_ln_group", &tiny) &&
        ds_test_check(t, ds_w2v_create(&ctx, &tiny, &m) == DS_OK, "create: %s", ctx.err.msg)) {
        ds_test_error(t, "bf16 on the CPU", &ctx.err, ds_w2v_to_device(&ctx, &m, DS_BF16), DS_ERR_INVALID_ARG,
                      "need a CUDA device");
        ds_test_check(t, m.act_dtype == DS_F32 && m.params.params_bf16_dev == NULL, "a refused bf16 changes nothing");
        ds_test_check(t, ds_w2v_to_device(&ctx, &m, DS_F32) == DS_OK && m.act_dtype == DS_F32, "F32 on the CPU: %s",
                      ctx.err.msg);
        ds_w2v_free(&m);
    }
}

int main(void) {
    ds_test t = ds_test_begin("w2v_model");
    check_randomness(&t);
    check_layerdrop(&t);
    check_frozen_and_plan(&t);
    check_masked_frames(&t);
    check_init(&t);
    check_config_errors(&t);
    return ds_test_finish(&t);
}
