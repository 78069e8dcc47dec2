// BertForSequenceClassification's model code without golden data (test_bert_parity.c compares
// it with transformers): parameter names, order, shapes and weight-decay groups; the initial
// values of ds_bert_init_weights; dropout offsets; what ds_bert_create and ds_bert_forward
// refuse (config values, batch shapes and indices, labels of the wrong kind), each with a
// message naming the value; backward without a forward; an arena too small; and that dloss
// scales the gradients linearly.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../models/bert/bert.h"
#include "../op_fixture.h"
#include "../test_util.h"

static ds_bert_config tiny(void) {
    return (ds_bert_config){.vocab_size = 50, .hidden = 16, .layers = 2, .heads = 2, .intermediate = 24,
                            .max_position = 12, .type_vocab = 2, .ln_eps = 1e-12, .hidden_dropout = 0.1f,
                            .attn_dropout = 0.1f, .classifier_dropout = -1, .initializer_range = 0.5,
                            .num_labels = 3, .problem_type = DS_PROBLEM_SINGLE_LABEL, .pad_token_id = 0};
}

// HF's named_parameters() order and names for a 2-layer BertForSequenceClassification.
static void check_names(ds_test *t, const ds_bert_model *m) {
    static const char *const head[] = {
        "bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
        "bert.embeddings.token_type_embeddings.weight", "bert.embeddings.LayerNorm.weight",
        "bert.embeddings.LayerNorm.bias"};
    static const char *const layer[] = {
        "attention.self.query.weight", "attention.self.query.bias", "attention.self.key.weight",
        "attention.self.key.bias", "attention.self.value.weight", "attention.self.value.bias",
        "attention.output.dense.weight", "attention.output.dense.bias", "attention.output.LayerNorm.weight",
        "attention.output.LayerNorm.bias", "intermediate.dense.weight", "intermediate.dense.bias",
        "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias"};
    static const char *const tail[] = {"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight",
                                       "classifier.bias"};
    const ds_param_block *pb = &m->params;
    if (!ds_test_check(t, pb->count == 5 + 2 * 16 + 4, "%d parameters, want 41", pb->count)) return;
    char want[160];
    int bad = 0;
    for (int i = 0; i < pb->count; i++) {
        if (i < 5) snprintf(want, sizeof want, "%s", head[i]);
        else if (i < 37) snprintf(want, sizeof want, "bert.encoder.layer.%d.%s", (i - 5) / 16, layer[(i - 5) % 16]);
        else snprintf(want, sizeof want, "%s", tail[i - 37]);
        if (strcmp(pb->specs[i].name, want) != 0 && bad++ < 3) printf("  param %d: %s, want %s\n", i, pb->specs[i].name, want);
        // HF Trainer's groups: decay for every weight matrix and embedding table only.
        const bool decay = !(strstr(want, "LayerNorm") || strstr(want, ".bias"));
        if (pb->specs[i].decay != decay && bad++ < 3) printf("  param %s: decay %d\n", want, pb->specs[i].decay);
    }
    ds_test_check(t, bad == 0, "parameter names, order or decay groups differ from HF's (%d)", bad);
    const ds_param_spec *w = &pb->specs[0], *cls = &pb->specs[39], *inter = &pb->specs[5 + 10];
    ds_test_check(t, w->ndim == 2 && w->shape[0] == 50 && w->shape[1] == 16 && cls->shape[0] == 3 &&
                         cls->shape[1] == 16 && inter->shape[0] == 24 && inter->shape[1] == 16 &&
                         m->first_layer_param == 5 && m->first_head_param == 37,
                  "parameter shapes or indices wrong");
}

static void check_init(ds_test *t, ds_context *ctx, ds_bert_model *m) {
    ds_bert_init_weights(ctx, m);
    const ds_param_block *pb = &m->params;
    bool ok = true;
    for (int i = 0; i < pb->count; i++) {
        const ds_tensor p = ds_param_block_param(pb, i);
        const float *x = p.data;
        const int64_t n = ds_tensor_numel(&p);
        const char *name = pb->specs[i].name;
        const bool ln_w = strstr(name, "LayerNorm.weight") != NULL, bias = strstr(name, ".bias") != NULL;
        for (int64_t j = 0; (ln_w || bias) && j < n; j++) ok &= x[j] == (ln_w ? 1.0f : 0.0f);
        if (!ln_w && !bias) {
            double sq = 0;
            for (int64_t j = 0; j < n; j++) sq += (double)x[j] * x[j];
            // >= 192 draws of Normal(0, 0.5) (minus the pad row): rms within 35% of 0.5 at
            // more than 5 sigma; a wrong std (HF's 0.02 default, 1) misses by far.
            ok &= fabs(sqrt(sq / (double)n) / 0.5 - 1) < 0.35;
        }
    }
    const float *word = ds_param_block_param(pb, 0).data;
    bool pad_zero = true, row1_set = false;
    for (int j = 0; j < 16; j++) pad_zero &= word[j] == 0.0f, row1_set |= word[16 + j] != 0.0f;
    ds_test_check(t, ok, "ds_bert_init_weights: LayerNorm weights 1, biases 0, matrices ~ Normal(0, 0.5) expected");
    ds_test_check(t, pad_zero && row1_set, "ds_bert_init_weights: the pad row (0) must be zero, the others drawn");
    // Each tensor has its own stream: the query and key weights (same shape) differ.
    const ds_tensor q = ds_param_block_param(pb, 5), k = ds_param_block_param(pb, 7);
    ds_test_check(t, memcmp(q.data, k.data, ds_tensor_nbytes(&q)) != 0, "query and key weights drawn identically");
}

static void check_offsets(ds_test *t) {
    // Sites 0 .. 3L + 1 of step s never meet those of step s + 1.
    ds_test_check(t, ds_bert_dropout_offset(0, 7) == 7 && ds_bert_dropout_offset(1, 0) == (1u << 20) &&
                         ds_bert_dropout_offset(3, 5) != ds_bert_dropout_offset(5, 3),
                  "dropout offsets: (step << 20) + site expected");
    ds_bert_config c = tiny();
    ds_test_check(t, ds_bert_classifier_dropout(&c) == 0.1f, "classifier dropout null -> hidden_dropout");
    c.classifier_dropout = 0.3f;
    ds_test_check(t, ds_bert_classifier_dropout(&c) == 0.3f, "classifier dropout 0.3 ignored");
}

static void check_create_errors(ds_test *t, ds_context *ctx) {
    ds_bert_model m;
    ds_bert_config c = tiny();
    c.hidden = 15;
    ds_test_error(t, "hidden 15, 2 heads", &ctx->err, ds_bert_create(ctx, &c, &m), DS_ERR_INVALID_ARG,
                  "hidden_size 15 is not a multiple of num_attention_heads 2");
    c = tiny();
    c.num_labels = 0;
    ds_test_error(t, "0 labels", &ctx->err, ds_bert_create(ctx, &c, &m), DS_ERR_INVALID_ARG, "num_labels = 0");
    c = tiny();
    c.hidden_dropout = 1;
    ds_test_error(t, "dropout 1", &ctx->err, ds_bert_create(ctx, &c, &m), DS_ERR_INVALID_ARG,
                  "hidden_dropout_prob = 1 must lie in [0, 1)");
    c = tiny();
    c.pad_token_id = 50;
    ds_test_error(t, "pad 50 of 50", &ctx->err, ds_bert_create(ctx, &c, &m), DS_ERR_INVALID_ARG, "pad_token_id = 50");
    c = tiny();
    c.layers = 400000;
    ds_test_error(t, "400000 layers", &ctx->err, ds_bert_create(ctx, &c, &m), DS_ERR_INVALID_ARG,
                  "num_hidden_layers = 400000");
}

enum { B = 2, T = 5 };

static void check_batch_errors(ds_test *t, ds_context *ctx, ds_bert_model *m, ds_arena *arena) {
    int32_t ids[B * T] = {2, 7, 9, 4, 0, 2, 5, 6, 0, 0}, types[B * T] = {0}, mask[B * T] = {1, 1, 1, 1, 0, 1, 1, 1, 0, 0};
    int32_t labels[B] = {1, 2};
    float values[B * 3] = {0};
    ds_bert_output out;
    ds_bert_batch b = {.B = B, .T = T, .input_ids = ids, .token_type_ids = types, .attention_mask = mask, .labels = labels};
    ds_test_check(t, ds_bert_forward(ctx, m, &b, true, 0, arena, &out) == DS_OK && out.has_loss && isfinite(out.loss),
                  "valid batch: %s", ctx->err.msg);
#define EXPECT(what, needle)                                                                                   \
    ds_test_error(t, what, &ctx->err, ds_bert_forward(ctx, m, &b, true, 0, arena, &out), DS_ERR_INVALID_ARG, \
                  needle)
    ids[7] = 50;
    EXPECT("input id 50 of 50", "input_ids[1][2] = 50 is outside [0, 50) (vocab_size)");
    ids[7] = 6;
    types[3] = 2;
    EXPECT("token type 2", "token_type_ids[0][3] = 2 is outside [0, 2)");
    types[3] = 0;
    mask[1] = 2;
    EXPECT("mask value 2", "attention_mask[0][1] = 2");
    mask[1] = 1;
    mask[5] = mask[6] = mask[7] = 0;
    EXPECT("all-padding row", "attention_mask row 1 has no token");
    mask[5] = mask[6] = mask[7] = 1;
    labels[1] = 3;
    EXPECT("label 3 of 3 classes", "labels[1] = 3 is neither a class in [0, 3) nor -100");
    labels[1] = -100;
    b.label_values = values;
    EXPECT("label_values for single-label", "takes class ids (labels), not label_values");
    b.label_values = NULL;
    b.T = 13;
    EXPECT("T 13 > 12 positions", "sequence length 13 exceeds max_position_embeddings 12");
    b.T = T;
    b.input_ids = NULL;
    EXPECT("no input ids", "input_ids missing");
    b.input_ids = ids;
    // A row whose label is -100 contributes nothing; all ignored gives NaN, like torch.
    labels[0] = -100;
    ds_test_check(t, ds_bert_forward(ctx, m, &b, false, 0, arena, &out) == DS_OK && isnan(out.loss),
                  "all labels -100: loss %g, want NaN (%s)", out.loss, ctx->err.msg);
    labels[0] = 1;
    m->cfg.problem_type = DS_PROBLEM_MULTI_LABEL;
    EXPECT("class ids for multi-label", "multi_label_classification takes label_values");
    b.labels = NULL;
    b.label_values = values;
    values[4] = NAN;
    EXPECT("NaN label value", "label_values[1][1] = nan is not finite");
    values[4] = 1;
    ds_test_check(t, ds_bert_forward(ctx, m, &b, false, 0, arena, &out) == DS_OK && out.has_loss,
                  "multi-label batch: %s", ctx->err.msg);
    m->cfg.problem_type = DS_PROBLEM_SINGLE_LABEL;
#undef EXPECT
}

static void check_pass_errors(ds_test *t, ds_context *ctx, const ds_bert_config *cfg) {
    ds_bert_model m;
    if (!ds_test_check(t, ds_bert_create(ctx, cfg, &m) == DS_OK, "create: %s", ctx->err.msg)) return;
    ds_bert_init_weights(ctx, &m);
    ds_arena small = {0}, measuring = ds_arena_measure();
    ds_test_error(t, "backward before any forward", &ctx->err, ds_bert_backward(ctx, &m, 1, &small),
                  DS_ERR_INVALID_ARG, "no forward pass");
    int32_t ids[B * T] = {2, 7, 9, 4, 0, 2, 5, 6, 0, 0}, labels[B] = {0, 1};
    ds_bert_batch b = {.B = B, .T = T, .input_ids = ids, .labels = labels};
    ds_bert_output out;
    ds_test_error(t, "forward on a measuring arena", &ctx->err, ds_bert_forward(ctx, &m, &b, true, 0, &measuring, &out),
                  DS_ERR_INVALID_ARG, "measuring");
    size_t bytes = 0;
    ds_bert_arena_bytes(ctx, &m, B, T, true, &bytes);
    ds_arena_init_cpu(&small, bytes / 2, &ctx->err);
    ds_test_error(t, "an arena half the plan", &ctx->err, ds_bert_forward(ctx, &m, &b, true, 0, &small, &out),
                  DS_ERR_OOM, "activation arena full");
    ds_test_error(t, "plan for T 13", &ctx->err, ds_bert_arena_bytes(ctx, &m, B, 13, true, &bytes),
                  DS_ERR_INVALID_ARG, "max_position_embeddings 12");
    ds_arena_free(&small);
    ds_bert_free(&m);
}

// The plan follows the model's device: with the parameters labelled CUDA (nothing is touched while
// measuring) it must include the per-head q, k, v and context copies the CUDA attention needs, 4
// (B, T, H) F32 tensors per layer on top of the CPU plan (the forward keeps them for the backward).
static void check_plan_device(ds_test *t, ds_context *ctx, const ds_bert_model *m) {
    size_t on_cpu = 0, on_cuda = 0;
    ds_bert_model dev = *m;
    dev.params.device = (ds_device){DS_DEVICE_CUDA, 0};
    if (!ds_test_check(t, ds_bert_arena_bytes(ctx, m, B, T, true, &on_cpu) == DS_OK &&
                              ds_bert_arena_bytes(ctx, &dev, B, T, true, &on_cuda) == DS_OK,
                       "plans: %s", ctx->err.msg))
        return;
    const size_t heads = (size_t)m->cfg.layers * 4 * (size_t)(B * T * m->cfg.hidden) * sizeof(float);
    ds_test_check(t, on_cuda >= on_cpu + heads, "the CUDA plan (%zu bytes) must exceed the CPU plan (%zu) by the %zu "
                  "bytes of per-head copies", on_cuda, on_cpu, heads);
}

// dloss scales every gradient: one pass with dloss 0.25 gives a quarter of one with 1, to
// rounding (the scale is applied to dlogits, exact for a power of two).
static void check_dloss(ds_test *t, ds_context *ctx, ds_bert_model *m, ds_arena *arena) {
    int32_t ids[B * T] = {2, 7, 9, 4, 0, 2, 5, 6, 0, 0}, labels[B] = {1, 2};
    const ds_bert_batch b = {.B = B, .T = T, .input_ids = ids, .labels = labels};
    ds_bert_output out;
    const size_t n = m->params.total;
    float *full = malloc(n * sizeof(float));
    ds_bert_zero_grads(m);
    bool ok = ds_bert_forward(ctx, m, &b, true, 3, arena, &out) == DS_OK && ds_bert_backward(ctx, m, 1.0, arena) == DS_OK;
    memcpy(full, m->params.grads, n * sizeof(float));
    ds_bert_zero_grads(m);
    ok = ok && ds_bert_forward(ctx, m, &b, true, 3, arena, &out) == DS_OK &&
         ds_bert_backward(ctx, m, 0.25, arena) == DS_OK;
    size_t bad = 0, nonzero = 0;
    for (size_t i = 0; i < n; i++) bad += m->params.grads[i] != 0.25f * full[i], nonzero += full[i] != 0;
    ds_test_check(t, ok && bad == 0 && nonzero > n / 2, "dloss 0.25: %zu of %zu gradients are not a quarter (%s)",
                  bad, n, ctx->err.msg);
    free(full);
}

int main(void) {
    ds_test t = ds_test_begin("bert_model");
    ds_context ctx = ds_context_cpu();
    ctx.seed = 5;
    const ds_bert_config cfg = tiny();
    ds_bert_model m;
    if (!ds_test_check(&t, ds_bert_create(&ctx, &cfg, &m) == DS_OK, "create: %s", ctx.err.msg))
        return ds_test_finish(&t);
    check_names(&t, &m);
    check_init(&t, &ctx, &m);
    check_offsets(&t);
    check_create_errors(&t, &ctx);
    size_t bytes = 0;
    ds_arena arena = {0};
    if (ds_test_check(&t, ds_bert_arena_bytes(&ctx, &m, B, T, true, &bytes) == DS_OK &&
                              ds_arena_init_cpu(&arena, bytes, &ctx.err) == DS_OK,
                      "plan: %s", ctx.err.msg)) {
        check_batch_errors(&t, &ctx, &m, &arena);
        check_dloss(&t, &ctx, &m, &arena);
    }
    check_pass_errors(&t, &ctx, &cfg);
    check_plan_device(&t, &ctx, &m);
    ds_arena_free(&arena);
    ds_bert_free(&m);
    return ds_test_finish(&t);
}
