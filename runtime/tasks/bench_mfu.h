// The mfu fields of a family's `downstream bench` JSON (segmentation, speech): achieved FLOP/s over
// a basis, on CUDA the data-sheet dense peak of the precision in use (bf16 tensor cores or fp32),
// on the CPU the sgemm rate measured at start-up.
#ifndef DS_BENCH_MFU_H
#define DS_BENCH_MFU_H

#include <stdio.h>

#include "../../kernels/gpu.h"
#include "task.h"

// The basis in GFLOP/s; 0 when unknown (a CPU run that did not measure its sgemm rate). peaks:
// the device's (CUDA only; may be NULL on the CPU).
double ds_bench_mfu_basis(const ds_bench_env *env, const ds_gpu_peaks *peaks);

// Writes the value of "mfu" (achieved / basis, or null) and then `, "mfu_basis": ...` (with the
// peaks on CUDA) to out: the caller's format ends in `"mfu": `.
void ds_bench_write_mfu(FILE *out, const ds_bench_env *env, const ds_gpu_peaks *peaks, double achieved_gflops);

#endif
