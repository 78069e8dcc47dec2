// Preemption: SIGUSR1 and SIGTERM (what Slurm sends before a time limit with --signal=USR1@N, on
// preemption and on scancel) ask a training run to finish its step, write a checkpoint and exit.
// The signals are blocked in the calling thread, and in every thread started after it, and read
// from a signalfd that the trainer polls between steps: no signal handler, no global flag.
#ifndef DS_PREEMPT_H
#define DS_PREEMPT_H

#include <stdbool.h>

#include "../base/status.h"

typedef struct ds_preempt {
    int fd;         // the signalfd, -1 when none
    bool pending;   // a signal arrived (sticky)
    int signal;     // the first one's number
} ds_preempt;

// Blocks SIGUSR1 and SIGTERM in the calling thread (and the threads it starts later): `main` does
// it first thing for `train`, before any library starts a thread (OpenBLAS's self-check does).
ds_status ds_preempt_block(ds_err *err);

// Blocks SIGUSR1 and SIGTERM and opens the signalfd. Call before any thread starts (OpenMP, MPI,
// loader workers), since threads inherit the mask. DS_ERR_IO when the fd cannot be made.
ds_status ds_preempt_open(ds_preempt *p, ds_err *err);

// True once a signal has arrived (reads what is pending without blocking). NULL: never.
bool ds_preempt_requested(ds_preempt *p);

// Closes the fd (the signals stay blocked: the process is about to end).
void ds_preempt_close(ds_preempt *p);

// Runs `scontrol requeue $SLURM_JOB_ID` and waits for it; DS_ERR_IO with scontrol's exit status
// or DS_ERR_CONFIG when SLURM_JOB_ID is not set.
ds_status ds_slurm_requeue(ds_err *err);

#endif
