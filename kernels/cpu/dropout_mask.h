// Dropout keep decisions of the Philox stream (runtime/base/philox.h), many at a time: the
// vectorised form of ds_philox_keep, equal to it element by element (tests/cpu/test_dropout_mask.c).
// Philox is integer arithmetic, so every instruction set (cpu_isa.h) gives the same decisions.
#ifndef DS_DROPOUT_MASK_H
#define DS_DROPOUT_MASK_H

#include <stdint.h>

#include "cpu_isa.h"

// z[j] = ds_philox_keep(seed, offset, base + j, p) ? keep_scale : 0.0f for j < n.
// z: host, n floats. Any base (not only multiples of 4).
void ds_dropout_scale_f32(ds_cpu_isa isa, uint64_t seed, uint64_t offset, uint64_t base, int64_t n, float p,
                          float keep_scale, float *z);

#endif
