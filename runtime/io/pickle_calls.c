// What REDUCE, NEWOBJ, BUILD and BINPERSID mean in the restricted unpickler. Nothing is called:
// an allowed global's effect is written out here (an empty dict, a tensor descriptor, a storage
// reference), each argument checked for the type torch passes; a foreign global's "result" is
// an inert foreign value.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "escape.h"
#include "pickle.h"

static ds_status oom(ds_pickle *pk, ds_err *err) {
    return ds_err_set(err, DS_ERR_OOM, "%s: %s: out of memory", pk->path, pk->what);
}

static const ds_pk_value *val(const ds_pickle *pk, int32_t v) { return &pk->vals[v]; }

static ds_status new_foreign(ds_pickle *pk, int32_t global, int32_t *out, ds_err *err) {
    const int32_t v = ds_pk_new(pk, DS_PK_FOREIGN);
    if (v < 0) return oom(pk, err);
    pk->vals[v].u.foreign = global;
    *out = v;
    return DS_OK;
}

// An argument that must be a non-negative int.
static ds_status arg_count(ds_pickle *pk, int32_t v, const char *what, int64_t *out, ds_err *err) {
    if (val(pk, v)->kind != DS_PK_INT || val(pk, v)->u.i < 0) {
        char d[200];
        return ds_pk_fail(pk, err, "%s must be a non-negative int, got %s", what,
                          val(pk, v)->kind == DS_PK_INT ? "a negative int" : ds_pk_describe(pk, v, d, sizeof d));
    }
    *out = val(pk, v)->u.i;
    return DS_OK;
}

// The backward hooks torch pickles with a tensor or parameter: always an empty OrderedDict
// (non-empty ones would name functions, which this reader never loads).
static ds_status check_no_hooks(ds_pickle *pk, int32_t v, const char *fn, ds_err *err) {
    if (val(pk, v)->kind != DS_PK_DICT || val(pk, v)->u.list.count != 0) {
        char d[200];
        return ds_pk_fail(pk, err, "%s's backward_hooks must be an empty dict, got %s%s", fn,
                          ds_pk_describe(pk, v, d, sizeof d),
                          val(pk, v)->kind == DS_PK_DICT ? " with items (hooks are not loaded)" : "");
    }
    return DS_OK;
}

// Size or stride: a tuple of non-negative ints; keeps the first DS_MAX_DIMS.
static ds_status dims(ds_pickle *pk, int32_t v, const char *what, int64_t *out, int *n, ds_err *err) {
    if (val(pk, v)->kind != DS_PK_TUPLE) {
        char d[200];
        return ds_pk_fail(pk, err, "tensor %s must be a tuple of ints, got %s", what, ds_pk_describe(pk, v, d, sizeof d));
    }
    *n = val(pk, v)->u.list.count;
    // torch tensors have at most a few dozen dims; bounding them here also keeps a crafted pickle
    // that rebuilds one huge size tuple over and over from costing quadratic time.
    if (*n > 64) return ds_pk_fail(pk, err, "tensor %s has %d dims; torch tensors have at most 64", what, *n);
    int i = 0;
    for (int32_t c = val(pk, v)->u.list.first; c >= 0; c = pk->cells[c].next, i++) {
        int64_t x = 0;
        char name[48];
        snprintf(name, sizeof name, "tensor %s[%d]", what, i);
        DS_TRY(arg_count(pk, pk->cells[c].value, name, &x, err));
        if (i < DS_MAX_DIMS) out[i] = x;
    }
    return DS_OK;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// and _rebuild_tensor(storage, storage_offset, size, stride) (torch < 0.4).
static ds_status rebuild_tensor(ds_pickle *pk, int32_t args, bool v2, int32_t *out, ds_err *err) {
    const char *fn = v2 ? "torch._utils._rebuild_tensor_v2" : "torch._utils._rebuild_tensor";
    const int32_t n = val(pk, args)->u.list.count;
    if (v2 ? (n != 6 && n != 7) : n != 4)
        return ds_pk_fail(pk, err, "%s takes %s arguments, got %d", fn, v2 ? "6 or 7" : "4", n);
    int32_t a[7];
    for (int32_t i = 0; i < n; i++) a[i] = ds_pk_item(pk, args, i);
    char d[200];
    if (val(pk, a[0])->kind != DS_PK_STORAGE)
        return ds_pk_fail(pk, err, "%s's first argument must be a storage (a persistent id), got %s", fn,
                          ds_pk_describe(pk, a[0], d, sizeof d));
    ds_pk_tensor t = {.ref = val(pk, a[0])->u.ref, .at = (uint32_t)(pk->op_at - pk->base)};
    DS_TRY(arg_count(pk, a[1], "tensor storage_offset", &t.offset, err));
    int nstride = 0;
    DS_TRY(dims(pk, a[2], "size", t.shape, &t.ndim, err));
    DS_TRY(dims(pk, a[3], "stride", t.stride, &nstride, err));
    if (nstride != t.ndim)
        return ds_pk_fail(pk, err, "tensor size has %d dims but its stride %d", t.ndim, nstride);
    if (v2) {
        if (val(pk, a[4])->kind != DS_PK_BOOL)
            return ds_pk_fail(pk, err, "%s's requires_grad must be a bool, got %s", fn,
                              ds_pk_describe(pk, a[4], d, sizeof d));
        DS_TRY(check_no_hooks(pk, a[5], fn, err));
        if (n == 7) {
            const ds_pk_value *m = val(pk, a[6]);
            if (m->kind != DS_PK_NONE && m->kind != DS_PK_DICT)
                return ds_pk_fail(pk, err, "%s's metadata must be a dict or None, got %s", fn,
                                  ds_pk_describe(pk, a[6], d, sizeof d));
            t.has_metadata = m->kind == DS_PK_DICT && m->u.list.count > 0;
        }
    }
    if (pk->ntensors == pk->cap_tensors) {
        const int32_t cap = pk->cap_tensors ? pk->cap_tensors * 2 : 64;
        ds_pk_tensor *p = realloc(pk->tensors, (size_t)cap * sizeof *p);
        if (p == NULL) return oom(pk, err);
        pk->tensors = p;
        pk->cap_tensors = cap;
    }
    const int32_t v = ds_pk_new(pk, DS_PK_TENSOR);
    if (v < 0) return oom(pk, err);
    pk->tensors[pk->ntensors] = t;
    pk->vals[v].u.tensor = pk->ntensors++;
    *out = v;
    return DS_OK;
}

// _rebuild_parameter(data, requires_grad, backward_hooks) and ..._with_state(..., state): the
// parameter is its data tensor here (the state, Python attributes, is not used).
static ds_status rebuild_parameter(ds_pickle *pk, int32_t args, bool with_state, int32_t *out, ds_err *err) {
    const char *fn = with_state ? "torch._utils._rebuild_parameter_with_state" : "torch._utils._rebuild_parameter";
    const int32_t n = val(pk, args)->u.list.count;
    if (n != (with_state ? 4 : 3)) return ds_pk_fail(pk, err, "%s takes %d arguments, got %d", fn, with_state ? 4 : 3, n);
    const int32_t data = ds_pk_item(pk, args, 0), grad = ds_pk_item(pk, args, 1), hooks = ds_pk_item(pk, args, 2);
    char d[200];
    if (val(pk, data)->kind != DS_PK_TENSOR)
        return ds_pk_fail(pk, err, "%s's data must be a tensor, got %s", fn, ds_pk_describe(pk, data, d, sizeof d));
    if (val(pk, grad)->kind != DS_PK_BOOL)
        return ds_pk_fail(pk, err, "%s's requires_grad must be a bool, got %s", fn, ds_pk_describe(pk, grad, d, sizeof d));
    DS_TRY(check_no_hooks(pk, hooks, fn, err));
    *out = data;
    return DS_OK;
}

ds_status ds_pk_reduce(ds_pickle *pk, int32_t callable, int32_t args, int32_t *out, ds_err *err) {
    char d[200], g[200];
    const ds_pk_value *c = val(pk, callable);
    if (c->kind == DS_PK_FOREIGN) return new_foreign(pk, c->u.foreign, out, err);
    if (c->kind != DS_PK_GLOBAL)
        return ds_pk_fail(pk, err, "REDUCE calls %s, which is not a global", ds_pk_describe(pk, callable, d, sizeof d));
    if (val(pk, args)->kind != DS_PK_TUPLE)
        return ds_pk_fail(pk, err, "REDUCE's arguments for %s must be a tuple, got %s",
                          ds_pk_global_name(pk, callable, g, sizeof g), ds_pk_describe(pk, args, d, sizeof d));
    switch ((ds_pk_global)c->u.global.id) {
    case DS_PG_FOREIGN: return new_foreign(pk, callable, out, err);
    case DS_PG_ORDERED_DICT:
        if (val(pk, args)->u.list.count != 0)
            return ds_pk_fail(pk, err, "collections.OrderedDict is called with arguments; torch.save calls it with none");
        *out = ds_pk_new(pk, DS_PK_DICT);
        return *out < 0 ? oom(pk, err) : DS_OK;
    case DS_PG_REBUILD_TENSOR_V2: return rebuild_tensor(pk, args, true, out, err);
    case DS_PG_REBUILD_TENSOR: return rebuild_tensor(pk, args, false, out, err);
    case DS_PG_REBUILD_PARAMETER: return rebuild_parameter(pk, args, false, out, err);
    case DS_PG_REBUILD_PARAMETER_WITH_STATE: return rebuild_parameter(pk, args, true, out, err);
    default:  // DS_PG_STORAGE_TYPE
        return ds_pk_fail(pk, err, "%s is a storage type: it may only appear inside a persistent id, not be called",
                          ds_pk_global_name(pk, callable, g, sizeof g));
    }
}

ds_status ds_pk_newobj(ds_pickle *pk, int32_t cls, int32_t args, int32_t *out, ds_err *err) {
    char d[200];
    const ds_pk_value *c = val(pk, cls);
    if (val(pk, args)->kind != DS_PK_TUPLE)
        return ds_pk_fail(pk, err, "NEWOBJ's arguments must be a tuple, got %s", ds_pk_describe(pk, args, d, sizeof d));
    if (c->kind == DS_PK_FOREIGN) return new_foreign(pk, c->u.foreign, out, err);
    if (c->kind == DS_PK_GLOBAL && c->u.global.id == DS_PG_FOREIGN) return new_foreign(pk, cls, out, err);
    return ds_pk_fail(pk, err, "NEWOBJ instantiates %s; torch.save never does",
                      ds_pk_describe(pk, cls, d, sizeof d));
}

ds_status ds_pk_build(ds_pickle *pk, int32_t inst, int32_t state, ds_err *err) {
    (void)state;  // never applied: a dict's attributes (OrderedDict._metadata) and foreign state are not used
    const ds_pk_kind k = (ds_pk_kind)val(pk, inst)->kind;
    if (k == DS_PK_DICT || k == DS_PK_FOREIGN) return DS_OK;
    char d[200];
    return ds_pk_fail(pk, err, "BUILD sets the state of %s; torch.save builds only an OrderedDict (its _metadata)",
                      ds_pk_describe(pk, inst, d, sizeof d));
}

static ds_status add_storage(ds_pickle *pk, int32_t key, ds_dtype dtype, uint64_t nbytes, int32_t *index,
                             ds_err *err) {
    const ds_pk_value *k = val(pk, key);
    const char *s = (const char *)pk->buf + k->u.span.off;
    int32_t existing = -1;
    const int r = ds_str_index_put(&pk->storage_keys, s, k->u.span.len, pk->nstorages, &existing);
    if (r < 0) return oom(pk, err);
    if (r == 0) {
        const ds_pk_storage *st = &pk->storages[existing];
        if (st->nbytes != nbytes) {
            char name[160];
            return ds_pk_fail(pk, err, "storage '%s' is referenced as %llu bytes and as %llu bytes",
                              ds_escape_span(s, k->u.span.len, name, sizeof name), (unsigned long long)st->nbytes,
                              (unsigned long long)nbytes);
        }
        *index = existing;
        return DS_OK;
    }
    if (pk->nstorages == pk->cap_storages) {
        const int32_t cap = pk->cap_storages ? pk->cap_storages * 2 : 64;
        ds_pk_storage *p = realloc(pk->storages, (size_t)cap * sizeof *p);
        if (p == NULL) return oom(pk, err);
        pk->storages = p;
        pk->cap_storages = cap;
    }
    pk->storages[pk->nstorages] = (ds_pk_storage){.key_off = k->u.span.off, .key_len = k->u.span.len,
                                                  .dtype = dtype, .nbytes = nbytes};
    *index = pk->nstorages++;
    return DS_OK;
}

// Legacy view_metadata: None, or (view_key, offset, size) in elements of the storage's dtype.
static ds_status view_window(ds_pickle *pk, int32_t view, uint64_t numel, ds_pk_storage_ref *ref, ds_err *err) {
    char d[200];
    const ds_pk_value *v = val(pk, view);
    if (v->kind == DS_PK_NONE) return DS_OK;
    if (v->kind != DS_PK_TUPLE || v->u.list.count != 3 || val(pk, ds_pk_item(pk, view, 0))->kind != DS_PK_STR)
        return ds_pk_fail(pk, err, "a storage's view_metadata must be None or (key, offset, size), got %s",
                          ds_pk_describe(pk, view, d, sizeof d));
    int64_t off = 0, size = 0;
    DS_TRY(arg_count(pk, ds_pk_item(pk, view, 1), "a storage view's offset", &off, err));
    DS_TRY(arg_count(pk, ds_pk_item(pk, view, 2), "a storage view's size", &size, err));
    if ((uint64_t)off > numel || (uint64_t)size > numel - (uint64_t)off)
        return ds_pk_fail(pk, err, "a storage view [%lld, %lld + %lld) runs past its storage of %llu elements",
                          (long long)off, (long long)off, (long long)size, (unsigned long long)numel);
    ref->elem_offset = (uint64_t)off;
    ref->numel = (uint64_t)size;
    return DS_OK;
}

// ('storage', storage_type, key, location, numel) in the zip format, plus view_metadata in the
// legacy one: a reference to the storage `key` (its bytes come from the format layer).
ds_status ds_pk_persistent_load(ds_pickle *pk, int32_t pid, int32_t *out, ds_err *err) {
    char d[200];
    const int32_t want = pk->legacy ? 6 : 5;
    if (val(pk, pid)->kind != DS_PK_TUPLE || val(pk, pid)->u.list.count != want)
        return ds_pk_fail(pk, err, "a persistent id must be a %d-tuple ('storage', type, key, location, numel%s), got %s",
                          want, pk->legacy ? ", view" : "", ds_pk_describe(pk, pid, d, sizeof d));
    int32_t f[6];
    for (int32_t i = 0; i < want; i++) f[i] = ds_pk_item(pk, pid, i);
    if (!ds_pk_str_is(pk, f[0], "storage")) {
        const ds_pk_value *k = val(pk, f[0]);
        if (k->kind == DS_PK_STR)
            ds_escape_span((const char *)pk->buf + k->u.span.off, k->u.span.len, d, sizeof d);
        return ds_pk_fail(pk, err, "persistent id of type '%s'; torch.save writes only 'storage' ids",
                          k->kind == DS_PK_STR ? d : ds_pk_describe(pk, f[0], d, sizeof d));
    }
    const ds_pk_value *type = val(pk, f[1]);
    if (type->kind != DS_PK_GLOBAL || type->u.global.id != DS_PG_STORAGE_TYPE)
        return ds_pk_fail(pk, err,
                          "storage type %s is not supported (downstream reads torch[.cuda].{Float,Double,Half,BFloat16,"
                          "Long,Int,Short,Char,Byte,Bool}Storage and torch.storage.UntypedStorage)",
                          ds_pk_describe(pk, f[1], d, sizeof d));
    if (val(pk, f[2])->kind != DS_PK_STR)
        return ds_pk_fail(pk, err, "a storage key must be a string, got %s", ds_pk_describe(pk, f[2], d, sizeof d));
    if (val(pk, f[3])->kind != DS_PK_STR)
        return ds_pk_fail(pk, err, "a storage location must be a string, got %s", ds_pk_describe(pk, f[3], d, sizeof d));
    int64_t numel = 0;
    DS_TRY(arg_count(pk, f[4], "a storage's numel", &numel, err));
    const ds_dtype dtype = (ds_dtype)type->u.global.dtype;
    const uint64_t es = ds_dtype_size(dtype);
    if ((uint64_t)numel > (UINT64_MAX >> 2) / es)
        return ds_pk_fail(pk, err, "a storage of %lld elements is impossibly large", (long long)numel);
    ds_pk_storage_ref ref = {.dtype = dtype, .numel = (uint64_t)numel};
    DS_TRY(add_storage(pk, f[2], dtype, (uint64_t)numel * es, &ref.storage, err));
    if (pk->legacy) DS_TRY(view_window(pk, f[5], (uint64_t)numel, &ref, err));
    if (pk->nrefs == pk->cap_refs) {
        const int32_t cap = pk->cap_refs ? pk->cap_refs * 2 : 64;
        ds_pk_storage_ref *p = realloc(pk->refs, (size_t)cap * sizeof *p);
        if (p == NULL) return oom(pk, err);
        pk->refs = p;
        pk->cap_refs = cap;
    }
    const int32_t v = ds_pk_new(pk, DS_PK_STORAGE);
    if (v < 0) return oom(pk, err);
    pk->refs[pk->nrefs] = ref;
    pk->vals[v].u.ref = pk->nrefs++;
    *out = v;
    return DS_OK;
}
