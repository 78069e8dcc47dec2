// Helpers for the CUDA op tests (tests/gpu/): open a device or report skipped, host<->device
// tensor copies, poisoned outputs, bf16 rounding on the host, and a deterministic random fill.
// Every CUDA op is checked against the CPU op (the reference), on the same inputs.
#ifndef DS_GPU_TEST_UTIL_H
#define DS_GPU_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "../kernels/gpu.h"
#include "../kernels/ops.h"
#include "test_util.h"

// Opens cuda:0 with default options (PLAIN kernels). Returns true when a device is open; when
// there is none (or the build has no CUDA) prints "<name>: skipped: <why>" and returns false;
// the test's main then returns DS_TEST_SKIP.
bool ds_gpu_test_open(ds_context *ctx, const char *name);

// A device tensor of `dtype` shaped like `like` (any dtype), filled with 0xff bytes (NaN for
// F32/BF16, -1 for I32) so that an element the op forgets to write cannot pass. Free with
// ds_gpu_test_free.
ds_tensor ds_gpu_test_poisoned(ds_context *ctx, const ds_tensor *like, ds_dtype dtype);

// A device copy of host tensor `h` (F32, F64 -> not allowed, I32 as is). With dtype DS_BF16 an
// F32 host tensor is rounded to bf16 on the way (round to nearest even, as torch).
ds_tensor ds_gpu_test_upload(ds_context *ctx, const ds_tensor *h, ds_dtype dtype);

// A host F32 tensor (calloc'd; free .data) holding device tensor `d` (F32 or BF16, widened),
// after a ds_gpu_sync. I32 device tensors come back as I32.
ds_tensor ds_gpu_test_download(ds_context *ctx, const ds_tensor *d);

void ds_gpu_test_free(ds_context *ctx, ds_tensor *d);

// A host F32 tensor with the given shape (calloc'd; free .data), uniform in [lo, hi) from a
// splitmix64 sequence seeded by `seed`.
ds_tensor ds_gpu_test_random(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi);

// Rounds an F32 host tensor to bf16 and back in place (so the CPU reference sees exactly the
// values the bf16 GPU path reads).
void ds_gpu_test_round_bf16(ds_tensor *h);

#endif
