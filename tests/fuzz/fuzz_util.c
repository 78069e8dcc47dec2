// Helpers of the fuzz targets (fuzz_util.h).
#include "fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fuzz_dir_make(char *dir, size_t cap, const char *tag) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0]) tmp = "/tmp";
    if ((size_t)snprintf(dir, cap, "%s/ds_fuzz_%s_%ld", tmp, tag, (long)getpid()) >= cap) return -1;
    fuzz_dir_remove(dir);  // left over by a crash of this pid's predecessor
    return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int fuzz_write(const char *dir, const char *name, const void *data, size_t size, char *path, size_t cap) {
    if ((size_t)snprintf(path, cap, "%s/%s", dir, name) >= cap) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    const int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? 0 : -1;
}

void fuzz_dir_remove(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path) unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len, int max) {
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i < size && n < max - 1; i++) {
        if (data[i] != 0) continue;
        part[n] = data + start;
        len[n++] = i - start;
        start = i + 1;
    }
    part[n] = data + start;
    len[n++] = size - start;
    return n;
}

char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return NULL;
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

void fuzz_note(ds_status st, const ds_err *err) {
    if (!getenv("DS_FUZZ_VERBOSE")) return;
    if (st == DS_OK)
        printf("ok\n");
    else
        printf("error: %s\n", err->msg);
}
