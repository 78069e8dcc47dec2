#include "op_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ds_op_fixture_open(ds_test *t, ds_op_fixture *f, const char *op) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "ops/%s.safetensors", op);
    ds_err err;
    ds_err_clear(&err);
    f->open = ds_st_open(ds_test_fixture(rel, path, sizeof path), &f->file, &err) == DS_OK;
    return ds_test_check(t, f->open, "cannot read fixture %s: %s", path, err.msg);
}

void ds_op_fixture_close(ds_op_fixture *f) {
    if (f->open) ds_st_close(&f->file);
    f->open = false;
}

bool ds_op_fixture_has(const ds_op_fixture *f, int k, const char *name) {
    char key[256];
    snprintf(key, sizeof key, "case%d.%s", k, name);
    return f->open && ds_st_find(&f->file, key) != NULL;
}

int ds_op_fixture_cases(const ds_op_fixture *f, const char *probe) {
    int k = 0;
    while (ds_op_fixture_has(f, k, probe)) k++;
    return k;
}

ds_tensor ds_op_fixture_get(ds_test *t, const ds_op_fixture *f, int k, const char *name, ds_dtype dtype) {
    char key[256];
    snprintf(key, sizeof key, "case%d.%s", k, name);
    ds_tensor v = {0};
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, f->open && ds_st_view(&f->file, key, dtype, &v, &err) == DS_OK, "fixture tensor %s: %s",
                       key, err.msg))
        memset(&v, 0, sizeof v);
    return v;
}

double ds_op_fixture_scalar(ds_test *t, const ds_op_fixture *f, int k, const char *name) {
    char key[256];
    snprintf(key, sizeof key, "case%d.%s", k, name);
    const ds_st_tensor *s = f->open ? ds_st_find(&f->file, key) : NULL;
    int64_t numel = 1;
    for (int i = 0; s != NULL && i < s->ndim; i++) numel *= s->shape[i];
    if (!ds_test_check(t, s != NULL && numel == 1 && (s->dtype == DS_F32 || s->dtype == DS_F64 || s->dtype == DS_I32),
                       "fixture scalar %s missing or not a one-element F32/F64/I32 tensor", key))
        return NAN;
    if (s->dtype == DS_F32) return *(const float *)s->data;
    if (s->dtype == DS_F64) return *(const double *)s->data;
    return *(const int32_t *)s->data;
}

ds_tensor ds_test_zeros_like(const ds_tensor *like, ds_dtype dtype) {
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    ds_tensor z = ds_tensor_make(NULL, dtype, cpu, like->ndim, like->shape);
    const size_t n = (size_t)ds_tensor_numel(like);
    z.data = calloc(n > 0 ? n : 1, ds_dtype_size(dtype));
    return z;
}

ds_tensor ds_test_scaled_copy(const ds_tensor *src, float s) {
    ds_tensor c = ds_test_zeros_like(src, DS_F32);
    const int64_t n = ds_tensor_numel(src);
    for (int64_t i = 0; i < n; i++) ((float *)c.data)[i] = s * ((const float *)src->data)[i];
    return c;
}

bool ds_test_error(ds_test *t, const char *what, ds_err *err, ds_status got, ds_status want, const char *needle) {
    const bool ok = ds_test_check(t, got == want && err->status == want && strstr(err->msg, needle) != NULL,
                                  "%s: expected status '%s' with a message naming '%s'; got '%s': %s", what,
                                  ds_status_name(want), needle, ds_status_name(got), err->msg);
    if (ok && getenv("DS_TEST_VERBOSE")) printf("ok   %s: %s\n", what, err->msg);
    ds_err_clear(err);
    return ok;
}

void ds_test_fill_nan(ds_tensor *x) {
    const int64_t n = ds_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        if (x->dtype == DS_F64) ((double *)x->data)[i] = NAN;
        else ((float *)x->data)[i] = NAN;
    }
}
