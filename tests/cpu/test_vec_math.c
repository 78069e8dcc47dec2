// The vectorised exp and erf of kernels/cpu/vec_math.h, and the GELU loops built on them:
// - accuracy in ulp against double-precision libm (exp and erf of a double are far more accurate
//   than a float ulp, so the double result rounded nowhere is the reference), over a sweep of
//   float bit patterns: every 251st float by default, every float with --exhaustive (minutes;
//   docs/cpu_speed.md gives that run's maxima; it compares the AVX2 and AVX-512 variants only,
//   since the baseline's software fmaf would take hours over 2^32 floats);
// - identical bits from every instruction set this CPU supports (baseline, AVX2, AVX-512), on
//   the same sweep and on GELU: the guarantee of cpu_isa.h that resume and recorded results rely on;
// - special values (NaN, +-inf, +-0, the overflow and underflow ends).
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/cpu/cpu_isa.h"
#include "../../kernels/cpu/vec_math.h"
#include "../test_util.h"

// Bounds, in ulp of the correctly rounded result. Both functions are built to be within 1 ulp
// (0.5 ulp from the final rounding plus what the polynomial and reduction add; the exhaustive
// maxima are ~0.9 ulp); a sweep that exceeded 1 ulp would mean a broken coefficient or reduction.
#define EXP_MAX_ULP 1.0
#define ERF_MAX_ULP 1.0

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

// |got - ref| in units of the float ulp at ref (2^(e-24) for |ref| in [2^(e-1), 2^e), at least
// the subnormal ulp 2^-149). Where ref rounds to inf in float, inf is exact; elsewhere an
// infinite `got` counts as 2^128 (the next power past FLT_MAX).
static double ulp_err(float got, double ref) {
    if (isinf((float)ref) && got == (float)ref) return 0;
    const double g = isinf(got) ? copysign(0x1p128, got) : (double)got;
    const double r = isinf(ref) ? copysign(0x1p128, ref) : ref;
    int e;
    frexp(r, &e);
    double ulp = ldexp(1.0, e - 24);
    if (ulp < 0x1p-149) ulp = 0x1p-149;
    if (fabs(r) >= 0x1p128) ulp = ldexp(1.0, 128 - 24);
    return fabs(g - r) / ulp;
}

typedef struct sweep_result {
    double max_ulp;
    float worst_x;
    long mismatches;  // elements whose bits differ from the best ISA's
} sweep_result;

#define CHUNK 65536

// Sweeps bit patterns u = 0, stride, 2 stride, ... < 2^32 (both signs), computing fn under every
// ISA up to `best`. Accuracy is measured on the best ISA's result for x with ref_lo <= x <= ref_hi;
// elsewhere only the bits are compared across ISAs.
static sweep_result sweep(void (*fn)(ds_cpu_isa, const float *, float *, int64_t), double (*ref)(double),
                          ds_cpu_isa lowest, ds_cpu_isa best, uint32_t stride, double ref_lo, double ref_hi) {
    sweep_result res = {0, 0, 0};
    float *x = malloc(CHUNK * sizeof *x), *y[3];
    for (int i = 0; i < 3; i++) y[i] = malloc(CHUNK * sizeof *y[i]);
    uint64_t u = 0;
    while (u < (1ull << 32)) {
        int64_t n = 0;
        for (; n < CHUNK && u < (1ull << 32); n++, u += stride) x[n] = from_bits((uint32_t)u);
        for (int isa = (int)lowest; isa <= (int)best; isa++) fn((ds_cpu_isa)isa, x, y[isa], n);
        for (int64_t i = 0; i < n; i++) {
            for (int isa = (int)lowest; isa < (int)best; isa++)
                if (to_bits(y[isa][i]) != to_bits(y[best][i])) res.mismatches++;
            if (!(x[i] >= ref_lo && x[i] <= ref_hi)) continue;  // also skips NaN
            const double e = ulp_err(y[best][i], ref((double)x[i]));
            if (e > res.max_ulp) {
                res.max_ulp = e;
                res.worst_x = x[i];
            }
        }
    }
    for (int i = 0; i < 3; i++) free(y[i]);
    free(x);
    return res;
}

static float one(void (*fn)(ds_cpu_isa, const float *, float *, int64_t), ds_cpu_isa isa, float x) {
    float y;
    fn(isa, &x, &y, 1);
    return y;
}

static void specials(ds_test *t, ds_cpu_isa isa) {
    const char *nm = ds_cpu_isa_name(isa);
    ds_test_check(t, isnan(one(ds_vec_expf_n, isa, NAN)), "%s: exp(NaN) is NaN", nm);
    ds_test_check(t, one(ds_vec_expf_n, isa, INFINITY) == INFINITY, "%s: exp(inf) = inf", nm);
    ds_test_check(t, one(ds_vec_expf_n, isa, -INFINITY) == 0.0f, "%s: exp(-inf) = 0", nm);
    ds_test_check(t, one(ds_vec_expf_n, isa, 88.8f) == INFINITY, "%s: exp(88.8) overflows to inf", nm);
    ds_test_check(t, one(ds_vec_expf_n, isa, -110.0f) == 0.0f, "%s: exp(-110) underflows to 0", nm);
    ds_test_check(t, one(ds_vec_expf_n, isa, 0.0f) == 1.0f && one(ds_vec_expf_n, isa, -0.0f) == 1.0f,
                  "%s: exp(+-0) = 1", nm);
    ds_test_check(t, one(ds_vec_expf_n, isa, -103.0f) > 0.0f, "%s: exp(-103) is a positive subnormal", nm);
    ds_test_check(t, isnan(one(ds_vec_erff_n, isa, NAN)), "%s: erf(NaN) is NaN", nm);
    ds_test_check(t, one(ds_vec_erff_n, isa, INFINITY) == 1.0f && one(ds_vec_erff_n, isa, -INFINITY) == -1.0f,
                  "%s: erf(+-inf) = +-1", nm);
    const float mz = one(ds_vec_erff_n, isa, -0.0f);
    ds_test_check(t, mz == 0.0f && signbit(mz), "%s: erf(-0) = -0", nm);
    ds_test_check(t, one(ds_vec_erff_n, isa, 5.0f) == 1.0f, "%s: erf(5) = 1", nm);
}

// GELU forward and backward on a grid through the interesting range: every ISA gives the same
// bits, and the values are close to the double-precision formula (a few float ulp of the
// larger terms; 1e-6 absolute + 2e-6 relative covers the two 1-ulp functions and the rounding
// of the surrounding products and sums).
static void gelu(ds_test *t, ds_cpu_isa best) {
    enum { N = 40001 };
    float *x = malloc(N * sizeof *x), *dy = malloc(N * sizeof *dy), *y[3], *dx[3];
    for (int i = 0; i < 3; i++) {
        y[i] = malloc(N * sizeof *y[i]);
        dx[i] = malloc(N * sizeof *dx[i]);
    }
    for (int i = 0; i < N; i++) {
        x[i] = -10.0f + 20.0f * (float)i / (N - 1);
        dy[i] = 1.0f - 0.37f * (float)(i % 7);
    }
    for (int isa = 0; isa <= (int)best; isa++) {
        ds_vec_gelu_fwd_f32((ds_cpu_isa)isa, x, y[isa], N);
        ds_vec_gelu_bwd_f32((ds_cpu_isa)isa, x, dy, dx[isa], N);
    }
    long mism = 0;
    double worst_f = 0, worst_b = 0;
    for (int i = 0; i < N; i++) {
        for (int isa = 0; isa < (int)best; isa++)
            mism += memcmp(&y[isa][i], &y[best][i], 4) != 0 || memcmp(&dx[isa][i], &dx[best][i], 4) != 0;
        const double xd = x[i];
        const double cdf = 0.5 * (1 + erf(xd * M_SQRT1_2)), pdf = exp(-0.5 * xd * xd) / sqrt(2 * M_PI);
        const double yf = xd * cdf, db = dy[i] * (cdf + xd * pdf);
        const double ef = fabs(y[best][i] - yf) / (1e-6 + 2e-6 * fabs(yf));
        const double eb = fabs(dx[best][i] - db) / (1e-6 + 2e-6 * fabs(db));
        worst_f = ef > worst_f ? ef : worst_f;
        worst_b = eb > worst_b ? eb : worst_b;
    }
    ds_test_check(t, mism == 0, "GELU: every ISA up to %s gives the same bits (%ld differ)", ds_cpu_isa_name(best),
                  mism);
    ds_test_check(t, worst_f <= 1, "GELU forward within 1e-6 + 2e-6 |y| of the double formula (%.3f of it)",
                  worst_f);
    ds_test_check(t, worst_b <= 1, "GELU backward within 1e-6 + 2e-6 |dx| of the double formula (%.3f of it)",
                  worst_b);
    for (int i = 0; i < 3; i++) {
        free(y[i]);
        free(dx[i]);
    }
    free(x);
    free(dy);
}

int main(int argc, char **argv) {
    ds_test t = ds_test_begin("vec_math");
    const bool exhaustive = argc > 1 && strcmp(argv[1], "--exhaustive") == 0;
    const uint32_t stride = exhaustive ? 1 : 251;
    const ds_cpu_isa best = ds_cpu_isa_supported();
    const ds_cpu_isa lowest = exhaustive && best > DS_CPU_ISA_AVX2 ? DS_CPU_ISA_AVX2 : DS_CPU_ISA_BASELINE;
    printf("ISAs compared: %s .. %s; sweep stride %u\n", ds_cpu_isa_name(lowest), ds_cpu_isa_name(best), stride);
    for (int isa = 0; isa <= (int)best; isa++) specials(&t, (ds_cpu_isa)isa);

    const sweep_result e = sweep(ds_vec_expf_n, exp, lowest, best, stride, -104.0, 89.0);
    fflush(stdout);
    printf("exp: max %.4f ulp at %a; %ld ISA mismatches\n", e.max_ulp, (double)e.worst_x, e.mismatches);
    ds_test_check(&t, e.max_ulp <= EXP_MAX_ULP, "exp within %.1f ulp on [-104, 89] (max %.4f at %a)", EXP_MAX_ULP,
                  e.max_ulp, (double)e.worst_x);
    ds_test_check(&t, e.mismatches == 0, "exp: identical bits on every ISA (%ld differ)", e.mismatches);

    const sweep_result r = sweep(ds_vec_erff_n, erf, lowest, best, stride, -INFINITY, INFINITY);
    printf("erf: max %.4f ulp at %a; %ld ISA mismatches\n", r.max_ulp, (double)r.worst_x, r.mismatches);
    ds_test_check(&t, r.max_ulp <= ERF_MAX_ULP, "erf within %.1f ulp everywhere (max %.4f at %a)", ERF_MAX_ULP,
                  r.max_ulp, (double)r.worst_x);
    ds_test_check(&t, r.mismatches == 0, "erf: identical bits on every ISA (%ld differ)", r.mismatches);

    gelu(&t, best);
    return ds_test_finish(&t);
}
