// Element types. The compute dtypes are f32, bf16, f16, i32, i64 (and f64 for the CPU
// reference's finite-difference checks); the rest exist so that every tensor a safetensors file
// may hold can be described and reported, even where no op computes on it.
#ifndef DS_DTYPE_H
#define DS_DTYPE_H

#include <stddef.h>

typedef enum ds_dtype {
    DS_F32 = 0,
    DS_BF16,
    DS_F16,
    DS_I32,
    DS_I64,
    DS_F64,
    DS_BOOL,
    DS_U8,
    DS_I8,
    DS_I16,
    DS_U16,
    DS_U32,
    DS_U64,
    DS_F8_E4M3,
    DS_F8_E5M2,
    DS_DTYPE_COUNT
} ds_dtype;

// Bytes per element.
size_t ds_dtype_size(ds_dtype t);

// The name safetensors uses ("F32", "BF16", ...).
const char *ds_dtype_name(ds_dtype t);

// Parses a safetensors dtype name; returns 0 and sets *out, or -1 when unknown.
int ds_dtype_parse(const char *name, ds_dtype *out);

// bf16 <-> f32 with round-to-nearest-even (NaN stays NaN), as torch converts.
float ds_bf16_to_f32(unsigned short h);
unsigned short ds_f32_to_bf16(float f);

// IEEE binary16 -> f32, exact (every half value, subnormals, infinities and NaN included).
float ds_f16_to_f32(unsigned short h);

#endif
