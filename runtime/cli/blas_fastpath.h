// Puts the process on OpenBLAS's fast kernels before any work starts (see
// kernels/cpu/blas_info.h for why). Called first thing in main(); may re-execute the binary.
#ifndef DS_BLAS_FASTPATH_H
#define DS_BLAS_FASTPATH_H

// Re-executes the process with OPENBLAS_CORETYPE set when OpenBLAS did not recognise the CPU,
// and again without it if the forced kernels fail the self-check. A user's own
// OPENBLAS_CORETYPE is respected. Returns normally when no (further) re-exec is needed.
void ds_blas_fast_path(char **argv);

// One line for logs and `bench`: core name, how it was chosen, self-check error.
const char *ds_blas_fast_path_report(char *buf, unsigned long cap);

#endif
