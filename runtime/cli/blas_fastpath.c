#include "blas_fastpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../kernels/cpu/blas_info.h"

// DS_BLAS_FASTPATH carries the decision across the re-exec: "forced" (we set
// OPENBLAS_CORETYPE) or "fallback" (the forced kernels failed the self-check; run unforced).
static const char *k_state_var = "DS_BLAS_FASTPATH";

void ds_blas_fast_path(char **argv) {
    const char *state = getenv(k_state_var);
    if (state == NULL) {
        if (getenv("OPENBLAS_CORETYPE") != NULL) return;  // the user's choice
        const char *coretype = ds_blas_recommended_coretype();
        if (coretype == NULL) return;  // OpenBLAS already runs fast kernels here
        setenv("OPENBLAS_CORETYPE", coretype, 1);
        setenv(k_state_var, "forced", 1);
        execv("/proc/self/exe", argv);
        // exec failed: carry on with the kernels we have.
        unsetenv("OPENBLAS_CORETYPE");
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

const char *ds_blas_fast_path_report(char *buf, unsigned long cap) {
    const char *state = getenv(k_state_var);
    const char *how = state == NULL ? (getenv("OPENBLAS_CORETYPE") ? "set by the user" : "detected by OpenBLAS")
                      : strcmp(state, "forced") == 0 ? "forced by downstream (CPU not recognised by OpenBLAS)"
                                                     : "OpenBLAS default after the forced kernels failed the self-check";
    double rel = -1;
    ds_err err;
    ds_err_clear(&err);
    const ds_status s = ds_blas_selfcheck(&rel, &err);
    snprintf(buf, cap, "OpenBLAS core %s (%s); self-check %s, rel err %.1e", ds_blas_corename(), how,
             s == DS_OK ? "passed" : "FAILED", rel);
    return buf;
}
