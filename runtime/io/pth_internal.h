// The parts of the .pth reader (pth.h), internal to runtime/io: each format's loader runs the
// checkpoint's pickles and finds its storages' bytes; then the state dict is picked and flattened
// and each of its tensors checked and made contiguous.
#ifndef DS_PTH_INTERNAL_H
#define DS_PTH_INTERNAL_H

#include <stdbool.h>

#include "pickle.h"
#include "pth.h"

// The zip format: `<archive>/data.pkl`, `<archive>/data/<key>` per storage, `<archive>/byteorder`.
// Initialises *pk over data.pkl, runs it (*root), and points each storage at its entry's bytes
// (left NULL when the entry is missing; checked when a tensor needs it). *big_endian when the
// archive's byteorder record says "big" (its tensors are then byte-swapped on copy, as torch does).
ds_status ds_pth_zip_load(ds_pickle *pk, const uint8_t *buf, size_t len, const char *path, int32_t *root,
                          bool *big_endian, ds_err *err);

// The legacy format: pickles of the magic number, the protocol version (1001) and sys_info, the
// main pickle (*root), the list of storage keys, then each listed storage's bytes after its
// 8-byte little-endian element count. Initialises *pk over buf.
ds_status ds_pth_legacy_load(ds_pickle *pk, const uint8_t *buf, size_t len, const char *path, int32_t *root,
                             ds_err *err);

// The state dict of a checkpoint whose pickle gave `root` (see pth.h): *dict, and in *key the key
// of the top-level dict that holds it ("" when root is the state dict; a static string).
ds_status ds_pth_find_state_dict(const ds_pickle *pk, int32_t root, int32_t *dict, const char **key, ds_err *err);

typedef struct ds_pth_named {
    char *name;      // flattened key (malloc'd)
    int32_t tensor;  // index into pk->tensors
} ds_pth_named;

// Flattens the state dict `dict` (nested dicts joined by '.') into *out (malloc'd, *count items),
// refusing anything that is neither a tensor nor a dict, non-string keys, names with NUL bytes,
// duplicate names and nesting deeper than DS_PTH_MAX_NESTING. On failure *out is NULL.
#define DS_PTH_MAX_NESTING 32
ds_status ds_pth_flatten(const ds_pickle *pk, int32_t dict, ds_pth_named **out, int *count, ds_err *err);

// Checks tensor `ti` of pk against its storage and fills *out (name and storage_key are
// malloc'd copies): a view of the storage bytes when contiguous and aligned, else a contiguous
// copy (byte-swapped when big_endian) whose bytes are taken from *copy_budget first.
ds_status ds_pth_materialize(const ds_pickle *pk, int32_t ti, const char *name, bool big_endian, uint64_t *copy_budget,
                             ds_pth_tensor *out, ds_err *err);

#endif
