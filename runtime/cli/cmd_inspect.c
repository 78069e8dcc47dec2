// `downstream inspect FILE.safetensors|DIR`: validates safetensors files with the same reader
// training uses and prints each one's tensors (name, dtype, shape, bytes), totals and metadata.
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../io/safetensors.h"
#include "../io/safetensors_internal.h"
#include "commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: downstream inspect FILE.safetensors|DIR\n\n"
            "Checks safetensors files (header, dtypes, shapes, offsets, metadata) and lists their\n"
            "tensors sorted by name: name, dtype, shape, bytes; then the totals (tensors,\n"
            "parameters, bytes) and the metadata. A DIR means every *.safetensors in it, sorted.\n"
            "Exit status: 0 when every file is valid, 1 when one is not, 2 on a usage error.\n");
}

// Columns s takes as print_name prints it: an escaped control byte takes 4, a UTF-8 character
// 1 (continuation bytes take none; wide CJK characters are the rare exception).
static int name_width(const char *s) {
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p < 0x20 || *p == 0x7f) ? 4 : (*p & 0xc0) != 0x80;
    return n;
}

// Prints s with control bytes escaped, so that a crafted name cannot drive the terminal.
static void print_name(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp((*(const ds_st_tensor *const *)a)->name, (*(const ds_st_tensor *const *)b)->name);
}

// "16.7 MiB" style size for the totals line.
static const char *human_bytes(double b, char *buf, size_t cap) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) b /= 1024, u++;
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", b, units[u]);
    return buf;
}

typedef struct totals {
    long long tensors, params, bytes;
} totals;

// Validates and prints one file; returns 0 when valid, else prints the error and returns 1.
static int inspect_file(const char *path, totals *sum) {
    ds_st_file f;
    ds_err err = {0};
    if (ds_st_open(path, &f, &err) != DS_OK) {
        fprintf(stderr, "downstream inspect: %s\n", err.msg);
        return 1;
    }
    const ds_st_tensor **rows = malloc((size_t)(f.count > 0 ? f.count : 1) * sizeof *rows);
    if (rows == NULL) {
        fprintf(stderr, "downstream inspect: %s: out of memory\n", path);
        ds_st_close(&f);
        return 1;
    }
    int wname = 4, wshape = 5;
    char shape[160];
    for (int i = 0; i < f.count; i++) {
        rows[i] = &f.tensors[i];
        const int w = name_width(rows[i]->name);
        if (w > wname) wname = w;
        const int ws = (int)strlen(ds_st_shape_str(rows[i]->shape, rows[i]->ndim, shape, sizeof shape));
        if (ws > wshape) wshape = ws;
    }
    qsort(rows, (size_t)f.count, sizeof *rows, cmp_tensor_name);

    printf("%s\n", path);
    printf("  %-*s  %-7s  %-*s  %12s\n", wname, "name", "dtype", wshape, "shape", "bytes");
    long long params = 0, bytes = 0;
    for (int i = 0; i < f.count; i++) {
        const ds_st_tensor *t = rows[i];
        long long numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];  // fits: the reader checked numel*size
        params += numel;
        bytes += (long long)(t->end - t->begin);
        printf("  ");
        print_name(t->name);
        printf("%*s  %-7s  %-*s  %12llu\n", wname - name_width(t->name), "", ds_dtype_name(t->dtype), wshape,
               ds_st_shape_str(t->shape, t->ndim, shape, sizeof shape), (unsigned long long)(t->end - t->begin));
    }
    char hb[32];
    printf("  total: %d %s, %lld parameters, %lld bytes (%s)\n", f.count, f.count == 1 ? "tensor" : "tensors",
           params, bytes,
           human_bytes((double)bytes, hb, sizeof hb));
    if (f.meta != NULL) {
        printf("  metadata: %d %s\n", f.meta_count, f.meta_count == 1 ? "entry" : "entries");
        for (int i = 0; i < f.meta_count; i++) {
            printf("    ");
            print_name(f.meta[i].key);
            printf(" = ");
            print_name(f.meta[i].value);
            printf("\n");
        }
    } else {
        printf("  metadata: none\n");
    }
    sum->tensors += f.count;
    sum->params += params;
    sum->bytes += bytes;
    free(rows);
    ds_st_close(&f);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool has_suffix(const char *s, const char *suffix) {
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

// Inspects every *.safetensors in dir, sorted by name; returns the exit status.
static int inspect_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "downstream inspect: %s: cannot open folder: %s\n", dir, strerror(errno));
        return 1;
    }
    char **paths = NULL;
    int n = 0, cap = 0, status = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (!has_suffix(de->d_name, ".safetensors")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **p = realloc(paths, (size_t)cap * sizeof *p);
            if (p == NULL) break;
            paths = p;
        }
        const size_t len = strlen(dir) + strlen(de->d_name) + 2;
        paths[n] = malloc(len);
        if (paths[n] == NULL) break;
        snprintf(paths[n], len, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "downstream inspect: %s: no *.safetensors files in this folder\n", dir);
        status = 1;
    }
    if (n > 1) qsort(paths, (size_t)n, sizeof *paths, cmp_str);
    totals sum = {0};
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (i) printf("\n");
        bad += inspect_file(paths[i], &sum);
    }
    if (n > 1) {
        char hb[32];
        printf("\nall %d files: %lld tensors, %lld parameters, %lld bytes (%s)%s\n", n, sum.tensors, sum.params,
               sum.bytes, human_bytes((double)sum.bytes, hb, sizeof hb), bad ? "; some files are invalid" : "");
    }
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    return status || bad ? 1 : 0;
}

int ds_cmd_inspect(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        if (argc >= 2 && argv[1][0] == '-')
            fprintf(stderr, "downstream inspect: unknown option '%s'\n", argv[1]);
        else
            fprintf(stderr, "downstream inspect: expected one FILE.safetensors or DIR\n");
        usage(stderr);
        return 2;
    }
    struct stat st;
    if (stat(argv[1], &st) != 0) {
        fprintf(stderr, "downstream inspect: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(argv[1]);
        while (n > 1 && argv[1][n - 1] == '/') argv[1][--n] = 0;  // "dir/" -> "dir" for "dir/x.safetensors"
        return inspect_dir(argv[1]);
    }
    totals sum = {0};
    return inspect_file(argv[1], &sum);
}
