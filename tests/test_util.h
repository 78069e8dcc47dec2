// A small test harness shared by every ctest program: checks that count and report, tensor
// comparison with a stated tolerance, and fixture lookup. A test's main() ends with
// `return ds_test_finish(&t);` which prints the tally and returns 0 only when nothing failed.
#ifndef DS_TEST_UTIL_H
#define DS_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "../runtime/base/tensor.h"

#define DS_TEST_SKIP 77  // ctest's SKIP_RETURN_CODE for every test (see tests/CMakeLists.txt)

typedef struct ds_test {
    const char *name;
    int checks;
    int failures;
} ds_test;

ds_test ds_test_begin(const char *name);
int ds_test_finish(const ds_test *t);

// Records one check; prints the message when it fails. Returns cond.
bool ds_test_check(ds_test *t, bool cond, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

// Compares two float tensors (F32 or F64, any mix) of equal numel. The error is tensor-relative:
// max|got - want| / max(max|want|, 1e-30), so values near zero inside a tensor do not make an
// otherwise exact result fail. Prints the error on failure (and on success with DS_TEST_VERBOSE).
// Returns the error.
double ds_test_close(ds_test *t, const char *what, const ds_tensor *got, const ds_tensor *want, double tol);

// Same for raw arrays of doubles.
double ds_test_close_f64(ds_test *t, const char *what, const double *got, const double *want, size_t n,
                         double tol);

// The whole file at `path` as a malloc'd buffer with a NUL after its end (its length in *size
// when size is non-NULL), or NULL when it cannot be read. The caller frees it.
char *ds_test_read_file(const char *path, size_t *size);
// Whether two files hold the same bytes (false when either cannot be read).
bool ds_test_same_bytes(const char *a, const char *b);

// Path of a committed fixture: "<source>/tests/fixtures/<rel>" into buf; returns buf.
const char *ds_test_fixture(const char *rel, char *buf, size_t cap);

// Path of a fresh scratch file under the build tree for this test: returns buf.
const char *ds_test_tmpfile(const char *name, char *buf, size_t cap);

#endif
