// safetensors reader: maps the file read-only and validates the whole header (dtypes, shapes,
// offsets, sizes, overlaps, metadata) before returning, so that every later access through a
// ds_st_file stays inside the mapping. Errors name the file and, where one is at fault, the tensor.
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/check.h"
#include "safetensors.h"
#include "safetensors_internal.h"

// The Python library refuses headers above 100 MB (MAX_HEADER_SIZE); a larger length field is
// corruption, not a model.
#define ST_MAX_HEADER_BYTES ((uint64_t)100000000)

// JSON numbers arrive as doubles: every integer up to 2^53 is exact, and no real file has a
// dimension or offset beyond that (a data section of 9 PB).
#define ST_MAX_JSON_INT 9007199254740992.0

// Reads a JSON integer in [0, 2^53]; returns 0 on success, -1 when v is not such a number.
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    const double d = v->valuedouble;
    if (!(d >= 0.0) || d > ST_MAX_JSON_INT || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

static ds_status parse_dtype(const char *path, const char *name, const cJSON *entry, ds_st_tensor *t,
                             ds_err *err) {
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (dt == NULL)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s': missing \"dtype\"", path, name);
    if (!cJSON_IsString(dt))
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s': \"dtype\" must be a string", path, name);
    if (ds_dtype_parse(dt->valuestring, &t->dtype) != 0)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: tensor '%s': unknown dtype \"%s\" (known: BOOL U8 I8 I16 U16 F16 BF16 I32 U32 "
                          "F32 F64 I64 U64 F8_E4M3 F8_E5M2)",
                          path, name, dt->valuestring);
    return DS_OK;
}

static ds_status parse_shape(const char *path, const char *name, const cJSON *entry, ds_st_tensor *t,
                             ds_err *err) {
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (shape == NULL)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s': missing \"shape\"", path, name);
    if (!cJSON_IsArray(shape))
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s': \"shape\" must be an array of integers", path,
                          name);
    const int ndim = cJSON_GetArraySize(shape);
    if (ndim > DS_MAX_DIMS)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: tensor '%s': shape has %d dims; downstream supports at most %d", path, name, ndim,
                          DS_MAX_DIMS);
    t->ndim = ndim;
    int i = 0;
    for (const cJSON *d = shape->child; d != NULL; d = d->next, i++) {
        uint64_t v;
        if (json_uint(d, &v) != 0)
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s: tensor '%s': shape[%d] must be a non-negative integer (at most 2^53)", path,
                              name, i);
        t->shape[i] = (int64_t)v;
    }
    return DS_OK;
}

static ds_status parse_offsets(const char *path, const char *name, const cJSON *entry, uint64_t data_size,
                               ds_st_tensor *t, ds_err *err) {
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (off == NULL)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s': missing \"data_offsets\"", path, name);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || json_uint(off->child, &t->begin) != 0 ||
        json_uint(off->child->next, &t->end) != 0)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: tensor '%s': \"data_offsets\" must be [begin, end], two non-negative integers",
                          path, name);
    if (t->begin > t->end)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin",
                          path, name, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_size)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] run past the data section (%llu bytes; "
                          "the file is truncated or the header is wrong)",
                          path, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                          (unsigned long long)data_size);
    return DS_OK;
}

// The byte count a shape of a dtype needs must equal what its offsets hold.
static ds_status check_size(const char *path, const ds_st_tensor *t, ds_err *err) {
    // Any zero dim makes the tensor empty, whatever the others; otherwise multiply with an
    // overflow check (a crafted shape must not wrap around to a small size).
    bool empty = false, overflow = false;
    for (int i = 0; i < t->ndim; i++) empty |= t->shape[i] == 0;
    uint64_t need = empty ? 0 : ds_dtype_size(t->dtype);
    for (int i = 0; i < t->ndim && !empty && !overflow; i++) {
        const uint64_t d = (uint64_t)t->shape[i];
        if (need > UINT64_MAX / d)
            overflow = true;
        else
            need *= d;
    }
    const uint64_t have = t->end - t->begin;
    if (overflow || need != have) {
        char s[160];
        char needs[32];
        if (overflow)
            snprintf(needs, sizeof needs, "more than 2^64 bytes");
        else
            snprintf(needs, sizeof needs, "%llu", (unsigned long long)need);
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but shape %s of %s needs %s",
                          path, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                          (unsigned long long)have, ds_st_shape_str(t->shape, t->ndim, s, sizeof s),
                          ds_dtype_name(t->dtype), needs);
    }
    return DS_OK;
}

static ds_status parse_tensor(const char *path, const cJSON *entry, uint64_t data_size, ds_st_tensor *t,
                              ds_err *err) {
    const char *name = entry->string;
    if (!cJSON_IsObject(entry))
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: tensor '%s': entry must be an object {\"dtype\", \"shape\", \"data_offsets\"}",
                          path, name);
    // Other keys are ignored, as the Python library ignores them.
    t->name = strdup(name);
    if (t->name == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    DS_TRY(parse_dtype(path, name, entry, t, err));
    DS_TRY(parse_shape(path, name, entry, t, err));
    DS_TRY(parse_offsets(path, name, entry, data_size, t, err));
    return check_size(path, t, err);
}

static ds_status parse_metadata(const char *path, const cJSON *m, ds_st_file *f, ds_err *err) {
    if (!cJSON_IsObject(m))
        return ds_err_set(err, DS_ERR_FORMAT, "%s: \"__metadata__\" must be an object of string to string", path);
    const int n = cJSON_GetArraySize(m);
    f->meta = calloc(n > 0 ? (size_t)n : 1, sizeof *f->meta);
    if (f->meta == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    for (const cJSON *kv = m->child; kv != NULL; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s: \"__metadata__\" entry '%s' must be a string (metadata maps string to string)",
                              path, kv->string);
        ds_st_meta *e = &f->meta[f->meta_count++];
        e->key = strdup(kv->string);
        e->value = strdup(kv->valuestring);
        if (e->key == NULL || e->value == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    }
    return DS_OK;
}

static int cmp_begin(const void *a, const void *b) {
    const ds_st_tensor *x = *(const ds_st_tensor *const *)a, *y = *(const ds_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const ds_st_tensor *const *)a)->name, (*(const ds_st_tensor *const *)b)->name);
}

// No two tensors may share a name; and, as the Python library requires, the tensors must tile
// the data section exactly: no overlap, no gap, nothing after the last one.
static ds_status check_layout(const char *path, const ds_st_file *f, uint64_t data_size, ds_err *err) {
    const ds_st_tensor **order = malloc((size_t)(f->count > 0 ? f->count : 1) * sizeof *order);
    if (order == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    for (int i = 0; i < f->count; i++) order[i] = &f->tensors[i];
    ds_status s = DS_OK;
    if (f->count > 1) qsort(order, (size_t)f->count, sizeof *order, cmp_name);
    for (int i = 1; i < f->count && s == DS_OK; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            s = ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", path, order[i]->name);
    if (f->count > 1) qsort(order, (size_t)f->count, sizeof *order, cmp_begin);
    uint64_t cursor = 0;              // where the next tensor must begin
    const ds_st_tensor *prev = NULL;  // the tensor that ends at cursor
    for (int i = 0; i < f->count && s == DS_OK; i++) {
        const ds_st_tensor *t = order[i];
        if (t->begin < cursor)
            s = ds_err_set(err, DS_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' [%llu, %llu]", path,
                           t->name, (unsigned long long)t->begin, (unsigned long long)t->end, prev->name,
                           (unsigned long long)prev->begin, (unsigned long long)prev->end);
        else if (t->begin > cursor)
            s = ds_err_set(err, DS_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] leave bytes [%llu, %llu) of the data section "
                           "to no tensor",
                           path, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)cursor, (unsigned long long)t->begin);
        cursor = t->end;
        prev = t;
    }
    if (s == DS_OK && cursor != data_size)
        s = ds_err_set(err, DS_ERR_FORMAT,
                       "%s: the data section holds %llu bytes but its tensors end at byte %llu (trailing bytes)",
                       path, (unsigned long long)data_size, (unsigned long long)cursor);
    free(order);
    return s;
}

// Maps the whole file read-only into f->map.
static ds_status map_file(const char *path, ds_st_file *f, ds_err *err) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ds_err_set(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        close(fd);
        return ds_err_set(err, DS_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ds_err_set(err, DS_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: file is %lld bytes, shorter than the 8-byte header length of a safetensors file",
                          path, (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    close(fd);  // the mapping keeps the file alive
    if (map == MAP_FAILED) return ds_err_set(err, DS_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    f->map = map;
    f->map_size = (size_t)st.st_size;
    return DS_OK;
}

// Parses and validates the JSON header; fills f->tensors and f->meta.
static ds_status parse_header(const char *path, ds_st_file *f, ds_err *err) {
    const unsigned char *bytes = f->map;  // (map_size) host, read-only
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i];  // little-endian on every host
    const uint64_t avail = (uint64_t)f->map_size - 8;
    if (hlen > ST_MAX_HEADER_BYTES)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: header length %llu exceeds the 100 MB limit (not a safetensors file, or corrupt)",
                          path, (unsigned long long)hlen);
    if (hlen > avail)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: header length %llu runs past the end of the file (%llu bytes after the length "
                          "field; truncated?)",
                          path, (unsigned long long)hlen, (unsigned long long)avail);
    if (hlen < 2 || bytes[8] != '{')
        return ds_err_set(err, DS_ERR_FORMAT, "%s: header does not start with '{' (not a safetensors file?)",
                          path);
    const char *json = (const char *)bytes + 8;
    const uint64_t data_size = avail - hlen;
    const long bad_utf8 = ds_st_utf8_invalid_at(json, (size_t)hlen);
    if (bad_utf8 >= 0)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: header is not valid UTF-8 (at byte %ld)", path, bad_utf8);

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)hlen, &end, 0);
    if (root == NULL) {
        const long at = end != NULL ? (long)(end - json) : -1;
        return ds_err_set(err, DS_ERR_FORMAT, "%s: header is not valid JSON (error near byte %ld of %llu)", path,
                          at, (unsigned long long)hlen);
    }
    ds_status s = DS_OK;
    // Only padding may follow the JSON value (the writer pads with spaces).
    for (const char *p = end; p < json + hlen && s == DS_OK; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            s = ds_err_set(err, DS_ERR_FORMAT, "%s: header has trailing bytes after the JSON object (at byte %ld)",
                           path, (long)(p - json));
    if (s == DS_OK && !cJSON_IsObject(root))
        s = ds_err_set(err, DS_ERR_FORMAT, "%s: header must be a JSON object", path);
    int n = 0;
    for (const cJSON *e = s == DS_OK ? root->child : NULL; e != NULL; e = e->next)
        n += strcmp(e->string, "__metadata__") != 0;
    if (s == DS_OK) {
        f->tensors = calloc(n > 0 ? (size_t)n : 1, sizeof *f->tensors);
        if (f->tensors == NULL) s = ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    }
    for (const cJSON *e = s == DS_OK ? root->child : NULL; e != NULL && s == DS_OK; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (f->meta != NULL)
                s = ds_err_set(err, DS_ERR_FORMAT, "%s: \"__metadata__\" appears twice in the header", path);
            else
                s = parse_metadata(path, e, f, err);
            continue;
        }
        ds_st_tensor *t = &f->tensors[f->count++];
        s = parse_tensor(path, e, data_size, t, err);
        if (s == DS_OK) t->data = bytes + 8 + hlen + t->begin;
    }
    if (s == DS_OK) s = check_layout(path, f, data_size, err);
    cJSON_Delete(root);
    return s;
}

// A tensor whose address is not a multiple of its element size cannot be read through a typed
// pointer. Files written by safetensors are always aligned (8-byte padded header, tensors sorted by
// alignment); for other writers' files, each tensor is copied into its own 64-byte aligned slot of
// one heap block, and the mapping is released.
static ds_status align_if_needed(const char *path, ds_st_file *f, ds_err *err) {
    bool aligned = true;
    for (int i = 0; i < f->count && aligned; i++)
        aligned = (uintptr_t)f->tensors[i].data % ds_dtype_size(f->tensors[i].dtype) == 0;
    if (aligned) return DS_OK;
    size_t total = 64;  // never zero: aligned_alloc(64, 0) may return NULL
    for (int i = 0; i < f->count; i++) total += (size_t)(f->tensors[i].end - f->tensors[i].begin + 63) / 64 * 64;
    unsigned char *copy = aligned_alloc(64, total);  // (total) host, tensors at 64-byte boundaries
    if (copy == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory copying an unaligned file", path);
    size_t at = 0;
    for (int i = 0; i < f->count; i++) {
        ds_st_tensor *t = &f->tensors[i];
        const size_t n = (size_t)(t->end - t->begin);
        memcpy(copy + at, t->data, n);
        t->data = copy + at;
        at += (n + 63) / 64 * 64;
    }
    munmap(f->map, f->map_size);
    f->map = copy;
    f->map_size = total;
    f->map_is_heap = true;
    return DS_OK;
}

ds_status ds_st_open(const char *path, ds_st_file *f, ds_err *err) {
    memset(f, 0, sizeof *f);
    DS_TRY(map_file(path, f, err));
    ds_status s = DS_OK;
    f->path = strdup(path);
    if (f->path == NULL) s = ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    if (s == DS_OK) s = parse_header(path, f, err);
    if (s == DS_OK) s = align_if_needed(path, f, err);
    if (s != DS_OK) ds_st_close(f);
    return s;
}

void ds_st_close(ds_st_file *f) {
    if (f == NULL) return;
    for (int i = 0; i < f->count; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->meta);
    if (f->map != NULL) {
        if (f->map_is_heap)
            free(f->map);
        else
            munmap(f->map, f->map_size);
    }
    free(f->path);
    memset(f, 0, sizeof *f);
}

const ds_st_tensor *ds_st_find(const ds_st_file *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *ds_st_meta_get(const ds_st_file *f, const char *key) {
    for (int i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

ds_status ds_st_view(const ds_st_file *f, const char *name, ds_dtype dtype, ds_tensor *out, ds_err *err) {
    const ds_st_tensor *t = ds_st_find(f, name);
    if (t == NULL) return ds_err_set(err, DS_ERR_FORMAT, "%s: no tensor named '%s'", f->path, name);
    if (t->dtype != dtype) {
        char s[160];
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s' is %s %s, expected dtype %s", f->path, name,
                          ds_dtype_name(t->dtype), ds_st_shape_str(t->shape, t->ndim, s, sizeof s),
                          ds_dtype_name(dtype));
    }
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    *out = ds_tensor_make((void *)t->data, t->dtype, cpu, t->ndim, t->shape);
    return DS_OK;
}
