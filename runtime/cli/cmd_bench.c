// `downstream bench`: the fine-tuning-step benchmark of the config's model family (task.type;
// runtime/tasks/task.h: bench) driven by the bench.* config keys; prints the resolved config and the
// BLAS path to stderr and one JSON object to stdout.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../kernels/cpu/blas_info.h"
#include "../../kernels/cuda_info.h"
#include "../../kernels/gpu.h"
#include "../tasks/registry.h"
#include "../train/run_device.h"
#include "blas_fastpath.h"
#include "cli_args.h"
#include "commands.h"

static void help(void) {
    printf("usage: downstream bench [--config FILE] [--set KEY=VALUE ...]\n\n"
           "Times a fine-tuning step (forward, backward, optimizer) of the model family of task.type at the\n"
           "bench.* shape on random inputs, after bench.warmup untimed steps. text_classification: on CUDA\n"
           "the whole BERT classifier (bench.vocab, bench.layers, ..., in run.precision), on the CPU a stack\n"
           "of BERT encoder layers. Prints one JSON object:\n"
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

int ds_cmd_bench(int argc, char **argv) {
    const double process_start = ds_now_seconds() - process_age_seconds();
    ds_context ctx = ds_context_cpu();
    ds_config *cfg = NULL;
    const int early = ds_cli_start("bench", argc, argv, help, &ctx, &cfg);
    if (early >= 0) return early;
    const ds_task_family *family = NULL;
    if (ds_task_family_of_config(cfg, &family, &ctx.err) != DS_OK) {
        ds_config_free(cfg);
        return ds_cli_fail("bench", &ctx.err, 2);
    }
    ds_run_device dev;
    if (ds_run_device_open(&ctx, cfg, NULL, &dev) != DS_OK) {
        ds_config_free(cfg);
        return ds_cli_fail("bench", &ctx.err, 2);
    }
    ds_bench_env env = {.process_start_s = process_start, .cuda = dev.cuda, .device_index = dev.index, .act = dev.act,
                        .blas_core = ds_blas_corename()};
    if (!dev.cuda) {
        char blas[256];
        DS_LOG_INFO(&ctx.log, "%s", ds_blas_fast_path_report(blas, sizeof blas));
        if (ds_config_bool(cfg, "bench.gemm_check")) {
            env.gemm_gflops = ds_blas_gemm_gflops(4096, 384, 1536, 5);
            DS_LOG_INFO(&ctx.log, "sgemm (4096x384)x(384x1536): %.1f GFLOP/s on %d threads", env.gemm_gflops,
                        omp_get_max_threads());
        }
    }
    const ds_status st = family->bench(&ctx, cfg, &env, stdout);
    const int rc = st == DS_OK ? 0 : ds_cli_fail("bench", &ctx.err, st == DS_ERR_CONFIG ? 2 : 1);
    ds_run_device_close(&ctx);
    ds_config_free(cfg);
    return rc;
}
