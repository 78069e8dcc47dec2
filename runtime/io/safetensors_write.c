// safetensors writer, byte-identical to safetensors.torch.save_file (safetensors 0.8, checked by
// tests/cpu/test_safetensors_write.c against files the Python library wrote):
//   - tensors ordered by dtype rank descending (the order of the Rust `Dtype` enum, see k_rank),
//     ties broken by name, compared bytewise; data laid out back to back in that order;
//   - header: compact JSON, "__metadata__" first when given, then each tensor as
//     {"dtype":..,"shape":[..],"data_offsets":[b,e]}, strings escaped as serde_json escapes them;
//   - header padded with spaces to a multiple of 8 bytes, so every tensor stays aligned.
// The one deliberate difference: with no tensors and some metadata, Python writes invalid JSON
// (`{},"__metadata__":{}}`) that it cannot load; we write `{"__metadata__":{}}`.
// The file appears atomically: a temporary file in the same folder, fsync, rename.
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../base/check.h"
#include "safetensors.h"
#include "safetensors_internal.h"

// Position of each dtype in the Rust library's `Dtype` enum; save_file sorts by it, descending.
static const int k_rank[DS_DTYPE_COUNT] = {
    [DS_BOOL] = 0, [DS_U8] = 1,   [DS_I8] = 2,   [DS_F8_E5M2] = 3, [DS_F8_E4M3] = 4,
    [DS_I16] = 5,  [DS_U16] = 6,  [DS_F16] = 7,  [DS_BF16] = 8,    [DS_I32] = 9,
    [DS_U32] = 10, [DS_F32] = 11, [DS_F64] = 12, [DS_I64] = 13,    [DS_U64] = 14,
};

// A growing byte buffer for the header.
typedef struct buf {
    char *p;
    size_t len, cap;
    bool oom;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

// A JSON string as serde_json writes it: \" \\ \b \f \n \r \t, other control bytes as \u00xx
// (lowercase hex), everything else (DEL, non-ASCII UTF-8) verbatim.
static void put_json_string(buf *b, const char *s) {
    puts_(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': puts_(b, "\\\""); break;
        case '\\': puts_(b, "\\\\"); break;
        case '\b': puts_(b, "\\b"); break;
        case '\f': puts_(b, "\\f"); break;
        case '\n': puts_(b, "\\n"); break;
        case '\r': puts_(b, "\\r"); break;
        case '\t': puts_(b, "\\t"); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                puts_(b, esc);
            } else {
                put(b, (const char *)p, 1);
            }
        }
    }
    puts_(b, "\"");
}

static int cmp_order(const void *a, const void *b) {
    const ds_st_entry *x = *(const ds_st_entry *const *)a, *y = *(const ds_st_entry *const *)b;
    const int rx = k_rank[x->tensor.dtype], ry = k_rank[y->tensor.dtype];
    if (rx != ry) return ry - rx;
    return strcmp(x->name, y->name);  // strcmp compares as unsigned char: bytewise, as Rust does
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

// A caller's string must be valid UTF-8, or Python could not read the file.
static ds_status check_string(const char *path, const char *what, const char *s, ds_err *err) {
    if (s == NULL) return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: %s is NULL", path, what);
    const long bad = ds_st_utf8_invalid_at(s, strlen(s));
    if (bad >= 0)
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: %s '%s' is not valid UTF-8 (byte %ld)", path, what, s,
                          bad);
    return DS_OK;
}

// Two of n strings equal? Returns the duplicate or NULL (-1 on allocation failure via *oom).
static const char *find_duplicate(const char **names, int n) {
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

static ds_status check_inputs(const char *path, const ds_st_entry *entries, int count, const ds_st_meta *meta,
                              int meta_count, ds_err *err) {
    if (count < 0 || meta_count < 0 || (count > 0 && entries == NULL) || (meta_count > 0 && meta == NULL))
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: bad tensor or metadata list (count %d, meta_count %d)",
                          path, count, meta_count);
    for (int i = 0; i < count; i++) {
        const ds_st_entry *e = &entries[i];
        DS_TRY(check_string(path, "tensor name", e->name, err));
        if (strcmp(e->name, "__metadata__") == 0)
            return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: \"__metadata__\" cannot name a tensor", path);
        const ds_tensor *t = &e->tensor;
        if ((unsigned)t->dtype >= DS_DTYPE_COUNT || t->ndim < 0 || t->ndim > DS_MAX_DIMS)
            return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: tensor '%s': bad dtype or ndim %d", path, e->name,
                              t->ndim);
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0)
                return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: tensor '%s': negative dim %lld", path, e->name,
                                  (long long)t->shape[d]);
        if (t->device.kind != DS_DEVICE_CPU)
            return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: tensor '%s' is on the GPU; copy it to the host first",
                              path, e->name);
        if (!ds_tensor_is_contiguous(t))
            return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: tensor '%s' is not contiguous", path, e->name);
        if (t->data == NULL && ds_tensor_nbytes(t) > 0)
            return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: tensor '%s' has no data", path, e->name);
    }
    for (int i = 0; i < meta_count; i++) {
        DS_TRY(check_string(path, "metadata key", meta[i].key, err));
        DS_TRY(check_string(path, "metadata value", meta[i].value, err));
    }
    const int most = count > meta_count ? count : meta_count;
    const char **names = malloc((size_t)(most > 0 ? most : 1) * sizeof *names);
    if (names == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    for (int i = 0; i < count; i++) names[i] = entries[i].name;
    const char *dup = find_duplicate(names, count);
    ds_status s = DS_OK;
    if (dup) s = ds_err_set(err, DS_ERR_INVALID_ARG, "%s: two tensors are named '%s'", path, dup);
    for (int i = 0; i < meta_count; i++) names[i] = meta[i].key;
    dup = s == DS_OK ? find_duplicate(names, meta_count) : NULL;
    if (dup) s = ds_err_set(err, DS_ERR_INVALID_ARG, "%s: metadata key '%s' appears twice", path, dup);
    free(names);
    return s;
}

// Header JSON, padded with spaces to a multiple of 8, for the entries in `order`.
static void build_header(buf *b, const ds_st_entry *const *order, int count, const ds_st_meta *meta,
                         int meta_count) {
    char num[64];
    puts_(b, "{");
    if (meta != NULL) {
        puts_(b, "\"__metadata__\":{");
        for (int i = 0; i < meta_count; i++) {
            if (i) puts_(b, ",");
            put_json_string(b, meta[i].key);
            puts_(b, ":");
            put_json_string(b, meta[i].value);
        }
        puts_(b, "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < count; i++) {
        const ds_tensor *t = &order[i]->tensor;
        if (i || meta != NULL) puts_(b, ",");
        put_json_string(b, order[i]->name);
        puts_(b, ":{\"dtype\":");
        put_json_string(b, ds_dtype_name(t->dtype));
        puts_(b, ",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t->shape[d]);
            puts_(b, num);
        }
        const uint64_t n = ds_tensor_nbytes(t);
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                 (unsigned long long)(offset + n));
        puts_(b, num);
        offset += n;
    }
    puts_(b, "}");
    while (b->len % 8) puts_(b, " ");
}

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        const ssize_t w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

// Creates a fresh "<path>.tmp.<pid>.<n>" next to path (same filesystem, so rename is atomic);
// mode 0666 less the umask, as Python's open() would create the file.
static int create_temp(const char *path, char *tmp, size_t cap) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, cap, "%s.tmp.%ld.%ld%d", path, (long)getpid(), (long)ts.tv_nsec, attempt);
        const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

// fsync of the folder makes the rename itself durable; a failure here loses nothing written.
static void sync_parent(const char *path) {
    char *copy = strdup(path);
    if (copy == NULL) return;
    const int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

static ds_status write_file(const char *path, const buf *header, const ds_st_entry *const *order, int count,
                            ds_err *err) {
    const size_t cap = strlen(path) + 64;
    char *tmp = malloc(cap);
    if (tmp == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    const int fd = create_temp(path, tmp, cap);
    if (fd < 0) {
        const ds_status s = ds_err_set(err, DS_ERR_IO, "%s: cannot create a temporary file next to it: %s", path,
                                       strerror(errno));
        free(tmp);
        return s;
    }
    unsigned char len[8];  // header length, little-endian
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)header->len >> (8 * i));
    int bad = write_all(fd, len, 8) || write_all(fd, header->p, header->len);
    for (int i = 0; i < count && !bad; i++)
        bad = write_all(fd, order[i]->tensor.data, ds_tensor_nbytes(&order[i]->tensor));
    const char *step = "write";
    if (!bad && fsync(fd) != 0) bad = 1, step = "fsync";
    int e = errno;
    if (close(fd) != 0 && !bad) bad = 1, step = "close", e = errno;
    if (!bad && rename(tmp, path) != 0) bad = 1, step = "rename the temporary file onto", e = errno;
    ds_status s = DS_OK;
    if (bad) {
        unlink(tmp);
        s = ds_err_set(err, DS_ERR_IO, "%s: cannot %s it: %s", path, step, strerror(e));
    } else {
        sync_parent(path);
    }
    free(tmp);
    return s;
}

ds_status ds_st_write(const char *path, const ds_st_entry *entries, int count, const ds_st_meta *meta,
                      int meta_count, ds_err *err) {
    if (path == NULL) return ds_err_set(err, DS_ERR_INVALID_ARG, "ds_st_write: path is NULL");
    DS_TRY(check_inputs(path, entries, count, meta, meta_count, err));
    const ds_st_entry **order = malloc((size_t)(count > 0 ? count : 1) * sizeof *order);
    if (order == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    for (int i = 0; i < count; i++) order[i] = &entries[i];
    qsort(order, (size_t)count, sizeof *order, cmp_order);
    buf header = {0};
    build_header(&header, order, count, meta, meta_count);
    ds_status s = header.oom ? ds_err_set(err, DS_ERR_OOM, "%s: out of memory building the header", path)
                             : write_file(path, &header, order, count, err);
    free(header.p);
    free(order);
    return s;
}
