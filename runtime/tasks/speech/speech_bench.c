// `downstream bench` for the speech family: a training step of Wav2Vec2ForCTC (forward in training
// mode with SpecAugment and dropout as config.json's defaults, CTC loss, backward, one AdamW step
// with weight decay 0.01, the gradients zeroed) on random audio and random transcripts, as the
// recipe runs it; the same step as scripts/bench/torch_speech_step.py. Default: the full
// wav2vec2-base config (Wav2Vec2Config(), 94.4 M parameters; model.scratch_config for another)
// with a 32-id vocabulary, 2 utterances of 4 s (bench.batch when set; bench.seconds), the feature
// encoder frozen (bench.frozen_encoder, the recipe's default). One JSON object to `out`, keys as
// the other families' CPU bench.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../data/audio/json_file.h"
#include "../../base/check.h"
#include "../../base/log.h"
#include "../../../kernels/gpu.h"
#include "../../../models/common/device_memory.h"
#include "../bench_mfu.h"
#include "../../base/philox.h"
#include "../../train/optim.h"
#include "speech_internal.h"

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// FLOPs of one training step (the basis of achieved_tflops and mfu): the matrix products only, 2
// per multiply-add: the feature encoder's convs (2 B Cout Cin K L_out each), the projection
// (2 B T C H), the positional conv (2 B T H (H / groups) K), per encoder layer the four attention
// projections and the two FFN GEMMs (2 B T (4 H^2 + 2 H I)) and the two attention products
// (4 B T^2 H), and the lm_head (2 B T H V). Backward costs two forwards (dx and dw) for what is
// trained; the frozen feature encoder runs its forward only, and the first conv has no dx (the
// audio needs none). LayerDrop skips a layer with probability layerdrop in training, so the
// encoder layers count at their expected number, layers (1 - layerdrop); norms, activations,
// dropout, softmax and the CTC loss are not counted. The same count is used for PyTorch's step
// by scripts/bench/gpu_families_vs_torch.sh.
static double step_flops(const ds_w2v_config *c, int64_t B, int64_t S) {
    double fe_fwd = 0, fe_bwd = 0;
    int64_t L = S, cin = 1;
    for (int i = 0; i < c->conv_layers; i++) {
        L = (L - c->conv_kernel[i]) / c->conv_stride[i] + 1;
        const double f = 2.0 * (double)B * (double)c->conv_dim[i] * (double)cin * (double)c->conv_kernel[i] * (double)L;
        fe_fwd += f;
        fe_bwd += i == 0 ? f : 2 * f;
        cin = c->conv_dim[i];
    }
    const double T = (double)L, H = (double)c->hidden, I = (double)c->intermediate, V = (double)c->vocab_size;
    const double C = (double)c->conv_dim[c->conv_layers - 1], Bd = (double)B;
    const double K = (double)c->num_conv_pos_embeddings, G = (double)c->num_conv_pos_embedding_groups;
    const double layer = 2 * Bd * T * (4 * H * H + 2 * H * I) + 4 * Bd * T * T * H;
    const double rest = 2 * Bd * T * C * H + 2 * Bd * T * H * (H / G) * K + 2 * Bd * T * H * V +
                        (double)c->layers * (1.0 - (double)c->layerdrop) * layer;
    return fe_fwd + (c->freeze_feature_encoder ? 0 : fe_bwd) + 3 * rest;
}

ds_status ds_speech_bench(ds_context *ctx, const ds_config *cfg, const ds_bench_env *env, FILE *out) {
    ds_err *err = &ctx->err;
    const int64_t B = ds_config_source_of(cfg, "bench.batch") == DS_CFG_FROM_DEFAULT ? 2 : ds_config_int(cfg, "bench.batch");
    const double seconds = ds_config_float(cfg, "bench.seconds");
    const int warmup = (int)ds_config_int(cfg, "bench.warmup"), repeats = (int)ds_config_int(cfg, "bench.repeats");
    ds_w2v_config c = ds_w2v_config_default();
    const char *scratch = ds_config_str(cfg, "model.scratch_config");
    if (scratch[0]) {
        DS_TRY(ds_speech_config_read_file(scratch, &c, err));
    }
    c.freeze_feature_encoder = ds_config_bool(cfg, "bench.frozen_encoder");
    const int64_t S = (int64_t)llround(seconds * 16000.0), L = (int64_t)ceil(seconds * 12.0);  // ~12 characters a second
    DS_REQUIRE(err, ds_w2v_output_frames(&c, S) >= 2 * L + 1, DS_ERR_CONFIG, "bench.seconds %g is too short", seconds);
    DS_LOG_INFO(&ctx->log, "benchmarking a Wav2Vec2ForCTC training step: hidden %lld, %lld layers, vocab %lld, batch %lld "
                "x %.2f s, feature encoder %s, AdamW: %d warm-up + %d timed steps on %d threads", (long long)c.hidden,
                (long long)c.layers, (long long)c.vocab_size, (long long)B, seconds,
                c.freeze_feature_encoder ? "frozen" : "trained", warmup, repeats, omp_get_max_threads());
    ds_w2v_model m;
    DS_TRY(ds_w2v_create(ctx, &c, &m));
    ds_w2v_init_weights(ctx, &m);
    float *audio = malloc((size_t)(B * S) * sizeof *audio);     // (B, S) F32 host
    int32_t *labels = malloc((size_t)(B * L) * sizeof *labels);  // (B, L) I32 host
    double *times = malloc((size_t)repeats * sizeof *times);
    ds_arena arena = {0};
    ds_optim_options oo = ds_optim_options_default();
    oo.weight_decay = 0.01;
    oo.max_grad_norm = 1.0;
    ds_optim opt = {0};
    ds_status st = audio && labels && times ? DS_OK : ds_err_set(err, DS_ERR_OOM, "bench: out of memory");
    if (st == DS_OK) st = ds_optim_init(&opt, &m.params, &oo, err);
    // CUDA: the parameters (with their bf16 working copy in run.precision bf16) and the optimizer state to the
    // device before the arena is planned (the conv workspaces depend on the backend).
    if (st == DS_OK) st = ds_w2v_to_device(ctx, &m, env->act);
    if (st == DS_OK) st = ds_optim_to_device(ctx, &opt, &m.params);
    for (int64_t i = 0; st == DS_OK && i < B * S; i++) audio[i] = 2.0f * ds_philox_uniform(ctx->seed, 301, (uint64_t)i) - 1.0f;
    for (int64_t i = 0; st == DS_OK && i < B * L; i++)  // ids 1..V-1 (0 is the blank)
        labels[i] = 1 + (int32_t)(ds_philox_u32(ctx->seed, 302, (uint64_t)i) % (uint32_t)(c.vocab_size - 1));
    size_t arena_bytes = 0;
    if (st == DS_OK) st = ds_w2v_arena_bytes(ctx, &m, B, S, L, true, &arena_bytes);
    if (st == DS_OK) st = ds_arena_init_for(ctx, &arena, arena_bytes);
    double last_loss = NAN, first_step_s = 0;
    const ds_w2v_batch b = {.B = B, .S = S, .audio = audio, .labels = labels, .label_len = L};
    for (int i = 0; st == DS_OK && i < warmup + repeats; i++) {
        const double t0 = ds_now_seconds();
        // As the trainer runs a step with model.ctc_zero_infinity: the loss stays on the device until
        // the optimizer step is done (without it, the trainer also waits per micro-batch, to name the
        // files of an infinite loss).
        ds_w2v_output y;
        st = ds_w2v_forward_train(ctx, &m, &b, (uint64_t)i, &arena, &y);
        if (st == DS_OK) st = ds_w2v_backward(ctx, &m, 1.0, &arena, NULL);
        if (st == DS_OK) st = ds_optim_step(ctx, &opt, &m.params, 1e-5, 1.0, NULL);
        if (st == DS_OK) st = ds_w2v_zero_grads(&m);
        float loss = NAN;
        if (st == DS_OK) st = ds_tensor_to_host(ctx, &loss, &y.loss_term);
        if (st == DS_OK && env->cuda) st = ds_gpu_sync(ctx);  // the step's time includes its device work
        const double t1 = ds_now_seconds();
        if (st == DS_OK) last_loss = loss;
        if (i == 0) first_step_s = t1 - env->process_start_s;
        if (i >= warmup) times[i - warmup] = t1 - t0;
    }
    ds_gpu_peaks peaks = {0};  // CUDA: the data-sheet peaks, the basis of mfu
    if (st == DS_OK && env->cuda) st = ds_gpu_peaks_get(ctx, &peaks);
    if (st == DS_OK && repeats > 0) {
        qsort(times, (size_t)repeats, sizeof *times, cmp_double);
        const double med = times[repeats / 2];
        const int p90 = (int)ceil(0.9 * repeats) - 1;
        // Parameters and gradients (the block), AdamW's two moments of the trainable part, the arena.
        const size_t trainable = m.params.train_end - m.params.train_begin;
        // CUDA: the device's peak of live allocations.
        const size_t peak = env->cuda ? ds_gpu_peak_bytes(ctx)
                                      : 2 * m.params.total * sizeof(float) + 2 * trainable * sizeof(float) + arena_bytes;
        // mfu (bench_mfu.h): on CUDA against the data-sheet dense peak of the precision in use (as the
        // text family's CUDA bench); on the CPU against the sgemm rate when bench.gemm_check measured it.
        const double gflop = step_flops(&c, B, S) / 1e9, achieved = gflop / med;
        fprintf(out, "{\"device\": \"%s\", \"precision\": \"%s\", \"model\": \"wav2vec2\", \"hidden\": %lld, "
                "\"layers\": %lld, \"vocab\": %lld, "
                "\"batch\": %lld, \"seconds\": %.3f, \"frozen_encoder\": %s, \"params\": %lld, \"trainable\": %zu, "
                "\"threads\": %d, \"samples_per_s\": %.3f, \"step_ms_median\": %.3f, \"step_ms_p90\": %.3f, "
                "\"model_gflop_per_step\": %.3f, \"achieved_gflops\": %.2f, \"gemm_gflops\": %.2f, \"mfu\": ",
                env->cuda ? "cuda" : "cpu", env->cuda && env->act == DS_BF16 ? "bf16" : "fp32", (long long)c.hidden,
                (long long)c.layers, (long long)c.vocab_size, (long long)B, seconds,
                c.freeze_feature_encoder ? "true" : "false", (long long)ds_param_block_numel(&m.params), trainable,
                omp_get_max_threads(), (double)B / med, 1e3 * med, 1e3 * times[p90 < 0 ? 0 : p90], gflop, achieved,
                env->gemm_gflops);
        ds_bench_write_mfu(out, env, &peaks, achieved);
        fprintf(out, ", \"peak_mem_bytes\": %zu, \"arena_bytes\": %zu, \"first_step_s\": %.3f, \"last_loss\": %.4f, "
                "\"blas_core\": \"%s\"}\n", peak, arena_bytes, first_step_s, last_loss, env->blas_core ? env->blas_core : "");
    }
    ds_arena_free(&arena);
    ds_w2v_free(&m);
    ds_optim_free(&opt);
    free(audio), free(labels), free(times);
    return st;
}
