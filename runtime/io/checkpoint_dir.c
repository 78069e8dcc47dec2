// The folder of a run's checkpoints: naming, best link, rotation.
#include "checkpoint_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/check.h"

ds_checkpoint_options ds_checkpoint_options_default(void) {
    ds_checkpoint_options o = {.dir = NULL, .keep_last = 2, .keep_best = true};
    return o;
}

const char *ds_checkpoint_step_path(const char *dir, int64_t step, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/checkpoint-%lld.safetensors", dir, (long long)step);
    return buf;
}

// Parses "checkpoint-<digits>.safetensors" (no sign, no leading zeros except "0"); -1 otherwise.
static int64_t step_of(const char *name) {
    static const char prefix[] = "checkpoint-", suffix[] = ".safetensors";
    const size_t n = strlen(name), pl = sizeof prefix - 1, sl = sizeof suffix - 1;
    if (n <= pl + sl || strncmp(name, prefix, pl) != 0 || strcmp(name + n - sl, suffix) != 0) return -1;
    const char *d = name + pl, *end = name + n - sl;
    if (end - d > 18 || (*d == '0' && end - d > 1)) return -1;
    int64_t v = 0;
    for (; d < end; d++) {
        if (*d < '0' || *d > '9') return -1;
        v = v * 10 + (*d - '0');
    }
    return v;
}

static ds_status make_dirs(const char *dir, ds_err *err) {
    char *p = strdup(dir);
    if (!p) return ds_err_set(err, DS_ERR_OOM, "checkpoint folder %s: out of memory", dir);
    for (char *s = p + 1;; s++) {
        const bool last = *s == 0;
        if (*s == '/' || last) {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                const ds_status st = ds_err_set(err, DS_ERR_IO, "cannot create checkpoint folder %s: %s", p,
                                                strerror(errno));
                free(p);
                return st;
            }
            if (last) break;
            *s = '/';
        }
    }
    free(p);
    struct stat sb;
    DS_REQUIRE(err, stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode), DS_ERR_IO, "checkpoint folder %s is not a folder",
               dir);
    return DS_OK;
}

static void sync_dir(const char *dir) {
    const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);  // makes renames and unlinks durable; a failure loses nothing already written
        close(fd);
    }
}

static int cmp_desc(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

ds_status ds_checkpoint_list(const char *dir, int64_t *steps, int cap, int *count, ds_err *err) {
    *count = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT) return DS_OK;
        return ds_err_set(err, DS_ERR_IO, "cannot list checkpoint folder %s: %s", dir, strerror(errno));
    }
    int64_t *all = NULL;
    int n = 0, n_cap = 0;
    ds_status st = DS_OK;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const int64_t s = step_of(e->d_name);
        if (s < 0) continue;
        if (n == n_cap) {
            n_cap = n_cap ? 2 * n_cap : 16;
            int64_t *grown = realloc(all, (size_t)n_cap * sizeof *all);
            if (!grown) {
                st = ds_err_set(err, DS_ERR_OOM, "checkpoint folder %s: out of memory", dir);
                break;
            }
            all = grown;
        }
        all[n++] = s;
    }
    closedir(d);
    if (st == DS_OK) {
        if (n > 0) qsort(all, (size_t)n, sizeof *all, cmp_desc);  // all is NULL when n is 0: qsort(NULL, 0) is UB
        for (int i = 0; i < n && i < cap; i++) steps[i] = all[i];
        *count = n;
    }
    free(all);
    return st;
}

ds_status ds_checkpoint_latest(const char *dir, char *buf, size_t cap, bool *found, ds_err *err) {
    int64_t newest;
    int n = 0;
    DS_TRY(ds_checkpoint_list(dir, &newest, 1, &n, err));
    *found = n > 0;
    if (*found) ds_checkpoint_step_path(dir, newest, buf, cap);
    return DS_OK;
}

// checkpoint-best becomes `src`: a hard link made under a temporary name and renamed over the
// old best (atomic: readers see the old or the new one, never none). Where hard links are not
// allowed, falls back to writing the checkpoint again (atomically too).
static ds_status update_best(const char *dir, const char *src, const ds_param_block *pb, const ds_optim *optim,
                             const ds_train_state *state, const char *user_json, ds_err *err) {
    const size_t cap = strlen(dir) + 96;
    char *best = malloc(cap), *tmp = malloc(cap);
    ds_status st = DS_OK;
    if (!best || !tmp) {
        st = ds_err_set(err, DS_ERR_OOM, "checkpoint folder %s: out of memory", dir);
    } else {
        snprintf(best, cap, "%s/%s", dir, DS_CHECKPOINT_BEST_NAME);
        snprintf(tmp, cap, "%s/.%s.link.%ld", dir, DS_CHECKPOINT_BEST_NAME, (long)getpid());
        unlink(tmp);  // a leftover of a crashed run of this pid
        if (link(src, tmp) == 0) {
            if (rename(tmp, best) != 0) {
                st = ds_err_set(err, DS_ERR_IO, "cannot rename %s onto %s: %s", tmp, best, strerror(errno));
                unlink(tmp);
            }
        } else {
            st = ds_checkpoint_save(best, pb, optim, state, user_json, err);
        }
    }
    free(best);
    free(tmp);
    return st;
}

static ds_status prune(const char *dir, int keep_last, int64_t just_written, ds_err *err) {
    int n = 0;
    DS_TRY(ds_checkpoint_list(dir, NULL, 0, &n, err));
    if (n <= keep_last) return DS_OK;
    int64_t *steps = malloc((size_t)n * sizeof *steps);
    if (!steps) return ds_err_set(err, DS_ERR_OOM, "checkpoint folder %s: out of memory", dir);
    ds_status st = ds_checkpoint_list(dir, steps, n, &n, err);
    const size_t cap = strlen(dir) + 64;
    char *path = malloc(cap);
    if (st == DS_OK && !path) st = ds_err_set(err, DS_ERR_OOM, "checkpoint folder %s: out of memory", dir);
    for (int i = keep_last; st == DS_OK && i < n; i++) {
        if (steps[i] == just_written) continue;  // a step older than others still there: keep it
        ds_checkpoint_step_path(dir, steps[i], path, cap);
        if (unlink(path) != 0 && errno != ENOENT)
            st = ds_err_set(err, DS_ERR_IO, "cannot delete old checkpoint %s: %s", path, strerror(errno));
    }
    free(path);
    free(steps);
    return st;
}

ds_status ds_checkpoint_save_step(const ds_checkpoint_options *o, int64_t step, bool is_best,
                                  const ds_param_block *pb, const ds_optim *optim, const ds_train_state *state,
                                  const char *user_json, char *path_out, size_t cap, ds_err *err) {
    DS_REQUIRE(err, o != NULL && o->dir != NULL && o->dir[0] != 0, DS_ERR_INVALID_ARG,
               "checkpoint: no output folder given");
    DS_REQUIRE(err, step >= 0, DS_ERR_INVALID_ARG, "checkpoint: step %lld is negative", (long long)step);
    DS_TRY(make_dirs(o->dir, err));
    const size_t pcap = strlen(o->dir) + 64;
    char *path = malloc(pcap);
    if (!path) return ds_err_set(err, DS_ERR_OOM, "checkpoint folder %s: out of memory", o->dir);
    ds_checkpoint_step_path(o->dir, step, path, pcap);
    ds_status st = ds_checkpoint_save(path, pb, optim, state, user_json, err);
    if (st == DS_OK && is_best && o->keep_best) st = update_best(o->dir, path, pb, optim, state, user_json, err);
    if (st == DS_OK && o->keep_last > 0) st = prune(o->dir, o->keep_last, step, err);
    sync_dir(o->dir);
    if (st == DS_OK && path_out) snprintf(path_out, cap, "%s", path);
    free(path);
    return st;
}
