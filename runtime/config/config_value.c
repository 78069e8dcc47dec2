// Parsing one config value, from command-line text or from JSON, by the key's declared type,
// and checking it against the key's bounds or choices. Every message starts with the key path.
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

// Integers in a JSON file arrive as doubles; beyond 2^53 a double no longer holds every integer,
// so a larger value may already have been rounded by the parser.
#define DS_CFG_JSON_INT_LIMIT 9007199254740992.0

static const char *expected(ds_config_type t) {
    switch (t) {
        case DS_CFG_INT: return "an integer";
        case DS_CFG_FLOAT: return "a number";
        case DS_CFG_BOOL: return "true or false";
        case DS_CFG_STRING: return "a string";
        case DS_CFG_ENUM: return "a string";
        default: return "a value";
    }
}

void ds_cfg_format_double(double d, char *buf, size_t cap) {
    snprintf(buf, cap, "%.15g", d);
    if (strtod(buf, NULL) != d) snprintf(buf, cap, "%.17g", d);
}

int ds_cfg_choice_index(const char *choices, const char *s) {
    if (!choices || !s) return -1;
    const size_t n = strlen(s);
    int index = 0;
    for (const char *p = choices;; index++) {
        const char *bar = strchr(p, '|');
        const size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0) return index;
        if (!bar) return -1;
        p = bar + 1;
    }
}

void ds_config_allowed_text(const ds_config_key *k, char *buf, size_t cap) {
    if (cap == 0) return;
    buf[0] = '\0';
    if (k->type == DS_CFG_ENUM && k->choices) {
        size_t o = 0;
        for (const char *p = k->choices; *p && o + 3 < cap; p++) {
            if (*p == '|') {
                buf[o++] = ',';
                buf[o++] = ' ';
            } else {
                buf[o++] = *p;
            }
        }
        buf[o] = '\0';
    } else if (k->type != DS_CFG_INT && k->type != DS_CFG_FLOAT) {
        return;
    } else if (k->min && k->max) {
        snprintf(buf, cap, "%s .. %s", k->min, k->max);
    } else if (k->min) {
        snprintf(buf, cap, ">= %s", k->min);
    } else if (k->max) {
        snprintf(buf, cap, "<= %s", k->max);
    }
}

static bool parse_int(const char *text, int64_t *out) {
    if (!*text || isspace((unsigned char)text[0])) return false;
    char *end = NULL;
    errno = 0;
    const long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *out = (int64_t)v;
    return true;
}

static bool parse_float(const char *text, double *out) {
    if (!*text || isspace((unsigned char)text[0])) return false;
    char *end = NULL;
    errno = 0;
    const double v = strtod(text, &end);
    if (errno == ERANGE || *end != '\0' || !isfinite(v)) return false;
    *out = v;
    return true;
}

// -1, 0 or 1 as the value of key k is below, within or above the bound text (the table check
// has verified that bounds parse as the key's type). Integers compare as integers: a double
// does not hold every int64.
static int compare_to_bound(const ds_config_key *k, const ds_config_value *v, const char *bound) {
    if (k->type == DS_CFG_INT) {
        int64_t b = 0;
        if (!parse_int(bound, &b)) return 0;
        return v->i < b ? -1 : v->i > b;
    }
    double b = 0;
    if (!parse_float(bound, &b)) return 0;
    return v->f < b ? -1 : v->f > b;
}

static ds_status check_range(const ds_config_key *k, const ds_config_value *v, const char *where,
                             ds_err *err) {
    if (k->type == DS_CFG_ENUM) {
        if (ds_cfg_choice_index(k->choices, v->s) >= 0) return DS_OK;
        char allowed[512];
        ds_config_allowed_text(k, allowed, sizeof allowed);
        return ds_err_set(err, DS_ERR_CONFIG, "%s: \"%s\" is not one of %s (%s)", k->path, v->s,
                          allowed, where);
    }
    if (k->type != DS_CFG_INT && k->type != DS_CFG_FLOAT) return DS_OK;
    char got[64];
    if (k->type == DS_CFG_INT)
        snprintf(got, sizeof got, "%" PRId64, v->i);
    else
        ds_cfg_format_double(v->f, got, sizeof got);
    if (k->min && compare_to_bound(k, v, k->min) < 0)
        return ds_err_set(err, DS_ERR_CONFIG, "%s: %s is below the minimum %s (%s)", k->path, got, k->min,
                          where);
    if (k->max && compare_to_bound(k, v, k->max) > 0)
        return ds_err_set(err, DS_ERR_CONFIG, "%s: %s is above the maximum %s (%s)", k->path, got, k->max,
                          where);
    return DS_OK;
}

ds_status ds_cfgv_from_text(const ds_config_key *k, const char *text, ds_config_value *v,
                            const char *where, ds_err *err) {
    ds_config_value r = {0};
    switch (k->type) {
        case DS_CFG_INT:
            if (!parse_int(text, &r.i))
                return ds_err_set(err, DS_ERR_CONFIG, "%s: expected %s, got \"%s\" (%s)", k->path,
                                  expected(k->type), text, where);
            break;
        case DS_CFG_FLOAT:
            if (!parse_float(text, &r.f))
                return ds_err_set(err, DS_ERR_CONFIG, "%s: expected a finite number, got \"%s\" (%s)",
                                  k->path, text, where);
            break;
        case DS_CFG_BOOL:
            if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
                return ds_err_set(err, DS_ERR_CONFIG, "%s: expected true or false, got \"%s\" (%s)",
                                  k->path, text, where);
            r.b = text[0] == 't';
            break;
        case DS_CFG_STRING:
        case DS_CFG_ENUM:
            r.s = strdup(text);
            if (!r.s) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", k->path);
            break;
        default:
            return ds_err_set(err, DS_ERR_INTERNAL, "%s: undeclared type %d", k->path, (int)k->type);
    }
    const ds_status s = check_range(k, &r, where, err);
    if (s != DS_OK) {
        free(r.s);
        return s;
    }
    *v = r;
    return DS_OK;
}

void ds_cfg_describe_json(const cJSON *j, char *buf, size_t cap) {
    if (cJSON_IsString(j)) {
        const char *s = j->valuestring ? j->valuestring : "";
        if (strlen(s) > 40)
            snprintf(buf, cap, "string \"%.40s...\"", s);
        else
            snprintf(buf, cap, "string \"%s\"", s);
    } else if (cJSON_IsNumber(j)) {
        char num[64];
        ds_cfg_format_double(j->valuedouble, num, sizeof num);
        snprintf(buf, cap, "number %s", num);
    } else if (cJSON_IsTrue(j)) {
        snprintf(buf, cap, "true");
    } else if (cJSON_IsFalse(j)) {
        snprintf(buf, cap, "false");
    } else if (cJSON_IsNull(j)) {
        snprintf(buf, cap, "null");
    } else if (cJSON_IsObject(j)) {
        snprintf(buf, cap, "an object");
    } else if (cJSON_IsArray(j)) {
        snprintf(buf, cap, "an array");
    } else {
        snprintf(buf, cap, "an unreadable value");
    }
}

ds_status ds_cfgv_from_json(const ds_config_key *k, const cJSON *j, ds_config_value *v,
                            const char *where, ds_err *err) {
    char got[96];
    ds_cfg_describe_json(j, got, sizeof got);
    ds_config_value r = {0};
    bool ok = false;
    switch (k->type) {
        case DS_CFG_INT:
            if (cJSON_IsNumber(j) && j->valuedouble == floor(j->valuedouble)) {
                if (fabs(j->valuedouble) > DS_CFG_JSON_INT_LIMIT)
                    return ds_err_set(err, DS_ERR_CONFIG,
                                      "%s: integer %s is beyond 2^53, where JSON numbers lose "
                                      "precision; give it with --set %s=VALUE (%s)",
                                      k->path, got + strlen("number "), k->path, where);
                r.i = (int64_t)j->valuedouble;
                ok = true;
            }
            break;
        case DS_CFG_FLOAT:
            ok = cJSON_IsNumber(j) && isfinite(j->valuedouble);
            r.f = ok ? j->valuedouble : 0.0;
            break;
        case DS_CFG_BOOL:
            ok = cJSON_IsBool(j);
            r.b = cJSON_IsTrue(j);
            break;
        case DS_CFG_STRING:
        case DS_CFG_ENUM:
            ok = cJSON_IsString(j) && j->valuestring;
            if (ok && !(r.s = strdup(j->valuestring)))
                return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", k->path);
            // An enum whose choices include true and false (train.resume: false|true|auto) takes
            // JSON booleans too, so configs written when the key was a bool stay valid.
            if (!ok && k->type == DS_CFG_ENUM && cJSON_IsBool(j) && ds_cfg_choice_index(k->choices, "true") >= 0 &&
                ds_cfg_choice_index(k->choices, "false") >= 0) {
                ok = true;
                if (!(r.s = strdup(cJSON_IsTrue(j) ? "true" : "false")))
                    return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", k->path);
            }
            break;
        default:
            return ds_err_set(err, DS_ERR_INTERNAL, "%s: undeclared type %d", k->path, (int)k->type);
    }
    if (!ok) return ds_err_set(err, DS_ERR_CONFIG, "%s: expected %s, got %s (%s)", k->path, expected(k->type), got, where);
    const ds_status s = check_range(k, &r, where, err);
    if (s != DS_OK) {
        free(r.s);
        return s;
    }
    *v = r;
    return DS_OK;
}
