// The element loop of the CPU AdamW (adamw.c), compiled per instruction set (cpu_isa.h) in
// adamw_loop.c so that it vectorises. Same operations in the same order as adamw.c's element
// loop (so the result is bit for bit that loop's, on every ISA; tests/cpu/test_adamw_isa.c):
// multiplications by 1 stand in for the skipped grad_scale and weight decay, which leaves every
// non-NaN value unchanged. Measured (ds_cpu_kernel_bench, 1 thread, CPU time, 22.7 M params):
// 76.4 ms before, 26.0 ms after, a memcpy of the same bytes 26.6 ms.
#ifndef DS_ADAMW_LOOP_H
#define DS_ADAMW_LOOP_H

#include <stdint.h>

#include "../adamw_scalars.h"
#include "cpu_isa.h"

// All arrays host memory of n elements; param, m, v updated in place; decay_mask may be NULL
// (decay everywhere, when sc->decay). No BF16 copy (the CPU backend's caller writes it itself).
void ds_adamw_loop_f32(ds_cpu_isa isa, const ds_adamw_scalars *sc, float *param, const float *grad, float *m,
                       float *v, const unsigned char *decay_mask, int64_t n);

#endif
