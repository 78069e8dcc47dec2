// ds_pth_open: maps the file, dispatches on its format, picks and flattens the state dict and
// materialises its tensors; and the lookups over the result.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/check.h"
#include "pth_internal.h"
#include "safetensors_internal.h"

const char *ds_pth_format_name(ds_pth_format format) {
    switch (format) {
    case DS_PTH_ZIP: return "zip";
    case DS_PTH_LEGACY: return "legacy";
    case DS_PTH_LEGACY_TAR: return "legacy tar";
    default: return "unknown";
    }
}

static ds_status load(const uint8_t *buf, size_t len, ds_pickle *pk, int32_t *root, bool *big_endian, ds_pth_file *f,
                      ds_err *err) {
    f->format = ds_pth_sniff(buf, len);
    switch (f->format) {
    case DS_PTH_ZIP: return ds_pth_zip_load(pk, buf, len, f->path, root, big_endian, err);
    case DS_PTH_LEGACY: return ds_pth_legacy_load(pk, buf, len, f->path, root, err);
    case DS_PTH_LEGACY_TAR:
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: a tar archive in the format of the earliest PyTorch releases, which is not supported: "
                          "load it with torch and save it again with torch.save",
                          f->path);
    default:
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: not a PyTorch checkpoint (neither the zip archive torch.save writes nor its legacy "
                          "format)",
                          f->path);
    }
}

static ds_status list_ignored(const ds_pickle *pk, ds_pth_file *f, ds_err *err) {
    if (pk->nforeign == 0) return DS_OK;
    f->ignored_globals = calloc((size_t)pk->nforeign, sizeof *f->ignored_globals);
    if (f->ignored_globals == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", f->path);
    for (int32_t i = 0; i < pk->nforeign; i++) {
        char name[256];
        f->ignored_globals[i] = strdup(ds_pk_global_name(pk, pk->foreign_list[i], name, sizeof name));
        if (f->ignored_globals[i] == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", f->path);
        f->ignored_count++;
    }
    return DS_OK;
}

// Copies may take up to 4x the file (and 64 MiB more for small files): far more than any real
// checkpoint's strided views need, far less than a crafted one could ask for.
static uint64_t copy_budget(size_t len) { return 4 * (uint64_t)len + ((uint64_t)64 << 20); }

static ds_status parse(const uint8_t *buf, size_t len, ds_pth_file *f, ds_err *err) {
    ds_pickle pk;
    ds_pth_named *named = NULL;
    int nnamed = 0;
    int32_t root = -1, dict = -1;
    bool big_endian = false;
    const char *key = "";
    ds_pickle_init(&pk, NULL, 0, f->path, false);  // so that ds_pickle_free below is harmless
    ds_status s = load(buf, len, &pk, &root, &big_endian, f, err);
    if (s == DS_OK) s = ds_pth_find_state_dict(&pk, root, &dict, &key, err);
    if (s == DS_OK) s = ds_pth_flatten(&pk, dict, &named, &nnamed, err);
    if (s == DS_OK) {
        f->state_dict_key = strdup(key);
        f->tensors = calloc(nnamed > 0 ? (size_t)nnamed : 1, sizeof *f->tensors);
        if (f->state_dict_key == NULL || f->tensors == NULL) s = ds_err_set(err, DS_ERR_OOM, "%s: out of memory", f->path);
    }
    uint64_t budget = copy_budget(len);
    for (int i = 0; i < nnamed && s == DS_OK; i++)
        s = ds_pth_materialize(&pk, named[i].tensor, named[i].name, big_endian, &budget, &f->tensors[f->count++], err);
    if (s == DS_OK) s = list_ignored(&pk, f, err);
    for (int i = 0; i < nnamed; i++) free(named[i].name);
    free(named);
    ds_pickle_free(&pk);
    return s;
}

ds_status ds_pth_open_memory(const void *bytes, size_t size, const char *name, ds_pth_file *f, ds_err *err) {
    memset(f, 0, sizeof *f);
    f->path = strdup(name);
    if (f->path == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", name);
    const ds_status s = parse(bytes, size, f, err);
    if (s != DS_OK) ds_pth_close(f);
    return s;
}

ds_status ds_pth_open(const char *path, ds_pth_file *f, ds_err *err) {
    memset(f, 0, sizeof *f);
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
    if (st.st_size == 0) {
        close(fd);
        return ds_err_set(err, DS_ERR_FORMAT, "%s: the file is empty", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    close(fd);  // the mapping keeps the file alive
    if (map == MAP_FAILED) return ds_err_set(err, DS_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    f->path = strdup(path);
    if (f->path == NULL) {
        munmap(map, (size_t)st.st_size);
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    }
    f->map = map;
    f->map_size = (size_t)st.st_size;
    const ds_status s = parse(map, f->map_size, f, err);
    if (s != DS_OK) ds_pth_close(f);
    return s;
}

void ds_pth_close(ds_pth_file *f) {
    if (f == NULL) return;
    for (int i = 0; i < f->count; i++) {
        free(f->tensors[i].name);
        free(f->tensors[i].storage_key);
        free(f->tensors[i].owned);
    }
    free(f->tensors);
    for (int i = 0; i < f->ignored_count; i++) free(f->ignored_globals[i]);
    free(f->ignored_globals);
    free(f->state_dict_key);
    if (f->map != NULL) munmap(f->map, f->map_size);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const ds_pth_tensor *ds_pth_find(const ds_pth_file *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

ds_status ds_pth_view(const ds_pth_file *f, const char *name, ds_dtype dtype, ds_tensor *out, ds_err *err) {
    const ds_pth_tensor *t = ds_pth_find(f, name);
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
