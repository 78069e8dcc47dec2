// The file bootstrap: rank 0 writes a blob (NCCL's unique id) to a path on a shared filesystem,
// the other ranks wait for it. The file is one line, "downstream-bootstrap 1 <run_id> <hex>\n",
// written to a temporary name and renamed, so a reader never sees half of it; a reader takes only
// a file with its own run_id (the launcher's job id: see ds_world.run_id), so the file of an
// earlier run at the same path is not mistaken for this one's. Without a run_id (a launcher that
// gives none) any file is taken: remove stale files, or use a path per run.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../base/check.h"
#include "comm_internal.h"

#define BOOT_MAX_BYTES 4096

static ds_status write_blob(const ds_world *w, const char *path, const unsigned char *blob, size_t bytes,
                            ds_err *err) {
    char tmp[4200];
    const int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    DS_REQUIRE(err, n > 0 && (size_t)n < sizeof tmp, DS_ERR_CONFIG, "dist.bootstrap_file: the path is too long");
    FILE *f = fopen(tmp, "w");
    DS_REQUIRE(err, f != NULL, DS_ERR_IO, "dist.bootstrap_file %s: cannot write: %s", tmp, strerror(errno));
    fprintf(f, "downstream-bootstrap 1 %s ", w->run_id[0] ? w->run_id : "-");
    for (size_t i = 0; i < bytes; i++) fprintf(f, "%02x", blob[i]);
    fputc('\n', f);
    const bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    const bool closed = fclose(f) == 0;
    if (!ok || !closed || rename(tmp, path) != 0) {
        const int e = errno;
        remove(tmp);
        return ds_err_set(err, DS_ERR_IO, "dist.bootstrap_file %s: cannot write: %s", path, strerror(e));
    }
    return DS_OK;
}

// 1: read a file of this run into blob; 0: no such file yet (or another run's).
static int try_read(const ds_world *w, const char *path, unsigned char *blob, size_t bytes) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[2 * BOOT_MAX_BYTES + 256];
    const bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!got) return 0;
    char run[160], hex[2 * BOOT_MAX_BYTES + 1];
    int version = 0;
    if (sscanf(line, "downstream-bootstrap %d %159s %8192s", &version, run, hex) != 3 || version != 1) return 0;
    if (w->run_id[0] && strcmp(run, w->run_id) != 0) return 0;
    if (strlen(hex) != 2 * bytes) return 0;
    for (size_t i = 0; i < bytes; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return 0;
        blob[i] = (unsigned char)v;
    }
    return 1;
}

ds_status ds_comm_file_share_blob(const ds_world *w, const char *path, void *blob, size_t bytes, double timeout_s,
                                  ds_err *err) {
    DS_REQUIRE(err, path && path[0], DS_ERR_CONFIG, "dist.bootstrap file needs dist.bootstrap_file (a shared path)");
    DS_REQUIRE(err, bytes <= BOOT_MAX_BYTES, DS_ERR_INVALID_ARG, "bootstrap: a blob of %zu bytes is too large", bytes);
    if (w->rank == 0) return write_blob(w, path, blob, bytes, err);
    const double deadline = ds_now_seconds() + timeout_s;
    while (!try_read(w, path, blob, bytes)) {
        DS_REQUIRE(err, ds_now_seconds() < deadline, DS_ERR_IO,
                   "dist.bootstrap_file %s: rank 0 did not write it in time (dist.timeout_s)%s%s: is the path on a "
                   "filesystem every rank sees?",
                   path, w->run_id[0] ? " for run " : "", w->run_id);
        const struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return DS_OK;
}
