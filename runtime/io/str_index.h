// A string -> int index (open addressing, FNV-1a) for readers of untrusted files: names are byte
// spans (not NUL-terminated) that stay owned by the caller, so that looking up thousands of zip
// entries or storage keys stays linear however many a crafted file declares.
#ifndef DS_STR_INDEX_H
#define DS_STR_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct ds_str_index_slot {
    const char *key;  // NULL: empty slot; else `len` bytes owned by the caller
    size_t len;
    int32_t value;
} ds_str_index_slot;

typedef struct ds_str_index {
    ds_str_index_slot *slots;  // (cap) host; cap is 0 or a power of two
    size_t cap, count;
} ds_str_index;

// Adds key -> value unless key is present. Returns 1 when added, 0 when key was already there
// (its value in *existing when existing != NULL), -1 when out of memory.
int ds_str_index_put(ds_str_index *ix, const char *key, size_t len, int32_t value, int32_t *existing);

// The value of key, or -1 when absent.
int32_t ds_str_index_get(const ds_str_index *ix, const char *key, size_t len);

void ds_str_index_free(ds_str_index *ix);

#endif
