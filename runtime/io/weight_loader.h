// Pretrained weights into a parameter block, by name, for any model family: the tensors of a
// safetensors file or a PyTorch .pth (runtime/io/tensor_source.h) are matched to the block's
// tensors through the family's name mapping, checked for shape, converted to the block's dtype
// (F16/BF16 -> F32 for parameters; integer buffers between integer types), and copied; what the
// checkpoint lacks is initialised by the family when it can be (a new head) and is an error
// naming the tensors otherwise; what the model does not use is listed and ignored. Each family
// keeps its own rules (HF's name prefixes, torchvision's num_batches_tracked, a head for another
// label count) in the callbacks.
#ifndef DS_WEIGHT_LOADER_H
#define DS_WEIGHT_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/context.h"
#include "../base/param_block.h"
#include "tensor_source.h"

typedef enum ds_weight_mismatch {
    DS_WEIGHT_MISMATCH_ERROR = 0,  // an error naming both shapes (the default)
    DS_WEIGHT_MISMATCH_REINIT,     // start the tensor afresh (HF's ignore_mismatched_sizes for a head)
} ds_weight_mismatch;

typedef struct ds_weight_map {
    // The block's name for checkpoint tensor `name` into dst; false: the model has no use for it
    // (ignored). NULL: the names are the block's.
    bool (*model_name)(void *user, const char *name, char *dst, size_t cap);
    // What to do with block tensor i when the checkpoint's shape differs. NULL: an error.
    ds_weight_mismatch (*on_mismatch)(void *user, int i, const ds_tensor *found);
    // Initialises block tensor i that the checkpoint lacks, returning true; false: it is required
    // (an error lists every such tensor). NULL: every tensor is required.
    bool (*init_missing)(void *user, int i);
    void *user;
    const char *hint;  // appended to a "lacks tensors" error, e.g. "is it a BERT checkpoint?"
} ds_weight_map;

typedef struct ds_weight_report {
    int loaded;       // block tensors filled from the checkpoint
    int initialised;  // block tensors the family initialised (missing or mismatched)
    int ignored;      // checkpoint tensors the model does not use
    char initialised_names[600], ignored_names[600];  // comma-separated, "..." when too many
} ds_weight_report;

// Fills pb's host arrays from `src` (see the top). Messages name the file and the tensors; the
// report (may be NULL) says what was loaded, initialised and ignored, and the log gets the same.
ds_status ds_weights_load(ds_context *ctx, const ds_tensor_source *src, ds_param_block *pb, const ds_weight_map *map,
                          ds_weight_report *report);

#endif
