#include "file_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ds_status ds_read_whole_file(const char *path, char **data, size_t *size, ds_err *err) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return ds_err_set(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    // Read in growing chunks rather than trusting a seek to the end: works for pipes and
    // /dev/stdin too, and costs one copy at most per doubling.
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    while (buf != NULL) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        char *bigger = realloc(buf, 2 * cap + 1);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf == NULL) {
        fclose(f);
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory after reading %zu bytes", path, len);
    }
    const int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return ds_err_set(err, DS_ERR_IO, "%s: read error after %zu bytes", path, len);
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return DS_OK;
}
