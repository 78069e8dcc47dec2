// The allow-list: the only Python globals a checkpoint may name for the unpickler to give them a
// meaning. They are compared as strings and never imported or called; what "applying" one means
// is written out in pickle_calls.c. Everything else becomes an inert foreign value (pickle.h).
// Why each is here (docs/pth_format.md has the whole story):
//   collections.OrderedDict        every state_dict() is one (and each tensor's empty hooks dict)
//   torch._utils._rebuild_tensor_v2  how torch >= 0.4 pickles a tensor
//   torch._utils._rebuild_tensor     how torch < 0.4 pickled one (2017-era torchvision files)
//   torch._utils._rebuild_parameter(_with_state)  an nn.Parameter (state_dict(keep_vars=True))
//   torch.<Dtype>Storage, torch.storage.UntypedStorage  storage types inside persistent ids
//   torch.cuda.<Dtype>Storage      the same, as old torch versions named them for GPU tensors
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "pickle.h"
#include "pth.h"

typedef struct allowed_global {
    const char *module, *name;
    ds_pk_global id;
    ds_dtype dtype;  // DS_PG_STORAGE_TYPE only
} allowed_global;

static const allowed_global k_allowed[] = {
    {"collections", "OrderedDict", DS_PG_ORDERED_DICT, DS_F32},
    {"torch._utils", "_rebuild_tensor_v2", DS_PG_REBUILD_TENSOR_V2, DS_F32},
    {"torch._utils", "_rebuild_tensor", DS_PG_REBUILD_TENSOR, DS_F32},
    {"torch._utils", "_rebuild_parameter", DS_PG_REBUILD_PARAMETER, DS_F32},
    {"torch._utils", "_rebuild_parameter_with_state", DS_PG_REBUILD_PARAMETER_WITH_STATE, DS_F32},
    {"torch", "FloatStorage", DS_PG_STORAGE_TYPE, DS_F32},
    {"torch", "DoubleStorage", DS_PG_STORAGE_TYPE, DS_F64},
    {"torch", "HalfStorage", DS_PG_STORAGE_TYPE, DS_F16},
    {"torch", "BFloat16Storage", DS_PG_STORAGE_TYPE, DS_BF16},
    {"torch", "LongStorage", DS_PG_STORAGE_TYPE, DS_I64},
    {"torch", "IntStorage", DS_PG_STORAGE_TYPE, DS_I32},
    {"torch", "ShortStorage", DS_PG_STORAGE_TYPE, DS_I16},
    {"torch", "CharStorage", DS_PG_STORAGE_TYPE, DS_I8},
    {"torch", "ByteStorage", DS_PG_STORAGE_TYPE, DS_U8},
    {"torch", "BoolStorage", DS_PG_STORAGE_TYPE, DS_BOOL},
    // torch.save of a bare UntypedStorage; torch.load reads it as bytes (uint8).
    {"torch.storage", "UntypedStorage", DS_PG_STORAGE_TYPE, DS_U8},
    // Files saved from the GPU by old torch versions may name the CUDA storage classes; the bytes
    // in the file are the same (torch.load(weights_only=True) allows them too).
    {"torch.cuda", "FloatStorage", DS_PG_STORAGE_TYPE, DS_F32},
    {"torch.cuda", "DoubleStorage", DS_PG_STORAGE_TYPE, DS_F64},
    {"torch.cuda", "HalfStorage", DS_PG_STORAGE_TYPE, DS_F16},
    {"torch.cuda", "BFloat16Storage", DS_PG_STORAGE_TYPE, DS_BF16},
    {"torch.cuda", "LongStorage", DS_PG_STORAGE_TYPE, DS_I64},
    {"torch.cuda", "IntStorage", DS_PG_STORAGE_TYPE, DS_I32},
    {"torch.cuda", "ShortStorage", DS_PG_STORAGE_TYPE, DS_I16},
    {"torch.cuda", "CharStorage", DS_PG_STORAGE_TYPE, DS_I8},
    {"torch.cuda", "ByteStorage", DS_PG_STORAGE_TYPE, DS_U8},
    {"torch.cuda", "BoolStorage", DS_PG_STORAGE_TYPE, DS_BOOL},
};

const char *ds_pth_allowed_globals(void) {
    return "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_tensor, "
           "torch._utils._rebuild_parameter, torch._utils._rebuild_parameter_with_state, torch.FloatStorage, "
           "torch.DoubleStorage, torch.HalfStorage, torch.BFloat16Storage, torch.LongStorage, torch.IntStorage, "
           "torch.ShortStorage, torch.CharStorage, torch.ByteStorage, torch.BoolStorage, "
           "torch.storage.UntypedStorage, and torch.cuda.<same>Storage";
}

static bool span_is(const uint8_t *p, size_t n, const char *s) { return strlen(s) == n && memcmp(p, s, n) == 0; }

ds_status ds_pk_lookup_global(ds_pickle *pk, uint32_t off, uint32_t mod_len, uint32_t name_len, int32_t *out, ds_err *err) {
    const uint8_t *mod = pk->buf + off, *name = mod + mod_len + 1;
    const allowed_global *hit = NULL;
    for (size_t i = 0; i < sizeof k_allowed / sizeof k_allowed[0] && hit == NULL; i++)
        if (span_is(mod, mod_len, k_allowed[i].module) && span_is(name, name_len, k_allowed[i].name)) hit = &k_allowed[i];
    const int32_t v = ds_pk_new(pk, DS_PK_GLOBAL);
    if (v < 0) return ds_err_set(err, DS_ERR_OOM, "%s: %s: out of memory", pk->path, pk->what);
    ds_pk_value *g = &pk->vals[v];
    g->u.global.id = (uint8_t)(hit ? hit->id : DS_PG_FOREIGN);
    g->u.global.dtype = (uint8_t)(hit ? hit->dtype : DS_F32);
    g->u.global.off = off;
    g->u.global.len = mod_len + 1 + name_len;
    *out = v;
    if (hit != NULL) return DS_OK;
    // Remembered by name so that the caller can list what it ignored, once each.
    const int r = ds_str_index_put(&pk->foreign_names, (const char *)mod, g->u.global.len, v, NULL);
    if (r < 0) return ds_err_set(err, DS_ERR_OOM, "%s: %s: out of memory", pk->path, pk->what);
    if (r == 1) {
        if (pk->nforeign == pk->cap_foreign) {
            const int32_t cap = pk->cap_foreign ? pk->cap_foreign * 2 : 8;
            int32_t *list = realloc(pk->foreign_list, (size_t)cap * sizeof *list);
            if (list == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: %s: out of memory", pk->path, pk->what);
            pk->foreign_list = list;
            pk->cap_foreign = cap;
        }
        pk->foreign_list[pk->nforeign++] = v;
    }
    return DS_OK;
}
