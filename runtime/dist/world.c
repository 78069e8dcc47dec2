#include "world.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"

// The variables of one launcher.
typedef struct launcher_vars {
    ds_launcher launcher;
    const char *rank, *size, *size_fallback, *local_rank, *node, *step;  // NULL: not used
} launcher_vars;

static const launcher_vars k_vars[] = {
    {DS_LAUNCHER_OPENMPI, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", NULL, "OMPI_COMM_WORLD_LOCAL_RANK", NULL,
     NULL},
    {DS_LAUNCHER_TORCHRUN, "RANK", "WORLD_SIZE", NULL, "LOCAL_RANK", "GROUP_RANK", NULL},
    {DS_LAUNCHER_SLURM, "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NODEID",
     "SLURM_STEP_ID"},
};

static const char *lookup_or_null(ds_env_lookup lookup, void *user, const char *name) {
    if (!name) return NULL;
    const char *v = lookup(user, name);
    return v && v[0] ? v : NULL;
}

// Parses a non-negative int in [min, INT_MAX] from variable `name`.
static ds_status parse_int(const char *name, const char *value, int min, int *out, ds_err *err) {
    char *end = NULL;
    errno = 0;
    const long v = strtol(value, &end, 10);
    DS_REQUIRE(err, end != value && *end == '\0' && errno == 0 && v >= min && v <= INT_MAX, DS_ERR_CONFIG,
               "environment: %s='%s' is not an integer >= %d", name, value, min);
    *out = (int)v;
    return DS_OK;
}

static bool slurm_in_step(ds_env_lookup lookup, void *user) {
    return lookup_or_null(lookup, user, "SLURM_STEP_ID") || lookup_or_null(lookup, user, "SLURM_STEPID");
}

// Whether the launcher's variables are there (the rank and the size).
static bool present(ds_env_lookup lookup, void *user, const launcher_vars *v) {
    if (!lookup_or_null(lookup, user, v->rank)) return false;
    if (!lookup_or_null(lookup, user, v->size) && !lookup_or_null(lookup, user, v->size_fallback)) return false;
    return v->launcher != DS_LAUNCHER_SLURM || slurm_in_step(lookup, user);
}

static void fill_run_id(ds_env_lookup lookup, void *user, ds_world *w) {
    const char *a = NULL, *b = NULL;
    if (w->launcher == DS_LAUNCHER_SLURM) {
        a = lookup_or_null(lookup, user, "SLURM_JOB_ID");
        b = lookup_or_null(lookup, user, "SLURM_STEP_ID");
        if (!b) b = lookup_or_null(lookup, user, "SLURM_STEPID");
    } else if (w->launcher == DS_LAUNCHER_TORCHRUN) {
        a = lookup_or_null(lookup, user, "TORCHELASTIC_RUN_ID");
    } else if (w->launcher == DS_LAUNCHER_OPENMPI) {
        a = lookup_or_null(lookup, user, "PMIX_NAMESPACE");
        if (!a) a = lookup_or_null(lookup, user, "OMPI_MCA_ess_base_jobid");
    }
    snprintf(w->run_id, sizeof w->run_id, "%s%s%s", a ? a : "", a && b ? "." : "", b ? b : "");
}

static ds_status read_launcher(ds_env_lookup lookup, void *user, const launcher_vars *v, ds_world *w, ds_err *err) {
    const char *rank = lookup_or_null(lookup, user, v->rank);
    const char *size_name = lookup_or_null(lookup, user, v->size) ? v->size : v->size_fallback;
    const char *size = lookup_or_null(lookup, user, size_name);
    DS_REQUIRE(err, rank && size, DS_ERR_CONFIG, "dist.launcher %s: %s and %s must be set in the environment",
               ds_launcher_name(v->launcher), v->rank, v->size);
    DS_REQUIRE(err, v->launcher != DS_LAUNCHER_SLURM || slurm_in_step(lookup, user), DS_ERR_CONFIG,
               "dist.launcher slurm: not inside a job step (SLURM_STEP_ID is unset): start the ranks with srun");
    w->launcher = v->launcher;
    DS_TRY(parse_int(size_name, size, 1, &w->size, err));
    DS_TRY(parse_int(v->rank, rank, 0, &w->rank, err));
    DS_REQUIRE(err, w->rank < w->size, DS_ERR_CONFIG, "environment: %s=%d is not below %s=%d", v->rank, w->rank,
               size_name, w->size);
    const char *local = lookup_or_null(lookup, user, v->local_rank);
    w->local_rank = 0;
    if (local) DS_TRY(parse_int(v->local_rank, local, 0, &w->local_rank, err));
    const char *node = lookup_or_null(lookup, user, v->node);
    w->node = -1;
    if (node) DS_TRY(parse_int(v->node, node, 0, &w->node, err));
    return DS_OK;
}

ds_world ds_world_single(void) {
    ds_world w;
    memset(&w, 0, sizeof w);
    w.launcher = DS_LAUNCHER_NONE;
    w.size = 1;
    w.node = -1;
    return w;
}

ds_status ds_world_discover(ds_env_lookup lookup, void *user, ds_launcher want, ds_world *w, ds_err *err) {
    *w = ds_world_single();
    if (want == DS_LAUNCHER_NONE) return DS_OK;
    const int n = (int)(sizeof k_vars / sizeof k_vars[0]);
    const launcher_vars *chosen = NULL;
    for (int i = 0; i < n && !chosen; i++) {
        if (want == DS_LAUNCHER_AUTO ? present(lookup, user, &k_vars[i]) : k_vars[i].launcher == want)
            chosen = &k_vars[i];
    }
    DS_REQUIRE(err, want == DS_LAUNCHER_AUTO || chosen, DS_ERR_CONFIG, "dist.launcher: unknown launcher %d",
               (int)want);
    if (chosen) DS_TRY(read_launcher(lookup, user, chosen, w, err));
    const char *addr = lookup_or_null(lookup, user, "MASTER_ADDR");
    if (addr) {
        DS_REQUIRE(err, strlen(addr) < sizeof w->master_addr, DS_ERR_CONFIG, "environment: MASTER_ADDR is too long");
        snprintf(w->master_addr, sizeof w->master_addr, "%s", addr);
    }
    const char *port = lookup_or_null(lookup, user, "MASTER_PORT");
    if (port) {
        DS_TRY(parse_int("MASTER_PORT", port, 1, &w->master_port, err));
        DS_REQUIRE(err, w->master_port <= 65535, DS_ERR_CONFIG, "environment: MASTER_PORT=%s is not a TCP port",
                   port);
    }
    fill_run_id(lookup, user, w);
    return DS_OK;
}

static const char *process_env(void *user, const char *name) {
    (void)user;
    return getenv(name);
}

ds_status ds_world_from_environment(ds_launcher want, ds_world *w, ds_err *err) {
    return ds_world_discover(process_env, NULL, want, w, err);
}

const char *ds_launcher_name(ds_launcher l) {
    switch (l) {
    case DS_LAUNCHER_AUTO: return "auto";
    case DS_LAUNCHER_NONE: return "none";
    case DS_LAUNCHER_OPENMPI: return "openmpi";
    case DS_LAUNCHER_TORCHRUN: return "torchrun";
    case DS_LAUNCHER_SLURM: return "slurm";
    }
    return "?";
}

bool ds_launcher_parse(const char *name, ds_launcher *out) {
    static const ds_launcher all[] = {DS_LAUNCHER_AUTO, DS_LAUNCHER_NONE, DS_LAUNCHER_OPENMPI, DS_LAUNCHER_TORCHRUN,
                                      DS_LAUNCHER_SLURM};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, ds_launcher_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

ds_status ds_world_cuda_device(const ds_world *w, int device_count, int *device, ds_err *err) {
    DS_REQUIRE(err, device_count > 0, DS_ERR_CUDA, "rank %d: no CUDA device is visible", w->rank);
    if (device_count == 1) {  // the launcher bound one GPU to each task (CUDA_VISIBLE_DEVICES)
        *device = 0;
        return DS_OK;
    }
    DS_REQUIRE(err, w->local_rank < device_count, DS_ERR_CONFIG,
               "rank %d has local rank %d but its node shows %d GPU(s): start at most one rank per GPU "
               "(e.g. srun --ntasks-per-node=%d, or check CUDA_VISIBLE_DEVICES)",
               w->rank, w->local_rank, device_count, device_count);
    *device = w->local_rank;
    return DS_OK;
}
