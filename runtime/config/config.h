// Run configuration: every key is declared once, in the table of runtime/config/config_keys.c (path,
// type, default, range, one-line doc). The JSON parser, the --set overrides, the unknown-key
// suggestion, the printed resolved config, `downstream help config` and the README's config
// reference are all derived from that table, so they cannot drift apart.
//
// A config file is one JSON object. Nested objects map to dotted paths, so
//   {"bench": {"batch": 32}}   and   {"bench.batch": 32}
// both set `bench.batch`. Precedence: table default < file < --set (later --set wins).
#ifndef DS_CONFIG_H
#define DS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../base/status.h"

typedef enum ds_config_type {
    DS_CFG_INT,     // int64; in JSON an integral number of magnitude <= 2^53 (exact in a double)
    DS_CFG_FLOAT,   // double; finite
    DS_CFG_BOOL,    // JSON true/false; on the command line `true` or `false`
    DS_CFG_STRING,  // any string
    DS_CFG_ENUM,    // a string from the key's `choices`
    DS_CFG_TYPE_COUNT
} ds_config_type;

// One row of the table. Every text field is written as a user would type the value after
// `--set key=`, and is parsed by the same code, so defaults and bounds are checked like input.
typedef struct ds_config_key {
    const char *path;     // dotted path of lowercase [a-z0-9_] components: "bench.batch"
    ds_config_type type;
    const char *def;      // default value as text: "8", "0.5", "true", "info", "" (never NULL)
    const char *min;      // INT/FLOAT: inclusive lower bound as text, NULL = none
    const char *max;      // INT/FLOAT: inclusive upper bound as text, NULL = none
    const char *choices;  // ENUM: allowed values separated by '|': "error|warn|info|debug"
    const char *doc;      // one line for `downstream help config` and the README
} ds_config_key;

// Where a resolved value came from.
typedef enum ds_config_source { DS_CFG_FROM_DEFAULT = 0, DS_CFG_FROM_FILE, DS_CFG_FROM_SET } ds_config_source;

typedef struct ds_config ds_config;  // opaque: the resolved value of every key of one table

// The table of downstream's keys (runtime/config/config_keys.c), in declaration order.
const ds_config_key *ds_config_keys(int *count);

// "int", "float", "bool", "string", "enum".
const char *ds_config_type_name(ds_config_type t);

// The values a key accepts, in words, for help and messages: "1 .. 64", ">= 1", "<= 64",
// "error, warn, info, debug", or "" when any value of the type goes.
void ds_config_allowed_text(const ds_config_key *k, char *buf, size_t cap);

// Resolves every key of ds_config_keys(): defaults, then the JSON file at json_path (NULL: no
// file), then `sets` in order ("bench.batch=32", value parsed by the key's declared type).
// Fails with a message naming the key (and the file or the --set) on an unknown key (with the
// nearest valid key suggested), a value of the wrong type, a value out of range, a key given
// twice in the file, or malformed JSON (with file:line:column). On failure *out is NULL.
ds_status ds_config_load(ds_config **out, const char *json_path, const char *const *sets, int nsets,
                         ds_err *err);

// A named table of keys: the drivers' (title "") or one model family's (its task.type name).
typedef struct ds_config_key_table {
    const char *title;
    const ds_config_key *keys;
    int count;
} ds_config_key_table;

// Resolves the keys of several tables as one (the CLI: the drivers' table and each family's,
// runtime/tasks/registry.h); a path declared twice is an error of the tables (ds_config_table_check).
ds_status ds_config_load_tables(ds_config **out, const ds_config_key_table *tables, int ntables,
                                const char *json_path, const char *const *sets, int nsets, ds_err *err);

// Same over any table (tests use small tables of their own; the table must outlive *out).
ds_status ds_config_load_table(ds_config **out, const ds_config_key *keys, int nkeys,
                               const char *json_path, const char *const *sets, int nsets, ds_err *err);

// Typed lookups. Asking for a path the table does not declare, or with the wrong type, is a
// programming bug, not a user error: the lookup returns 0 / 0.0 / false / NULL / -1 instead of
// failing loudly. So that this cannot happen silently, tests/cli/test_config_lookups.sh scans
// the sources for every literal path passed to these functions and checks it against the table
// (key declared, type matching). ds_config_str accepts STRING and ENUM keys; the returned string
// is owned by the config. ds_config_enum returns the index of the value in the key's choices.
int64_t ds_config_int(const ds_config *c, const char *path);
double ds_config_float(const ds_config *c, const char *path);
bool ds_config_bool(const ds_config *c, const char *path);
const char *ds_config_str(const ds_config *c, const char *path);
int ds_config_enum(const ds_config *c, const char *path);

// Where the value of `path` came from (DS_CFG_FROM_DEFAULT for an undeclared path).
ds_config_source ds_config_source_of(const ds_config *c, const char *path);

// Writes the resolved config as one JSON document:
//   {"config": {nested values, keys in table order}, "file": "cfg.json" or null,
//    "from_file": [paths set by the file], "from_set": [paths set by --set]}
// Keys in neither list hold their default. The "config" member is itself a valid config file.
void ds_config_print(const ds_config *c, FILE *f);

void ds_config_free(ds_config *c);

// Checks a table: well-formed unique paths, no path that is also a section of another, a doc,
// a default of the key's type within its bounds, bounds of the key's type, enum choices.
ds_status ds_config_table_check(const ds_config_key *keys, int nkeys, ds_err *err);

// The declared key nearest to the unknown `path` (edit distance over full paths and over the
// last component, where a component's initials also count: "learning_rate" ~ "lr"), or NULL
// when none is close enough to be a plausible typo.
const char *ds_config_suggest(const ds_config_key *keys, int nkeys, const char *path);

// Levenshtein distance (insert, delete, substitute each cost 1) over at most 255 bytes of each.
int ds_edit_distance(const char *a, const char *b);

#endif
