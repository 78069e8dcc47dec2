// The mpi backend of a build without MPI (CMake did not find it): opening it says how to get it.
#include "../base/check.h"
#include "comm_internal.h"

bool ds_comm_mpi_built(void) { return false; }

static ds_status absent(ds_err *err) {
    return ds_err_set(err, DS_ERR_UNSUPPORTED,
                      "this build has no MPI: install libopenmpi-dev (scripts/setup_deps.sh) and rebuild, or use "
                      "dist.backend=tcp with MASTER_ADDR/MASTER_PORT");
}

ds_status ds_comm_mpi_open(const ds_world *w, const ds_comm_options *o, const ds_log *log,
                           const ds_comm_backend_ops **ops, void **impl, ds_err *err) {
    (void)w, (void)o, (void)log, (void)ops, (void)impl;
    return absent(err);
}

ds_status ds_comm_mpi_share_blob(const ds_world *w, void *blob, size_t bytes, ds_err *err) {
    (void)w, (void)blob, (void)bytes;
    return absent(err);
}

void ds_comm_mpi_finish(bool abort) { (void)abort; }
