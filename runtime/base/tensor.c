#include "tensor.h"

#include <stdio.h>

ds_tensor ds_tensor_make(void *data, ds_dtype dtype, ds_device device, int ndim, const int64_t *shape) {
    ds_tensor t = {.data = data, .dtype = dtype, .ndim = ndim, .device = device};
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t.shape[i] = shape[i];
        t.stride[i] = s;
        s *= shape[i];
    }
    return t;
}

static const ds_device k_cpu = {DS_DEVICE_CPU, 0};

ds_tensor ds_tensor_cpu1(void *data, ds_dtype dtype, int64_t d0) {
    const int64_t s[] = {d0};
    return ds_tensor_make(data, dtype, k_cpu, 1, s);
}
ds_tensor ds_tensor_cpu2(void *data, ds_dtype dtype, int64_t d0, int64_t d1) {
    const int64_t s[] = {d0, d1};
    return ds_tensor_make(data, dtype, k_cpu, 2, s);
}
ds_tensor ds_tensor_cpu3(void *data, ds_dtype dtype, int64_t d0, int64_t d1, int64_t d2) {
    const int64_t s[] = {d0, d1, d2};
    return ds_tensor_make(data, dtype, k_cpu, 3, s);
}
ds_tensor ds_tensor_cpu4(void *data, ds_dtype dtype, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    const int64_t s[] = {d0, d1, d2, d3};
    return ds_tensor_make(data, dtype, k_cpu, 4, s);
}

int64_t ds_tensor_numel(const ds_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t ds_tensor_nbytes(const ds_tensor *t) { return (size_t)ds_tensor_numel(t) * ds_dtype_size(t->dtype); }

bool ds_tensor_is_contiguous(const ds_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

const char *ds_tensor_describe(const ds_tensor *t, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < t->ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, ") %s %s", ds_dtype_name(t->dtype),
                 t->device.kind == DS_DEVICE_CPU ? "cpu" : "cuda");
    return buf;
}

ds_status ds_tensor_expect(const ds_tensor *t, const char *what, ds_dtype dtype, ds_device_kind kind,
                           int ndim, ds_err *err) {
    char d[96];
    if (t == NULL || t->data == NULL)
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: tensor is missing", what);
    if (t->ndim != ndim)
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: expected %d dims, got %s", what, ndim,
                          ds_tensor_describe(t, d, sizeof d));
    if (dtype != DS_DTYPE_COUNT && t->dtype != dtype)
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: expected dtype %s, got %s", what, ds_dtype_name(dtype),
                          ds_tensor_describe(t, d, sizeof d));
    if (t->device.kind != kind)
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: expected a %s tensor, got %s", what,
                          kind == DS_DEVICE_CPU ? "cpu" : "cuda", ds_tensor_describe(t, d, sizeof d));
    if (!ds_tensor_is_contiguous(t))
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: must be contiguous, got %s", what,
                          ds_tensor_describe(t, d, sizeof d));
    return DS_OK;
}
