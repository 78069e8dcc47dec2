// Helpers the safetensors reader, writer and `downstream inspect` share. Internal to runtime/.
#ifndef DS_SAFETENSORS_INTERNAL_H
#define DS_SAFETENSORS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

// Offset of the first byte of s[0..n) that is not part of well-formed UTF-8 (no overlong forms,
// no surrogates, nothing above U+10FFFF), or -1 when all of it is. The safetensors header is
// UTF-8 JSON and the Python library rejects anything else.
long ds_st_utf8_invalid_at(const char *s, size_t n);

// "(30522, 384)" (or "()" for a scalar) into buf; returns buf.
const char *ds_st_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap);

#endif
