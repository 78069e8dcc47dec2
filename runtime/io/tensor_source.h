// A named tensor source: the tensors of a safetensors file or of a PyTorch checkpoint (.pth, read
// by the restricted reader of pth.h), behind one interface, chosen by the file's content (not its
// name): a zip archive or a legacy torch.save stream is a checkpoint; an 8-byte length followed
// by '{' is safetensors. Weight loaders take whatever the user points them at through this.
// Every tensor is a contiguous, read-only CPU view that lives until ds_tensor_source_close.
#ifndef DS_TENSOR_SOURCE_H
#define DS_TENSOR_SOURCE_H

#include "../base/status.h"
#include "../base/tensor.h"
#include "pth.h"
#include "safetensors.h"

typedef enum ds_tensor_source_kind {
    DS_SOURCE_SAFETENSORS = 0,
    DS_SOURCE_PTH,
} ds_tensor_source_kind;

typedef struct ds_tensor_source {
    ds_tensor_source_kind kind;
    ds_st_file st;    // kind == DS_SOURCE_SAFETENSORS
    ds_pth_file pth;  // kind == DS_SOURCE_PTH
} ds_tensor_source;

// One tensor: its name and a contiguous CPU view (read-only memory: do not write through it).
typedef struct ds_named_tensor {
    const char *name;
    ds_tensor tensor;
} ds_named_tensor;

// Opens `path` with the reader its first bytes call for. DS_ERR_IO when it cannot be read,
// DS_ERR_FORMAT when it is neither format or is malformed (the message comes from the reader and
// names the file). On failure *src is left empty (ds_tensor_source_close is harmless).
ds_status ds_tensor_source_open(const char *path, ds_tensor_source *src, ds_err *err);
void ds_tensor_source_close(ds_tensor_source *src);

// "safetensors", "pth (zip)" or "pth (legacy)".
const char *ds_tensor_source_format(const ds_tensor_source *src);
const char *ds_tensor_source_path(const ds_tensor_source *src);

// Tensors in file order (safetensors: header order; pth: state dict order).
int ds_tensor_source_count(const ds_tensor_source *src);
ds_named_tensor ds_tensor_source_at(const ds_tensor_source *src, int i);

// Index of tensor `name`, or -1.
int ds_tensor_source_find(const ds_tensor_source *src, const char *name);

// A view of tensor `name` checked to have dtype `dtype`; err names the file and tensor when it is
// missing or of another dtype (as ds_st_view and ds_pth_view).
ds_status ds_tensor_source_view(const ds_tensor_source *src, const char *name, ds_dtype dtype, ds_tensor *out,
                                ds_err *err);

#endif
