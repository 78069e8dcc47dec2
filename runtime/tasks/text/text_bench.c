// `downstream bench` for the text family: on CUDA a fine-tuning step of the whole BERT classifier
// (ds_bench_bert_run), on the CPU of a stack of BERT encoder layers (ds_bench_run), at the bench.*
// shape on random inputs; one JSON object to `out` (the format and keys predate the task seam and
// scripts/bench/ reads them).
#include <omp.h>
#include <stdio.h>

#include "../../../kernels/gpu.h"
#include "../../base/check.h"
#include "bench.h"
#include "text_family_internal.h"

// The whole BERT classifier on the open CUDA device; the JSON of ds_bench_bert_run's result.
static ds_status bench_cuda(ds_context *ctx, const ds_config *cfg, const ds_bench_env *env, FILE *out) {
    const ds_bench_bert_opts o = {
        .vocab = ds_config_int(cfg, "bench.vocab"), .hidden = ds_config_int(cfg, "bench.hidden"),
        .layers = ds_config_int(cfg, "bench.layers"), .heads = ds_config_int(cfg, "bench.heads"),
        .intermediate = ds_config_int(cfg, "bench.intermediate"), .num_labels = ds_config_int(cfg, "bench.num_labels"),
        .batch = ds_config_int(cfg, "bench.batch"), .seq_len = ds_config_int(cfg, "bench.seq_len"),
        .warmup = (int)ds_config_int(cfg, "bench.warmup"), .repeats = (int)ds_config_int(cfg, "bench.repeats"),
        .act = env->act,
    };
    DS_REQUIRE(&ctx->err, o.hidden % o.heads == 0, DS_ERR_CONFIG, "bench.heads (%lld) must divide bench.hidden (%lld)",
               (long long)o.heads, (long long)o.hidden);
    DS_LOG_INFO(&ctx->log, "benchmarking BertForSequenceClassification: vocab %lld, %lld layers, hidden %lld, %lld heads, "
                           "intermediate %lld, %lld labels; batch %lld x %lld tokens: %d warm-up + %d timed steps",
                (long long)o.vocab, (long long)o.layers, (long long)o.hidden, (long long)o.heads,
                (long long)o.intermediate, (long long)o.num_labels, (long long)o.batch, (long long)o.seq_len, o.warmup,
                o.repeats);
    ds_gpu_peaks peaks;
    DS_TRY(ds_gpu_peaks_get(ctx, &peaks));
    ds_bench_bert_result r;
    DS_TRY(ds_bench_bert_run(ctx, &o, env->process_start_s, &r));
    // mfu against the data-sheet dense peak of the precision in use (bf16 tensor cores, or fp32 CUDA
    // cores with TF32 off); null for a part the table does not know.
    const double peak = o.act == DS_BF16 ? peaks.bf16_flops : peaks.fp32_flops;
    fprintf(out, "{\"device\": \"cuda:%d %s\", \"framework\": \"downstream\", \"model\": \"bert-classifier\", "
           "\"precision\": \"%s\", \"kernels\": \"%s\", \"attention\": \"%s\", \"deterministic\": %s, "
           "\"vocab\": %lld, \"layers\": %lld, "
           "\"hidden\": %lld, \"heads\": %lld, \"intermediate\": %lld, \"batch\": %lld, \"seq_len\": %lld, "
           "\"params\": %lld, \"samples_per_s\": %.3f, \"tokens_per_s\": %.1f, \"step_ms_median\": %.3f, "
           "\"step_ms_p90\": %.3f, \"model_gflop_per_step\": %.3f, \"achieved_tflops\": %.3f, \"mfu\": ",
           env->device_index, peaks.name, o.act == DS_BF16 ? "bf16" : "fp32", ds_config_str(cfg, "run.kernels"),
           ds_config_str(cfg, "run.attention"), ctx->deterministic ? "true" : "false", (long long)o.vocab, (long long)o.layers, (long long)o.hidden,
           (long long)o.heads, (long long)o.intermediate, (long long)o.batch, (long long)o.seq_len, (long long)r.params,
           r.samples_per_s, r.tokens_per_s, r.step_ms_median, r.step_ms_p90, r.flops_per_step / 1e9,
           r.achieved_flops / 1e12);
    if (peak > 0) fprintf(out, "%.4f", r.achieved_flops / peak);
    else fprintf(out, "null");
    fprintf(out, ", \"mfu_basis\": \"%s dense peak %.0f TFLOP/s\", \"peak_mem_bytes\": %llu, \"arena_bytes\": %llu, "
           "\"first_step_s\": %.3f, \"data_wait_frac\": 0, \"last_loss\": %.4f}\n",
           o.act == DS_BF16 ? "bf16" : "fp32", peak / 1e12, (unsigned long long)r.peak_mem_bytes,
           (unsigned long long)r.arena_bytes, r.first_step_s, r.last_loss);
    return DS_OK;
}

// A stack of BERT encoder layers on the CPU.
static ds_status bench_cpu(ds_context *ctx, const ds_config *cfg, const ds_bench_env *env, FILE *out) {
    ds_bench_opts o = {
        .dims = {.hidden = ds_config_int(cfg, "bench.hidden"), .heads = ds_config_int(cfg, "bench.heads"),
                 .intermediate = ds_config_int(cfg, "bench.intermediate"), .ln_eps = 1e-12,
                 .hidden_dropout = 0.1f, .attn_dropout = 0.1f},
        .layers = ds_config_int(cfg, "bench.layers"),
        .batch = ds_config_int(cfg, "bench.batch"),
        .seq_len = ds_config_int(cfg, "bench.seq_len"),
        .warmup = (int)ds_config_int(cfg, "bench.warmup"),
        .repeats = (int)ds_config_int(cfg, "bench.repeats"),
    };
    DS_REQUIRE(&ctx->err, o.dims.hidden % o.dims.heads == 0, DS_ERR_CONFIG,
               "bench.heads (%lld) must divide bench.hidden (%lld)", (long long)o.dims.heads, (long long)o.dims.hidden);
    DS_LOG_INFO(&ctx->log, "benchmarking %lld encoder layer(s), hidden %lld, %lld heads, intermediate %lld, "
                          "batch %lld x %lld tokens: %d warm-up + %d timed steps",
                (long long)o.layers, (long long)o.dims.hidden, (long long)o.dims.heads, (long long)o.dims.intermediate,
                (long long)o.batch, (long long)o.seq_len, o.warmup, o.repeats);
    ds_bench_result r;
    DS_TRY(ds_bench_run(ctx, &o, env->process_start_s, &r));
    // mfu on the CPU is measured against this machine's own large-GEMM rate (bench.gemm_check),
    // the best fp32 rate OpenBLAS reaches here; null when that check is off.
    fprintf(out, "{\"device\": \"cpu\", \"model\": \"bert-encoder-stack\", \"layers\": %lld, \"hidden\": %lld, "
           "\"heads\": %lld, \"intermediate\": %lld, \"batch\": %lld, \"seq_len\": %lld, \"params\": %lld, "
           "\"threads\": %d, \"samples_per_s\": %.3f, \"tokens_per_s\": %.1f, \"step_ms_median\": %.3f, "
           "\"step_ms_p90\": %.3f, \"model_gflop_per_step\": %.3f, \"achieved_gflops\": %.2f, "
           "\"gemm_gflops\": %.2f, \"mfu\": ",
           (long long)o.layers, (long long)o.dims.hidden, (long long)o.dims.heads, (long long)o.dims.intermediate,
           (long long)o.batch, (long long)o.seq_len, (long long)r.params, omp_get_max_threads(), r.samples_per_s,
           r.tokens_per_s, r.step_ms_median, r.step_ms_p90, r.model_gflops_per_step, r.achieved_gflops, env->gemm_gflops);
    if (env->gemm_gflops > 0)
        fprintf(out, "%.4f", r.achieved_gflops / env->gemm_gflops);
    else
        fprintf(out, "null");
    fprintf(out, ", \"mfu_basis\": \"measured sgemm rate\", \"peak_mem_bytes\": %llu, \"arena_bytes\": %llu, "
           "\"first_step_s\": %.3f, \"data_wait_frac\": null, \"blas_core\": \"%s\"}\n",
           (unsigned long long)r.peak_mem_bytes, (unsigned long long)r.arena_bytes, r.first_step_s,
           env->blas_core);
    return DS_OK;
}

ds_status ds_text_bench(ds_context *ctx, const ds_config *cfg, const ds_bench_env *env, FILE *out) {
    return env->cuda ? bench_cuda(ctx, cfg, env, out) : bench_cpu(ctx, cfg, env, out);
}
