// Run-time choice of the vector instruction set for the CPU's hot loops.
//
// A hot loop is written once, in plain C, and compiled three times (isa_begin.inc /
// isa_end.inc around it, isa_variants.inc to include it per variant, DS_ISA_DISPATCH to call one): for AVX-512, for AVX2 + FMA, and for the baseline of the build target. At run
// time the op calls the variant of ds_cpu_isa_select(). Every variant performs the same
// operations in the same order, with every fused multiply-add written as an explicit fmaf (the
// baseline too: glibc's fmaf is the correctly rounded fused operation), no contraction
// (-std=c11 sets -ffp-contract=off) and no reassociation, so all three give identical bits.
// That is what lets a run resume bit-exactly on another machine and keeps recorded results
// (tests/fixtures/regression) byte-identical across CPUs; tests/cpu/test_vec_math.c checks it.
#ifndef DS_CPU_ISA_H
#define DS_CPU_ISA_H

typedef enum ds_cpu_isa {
    DS_CPU_ISA_BASELINE = 0,  // the build target's own instructions (SSE2 on x86-64)
    DS_CPU_ISA_AVX2 = 1,      // AVX2 + FMA
    DS_CPU_ISA_AVX512 = 2,    // AVX-512 F/VL/BW/DQ + FMA
} ds_cpu_isa;

// The best instruction set this CPU (and OS) supports, lowered by the environment variable
// DS_CPU_ISA = baseline | avx2 | avx512 (it can only lower the choice; an unknown value means
// baseline). Cheap: reads the CPU features libgcc found at start-up and one variable.
ds_cpu_isa ds_cpu_isa_select(void);

// The highest instruction set the CPU supports, ignoring DS_CPU_ISA.
ds_cpu_isa ds_cpu_isa_supported(void);

// "baseline", "avx2" or "avx512".
const char *ds_cpu_isa_name(ds_cpu_isa isa);

#endif
