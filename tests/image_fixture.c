#include "image_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ds_img_fixture(const char *rel, char *buf, size_t cap) {
    char r[512];
    snprintf(r, sizeof r, "images/%s", rel);
    return ds_test_fixture(r, buf, cap);
}

cJSON *ds_img_fixture_json(ds_test *t, const char *rel) {
    char path[600];
    size_t size = 0;
    char *text = ds_test_read_file(ds_img_fixture(rel, path, sizeof path), &size);
    if (!ds_test_check(t, text != NULL, "%s: cannot read", path)) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    ds_test_check(t, j != NULL, "%s: not JSON", path);
    return j;
}

bool ds_img_fixture_open(ds_test *t, const char *rel, ds_st_file *f) {
    char path[600];
    ds_err err = {0};
    return ds_test_check(t, ds_st_open(ds_img_fixture(rel, path, sizeof path), f, &err) == DS_OK, "%s", err.msg);
}

ds_tensor ds_img_fixture_get(ds_test *t, const ds_st_file *f, const char *name, ds_dtype dtype) {
    ds_tensor v = {0};
    ds_err err = {0};
    if (!ds_test_check(t, ds_st_view(f, name, dtype, &v, &err) == DS_OK, "%s", err.msg)) memset(&v, 0, sizeof v);
    return v;
}

ds_u8_diff ds_u8_compare(const uint8_t *a, const uint8_t *b, int64_t n) {
    ds_u8_diff d = {0, 0.0, 0, n};
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        const int e = abs((int)a[i] - (int)b[i]);
        if (e > d.max) d.max = e;
        if (e) d.differ++;
        sum += e;
    }
    d.mean = n ? sum / (double)n : 0.0;
    return d;
}

ds_u8_diff ds_test_image_close(ds_test *t, const char *what, const ds_image *got, const ds_tensor *want, int max_tol) {
    ds_u8_diff d = {-1, 0, 0, 0};
    if (!ds_test_check(t, want->data != NULL && got->pixels != NULL, "%s: nothing to compare", what)) return d;
    const int64_t wc = want->ndim == 3 ? want->shape[2] : 1;
    if (!ds_test_check(t, want->shape[0] == got->height && want->shape[1] == got->width && wc == got->channels,
                       "%s: got (%d, %d, %d), want (%lld, %lld, %lld)", what, got->height, got->width, got->channels,
                       (long long)want->shape[0], (long long)want->shape[1], (long long)wc))
        return d;
    d = ds_u8_compare(got->pixels, want->data, ds_image_bytes(got));
    ds_test_check(t, d.max <= max_tol, "%s: max |diff| %d > %d (mean %.4f, %lld of %lld samples differ)", what, d.max,
                  max_tol, d.mean, (long long)d.differ, (long long)d.n);
    if (getenv("DS_TEST_VERBOSE"))
        printf("  %-40s max %d mean %.5f differ %lld/%lld\n", what, d.max, d.mean, (long long)d.differ,
               (long long)d.n);
    return d;
}

bool ds_test_error_has(ds_test *t, const char *what, ds_status got, const ds_err *err, ds_status want,
                       const char *needle1, const char *needle2) {
    if (getenv("DS_TEST_VERBOSE")) printf("  %s -> %s\n", what, err->msg);
    return ds_test_check(t,
                         got == want && err->status == want && (!needle1 || strstr(err->msg, needle1)) &&
                             (!needle2 || strstr(err->msg, needle2)),
                         "%s: got %s \"%s\"; want %s with \"%s\" and \"%s\"", what, ds_status_name(got), err->msg,
                         ds_status_name(want), needle1 ? needle1 : "", needle2 ? needle2 : "");
}
