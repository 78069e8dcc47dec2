// Resolving a config: table defaults, then the JSON file, then --set overrides, each value
// parsed by its key's declared type. Lookups by dotted path.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "config_internal.h"

#define DS_CFG_PATH_MAX 512  // longer paths cannot be declared keys; they are reported as unknown

static void value_set(ds_config_value *dst, ds_config_value v, ds_config_source source) {
    free(dst->s);
    *dst = v;
    dst->source = source;
}

// "unknown key 'x' in cfg.json; did you mean 'y'?"
static ds_status unknown_key(const ds_config *c, const char *path, const char *where, ds_err *err) {
    const char *near = ds_config_suggest(c->keys, c->nkeys, path);
    if (near)
        return ds_err_set(err, DS_ERR_CONFIG, "unknown key '%s' %s; did you mean '%s'?", path, where, near);
    return ds_err_set(err, DS_ERR_CONFIG, "unknown key '%s' %s; `downstream help config` lists the keys",
                      path, where);
}

// The whole file, NUL-terminated, into *out (heap).
static ds_status read_file(const char *path, char **out, size_t *len, ds_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ds_err_set(err, DS_ERR_IO, "cannot open config %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) free(buf);
        buf = grown;
        cap *= 2;
    }
    const bool failed = buf && ferror(f);
    fclose(f);
    if (!buf) return ds_err_set(err, DS_ERR_OOM, "out of memory reading config %s", path);
    if (failed) {
        free(buf);
        return ds_err_set(err, DS_ERR_IO, "cannot read config %s", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return DS_OK;
}

// "cfg.json:3:14: invalid JSON near '...'" from the position where cJSON stopped.
static ds_status json_syntax_error(const char *path, const char *text, const char *stop, ds_err *err) {
    int line = 1;
    const char *line_start = text;
    for (const char *p = text; p < stop; p++)
        if (*p == '\n') {
            line++;
            line_start = p + 1;
        }
    const int column = (int)(stop - line_start) + 1;
    if (!*stop)
        return ds_err_set(err, DS_ERR_FORMAT, "%s:%d:%d: invalid JSON: unexpected end of file", path, line,
                          column);
    // cJSON stops at or just after the fault: show the line around that point.
    const char *from = stop - line_start > 24 ? stop - 24 : line_start;
    while (*from == ' ' || *from == '\t') from++;
    const char *to = stop;
    while (to - stop < 24 && *to && *to != '\n' && *to != '\r') to++;
    return ds_err_set(err, DS_ERR_FORMAT, "%s:%d:%d: invalid JSON near '%.*s'", path, line, column,
                      (int)(to > from ? to - from : 0), from);
}

// Applies every member of a JSON object whose path prefix is `prefix` ("" at the top level).
static ds_status apply_object(ds_config *c, const cJSON *obj, const char *prefix, const char *where,
                              ds_err *err) {
    for (const cJSON *m = obj->child; m; m = m->next) {
        char path[DS_CFG_PATH_MAX];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", m->string ? m->string : "");
        const int k = ds_cfg_find(c->keys, c->nkeys, path);
        if (k >= 0) {
            if (c->values[k].source == DS_CFG_FROM_FILE)
                return ds_err_set(err, DS_ERR_CONFIG, "%s: given twice (%s)", path, where);
            ds_config_value v;
            DS_TRY(ds_cfgv_from_json(&c->keys[k], m, &v, where, err));
            value_set(&c->values[k], v, DS_CFG_FROM_FILE);
            continue;
        }
        const int inside = ds_cfg_find_in_section(c->keys, c->nkeys, path, strlen(path));
        if (inside < 0) {
            // Name the first leaf under an unknown section: "modle.bert.layers" finds its key.
            for (const cJSON *leaf = m; cJSON_IsObject(leaf) && leaf->child; leaf = leaf->child) {
                const size_t n = strlen(path);
                snprintf(path + n, sizeof path - n, ".%s", leaf->child->string ? leaf->child->string : "");
            }
            return unknown_key(c, path, where, err);
        }
        if (!cJSON_IsObject(m)) {
            char got[96];
            ds_cfg_describe_json(m, got, sizeof got);
            return ds_err_set(err, DS_ERR_CONFIG, "%s: expected an object (the section holding %s, ...), got %s (%s)",
                              path, c->keys[inside].path, got, where);
        }
        DS_TRY(apply_object(c, m, path, where, err));
    }
    return DS_OK;
}

static ds_status apply_file(ds_config *c, const char *path, ds_err *err) {
    char *text = NULL;
    size_t len = 0;
    DS_TRY(read_file(path, &text, &len, err));
    const size_t nul = strlen(text);
    if (nul != len) {
        free(text);
        return ds_err_set(err, DS_ERR_FORMAT, "%s: invalid JSON: NUL byte at offset %zu", path, nul);
    }
    const char *stop = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &stop, 1);
    ds_status s = DS_OK;
    if (!root)
        s = json_syntax_error(path, text, stop ? stop : text, err);
    else if (!cJSON_IsObject(root))
        s = ds_err_set(err, DS_ERR_CONFIG, "%s: the top level must be a JSON object {...}", path);
    if (s == DS_OK) {
        char where[DS_CFG_PATH_MAX + 8];
        snprintf(where, sizeof where, "in %s", path);
        s = apply_object(c, root, "", where, err);
    }
    cJSON_Delete(root);
    free(text);
    return s;
}

static ds_status apply_set(ds_config *c, const char *set, ds_err *err) {
    const char *eq = set ? strchr(set, '=') : NULL;
    if (!eq || eq == set)
        return ds_err_set(err, DS_ERR_CONFIG, "--set %s: expected KEY=VALUE, e.g. --set bench.batch=32",
                          set ? set : "(null)");
    char path[DS_CFG_PATH_MAX];
    snprintf(path, sizeof path, "%.*s", (int)(eq - set), set);
    char where[DS_CFG_PATH_MAX + 64];
    snprintf(where, sizeof where, "in --set %.*s", DS_CFG_PATH_MAX, set);
    const int k = ds_cfg_find(c->keys, c->nkeys, path);
    if (k < 0) {
        const int inside = ds_cfg_find_in_section(c->keys, c->nkeys, path, strlen(path));
        if (inside >= 0)
            return ds_err_set(err, DS_ERR_CONFIG, "'%s' is a section, not a key (%s); set one of its keys, e.g. %s",
                              path, where, c->keys[inside].path);
        return unknown_key(c, path, where, err);
    }
    ds_config_value v;
    DS_TRY(ds_cfgv_from_text(&c->keys[k], eq + 1, &v, where, err));
    value_set(&c->values[k], v, DS_CFG_FROM_SET);
    return DS_OK;
}

static ds_status resolve(ds_config *c, const char *json_path, const char *const *sets, int nsets,
                         ds_err *err) {
    DS_TRY(ds_config_table_check(c->keys, c->nkeys, err));
    for (int i = 0; i < c->nkeys; i++) {
        ds_config_value v;
        DS_TRY(ds_cfgv_from_text(&c->keys[i], c->keys[i].def, &v, "default in the key table", err));
        value_set(&c->values[i], v, DS_CFG_FROM_DEFAULT);
    }
    if (json_path) {
        c->file = strdup(json_path);
        if (!c->file) return ds_err_set(err, DS_ERR_OOM, "out of memory");
        DS_TRY(apply_file(c, json_path, err));
    }
    for (int i = 0; i < nsets; i++) DS_TRY(apply_set(c, sets[i], err));
    return DS_OK;
}

ds_status ds_config_load_table(ds_config **out, const ds_config_key *keys, int nkeys,
                               const char *json_path, const char *const *sets, int nsets, ds_err *err) {
    DS_REQUIRE(err, out != NULL, DS_ERR_INVALID_ARG, "ds_config_load: out is NULL");
    *out = NULL;
    DS_REQUIRE(err, nkeys >= 0 && nsets >= 0 && (nsets == 0 || sets), DS_ERR_INVALID_ARG,
               "ds_config_load: %d keys, %d sets", nkeys, nsets);
    ds_config *c = calloc(1, sizeof *c);
    ds_config_value *values = calloc(nkeys > 0 ? (size_t)nkeys : 1, sizeof *values);
    if (!c || !values) {
        free(c);
        free(values);
        return ds_err_set(err, DS_ERR_OOM, "out of memory for %d config keys", nkeys);
    }
    c->keys = keys;
    c->nkeys = nkeys;
    c->values = values;
    const ds_status s = resolve(c, json_path, sets, nsets, err);
    if (s != DS_OK) {
        ds_config_free(c);
        return s;
    }
    *out = c;
    return DS_OK;
}

ds_status ds_config_load_tables(ds_config **out, const ds_config_key_table *tables, int ntables,
                                const char *json_path, const char *const *sets, int nsets, ds_err *err) {
    DS_REQUIRE(err, out != NULL && ntables >= 0, DS_ERR_INVALID_ARG, "ds_config_load_tables: bad arguments");
    *out = NULL;
    int n = 0;
    for (int i = 0; i < ntables; i++) n += tables[i].count;
    ds_config_key *keys = calloc(n > 0 ? (size_t)n : 1, sizeof *keys);
    DS_REQUIRE(err, keys != NULL, DS_ERR_OOM, "out of memory for %d config keys", n);
    n = 0;
    for (int i = 0; i < ntables; i++)
        for (int k = 0; k < tables[i].count; k++) keys[n++] = tables[i].keys[k];
    const ds_status s = ds_config_load_table(out, keys, n, json_path, sets, nsets, err);
    if (s != DS_OK) {
        free(keys);
        return s;
    }
    (*out)->owned_keys = keys;  // freed with the config
    return DS_OK;
}

ds_status ds_config_load(ds_config **out, const char *json_path, const char *const *sets, int nsets,
                         ds_err *err) {
    int n = 0;
    const ds_config_key *keys = ds_config_keys(&n);
    return ds_config_load_table(out, keys, n, json_path, sets, nsets, err);
}

void ds_config_free(ds_config *c) {
    if (!c) return;
    for (int i = 0; i < c->nkeys; i++) free(c->values[i].s);
    free(c->values);
    free(c->file);
    free(c->owned_keys);
    free(c);
}

// The value of `path` when it is declared with one of the two types, else NULL.
static const ds_config_value *lookup(const ds_config *c, const char *path, ds_config_type t1,
                                     ds_config_type t2) {
    if (!c) return NULL;
    const int k = ds_cfg_find(c->keys, c->nkeys, path);
    if (k < 0 || (c->keys[k].type != t1 && c->keys[k].type != t2)) return NULL;
    return &c->values[k];
}

int64_t ds_config_int(const ds_config *c, const char *path) {
    const ds_config_value *v = lookup(c, path, DS_CFG_INT, DS_CFG_INT);
    return v ? v->i : 0;
}

double ds_config_float(const ds_config *c, const char *path) {
    const ds_config_value *v = lookup(c, path, DS_CFG_FLOAT, DS_CFG_FLOAT);
    return v ? v->f : 0.0;
}

bool ds_config_bool(const ds_config *c, const char *path) {
    const ds_config_value *v = lookup(c, path, DS_CFG_BOOL, DS_CFG_BOOL);
    return v ? v->b : false;
}

const char *ds_config_str(const ds_config *c, const char *path) {
    const ds_config_value *v = lookup(c, path, DS_CFG_STRING, DS_CFG_ENUM);
    return v ? v->s : NULL;
}

int ds_config_enum(const ds_config *c, const char *path) {
    const ds_config_value *v = lookup(c, path, DS_CFG_ENUM, DS_CFG_ENUM);
    return v ? ds_cfg_choice_index(c->keys[v - c->values].choices, v->s) : -1;
}

ds_config_source ds_config_source_of(const ds_config *c, const char *path) {
    const int k = c ? ds_cfg_find(c->keys, c->nkeys, path) : -1;
    return k >= 0 ? c->values[k].source : DS_CFG_FROM_DEFAULT;
}
