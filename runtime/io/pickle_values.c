// The unpickler's values: one growing array of values and one of container cells, addressed by
// index (so that growth never invalidates a reference), shared by every pickle of one file.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "pickle.h"

// Makes room for one more element in a growing array of `size`-byte elements.
static int reserve(void **p, int32_t n, int32_t *cap, size_t size) {
    if (n < *cap) return 0;
    if (*cap > INT32_MAX / 2) return -1;
    const int32_t c = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, (size_t)c * size);
    if (q == NULL) return -1;
    *p = q;
    *cap = c;
    return 0;
}

int32_t ds_pk_new(ds_pickle *pk, ds_pk_kind kind) {
    if (reserve((void **)&pk->vals, pk->nvals, &pk->cap_vals, sizeof *pk->vals) != 0) return -1;
    ds_pk_value *v = &pk->vals[pk->nvals];
    memset(v, 0, sizeof *v);
    v->kind = (uint8_t)kind;
    if (kind == DS_PK_TUPLE || kind == DS_PK_LIST || kind == DS_PK_DICT || kind == DS_PK_SET)
        v->u.list.first = v->u.list.last = -1;
    return pk->nvals++;
}

int ds_pk_append(ds_pickle *pk, int32_t c, int32_t v) {
    if (reserve((void **)&pk->cells, pk->ncells, &pk->cap_cells, sizeof *pk->cells) != 0) return -1;
    const int32_t cell = pk->ncells++;
    pk->cells[cell].value = v;
    pk->cells[cell].next = -1;
    ds_pk_value *con = &pk->vals[c];
    if (con->u.list.last >= 0)
        pk->cells[con->u.list.last].next = cell;
    else
        con->u.list.first = cell;
    con->u.list.last = cell;
    con->u.list.count++;
    return 0;
}

int32_t ds_pk_item(const ds_pickle *pk, int32_t c, int32_t i) {
    int32_t cell = pk->vals[c].u.list.first;
    while (i-- > 0) cell = pk->cells[cell].next;
    return pk->cells[cell].value;
}

bool ds_pk_str_is(const ds_pickle *pk, int32_t v, const char *s) {
    const ds_pk_value *x = &pk->vals[v];
    return x->kind == DS_PK_STR && x->u.span.len == strlen(s) && memcmp(pk->buf + x->u.span.off, s, x->u.span.len) == 0;
}

const char *ds_pk_global_name(const ds_pickle *pk, int32_t g, char *buf, size_t cap) {
    // "module\nname" as written; shown as "module.name".
    const ds_pk_value *x = &pk->vals[g];
    char tmp[512];
    const size_t n = x->u.global.len < sizeof tmp ? x->u.global.len : sizeof tmp - 1;
    memcpy(tmp, pk->buf + x->u.global.off, n);
    for (size_t i = 0; i < n; i++)
        if (tmp[i] == '\n') tmp[i] = '.';
    return ds_escape_span(tmp, n, buf, cap);
}

const char *ds_pk_describe(const ds_pickle *pk, int32_t v, char *buf, size_t cap) {
    static const char *const names[] = {
        [DS_PK_NONE] = "None",          [DS_PK_BOOL] = "a bool",        [DS_PK_INT] = "an int",
        [DS_PK_BIGINT] = "an int",      [DS_PK_FLOAT] = "a float",      [DS_PK_STR] = "a string",
        [DS_PK_TUPLE] = "a tuple",      [DS_PK_LIST] = "a list",        [DS_PK_DICT] = "a dict",
        [DS_PK_SET] = "a set",          [DS_PK_GLOBAL] = "a global",    [DS_PK_FOREIGN] = "an object",
        [DS_PK_STORAGE] = "a storage",  [DS_PK_TENSOR] = "a tensor",
    };
    const ds_pk_value *x = &pk->vals[v];
    char name[200];
    if (x->kind == DS_PK_GLOBAL)
        snprintf(buf, cap, "the global %s", ds_pk_global_name(pk, v, name, sizeof name));
    else if (x->kind == DS_PK_FOREIGN)
        snprintf(buf, cap, "an object made by %s", ds_pk_global_name(pk, x->u.foreign, name, sizeof name));
    else
        snprintf(buf, cap, "%s", names[x->kind]);
    return buf;
}
