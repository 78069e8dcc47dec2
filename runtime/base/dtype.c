#include "dtype.h"

#include <string.h>

typedef struct {
    const char *name;
    size_t size;
} dtype_info;

static const dtype_info k_dtypes[] = {
    [DS_F32] = {"F32", 4},          [DS_BF16] = {"BF16", 2},        [DS_F16] = {"F16", 2},
    [DS_I32] = {"I32", 4},          [DS_I64] = {"I64", 8},          [DS_F64] = {"F64", 8},
    [DS_BOOL] = {"BOOL", 1},        [DS_U8] = {"U8", 1},            [DS_I8] = {"I8", 1},
    [DS_I16] = {"I16", 2},          [DS_U16] = {"U16", 2},          [DS_U32] = {"U32", 4},
    [DS_U64] = {"U64", 8},          [DS_F8_E4M3] = {"F8_E4M3", 1},  [DS_F8_E5M2] = {"F8_E5M2", 1},
};
_Static_assert(sizeof(k_dtypes) / sizeof(k_dtypes[0]) == DS_DTYPE_COUNT, "dtype table out of step");

size_t ds_dtype_size(ds_dtype t) { return (unsigned)t < DS_DTYPE_COUNT ? k_dtypes[t].size : 0; }

const char *ds_dtype_name(ds_dtype t) { return (unsigned)t < DS_DTYPE_COUNT ? k_dtypes[t].name : "?"; }

int ds_dtype_parse(const char *name, ds_dtype *out) {
    for (int i = 0; i < DS_DTYPE_COUNT; i++) {
        if (strcmp(name, k_dtypes[i].name) == 0) {
            *out = (ds_dtype)i;
            return 0;
        }
    }
    return -1;
}

float ds_bf16_to_f32(unsigned short h) {
    unsigned int u = (unsigned int)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

unsigned short ds_f32_to_bf16(float f) {
    unsigned int u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return (unsigned short)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
    return (unsigned short)(u >> 16);
}

float ds_f16_to_f32(unsigned short h) {
    const unsigned int sign = (unsigned int)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    unsigned int u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);  // infinity or NaN (payload kept)
    } else if (exp != 0) {
        u = sign | ((exp + 112u) << 23) | (man << 13);  // rebias 15 -> 127
    } else if (man == 0) {
        u = sign;  // signed zero
    } else {
        // Subnormal half: man * 2^-24, a normal float; shift the leading 1 up to bit 10.
        unsigned int e = 113u, m = man;
        while ((m & 0x400u) == 0) {
            m <<= 1;
            e--;
        }
        u = sign | (e << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
