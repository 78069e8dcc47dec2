// The ResNet backbone of torchvision's DeepLabV3 (torchvision.models.resnet with
// replace_stride_with_dilation=[False, True, True], wrapped by IntermediateLayerGetter up to
// layer4): stem conv 7x7/2 + BN + ReLU, max pool 3x3/2, then four layers of Bottleneck blocks
// (ResNet v1.5: the stride sits on the 3x3 conv). Layers 3 and 4 trade their stride for dilation
// (output stride 8): torchvision gives the FIRST block of a dilated layer the previous layer's
// dilation and the others the new one (layer3: 1 then 2; layer4: 2 then 4). Widths scale with
// `width` (torchvision: 64): stem width, planes width * {1, 2, 4, 8}, block outputs 4x planes.
#ifndef DS_DEEPLAB_RESNET_H
#define DS_DEEPLAB_RESNET_H

#include "../../runtime/base/model_hooks.h"
#include "../common/conv_bn.h"

typedef struct ds_bottleneck {
    ds_conv_bn c1, c2, c3;  // 1x1 -> 3x3 (stride, dilation) -> 1x1 (x4), each with BN; ReLU after c1, c2
    ds_conv_bn down;        // 1x1 (stride) + BN on the identity path, when has_down
    bool has_down;
} ds_bottleneck;

typedef struct ds_bottleneck_acts {
    ds_conv_bn_acts c1, c2, c3, down;  // the block's output is c3.y: bn3 + identity, ReLU'd in place
} ds_bottleneck_acts;

typedef struct ds_resnet {
    int64_t width;           // stem channels; planes of layer i are width << i
    int blocks[4];           // blocks per layer: 3,4,6,3 (depth 50) or 3,4,23,3 (depth 101)
    int first[4];            // index of each layer's first block in `block`
    int count;               // total blocks
    ds_conv_bn stem;
    ds_bottleneck *block;    // [count], layer by layer
} ds_resnet;

typedef struct ds_resnet_acts {
    ds_conv_bn_acts stem;
    ds_tensor pool, pool_idx;    // (N, width, H4, W4) max-pool output and its I32 indices
    ds_bottleneck_acts *block;   // [count]
} ds_resnet_acts;

// Sets up the geometry of a depth-50/101 backbone of `width` (allocates r->block; free with
// ds_resnet_free) and appends its parameter specs ("<prefix>conv1.weight", "<prefix>bn1.*",
// "<prefix>layer1.0.conv1.weight", ..., "<prefix>layer1.0.downsample.0.weight",
// "<prefix>layer1.0.downsample.1.*") in torchvision's state_dict order. specs needs room for
// ds_resnet_spec_count(depth) more.
ds_status ds_resnet_init(ds_resnet *r, int depth, int64_t width, const ds_conv_bn_spec_opts *bn_opts,
                         const char *prefix, ds_param_spec *specs, int *count, ds_err *err);
int ds_resnet_spec_count(int depth);
void ds_resnet_free(ds_resnet *r);

// Output of layer i (0-based) of the last forward: a view of its last block's output.
const ds_tensor *ds_resnet_layer_out(const ds_resnet *r, const ds_resnet_acts *a, int layer);

// Forward of images (N, 3, H, W); acts->block must have room for r->count blocks.
ds_status ds_resnet_forward(ds_context *ctx, const ds_resnet *r, const ds_param_block *pb, const ds_conv_bn_mode *mode,
                            const ds_tensor *images, ds_arena *arena, ds_resnet_acts *acts);

// Backward from d4, the gradient of layer4's output (a writable buffer that is clobbered), with
// d3 (absent: data NULL) added to the gradient of layer3's output (the aux head's). ping and
// pong are two (n) F32 buffers of at least ds_resnet_grad_buffer_numel elements. Calls
// hook->ready after each block (last to first) and after the stem.
ds_status ds_resnet_backward(ds_context *ctx, const ds_resnet *r, const ds_param_block *pb,
                             const ds_conv_bn_mode *mode, const ds_resnet_acts *acts, const ds_tensor *d4,
                             const ds_tensor *d3, const ds_tensor *ping, const ds_tensor *pong, ds_arena *arena,
                             const ds_grad_hook *hook);

// Elements of the largest activation (stem output, pool output, block outputs) of the last forward.
int64_t ds_resnet_grad_buffer_numel(const ds_resnet *r, const ds_resnet_acts *acts);

#endif
