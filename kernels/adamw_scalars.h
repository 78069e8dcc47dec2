// What the CPU and CUDA AdamW ops share, so that they cannot drift apart: the argument checks
// (for either device) and the per-step scalars, computed on the host by one function in one C
// translation unit (kernels/cpu/adamw.c). Both ops therefore use the very same floats, whatever
// the compilers do with the double arithmetic behind them (e.g. whether 1 - lr * wd is
// contracted); with the same per-element float arithmetic (kernels/cuda/adamw.cu), the CUDA
// result is bit-identical to the CPU's.
#ifndef DS_ADAMW_SCALARS_H
#define DS_ADAMW_SCALARS_H

#include <stdbool.h>

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

// The python-double scalars of torch's AdamW step, rounded to float where torch rounds them
// (kernels/cpu/adamw.c says where each comes from).
typedef struct ds_adamw_scalars {
    bool decay;            // weight_decay != 0: param *= decay_factor (where decay_mask allows)
    bool scaled;           // grad_scale != 1: g = grad * grad_scale
    float decay_factor;    // 1 - lr * weight_decay
    float w1;              // 1 - beta1, the lerp weight of m
    float beta2;           // v's decay
    float w2;              // 1 - beta2
    float bc2_sqrt;        // sqrt(1 - beta2^step)
    float eps;
    float neg_step_size;   // -lr / (1 - beta1^step)
    float grad_scale;
} ds_adamw_scalars;

ds_adamw_scalars ds_adamw_scalars_of(const ds_adamw_args *a);

// Checks every tensor of `a` (dtype, contiguity, numel equal to param's, all on `kind`) and the
// hyperparameters; the message starts with "adamw:" and names the tensor or value.
ds_status ds_adamw_check_args(const ds_adamw_args *a, ds_device_kind kind, ds_err *err);

#ifdef __cplusplus
}
#endif

#endif
