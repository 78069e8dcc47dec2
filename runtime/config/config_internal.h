// Shared by runtime/config*.c only: the resolved-config layout and the value parsers.
#ifndef DS_CONFIG_INTERNAL_H
#define DS_CONFIG_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "config.h"

typedef struct ds_config_value {
    int64_t i;  // DS_CFG_INT
    double f;   // DS_CFG_FLOAT
    bool b;     // DS_CFG_BOOL
    char *s;    // DS_CFG_STRING / DS_CFG_ENUM: heap, owned by the value
    ds_config_source source;
} ds_config_value;

struct ds_config {
    const ds_config_key *keys;  // (nkeys) the table, not owned (unless it is owned_keys)
    ds_config_key *owned_keys;  // the concatenation ds_config_load_tables made, or NULL
    int nkeys;
    ds_config_value *values;    // (nkeys) parallel to keys, heap
    char *file;                 // path of the JSON file read, heap; NULL when none
};

// Parses `text` as a value of key k (as written after `--set path=`), checks its range, and
// fills *v (v->s is allocated for strings). `where` completes the message: "in --set x=1".
ds_status ds_cfgv_from_text(const ds_config_key *k, const char *text, ds_config_value *v,
                            const char *where, ds_err *err);

// Same from a JSON value of the config file.
ds_status ds_cfgv_from_json(const ds_config_key *k, const cJSON *j, ds_config_value *v,
                            const char *where, ds_err *err);

// "string \"32\"", "number 3.5", "true", "null", "an object", ... for messages.
void ds_cfg_describe_json(const cJSON *j, char *buf, size_t cap);

// Index of `s` among the '|'-separated `choices`, or -1.
int ds_cfg_choice_index(const char *choices, const char *s);

// Shortest "%.*g" text of a finite double that reads back to the same value.
void ds_cfg_format_double(double d, char *buf, size_t cap);

// Index of `path` in the table, or -1.
int ds_cfg_find(const ds_config_key *keys, int nkeys, const char *path);

// Index of the first key inside section `path` ("bench" for "bench.batch"), or -1.
int ds_cfg_find_in_section(const ds_config_key *keys, int nkeys, const char *path, size_t len);

#endif
