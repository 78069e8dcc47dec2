// Which dict of a checkpoint is the model's state dict, and its tensors' flattened names.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "escape.h"
#include "pth_internal.h"

// Keys under which training scripts keep the model's state dict, in the order they are tried:
// torchvision's references save {"model": ..., "optimizer": ..., "lr_scheduler": ..., "epoch": ...,
// "args": ...}; Lightning and many others use "state_dict"; PyTorch tutorials "model_state_dict".
static const char *const k_state_dict_keys[] = {"model", "state_dict", "model_state_dict"};

// The value under string key `key` of dict d, or -1.
static int32_t dict_get(const ds_pickle *pk, int32_t d, const char *key) {
    for (int32_t c = pk->vals[d].u.list.first; c >= 0; c = pk->cells[pk->cells[c].next].next)
        if (ds_pk_str_is(pk, pk->cells[c].value, key)) return pk->cells[pk->cells[c].next].value;
    return -1;
}

static ds_status not_a_state_dict(const ds_pickle *pk, int32_t v, const char *where, ds_err *err) {
    char d[200];
    const ds_pk_value *x = &pk->vals[v];
    if (x->kind == DS_PK_FOREIGN)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: %s is %s, not a state dict: refused (downstream never calls Python globals; a whole "
                          "pickled nn.Module is refused too: save model.state_dict() with torch.save)",
                          pk->path, where, ds_pk_describe(pk, v, d, sizeof d));
    return ds_err_set(err, DS_ERR_FORMAT, "%s: %s is %s, not a state dict (a dict of tensors)", pk->path, where,
                      ds_pk_describe(pk, v, d, sizeof d));
}

ds_status ds_pth_find_state_dict(const ds_pickle *pk, int32_t root, int32_t *dict, const char **key, ds_err *err) {
    if (pk->vals[root].kind != DS_PK_DICT) return not_a_state_dict(pk, root, "the checkpoint", err);
    for (size_t i = 0; i < sizeof k_state_dict_keys / sizeof k_state_dict_keys[0]; i++) {
        const int32_t v = dict_get(pk, root, k_state_dict_keys[i]);
        if (v < 0 || pk->vals[v].kind == DS_PK_TENSOR) continue;  // a tensor called "model" is a state dict entry
        if (pk->vals[v].kind != DS_PK_DICT) {
            char where[64];
            snprintf(where, sizeof where, "the checkpoint's '%s'", k_state_dict_keys[i]);
            return not_a_state_dict(pk, v, where, err);
        }
        *dict = v;
        *key = k_state_dict_keys[i];
        return DS_OK;
    }
    *dict = root;
    *key = "";
    return DS_OK;
}

typedef struct flat {
    const ds_pickle *pk;
    uint8_t *seen;  // (nvals) 1 for each dict already flattened
    ds_pth_named *out;
    int count, cap;
    size_t name_budget;  // bytes the flattened names may still take (see ds_pth_flatten)
} flat;

static ds_status add(flat *fl, char *name, int32_t tensor, ds_err *err) {
    if (fl->count == fl->cap) {
        const int cap = fl->cap ? fl->cap * 2 : 64;
        ds_pth_named *p = realloc(fl->out, (size_t)cap * sizeof *p);
        if (p == NULL) {
            free(name);
            return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", fl->pk->path);
        }
        fl->out = p;
        fl->cap = cap;
    }
    fl->out[fl->count++] = (ds_pth_named){name, tensor};
    return DS_OK;
}

static ds_status walk(flat *fl, int32_t dict, const char *prefix, int depth, ds_err *err);

// One item of a state dict: its key (a string) and value (a tensor, or a dict to flatten).
static ds_status item(flat *fl, int32_t key, int32_t value, const char *prefix, int index, int depth, ds_err *err) {
    const ds_pickle *pk = fl->pk;
    char d[200], shown[200];
    const ds_pk_value *k = &pk->vals[key];
    if (k->kind != DS_PK_STR)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: state dict key #%d%s%s%s is %s, not a string", pk->path, index,
                          *prefix ? " under '" : "", ds_escape_span(prefix, strlen(prefix), shown, sizeof shown),
                          *prefix ? "'" : "", ds_pk_describe(pk, key, d, sizeof d));
    const char *ks = (const char *)pk->buf + k->u.span.off;
    const size_t plen = strlen(prefix), klen = k->u.span.len;
    if (plen + 1 + klen + 1 > fl->name_budget)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: the state dict's flattened names grow beyond any real model's (deeply nested dicts "
                          "with long keys: a crafted file?)",
                          pk->path);
    fl->name_budget -= plen + 1 + klen + 1;
    char *name = malloc(plen + (plen > 0) + klen + 1);
    if (name == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", pk->path);
    memcpy(name, prefix, plen);
    if (plen > 0) name[plen] = '.';
    memcpy(name + plen + (plen > 0), ks, klen);
    name[plen + (plen > 0) + klen] = '\0';
    ds_escape_span(name, plen + (plen > 0) + klen, shown, sizeof shown);
    ds_status s = DS_OK;
    const ds_pk_value *v = &pk->vals[value];
    if (memchr(ks, '\0', klen) != NULL) {
        s = ds_err_set(err, DS_ERR_FORMAT, "%s: state dict key '%s' holds a NUL byte", pk->path, shown);
    } else if (v->kind == DS_PK_TENSOR) {
        return add(fl, name, v->u.tensor, err);  // add owns name now
    } else if (v->kind == DS_PK_DICT) {
        s = walk(fl, value, name, depth + 1, err);
    } else if (v->kind == DS_PK_FOREIGN || v->kind == DS_PK_GLOBAL) {
        s = ds_err_set(err, DS_ERR_FORMAT,
                       "%s: state dict entry '%s' is %s: refused (downstream never calls Python globals; a state "
                       "dict holds tensors and dicts of tensors, see docs/pth_format.md)",
                       pk->path, shown, ds_pk_describe(pk, value, d, sizeof d));
    } else {
        s = ds_err_set(err, DS_ERR_FORMAT, "%s: state dict entry '%s' is %s, not a tensor", pk->path, shown,
                       ds_pk_describe(pk, value, d, sizeof d));
    }
    free(name);
    return s;
}

static ds_status walk(flat *fl, int32_t dict, const char *prefix, int depth, ds_err *err) {
    const ds_pickle *pk = fl->pk;
    char shown[200];
    if (depth > DS_PTH_MAX_NESTING)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: the state dict nests dicts more than %d deep (at '%s')", pk->path,
                          DS_PTH_MAX_NESTING, ds_escape_span(prefix, strlen(prefix), shown, sizeof shown));
    if (fl->seen[dict])
        return ds_err_set(err, DS_ERR_FORMAT, "%s: the dict at '%s' appears in the state dict a second time", pk->path,
                          ds_escape_span(prefix, strlen(prefix), shown, sizeof shown));
    fl->seen[dict] = 1;
    int index = 0;
    for (int32_t c = pk->vals[dict].u.list.first; c >= 0; c = pk->cells[pk->cells[c].next].next, index++)
        DS_TRY(item(fl, pk->cells[c].value, pk->cells[pk->cells[c].next].value, prefix, index, depth, err));
    return DS_OK;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static ds_status check_unique(const flat *fl, ds_err *err) {
    if (fl->count < 2) return DS_OK;
    const char **names = malloc((size_t)fl->count * sizeof *names);
    if (names == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", fl->pk->path);
    for (int i = 0; i < fl->count; i++) names[i] = fl->out[i].name;
    qsort(names, (size_t)fl->count, sizeof *names, cmp_name);
    ds_status s = DS_OK;
    char shown[200];
    for (int i = 1; i < fl->count && s == DS_OK; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            s = ds_err_set(err, DS_ERR_FORMAT, "%s: tensor name '%s' appears twice in the state dict", fl->pk->path,
                           ds_escape_span(names[i], strlen(names[i]), shown, sizeof shown));
    free(names);
    return s;
}

ds_status ds_pth_flatten(const ds_pickle *pk, int32_t dict, ds_pth_named **out, int *count, ds_err *err) {
    // Nested dicts repeat their prefix in every name below them; bounding the names' total by the
    // pickle's size (16 bytes per value it made: real names take a fraction of that) keeps a small
    // crafted file from demanding gigabytes of names.
    flat fl = {.pk = pk, .name_budget = (size_t)pk->nvals * 16 + ((size_t)1 << 20)};
    *out = NULL;
    *count = 0;
    fl.seen = calloc((size_t)pk->nvals, 1);
    if (fl.seen == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", pk->path);
    ds_status s = walk(&fl, dict, "", 0, err);
    if (s == DS_OK) s = check_unique(&fl, err);
    free(fl.seen);
    if (s != DS_OK) {
        for (int i = 0; i < fl.count; i++) free(fl.out[i].name);
        free(fl.out);
        return s;
    }
    *out = fl.out;
    *count = fl.count;
    return DS_OK;
}
