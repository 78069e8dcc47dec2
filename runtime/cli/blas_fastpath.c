#include "blas_fastpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../kernels/cpu/blas_info.h"
#include "../../kernels/cpu/cpu_isa.h"

// DS_BLAS_FASTPATH carries the decision across the re-exec: "forced" (we set
// OPENBLAS_CORETYPE), "fallback" (the forced kernels failed the self-check; run unforced) or
// "native" (OpenBLAS's own choice; the re-exec was for the OpenMP wait policy alone).
static const char *k_state_var = "DS_BLAS_FASTPATH";
// Set to "1" across the re-exec when downstream (not the user) chose GOMP_SPINCOUNT.
static const char *k_spin_var = "DS_GOMP_SPINCOUNT_SET";
// How long an idle OpenMP thread spins before it sleeps. libgomp's default (300,000 spins with
// OMP_WAIT_POLICY unset, i.e. ~0.1-1 ms per wait) makes idle workers burn the cores that the
// working ones need when the machine is shared or has few cores: measured on the loaded 2-core
// machine, a 2-thread BERT step took ~10 s with the default, 4.4 s with 10,000 spins and 3.4 s
// passive. 20,000 keeps the hand-over between back-to-back parallel regions (which a spinning
// thread catches) while an idle thread gives its core back within microseconds.
static const char *k_spincount = "20000";

// True when the user already said how OpenMP threads wait; downstream then leaves it alone.
static int user_chose_wait(void) {
    return getenv("GOMP_SPINCOUNT") != NULL || getenv("OMP_WAIT_POLICY") != NULL;
}

void ds_blas_fast_path(char **argv) {
    const char *state = getenv(k_state_var);
    if (state == NULL) {
        // libgomp and OpenBLAS read their settings when they load, so both are set here and
        // take effect through one re-exec.
        const char *coretype = getenv("OPENBLAS_CORETYPE") != NULL ? NULL : ds_blas_recommended_coretype();
        const int spin = !user_chose_wait();
        if (coretype == NULL && !spin) return;  // nothing to change
        if (coretype != NULL) setenv("OPENBLAS_CORETYPE", coretype, 1);
        if (spin) {
            setenv("GOMP_SPINCOUNT", k_spincount, 1);
            setenv(k_spin_var, "1", 1);
        }
        setenv(k_state_var, coretype != NULL ? "forced" : "native", 1);
        execv("/proc/self/exe", argv);
        // exec failed: carry on with the kernels and wait policy we have.
        if (coretype != NULL) unsetenv("OPENBLAS_CORETYPE");
        if (spin) {
            unsetenv("GOMP_SPINCOUNT");
            unsetenv(k_spin_var);
        }
        unsetenv(k_state_var);
        return;
    }
    if (strcmp(state, "forced") == 0) {
        double rel = 0;
        ds_err err;
        ds_err_clear(&err);
        if (ds_blas_selfcheck(&rel, &err) != DS_OK) {
            fprintf(stderr, "downstream: %s; running OpenBLAS's own kernel choice instead\n", err.msg);
            unsetenv("OPENBLAS_CORETYPE");
            setenv(k_state_var, "fallback", 1);
            execv("/proc/self/exe", argv);
        }
    }
}

// How idle OpenMP threads wait, for the report line.
static void wait_report(char *buf, unsigned long cap) {
    const char *spin = getenv("GOMP_SPINCOUNT"), *policy = getenv("OMP_WAIT_POLICY");
    const char *ours = getenv(k_spin_var);
    if (spin != NULL && ours != NULL && strcmp(ours, "1") == 0)
        snprintf(buf, cap, "GOMP_SPINCOUNT=%s (downstream)", spin);
    else if (spin != NULL)
        snprintf(buf, cap, "GOMP_SPINCOUNT=%s (user)", spin);
    else if (policy != NULL)
        snprintf(buf, cap, "OMP_WAIT_POLICY=%s (user)", policy);
    else
        snprintf(buf, cap, "libgomp default");
}

const char *ds_blas_fast_path_report(char *buf, unsigned long cap) {
    const char *state = getenv(k_state_var);
    const char *how = (state == NULL || strcmp(state, "native") == 0)
                          ? (getenv("OPENBLAS_CORETYPE") ? "set by the user" : "detected by OpenBLAS")
                      : strcmp(state, "forced") == 0 ? "forced by downstream (CPU not recognised by OpenBLAS)"
                                                     : "OpenBLAS default after the forced kernels failed the self-check";
    double rel = -1;
    ds_err err;
    ds_err_clear(&err);
    const ds_status s = ds_blas_selfcheck(&rel, &err);
    char wait[128];
    wait_report(wait, sizeof wait);
    snprintf(buf, cap, "OpenBLAS core %s (%s); self-check %s, rel err %.1e; OpenMP wait %s; vector ISA %s",
             ds_blas_corename(), how, s == DS_OK ? "passed" : "FAILED", rel, wait,
             ds_cpu_isa_name(ds_cpu_isa_select()));
    return buf;
}
