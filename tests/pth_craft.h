// Builders of crafted PyTorch checkpoints for the .pth reader's tests and fuzz target: pickle
// bytes opcode by opcode, zip archives laid out as torch.save lays them out (stored entries,
// 64-byte aligned data, optionally zip64 records), and legacy-format streams. They write what
// they are told, malformed on purpose where a test wants it.
#ifndef DS_PTH_CRAFT_H
#define DS_PTH_CRAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// A growing byte buffer; on allocation failure it stays as it was and sets oom.
typedef struct craft_buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} craft_buf;

void craft_bytes(craft_buf *b, const void *p, size_t n);
void craft_u8(craft_buf *b, unsigned v);
void craft_u16(craft_buf *b, unsigned v);
void craft_u32(craft_buf *b, uint32_t v);
void craft_u64(craft_buf *b, uint64_t v);
void craft_free(craft_buf *b);

// Pickle opcodes (protocol 2).
void pk_proto(craft_buf *b);                                // PROTO 2
void pk_op(craft_buf *b, unsigned op);                      // a one-byte opcode: '(' MARK, 't' TUPLE, ...
void pk_str(craft_buf *b, const char *s);                   // BINUNICODE
void pk_int(craft_buf *b, int64_t v);                       // BININT1/BININT/LONG1, as Python picks
void pk_global(craft_buf *b, const char *module, const char *name);  // GLOBAL
// ('storage', torch.<storage_class>, key, 'cpu', numel) as a persistent id (BINPERSID); legacy
// adds the view_metadata None. "cuda.FloatStorage" names torch.cuda.FloatStorage.
void pk_storage(craft_buf *b, const char *storage_class, const char *key, int64_t numel, bool legacy);
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) via REDUCE.
void pk_tensor(craft_buf *b, const char *storage_class, const char *key, int64_t numel, int64_t offset, int ndim,
               const int64_t *shape, const int64_t *stride, bool legacy);
// A state dict pickle's start (PROTO, OrderedDict(), MARK) and end (SETITEMS, STOP): between them
// the caller writes key, value pairs.
void pk_dict_begin(craft_buf *b);
void pk_dict_end(craft_buf *b);

typedef struct craft_entry {
    const char *name;
    const void *data;
    size_t size;
} craft_entry;

// A zip archive of stored entries as torch writes it: local headers padded so that every entry's
// data starts at a multiple of 64, central directory, end record. zip64: every central entry's
// sizes and offset moved into a zip64 extra field, and a zip64 end record with its locator
// (the end record's fields saturated).
void craft_zip(craft_buf *out, const craft_entry *entries, int n, bool zip64);

// A torch zip checkpoint: "archive/data.pkl" = pickle, "archive/byteorder" = "little", and
// "archive/data/<keys[i]>" = storages[i] (sizes[i] bytes).
void craft_pth_zip(craft_buf *out, const craft_buf *pickle, int n, const char *const *keys,
                   const void *const *storages, const size_t *sizes);

// A legacy checkpoint: magic, protocol 1001 and sys_info pickles, `pickle`, the list of keys
// pickle, and each storage's 8-byte element count (sizes[i] / elem_sizes[i]) and bytes.
void craft_pth_legacy(craft_buf *out, const craft_buf *pickle, int n, const char *const *keys,
                      const void *const *storages, const size_t *sizes, const size_t *elem_sizes);

// Writes b to path; returns 0 on success.
int craft_write(const char *path, const craft_buf *b);

#endif
