// Wav2Vec2ForCTC against transformers (tests/fixtures/wav2vec2/, scripts/fixtures/wav2vec2.py):
// two small configs covering both encoders (post-LN + group norm + no attention mask + an explicit
// SpecAugment time mask; pre-LN "stable" + layer norm + attention mask + zero_infinity), on a
// padded batch of ragged lengths: logits, loss and the gradient of every parameter. The stable
// case's weights use the legacy weight_g / weight_v names (the released checkpoints'), the other
// transformers 5's parametrizations names: both load through ds_w2v_param_index. Also the name
// mapping itself, HF's decay rule, and the grad hook's order.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/safetensors.h"
#include "../w2v_fixture.h"

// Logits and loss: the same float32 math as torch in other summation orders (convs over up to
// 48 products, GEMMs over 37, attention over 39 keys, layer norms) through ~12 layers of ops:
// ~1e-6 of the largest value; 2e-5 leaves a margin while any wrong layout, norm placement, mask
// or crop is off by >= 1e-2.
#define TOL_FWD 2e-5
// Gradients: the backward goes through the same ops again, and the first conv's weight gradient
// sums ~3 x 160 x 16 products of values that partly cancel: measured ~1e-5 of the largest
// entry; 2e-4 (tensor-relative) leaves a margin while a missing or doubled term misses by >= 1e-2.
#define TOL_GRAD 2e-4
// Except the key projections' biases: a key bias adds the same amount to every score of a query,
// which softmax ignores, so their exact gradient is 0 and both sides hold rounding noise (~1e-7).
// They are held to be that small next to the same projection's weight gradient instead.
#define TOL_ZERO_GRAD 1e-4

typedef struct hook_log {
    size_t from[64];
    int n;
} hook_log;

static ds_status log_ready(void *user, size_t from, ds_err *err) {
    (void)err;
    hook_log *h = user;
    if (h->n < 64) h->from[h->n++] = from;
    return DS_OK;
}

static void run_case(ds_test *t, const char *name) {
    ds_context ctx = ds_context_cpu();
    ds_w2v_config cfg;
    if (!ds_w2v_test_config(t, name, &cfg)) return;
    ds_w2v_model m;
    if (!ds_test_check(t, ds_w2v_create(&ctx, &cfg, &m) == DS_OK, "%s: create: %s", name, ctx.err.msg)) return;
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "wav2vec2/%s/model.safetensors", name);
    ds_w2v_test_load(t, &m, rel);
    snprintf(rel, sizeof rel, "wav2vec2/%s/io.safetensors", name);
    ds_st_file io;
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, ds_st_open(ds_test_fixture(rel, path, sizeof path), &io, &err) == DS_OK, "%s", err.msg)) {
        ds_w2v_free(&m);
        return;
    }
    ds_tensor audio, lengths, labels, logits_want, loss_want, mask = {0};
    bool ok = ds_st_view(&io, "input_values", DS_F32, &audio, &err) == DS_OK &&
              ds_st_view(&io, "lengths", DS_I32, &lengths, &err) == DS_OK &&
              ds_st_view(&io, "labels", DS_I32, &labels, &err) == DS_OK &&
              ds_st_view(&io, "logits", DS_F32, &logits_want, &err) == DS_OK &&
              ds_st_view(&io, "loss", DS_F32, &loss_want, &err) == DS_OK;
    if (ds_st_find(&io, "mask_time_indices")) ok &= ds_st_view(&io, "mask_time_indices", DS_I32, &mask, &err) == DS_OK;
    if (!ds_test_check(t, ok, "%s: %s", name, err.msg)) goto done;
    const ds_w2v_batch batch = {.B = audio.shape[0], .S = audio.shape[1], .audio = audio.data, .lengths = lengths.data,
                                .labels = labels.data, .label_len = labels.shape[1], .mask_time_indices = mask.data};
    size_t bytes = 0;
    ds_arena arena = {0};
    if (!ds_test_check(t, ds_w2v_arena_bytes(&ctx, &m, batch.B, batch.S, batch.label_len, true, &bytes) == DS_OK &&
                              ds_arena_init_cpu(&arena, bytes, &ctx.err) == DS_OK,
                       "%s: plan: %s", name, ctx.err.msg))
        goto done;
    ds_w2v_output out;
    char what[256];
    if (ds_test_check(t, ds_w2v_forward(&ctx, &m, &batch, false, 0, &arena, &out) == DS_OK, "%s: forward: %s", name,
                      ctx.err.msg)) {
        snprintf(what, sizeof what, "%s logits", name);
        ds_test_close(t, what, &out.logits, &logits_want, TOL_FWD);
        const ds_tensor loss = ds_tensor_cpu1(&out.loss, DS_F32, 1);
        snprintf(what, sizeof what, "%s loss (%s)", name, cfg.ctc_loss_reduction == DS_CTC_SUM ? "sum" : "mean");
        ds_test_close(t, what, &loss, &loss_want, TOL_FWD);
        ds_test_check(t, out.loss_is_sum == (cfg.ctc_loss_reduction == DS_CTC_SUM) &&
                             out.loss_weight == (out.loss_is_sum ? 1.0 : (double)batch.B),
                      "%s: loss weight %g (sum %d)", name, out.loss_weight, out.loss_is_sum);
        hook_log hl = {0};
        const ds_grad_hook hook = {.ready = log_ready, .user = &hl};
        if (ds_test_check(t, ds_w2v_backward(&ctx, &m, 1.0, &arena, &hook) == DS_OK, "%s: backward: %s", name,
                          ctx.err.msg)) {
            double worst = 0;
            const char *worst_name = "";
            for (int i = 0; i < m.params.count; i++) {
                char key[300];
                snprintf(key, sizeof key, "grad.%s", m.params.specs[i].name);
                ds_tensor want;
                if (!ds_test_check(t, ds_st_view(&io, key, DS_F32, &want, &err) == DS_OK, "%s", err.msg)) continue;
                const ds_tensor got = ds_param_block_grad(&m.params, i);
                snprintf(what, sizeof what, "%s d%s", name, m.params.specs[i].name);
                const char *nm = m.params.specs[i].name;
                if (strlen(nm) > 11 && strcmp(nm + strlen(nm) - 11, "k_proj.bias") == 0) {
                    const ds_tensor wg = ds_param_block_grad(&m.params, i - 1);  // k_proj.weight precedes it
                    double scale = 0, diff = 0;
                    for (int64_t j = 0; j < ds_tensor_numel(&wg); j++) scale = fmax(scale, fabs(((float *)wg.data)[j]));
                    for (int64_t j = 0; j < ds_tensor_numel(&got); j++)
                        diff = fmax(diff, fmax(fabs(((float *)got.data)[j]), fabs(((const float *)want.data)[j])));
                    ds_test_check(t, diff <= TOL_ZERO_GRAD * scale, "%s: %.3e of the weight's gradient, want ~0", what,
                                  diff / scale);
                    continue;
                }
                const double e = ds_test_close(t, what, &got, &want, TOL_GRAD);
                if (e > worst) worst = e, worst_name = m.params.specs[i].name;
            }
            printf("%s: worst gradient error %.3e (%s) over %d tensors\n", name, worst, worst_name, m.params.count);
            // The hook: non-increasing offsets, ending at 0, one call per layer at least.
            bool mono = hl.n >= (int)cfg.layers + 3 && hl.from[hl.n - 1] == 0;
            for (int k = 1; k < hl.n; k++) mono &= hl.from[k] <= hl.from[k - 1];
            ds_test_check(t, mono, "%s: grad hook called %d times with non-monotone or unfinished offsets", name, hl.n);
        }
    }
    ds_arena_free(&arena);
done:
    ds_st_close(&io);
    ds_w2v_free(&m);
}

static void check_names(ds_test *t) {
    ds_context ctx = ds_context_cpu();
    ds_w2v_config cfg = ds_w2v_config_default();
    cfg.hidden = 32, cfg.heads = 4, cfg.intermediate = 40, cfg.layers = 1, cfg.num_conv_pos_embedding_groups = 4;
    cfg.num_conv_pos_embeddings = 8;
    ds_w2v_model m;
    if (!ds_test_check(t, ds_w2v_create(&ctx, &cfg, &m) == DS_OK, "create: %s", ctx.err.msg)) return;
    const char *g_new = "wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original0";
    const char *v_new = "wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original1";
    const int ig = ds_param_block_find(&m.params, g_new), iv = ds_param_block_find(&m.params, v_new);
    ds_test_check(t, ig >= 0 && iv >= 0, "the block names the weight norm's tensors the transformers 5 way");
    ds_test_check(t, ds_w2v_param_index(&m, "wav2vec2.encoder.pos_conv_embed.conv.weight_g") == ig &&
                         ds_w2v_param_index(&m, "wav2vec2.encoder.pos_conv_embed.conv.weight_v") == iv &&
                         ds_w2v_param_index(&m, g_new) == ig && ds_w2v_param_index(&m, v_new) == iv,
                  "weight_g / weight_v and original0 / original1 map to the same tensors");
    ds_test_check(t, ds_w2v_param_index(&m, "lm_head.weight") == ds_param_block_find(&m.params, "lm_head.weight") &&
                         ds_w2v_param_index(&m, "wav2vec2.encoder.pos_conv_embed.conv.weight") == -1 &&
                         ds_w2v_param_index(&m, "nonsense") == -1,
                  "other names map to themselves; unknown names to -1");
    char buf[256];
    ds_test_check(t, ds_w2v_block_name(&m, "wav2vec2.encoder.pos_conv_embed.conv.weight_v", buf, sizeof buf) &&
                         strcmp(buf, v_new) == 0 && !ds_w2v_block_name(&m, "quantizer.codevectors", buf, sizeof buf),
                  "the loader's name callback: legacy names mapped, unknown ones ignored");
    ds_test_check(t, strcmp(ds_w2v_legacy_name(v_new, buf, sizeof buf), "wav2vec2.encoder.pos_conv_embed.conv.weight_v") == 0 &&
                         strcmp(ds_w2v_legacy_name("lm_head.bias", buf, sizeof buf), "lm_head.bias") == 0,
                  "legacy spelling for export");
    // HF Trainer's decay rule.
    ds_test_check(t, ds_w2v_decays("wav2vec2.masked_spec_embed") && ds_w2v_decays(g_new) && ds_w2v_decays("lm_head.weight") &&
                         !ds_w2v_decays("lm_head.bias") && !ds_w2v_decays("wav2vec2.encoder.layers.0.final_layer_norm.weight") &&
                         !ds_w2v_decays("wav2vec2.feature_extractor.conv_layers.0.layer_norm.weight") &&
                         !ds_w2v_decays("x.norm.weight") && !ds_w2v_decays("x.LayerNorm.weight") &&
                         ds_w2v_decays("x.normal.weight") && ds_w2v_decays("x.abnorm.weight"),
                  "weight decay follows HF Trainer's name patterns");
    for (int i = 0; i < m.params.count; i++)
        ds_test_check(t, m.params.specs[i].decay == ds_w2v_decays(m.params.specs[i].name), "decay flag of %s",
                      m.params.specs[i].name);
    ds_w2v_free(&m);
}

int main(void) {
    ds_test t = ds_test_begin("w2v_parity");
    run_case(&t, "post_ln_group");
    run_case(&t, "stable_layer");
    check_names(&t);
    return ds_test_finish(&t);
}
