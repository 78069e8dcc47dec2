// Wav2Vec2ForCTC on CUDA in fp32 (ds_w2v_to_device) against the same transformers fixtures as the
// CPU test (tests/cpu/test_w2v_parity.c, tests/fixtures/wav2vec2/): both small configs (post-LN +
// group norm + an explicit SpecAugment time mask; pre-LN + layer norm + attention mask +
// zero_infinity), a padded batch of ragged lengths: logits, loss and every parameter's gradient.
// Every op of the pass runs on the CUDA backend (conv1d as conv2d with H = 1, group norm, weight
// norm, SpecAugment, attention, log-softmax, CTC). Also: an arena on the wrong device is an
// error. bf16 mixed precision: tests/gpu/test_cuda_w2v_bf16.c.
//
// Tolerances: the CPU test's, for the same reason (fp32 math in other summation orders; TF32 is
// off by default): logits and loss 2e-5 of the largest value, gradients 2e-4 tensor-relative,
// k_proj biases (exact gradient 0) within 1e-4 of the k_proj weight's gradient.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../models/common/device_memory.h"
#include "../../runtime/io/safetensors.h"
#include "../gpu_test_util.h"
#include "../w2v_fixture.h"

#define TOL_FWD 2e-5
#define TOL_GRAD 2e-4
#define TOL_ZERO_GRAD 1e-4

static void run_case(ds_test *t, ds_context *ctx, const char *name) {
    ds_w2v_config cfg;
    if (!ds_w2v_test_config(t, name, &cfg)) return;
    ds_w2v_model m;
    if (!ds_test_check(t, ds_w2v_create(ctx, &cfg, &m) == DS_OK, "%s: create: %s", name, ctx->err.msg)) return;
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "wav2vec2/%s/model.safetensors", name);
    ds_w2v_test_load(t, &m, rel);
    ds_err_clear(&ctx->err);
    if (!ds_test_check(t, ds_w2v_to_device(ctx, &m, DS_F32) == DS_OK && ds_w2v_zero_grads(&m) == DS_OK,
                       "%s: to_device: %s", name, ctx->err.msg)) {
        ds_w2v_free(&m);
        return;
    }
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
    ds_arena arena = {0};
    if (!ds_test_check(t, ok, "%s: %s", name, err.msg)) goto done;
    const ds_w2v_batch batch = {.B = audio.shape[0], .S = audio.shape[1], .audio = audio.data, .lengths = lengths.data,
                                .labels = labels.data, .label_len = labels.shape[1], .mask_time_indices = mask.data};
    size_t bytes = 0;
    if (!ds_test_check(t, ds_w2v_arena_bytes(ctx, &m, batch.B, batch.S, batch.label_len, true, &bytes) == DS_OK,
                       "%s: plan: %s", name, ctx->err.msg))
        goto done;
    // An arena on the host while the parameters are on the device: refused.
    ds_w2v_output out;
    ds_arena host = {0};
    if (ds_arena_init_cpu(&host, bytes, &ctx->err) == DS_OK) {
        ds_gpu_test_expect_invalid_arg(t, ctx, ds_w2v_forward(ctx, &m, &batch, false, 0, &host, &out), "wav2vec2",
                                       "host arena with device parameters");
        ds_arena_free(&host);
    }
    if (!ds_test_check(t, ds_arena_init_for(ctx, &arena, bytes) == DS_OK, "%s: arena: %s", name, ctx->err.msg))
        goto done;
    char what[256];
    if (ds_test_check(t, ds_w2v_forward(ctx, &m, &batch, false, 0, &arena, &out) == DS_OK, "%s: forward: %s", name,
                      ctx->err.msg)) {
        ds_test_check(t, out.logits.device.kind == DS_DEVICE_CPU, "%s: the output logits must be a host tensor", name);
        snprintf(what, sizeof what, "cuda %s logits", name);
        ds_test_close(t, what, &out.logits, &logits_want, TOL_FWD);
        const ds_tensor loss = ds_tensor_cpu1(&out.loss, DS_F32, 1);
        snprintf(what, sizeof what, "cuda %s loss", name);
        ds_test_close(t, what, &loss, &loss_want, TOL_FWD);
        if (ds_test_check(t, ds_w2v_backward(ctx, &m, 1.0, &arena, NULL) == DS_OK &&
                                 ds_param_block_download_grads(ctx, &m.params) == DS_OK,
                          "%s: backward: %s", name, ctx->err.msg)) {
            double worst = 0;
            const char *worst_name = "";
            for (int i = 0; i < m.params.count; i++) {
                char key[300];
                snprintf(key, sizeof key, "grad.%s", m.params.specs[i].name);
                ds_tensor want;
                if (!ds_test_check(t, ds_st_view(&io, key, DS_F32, &want, &err) == DS_OK, "%s", err.msg)) continue;
                const ds_tensor got = ds_param_block_grad(&m.params, i);
                snprintf(what, sizeof what, "cuda %s d%s", name, m.params.specs[i].name);
                const char *nm = m.params.specs[i].name;
                if (strlen(nm) > 11 && strcmp(nm + strlen(nm) - 11, "k_proj.bias") == 0) {
                    const ds_tensor wg = ds_param_block_grad(&m.params, i - 1);
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
            printf("cuda %s: worst gradient error %.3e (%s) over %d tensors\n", name, worst, worst_name, m.params.count);
        }
    }
done:
    ds_arena_free(&arena);
    ds_st_close(&io);
    ds_w2v_free(&m);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_w2v_parity")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_w2v_parity");
    run_case(&t, &ctx, "post_ln_group");
    run_case(&t, &ctx, "stable_layer");
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
