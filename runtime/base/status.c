#include "status.h"

#include <stdarg.h>
#include <stdio.h>

const char *ds_status_name(ds_status s) {
    static const char *const names[] = {
        [DS_OK] = "ok",
        [DS_ERR_INVALID_ARG] = "invalid argument",
        [DS_ERR_IO] = "I/O error",
        [DS_ERR_FORMAT] = "malformed file",
        [DS_ERR_CONFIG] = "config error",
        [DS_ERR_OOM] = "out of memory",
        [DS_ERR_UNSUPPORTED] = "unsupported",
        [DS_ERR_NUMERIC] = "numeric error",
        [DS_ERR_CUDA] = "CUDA error",
        [DS_ERR_CUBLAS] = "cuBLAS error",
        [DS_ERR_CUDNN] = "cuDNN error",
        [DS_ERR_NCCL] = "NCCL error",
        [DS_ERR_MPI] = "MPI error",
        [DS_ERR_INTERNAL] = "internal error",
    };
    _Static_assert(sizeof(names) / sizeof(names[0]) == DS_STATUS_COUNT, "status names out of step");
    if ((int)s < 0 || s >= DS_STATUS_COUNT) return "unknown status";
    return names[s];
}

ds_status ds_err_set(ds_err *err, ds_status s, const char *fmt, ...) {
    // Keep the innermost (first) message: outer layers add nothing a user needs.
    if (err == NULL || err->status != DS_OK) return s;
    err->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return s;
}

void ds_err_clear(ds_err *err) {
    if (err == NULL) return;
    err->status = DS_OK;
    err->msg[0] = '\0';
}
