// Vectorisable single-precision exp and erf, for the hot loops of the CPU backend (GELU
// forward and backward, and any loop compiled per instruction set, cpu_isa.h).
//
// Both are branch-free plain C (selects, no table look-ups), so GCC vectorises a loop that calls
// them, and they are written with explicit fmaf only, so that the baseline, AVX2 and AVX-512
// builds of a loop give identical bits. Accuracy, measured over every float by
// `test_vec_math --exhaustive` against correctly rounded double results: ds_vexpf within 1 ulp
// (max 0.9x ulp) on [-104, 89] and exact at the ends (0, inf, NaN in and out); ds_verff within 1 ulp
// everywhere (see docs/cpu_speed.md for the measured maxima). libm's expf and erff are correctly
// rounded or nearly so; the difference to them is at most 1 ulp, which moves results far below the
// PyTorch parity tolerances (fp32, 1e-5 relative).
//
// The coefficients come from scripts/fit_vec_math.py (near-minimax fits, rounded to float).
#ifndef DS_VEC_MATH_H
#define DS_VEC_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu_isa.h"

// exp: e^r = 1 + r + r^2 (C0 + C1 r + ... + C4 r^4), |r| <= ln2/2.
#define DS_VEXP_C0 0x1.fffffcp-2f
#define DS_VEXP_C1 0x1.55548ap-3f
#define DS_VEXP_C2 0x1.555916p-5f
#define DS_VEXP_C3 0x1.123fc6p-7f
#define DS_VEXP_C4 0x1.6a1a6ep-10f
// erf, |x| < 1: erf(a) = a + a (S0 + S1 u + ... + S6 u^6), u = a^2.
#define DS_VERF_S0 0x1.06eba8p-3f
#define DS_VERF_S1 -0x1.81273ep-2f
#define DS_VERF_S2 0x1.ce2cf8p-4f
#define DS_VERF_S3 -0x1.b7f912p-6f
#define DS_VERF_S4 0x1.5405cep-8f
#define DS_VERF_S5 -0x1.a3f7b8p-11f
#define DS_VERF_S6 0x1.496bf4p-14f
// erf, 1 <= |x| <= 4: erf(a) = 1 - exp(L0 + L1 t + ... + L12 t^12), t = a - 1 (log erfc).
#define DS_VERF_L0 -0x1.d97fcp+0f
#define DS_VERF_L1 -0x1.51c9bp+1f
#define DS_VERF_L2 -0x1.afabbcp-1f
#define DS_VERF_L3 -0x1.547a78p-5f
#define DS_VERF_L4 0x1.48efa8p-7f
#define DS_VERF_L5 -0x1.0491ap-9f
#define DS_VERF_L6 0x1.081fd8p-12f
#define DS_VERF_L7 0x1.9585e2p-17f
#define DS_VERF_L8 -0x1.28e566p-16f
#define DS_VERF_L9 0x1.693a5p-18f
#define DS_VERF_L10 -0x1.f96016p-21f
#define DS_VERF_L11 0x1.97acc4p-24f
#define DS_VERF_L12 -0x1.26b5aep-28f

static inline float ds_vm_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// e^x. Reduction x = k ln2 + r with k = nearest integer of x log2(e) (the 1.5 * 2^23 shifter
// rounds it), r by two fmaf steps against ln2 split in a float head and tail; then
// 2^k = 2^k1 * 2^k2 (k1 = k / 2) so that every k of [-151, 129] scales in two exact-exponent
// steps and a subnormal or overflowing result is rounded once, at the last multiply.
static inline float ds_vexpf(float x) {
    float xc = x > 89.0f ? 89.0f : x;      // e^89 overflows: inf
    xc = xc < -104.0f ? -104.0f : xc;      // e^-104 is below half the least subnormal: 0
    xc = xc == xc ? xc : 0.0f;             // NaN: any finite value, replaced at the end
    const float shifter = 0x1.8p23f;
    const float kf = fmaf(xc, 0x1.715476p+0f, shifter) - shifter;  // round(x / ln2)
    float r = fmaf(kf, -0x1.62e43p-1f, xc);                        // ln2 head (float)
    r = fmaf(kf, 0x1.05c610p-29f, r);                              // minus the tail of ln2
    float q = DS_VEXP_C4;
    q = fmaf(q, r, DS_VEXP_C3);
    q = fmaf(q, r, DS_VEXP_C2);
    q = fmaf(q, r, DS_VEXP_C1);
    q = fmaf(q, r, DS_VEXP_C0);
    const float p = fmaf(q, r * r, r) + 1.0f;  // e^r in [0.7, 1.42]
    const int32_t k = (int32_t)kf;
    const int32_t k1 = k / 2, k2 = k - k1;     // each in [-76, 65]: a normal power of two
    const float s1 = ds_vm_from_bits((uint32_t)(k1 + 127) << 23);
    const float s2 = ds_vm_from_bits((uint32_t)(k2 + 127) << 23);
    const float y = (p * s1) * s2;
    return x == x ? y : x;
}

// erf(x), odd. |x| < 1: the polynomial form; 1 <= |x|: 1 - e^L(|x|) with L ~ log erfc, |x|
// clamped at 4 (erf rounds to 1 from 3.92 on). Both arms are computed and one is selected, so
// that the loop stays branch-free.
static inline float ds_verff(float x) {
    const float a = fabsf(x);
    const float u = a * a;
    float s = DS_VERF_S6;
    s = fmaf(s, u, DS_VERF_S5);
    s = fmaf(s, u, DS_VERF_S4);
    s = fmaf(s, u, DS_VERF_S3);
    s = fmaf(s, u, DS_VERF_S2);
    s = fmaf(s, u, DS_VERF_S1);
    s = fmaf(s, u, DS_VERF_S0);
    const float small = fmaf(a, s, a);
    const float ac = a < 4.0f ? a : 4.0f;  // NaN stays NaN here; replaced at the end
    const float t = ac - 1.0f;
    float l = DS_VERF_L12;
    l = fmaf(l, t, DS_VERF_L11);
    l = fmaf(l, t, DS_VERF_L10);
    l = fmaf(l, t, DS_VERF_L9);
    l = fmaf(l, t, DS_VERF_L8);
    l = fmaf(l, t, DS_VERF_L7);
    l = fmaf(l, t, DS_VERF_L6);
    l = fmaf(l, t, DS_VERF_L5);
    l = fmaf(l, t, DS_VERF_L4);
    l = fmaf(l, t, DS_VERF_L3);
    l = fmaf(l, t, DS_VERF_L2);
    l = fmaf(l, t, DS_VERF_L1);
    l = fmaf(l, t, DS_VERF_L0);
    const float large = 1.0f - ds_vexpf(l);
    const float y = a < 1.0f ? small : large;
    return x == x ? copysignf(y, x) : x;
}

// ---- the loops, compiled per instruction set (vec_math.c); `isa` from ds_cpu_isa_select() ----
// All arrays are host memory of n floats; x and y may be the same array. Elements are
// independent, so the OpenMP split (above 65,536 elements) changes no result.

// y[i] = ds_vexpf(x[i]) and y[i] = ds_verff(x[i]): for tests and the kernel bench.
void ds_vec_expf_n(ds_cpu_isa isa, const float *x, float *y, int64_t n);
void ds_vec_erff_n(ds_cpu_isa isa, const float *x, float *y, int64_t n);

// GELU, erf form: y = x * 0.5 * (1 + erf(x / sqrt 2)), the expression of the F64 path with
// ds_verff for erff.
void ds_vec_gelu_fwd_f32(ds_cpu_isa isa, const float *x, float *y, int64_t n);
// dx = dy * (Phi(x) + x phi(x)), Phi as above, phi(x) = exp(-x^2/2) / sqrt(2 pi) with ds_vexpf.
void ds_vec_gelu_bwd_f32(ds_cpu_isa isa, const float *x, const float *dy, float *dx, int64_t n);

#endif
