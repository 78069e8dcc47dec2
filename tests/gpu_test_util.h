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

// ds_gpu_test_random, then ds_gpu_test_round_bf16 when round_bf16 (inputs of a BF16 run, so that
// the CPU reference and the device read the same values).
ds_tensor ds_gpu_test_random_rounded(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi,
                                     bool round_bf16);

// The next value of the splitmix64 sequence in *state (the generator behind ds_gpu_test_random).
uint64_t ds_gpu_test_splitmix64(uint64_t *state);

// A host F32 tensor of zeros with the given shape (calloc'd, at least one element; free .data).
ds_tensor ds_gpu_test_host_zeros(int ndim, const int64_t *shape);

// A host tensor with the shape, dtype and device of host tensor h (F32), zero-filled (calloc'd;
// free .data).
ds_tensor ds_gpu_test_host_zeros_like(const ds_tensor *h);

// A host copy of host F32 tensor h (calloc'd; free .data).
ds_tensor ds_gpu_test_host_copy(const ds_tensor *h);

// True when host tensors a and b hold the same bytes over a's size (ds_tensor_nbytes(a)). For
// downloads (F32 or I32) and host F32 tensors: NaNs compare by their bits, so an unwritten
// (poisoned) element is caught too.
bool ds_gpu_test_same_bits(const ds_tensor *a, const ds_tensor *b);

// A 1-D view of device tensor d's elements 1..numel-1 (same dtype and device): its data pointer is
// one element past d's, so it is not 16-byte aligned and a FAST kernel must fall back.
ds_tensor ds_gpu_test_offset_view(const ds_tensor *d);

// "plain" or "fast", for test messages.
const char *ds_gpu_test_variant_name(ds_kernel_variant v);

// Downloads device tensor dev and checks it against host F32 tensor want with ds_test_close(tol).
void ds_gpu_test_expect_close(ds_test *t, ds_context *ctx, const char *what, const ds_tensor *dev,
                              const ds_tensor *want, double tol);

// Downloads device tensors a and b (two runs of the same op) and checks that they are bit-identical
// ("<what>: two runs differ" otherwise): ctx->deterministic.
void ds_gpu_test_expect_same_bits(ds_test *t, ds_context *ctx, const char *what, const ds_tensor *a,
                                  const ds_tensor *b);

// Checks that status s is DS_ERR_INVALID_ARG with a message naming `op`, then clears ctx's error.
void ds_gpu_test_expect_invalid_arg(ds_test *t, ds_context *ctx, ds_status s, const char *op, const char *what);

#endif
