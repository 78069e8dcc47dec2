// World discovery from fake environment tables: each launcher's variables, the precedence between
// launchers, Slurm outside a job step, forced launchers, malformed values, the GPU of a rank, and
// the communicator's choice of backend and bootstrap.
#include <stdio.h>
#include <string.h>

#include "../../runtime/dist/comm.h"
#include "../../runtime/dist/world.h"
#include "../test_util.h"

// A fake environment: NULL-terminated "NAME=value" strings.
static const char *fake_env(void *user, const char *name) {
    const char *const *env = user;
    const size_t len = strlen(name);
    for (; *env; env++)
        if (strncmp(*env, name, len) == 0 && (*env)[len] == '=') return *env + len + 1;
    return NULL;
}

static ds_status discover(const char *const *env, ds_launcher want, ds_world *w, ds_err *err) {
    ds_err_clear(err);
    return ds_world_discover(fake_env, (void *)env, want, w, err);
}

static void test_launchers(ds_test *t) {
    ds_world w;
    ds_err err;
    const char *none[] = {"HOME=/root", NULL};
    ds_test_check(t, discover(none, DS_LAUNCHER_AUTO, &w, &err) == DS_OK && w.launcher == DS_LAUNCHER_NONE &&
                         w.size == 1 && w.rank == 0 && w.master_port == 0,
                  "no launcher: a world of one");

    const char *ompi[] = {"OMPI_COMM_WORLD_RANK=3", "OMPI_COMM_WORLD_SIZE=4", "OMPI_COMM_WORLD_LOCAL_RANK=1",
                          "PMIX_NAMESPACE=prterun-vm-123@1", NULL};
    ds_test_check(t, discover(ompi, DS_LAUNCHER_AUTO, &w, &err) == DS_OK && w.launcher == DS_LAUNCHER_OPENMPI &&
                         w.rank == 3 && w.size == 4 && w.local_rank == 1 && w.node == -1 &&
                         strcmp(w.run_id, "prterun-vm-123@1") == 0,
                  "Open MPI: rank 3 of 4, local 1, run id from PMIX_NAMESPACE (got %d/%d/%d '%s': %s)", w.rank, w.size,
                  w.local_rank, w.run_id, err.msg);

    const char *torch[] = {"RANK=1", "WORLD_SIZE=2", "LOCAL_RANK=1", "GROUP_RANK=0", "MASTER_ADDR=127.0.0.1",
                           "MASTER_PORT=29500", "TORCHELASTIC_RUN_ID=abc", NULL};
    ds_test_check(t, discover(torch, DS_LAUNCHER_AUTO, &w, &err) == DS_OK && w.launcher == DS_LAUNCHER_TORCHRUN &&
                         w.rank == 1 && w.size == 2 && w.local_rank == 1 && w.node == 0 &&
                         strcmp(w.master_addr, "127.0.0.1") == 0 && w.master_port == 29500 &&
                         strcmp(w.run_id, "abc") == 0,
                  "torchrun-style: rank, size, local rank, master address and port (%s)", err.msg);

    const char *slurm[] = {"SLURM_PROCID=5", "SLURM_NTASKS=8", "SLURM_STEP_NUM_TASKS=6", "SLURM_LOCALID=1",
                           "SLURM_NODEID=2", "SLURM_STEP_ID=0", "SLURM_JOB_ID=77", NULL};
    ds_test_check(t, discover(slurm, DS_LAUNCHER_AUTO, &w, &err) == DS_OK && w.launcher == DS_LAUNCHER_SLURM &&
                         w.rank == 5 && w.size == 6 && w.local_rank == 1 && w.node == 2 &&
                         strcmp(w.run_id, "77.0") == 0,
                  "Slurm step: the step's task count wins over the job's, run id job.step (got %d of %d, '%s': %s)",
                  w.rank, w.size, w.run_id, err.msg);

    const char *slurm_ntasks[] = {"SLURM_PROCID=1", "SLURM_NTASKS=2", "SLURM_STEPID=3", NULL};
    ds_test_check(t, discover(slurm_ntasks, DS_LAUNCHER_AUTO, &w, &err) == DS_OK && w.launcher == DS_LAUNCHER_SLURM &&
                         w.size == 2 && w.local_rank == 0,
                  "Slurm step without SLURM_STEP_NUM_TASKS: SLURM_NTASKS (%s)", err.msg);

    // A batch script has SLURM_PROCID=0 and SLURM_NTASKS=N but is one process.
    const char *batch[] = {"SLURM_PROCID=0", "SLURM_NTASKS=4", "SLURM_JOB_ID=77", NULL};
    ds_test_check(t, discover(batch, DS_LAUNCHER_AUTO, &w, &err) == DS_OK && w.launcher == DS_LAUNCHER_NONE &&
                         w.size == 1,
                  "Slurm batch script (no job step): a world of one");
    ds_test_check(t, discover(batch, DS_LAUNCHER_SLURM, &w, &err) == DS_ERR_CONFIG && strstr(err.msg, "srun"),
                  "forced slurm outside a job step fails saying srun (%s)", err.msg);

    // mpirun inside a Slurm step: Open MPI's variables win.
    const char *both[] = {"SLURM_PROCID=0", "SLURM_NTASKS=1", "SLURM_STEP_ID=0", "OMPI_COMM_WORLD_RANK=1",
                          "OMPI_COMM_WORLD_SIZE=2", "RANK=7", "WORLD_SIZE=9", NULL};
    ds_test_check(t, discover(both, DS_LAUNCHER_AUTO, &w, &err) == DS_OK && w.launcher == DS_LAUNCHER_OPENMPI &&
                         w.rank == 1 && w.size == 2,
                  "Open MPI first, then torchrun, then Slurm");
    const char *torch_in_slurm[] = {"SLURM_PROCID=0", "SLURM_NTASKS=1", "SLURM_STEP_ID=0", "RANK=3", "WORLD_SIZE=4",
                                    NULL};
    ds_test_check(t, discover(torch_in_slurm, DS_LAUNCHER_AUTO, &w, &err) == DS_OK &&
                         w.launcher == DS_LAUNCHER_TORCHRUN && w.rank == 3,
                  "torchrun under srun: torchrun's ranks");
    ds_test_check(t, discover(both, DS_LAUNCHER_NONE, &w, &err) == DS_OK && w.size == 1,
                  "dist.launcher none: a world of one whatever the environment says");
    ds_test_check(t, discover(both, DS_LAUNCHER_TORCHRUN, &w, &err) == DS_OK && w.rank == 7 && w.size == 9,
                  "a forced launcher reads its own variables");
    ds_test_check(t, discover(none, DS_LAUNCHER_OPENMPI, &w, &err) == DS_ERR_CONFIG &&
                         strstr(err.msg, "OMPI_COMM_WORLD_RANK"),
                  "a forced launcher without its variables fails naming them (%s)", err.msg);
}

static void test_malformed(ds_test *t) {
    ds_world w;
    ds_err err;
    const char *bad_rank[] = {"RANK=one", "WORLD_SIZE=2", NULL};
    ds_test_check(t, discover(bad_rank, DS_LAUNCHER_AUTO, &w, &err) == DS_ERR_CONFIG && strstr(err.msg, "RANK='one'"),
                  "non-integer rank names the variable and value (%s)", err.msg);
    const char *rank_too_big[] = {"OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE=2", NULL};
    ds_test_check(t, discover(rank_too_big, DS_LAUNCHER_AUTO, &w, &err) == DS_ERR_CONFIG &&
                         strstr(err.msg, "OMPI_COMM_WORLD_RANK=2") && strstr(err.msg, "OMPI_COMM_WORLD_SIZE=2"),
                  "rank >= size fails naming both (%s)", err.msg);
    const char *size_zero[] = {"RANK=0", "WORLD_SIZE=0", NULL};
    ds_test_check(t, discover(size_zero, DS_LAUNCHER_AUTO, &w, &err) == DS_ERR_CONFIG && strstr(err.msg, "WORLD_SIZE"),
                  "world size 0 fails (%s)", err.msg);
    const char *negative[] = {"RANK=-1", "WORLD_SIZE=2", NULL};
    ds_test_check(t, discover(negative, DS_LAUNCHER_AUTO, &w, &err) == DS_ERR_CONFIG, "negative rank fails");
    const char *trailing[] = {"RANK=1x", "WORLD_SIZE=2", NULL};
    ds_test_check(t, discover(trailing, DS_LAUNCHER_AUTO, &w, &err) == DS_ERR_CONFIG, "trailing garbage fails");
    const char *port[] = {"RANK=0", "WORLD_SIZE=2", "MASTER_PORT=70000", NULL};
    ds_test_check(t, discover(port, DS_LAUNCHER_AUTO, &w, &err) == DS_ERR_CONFIG && strstr(err.msg, "MASTER_PORT"),
                  "MASTER_PORT above 65535 fails (%s)", err.msg);
    const char *empty[] = {"RANK=", "WORLD_SIZE=2", NULL};
    ds_test_check(t, discover(empty, DS_LAUNCHER_AUTO, &w, &err) == DS_OK && w.size == 1,
                  "an empty variable counts as unset");
}

static void test_device(ds_test *t) {
    ds_world w = ds_world_single();
    ds_err err;
    int dev = -1;
    w.rank = 3;
    w.local_rank = 1;
    ds_err_clear(&err);
    ds_test_check(t, ds_world_cuda_device(&w, 4, &dev, &err) == DS_OK && dev == 1, "the GPU follows the local rank");
    ds_test_check(t, ds_world_cuda_device(&w, 1, &dev, &err) == DS_OK && dev == 0,
                  "one visible GPU (bound by the launcher): device 0");
    w.local_rank = 5;
    ds_test_check(t, ds_world_cuda_device(&w, 4, &dev, &err) == DS_ERR_CONFIG && strstr(err.msg, "local rank 5"),
                  "more ranks than GPUs on a node fails (%s)", err.msg);
    ds_err_clear(&err);
    ds_test_check(t, ds_world_cuda_device(&w, 0, &dev, &err) == DS_ERR_CUDA, "no GPU fails");
}

static void test_choices(ds_test *t) {
    ds_world w = ds_world_single();
    ds_comm_options o = ds_comm_options_default();
    ds_test_check(t, ds_comm_choose_backend(&w, &o) == DS_COMM_SINGLE, "one rank: single (no MPI, no NCCL)");
    w.size = 2;
    w.launcher = DS_LAUNCHER_OPENMPI;
    ds_test_check(t, ds_comm_choose_backend(&w, &o) == DS_COMM_MPI, "mpirun on the CPU: mpi");
    w.launcher = DS_LAUNCHER_SLURM;
    ds_test_check(t, ds_comm_choose_backend(&w, &o) == DS_COMM_MPI, "srun on the CPU: mpi");
    w.launcher = DS_LAUNCHER_TORCHRUN;
    ds_test_check(t, ds_comm_choose_backend(&w, &o) == DS_COMM_TCP, "torchrun-style on the CPU: tcp");
    o.cuda = true;
    ds_test_check(t, ds_comm_choose_backend(&w, &o) == DS_COMM_NCCL, "GPUs: nccl");
    ds_test_check(t, ds_comm_choose_bootstrap(&w, &o) == DS_BOOTSTRAP_TCP, "torchrun-style: the id goes by tcp");
    w.launcher = DS_LAUNCHER_SLURM;
    ds_test_check(t, ds_comm_choose_bootstrap(&w, &o) == DS_BOOTSTRAP_MPI, "srun: the id goes by MPI_Bcast");
    o.bootstrap_file = "/shared/id";
    ds_test_check(t, ds_comm_choose_bootstrap(&w, &o) == DS_BOOTSTRAP_FILE, "a bootstrap file given: file");
    o.bootstrap = DS_BOOTSTRAP_TCP;
    ds_test_check(t, ds_comm_choose_bootstrap(&w, &o) == DS_BOOTSTRAP_TCP, "an explicit choice wins");
    o.backend = DS_COMM_MPI;
    w.size = 1;
    ds_test_check(t, ds_comm_choose_backend(&w, &o) == DS_COMM_MPI, "the config may force mpi for one rank");
    ds_comm_backend b;
    ds_bootstrap bs;
    ds_launcher l;
    ds_test_check(t, ds_comm_backend_parse("tcp", &b) && b == DS_COMM_TCP && !ds_comm_backend_parse("gloo", &b),
                  "backend names");
    ds_test_check(t, ds_bootstrap_parse("file", &bs) && bs == DS_BOOTSTRAP_FILE, "bootstrap names");
    ds_test_check(t, ds_launcher_parse("slurm", &l) && l == DS_LAUNCHER_SLURM && !ds_launcher_parse("pbs", &l),
                  "launcher names");
}

int main(void) {
    ds_test t = ds_test_begin("world");
    test_launchers(&t);
    test_malformed(&t);
    test_device(&t);
    test_choices(&t);
    return ds_test_finish(&t);
}
