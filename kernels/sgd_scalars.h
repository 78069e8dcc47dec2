// What the CPU and CUDA SGD ops share, so that they cannot drift apart (as adamw_scalars.h for
// AdamW): the argument checks and the per-step float scalars, computed on the host by one function
// in one C translation unit (kernels/cpu/sgd.c). With the same per-element float arithmetic
// (kernels/cuda/sgd.cu spells every operation with an _rn intrinsic), the CUDA result is
// bit-identical to the CPU's.
#ifndef DS_SGD_SCALARS_H
#define DS_SGD_SCALARS_H

#include <stdbool.h>

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

// torch.optim.SGD's python-double hyperparameters as the float scalars its tensor ops use (ATen
// casts a python scalar to the tensor's dtype before computing in it).
typedef struct ds_sgd_scalars {
    bool scaled;         // grad_scale != 1: g = grad * grad_scale (clip_grad_norm_'s in-place multiply)
    bool decay;          // weight_decay != 0
    bool has_momentum;   // momentum != 0
    bool first;          // step == 1: the buffer is a copy of g (torch clones it)
    bool nesterov;
    float grad_scale;
    float weight_decay;
    float momentum;
    float neg_lr;        // -lr: param.add_(g, alpha=-lr)
} ds_sgd_scalars;

ds_sgd_scalars ds_sgd_scalars_of(const ds_sgd_args *a);

// Checks every tensor of `a` (dtype, numel equal to param's, all on `kind`; the momentum buffer
// present exactly when momentum != 0) and the hyperparameters; the message starts with "sgd:".
ds_status ds_sgd_check_args(const ds_sgd_args *a, ds_device_kind kind, ds_err *err);

#ifdef __cplusplus
}
#endif

#endif
