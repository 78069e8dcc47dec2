#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../data/common/file_read.h"

ds_test ds_test_begin(const char *name) {
    ds_test t = {.name = name, .checks = 0, .failures = 0};
    return t;
}

int ds_test_finish(const ds_test *t) {
    printf("%s: %d checks, %d failed\n", t->name, t->checks, t->failures);
    if (t->checks == 0) {
        printf("%s: no check ran; a test that checks nothing fails\n", t->name);
        return 1;
    }
    return t->failures == 0 ? 0 : 1;
}

bool ds_test_check(ds_test *t, bool cond, const char *fmt, ...) {
    t->checks++;
    if (!cond) {
        t->failures++;
        printf("FAIL: ");
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
    return cond;
}

static double element(const ds_tensor *x, int64_t i) {
    if (x->dtype == DS_F64) return ((const double *)x->data)[i];
    if (x->dtype == DS_BF16) return ds_bf16_to_f32(((const unsigned short *)x->data)[i]);
    return ((const float *)x->data)[i];
}

static double close_impl(ds_test *t, const char *what, size_t n, double tol, const ds_tensor *g,
                         const ds_tensor *w, const double *gd, const double *wd) {
    double max_diff = 0, max_want = 0;
    size_t worst = 0;
    bool finite = true;
    for (size_t i = 0; i < n; i++) {
        const double a = g ? element(g, (int64_t)i) : gd[i];
        const double b = w ? element(w, (int64_t)i) : wd[i];
        if (!isfinite(a) && !(isnan(a) && isnan(b)) && a != b) finite = false;
        if (isnan(a) && isnan(b)) continue;  // NaN where NaN is wanted: agrees, and |want| is not a number
        const double d = fabs(a - b);
        if (d > max_diff || isnan(d)) {
            max_diff = isnan(d) ? INFINITY : d;  // one side NaN: a mismatch
            worst = i;
        }
        if (fabs(b) > max_want) max_want = fabs(b);
    }
    const double err = max_diff / (max_want > 1e-30 ? max_want : 1e-30);
    const bool ok = finite && err <= tol;
    t->checks++;
    if (!ok) t->failures++;
    if (!ok || getenv("DS_TEST_VERBOSE"))
        printf("%s %-40s rel err %.3e (tol %.1e, max|diff| %.3e at %zu, max|want| %.3e, n %zu)\n",
               ok ? "ok  " : "FAIL:", what, err, tol, max_diff, worst, max_want, n);
    return err;
}

double ds_test_close(ds_test *t, const char *what, const ds_tensor *got, const ds_tensor *want, double tol) {
    const int64_t n = ds_tensor_numel(got);
    if (n != ds_tensor_numel(want)) {
        ds_test_check(t, false, "%s: numel %lld != expected %lld", what, (long long)n,
                      (long long)ds_tensor_numel(want));
        return INFINITY;
    }
    return close_impl(t, what, (size_t)n, tol, got, want, NULL, NULL);
}

double ds_test_close_f64(ds_test *t, const char *what, const double *got, const double *want, size_t n,
                         double tol) {
    return close_impl(t, what, n, tol, NULL, NULL, got, want);
}

// The environment variables DS_SOURCE_DIR and DS_TEST_TMP_DIR override the paths compiled in,
// so that prebuilt test programs run from another checkout (scripts/gpu_bundle.sh).
static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

const char *ds_test_fixture(const char *rel, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/tests/fixtures/%s", env_or("DS_SOURCE_DIR", DS_SOURCE_DIR), rel);
    return buf;
}

const char *ds_test_tmpfile(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/tmp_%ld_%s", env_or("DS_TEST_TMP_DIR", DS_TEST_TMP_DIR), (long)getpid(), name);
    return buf;
}

char *ds_test_read_file(const char *path, size_t *size) {
    char *data = NULL;
    size_t n = 0;
    if (ds_read_whole_file(path, &data, &n, NULL) != DS_OK) return NULL;
    if (size) *size = n;
    return data;
}

bool ds_test_same_bytes(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = ds_test_read_file(a, &na), *y = ds_test_read_file(b, &nb);
    const bool same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x), free(y);
    return same;
}
