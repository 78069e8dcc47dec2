// One contiguous block for every parameter and one for every gradient, carved by a size table
// in a fixed order. The optimizer runs over the trainable range of the block, all-reduce over
// buckets of it, checkpoints copy it; a parameter is a view at a fixed offset.
//
// Kinds of tensors (ds_param_spec.kind) and where they lie. The block is laid out in three
// contiguous ranges, whatever the order of the specs (a spec's index never changes: models find
// their tensors by index or name; only the offsets follow this order):
//   [0, train_begin)            frozen parameters: used by forward, no gradient, no optimizer
//                               state, never all-reduced (a frozen feature encoder, frozen BN)
//   [train_begin, train_end)    trainable parameters, in spec order: gradients, optimizer state,
//                               all-reduce. Tensors of one learning-rate multiplier (lr_mult) must
//                               be consecutive among them, so each lr group is a range too
//   [buffer_begin, total)       buffers: state that forward updates or reads but no optimizer
//                               touches (BatchNorm running statistics, num_batches_tracked), of
//                               any dtype; saved in checkpoints as buffer/<name> and exported
// The gradient array has the block's size so that offsets are shared, but only the trainable
// range is ever written, reduced or read; the grad views of other tensors are absent (data NULL).
// A block of trainable tensors only (BERT) is laid out exactly as before these kinds existed.
//
// Where the block lives: on the CPU the host arrays `params` and `grads` are the block. On a CUDA
// device (models/common/device_memory.h moves it there) the device arrays params_dev / grads_dev (and
// the bf16 working copy params_bf16_dev in mixed precision) are the block that ops read and
// write, and the host arrays stay as the staging copy for loading, checkpoints and export: host
// `params` is current only after ds_param_block_download (models/common/device_memory.h), host `grads`
// only after ds_param_block_download_grads. Ops take the views of ds_param_block_op_*; the
// ds_param_block_param / _grad views are always the host arrays. (This file is in the base layer,
// below kernels/, so it only holds the pointers; the allocation is models/common/device_memory.c's.)
#ifndef DS_PARAM_BLOCK_H
#define DS_PARAM_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

#define DS_PARAM_ALIGN 64  // elements between tensor starts: 256 bytes of F32

typedef enum ds_param_kind {
    DS_PARAM_TRAINABLE = 0,  // the default of a zero-initialised spec
    DS_PARAM_FROZEN,
    DS_PARAM_BUFFER,
} ds_param_kind;

typedef struct ds_param_spec {
    char name[128];              // checkpoint name, e.g. "bert.encoder.layer.0.attention.self.query.weight"
    int ndim;
    int64_t shape[DS_MAX_DIMS];
    bool decay;                  // weight decay applies (false for biases and LayerNorm weights under HF's AdamW)
    ds_param_kind kind;          // trainable (default), frozen or buffer
    ds_dtype dtype;              // element type: F32 (the default) for parameters; buffers may be any dtype
    float lr_mult;               // learning-rate multiplier of the tensor's group (torchvision's DeepLabV3
                                 // recipe: 10 for the aux head); 0 stands for 1, so zeroed specs need not set it
} ds_param_spec;

// A learning-rate group: a contiguous range of trainable tensors sharing one multiplier.
typedef struct ds_param_group {
    size_t begin, end;  // element range of the block
    int first, last;    // spec indices of its first and last tensor, in block order
    double lr_mult;
} ds_param_group;

typedef struct ds_param_block {
    int count;
    ds_param_spec *specs;  // [count], copied from the caller (lr_mult 0 normalised to 1)
    size_t *offset;        // [count] element offset of each tensor in the block, in 4-byte elements
    size_t total;          // elements in the block, padding included
    size_t train_begin, train_end;  // the trainable range (empty when every tensor is frozen or a buffer)
    size_t buffer_begin;            // first element of the buffers (== total when there are none)
    ds_param_group *groups;         // [group_count] lr groups of the trainable range, in block order
    int group_count;
    float *params;         // (total) F32 host, zero-initialised
    float *grads;          // (total) F32 host, zero-initialised
    // The device copy (CUDA only; all NULL and device CPU otherwise).
    ds_device device;           // where the op views point: the host arrays (CPU) or the *_dev arrays
    float *params_dev;          // (total) F32 device: fp32 master weights
    float *grads_dev;           // (total) F32 device
    uint16_t *params_bf16_dev;  // (total) BF16 device working copy (mixed precision), or NULL
    // Frees a *_dev array; set by whoever allocated them, with the context that owns the memory.
    void (*dev_release)(void *dev_owner, void *dev_ptr, size_t bytes);
    void *dev_owner;            // the ds_context of the device
} ds_param_block;

// Lays out `count` tensors (frozen, then trainable in the given order, then buffers; see the top)
// and allocates both blocks (zeroed). Names must be unique, parameters F32, and each lr
// multiplier's tensors consecutive among the trainable ones (DS_ERR_INVALID_ARG names the tensor).
ds_status ds_param_block_init(ds_param_block *pb, const ds_param_spec *specs, int count, ds_err *err);
void ds_param_block_free(ds_param_block *pb);

// Index of the tensor called `name`, or -1.
int ds_param_block_find(const ds_param_block *pb, const char *name);

// Views of tensor i (of its spec's dtype) and of its gradient (F32; absent for frozen tensors and
// buffers) in the HOST arrays (the block itself on the CPU; the staging copy when the block lives
// on a device).
ds_tensor ds_param_block_param(const ds_param_block *pb, int i);
ds_tensor ds_param_block_grad(const ds_param_block *pb, int i);

// The views ops read and write: on pb->device (host arrays on the CPU, device arrays on CUDA).
// The grad view is absent (data NULL) for frozen tensors and buffers.
ds_tensor ds_param_block_op_param(const ds_param_block *pb, int i);
ds_tensor ds_param_block_op_grad(const ds_param_block *pb, int i);
// The BF16 working copy of parameter i on the device; absent (data NULL) when there is none.
ds_tensor ds_param_block_op_param_bf16(const ds_param_block *pb, int i);
// The weight operand of a GEMM or conv whose activations are of dtype act: the BF16 working copy
// with BF16 activations (the CUDA ops' contract: w in x's dtype), else the F32 parameter.
ds_tensor ds_param_block_op_weight(const ds_param_block *pb, int i, ds_dtype act);
// The whole block as one flat (total) F32 tensor on pb->device, padding included.
ds_tensor ds_param_block_op_flat_params(const ds_param_block *pb);
ds_tensor ds_param_block_op_flat_grads(const ds_param_block *pb);
ds_tensor ds_param_block_op_flat_bf16(const ds_param_block *pb);  // absent when there is no bf16 copy

// Elements that hold parameters, trainable and frozen (padding and buffers excluded).
size_t ds_param_block_numel(const ds_param_block *pb);
// Elements of the trainable parameters only.
size_t ds_param_block_trainable_numel(const ds_param_block *pb);
// Whether tensor i is trainable / a buffer.
bool ds_param_is_trainable(const ds_param_block *pb, int i);
bool ds_param_is_buffer(const ds_param_block *pb, int i);
// Elements of the tensor (its own dtype's numel) and the 4-byte elements it occupies, unpadded.
size_t ds_param_spec_numel(const ds_param_spec *s);
size_t ds_param_spec_slots(const ds_param_spec *s);

#endif
