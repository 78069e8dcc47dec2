// safetensors files: a reader that maps the file and validates its header, and a writer whose
// files the `safetensors` Python package loads back identically.
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the data section; offsets are
// relative to the start of the data section.
#ifndef DS_SAFETENSORS_H
#define DS_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/status.h"
#include "../base/tensor.h"

typedef struct ds_st_tensor {
    char *name;
    ds_dtype dtype;
    int ndim;
    int64_t shape[DS_MAX_DIMS];
    uint64_t begin, end;  // byte offsets within the data section
    const void *data;     // host pointer into the mapping (read-only), `end - begin` bytes
} ds_st_tensor;

typedef struct ds_st_meta {
    char *key;
    char *value;
} ds_st_meta;

typedef struct ds_st_file {
    char *path;
    void *map;        // whole-file mapping (read-only); or, when map_is_heap, a heap block
    size_t map_size;  // holding each tensor at a 64-byte boundary (files whose tensors are not
    bool map_is_heap; // aligned to their element size, which safetensors itself never writes)
    ds_st_tensor *tensors;  // in header order
    int count;
    ds_st_meta *meta;  // "__metadata__" entries
    int meta_count;
} ds_st_file;

// Maps and validates `path`: header length, JSON, every entry's dtype/shape/data_offsets, that
// each tensor's bytes match its shape and lie inside the data section, that the tensors tile the
// data section exactly (no overlap, gap or trailing bytes: the Python library's own rule), that
// names are unique, and that "__metadata__" maps strings to strings. Keys of an entry other than
// dtype/shape/data_offsets are ignored, as Python ignores them.
// Returns DS_ERR_IO when the file cannot be read, DS_ERR_FORMAT when it is malformed; on failure
// *f is left empty (ds_st_close on it is harmless) and err names the file (and tensor).
ds_status ds_st_open(const char *path, ds_st_file *f, ds_err *err);
void ds_st_close(ds_st_file *f);

// The tensor called `name`, or NULL.
const ds_st_tensor *ds_st_find(const ds_st_file *f, const char *name);

// The value of metadata `key`, or NULL.
const char *ds_st_meta_get(const ds_st_file *f, const char *key);

// A CPU view of tensor `name` (read-only memory: do not write through it), checked to have
// dtype `dtype`; err names the file and tensor when missing or of another dtype.
ds_status ds_st_view(const ds_st_file *f, const char *name, ds_dtype dtype, ds_tensor *out, ds_err *err);

// One tensor to write: a contiguous CPU tensor and its name.
typedef struct ds_st_entry {
    const char *name;
    ds_tensor tensor;
} ds_st_entry;

// Writes a safetensors file laid out byte for byte as safetensors.torch.save_file lays it out
// (tensors sorted by dtype rank then name, whatever the order of `entries`), atomically
// (temporary file in the same folder, fsync, rename; removed again on failure).
// Metadata: meta == NULL writes no "__metadata__" (save_file's metadata=None); meta != NULL with
// meta_count == 0 writes an empty one (metadata={}), as ds_st_open reports them. Keys are written
// in the given order (Python's order for two or more keys varies from run to run).
// Names, keys and values must be valid UTF-8 and unique; tensors contiguous and on the CPU
// (DS_ERR_INVALID_ARG otherwise); DS_ERR_IO when the file cannot be written.
ds_status ds_st_write(const char *path, const ds_st_entry *entries, int count, const ds_st_meta *meta,
                      int meta_count, ds_err *err);

#endif
