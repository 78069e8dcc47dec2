// A convolution with an optional batch norm and an optional ReLU after it: torchvision's
// Conv2d(bias=False) + BatchNorm2d (+ ReLU) of ResNet, ASPP and the segmentation heads, or a plain
// Conv2d with bias (a classifier). Explicit forward and backward over the op API; parameters are
// views of a ds_param_block in torchvision's order (conv weight [, conv bias], then the BN's
// weight, bias, running_mean, running_var, num_batches_tracked); activations are carved from an
// arena.
//
// Batch norm in training mode normalises with the statistics of the global batch: its
// per-channel sums are all-reduced through the collective hook (runtime/base/model_hooks.h) when
// the world has more than one rank (SyncBatchNorm), in forward and in backward. Its gradients of
// gamma/beta are each rank's own (the trainer all-reduces them with every other gradient).
#ifndef DS_CONV_BN_H
#define DS_CONV_BN_H

#include <stdbool.h>
#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/model_hooks.h"
#include "../../runtime/base/param_block.h"

typedef struct ds_conv_bn {
    int64_t cin, cout, kh, kw;  // conv weight (cout, cin/groups, kh, kw)
    ds_conv2d_geom geom;
    bool relu;                  // ReLU after the BN (or after the conv when there is no BN)
    // Parameter indices in the block (set by ds_conv_bn_add_specs):
    int w;                      // conv weight
    int b;                      // conv bias, -1: none
    int bn;                     // BN weight; bias, running_mean, running_var, num_batches_tracked follow; -1: no BN
} ds_conv_bn;

// How a pass runs its batch norms.
typedef struct ds_conv_bn_mode {
    bool batch_stats;           // training: normalise with batch statistics and update the running ones;
                                // false: normalise with the running statistics (eval, frozen BN)
    double eps, momentum;       // torch.nn.BatchNorm2d: 1e-5, 0.1
    const ds_collective *coll;  // SyncBN's all-reduce (NULL or world 1: this rank's batch only)
    ds_dtype act;               // activations' dtype: F32 (the zero value; CPU and CUDA fp32) or BF16
                                // (CUDA mixed precision: the conv reads the block's BF16 weight copy,
                                // BN statistics and parameters stay F32)
} ds_conv_bn_mode;

// What forward saved for backward: views into the arena.
typedef struct ds_conv_bn_acts {
    ds_tensor x;           // (N, cin, H, W) the input (a view of someone else's tensor)
    ds_tensor z;           // (N, cout, P, Q) conv output, the BN input
    ds_tensor y;           // (N, cout, P, Q) output; the same memory as z when there is no BN and no ReLU
    ds_tensor mean, rstd;  // (cout) F32 what the BN normalised with
    bool batch_stats;      // the BN used batch statistics (its backward all-reduces)
} ds_conv_bn_acts;

typedef struct ds_conv_bn_spec_opts {
    bool bias;       // the conv has a bias
    bool bn;         // a BatchNorm2d follows
    bool frozen_bn;  // the BN's weight and bias are frozen (no gradient)
    float lr_mult;   // learning-rate multiplier of the trainable tensors (0: 1)
} ds_conv_bn_spec_opts;

// Appends the unit's parameter specs (names conv_prefix + "weight"/"bias", bn_prefix +
// "weight", "bias", "running_mean", "running_var" (F32 buffers), "num_batches_tracked" (I64 0-dim
// buffer)) at specs[*count] and sets u->w, u->b, u->bn. Every tensor decays (torchvision's
// segmentation recipe applies weight decay to every parameter).
void ds_conv_bn_add_specs(ds_conv_bn *u, const char *conv_prefix, const char *bn_prefix,
                          const ds_conv_bn_spec_opts *opts, ds_param_spec *specs, int *count);

// The conv's output size for an input of (H, W).
void ds_conv_bn_out_size(const ds_conv_bn *u, int64_t H, int64_t W, int64_t *P, int64_t *Q);

// Forward of x (N, cin, H, W): carves z, mean, rstd and y (unless y_out is given: then the output
// is written there, (N, cout, P, Q)) from the arena, and the conv workspace and the statistics
// buffer as temporaries it releases. A measuring arena only plans. Training BN updates the
// running statistics in the block.
ds_status ds_conv_bn_forward(ds_context *ctx, const ds_conv_bn *u, const ds_param_block *pb,
                             const ds_conv_bn_mode *mode, const ds_tensor *x, const ds_tensor *y_out,
                             ds_arena *arena, ds_conv_bn_acts *acts);

// A ResNet block's last unit: ds_conv_bn_forward (u has a BN and no ReLU of its own), then
// y = relu(y + residual) with the block's identity residual (N, cout, P, Q), so that acts->y is the
// block output. On CUDA the BN apply, the add and the ReLU are one pass over memory
// (ds_cuda_bn_apply_act, kernels/cuda_fused.h); on the CPU three ops (bn_apply, add, relu).
ds_status ds_conv_bn_forward_residual(ds_context *ctx, const ds_conv_bn *u, const ds_param_block *pb,
                                      const ds_conv_bn_mode *mode, const ds_tensor *x, const ds_tensor *residual,
                                      ds_arena *arena, ds_conv_bn_acts *acts);

// Backward: dy (N, cout, P, Q) is the gradient of y; scratch is a writable buffer of dy's shape
// (it may be dy itself when the caller no longer needs dy). Adds the conv's and the BN's
// parameter gradients into the block's grads; writes dx (N, cin, H, W) unless dx is NULL.
// Temporaries (workspace, sums) are carved and released.
ds_status ds_conv_bn_backward(ds_context *ctx, const ds_conv_bn *u, const ds_param_block *pb,
                              const ds_conv_bn_mode *mode, const ds_conv_bn_acts *acts, const ds_tensor *dy,
                              const ds_tensor *scratch, const ds_tensor *dx, ds_arena *arena);

#endif
