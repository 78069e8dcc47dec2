#include "op_checks.h"

#include <stdio.h>

bool ds_cpu_present(const ds_tensor *t) { return t != NULL && t->data != NULL; }

ds_status ds_cpu_check_float(ds_err *err, const char *op, const char *name, const ds_tensor *t,
                             ds_dtype *dtype) {
    char what[128], d[96];
    snprintf(what, sizeof what, "%s: %s", op, name);
    ds_status s = ds_tensor_expect(t, what, DS_DTYPE_COUNT, DS_DEVICE_CPU, t ? t->ndim : 0, err);
    if (s != DS_OK) return s;
    if (t->dtype != DS_F32 && t->dtype != DS_F64)
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: expected dtype F32 or F64 on the cpu, got %s", what,
                          ds_tensor_describe(t, d, sizeof d));
    *dtype = t->dtype;
    return DS_OK;
}

ds_status ds_cpu_check(ds_err *err, const char *op, const char *name, const ds_tensor *t, ds_dtype dtype,
                       int ndim, const int64_t *want) {
    char what[128], d[96];
    snprintf(what, sizeof what, "%s: %s", op, name);
    ds_status s = ds_tensor_expect(t, what, dtype, DS_DEVICE_CPU, ndim, err);
    if (s != DS_OK || want == NULL) return s;
    for (int i = 0; i < ndim; i++) {
        if (want[i] >= 0 && t->shape[i] != want[i]) {
            char w[96];
            size_t n = (size_t)snprintf(w, sizeof w, "(");
            for (int j = 0; j < ndim && n < sizeof w; j++)
                n += (size_t)(want[j] >= 0 ? snprintf(w + n, sizeof w - n, j ? ", %lld" : "%lld", (long long)want[j])
                                           : snprintf(w + n, sizeof w - n, j ? ", *" : "*"));
            if (n < sizeof w) snprintf(w + n, sizeof w - n, ")");
            return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: expected shape %s, got %s", what, w,
                              ds_tensor_describe(t, d, sizeof d));
        }
    }
    return DS_OK;
}

ds_status ds_cpu_check_numel(ds_err *err, const char *op, const char *name, const ds_tensor *t,
                             ds_dtype dtype, int64_t numel) {
    char what[128], d[96];
    snprintf(what, sizeof what, "%s: %s", op, name);
    ds_status s = ds_tensor_expect(t, what, dtype, DS_DEVICE_CPU, t ? t->ndim : 0, err);
    if (s != DS_OK) return s;
    if (ds_tensor_numel(t) != numel)
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: expected %lld elements, got %s", what, (long long)numel,
                          ds_tensor_describe(t, d, sizeof d));
    return DS_OK;
}
