#include "bench_mfu.h"

double ds_bench_mfu_basis(const ds_bench_env *env, const ds_gpu_peaks *peaks) {
    if (!env->cuda) return env->gemm_gflops;
    return (env->act == DS_BF16 ? peaks->bf16_flops : peaks->fp32_flops) / 1e9;
}

void ds_bench_write_mfu(FILE *out, const ds_bench_env *env, const ds_gpu_peaks *peaks, double achieved_gflops) {
    const double basis = ds_bench_mfu_basis(env, peaks);
    if (basis > 0) fprintf(out, "%.4f", achieved_gflops / basis);
    else fprintf(out, "null");
    if (env->cuda)
        fprintf(out, ", \"mfu_basis\": \"%s dense peak %.0f TFLOP/s\", \"peak_tflops\": %.1f, \"peak_bf16_tflops\": %.1f",
                env->act == DS_BF16 ? "bf16" : "fp32", basis / 1e3, basis / 1e3, peaks->bf16_flops / 1e12);
    else
        fprintf(out, ", \"mfu_basis\": \"measured sgemm rate\"");
}
