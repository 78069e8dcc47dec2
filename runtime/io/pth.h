// PyTorch checkpoints (.pth / .pt written by torch.save) read without Python, as named tensors.
// This reader is a security boundary: a pickle may name any Python callable, and this one never
// calls, imports or resolves anything. Its unpickler (pickle.h) understands only the opcodes
// torch.save writes and gives meaning to a short allow-list of globals (pickle_globals.c);
// docs/pth_format.md describes what is accepted and why.
//
// Formats: the zip archive torch >= 1.6 writes (stored entries, zip64 included) and the legacy
// stream of pickles torch < 1.6 wrote (also `_use_new_zipfile_serialization=False`). The older
// tar format of the earliest PyTorch releases is recognised and refused.
//
// What comes out: the tensors of the checkpoint's state dict, in the dict's order. The state dict
// is the top-level dict, or the dict under "model", "state_dict" or "model_state_dict" when the
// top level is a training checkpoint ({"model": ..., "optimizer": ..., "epoch": ..., "args": ...}).
// Nested dicts inside it are flattened with '.' ({"encoder": {"w": t}} gives "encoder.w").
// Inside the state dict everything must be a tensor or a dict of them; a Python object there
// (a global outside the allow-list) is refused with its name. Outside it (optimizer, args,
// scheduler...) such objects are inert and dropped: nothing of them is executed, and their
// globals are listed in ignored_globals.
// Each tensor's size, strides and storage offset are checked against its storage's bytes;
// contiguous, aligned tensors are views of the file mapping, others (strided views, expanded
// tensors, the unaligned storages of the legacy format, big-endian files) are copied out
// contiguous. Several tensors may share one storage.
#ifndef DS_PTH_H
#define DS_PTH_H

#include <stddef.h>
#include <stdint.h>

#include "../base/status.h"
#include "../base/tensor.h"

typedef enum ds_pth_format {
    DS_PTH_UNKNOWN = 0,  // not a torch.save file
    DS_PTH_ZIP,          // torch >= 1.6
    DS_PTH_LEGACY,       // torch < 1.6, or _use_new_zipfile_serialization=False
    DS_PTH_LEGACY_TAR,   // the earliest releases' tar archive: recognised, refused
} ds_pth_format;

typedef struct ds_pth_tensor {
    char *name;  // the state dict key (nested dicts joined with '.'), UTF-8 without NUL bytes
    ds_dtype dtype;  // F32 F64 F16 BF16 I64 I32 I16 I8 U8 BOOL
    int ndim;        // 0..DS_MAX_DIMS
    int64_t shape[DS_MAX_DIMS];
    const void *data;  // (shape) row-major contiguous, host, read-only: the mapping or `owned`
    size_t nbytes;     // numel * element size
    void *owned;       // the heap copy `data` points into, or NULL for a view of the file
    // As saved (what the contiguous copy was made from):
    char *storage_key;                // the storage's key (zip entry data/<key>)
    int64_t storage_offset;           // in elements
    int64_t stride[DS_MAX_DIMS];      // in elements
} ds_pth_tensor;

typedef struct ds_pth_file {
    char *path;
    ds_pth_format format;
    void *map;  // whole-file mapping (read-only), or NULL after ds_pth_open_memory
    size_t map_size;
    ds_pth_tensor *tensors;  // state dict order
    int count;
    char *state_dict_key;    // "" when the top level is the state dict, else the key holding it
    char **ignored_globals;  // "module.name" of each distinct global whose objects were skipped, never
                             // called: outside the state dict, or a parameter's Python attributes
    int ignored_count;
} ds_pth_file;

// What `bytes` (the first bytes of a file, up to 512 are looked at) look like.
ds_pth_format ds_pth_sniff(const uint8_t *bytes, size_t n);

// Maps and reads `path`. Returns DS_ERR_IO when it cannot be read, DS_ERR_FORMAT when it is
// malformed, refused (forbidden global, unknown opcode, compressed entry, ...) or holds no
// state dict; err names the file and, where one is at fault, the tensor, key, global or opcode
// (with its byte offset in the pickle). On failure *f is left empty (ds_pth_close is harmless).
ds_status ds_pth_open(const char *path, ds_pth_file *f, ds_err *err);

// The same on bytes in memory, which must outlive *f (views point into them); `name` stands for
// the path in messages.
ds_status ds_pth_open_memory(const void *bytes, size_t size, const char *name, ds_pth_file *f, ds_err *err);

void ds_pth_close(ds_pth_file *f);

// The tensor called `name`, or NULL.
const ds_pth_tensor *ds_pth_find(const ds_pth_file *f, const char *name);

// A contiguous CPU view of tensor `name` (read-only memory: do not write through it), checked to
// be of dtype `dtype`; err names the file and tensor when missing or of another dtype.
ds_status ds_pth_view(const ds_pth_file *f, const char *name, ds_dtype dtype, ds_tensor *out, ds_err *err);

// The allow-list, for help texts: "collections.OrderedDict, torch._utils._rebuild_tensor_v2, ...".
const char *ds_pth_allowed_globals(void);

// "zip", "legacy", "legacy tar", "unknown".
const char *ds_pth_format_name(ds_pth_format format);

#endif
