// The AdamW element loop per instruction set (adamw_loop.h). Compiled with -fno-math-errno
// (CMakeLists.txt): sqrtf then becomes the vector square root; its result is the same correctly
// rounded value (errno is never read, and vi >= 0 never takes sqrt's error path anyway).
#include "adamw_loop.h"

#include <math.h>

#include "isa_targets.h"
#include "par.h"

#define DS_ISA_IMPL "adamw_loop_impl.inc"
#include "isa_variants.inc"

void ds_adamw_loop_f32(ds_cpu_isa isa, const ds_adamw_scalars *sc, float *param, const float *grad, float *m,
                       float *v, const unsigned char *decay_mask, int64_t n) {
#if DS_ISA_X86
    if (isa == DS_CPU_ISA_AVX512) return adamw_avx512(sc, param, grad, m, v, decay_mask, n);
    if (isa == DS_CPU_ISA_AVX2) return adamw_avx2(sc, param, grad, m, v, decay_mask, n);
#endif
    (void)isa;
    adamw_base(sc, param, grad, m, v, decay_mask, n);
}
