// The OpenBLAS fast path. Debian's OpenBLAS 0.3.21 does not recognise some newer CPUs and then
// runs its generic (Prescott) kernels at a fraction of the machine's speed; told the CPU's
// class through OPENBLAS_CORETYPE it runs 4-5x faster. The core type is read once, when the
// library loads, so choosing it is main()'s job (it re-executes itself with the variable set);
// this file supplies the facts: what OpenBLAS chose, what the CPU supports, whether the
// products are right, and how fast they are.
#ifndef DS_BLAS_INFO_H
#define DS_BLAS_INFO_H

#include "../../runtime/base/status.h"

// The kernel set OpenBLAS is using now ("Cooperlake", "Prescott", ...).
const char *ds_blas_corename(void);

// The OPENBLAS_CORETYPE to force, or NULL when OpenBLAS already uses fast kernels for this CPU
// (or none is known to be better). Decided from CPUID: AVX-512 BF16 -> Cooperlake,
// AVX-512 F/BW/VL -> SkylakeX, AVX2+FMA -> Haswell.
const char *ds_blas_recommended_coretype(void);

// Checks sgemm on odd shapes (every edge kernel) against a double-precision loop.
// *max_rel_err receives the error relative to the largest output; DS_ERR_NUMERIC above 1e-5
// (an fp32 product with K = 97 has rounding error near 1e-6 relative, so 1e-5 only fails on a
// kernel that computes wrongly).
ds_status ds_blas_selfcheck(double *max_rel_err, ds_err *err);

// Times C(M,N) = A(M,K) B(K,N) in fp32 and returns GFLOP/s (median of `repeats`).
double ds_blas_gemm_gflops(int M, int K, int N, int repeats);

#endif
