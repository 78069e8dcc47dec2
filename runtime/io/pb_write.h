// A small protocol-buffer encoder: the wire format (varints, fixed 32/64-bit little-endian values,
// length-delimited fields) written field by field into a growable buffer, for the few messages
// downstream writes itself (TensorBoard's Event and Summary). No schema, no reflection: each
// caller writes its fields in order.
#ifndef DS_PB_WRITE_H
#define DS_PB_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// An encoded message being built. Zero-initialize; `failed` turns true (and stays) when memory
// ran out, and every later write is ignored: check it once at the end.
typedef struct ds_pb_buf {
    unsigned char *p;  // (len) host: the encoded bytes
    size_t len, cap;
    bool failed;
} ds_pb_buf;

void ds_pb_varint(ds_pb_buf *b, uint64_t v);                          // a bare varint
void ds_pb_int64(ds_pb_buf *b, int field, int64_t v);                 // int64 (varint, two's complement)
void ds_pb_double(ds_pb_buf *b, int field, double v);                 // double (fixed64)
void ds_pb_float(ds_pb_buf *b, int field, float v);                   // float (fixed32)
void ds_pb_bytes(ds_pb_buf *b, int field, const void *data, size_t n);  // bytes / string / embedded message
void ds_pb_string(ds_pb_buf *b, int field, const char *s);
void ds_pb_message(ds_pb_buf *b, int field, const ds_pb_buf *inner);  // an embedded message
void ds_pb_free(ds_pb_buf *b);

#endif
