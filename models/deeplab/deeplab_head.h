// torchvision's segmentation heads, explicit forward and backward:
//   DeepLabHead (classifier.*): ASPP(in, rates 12, 24, 36) -> conv 3x3 + BN + ReLU -> conv 1x1 to K.
//     ASPP: five branches on x (N, in, h, w) of `mid` channels each (torchvision: 256):
//       convs.0: conv 1x1 + BN + ReLU
//       convs.1-3: conv 3x3 with padding = dilation = rate + BN + ReLU
//       convs.4: global average pool -> conv 1x1 + BN + ReLU -> bilinear up to (h, w)
//     concatenated (N, 5 mid, h, w) -> project: conv 1x1 + BN + ReLU -> Dropout(0.5).
//   FCNHead (aux_classifier.*): conv 3x3 (in -> in/4) + BN + ReLU -> Dropout(0.1) -> conv 1x1 to K.
// Convolutions before a BN have no bias; the last 1x1 of each head has one.
#ifndef DS_DEEPLAB_HEAD_H
#define DS_DEEPLAB_HEAD_H

#include "../common/conv_bn.h"

typedef struct ds_deeplab_head {
    ds_conv_bn aspp[5];  // branches; aspp[4] is the pooling branch's 1x1 conv
    ds_conv_bn project;  // classifier.0.project.0/1
    ds_conv_bn conv;     // classifier.1/2
    ds_conv_bn cls;      // classifier.4 (bias, no BN)
    float dropout;       // after project (0.5)
} ds_deeplab_head;

typedef struct ds_deeplab_head_acts {
    ds_conv_bn_acts aspp[5];
    ds_tensor pooled;    // (N, in, 1, 1) global average of x
    ds_tensor pool_up;   // (N, mid, h, w) the pooling branch upsampled
    ds_tensor cat;       // (N, 5 mid, h, w)
    ds_conv_bn_acts project;
    ds_tensor drop;      // (N, mid, h, w) project.y after dropout (project.y itself without dropout)
    ds_conv_bn_acts conv, cls;  // cls.y: the logits (N, K, h, w)
    bool dropout_on;
} ds_deeplab_head_acts;

typedef struct ds_fcn_head {
    ds_conv_bn conv;     // aux_classifier.0/1
    ds_conv_bn cls;      // aux_classifier.4 (bias)
    float dropout;       // 0.1
} ds_fcn_head;

typedef struct ds_fcn_head_acts {
    ds_conv_bn_acts conv;
    ds_tensor drop;      // conv.y after dropout (conv.y itself without dropout)
    ds_conv_bn_acts cls; // cls.y: the logits (N, K, h, w)
    bool dropout_on;
} ds_fcn_head_acts;

// Geometry and specs ("<prefix>0.convs.0.0.weight", ..., "<prefix>4.bias") in torchvision's order.
void ds_deeplab_head_init(ds_deeplab_head *h, int64_t in, int64_t mid, int64_t classes, float dropout,
                          const ds_conv_bn_spec_opts *opts, const char *prefix, ds_param_spec *specs, int *count);
void ds_fcn_head_init(ds_fcn_head *h, int64_t in, int64_t classes, float dropout, const ds_conv_bn_spec_opts *opts,
                      const char *prefix, ds_param_spec *specs, int *count);
enum { DS_DEEPLAB_HEAD_SPECS = 5 * 6 + 6 + 6 + 2, DS_FCN_HEAD_SPECS = 6 + 2 };

// training: dropout on, drawn from Philox stream (ctx->seed, dropout_offset) over the element
// index of the (N, mid, h, w) tensor.
ds_status ds_deeplab_head_forward(ds_context *ctx, const ds_deeplab_head *h, const ds_param_block *pb,
                                  const ds_conv_bn_mode *mode, const ds_tensor *x, bool training,
                                  uint64_t dropout_offset, ds_arena *arena, ds_deeplab_head_acts *a);
// dlogits (N, K, h, w) is clobbered; dx (N, in, h, w) is written.
ds_status ds_deeplab_head_backward(ds_context *ctx, const ds_deeplab_head *h, const ds_param_block *pb,
                                   const ds_conv_bn_mode *mode, const ds_deeplab_head_acts *a, const ds_tensor *dlogits,
                                   const ds_tensor *dx, uint64_t dropout_offset, ds_arena *arena);

ds_status ds_fcn_head_forward(ds_context *ctx, const ds_fcn_head *h, const ds_param_block *pb,
                              const ds_conv_bn_mode *mode, const ds_tensor *x, bool training, uint64_t dropout_offset,
                              ds_arena *arena, ds_fcn_head_acts *a);
ds_status ds_fcn_head_backward(ds_context *ctx, const ds_fcn_head *h, const ds_param_block *pb,
                               const ds_conv_bn_mode *mode, const ds_fcn_head_acts *a, const ds_tensor *dlogits,
                               const ds_tensor *dx, uint64_t dropout_offset, ds_arena *arena);

#endif
