// One state dict tensor made usable: its size, strides and offset checked against its storage's
// bytes (every index stays inside them, whatever the file claims), then a view of the file when
// it is contiguous and aligned, or a contiguous copy.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "escape.h"
#include "pth_internal.h"
#include "safetensors_internal.h"

// Element count of a shape; false when it overflows 2^62.
static bool numel_of(const int64_t *shape, int ndim, uint64_t *out) {
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) n = 0;
    for (int i = 0; i < ndim && n > 0; i++) {
        if ((uint64_t)shape[i] > (UINT64_MAX >> 2) / n) return false;
        n *= (uint64_t)shape[i];
    }
    *out = n;
    return true;
}

// The largest element index the tensor touches: offset + sum((size - 1) * stride); false on
// overflow. Sizes, strides and the offset are non-negative (pickle_calls.c checks).
static bool last_index(const ds_pk_tensor *t, uint64_t *out) {
    uint64_t last = (uint64_t)t->offset;
    for (int i = 0; i < t->ndim; i++) {
        const uint64_t span = (uint64_t)t->shape[i] - 1, stride = (uint64_t)t->stride[i];
        if (stride != 0 && span > (UINT64_MAX >> 2) / stride) return false;
        if (last > (UINT64_MAX >> 2) - span * stride) return false;
        last += span * stride;
    }
    *out = last;
    return true;
}

// torch's notion: strides are row-major, ignoring dims of size 1.
static bool is_contiguous(const ds_pk_tensor *t) {
    int64_t want = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 1) continue;
        if (t->stride[i] != want) return false;
        want *= t->shape[i];
    }
    return true;
}

// Gathers the strided elements at `base` into dst row-major, reversing each element's bytes
// when swap (a big-endian file).
static void gather(const uint8_t *base, const ds_pk_tensor *t, size_t es, uint64_t numel, bool swap, uint8_t *dst) {
    int64_t idx[DS_MAX_DIMS] = {0};
    uint64_t off = 0;  // element offset of idx: sum(idx[d] * stride[d])
    for (uint64_t n = 0; n < numel; n++) {
        const uint8_t *src = base + off * es;
        uint8_t *out = dst + n * es;
        for (size_t b = 0; b < es; b++) out[b] = src[swap ? es - 1 - b : b];
        for (int d = t->ndim - 1; d >= 0; d--) {  // next index, last dim fastest
            if (++idx[d] < t->shape[d]) {
                off += (uint64_t)t->stride[d];
                break;
            }
            off -= (uint64_t)(t->shape[d] - 1) * (uint64_t)t->stride[d];
            idx[d] = 0;
        }
    }
}

static ds_status check(const ds_pickle *pk, const ds_pk_tensor *t, const ds_pk_storage_ref *ref,
                       const ds_pk_storage *st, const char *name, uint64_t numel, ds_err *err) {
    char key[160], s[160];
    ds_escape_span((const char *)pk->buf + st->key_off, st->key_len, key, sizeof key);
    if (numel == 0) return DS_OK;  // touches no element: any storage will do
    if (st->data == NULL)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s': its storage '%s' has no data in the file "
                          "(missing zip entry, or not in the legacy storage list)", pk->path, name, key);
    if (st->data_size < st->nbytes)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s': storage '%s' holds %llu bytes but its persistent id "
                          "says %llu", pk->path, name, key, (unsigned long long)st->data_size,
                          (unsigned long long)st->nbytes);
    uint64_t last = 0;
    const bool fits = last_index(t, &last);
    if (!fits || last >= ref->numel) {
        char st_s[160], at[48];
        if (fits)
            snprintf(at, sizeof at, "element %llu", (unsigned long long)last);
        else
            snprintf(at, sizeof at, "beyond element 2^62");
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: tensor '%s': size %s, stride %s and storage offset %lld reach %s of its storage '%s', "
                          "which holds %llu (corrupt file)",
                          pk->path, name, ds_st_shape_str(t->shape, t->ndim, s, sizeof s),
                          ds_st_shape_str(t->stride, t->ndim, st_s, sizeof st_s), (long long)t->offset, at, key,
                          (unsigned long long)ref->numel);
    }
    return DS_OK;
}

ds_status ds_pth_materialize(const ds_pickle *pk, int32_t ti, const char *name, bool big_endian, uint64_t *copy_budget,
                             ds_pth_tensor *out, ds_err *err) {
    const ds_pk_tensor *t = &pk->tensors[ti];
    const ds_pk_storage_ref *ref = &pk->refs[t->ref];
    const ds_pk_storage *st = &pk->storages[ref->storage];
    char shown[200];
    ds_escape_span(name, strlen(name), shown, sizeof shown);
    memset(out, 0, sizeof *out);
    if (t->has_metadata)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: tensor '%s' was saved with tensor metadata (a lazily negated view such as "
                          "torch._neg_view gives), which is not supported: save t.resolve_neg() instead",
                          pk->path, shown);
    if (t->ndim > DS_MAX_DIMS)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s' has %d dims; downstream supports at most %d", pk->path,
                          shown, t->ndim, DS_MAX_DIMS);
    uint64_t numel = 0;
    char s[160];
    if (!numel_of(t->shape, t->ndim, &numel))
        return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s': size %s is impossibly large", pk->path, shown,
                          ds_st_shape_str(t->shape, t->ndim, s, sizeof s));
    DS_TRY(check(pk, t, ref, st, shown, numel, err));
    const size_t es = ds_dtype_size(ref->dtype);
    out->dtype = ref->dtype;
    out->ndim = t->ndim;
    memcpy(out->shape, t->shape, sizeof t->shape);
    memcpy(out->stride, t->stride, sizeof t->stride);
    out->storage_offset = t->offset;
    out->name = strdup(name);
    out->storage_key = malloc((size_t)st->key_len + 1);
    if (out->name == NULL || out->storage_key == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", pk->path);
    memcpy(out->storage_key, pk->buf + st->key_off, st->key_len);
    out->storage_key[st->key_len] = '\0';
    out->nbytes = (size_t)(numel * es);
    if (numel == 0) {
        // Never read; an aligned non-NULL address, so that it is a valid empty view of any dtype.
        static const _Alignas(64) uint8_t k_empty[64];
        out->data = k_empty;
        return DS_OK;
    }
    const uint8_t *base = st->data + (ref->elem_offset + (uint64_t)t->offset) * es;
    if (is_contiguous(t) && !(big_endian && es > 1) && (uintptr_t)base % es == 0) {
        out->data = base;
        return DS_OK;
    }
    if (out->nbytes > *copy_budget)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: tensor '%s': its contiguous copy (%zu bytes) exceeds the %llu bytes left to this "
                          "file's copies (4x its size + 64 MiB): its views expand or overlap far beyond the file's "
                          "size (a crafted file?)",
                          pk->path, shown, out->nbytes, (unsigned long long)*copy_budget);
    *copy_budget -= out->nbytes;
    out->owned = aligned_alloc(64, (out->nbytes + 63) / 64 * 64);
    if (out->owned == NULL)
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory copying tensor '%s' (%zu bytes)", pk->path, shown,
                          out->nbytes);
    gather(base, t, es, numel, big_endian && es > 1, out->owned);
    out->data = out->owned;
    return DS_OK;
}
