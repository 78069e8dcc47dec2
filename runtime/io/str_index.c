#include "str_index.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

// The slot holding key, or the empty slot where it belongs. cap must be a non-zero power of two
// with at least one empty slot (the load factor stays below 1/2).
static ds_str_index_slot *find_slot(ds_str_index_slot *slots, size_t cap, const char *key, size_t len) {
    size_t i = (size_t)hash(key, len) & (cap - 1);
    for (;;) {
        ds_str_index_slot *s = &slots[i];
        if (s->key == NULL || (s->len == len && memcmp(s->key, key, len) == 0)) return s;
        i = (i + 1) & (cap - 1);
    }
}

static int grow(ds_str_index *ix) {
    const size_t cap = ix->cap ? ix->cap * 2 : 16;
    ds_str_index_slot *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return -1;
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->slots[i].key != NULL) *find_slot(slots, cap, ix->slots[i].key, ix->slots[i].len) = ix->slots[i];
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    return 0;
}

int ds_str_index_put(ds_str_index *ix, const char *key, size_t len, int32_t value, int32_t *existing) {
    if ((ix->count + 1) * 2 > ix->cap && grow(ix) != 0) return -1;
    ds_str_index_slot *s = find_slot(ix->slots, ix->cap, key, len);
    if (s->key != NULL) {
        if (existing != NULL) *existing = s->value;
        return 0;
    }
    s->key = key;
    s->len = len;
    s->value = value;
    ix->count++;
    return 1;
}

int32_t ds_str_index_get(const ds_str_index *ix, const char *key, size_t len) {
    if (ix->cap == 0) return -1;
    const ds_str_index_slot *s = find_slot(ix->slots, ix->cap, key, len);
    return s->key != NULL ? s->value : -1;
}

void ds_str_index_free(ds_str_index *ix) {
    free(ix->slots);
    memset(ix, 0, sizeof *ix);
}
