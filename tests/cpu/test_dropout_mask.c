// The vectorised dropout keep decisions (kernels/cpu/dropout_mask.c) equal ds_philox_keep
// (runtime/base/philox.h) element by element, under every instruction set this CPU supports:
// bases on and off a group of 4, beyond 2^32 (the counter's high word), lengths shorter than a
// group and longer than one internal batch of 256, several p (0 keeps all) and keep scales.
#include <stdio.h>
#include <stdlib.h>

#include "../../kernels/cpu/dropout_mask.h"
#include "../../runtime/base/philox.h"
#include "../test_util.h"

int main(void) {
    ds_test t = ds_test_begin("dropout_mask");
    const uint64_t seeds[] = {0, 1234, 0x0123456789ABCDEFull};
    const uint64_t offsets[] = {0, 9, 0x0000000500000021ull};
    const uint64_t bases[] = {0, 1, 2, 3, 4, 1021, (1ull << 32) - 3, (3ull << 40) + 2};
    const int64_t lengths[] = {1, 3, 4, 5, 64, 255, 256, 257, 1000, 4099};
    const float ps[] = {0.0f, 0.1f, 0.5f, 0.999f};
    float *z = malloc(4099 * sizeof *z);
    const ds_cpu_isa best = ds_cpu_isa_supported();
    for (int isa = 0; isa <= (int)best; isa++) {
        long bad = 0, total = 0, kept = 0;
        for (size_t si = 0; si < 3; si++)
            for (size_t oi = 0; oi < 3; oi++)
                for (size_t bi = 0; bi < sizeof bases / sizeof bases[0]; bi++)
                    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++)
                        for (size_t pi = 0; pi < 4; pi++) {
                            const float scale = 1.0f / (1.0f - ps[pi]);
                            const int64_t n = lengths[li];
                            for (int64_t j = 0; j < n; j++) z[j] = -1.0f;
                            ds_dropout_scale_f32((ds_cpu_isa)isa, seeds[si], offsets[oi], bases[bi], n, ps[pi], scale, z);
                            for (int64_t j = 0; j < n; j++) {
                                const int keep = ds_philox_keep(seeds[si], offsets[oi], bases[bi] + (uint64_t)j, ps[pi]);
                                bad += z[j] != (keep ? scale : 0.0f);
                                kept += keep;
                                total++;
                            }
                        }
        ds_test_check(&t, bad == 0, "%s: %ld of %ld decisions differ from ds_philox_keep", ds_cpu_isa_name((ds_cpu_isa)isa),
                      bad, total);
        ds_test_check(&t, kept > total / 2 && kept < total, "%s: the sweep keeps some and drops some (%ld of %ld kept)",
                      ds_cpu_isa_name((ds_cpu_isa)isa), kept, total);
    }
    free(z);
    return ds_test_finish(&t);
}
