// The tensor descriptor: a view of memory that someone else owns (a parameter block, an
// activation arena, a mapped file). It never allocates or frees.
#ifndef DS_TENSOR_H
#define DS_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "dtype.h"
#include "status.h"

#define DS_MAX_DIMS 5

typedef enum ds_device_kind { DS_DEVICE_CPU = 0, DS_DEVICE_CUDA = 1, DS_DEVICE_KIND_COUNT } ds_device_kind;

typedef struct ds_device {
    ds_device_kind kind;
    int index;  // CUDA ordinal; 0 for the CPU
} ds_device;

typedef struct ds_tensor {
    void *data;  // first element; host or device memory as `device` says
    ds_dtype dtype;
    int ndim;                        // 0..DS_MAX_DIMS; 0 is a scalar
    int64_t shape[DS_MAX_DIMS];      // shape[0] outermost
    int64_t stride[DS_MAX_DIMS];     // in elements, not bytes
    ds_device device;
} ds_tensor;

// A contiguous (row-major) view of `data` with the given shape.
ds_tensor ds_tensor_make(void *data, ds_dtype dtype, ds_device device, int ndim, const int64_t *shape);

// Shorthands for contiguous CPU views of 1..4 dims.
ds_tensor ds_tensor_cpu1(void *data, ds_dtype dtype, int64_t d0);
ds_tensor ds_tensor_cpu2(void *data, ds_dtype dtype, int64_t d0, int64_t d1);
ds_tensor ds_tensor_cpu3(void *data, ds_dtype dtype, int64_t d0, int64_t d1, int64_t d2);
ds_tensor ds_tensor_cpu4(void *data, ds_dtype dtype, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

int64_t ds_tensor_numel(const ds_tensor *t);
size_t ds_tensor_nbytes(const ds_tensor *t);  // numel * element size (contiguous extent)
bool ds_tensor_is_contiguous(const ds_tensor *t);

// Writes "(2, 7, 13) F32 cpu" into buf; returns buf.
const char *ds_tensor_describe(const ds_tensor *t, char *buf, size_t cap);

// Checks that t is contiguous, of dtype `dtype` (or any when dtype == DS_DTYPE_COUNT), on
// `device`'s kind, with `ndim` dims; the message names `what` (e.g. "linear: weight").
ds_status ds_tensor_expect(const ds_tensor *t, const char *what, ds_dtype dtype, ds_device_kind kind,
                           int ndim, ds_err *err);

#endif
