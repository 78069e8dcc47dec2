// The CTC loss's extended-range arithmetic on the device: the same functions as the CPU op's
// (kernels/cpu/ctc_loss.c: ctc_pow2, ctc_split, ctc_sum3_mul, ctc_exp_split, ctc_log), written
// with __dmul_rn / __dadd_rn so that nvcc cannot contract a product and a sum into one FMA. The
// CPU build is ISO C11 (-ffp-contract=off, no FMA), so every add, multiply and bit operation here
// rounds exactly as there: the alpha rows come out bit-identical to the CPU op's (the GPU test
// checks that). Only ctc_log (CUDA's log vs glibc's) and the backward's division and sums (a
// different order) may differ in the last bits.
//
// A value is v 2^e with v in [0.5, 1) and e an integer held in a double, or zero as
// (0, CTC_ZERO_E). Device code only; included by ctc.cu.
#ifndef DS_CUDA_CTC_MATH_CUH
#define DS_CUDA_CTC_MATH_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#define CTC_ZERO_E (-1e300)
#define CTC_TWO52 4503599627370496.0  // 2^52

// 2^k for an integer-valued k, exactly; 0 for k < -1022, clamped at 2^1023.
static __device__ __forceinline__ double ctc_pow2(double k) {
    double kc = k < -1023.0 ? -1023.0 : k;
    kc = kc > 1023.0 ? 1023.0 : kc;
    unsigned long long u = (unsigned long long)__double_as_longlong(__dadd_rn(kc, 1023.0 + CTC_TWO52));
    u = (u - 0x4330000000000000ull) << 52;  // exponent field j = k + 1023: 2^(j - 1023), or +0 for j = 0
    return __longlong_as_double((long long)u);
}

// x >= 0 (normal or 0) as (v, e); NaN stays NaN (in v).
static __device__ __forceinline__ void ctc_split(double x, double *v, double *e) {
    const unsigned long long b = (unsigned long long)__double_as_longlong(x);
    const double m = __longlong_as_double((long long)((b & 0x000fffffffffffffull) | 0x3fe0000000000000ull));
    const double eb = __longlong_as_double((long long)(0x4330000000000000ull | ((b >> 52) & 0x7ffull)));
    const double ee = __dadd_rn(__dadd_rn(eb, -CTC_TWO52), -1022.0);
    const double mv = x != x ? x : m;
    *v = x == 0.0 ? 0.0 : mv;
    *e = x == 0.0 ? CTC_ZERO_E : ee;
}

// (a + b + c) y in (v, e) form; zeros must be (0, CTC_ZERO_E). The sum is ((a + b) + c) as on the CPU.
static __device__ __forceinline__ void ctc_sum3_mul(double av, double ae, double bv, double be, double cv, double ce,
                                                    double yv, double ye, double *ov, double *oe) {
    double m = ae > be ? ae : be;
    m = ce > m ? ce : m;
    const double ta = __dmul_rn(av, ctc_pow2(__dadd_rn(ae, -m)));
    const double tb = __dmul_rn(bv, ctc_pow2(__dadd_rn(be, -m)));
    const double tc = __dmul_rn(cv, ctc_pow2(__dadd_rn(ce, -m)));
    const double s = __dadd_rn(__dadd_rn(ta, tb), tc);
    double v, e;
    ctc_split(__dmul_rn(s, yv), &v, &e);
    *ov = v;
    *oe = v == 0.0 ? CTC_ZERO_E : __dadd_rn(__dadd_rn(e, m), ye);
}

// exp(x) as (v, e) for a log-probability x <= 0 (x < -1e15 counts as -inf): x = k ln2 + r, exp(r)
// by its Taylor series to degree 13 in Horner form (the CPU's constants and order).
static __device__ __forceinline__ void ctc_exp_split(double x, double *v, double *e) {
    const bool zero = x < -1e15;
    const double xc = zero ? 0.0 : x, magic = 6755399441055744.0;  // 1.5 * 2^52
    const double k = __dadd_rn(__dadd_rn(__dmul_rn(xc, 1.44269504088896338700), magic), -magic);
    const double r = __dadd_rn(__dadd_rn(xc, -__dmul_rn(k, 6.93147180369123816490e-01)),
                               -__dmul_rn(k, 1.90821492927058770002e-10));
    double p = 1.0 / 6227020800.0;  // 1/13!
    p = __dadd_rn(__dmul_rn(p, r), 1.0 / 479001600.0);
    p = __dadd_rn(__dmul_rn(p, r), 1.0 / 39916800.0);
    p = __dadd_rn(__dmul_rn(p, r), 1.0 / 3628800.0);
    p = __dadd_rn(__dmul_rn(p, r), 1.0 / 362880.0);
    p = __dadd_rn(__dmul_rn(p, r), 1.0 / 40320.0);
    p = __dadd_rn(__dmul_rn(p, r), 1.0 / 5040.0);
    p = __dadd_rn(__dmul_rn(p, r), 1.0 / 720.0);
    p = __dadd_rn(__dmul_rn(p, r), 1.0 / 120.0);
    p = __dadd_rn(__dmul_rn(p, r), 1.0 / 24.0);
    p = __dadd_rn(__dmul_rn(p, r), 1.0 / 6.0);
    p = __dadd_rn(__dmul_rn(p, r), 0.5);
    p = __dadd_rn(__dmul_rn(p, r), 1.0);
    p = __dadd_rn(__dmul_rn(p, r), 1.0);
    double pv, pe;
    ctc_split(p, &pv, &pe);
    *v = zero ? 0.0 : pv;
    *e = zero ? CTC_ZERO_E : __dadd_rn(pe, k);
}

// log(v 2^e) in double (CUDA's log: within 1 ulp of glibc's).
static __device__ __forceinline__ double ctc_log(double v, double e) {
    return v == 0.0 ? -INFINITY : __dadd_rn(log(v), __dmul_rn(e, 0.69314718055994530942));
}

// An exponent as stored in alpha_exp (INT32_MIN for a zero), and read back.
static __device__ __forceinline__ int32_t ctc_exp_store(double v, double e) {
    double ec = e < -2147483647.0 ? -2147483648.0 : e;
    ec = v == 0.0 ? -2147483648.0 : ec;
    return (int32_t)ec;
}
static __device__ __forceinline__ double ctc_exp_of(int32_t e) { return e == INT32_MIN ? CTC_ZERO_E : (double)e; }

#endif
