// The zip layout of torch.save (torch >= 1.6), as torch's own reader (PyTorchStreamReader) reads
// it: the archive's folder is the part of the first entry's name before '/', the pickle is
// <folder>/data.pkl and storage `key` is the entry <folder>/data/<key>.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "escape.h"
#include "pth_internal.h"
#include "zip_reader.h"

// The bytes of entry <folder>/<rest>, or *data = NULL when there is no such entry.
static ds_status entry(const ds_zip *z, const char *folder, size_t folder_len, const char *rest, size_t rest_len,
                       const uint8_t **data, uint64_t *size, ds_err *err) {
    *data = NULL;
    *size = 0;
    char *name = malloc(folder_len + 1 + rest_len + 1);
    if (name == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", z->path);
    memcpy(name, folder, folder_len);
    name[folder_len] = '/';
    memcpy(name + folder_len + 1, rest, rest_len);
    const int32_t i = ds_zip_find(z, name, folder_len + 1 + rest_len);
    free(name);
    return i < 0 ? DS_OK : ds_zip_entry_data(z, i, data, size, err);
}

static ds_status byte_order(const ds_zip *z, const char *folder, size_t folder_len, bool *big_endian, ds_err *err) {
    const uint8_t *bo;
    uint64_t n;
    DS_TRY(entry(z, folder, folder_len, "byteorder", 9, &bo, &n, err));
    *big_endian = false;
    if (bo == NULL || (n == 6 && memcmp(bo, "little", 6) == 0)) return DS_OK;  // files before torch 1.10 have none
    if (n == 3 && memcmp(bo, "big", 3) == 0) {
        *big_endian = true;
        return DS_OK;
    }
    char shown[40];
    return ds_err_set(err, DS_ERR_FORMAT, "%s: the byteorder record says '%s'; expected 'little' or 'big'", z->path,
                      ds_escape_span((const char *)bo, n < 32 ? (size_t)n : 32, shown, sizeof shown));
}

// Points every storage the pickle named at its entry data/<key>.
static ds_status find_storages(const ds_zip *z, ds_pickle *pk, const char *folder, size_t folder_len, ds_err *err) {
    for (int32_t i = 0; i < pk->nstorages; i++) {
        ds_pk_storage *st = &pk->storages[i];
        const char *key = (const char *)pk->buf + st->key_off;
        char *rest = malloc(5 + (size_t)st->key_len);
        if (rest == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", z->path);
        memcpy(rest, "data/", 5);
        memcpy(rest + 5, key, st->key_len);
        const ds_status s = entry(z, folder, folder_len, rest, 5 + (size_t)st->key_len, &st->data, &st->data_size, err);
        free(rest);
        DS_TRY(s);
    }
    return DS_OK;
}

static ds_status load(const ds_zip *z, ds_pickle *pk, int32_t *root, bool *big_endian, ds_err *err) {
    char shown[160];
    if (z->count == 0) return ds_err_set(err, DS_ERR_FORMAT, "%s: an empty zip archive, not a torch.save checkpoint", z->path);
    const ds_zip_entry *first = &z->entries[0];
    const char *slash = memchr(first->name, '/', first->name_len);
    if (slash == NULL)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: a zip archive whose first entry '%s' is not inside a folder: not a torch.save checkpoint",
                          z->path, ds_escape_span(first->name, first->name_len, shown, sizeof shown));
    const char *folder = first->name;
    const size_t folder_len = (size_t)(slash - first->name);
    ds_escape_span(folder, folder_len, shown, sizeof shown);
    const uint8_t *pkl, *other;
    uint64_t pkl_size, other_size;
    DS_TRY(entry(z, folder, folder_len, "data.pkl", 8, &pkl, &pkl_size, err));
    if (pkl == NULL) {
        DS_TRY(entry(z, folder, folder_len, "constants.pkl", 13, &other, &other_size, err));
        if (other != NULL)
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s: a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save the "
                              "module's state_dict() with torch.save instead",
                              z->path);
        return ds_err_set(err, DS_ERR_FORMAT, "%s: the zip archive has no '%s/data.pkl': not a torch.save checkpoint",
                          z->path, shown);
    }
    if (pkl_size > DS_PICKLE_MAX_BYTES)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: '%s/data.pkl' is %llu bytes, more than the %zu a checkpoint's "
                          "pickle may have", z->path, shown, (unsigned long long)pkl_size, DS_PICKLE_MAX_BYTES);
    DS_TRY(byte_order(z, folder, folder_len, big_endian, err));
    ds_pickle_init(pk, pkl, (size_t)pkl_size, z->path, false);
    char what[200];
    snprintf(what, sizeof what, "%s/data.pkl", shown);
    size_t stop = 0;
    const ds_status s = ds_pickle_run(pk, 0, (size_t)pkl_size, what, 0, root, &stop, err);
    pk->what = "data.pkl";  // `what` is about to go out of scope
    DS_TRY(s);
    return find_storages(z, pk, folder, folder_len, err);
}

ds_status ds_pth_zip_load(ds_pickle *pk, const uint8_t *buf, size_t len, const char *path, int32_t *root,
                          bool *big_endian, ds_err *err) {
    ds_pickle_init(pk, NULL, 0, path, false);
    ds_zip z;
    DS_TRY(ds_zip_open(&z, buf, len, path, err));
    const ds_status s = load(&z, pk, root, big_endian, err);
    ds_zip_close(&z);
    return s;
}
