// The nccl backend of a build without CUDA or NCCL: opening it says what is missing.
#include "../base/check.h"
#include "comm_internal.h"

bool ds_comm_nccl_built(void) { return false; }

ds_status ds_comm_nccl_open(const ds_world *w, const ds_comm_options *o, const ds_log *log,
                            const ds_comm_backend_ops **ops, void **impl, ds_err *err) {
    (void)w, (void)o, (void)log, (void)ops, (void)impl;
    return ds_err_set(err, DS_ERR_UNSUPPORTED,
                      "dist.backend nccl: this build has no NCCL (it needs the CUDA backend and nccl.h/libnccl)");
}
