// Per-op golden files: tests/fixtures/ops/<op>.safetensors, written by a module of
// scripts/fixtures/ from torch autograd, hold cases case0, case1, ... as tensors named
// "caseK.<name>" (inputs, upstream gradient, outputs, every gradient; scalars as 0-dim tensors).
// These helpers open such a file, view its tensors and make scratch tensors shaped like them.
#ifndef DS_TEST_OP_FIXTURE_H
#define DS_TEST_OP_FIXTURE_H

#include <stdbool.h>

#include "../runtime/io/safetensors.h"
#include "test_util.h"

typedef struct ds_op_fixture {
    ds_st_file file;
    bool open;
} ds_op_fixture;

// Opens tests/fixtures/ops/<op>.safetensors; records a failed check (with the reader's message)
// and returns false when it cannot be read.
bool ds_op_fixture_open(ds_test *t, ds_op_fixture *f, const char *op);
void ds_op_fixture_close(ds_op_fixture *f);

// How many consecutive cases (from case0) hold a tensor called `probe`.
int ds_op_fixture_cases(const ds_op_fixture *f, const char *probe);

// Whether "case<k>.<name>" exists (optional tensors, e.g. a bias, are simply not stored).
bool ds_op_fixture_has(const ds_op_fixture *f, int k, const char *name);

// A read-only CPU view of "case<k>.<name>" of `dtype`. When missing or of another dtype it
// records a failed check and returns an absent tensor (.data NULL).
ds_tensor ds_op_fixture_get(ds_test *t, const ds_op_fixture *f, int k, const char *name, ds_dtype dtype);

// The value of the one-element tensor "case<k>.<name>" (F32, F64 or I32); NaN (and a failed
// check) when missing.
double ds_op_fixture_scalar(ds_test *t, const ds_op_fixture *f, int k, const char *name);

// A zero-filled contiguous CPU tensor with like's shape and `dtype` (calloc; free .data).
ds_tensor ds_test_zeros_like(const ds_tensor *like, ds_dtype dtype);

// A new F32 tensor equal to src (F32) times s (calloc; free .data).
ds_tensor ds_test_scaled_copy(const ds_tensor *src, float s);

// Checks that a call returned `want`, that err holds it too, and that its message contains
// `needle` (e.g. the op's name); prints the message otherwise. Clears err for the next call.
bool ds_test_error(ds_test *t, const char *what, ds_err *err, ds_status got, ds_status want, const char *needle);

// Fills a F32 or F64 tensor with NaN, so that an op that should overwrite but adds shows up.
void ds_test_fill_nan(ds_tensor *x);

#endif
