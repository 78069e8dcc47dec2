// A reader of zip archives whose entries are stored (not compressed), as torch.save writes them:
// it reads the central directory (zip64 records included: checkpoints pass 4 GB), bounds-checks
// every offset and length against the buffer, and hands out read-only views of entries' bytes.
// It never decompresses, so a crafted archive cannot make it allocate more than its central
// directory describes. The buffer (usually a file mapping) is the caller's and must outlive it.
#ifndef DS_ZIP_READER_H
#define DS_ZIP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/status.h"
#include "str_index.h"

typedef struct ds_zip_entry {
    const char *name;  // name_len bytes inside the central directory (not NUL-terminated)
    size_t name_len;
    uint64_t local_offset;  // of the entry's local header in the buffer
    uint64_t comp_size;     // bytes as stored
    uint64_t size;          // bytes once extracted
    uint16_t method;        // 0 stored, 8 deflate, ...
    uint16_t flags;         // general purpose bits (bit 0: encrypted)
} ds_zip_entry;

typedef struct ds_zip {
    const uint8_t *buf;  // (len) host, read-only: the whole archive; not owned
    size_t len;
    const char *path;  // names the archive in messages; not owned
    ds_zip_entry *entries;  // central directory order
    int32_t count;
    uint64_t cd_offset;  // where the central directory begins: every entry's data lies before it
    ds_str_index names;  // entry name -> index
} ds_zip;

// True when buf begins like a zip archive (a local file header, or the end record of an empty one).
bool ds_zip_sniff(const uint8_t *buf, size_t len);

// Reads the end-of-central-directory record (zip64 when its fields are saturated) and every
// central directory entry. DS_ERR_FORMAT names `path` and what is wrong (truncated archive,
// entry outside the directory, duplicate names, multi-disk archive, ...). On failure *z is left
// empty (ds_zip_close on it is harmless).
ds_status ds_zip_open(ds_zip *z, const uint8_t *buf, size_t len, const char *path, ds_err *err);
void ds_zip_close(ds_zip *z);

// Index of the entry called name[0..len), or -1.
int32_t ds_zip_find(const ds_zip *z, const char *name, size_t len);

// The bytes of entry i: checks its local header (signature, same name) and that its data lies
// inside the archive before the central directory; refuses encrypted and compressed entries
// (torch never writes them) with a message naming the entry.
ds_status ds_zip_entry_data(const ds_zip *z, int32_t i, const uint8_t **data, uint64_t *size, ds_err *err);

#endif
