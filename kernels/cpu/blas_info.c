#include "blas_info.h"

#include <cblas.h>
#include <cpuid.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/log.h"

const char *ds_blas_corename(void) { return openblas_get_corename(); }

// OpenBLAS kernel sets that mean "this CPU was not recognised" on a modern x86-64.
static int is_generic_core(const char *name) {
    static const char *const generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                          "Atom",     "Katmai", "Coppermine", "Northwood", "Banias"};
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcasecmp(name, generic[i]) == 0) return 1;
    return 0;
}

const char *ds_blas_recommended_coretype(void) {
    if (!is_generic_core(ds_blas_corename())) return NULL;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return NULL;
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    unsigned a1 = 0, b1, c1, d1;
    __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    const int avx512bf16 = (a1 >> 5) & 1;
    // The OS must save the AVX-512 state too (XCR0 bits 5-7) before its kernels are usable.
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const int os_avx512 = (lo & 0xe6) == 0xe6, os_avx = (lo & 0x6) == 0x6;
    if (avx512f && avx512bw && avx512vl && os_avx512) return avx512bf16 ? "Cooperlake" : "SkylakeX";
    if (avx2 && os_avx) return "Haswell";
    return NULL;
}

ds_status ds_blas_selfcheck(double *max_rel_err, ds_err *err) {
    enum { M = 67, K = 97, N = 83 };  // odd sizes reach every edge case of the blocked kernels
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N), *c = malloc(sizeof(float) * M * N);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return ds_err_set(err, DS_ERR_OOM, "BLAS self-check: out of memory");
    }
    for (int i = 0; i < M * K; i++) a[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    for (int i = 0; i < K * N; i++) b[i] = (float)((i * 53 % 89) - 44) / 44.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    double max_diff = 0, max_ref = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)a[i * K + k] * b[k * N + j];
            max_diff = fmax(max_diff, fabs(s - c[i * N + j]));
            max_ref = fmax(max_ref, fabs(s));
        }
    free(a), free(b), free(c);
    *max_rel_err = max_diff / max_ref;
    if (!(*max_rel_err <= 1e-5))
        return ds_err_set(err, DS_ERR_NUMERIC,
                          "BLAS self-check failed with OpenBLAS core '%s': relative error %.3e > 1e-5",
                          ds_blas_corename(), *max_rel_err);
    return DS_OK;
}

static int cmp_double(const void *x, const void *y) {
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double ds_blas_gemm_gflops(int M, int K, int N, int repeats) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N),
          *c = malloc(sizeof(float) * (size_t)M * N);
    double *t = malloc(sizeof(double) * (size_t)(repeats > 0 ? repeats : 1));
    double rate = 0;
    if (a && b && c && t && repeats > 0) {
        for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 13) * 0.01f;
        for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 11) * 0.01f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);  // warm-up
        for (int r = 0; r < repeats; r++) {
            const double t0 = ds_now_seconds();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
            t[r] = ds_now_seconds() - t0;
        }
        qsort(t, (size_t)repeats, sizeof(double), cmp_double);
        rate = 2.0 * M * N * K / t[repeats / 2] / 1e9;
    }
    free(a), free(b), free(c), free(t);
    return rate;
}
