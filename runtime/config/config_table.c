// Looking keys up in a table, and checking that a table is well formed (ds_config_load checks
// it every time, so a bad new row fails the first run and every test, not a user's run).
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "config_internal.h"

const char *ds_config_type_name(ds_config_type t) {
    static const char *const names[] = {
        [DS_CFG_INT] = "int", [DS_CFG_FLOAT] = "float", [DS_CFG_BOOL] = "bool",
        [DS_CFG_STRING] = "string", [DS_CFG_ENUM] = "enum",
    };
    _Static_assert(sizeof names / sizeof names[0] == DS_CFG_TYPE_COUNT, "type names out of step");
    if ((int)t < 0 || t >= DS_CFG_TYPE_COUNT) return "?";
    return names[t];
}

int ds_cfg_find(const ds_config_key *keys, int nkeys, const char *path) {
    if (!path) return -1;
    for (int i = 0; i < nkeys; i++)
        if (strcmp(keys[i].path, path) == 0) return i;
    return -1;
}

int ds_cfg_find_in_section(const ds_config_key *keys, int nkeys, const char *path, size_t len) {
    for (int i = 0; i < nkeys; i++)
        if (strncmp(keys[i].path, path, len) == 0 && keys[i].path[len] == '.') return i;
    return -1;
}

// Lowercase [a-z0-9_] components, each starting with a letter or '_', joined by single dots.
static bool path_well_formed(const char *p) {
    bool start = true;
    for (; *p; p++) {
        const bool lower = *p >= 'a' && *p <= 'z';
        const bool digit = *p >= '0' && *p <= '9';
        if (*p == '.') {
            if (start) return false;
            start = true;
        } else if (lower || *p == '_' || (digit && !start)) {
            start = false;
        } else {
            return false;
        }
    }
    return !start;
}

static ds_status check_choices(const ds_config_key *k, ds_err *err) {
    if (!k->choices || !*k->choices)
        return ds_err_set(err, DS_ERR_INTERNAL, "config table: enum key %s has no choices", k->path);
    int index = 0;
    for (const char *p = k->choices;; index++) {
        const char *bar = strchr(p, '|');
        const size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == 0 || len >= 64)
            return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s: empty or overlong choice in \"%s\"",
                              k->path, k->choices);
        char one[64];
        memcpy(one, p, len);
        one[len] = '\0';
        if (ds_cfg_choice_index(k->choices, one) != index)
            return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s: choice \"%s\" listed twice",
                              k->path, one);
        if (!bar) return DS_OK;
        p = bar + 1;
    }
}

static ds_status check_key(const ds_config_key *k, ds_err *err) {
    if (!k->path || !path_well_formed(k->path))
        return ds_err_set(err, DS_ERR_INTERNAL, "config table: malformed key path \"%s\"",
                          k->path ? k->path : "(null)");
    if ((int)k->type < 0 || k->type >= DS_CFG_TYPE_COUNT)
        return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s has no valid type", k->path);
    if (!k->doc || !*k->doc || strchr(k->doc, '\n'))
        return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s needs a one-line doc", k->path);
    if (!k->def) return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s has no default", k->path);
    const bool numeric = k->type == DS_CFG_INT || k->type == DS_CFG_FLOAT;
    if ((k->min || k->max) && !numeric)
        return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s: bounds on a %s key", k->path,
                          ds_config_type_name(k->type));
    if (k->type == DS_CFG_ENUM) {
        DS_TRY(check_choices(k, err));
    } else if (k->choices) {
        return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s: choices on a %s key", k->path,
                          ds_config_type_name(k->type));
    }
    // Bounds must parse as the key's type: check them as values of an unbounded copy.
    ds_config_key unbounded = *k;
    unbounded.min = unbounded.max = NULL;
    // The inner message names the key and the bad text; it is reported as a table bug.
    ds_config_value lo = {0}, hi = {0}, def = {0};
    ds_err inner = {0};
    if (k->min && ds_cfgv_from_text(&unbounded, k->min, &lo, "minimum in the key table", &inner) != DS_OK)
        return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s", inner.msg);
    if (k->max && ds_cfgv_from_text(&unbounded, k->max, &hi, "maximum in the key table", &inner) != DS_OK)
        return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s", inner.msg);
    if (k->min && k->max && (k->type == DS_CFG_INT ? lo.i > hi.i : lo.f > hi.f))
        return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s: minimum %s above maximum %s", k->path,
                          k->min, k->max);
    if (ds_cfgv_from_text(k, k->def, &def, "default in the key table", &inner) != DS_OK)
        return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s", inner.msg);
    free(def.s);
    return DS_OK;
}

ds_status ds_config_table_check(const ds_config_key *keys, int nkeys, ds_err *err) {
    if (!keys && nkeys > 0) return ds_err_set(err, DS_ERR_INTERNAL, "config table: NULL with %d keys", nkeys);
    for (int i = 0; i < nkeys; i++) {
        DS_TRY(check_key(&keys[i], err));
        for (int j = 0; j < i; j++) {
            if (strcmp(keys[i].path, keys[j].path) == 0)
                return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s declared twice", keys[i].path);
            // "a.b" as a key and "a.b.c" as another would make "a.b" both a value and an object.
            const char *shorter = strlen(keys[i].path) < strlen(keys[j].path) ? keys[i].path : keys[j].path;
            const char *longer = shorter == keys[i].path ? keys[j].path : keys[i].path;
            const size_t n = strlen(shorter);
            if (strncmp(longer, shorter, n) == 0 && longer[n] == '.')
                return ds_err_set(err, DS_ERR_INTERNAL, "config table: %s is a key and also the section of %s",
                                  shorter, longer);
        }
    }
    return DS_OK;
}
