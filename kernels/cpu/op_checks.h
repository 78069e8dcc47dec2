// Argument checks shared by the CPU reference ops. Every message reads "<op>: <tensor>: ..."
// so that a user sees which op and which tensor was wrong.
#ifndef DS_CPU_OP_CHECKS_H
#define DS_CPU_OP_CHECKS_H

#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "../../runtime/base/tensor.h"

// True when an optional tensor is present (its data is not NULL).
bool ds_cpu_present(const ds_tensor *t);

// Checks that t is a present, contiguous CPU tensor of dtype F32 or F64 and stores the dtype
// in *dtype. Used on an op's first float tensor; the others must then match it.
ds_status ds_cpu_check_float(ds_err *err, const char *op, const char *name, const ds_tensor *t,
                             ds_dtype *dtype);

// Checks that t is a present, contiguous CPU tensor of `dtype` with `ndim` dims and
// t->shape[i] == want[i] for every want[i] >= 0 (-1 leaves that extent free; want may be NULL).
ds_status ds_cpu_check(ds_err *err, const char *op, const char *name, const ds_tensor *t, ds_dtype dtype,
                       int ndim, const int64_t *want);

// Checks that t is a present, contiguous CPU tensor of `dtype` (any number of dims) holding
// exactly `numel` elements.
ds_status ds_cpu_check_numel(ds_err *err, const char *op, const char *name, const ds_tensor *t,
                             ds_dtype dtype, int64_t numel);

#endif
