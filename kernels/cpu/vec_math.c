// The vectorised-math loops (vec_math.h), compiled for each instruction set and dispatched on
// the `isa` argument.
#include "vec_math.h"

#include "isa_targets.h"

#define DS_ISA_IMPL "vec_math_impl.inc"
#include "isa_variants.inc"

void ds_vec_expf_n(ds_cpu_isa isa, const float *x, float *y, int64_t n) { DS_ISA_DISPATCH(isa, exp_n, x, y, n); }

void ds_vec_erff_n(ds_cpu_isa isa, const float *x, float *y, int64_t n) { DS_ISA_DISPATCH(isa, erf_n, x, y, n); }

void ds_vec_gelu_fwd_f32(ds_cpu_isa isa, const float *x, float *y, int64_t n) {
    DS_ISA_DISPATCH(isa, gelu_fwd, x, y, n);
}

void ds_vec_gelu_bwd_f32(ds_cpu_isa isa, const float *x, const float *dy, float *dx, int64_t n) {
    DS_ISA_DISPATCH(isa, gelu_bwd, x, dy, dx, n);
}
