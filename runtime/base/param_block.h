// One contiguous block for every parameter and one for every gradient, carved by a size table
// in a fixed order. Fused AdamW runs over the whole block, all-reduce over buckets of it,
// checkpoints copy it; a parameter is a view at a fixed offset.
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

typedef struct ds_param_spec {
    char name[128];              // checkpoint name, e.g. "bert.encoder.layer.0.attention.self.query.weight"
    int ndim;
    int64_t shape[DS_MAX_DIMS];
    bool decay;                  // AdamW weight decay applies (false for biases and LayerNorm weights)
} ds_param_spec;

typedef struct ds_param_block {
    int count;
    ds_param_spec *specs;  // [count], copied from the caller
    size_t *offset;        // [count] element offset of each tensor in the block
    size_t total;          // elements in the block, padding included
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

// Lays out `count` tensors in the given order and allocates both blocks (zeroed). Names must be
// unique (DS_ERR_INVALID_ARG names the duplicate).
ds_status ds_param_block_init(ds_param_block *pb, const ds_param_spec *specs, int count, ds_err *err);
void ds_param_block_free(ds_param_block *pb);

// Index of the tensor called `name`, or -1.
int ds_param_block_find(const ds_param_block *pb, const char *name);

// Views of parameter i and of its gradient in the HOST arrays (the block itself on the CPU; the
// staging copy when the block lives on a device).
ds_tensor ds_param_block_param(const ds_param_block *pb, int i);
ds_tensor ds_param_block_grad(const ds_param_block *pb, int i);

// The views ops read and write: on pb->device (host arrays on the CPU, device arrays on CUDA).
ds_tensor ds_param_block_op_param(const ds_param_block *pb, int i);
ds_tensor ds_param_block_op_grad(const ds_param_block *pb, int i);
// The BF16 working copy of parameter i on the device; absent (data NULL) when there is none.
ds_tensor ds_param_block_op_param_bf16(const ds_param_block *pb, int i);
// The whole block as one flat (total) F32 tensor on pb->device, padding included.
ds_tensor ds_param_block_op_flat_params(const ds_param_block *pb);
ds_tensor ds_param_block_op_flat_grads(const ds_param_block *pb);
ds_tensor ds_param_block_op_flat_bf16(const ds_param_block *pb);  // absent when there is no bf16 copy

// Elements that hold parameters (padding excluded).
size_t ds_param_block_numel(const ds_param_block *pb);

#endif
