// DeepLabV3 with a ResNet-50/101 backbone, torchvision semantics
// (torchvision.models.segmentation.deeplabv3_resnet50 / _resnet101): backbone (resnet.h, output
// stride 8) -> DeepLabHead on layer4 ("out") and, optionally, FCNHead on layer3 ("aux")
// (deeplab_head.h), each upsampled bilinearly (align_corners=False) to the input size. The loss
// is torch's cross_entropy(out, masks, weight=class_weights, ignore_index) + aux_weight *
// cross_entropy(aux, ...) (torchvision's reference recipe: aux_weight 0.5). Explicit forward and
// backward over the op API; parameters in one ds_param_block in torchvision's state_dict names
// and order (backbone.*, classifier.*, aux_classifier.*); activations of an (N, H, W) shape in
// one arena. docs/segmentation_model.md describes the layers, the BN/SyncBN scheme and the arena.
//
// Use:
//   ds_deeplab_create(ctx, &cfg, &m);                    every tensor zeroed (host)
//   ds_deeplab_init_weights(ctx, &m)  or load a checkpoint (names: ds_param_block_find)
//   ds_deeplab_to_device(ctx, &m, act);                 on a CUDA context: parameters to the device
//                                                        (act F32, or BF16 mixed precision); CPU: nothing
//   ds_deeplab_arena_bytes(ctx, &m, N, H, W, true, &n);  measure once per shape
//   ds_arena_init_for(ctx, &arena, n);                   (models/common/device_memory.h: host or device)
//   per micro-batch: ds_deeplab_forward(ctx, &m, &batch, true, rng_step++, coll, &arena, &out);
//                    ds_deeplab_backward(ctx, &m, dloss, &arena, hook);
//   eval/predict:    ds_deeplab_forward(ctx, &m, &batch, false, 0, NULL, &arena, &out)
#ifndef DS_DEEPLAB_H
#define DS_DEEPLAB_H

#include <stdbool.h>
#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/model_hooks.h"
#include "../../runtime/base/param_block.h"
#include "deeplab_head.h"
#include "resnet.h"

typedef struct ds_deeplab_config {
    int depth;             // 50 or 101
    int64_t num_classes;   // K (torchvision's COCO/VOC weights: 21)
    bool aux;              // aux_classifier (FCNHead on layer3), as torchvision's aux_loss
    int64_t width;         // base width: 64 = torchvision; every channel count scales by width/64
                           // (stem width, planes width*{1,2,4,8}, ASPP and FCN inner channels 4*width)
    bool frozen_bn;        // BN weight/bias frozen, BN always in eval (running statistics, never updated)
    float aux_weight;      // loss = CE(out) + aux_weight * CE(aux): 0.5
    float aux_lr_mult;     // learning-rate multiplier of aux_classifier.*: 10 (torchvision's recipe)
    float dropout;         // ASPP project dropout: 0.5
    float aux_dropout;     // FCNHead dropout: 0.1
    int ignore_index;      // masks' "no label" value: 255
    double bn_eps;         // 1e-5
    double bn_momentum;    // 0.1
} ds_deeplab_config;

// torchvision's deeplabv3_resnet50(num_classes=21, aux_loss=True) with its training recipe's values.
ds_deeplab_config ds_deeplab_config_default(void);

// One batch, host memory, row-major.
typedef struct ds_deeplab_batch {
    int64_t N, H, W;
    const float *images;         // (N, 3, H, W) normalised images
    const int32_t *masks;        // (N, H, W) class ids in [0, K) or ignore_index; NULL: no loss
    const float *class_weights;  // (K) cross-entropy class weights; NULL: all 1
} ds_deeplab_batch;

// What forward saved for backward: views into its arena.
typedef struct ds_deeplab_saved {
    bool valid, training, has_loss;
    uint64_t rng_step;
    int64_t N, H, W;
    const ds_collective *coll;   // the forward's collective; backward's SyncBN all-reduces use it too
    ds_tensor images;            // (N, 3, H, W)
    ds_tensor masks;             // (N, H, W) I32
    ds_tensor class_weights;     // (K), absent when the batch had none
    ds_resnet_acts backbone;
    ds_deeplab_head_acts head;
    ds_fcn_head_acts aux;
    ds_tensor out, aux_out;      // (N, K, H, W) upsampled logits
    ds_tensor lse, aux_lse;      // (N, H, W)
    ds_tensor loss, wsum, aux_loss, aux_wsum;  // (1) each
} ds_deeplab_saved;

typedef struct ds_deeplab_model {
    ds_deeplab_config cfg;
    ds_param_block params;  // torchvision's state_dict order and names
    ds_resnet backbone;
    ds_deeplab_head head;
    ds_fcn_head auxh;       // used when cfg.aux
    int first_classifier_param, first_aux_param;  // spec indices ("classifier.0.convs.0.0.weight", "aux_classifier.0.weight"; -1 without aux)
    ds_deeplab_saved saved;
    // Where it runs (ds_deeplab_to_device): activations F32 (CPU, and CUDA fp32) or BF16 (CUDA mixed
    // precision: fp32 master parameters, gradients and BN statistics, a bf16 copy of the weights).
    ds_dtype act_dtype;
    float *host_out;          // (2 x host_out_cap) F32 host, CUDA only: out and aux downloaded per forward
    size_t host_out_cap;      // elements of each half
} ds_deeplab_model;

typedef struct ds_deeplab_output {
    ds_tensor out;       // (N, K, H, W), valid until the next forward. F32 host: a view into the arena
                         // on the CPU, the model's download buffer on CUDA in eval mode (widened from
                         // bf16 in mixed precision). On CUDA in training: the device tensor itself, in
                         // the activations' dtype (training needs only the loss)
    ds_tensor aux;       // (N, K, H, W) as out, absent (data NULL) without the aux head
    bool has_loss;       // the batch had masks
    float loss;          // CE(out) + aux_weight * CE(aux); NaN when no pixel is valid (as torch)
    double loss_weight;  // the loss's denominator: the valid-pixel count, or the sum of the class
                         // weights of the valid pixels; 0 when none is valid
    ds_tensor loss_term[2];  // with masks: CE(out) and (with the aux head) CE(aux), one-element F32
                             // tensors on the model's device (arena views, valid until the next
                             // forward); loss = (float)(term 0 + aux_weight x term 1) in double
} ds_deeplab_output;

// Dropout sites: (rng_step << 20) + site, site 0 the ASPP project dropout, 1 the aux head's.
uint64_t ds_deeplab_dropout_offset(uint64_t rng_step, uint64_t site);

// Validates cfg and creates the model, every parameter, buffer and gradient zeroed. Parameters are
// trainable (BN weight/bias frozen with cfg.frozen_bn), decay true for every parameter (the
// recipe's SGD weight decay applies to all), aux_classifier.* with lr multiplier aux_lr_mult; BN
// running_mean/running_var F32 and num_batches_tracked I64 (0-dim) are buffers.
ds_status ds_deeplab_create(ds_context *ctx, const ds_deeplab_config *cfg, ds_deeplab_model *m);
void ds_deeplab_free(ds_deeplab_model *m);

// Moves the parameters (and BN buffers) to ctx's device (models/common/device_memory.h) with
// activations of `act`: F32, or BF16 (CUDA only: a bf16 working copy of the block is kept on the
// device for the convolutions, which the optimizer rewrites after each update: pass
// ds_param_block_op_flat_bf16 as its param_bf16). On a CPU context only F32 is accepted and
// nothing moves. Call it after loading the weights and before planning the arena (the plan
// depends on the device and on `act`); the arena then comes from ds_arena_init_for. Forward
// uploads the batch and downloads out/aux and the losses (a synchronisation per forward); the
// host parameter arrays are current only after ds_param_block_download.
ds_status ds_deeplab_to_device(ds_context *ctx, ds_deeplab_model *m, ds_dtype act);

// Initial values as torchvision's constructors (deeplabv3_resnet50(weights=None,
// weights_backbone=None)): backbone convs kaiming_normal_(mode="fan_out", nonlinearity="relu"),
// i.e. Normal(0, sqrt(2 / (cout*kh*kw))); head convs (classifier.*, aux_classifier.*) keep
// nn.Conv2d's default reset_parameters: weight and bias Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
// with fan_in = cin/groups*kh*kw (kaiming_uniform_(a=sqrt(5)) gives that bound); BN weight 1,
// bias 0, running_mean 0, running_var 1, num_batches_tracked 0. Draws come from the Philox stream
// (ctx->seed, DS_DEEPLAB_INIT_OFFSET + i) for tensor i. Writes the host arrays.
#define DS_DEEPLAB_INIT_OFFSET (1ull << 61)
void ds_deeplab_init_param(const ds_context *ctx, ds_deeplab_model *m, int i);
void ds_deeplab_init_weights(const ds_context *ctx, ds_deeplab_model *m);

// Bytes of arena a forward (and, when with_backward, the backward after it) of an (N, H, W) batch
// carves, measured by running the same carving without memory. Covers the batch with or without
// masks and class weights, training or eval, and every smaller N, H, W (every tensor, and the conv
// workspaces, grow with them).
ds_status ds_deeplab_arena_bytes(ds_context *ctx, const ds_deeplab_model *m, int64_t N, int64_t H, int64_t W,
                                 bool with_backward, size_t *bytes);

// Forward pass. Resets the arena, validates the batch (sizes, mask values in [0, K) or
// ignore_index, finite class weights), copies it into the arena and computes out, aux and, with
// masks, the loss. training: BN with batch statistics (all-reduced through coll when its world is
// > 1: SyncBN) updating the running statistics (unless frozen_bn), dropout on with masks drawn from
// rng_step (give every training forward its own). coll may be NULL (a world of one); it must stay
// valid until the backward of this forward.
ds_status ds_deeplab_forward(ds_context *ctx, ds_deeplab_model *m, const ds_deeplab_batch *batch, bool training,
                             uint64_t rng_step, const ds_collective *coll, ds_arena *arena, ds_deeplab_output *out);

// A training forward that leaves the loss on the model's device: out->loss_term as above, while
// out->loss stays NaN and out->loss_weight 0 (nothing is downloaded, so nothing waits for the
// device).
ds_status ds_deeplab_forward_train(ds_context *ctx, ds_deeplab_model *m, const ds_deeplab_batch *batch,
                                   uint64_t rng_step, const ds_collective *coll, ds_arena *arena,
                                   ds_deeplab_output *out);

// Backward of the last forward (which must have had masks), on the same arena: the gradient of
// dloss * loss is ADDED into m->params.grads. hook (may be NULL): ready(from) after the aux head,
// after the classifier, after each backbone block (last to first) and after the stem.
ds_status ds_deeplab_backward(ds_context *ctx, ds_deeplab_model *m, double dloss, ds_arena *arena,
                              const ds_grad_hook *hook);

ds_status ds_deeplab_zero_grads(ds_deeplab_model *m);

// ---- shapes of checkpoints ----
typedef struct ds_named_shape {
    const char *name;
    int ndim;
    int64_t shape[DS_MAX_DIMS];
} ds_named_shape;

// Infers depth, num_classes, aux and width from the tensor names and shapes of a torchvision
// DeepLabV3-ResNet state dict (a .pth or safetensors listing), and checks that every tensor the
// model has is there with the right shape (num_batches_tracked may be missing: checkpoints from
// before torch 0.4.1 lack it) and that there is no other tensor. The remaining fields of *cfg get
// ds_deeplab_config_default's values. A checkpoint of another kind (a plain ResNet classifier, FCN,
// DeepLabV3-MobileNet, BERT, ...) is an error that says what it looks like.
ds_status ds_deeplab_infer_config(const ds_named_shape *tensors, int count, ds_deeplab_config *cfg, ds_err *err);

// Every distinct convolution of the model for an (N, H, W) batch (for benchmarks): input shape
// (N, C, H, W), weight shape and geometry; *count receives the number, at most cap are written.
typedef struct ds_deeplab_conv_shape {
    int64_t x[4], w[4];
    ds_conv2d_geom geom;
    int uses;  // how many convolutions of the model have this exact shape
} ds_deeplab_conv_shape;
ds_status ds_deeplab_conv_shapes(ds_context *ctx, const ds_deeplab_model *m, int64_t N, int64_t H, int64_t W,
                                 ds_deeplab_conv_shape *shapes, int cap, int *count);

#endif
