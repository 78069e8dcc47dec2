#include "preempt.h"

#include "../base/check.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void preempt_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGTERM);
}

ds_status ds_preempt_block(ds_err *err) {
    sigset_t set;
    preempt_signals(&set);
    const int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    return rc == 0 ? DS_OK : ds_err_set(err, DS_ERR_IO, "cannot block SIGUSR1/SIGTERM: %s", strerror(rc));
}

ds_status ds_preempt_open(ds_preempt *p, ds_err *err) {
    p->fd = -1;
    p->pending = false;
    p->signal = 0;
    DS_TRY(ds_preempt_block(err));
    sigset_t set;
    preempt_signals(&set);
    p->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (p->fd < 0) return ds_err_set(err, DS_ERR_IO, "signalfd: %s", strerror(errno));
    return DS_OK;
}

bool ds_preempt_requested(ds_preempt *p) {
    if (!p || p->fd < 0) return false;
    struct signalfd_siginfo info;
    while (read(p->fd, &info, sizeof info) == (ssize_t)sizeof info)
        if (!p->pending) {
            p->pending = true;
            p->signal = (int)info.ssi_signo;
        }
    return p->pending;
}

void ds_preempt_close(ds_preempt *p) {
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
}

extern char **environ;

ds_status ds_slurm_requeue(ds_err *err) {
    const char *job = getenv("SLURM_JOB_ID");
    if (!job || !job[0]) return ds_err_set(err, DS_ERR_CONFIG, "train.requeue: SLURM_JOB_ID is not set (not a Slurm job)");
    char *const argv[] = {"scontrol", "requeue", (char *)job, NULL};
    pid_t pid;
    const int rc = posix_spawnp(&pid, "scontrol", NULL, NULL, argv, environ);
    if (rc != 0) return ds_err_set(err, DS_ERR_IO, "train.requeue: cannot run scontrol: %s", strerror(rc));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return ds_err_set(err, DS_ERR_IO, "train.requeue: `scontrol requeue %s` failed (status %d)", job,
                          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return DS_OK;
}
