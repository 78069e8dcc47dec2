#include "pth_craft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void craft_bytes(craft_buf *b, const void *p, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n > 0) memcpy(b->p + b->len, p, n);
    b->len += n;
}

void craft_u8(craft_buf *b, unsigned v) {
    const uint8_t x = (uint8_t)v;
    craft_bytes(b, &x, 1);
}
void craft_u16(craft_buf *b, unsigned v) {
    craft_u8(b, v & 0xff);
    craft_u8(b, (v >> 8) & 0xff);
}
void craft_u32(craft_buf *b, uint32_t v) {
    craft_u16(b, v & 0xffff);
    craft_u16(b, v >> 16);
}
void craft_u64(craft_buf *b, uint64_t v) {
    craft_u32(b, (uint32_t)v);
    craft_u32(b, (uint32_t)(v >> 32));
}
void craft_free(craft_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void pk_proto(craft_buf *b) {
    craft_u8(b, 0x80);
    craft_u8(b, 2);
}
void pk_op(craft_buf *b, unsigned op) { craft_u8(b, op); }
void pk_str(craft_buf *b, const char *s) {
    craft_u8(b, 'X');
    craft_u32(b, (uint32_t)strlen(s));
    craft_bytes(b, s, strlen(s));
}
void pk_int(craft_buf *b, int64_t v) {
    if (v >= 0 && v < 256) {
        craft_u8(b, 'K');
        craft_u8(b, (unsigned)v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        craft_u8(b, 'J');
        craft_u32(b, (uint32_t)(int32_t)v);
    } else {
        craft_u8(b, 0x8a);
        craft_u8(b, 8);
        craft_u64(b, (uint64_t)v);
    }
}
void pk_global(craft_buf *b, const char *module, const char *name) {
    craft_u8(b, 'c');
    craft_bytes(b, module, strlen(module));
    craft_u8(b, '\n');
    craft_bytes(b, name, strlen(name));
    craft_u8(b, '\n');
}
void pk_storage(craft_buf *b, const char *storage_class, const char *key, int64_t numel, bool legacy) {
    pk_op(b, '(');
    pk_str(b, "storage");
    const char *dot = strrchr(storage_class, '.');  // "cuda.FloatStorage": torch.cuda.FloatStorage
    if (dot != NULL) {
        char module[64];
        snprintf(module, sizeof module, "torch.%.*s", (int)(dot - storage_class), storage_class);
        pk_global(b, module, dot + 1);
    } else {
        pk_global(b, "torch", storage_class);
    }
    pk_str(b, key);
    pk_str(b, "cpu");
    pk_int(b, numel);
    if (legacy) pk_op(b, 'N');
    pk_op(b, 't');
    pk_op(b, 'Q');
}
void pk_tensor(craft_buf *b, const char *storage_class, const char *key, int64_t numel, int64_t offset, int ndim,
               const int64_t *shape, const int64_t *stride, bool legacy) {
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    pk_op(b, '(');
    pk_storage(b, storage_class, key, numel, legacy);
    pk_int(b, offset);
    pk_op(b, '(');
    for (int i = 0; i < ndim; i++) pk_int(b, shape[i]);
    pk_op(b, 't');
    pk_op(b, '(');
    for (int i = 0; i < ndim; i++) pk_int(b, stride[i]);
    pk_op(b, 't');
    pk_op(b, 0x89);  // NEWFALSE: requires_grad
    pk_global(b, "collections", "OrderedDict");
    pk_op(b, ')');
    pk_op(b, 'R');
    pk_op(b, 't');
    pk_op(b, 'R');
}
void pk_dict_begin(craft_buf *b) {
    pk_proto(b);
    pk_global(b, "collections", "OrderedDict");
    pk_op(b, ')');
    pk_op(b, 'R');
    pk_op(b, '(');
}
void pk_dict_end(craft_buf *b) {
    pk_op(b, 'u');
    pk_op(b, '.');
}

void craft_zip(craft_buf *out, const craft_entry *entries, int n, bool zip64) {
    uint64_t *offsets = calloc((size_t)(n > 0 ? n : 1), sizeof *offsets);
    if (offsets == NULL) {
        out->oom = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        const size_t nl = strlen(entries[i].name);
        offsets[i] = out->len;
        // Padding extra field (id 0x4246, "FB", as torch's writer) so the data lands on 64 bytes.
        size_t pad = (64 - (out->len + 30 + nl + 4) % 64) % 64;
        craft_u32(out, 0x04034b50);
        craft_u16(out, 20);
        craft_u16(out, 0);  // flags
        craft_u16(out, 0);  // stored
        craft_u32(out, 0);  // time, date
        craft_u32(out, 0);  // crc (the reader does not check it, as torch does not)
        craft_u32(out, (uint32_t)entries[i].size);
        craft_u32(out, (uint32_t)entries[i].size);
        craft_u16(out, (unsigned)nl);
        craft_u16(out, (unsigned)(4 + pad));
        craft_bytes(out, entries[i].name, nl);
        craft_u16(out, 0x4246);
        craft_u16(out, (unsigned)pad);
        for (size_t k = 0; k < pad; k++) craft_u8(out, 'Z');
        craft_bytes(out, entries[i].data, entries[i].size);
    }
    const uint64_t cd = out->len;
    for (int i = 0; i < n; i++) {
        const size_t nl = strlen(entries[i].name);
        craft_u32(out, 0x02014b50);
        craft_u16(out, 45);
        craft_u16(out, 45);
        craft_u16(out, 0);
        craft_u16(out, 0);
        craft_u32(out, 0);
        craft_u32(out, 0);
        craft_u32(out, zip64 ? 0xffffffffu : (uint32_t)entries[i].size);
        craft_u32(out, zip64 ? 0xffffffffu : (uint32_t)entries[i].size);
        craft_u16(out, (unsigned)nl);
        craft_u16(out, zip64 ? 28 : 0);
        craft_u16(out, 0);  // comment
        craft_u16(out, 0);  // disk
        craft_u16(out, 0);
        craft_u32(out, 0);
        craft_u32(out, zip64 ? 0xffffffffu : (uint32_t)offsets[i]);
        craft_bytes(out, entries[i].name, nl);
        if (zip64) {
            craft_u16(out, 0x0001);
            craft_u16(out, 24);
            craft_u64(out, entries[i].size);
            craft_u64(out, entries[i].size);
            craft_u64(out, offsets[i]);
        }
    }
    const uint64_t cd_size = out->len - cd;
    if (zip64) {
        const uint64_t end64 = out->len;
        craft_u32(out, 0x06064b50);
        craft_u64(out, 44);
        craft_u16(out, 45);
        craft_u16(out, 45);
        craft_u32(out, 0);
        craft_u32(out, 0);
        craft_u64(out, (uint64_t)n);
        craft_u64(out, (uint64_t)n);
        craft_u64(out, cd_size);
        craft_u64(out, cd);
        craft_u32(out, 0x07064b50);
        craft_u32(out, 0);
        craft_u64(out, end64);
        craft_u32(out, 1);
    }
    craft_u32(out, 0x06054b50);
    craft_u16(out, 0);
    craft_u16(out, 0);
    craft_u16(out, zip64 ? 0xffff : (unsigned)n);
    craft_u16(out, zip64 ? 0xffff : (unsigned)n);
    craft_u32(out, zip64 ? 0xffffffffu : (uint32_t)cd_size);
    craft_u32(out, zip64 ? 0xffffffffu : (uint32_t)cd);
    craft_u16(out, 0);
    free(offsets);
}

void craft_pth_zip(craft_buf *out, const craft_buf *pickle, int n, const char *const *keys,
                   const void *const *storages, const size_t *sizes) {
    craft_entry *e = calloc((size_t)n + 2, sizeof *e);
    char(*names)[64] = calloc((size_t)n + 1, sizeof *names);
    if (e == NULL || names == NULL) {
        out->oom = true;
        free(e);
        free(names);
        return;
    }
    e[0] = (craft_entry){"archive/data.pkl", pickle->p, pickle->len};
    e[1] = (craft_entry){"archive/byteorder", "little", 6};
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "archive/data/%s", keys[i]);
        e[i + 2] = (craft_entry){names[i], storages[i], sizes[i]};
    }
    craft_zip(out, e, n + 2, false);
    free(e);
    free(names);
}

void craft_pth_legacy(craft_buf *out, const craft_buf *pickle, int n, const char *const *keys,
                      const void *const *storages, const size_t *sizes, const size_t *elem_sizes) {
    static const uint8_t magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
    craft_bytes(out, magic, sizeof magic);
    pk_proto(out);  // protocol version 1001
    craft_u8(out, 'M');
    craft_u16(out, 1001);
    pk_op(out, '.');
    pk_proto(out);  // sys_info
    pk_op(out, '}');
    pk_op(out, '(');
    pk_str(out, "protocol_version");
    craft_u8(out, 'M');
    craft_u16(out, 1001);
    pk_str(out, "little_endian");
    pk_op(out, 0x88);
    pk_op(out, 'u');
    pk_op(out, '.');
    craft_bytes(out, pickle->p, pickle->len);
    pk_proto(out);  // storage keys
    pk_op(out, ']');
    pk_op(out, '(');
    for (int i = 0; i < n; i++) pk_str(out, keys[i]);
    pk_op(out, 'e');
    pk_op(out, '.');
    for (int i = 0; i < n; i++) {
        craft_u64(out, sizes[i] / elem_sizes[i]);
        craft_bytes(out, storages[i], sizes[i]);
    }
}

int craft_write(const char *path, const craft_buf *b) {
    FILE *fp = fopen(path, "wb");
    if (fp == NULL) return -1;
    const size_t w = b->len > 0 ? fwrite(b->p, 1, b->len, fp) : 0;
    return (fclose(fp) == 0 && w == b->len) ? 0 : -1;
}
