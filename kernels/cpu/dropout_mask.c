// Vectorised dropout keep decisions (dropout_mask.h), compiled per instruction set.
#include "dropout_mask.h"

#include <string.h>

#include "isa_targets.h"
#if DS_ISA_X86
#include <immintrin.h>
#endif

// Groups of 4 elements per Philox batch: 64 groups = 256 elements, 1 KiB of draws on the stack.
#define DS_DM_GROUPS 64  // a multiple of the vector blocks (16), which may compute up to it

#define DS_ISA_IMPL "dropout_mask_impl.inc"
#include "isa_variants.inc"

void ds_dropout_scale_f32(ds_cpu_isa isa, uint64_t seed, uint64_t offset, uint64_t base, int64_t n, float p,
                          float keep_scale, float *z) {
#if DS_ISA_X86
    if (isa == DS_CPU_ISA_AVX512) return dropout_scale_avx512(seed, offset, base, n, p, keep_scale, z);
    if (isa == DS_CPU_ISA_AVX2) return dropout_scale_avx2(seed, offset, base, n, p, keep_scale, z);
#endif
    (void)isa;
    dropout_scale_base(seed, offset, base, n, p, keep_scale, z);
}
