#include "cpu_isa.h"

#include <stdlib.h>
#include <string.h>

#include "isa_targets.h"

ds_cpu_isa ds_cpu_isa_supported(void) {
#if DS_ISA_X86
    __builtin_cpu_init();  // idempotent; needed when called from a constructor
    // libgcc's feature bits include the OS check (XCR0), so a kernel without AVX-512 state
    // support reports no avx512f.
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
        return DS_CPU_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return DS_CPU_ISA_AVX2;
#endif
    return DS_CPU_ISA_BASELINE;
}

ds_cpu_isa ds_cpu_isa_select(void) {
    const ds_cpu_isa best = ds_cpu_isa_supported();
    const char *want = getenv("DS_CPU_ISA");
    if (want == NULL || *want == '\0') return best;
    ds_cpu_isa cap = DS_CPU_ISA_BASELINE;  // unknown values: the safe choice
    if (strcmp(want, "avx512") == 0) cap = DS_CPU_ISA_AVX512;
    else if (strcmp(want, "avx2") == 0) cap = DS_CPU_ISA_AVX2;
    return best < cap ? best : cap;
}

const char *ds_cpu_isa_name(ds_cpu_isa isa) {
    switch (isa) {
    case DS_CPU_ISA_AVX512: return "avx512";
    case DS_CPU_ISA_AVX2: return "avx2";
    default: return "baseline";
    }
}
