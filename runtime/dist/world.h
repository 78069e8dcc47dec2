// Who this process is in a data-parallel job: rank, world size and node-local rank, read from the
// environment the launcher set up. Pure: the environment is read through a lookup function, so
// tests give a fake table and the real program gives getenv.
//
// Launchers, in the order they are tried (the first one present wins):
//   Open MPI (mpirun)  OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK
//   torchrun-style     RANK, WORLD_SIZE, LOCAL_RANK (MASTER_ADDR, MASTER_PORT for the rendezvous)
//   Slurm (srun)       SLURM_PROCID, SLURM_STEP_NUM_TASKS (else SLURM_NTASKS), SLURM_LOCALID,
//                      SLURM_NODEID; only inside a job step (SLURM_STEP_ID or SLURM_STEPID set):
//                      a batch script itself also has SLURM_PROCID=0 and SLURM_NTASKS=N, but it is
//                      one process, not rank 0 of N
//   none               a world of one
// Open MPI comes first because mpirun inside a Slurm allocation inherits the allocation's
// SLURM_* variables; torchrun before Slurm because torchrun under srun sets its own ranks.
// MASTER_ADDR and MASTER_PORT are read whatever the launcher (a Slurm script may export them for
// the TCP rendezvous). The GPU of a rank is its local rank.
#ifndef DS_WORLD_H
#define DS_WORLD_H

#include <stdbool.h>

#include "../base/status.h"

typedef enum ds_launcher {
    DS_LAUNCHER_AUTO = 0,  // only as a request: discover
    DS_LAUNCHER_NONE,      // a world of one
    DS_LAUNCHER_OPENMPI,
    DS_LAUNCHER_TORCHRUN,
    DS_LAUNCHER_SLURM,
} ds_launcher;

typedef struct ds_world {
    ds_launcher launcher;  // never AUTO
    int rank;              // 0 .. size-1
    int size;              // >= 1
    int local_rank;        // rank among the processes of this node (0 when unknown)
    int node;              // node index (-1 when the launcher does not say)
    char master_addr[256]; // MASTER_ADDR, or "" when unset
    int master_port;       // MASTER_PORT, or 0 when unset
    char run_id[128];      // names this launch (Slurm job.step, torchrun's run id, Open MPI's job
                           // id), so that a bootstrap file of another run is not taken; may be ""
} ds_world;

// Returns the value of environment variable `name`, or NULL when unset.
typedef const char *(*ds_env_lookup)(void *user, const char *name);

// The world from the environment. want: AUTO discovers (order above); another value reads that
// launcher's variables and fails when they are missing; NONE gives a world of one whatever the
// environment says. Errors (DS_ERR_CONFIG) name the variable and its value: not an integer, a
// rank outside [0, size), a size below 1, a missing variable of the wanted launcher.
ds_status ds_world_discover(ds_env_lookup lookup, void *user, ds_launcher want, ds_world *w, ds_err *err);

// The same with the process environment (getenv).
ds_status ds_world_from_environment(ds_launcher want, ds_world *w, ds_err *err);

// A world of one.
ds_world ds_world_single(void);

// "none", "openmpi", "torchrun", "slurm" ("auto" for AUTO); parse returns false on an unknown name.
const char *ds_launcher_name(ds_launcher l);
bool ds_launcher_parse(const char *name, ds_launcher *out);

// The CUDA device of this rank: its local rank, which must be below device_count (the error says
// how many GPUs the node has); device 0 when the process sees a single GPU (the launcher bound one
// GPU to each task through CUDA_VISIBLE_DEVICES, e.g. srun --gpus-per-task=1).
ds_status ds_world_cuda_device(const ds_world *w, int device_count, int *device, ds_err *err);

#endif
