// The vectorised-math loops (vec_math.h), compiled for each instruction set and dispatched on
// the `isa` argument.
#include "vec_math.h"

#include "isa_targets.h"

#define DS_ISA 0
#include "vec_math_impl.inc"
#undef DS_ISA
#if DS_ISA_X86
#define DS_ISA 1
#include "vec_math_impl.inc"
#undef DS_ISA
#define DS_ISA 2
#include "vec_math_impl.inc"
#undef DS_ISA
#define DS_DISPATCH(isa, name, ...)                              \
    do {                                                         \
        if ((isa) == DS_CPU_ISA_AVX512) name##_avx512(__VA_ARGS__); \
        else if ((isa) == DS_CPU_ISA_AVX2) name##_avx2(__VA_ARGS__);   \
        else name##_base(__VA_ARGS__);                           \
    } while (0)
#else
#define DS_DISPATCH(isa, name, ...) ((void)(isa), name##_base(__VA_ARGS__))
#endif

void ds_vec_expf_n(ds_cpu_isa isa, const float *x, float *y, int64_t n) { DS_DISPATCH(isa, exp_n, x, y, n); }

void ds_vec_erff_n(ds_cpu_isa isa, const float *x, float *y, int64_t n) { DS_DISPATCH(isa, erf_n, x, y, n); }

void ds_vec_gelu_fwd_f32(ds_cpu_isa isa, const float *x, float *y, int64_t n) {
    DS_DISPATCH(isa, gelu_fwd, x, y, n);
}

void ds_vec_gelu_bwd_f32(ds_cpu_isa isa, const float *x, const float *dy, float *dx, int64_t n) {
    DS_DISPATCH(isa, gelu_bwd, x, dy, dx, n);
}
