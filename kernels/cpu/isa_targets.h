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

#endif
