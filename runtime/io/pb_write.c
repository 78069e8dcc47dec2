#include "pb_write.h"

#include <stdlib.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

static void put(ds_pb_buf *b, const void *data, size_t n) {
    if (b->failed || n == 0) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void ds_pb_varint(ds_pb_buf *b, uint64_t v) {
    unsigned char out[10];
    size_t n = 0;
    do {
        out[n++] = (unsigned char)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, out, n);
}

static void key(ds_pb_buf *b, int field, int wire) { ds_pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire); }

// Little-endian whatever the machine.
static void put_le(ds_pb_buf *b, uint64_t v, size_t bytes) {
    unsigned char out[8];
    for (size_t i = 0; i < bytes; i++) out[i] = (unsigned char)(v >> (8 * i));
    put(b, out, bytes);
}

void ds_pb_int64(ds_pb_buf *b, int field, int64_t v) {
    key(b, field, WIRE_VARINT);
    ds_pb_varint(b, (uint64_t)v);
}

void ds_pb_double(ds_pb_buf *b, int field, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    key(b, field, WIRE_FIXED64);
    put_le(b, bits, 8);
}

void ds_pb_float(ds_pb_buf *b, int field, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    key(b, field, WIRE_FIXED32);
    put_le(b, bits, 4);
}

void ds_pb_bytes(ds_pb_buf *b, int field, const void *data, size_t n) {
    key(b, field, WIRE_LEN);
    ds_pb_varint(b, n);
    put(b, data, n);
}

void ds_pb_string(ds_pb_buf *b, int field, const char *s) { ds_pb_bytes(b, field, s, strlen(s)); }

void ds_pb_message(ds_pb_buf *b, int field, const ds_pb_buf *inner) {
    if (inner->failed) b->failed = true;
    ds_pb_bytes(b, field, inner->p, inner->len);
}

void ds_pb_free(ds_pb_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}
