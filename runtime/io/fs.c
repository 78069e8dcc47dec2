#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ds_status ds_mkdirs(const char *path, ds_err *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ds_err_set(err, DS_ERR_IO, "%.200s...: path too long", path);
    for (char *p = buf + 1;; p++) {
        const char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (buf[0] && mkdir(buf, 0777) != 0 && errno != EEXIST)
                return ds_err_set(err, DS_ERR_IO, "%s: cannot create the folder: %s", buf, strerror(errno));
            *p = c;
            if (c == '\0') break;
        }
    }
    return DS_OK;
}

ds_status ds_write_file_atomic(const char *path, const void *data, size_t len, ds_err *err) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return ds_err_set(err, DS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    const int ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
        const int e = errno;
        unlink(tmp);
        return ds_err_set(err, DS_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return DS_OK;
}
