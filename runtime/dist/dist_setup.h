// A process's place in a data-parallel job from the config's dist.* keys: the world from the
// launcher's environment (runtime/dist/world.h) and the communicator (runtime/dist/comm.h). A world of one
// gets the single communicator: no MPI, no NCCL, no sockets.
#ifndef DS_DIST_SETUP_H
#define DS_DIST_SETUP_H

#include "../base/log.h"
#include "comm.h"
#include "../config/config.h"
#include "world.h"

// Discovers the world (dist.launcher). DS_ERR_CONFIG names the bad variable or key.
ds_status ds_dist_world(const ds_config *cfg, ds_world *w, ds_err *err);

// The communicator options of dist.backend, dist.bootstrap, dist.bootstrap_file, dist.timeout_s
// (cuda, cuda_device and cuda_stream left for the caller).
ds_status ds_dist_comm_options(const ds_config *cfg, ds_comm_options *o, ds_err *err);

// Both, then ds_comm_open. On failure *comm is NULL.
ds_status ds_dist_start(const ds_config *cfg, const ds_log *log, ds_world *w, ds_comm **comm, ds_err *err);

#endif
