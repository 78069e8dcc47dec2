// Status codes and the error record every fallible library call fills.
// Library code returns a ds_status and never exits; only main() turns an error into an exit code.
#ifndef DS_STATUS_H
#define DS_STATUS_H

#include <stddef.h>

typedef enum ds_status {
    DS_OK = 0,
    DS_ERR_INVALID_ARG,  // a caller passed a bad shape, dtype, device or value
    DS_ERR_IO,           // a file could not be opened, read, written or mapped
    DS_ERR_FORMAT,       // a file's contents are malformed (safetensors header, JSON, ...)
    DS_ERR_CONFIG,       // a config key is unknown, has the wrong type or a bad value
    DS_ERR_OOM,          // an allocation failed
    DS_ERR_UNSUPPORTED,  // the op or feature is not available on this backend or build
    DS_ERR_NUMERIC,      // a computation went non-finite or failed a self-check
    DS_ERR_CUDA,
    DS_ERR_CUBLAS,
    DS_ERR_CUDNN,
    DS_ERR_NCCL,
    DS_ERR_MPI,
    DS_ERR_INTERNAL,  // a broken invariant inside downstream: a bug to report
    DS_STATUS_COUNT
} ds_status;

// The message of the first failure on a call path. Callers pass one down; the innermost
// failing call writes what happened and where, the outer ones only return the status.
typedef struct ds_err {
    ds_status status;
    char msg[1024];
} ds_err;

// Short fixed name of a status ("invalid argument", ...).
const char *ds_status_name(ds_status s);

// Records status and a printf-style message in *err (when err is non-NULL and holds no earlier
// failure) and returns s, so that `return ds_err_set(err, DS_ERR_IO, "...")` reads naturally.
ds_status ds_err_set(ds_err *err, ds_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Clears *err to DS_OK with an empty message.
void ds_err_clear(ds_err *err);

#endif
