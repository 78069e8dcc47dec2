// `downstream bench`: the fine-tuning-step benchmark (runtime/tasks/text/bench.h) driven by the bench.*
// config keys; prints the resolved config and the BLAS path to stderr and one JSON object to
// stdout.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../kernels/cpu/blas_info.h"
#include "../../kernels/cuda_info.h"
#include "../../kernels/gpu.h"
#include "../tasks/text/bench.h"
#include "../train/run_device.h"
#include "blas_fastpath.h"
#include "cli_args.h"
#include "commands.h"

static void help(void) {
    printf("usage: downstream bench [--config FILE] [--set KEY=VALUE ...]\n\n"
           "Times a fine-tuning step (forward, backward, AdamW) at the bench.* shape on random inputs, after\n"
           "bench.warmup untimed steps: on CUDA of the whole BERT classifier (bench.vocab, bench.layers, ...,\n"
           "in run.precision), on the CPU of a stack of BERT encoder layers. Prints one JSON object:\n"
           "samples_per_s, tokens_per_s, step_ms_median, step_ms_p90, mfu, peak_mem_bytes, device,\n"
           "first_step_s, data_wait_frac, and the GEMM rate of this machine. `downstream help config`\n"
           "lists the keys.\n\noptions:\n");
    ds_cli_print_common_options(stdout);
}

// Seconds this process has existed (since fork, across the BLAS re-exec), from /proc.
static double process_age_seconds(void) {
    FILE *f = fopen("/proc/self/stat", "r");
    double uptime = 0;
    unsigned long long start = 0;
    if (f) {
        char buf[2048];
        const size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        const char *p = strrchr(buf, ')');  // the command name may hold spaces
        for (int field = 3; p && field <= 22; field++) {
            p = strchr(p + 1, ' ');
            if (p && field == 21) start = strtoull(p + 1, NULL, 10);  // field 22: starttime
        }
    }
    FILE *u = fopen("/proc/uptime", "r");
    if (u) {
        if (fscanf(u, "%lf", &uptime) != 1) uptime = 0;
        fclose(u);
    }
    const double age = uptime - (double)start / (double)sysconf(_SC_CLK_TCK);
    return age > 0 && start ? age : 0;
}

// The whole BERT classifier on the open CUDA device; the JSON of ds_bench_bert_run's result.
static int bench_cuda(ds_context *ctx, const ds_config *cfg, const ds_run_device *dev, double process_start) {
    const ds_bench_bert_opts o = {
        .vocab = ds_config_int(cfg, "bench.vocab"), .hidden = ds_config_int(cfg, "bench.hidden"),
        .layers = ds_config_int(cfg, "bench.layers"), .heads = ds_config_int(cfg, "bench.heads"),
        .intermediate = ds_config_int(cfg, "bench.intermediate"), .num_labels = ds_config_int(cfg, "bench.num_labels"),
        .batch = ds_config_int(cfg, "bench.batch"), .seq_len = ds_config_int(cfg, "bench.seq_len"),
        .warmup = (int)ds_config_int(cfg, "bench.warmup"), .repeats = (int)ds_config_int(cfg, "bench.repeats"),
        .act = dev->act,
    };
    if (o.hidden % o.heads != 0) {
        fprintf(stderr, "downstream bench: bench.heads (%lld) must divide bench.hidden (%lld)\n", (long long)o.heads,
                (long long)o.hidden);
        return 2;
    }
    DS_LOG_INFO(&ctx->log, "benchmarking BertForSequenceClassification: vocab %lld, %lld layers, hidden %lld, %lld heads, "
                           "intermediate %lld, %lld labels; batch %lld x %lld tokens: %d warm-up + %d timed steps",
                (long long)o.vocab, (long long)o.layers, (long long)o.hidden, (long long)o.heads,
                (long long)o.intermediate, (long long)o.num_labels, (long long)o.batch, (long long)o.seq_len, o.warmup,
                o.repeats);
    ds_gpu_peaks peaks;
    if (ds_gpu_peaks_get(ctx, &peaks) != DS_OK) return ds_cli_fail("bench", &ctx->err, 1);
    ds_bench_bert_result r;
    if (ds_bench_bert_run(ctx, &o, process_start, &r) != DS_OK) return ds_cli_fail("bench", &ctx->err, 1);
    // mfu against the data-sheet dense peak of the precision in use (bf16 tensor cores, or fp32 CUDA
    // cores with TF32 off); null for a part the table does not know.
    const double peak = o.act == DS_BF16 ? peaks.bf16_flops : peaks.fp32_flops;
    printf("{\"device\": \"cuda:%d %s\", \"framework\": \"downstream\", \"model\": \"bert-classifier\", "
           "\"precision\": \"%s\", \"kernels\": \"%s\", \"attention\": \"%s\", \"deterministic\": %s, "
           "\"vocab\": %lld, \"layers\": %lld, "
           "\"hidden\": %lld, \"heads\": %lld, \"intermediate\": %lld, \"batch\": %lld, \"seq_len\": %lld, "
           "\"params\": %lld, \"samples_per_s\": %.3f, \"tokens_per_s\": %.1f, \"step_ms_median\": %.3f, "
           "\"step_ms_p90\": %.3f, \"model_gflop_per_step\": %.3f, \"achieved_tflops\": %.3f, \"mfu\": ",
           dev->index, peaks.name, o.act == DS_BF16 ? "bf16" : "fp32", ds_config_str(cfg, "run.kernels"),
           ds_config_str(cfg, "run.attention"), ctx->deterministic ? "true" : "false", (long long)o.vocab, (long long)o.layers, (long long)o.hidden,
           (long long)o.heads, (long long)o.intermediate, (long long)o.batch, (long long)o.seq_len, (long long)r.params,
           r.samples_per_s, r.tokens_per_s, r.step_ms_median, r.step_ms_p90, r.flops_per_step / 1e9,
           r.achieved_flops / 1e12);
    if (peak > 0) printf("%.4f", r.achieved_flops / peak);
    else printf("null");
    printf(", \"mfu_basis\": \"%s dense peak %.0f TFLOP/s\", \"peak_mem_bytes\": %llu, \"arena_bytes\": %llu, "
           "\"first_step_s\": %.3f, \"data_wait_frac\": 0, \"last_loss\": %.4f}\n",
           o.act == DS_BF16 ? "bf16" : "fp32", peak / 1e12, (unsigned long long)r.peak_mem_bytes,
           (unsigned long long)r.arena_bytes, r.first_step_s, r.last_loss);
    return 0;
}

int ds_cmd_bench(int argc, char **argv) {
    const double process_start = ds_now_seconds() - process_age_seconds();
    ds_context ctx = ds_context_cpu();
    ds_config *cfg = NULL;
    const int early = ds_cli_start("bench", argc, argv, help, &ctx, &cfg);
    if (early >= 0) return early;
    int rc = 0;
    ds_run_device dev;
    if (ds_run_device_open(&ctx, cfg, NULL, &dev) != DS_OK) {
        ds_config_free(cfg);
        return ds_cli_fail("bench", &ctx.err, 2);
    }
    if (dev.cuda) {
        rc = bench_cuda(&ctx, cfg, &dev, process_start);
        ds_run_device_close(&ctx);
        ds_config_free(cfg);
        return rc;
    }

    char blas[256];
    DS_LOG_INFO(&ctx.log, "%s", ds_blas_fast_path_report(blas, sizeof blas));
    double gemm = 0;
    if (ds_config_bool(cfg, "bench.gemm_check")) {
        gemm = ds_blas_gemm_gflops(4096, 384, 1536, 5);
        DS_LOG_INFO(&ctx.log, "sgemm (4096x384)x(384x1536): %.1f GFLOP/s on %d threads", gemm, omp_get_max_threads());
    }

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
    if (o.dims.hidden % o.dims.heads != 0) {
        fprintf(stderr, "downstream bench: bench.heads (%lld) must divide bench.hidden (%lld)\n",
                (long long)o.dims.heads, (long long)o.dims.hidden);
        ds_config_free(cfg);
        return 2;
    }
    DS_LOG_INFO(&ctx.log, "benchmarking %lld encoder layer(s), hidden %lld, %lld heads, intermediate %lld, "
                          "batch %lld x %lld tokens: %d warm-up + %d timed steps",
                (long long)o.layers, (long long)o.dims.hidden, (long long)o.dims.heads, (long long)o.dims.intermediate,
                (long long)o.batch, (long long)o.seq_len, o.warmup, o.repeats);
    ds_bench_result r;
    if (ds_bench_run(&ctx, &o, process_start, &r) != DS_OK) {
        rc = ds_cli_fail("bench", &ctx.err, 1);
    } else {
        // mfu on the CPU is measured against this machine's own large-GEMM rate (bench.gemm_check),
        // the best fp32 rate OpenBLAS reaches here; null when that check is off.
        printf("{\"device\": \"cpu\", \"model\": \"bert-encoder-stack\", \"layers\": %lld, \"hidden\": %lld, "
               "\"heads\": %lld, \"intermediate\": %lld, \"batch\": %lld, \"seq_len\": %lld, \"params\": %lld, "
               "\"threads\": %d, \"samples_per_s\": %.3f, \"tokens_per_s\": %.1f, \"step_ms_median\": %.3f, "
               "\"step_ms_p90\": %.3f, \"model_gflop_per_step\": %.3f, \"achieved_gflops\": %.2f, "
               "\"gemm_gflops\": %.2f, \"mfu\": ",
               (long long)o.layers, (long long)o.dims.hidden, (long long)o.dims.heads, (long long)o.dims.intermediate,
               (long long)o.batch, (long long)o.seq_len, (long long)r.params, omp_get_max_threads(), r.samples_per_s,
               r.tokens_per_s, r.step_ms_median, r.step_ms_p90, r.model_gflops_per_step, r.achieved_gflops, gemm);
        if (gemm > 0)
            printf("%.4f", r.achieved_gflops / gemm);
        else
            printf("null");
        printf(", \"mfu_basis\": \"measured sgemm rate\", \"peak_mem_bytes\": %llu, \"arena_bytes\": %llu, "
               "\"first_step_s\": %.3f, \"data_wait_frac\": null, \"blas_core\": \"%s\"}\n",
               (unsigned long long)r.peak_mem_bytes, (unsigned long long)r.arena_bytes, r.first_step_s,
               ds_blas_corename());
    }
    ds_config_free(cfg);
    return rc;
}
