// The legacy layout of torch.save (torch < 1.6, or _use_new_zipfile_serialization=False), as
// torch.serialization._legacy_load reads it: five pickles back to back (magic number, protocol
// version, sys_info, the object, the list of storage keys), then for each listed key in order an
// 8-byte little-endian element count and the storage's bytes. The storages' offsets are whatever
// the pickles' lengths make them, so their tensors are copied out aligned (pth_tensor.c).
#include <string.h>

#include "../base/check.h"
#include "escape.h"
#include "pth_internal.h"

// pickle.dumps(0x1950a86a20f9469cfc6c) after PROTO: LONG1 of 10 bytes.
static const uint8_t k_magic[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
#define LEGACY_PROTOCOL_VERSION 1001

ds_pth_format ds_pth_sniff(const uint8_t *bytes, size_t n) {
    if (n >= 4 && bytes[0] == 'P' && bytes[1] == 'K' &&
        ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6)))
        return DS_PTH_ZIP;
    if (n >= 2 + sizeof k_magic && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5 &&
        memcmp(bytes + 2, k_magic, sizeof k_magic) == 0)
        return DS_PTH_LEGACY;
    if (n >= 262 && memcmp(bytes + 257, "ustar", 5) == 0) return DS_PTH_LEGACY_TAR;
    return DS_PTH_UNKNOWN;
}

// sys_info's "little_endian": torch's legacy loader ignores it and reads the bytes as they are,
// which is wrong for a big-endian file; refuse such a file rather than return swapped values.
static ds_status check_sys_info(const ds_pickle *pk, int32_t info, ds_err *err) {
    if (pk->vals[info].kind != DS_PK_DICT)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: the legacy sys_info pickle is not a dict (corrupt file)", pk->path);
    for (int32_t c = pk->vals[info].u.list.first; c >= 0; c = pk->cells[pk->cells[c].next].next) {
        const int32_t k = pk->cells[c].value, v = pk->cells[pk->cells[c].next].value;
        if (ds_pk_str_is(pk, k, "little_endian") && pk->vals[v].kind == DS_PK_BOOL && !pk->vals[v].u.b)
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s: saved on a big-endian machine in the legacy format, which is not supported "
                              "(load it with torch there and save it again)",
                              pk->path);
    }
    return DS_OK;
}

static ds_status header(ds_pickle *pk, size_t *pos, ds_err *err) {
    int32_t v = 0;
    DS_TRY(ds_pickle_run(pk, *pos, pk->len, "the magic-number pickle", 0, &v, pos, err));
    const ds_pk_value *m = &pk->vals[v];
    if (m->kind != DS_PK_BIGINT || m->u.span.len != 10 || memcmp(pk->buf + m->u.span.off, k_magic + 2, 10) != 0)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: wrong magic number: not a torch.save file (corrupt?)", pk->path);
    DS_TRY(ds_pickle_run(pk, *pos, pk->len, "the protocol-version pickle", 0, &v, pos, err));
    if (pk->vals[v].kind != DS_PK_INT || pk->vals[v].u.i != LEGACY_PROTOCOL_VERSION)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: legacy protocol version is not %d (corrupt file?)", pk->path,
                          LEGACY_PROTOCOL_VERSION);
    DS_TRY(ds_pickle_run(pk, *pos, pk->len, "the sys_info pickle", 0, &v, pos, err));
    return check_sys_info(pk, v, err);
}

// Walks the data section: each listed storage gets its bytes.
static ds_status storages(ds_pickle *pk, const uint8_t *buf, size_t len, int32_t keys, size_t pos, ds_err *err) {
    if (pk->vals[keys].kind != DS_PK_LIST)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: the legacy storage-key pickle is not a list (corrupt file)", pk->path);
    char shown[160];
    for (int32_t c = pk->vals[keys].u.list.first; c >= 0; c = pk->cells[c].next) {
        const ds_pk_value *k = &pk->vals[pk->cells[c].value];
        if (k->kind != DS_PK_STR)
            return ds_err_set(err, DS_ERR_FORMAT, "%s: the legacy storage-key list holds a non-string (corrupt file)",
                              pk->path);
        const char *key = (const char *)pk->buf + k->u.span.off;
        ds_escape_span(key, k->u.span.len, shown, sizeof shown);
        const int32_t i = ds_str_index_get(&pk->storage_keys, key, k->u.span.len);
        if (i < 0)
            return ds_err_set(err, DS_ERR_FORMAT, "%s: storage '%s' has data but the pickle never references it "
                              "(corrupt file)", pk->path, shown);
        ds_pk_storage *st = &pk->storages[i];
        if (st->data != NULL)
            return ds_err_set(err, DS_ERR_FORMAT, "%s: storage '%s' is listed twice (corrupt file)", pk->path, shown);
        if (len - pos < 8)
            return ds_err_set(err, DS_ERR_FORMAT, "%s: the file ends at byte %zu, inside storage '%s''s element count "
                              "(truncated file)", pk->path, len, shown);
        uint64_t count = 0;
        for (int b = 7; b >= 0; b--) count = count << 8 | buf[pos + (size_t)b];
        pos += 8;
        const uint64_t es = ds_dtype_size(st->dtype);
        if (count != st->nbytes / es)
            return ds_err_set(err, DS_ERR_FORMAT, "%s: storage '%s' is stored with %llu elements but the pickle says "
                              "%llu (corrupt file)", pk->path, shown, (unsigned long long)count,
                              (unsigned long long)(st->nbytes / es));
        if (st->nbytes > len - pos)
            return ds_err_set(err, DS_ERR_FORMAT, "%s: storage '%s' (%llu bytes at offset %zu) runs past the end of "
                              "the file (%zu bytes; truncated file)", pk->path, shown,
                              (unsigned long long)st->nbytes, pos, len);
        st->data = buf + pos;
        st->data_size = st->nbytes;
        pos += (size_t)st->nbytes;
    }
    return DS_OK;  // bytes after the last storage are ignored, as torch ignores them
}

ds_status ds_pth_legacy_load(ds_pickle *pk, const uint8_t *buf, size_t len, const char *path, int32_t *root,
                             ds_err *err) {
    ds_pickle_init(pk, buf, len, path, true);
    size_t pos = 0;
    int32_t keys;
    DS_TRY(header(pk, &pos, err));
    DS_TRY(ds_pickle_run(pk, pos, pk->len, "the main pickle", 0, root, &pos, err));
    DS_TRY(ds_pickle_run(pk, pos, pk->len, "the storage-key pickle", 0, &keys, &pos, err));
    return storages(pk, buf, len, keys, pos, err);
}
