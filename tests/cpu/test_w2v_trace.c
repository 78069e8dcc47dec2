// A 10-step AdamW loss trace of the small post-LN Wav2Vec2ForCTC against transformers + torch.optim.AdamW
// (tests/fixtures/wav2vec2/adamw_trace, scripts/fixtures/wav2vec2.py): training mode with every
// dropout, LayerDrop and SpecAugment off, freeze_feature_encoder() (its tensors are DS_PARAM_FROZEN:
// no gradient, no update), weight decay 0.01 on the tensors HF's Trainer decays, the same batch each
// step. The updates use the ds_adamw_step op per trainable tensor. Also: the frozen encoder is
// unchanged, the final lm_head matches, and a second run is bit-identical.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/safetensors.h"
#include "../w2v_fixture.h"

// Each step's loss agrees to ~1e-7 at step 1 (the parity test's forward); Adam's first steps are
// sign-like (m / sqrt(v) ~ +-1), so gradient entries that are rounding noise (the key biases') take
// steps of either sign on the two sides, which the loss does not see (softmax ignores key biases)
// and other near-zero entries barely: measured <= 3e-6 relative per step over the 10 steps (1.2e-6
// of the largest loss). 5e-5 leaves a margin while a wrong update, decay group or frozen tensor
// changes the trace by >= 1e-3.
#define TOL_LOSS 5e-5
// lm_head after 10 updates of 2e-3: measured 3e-7 of its largest entry; 1e-5 leaves a margin, while
// one update with a wrong decay or moment is off by ~2e-3.
#define TOL_WEIGHT 1e-5

static bool run(ds_test *t, float losses[10], float **lm_head, ds_w2v_model *mout) {
    ds_context ctx = ds_context_cpu();
    ds_w2v_config cfg;
    if (!ds_w2v_test_config(t, "post_ln_group", &cfg)) return false;
    cfg.freeze_feature_encoder = true;
    cfg.apply_spec_augment = false;
    ds_w2v_model m;
    if (!ds_test_check(t, ds_w2v_create(&ctx, &cfg, &m) == DS_OK, "create: %s", ctx.err.msg)) return false;
    bool ok = ds_w2v_test_load(t, &m, "wav2vec2/adamw_trace/model.safetensors");
    char path[1024];
    ds_st_file io;
    ds_err err;
    ds_err_clear(&err);
    ok &= ds_test_check(t, ds_st_open(ds_test_fixture("wav2vec2/adamw_trace/io.safetensors", path, sizeof path), &io, &err) == DS_OK,
                        "%s", err.msg);
    if (!ok) {
        ds_w2v_free(&m);
        return false;
    }
    ds_tensor audio, lengths, labels;
    ds_st_view(&io, "input_values", DS_F32, &audio, &err);
    ds_st_view(&io, "lengths", DS_I32, &lengths, &err);
    ds_st_view(&io, "labels", DS_I32, &labels, &err);
    const ds_w2v_batch batch = {.B = audio.shape[0], .S = audio.shape[1], .audio = audio.data, .lengths = lengths.data,
                                .labels = labels.data, .label_len = labels.shape[1]};
    // The trainable range is laid out after the frozen encoder (param_block.h).
    ok &= ds_test_check(t, m.params.train_begin > 0 && !ds_param_is_trainable(&m.params, m.at.feature_encoder) &&
                               ds_param_block_grad(&m.params, m.at.feature_encoder).data == NULL,
                        "the frozen feature encoder lies before the trainable range and has no gradient view");
    size_t bytes = 0;
    ds_arena arena = {0};
    ok &= ds_test_check(t, ds_w2v_arena_bytes(&ctx, &m, batch.B, batch.S, batch.label_len, true, &bytes) == DS_OK &&
                               ds_arena_init_cpu(&arena, bytes, &ctx.err) == DS_OK,
                        "plan: %s", ctx.err.msg);
    float *moments = calloc(2 * m.params.total, sizeof(float));
    float *fe_before = malloc(sizeof(float) * m.params.train_begin);
    memcpy(fe_before, m.params.params, sizeof(float) * m.params.train_begin);
    for (int step = 0; ok && step < 10; step++) {
        ds_w2v_zero_grads(&m);
        ds_w2v_output out;
        ok &= ds_test_check(t, ds_w2v_forward(&ctx, &m, &batch, true, (uint64_t)step, &arena, &out) == DS_OK &&
                                   ds_w2v_backward(&ctx, &m, 1.0, &arena, NULL) == DS_OK,
                            "step %d: %s", step, ctx.err.msg);
        losses[step] = out.loss;
        for (int i = 0; ok && i < m.params.count; i++) {
            if (!ds_param_is_trainable(&m.params, i)) continue;
            const ds_tensor p = ds_param_block_param(&m.params, i);
            const int64_t n = ds_tensor_numel(&p);
            const size_t off = m.params.offset[i];
            const ds_adamw_args a = {.param = p, .grad = ds_param_block_grad(&m.params, i),
                                     .m = ds_tensor_cpu1(moments + off, DS_F32, n),
                                     .v = ds_tensor_cpu1(moments + m.params.total + off, DS_F32, n), .lr = 2e-3,
                                     .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                     .weight_decay = m.params.specs[i].decay ? 0.01 : 0.0, .grad_scale = 1, .step = step + 1};
            ok &= ds_test_check(t, ds_adamw_step(&ctx, &a) == DS_OK, "adamw %s: %s", m.params.specs[i].name, ctx.err.msg);
        }
    }
    ds_test_check(t, memcmp(fe_before, m.params.params, sizeof(float) * m.params.train_begin) == 0,
                  "the frozen feature encoder changed during training");
    const ds_tensor lm = ds_param_block_param(&m.params, m.at.lm_head);
    *lm_head = malloc(ds_tensor_nbytes(&lm));
    memcpy(*lm_head, lm.data, ds_tensor_nbytes(&lm));
    free(moments), free(fe_before);
    ds_arena_free(&arena);
    ds_st_close(&io);
    *mout = m;
    return ok;
}

int main(void) {
    ds_test t = ds_test_begin("w2v_trace");
    float losses[10] = {0}, again[10] = {0}, *lm = NULL, *lm2 = NULL;
    ds_w2v_model m, m2;
    if (run(&t, losses, &lm, &m)) {
        char path[1024];
        ds_st_file f;
        ds_err err;
        ds_err_clear(&err);
        if (ds_test_check(&t, ds_st_open(ds_test_fixture("wav2vec2/adamw_trace/trace.safetensors", path, sizeof path), &f, &err) == DS_OK,
                          "%s", err.msg)) {
            ds_tensor want, lm_want;
            if (ds_test_check(&t, ds_st_view(&f, "losses", DS_F64, &want, &err) == DS_OK &&
                                      ds_st_view(&f, "final.lm_head.weight", DS_F32, &lm_want, &err) == DS_OK,
                              "%s", err.msg)) {
                for (int s = 0; s < 10; s++) {
                    const double w = ((const double *)want.data)[s];
                    printf("step %d: loss %.6f (torch %.6f, rel diff %.2e)\n", s + 1, (double)losses[s], w,
                           fabs(losses[s] - w) / fabs(w));
                }
                const ds_tensor got = ds_tensor_cpu1(losses, DS_F32, 10);
                ds_test_close(&t, "10-step AdamW loss trace", &got, &want, TOL_LOSS);
                const ds_tensor lmg = ds_tensor_make(lm, DS_F32, lm_want.device, lm_want.ndim, lm_want.shape);
                ds_test_close(&t, "lm_head.weight after 10 steps", &lmg, &lm_want, TOL_WEIGHT);
            }
            ds_st_close(&f);
        }
        if (run(&t, again, &lm2, &m2)) {
            ds_test_check(&t, memcmp(losses, again, sizeof losses) == 0 &&
                                  memcmp(m.params.params, m2.params.params, sizeof(float) * m.params.total) == 0,
                          "a second run is not bit-identical");
            ds_w2v_free(&m2);
        }
        ds_w2v_free(&m);
    }
    free(lm), free(lm2);
    return ds_test_finish(&t);
}
