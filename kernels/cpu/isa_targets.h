// Whether this compiler can build the AVX2 and AVX-512 variants (GCC on x86-64: per-function
// targets through #pragma GCC target). Elsewhere only the baseline variant exists and
// ds_cpu_isa_select() returns DS_CPU_ISA_BASELINE.
#ifndef DS_ISA_TARGETS_H
#define DS_ISA_TARGETS_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DS_ISA_X86 1
#else
#define DS_ISA_X86 0
#endif


// Calls name##_avx512, name##_avx2 or name##_base (the variants isa_variants.inc builds) for isa,
// a ds_cpu_isa (cpu_isa.h); only the baseline exists where DS_ISA_X86 is 0.
#if DS_ISA_X86
#define DS_ISA_DISPATCH(isa, name, ...)                                 \
    do {                                                                \
        const ds_cpu_isa isa_ = (isa);                                  \
        if (isa_ == DS_CPU_ISA_AVX512) name##_avx512(__VA_ARGS__);      \
        else if (isa_ == DS_CPU_ISA_AVX2) name##_avx2(__VA_ARGS__);     \
        else name##_base(__VA_ARGS__);                                  \
    } while (0)
#else
#define DS_ISA_DISPATCH(isa, name, ...) ((void)(isa), name##_base(__VA_ARGS__))
#endif

#endif
