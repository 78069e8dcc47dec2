#include "label_map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"

void ds_label_map_init(ds_label_map *m) { memset(m, 0, sizeof *m); }

void ds_label_map_free(ds_label_map *m) {
    for (int32_t i = 0; i < m->count; i++) free(m->names[i]);
    free(m->names);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

// FNV-1a, 64-bit: a simple, well-spread hash for short strings.
static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

// The slot holding name, or the empty slot where it would go. slot_count is a power of two
// and never more than half full, so the probe ends.
static size_t probe(const ds_label_map *m, const char *name, size_t len) {
    size_t i = (size_t)hash_bytes(name, len) & (m->slot_count - 1);
    for (;;) {
        const int32_t id = m->slots[i];
        if (id < 0) return i;
        if (strncmp(m->names[id], name, len) == 0 && m->names[id][len] == '\0') return i;
        i = (i + 1) & (m->slot_count - 1);
    }
}

int32_t ds_label_map_find(const ds_label_map *m, const char *name, size_t len) {
    if (m->slot_count == 0) return -1;
    return m->slots[probe(m, name, len)];
}

static ds_status grow_index(ds_label_map *m, ds_err *err) {
    const size_t count = m->slot_count ? 2 * m->slot_count : 16;
    int32_t *slots = malloc(count * sizeof *slots);
    if (slots == NULL) return ds_err_set(err, DS_ERR_OOM, "label map: out of memory for %zu slots", count);
    for (size_t i = 0; i < count; i++) slots[i] = -1;
    free(m->slots);
    m->slots = slots;
    m->slot_count = count;
    for (int32_t id = 0; id < m->count; id++) m->slots[probe(m, m->names[id], strlen(m->names[id]))] = id;
    return DS_OK;
}

ds_status ds_label_map_intern(ds_label_map *m, const char *name, size_t len, int32_t *id, int *added, ds_err *err) {
    if (added) *added = 0;
    *id = ds_label_map_find(m, name, len);
    if (*id >= 0) return DS_OK;
    if ((size_t)(m->count + 1) * 2 > m->slot_count) DS_TRY(grow_index(m, err));
    DS_REQUIRE(err, m->count < INT32_MAX, DS_ERR_INVALID_ARG, "label map: more than %d labels", INT32_MAX);
    char **names = realloc(m->names, (size_t)(m->count + 1) * sizeof *names);
    if (names == NULL) return ds_err_set(err, DS_ERR_OOM, "label map: out of memory for %d labels", m->count + 1);
    m->names = names;
    char *copy = malloc(len + 1);
    if (copy == NULL) return ds_err_set(err, DS_ERR_OOM, "label map: out of memory");
    memcpy(copy, name, len);
    copy[len] = '\0';
    m->names[m->count] = copy;
    m->slots[probe(m, copy, len)] = m->count;
    *id = m->count++;
    if (added) *added = 1;
    return DS_OK;
}

// `status` is what a bad list is: a caller's mistake (INVALID_ARG) or a bad file (FORMAT).
static ds_status from_names(ds_label_map *m, const char *const *names, int32_t count, const char *what,
                            ds_status status, ds_err *err) {
    ds_label_map_init(m);
    for (int32_t i = 0; i < count; i++) {
        const size_t len = strlen(names[i]);
        int32_t id;
        int added;
        ds_status s = len == 0 ? ds_err_set(err, status, "%s: label %d is empty", what, i)
                               : ds_label_map_intern(m, names[i], len, &id, &added, err);
        if (s == DS_OK && !added)
            s = ds_err_set(err, status, "%s: label '%s' appears twice (ids %d and %d)", what,
                           names[i], id, i);
        if (s != DS_OK) {
            ds_label_map_free(m);
            return s;
        }
    }
    return DS_OK;
}

ds_status ds_label_map_from_names(ds_label_map *m, const char *const *names, int32_t count, const char *what,
                                  ds_err *err) {
    return from_names(m, names, count, what ? what : "label list", DS_ERR_INVALID_ARG, err);
}

ds_status ds_label_map_copy(ds_label_map *dst, const ds_label_map *src, ds_err *err) {
    return ds_label_map_from_names(dst, (const char *const *)src->names, src->count, "label map copy", err);
}

ds_status ds_label_map_to_json(const ds_label_map *m, cJSON **out, ds_err *err) {
    cJSON *root = cJSON_CreateObject();
    cJSON *id2label = cJSON_AddObjectToObject(root, "id2label");
    cJSON *label2id = cJSON_AddObjectToObject(root, "label2id");
    int ok = root && id2label && label2id;
    for (int32_t id = 0; ok && id < m->count; id++) {
        char key[16];
        snprintf(key, sizeof key, "%d", id);
        ok = cJSON_AddStringToObject(id2label, key, m->names[id]) != NULL &&
             cJSON_AddNumberToObject(label2id, m->names[id], id) != NULL;
    }
    if (!ok) {
        cJSON_Delete(root);
        return ds_err_set(err, DS_ERR_OOM, "label map: out of memory writing JSON");
    }
    *out = root;
    return DS_OK;
}

// Parses a whole decimal id ("0", "17"); -1 when the key is not one.
static long parse_id(const char *s) {
    if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0')) return -1;
    errno = 0;
    char *end = NULL;
    const long v = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && v <= INT32_MAX ? v : -1;
}

static ds_status check_label2id(const cJSON *label2id, const ds_label_map *m, const char *what, ds_err *err) {
    DS_REQUIRE(err, cJSON_IsObject(label2id), DS_ERR_FORMAT, "%s: \"label2id\" must be an object, found %s", what,
               cJSON_IsArray(label2id) ? "an array" : "another type");
    int n = 0;
    for (const cJSON *e = label2id->child; e != NULL; e = e->next, n++) {
        const int32_t id = ds_label_map_find(m, e->string, strlen(e->string));
        DS_REQUIRE(err, id >= 0, DS_ERR_FORMAT, "%s: label2id names '%s', which id2label lacks", what, e->string);
        DS_REQUIRE(err, cJSON_IsNumber(e) && e->valuedouble == (double)id, DS_ERR_FORMAT,
                   "%s: label2id gives '%s' another id than id2label's %d", what, e->string, id);
    }
    DS_REQUIRE(err, n == m->count, DS_ERR_FORMAT, "%s: label2id has %d entries, id2label %d", what, n, m->count);
    return DS_OK;
}

ds_status ds_label_map_from_json(const cJSON *obj, const char *what, ds_label_map *m, ds_err *err) {
    ds_label_map_init(m);
    const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(obj, "id2label");
    DS_REQUIRE(err, cJSON_IsObject(id2label), DS_ERR_FORMAT, "%s: \"id2label\" is missing or not an object", what);
    const int count = cJSON_GetArraySize(id2label);
    const char **names = calloc(count > 0 ? (size_t)count : 1, sizeof *names);
    if (names == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", what);
    ds_status s = DS_OK;
    for (const cJSON *e = id2label->child; s == DS_OK && e != NULL; e = e->next) {
        const long id = parse_id(e->string);
        if (id < 0 || id >= count)
            s = ds_err_set(err, DS_ERR_FORMAT, "%s: id2label key '%s' is not an id in 0..%d", what, e->string,
                           count - 1);
        else if (!cJSON_IsString(e))
            s = ds_err_set(err, DS_ERR_FORMAT, "%s: id2label[\"%s\"] must be a string", what, e->string);
        else if (names[id] != NULL)
            s = ds_err_set(err, DS_ERR_FORMAT, "%s: id2label names id %ld twice", what, id);
        else
            names[id] = e->valuestring;
    }
    // count keys, each a distinct id below count: every id 0..count-1 is present.
    if (s == DS_OK) s = from_names(m, names, count, what, DS_ERR_FORMAT, err);
    free(names);
    if (s != DS_OK) return s;
    const cJSON *label2id = cJSON_GetObjectItemCaseSensitive(obj, "label2id");
    if (label2id != NULL) s = check_label2id(label2id, m, what, err);
    if (s != DS_OK) ds_label_map_free(m);
    return s;
}
