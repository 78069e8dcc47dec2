// One contiguous block for every parameter and one for every gradient, carved by a size table
// in a fixed order. Fused AdamW runs over the whole block, all-reduce over buckets of it,
// checkpoints copy it; a parameter is a view at a fixed offset.
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
} ds_param_block;

// Lays out `count` tensors in the given order and allocates both blocks (zeroed). Names must be
// unique (DS_ERR_INVALID_ARG names the duplicate).
ds_status ds_param_block_init(ds_param_block *pb, const ds_param_spec *specs, int count, ds_err *err);
void ds_param_block_free(ds_param_block *pb);

// Index of the tensor called `name`, or -1.
int ds_param_block_find(const ds_param_block *pb, const char *name);

// Views of parameter i and of its gradient.
ds_tensor ds_param_block_param(const ds_param_block *pb, int i);
ds_tensor ds_param_block_grad(const ds_param_block *pb, int i);

// Elements that hold parameters (padding excluded).
size_t ds_param_block_numel(const ds_param_block *pb);

#endif
