// The config system: defaults, file and --set precedence, unknown keys with suggestions, type
// and range errors naming the key path, JSON syntax errors with line:column, the printed
// resolved config (parsed back), and the checks on the key table itself.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/config/config.h"
#include "../test_util.h"

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

// A table of every type and shape the real one does not have yet (floats, deeper nesting, max).
static const ds_config_key k_test_keys[] = {
    {"run.seed", DS_CFG_INT, "0", .min = "0", .doc = "seed"},
    {"run.device", DS_CFG_STRING, "auto", .doc = "device"},
    {"run.log_level", DS_CFG_ENUM, "info", .choices = "error|warn|info|debug", .doc = "verbosity"},
    {"train.lr", DS_CFG_FLOAT, "5e-5", .min = "0", .max = "1", .doc = "peak learning rate"},
    {"train.epochs", DS_CFG_INT, "3", .min = "1", .max = "1000", .doc = "passes over the data"},
    {"train.fp32", DS_CFG_BOOL, "false", .doc = "full precision"},
    {"model.bert.layers", DS_CFG_INT, "2", .min = "1", .doc = "encoder layers"},
    {"bench.batch", DS_CFG_INT, "8", .min = "1", .doc = "batch"},
    {"model.bert.dropout", DS_CFG_FLOAT, "0.1", .min = "0", .max = "1", .doc = "dropout"},
};

// Writes `text` to a scratch file named `name`; returns its path (in buf).
static const char *write_tmp(const char *name, const char *text, char *buf, size_t cap) {
    ds_test_tmpfile(name, buf, cap);
    FILE *f = fopen(buf, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return buf;
}

// Loads over the test table; `json` (may be NULL) is written to a scratch file first.
static ds_status load(ds_config **c, const char *json, const char *const *sets, int nsets, ds_err *err,
                      char *path, size_t cap) {
    ds_err_clear(err);
    const char *p = json ? write_tmp("cfg.json", json, path, cap) : NULL;
    if (!json && path) path[0] = '\0';
    return ds_config_load_table(c, k_test_keys, N_OF(k_test_keys), p, sets, nsets, err);
}

// Expects loading to fail with `status` and a message containing `want` (with "%s" standing
// for the scratch file's path when the message names it).
static void expect_fail(ds_test *t, const char *what, const char *json, const char *const *sets, int nsets,
                        ds_status status, const char *want) {
    ds_config *c = (ds_config *)&c;  // must come back NULL
    ds_err err;
    char path[512], expected[1024];
    const ds_status s = load(&c, json, sets, nsets, &err, path, sizeof path);
    snprintf(expected, sizeof expected, want, path);
    ds_test_check(t, s == status && err.status == status, "%s: status %s, want %s (%s)", what,
                  ds_status_name(s), ds_status_name(status), err.msg);
    ds_test_check(t, strstr(err.msg, expected) != NULL, "%s: message\n    '%s'\n  lacks\n    '%s'", what,
                  err.msg, expected);
    ds_test_check(t, c == NULL, "%s: *out not NULL after failure", what);
}

static void test_defaults(ds_test *t) {
    ds_config *c = NULL;
    ds_err err = {0};
    ds_test_check(t, ds_config_load(&c, NULL, NULL, 0, &err) == DS_OK, "defaults: %s", err.msg);
    if (!c) return;
    ds_test_check(t, ds_config_int(c, "bench.batch") == 8, "bench.batch default");
    ds_test_check(t, ds_config_int(c, "bench.seq_len") == 128, "bench.seq_len default");
    ds_test_check(t, ds_config_int(c, "bench.intermediate") == 1536, "bench.intermediate default");
    ds_test_check(t, ds_config_bool(c, "bench.gemm_check"), "bench.gemm_check default");
    ds_test_check(t, strcmp(ds_config_str(c, "run.device"), "auto") == 0, "run.device default");
    ds_test_check(t, strcmp(ds_config_str(c, "run.log_level"), "info") == 0, "run.log_level default");
    ds_test_check(t, ds_config_enum(c, "run.log_level") == 2, "run.log_level index");
    ds_test_check(t, ds_config_source_of(c, "bench.batch") == DS_CFG_FROM_DEFAULT, "default source");
    // Undeclared paths and wrong types are bugs that read as zero (see config.h).
    ds_test_check(t, ds_config_int(c, "bench.bacth") == 0, "undeclared int lookup");
    ds_test_check(t, ds_config_str(c, "bench.batch") == NULL, "string lookup of an int key");
    ds_test_check(t, ds_config_float(c, "bench.batch") == 0.0, "float lookup of an int key");
    ds_test_check(t, !ds_config_bool(c, "run.device"), "bool lookup of a string key");
    ds_test_check(t, ds_config_enum(c, "run.device") == -1, "enum lookup of a string key");
    ds_config_free(c);
}

// Every key of the real table: a doc, a default of its type that resolves, a typed lookup.
static void test_real_table(ds_test *t) {
    int n = 0;
    const ds_config_key *keys = ds_config_keys(&n);
    ds_err err = {0};
    ds_test_check(t, n >= 13, "table has %d keys", n);
    ds_test_check(t, ds_config_table_check(keys, n, &err) == DS_OK, "real table: %s", err.msg);
    ds_config *c = NULL;
    if (ds_config_load(&c, NULL, NULL, 0, &err) != DS_OK) return;
    for (int i = 0; i < n; i++) {
        const ds_config_key *k = &keys[i];
        ds_test_check(t, k->doc && strlen(k->doc) > 3, "%s: no doc", k->path);
        ds_test_check(t, k->def != NULL, "%s: no default", k->path);
        switch (k->type) {
            case DS_CFG_INT:
                ds_test_check(t, ds_config_int(c, k->path) == strtoll(k->def, NULL, 10), "%s: default", k->path);
                break;
            case DS_CFG_FLOAT:
                ds_test_check(t, ds_config_float(c, k->path) == strtod(k->def, NULL), "%s: default", k->path);
                break;
            case DS_CFG_BOOL:
                ds_test_check(t, ds_config_bool(c, k->path) == (strcmp(k->def, "true") == 0), "%s: default",
                              k->path);
                break;
            case DS_CFG_ENUM:
            case DS_CFG_STRING:
                // An enum reads as a string too, and as the index of its value among the choices.
                if (k->type == DS_CFG_ENUM)
                    ds_test_check(t, ds_config_enum(c, k->path) >= 0, "%s: enum default", k->path);
                ds_test_check(t, ds_config_str(c, k->path) && strcmp(ds_config_str(c, k->path), k->def) == 0,
                              "%s: default", k->path);
                break;
            default: ds_test_check(t, false, "%s: bad type", k->path);
        }
    }
    ds_config_free(c);
}

static void test_precedence(ds_test *t) {
    const char *json = "{\"train\": {\"lr\": 0.001, \"epochs\": 5}, \"model\": {\"bert\": {\"layers\": 4}},"
                       " \"bench.batch\": 16}";
    const char *sets[] = {"train.epochs=7", "run.device=cuda:1", "train.epochs=9", "train.fp32=true"};
    ds_config *c = NULL;
    ds_err err;
    char path[512];
    ds_test_check(t, load(&c, json, sets, N_OF(sets), &err, path, sizeof path) == DS_OK, "precedence: %s",
                  err.msg);
    if (!c) return;
    ds_test_check(t, ds_config_float(c, "train.lr") == 0.001, "file float");
    ds_test_check(t, ds_config_int(c, "model.bert.layers") == 4, "nested file int");
    ds_test_check(t, ds_config_int(c, "bench.batch") == 16, "dotted key in file");
    ds_test_check(t, ds_config_int(c, "train.epochs") == 9, "later --set wins: %lld",
                  (long long)ds_config_int(c, "train.epochs"));
    ds_test_check(t, strcmp(ds_config_str(c, "run.device"), "cuda:1") == 0, "--set string");
    ds_test_check(t, ds_config_bool(c, "train.fp32"), "--set bool");
    ds_test_check(t, fabs(ds_config_float(c, "model.bert.dropout") - 0.1) == 0, "untouched default");
    ds_test_check(t, ds_config_source_of(c, "train.lr") == DS_CFG_FROM_FILE, "source file");
    ds_test_check(t, ds_config_source_of(c, "train.epochs") == DS_CFG_FROM_SET, "source --set over file");
    ds_test_check(t, ds_config_source_of(c, "run.seed") == DS_CFG_FROM_DEFAULT, "source default");
    ds_config_free(c);
    unlink(path);
}

static void test_unknown_keys(ds_test *t) {
    expect_fail(t, "typo in file", "{\"train\": {\"learning_rte\": 0.1}}", NULL, 0, DS_ERR_CONFIG,
                "unknown key 'train.learning_rte' in %s; did you mean 'train.lr'?");
    const char *set1[] = {"train.learning_rte=0.1"};
    expect_fail(t, "typo in --set", NULL, set1, 1, DS_ERR_CONFIG,
                "unknown key 'train.learning_rte' in --set train.learning_rte=0.1; did you mean 'train.lr'?");
    expect_fail(t, "typo in a section name", "{\"modle\": {\"bert\": {\"layers\": 1}}}", NULL, 0, DS_ERR_CONFIG,
                "unknown key 'modle.bert.layers' in %s; did you mean 'model.bert.layers'?");
    const char *set2[] = {"bench.seed=3"};
    expect_fail(t, "right name, wrong section", NULL, set2, 1, DS_ERR_CONFIG, "did you mean 'run.seed'?");
    const char *set3[] = {"train.epoch=3"};
    expect_fail(t, "one letter off", NULL, set3, 1, DS_ERR_CONFIG, "did you mean 'train.epochs'?");
    expect_fail(t, "nothing close", "{\"zzz\": 1}", NULL, 0, DS_ERR_CONFIG,
                "unknown key 'zzz' in %s; `downstream help config` lists the keys");
    expect_fail(t, "empty unknown section", "{\"data\": {}}", NULL, 0, DS_ERR_CONFIG, "unknown key 'data'");
    const char *set4[] = {"train=1"};
    expect_fail(t, "--set of a section", NULL, set4, 1, DS_ERR_CONFIG, "'train' is a section, not a key");
    const char *set5[] = {"train.lr"};
    expect_fail(t, "--set without =", NULL, set5, 1, DS_ERR_CONFIG, "--set train.lr: expected KEY=VALUE");
    expect_fail(t, "key given twice", "{\"bench\": {\"batch\": 1}, \"bench.batch\": 2}", NULL, 0, DS_ERR_CONFIG,
                "bench.batch: given twice (in %s)");
}

static void test_type_errors(ds_test *t) {
    expect_fail(t, "string for int", "{\"bench\": {\"batch\": \"32\"}}", NULL, 0, DS_ERR_CONFIG,
                "bench.batch: expected an integer, got string \"32\" (in %s)");
    expect_fail(t, "nested: bool for int", "{\"model\": {\"bert\": {\"layers\": true}}}", NULL, 0, DS_ERR_CONFIG,
                "model.bert.layers: expected an integer, got true (in %s)");
    expect_fail(t, "fraction for int", "{\"train\": {\"epochs\": 2.5}}", NULL, 0, DS_ERR_CONFIG,
                "train.epochs: expected an integer, got number 2.5");
    expect_fail(t, "string for float", "{\"train\": {\"lr\": \"fast\"}}", NULL, 0, DS_ERR_CONFIG,
                "train.lr: expected a number, got string \"fast\"");
    expect_fail(t, "number for bool", "{\"train\": {\"fp32\": 1}}", NULL, 0, DS_ERR_CONFIG,
                "train.fp32: expected true or false, got number 1");
    expect_fail(t, "number for string", "{\"run\": {\"device\": 0}}", NULL, 0, DS_ERR_CONFIG,
                "run.device: expected a string, got number 0");
    expect_fail(t, "null for enum", "{\"run\": {\"log_level\": null}}", NULL, 0, DS_ERR_CONFIG,
                "run.log_level: expected a string, got null");
    expect_fail(t, "object for int", "{\"bench\": {\"batch\": {\"x\": 1}}}", NULL, 0, DS_ERR_CONFIG,
                "bench.batch: expected an integer, got an object");
    expect_fail(t, "scalar for section", "{\"model\": {\"bert\": 3}}", NULL, 0, DS_ERR_CONFIG,
                "model.bert: expected an object");
    expect_fail(t, "int beyond 2^53 in JSON", "{\"run\": {\"seed\": 1e17}}", NULL, 0, DS_ERR_CONFIG,
                "run.seed: integer 1e+17 is beyond 2^53");
    const char *sets[][1] = {{"bench.batch=32x"}, {"train.lr=nan"}, {"train.fp32=yes"}, {"bench.batch="},
                             {"bench.batch=99999999999999999999"}};
    const char *wants[] = {"bench.batch: expected an integer, got \"32x\" (in --set bench.batch=32x)",
                           "train.lr: expected a finite number, got \"nan\"",
                           "train.fp32: expected true or false, got \"yes\"",
                           "bench.batch: expected an integer, got \"\"",
                           "bench.batch: expected an integer, got \"99999999999999999999\""};
    for (int i = 0; i < N_OF(wants); i++) expect_fail(t, sets[i][0], NULL, sets[i], 1, DS_ERR_CONFIG, wants[i]);
}

static void test_ranges(ds_test *t) {
    expect_fail(t, "int below min", "{\"bench\": {\"batch\": 0}}", NULL, 0, DS_ERR_CONFIG,
                "bench.batch: 0 is below the minimum 1 (in %s)");
    expect_fail(t, "int above max", "{\"train\": {\"epochs\": 1001}}", NULL, 0, DS_ERR_CONFIG,
                "train.epochs: 1001 is above the maximum 1000");
    const char *s1[] = {"train.lr=1.5"};
    expect_fail(t, "float above max", NULL, s1, 1, DS_ERR_CONFIG, "train.lr: 1.5 is above the maximum 1");
    const char *s2[] = {"model.bert.dropout=-0.25"};
    expect_fail(t, "float below min", NULL, s2, 1, DS_ERR_CONFIG,
                "model.bert.dropout: -0.25 is below the minimum 0 (in --set model.bert.dropout=-0.25)");
    expect_fail(t, "enum not a choice", "{\"run\": {\"log_level\": \"loud\"}}", NULL, 0, DS_ERR_CONFIG,
                "run.log_level: \"loud\" is not one of error, warn, info, debug (in %s)");
    const char *s3[] = {"run.seed=-1"};
    expect_fail(t, "negative seed", NULL, s3, 1, DS_ERR_CONFIG, "run.seed: -1 is below the minimum 0");
    // Bounds themselves pass: min and max are inclusive.
    const char *ok[] = {"train.lr=1", "train.epochs=1000", "bench.batch=1", "run.seed=9223372036854775807"};
    ds_config *c = NULL;
    ds_err err;
    char path[512];
    ds_test_check(t, load(&c, NULL, ok, N_OF(ok), &err, path, sizeof path) == DS_OK, "bounds inclusive: %s",
                  err.msg);
    ds_test_check(t, c && ds_config_int(c, "run.seed") == INT64_MAX, "int64 max through --set");
    ds_config_free(c);
}

static void test_json_errors(ds_test *t) {
    // The stray second comma is on line 3 (cJSON reports the position after it).
    expect_fail(t, "syntax error", "{\n  \"train\": {\n    \"epochs\": 3,,\n  }\n}\n", NULL, 0, DS_ERR_FORMAT,
                "%s:3:");
    expect_fail(t, "syntax error column", "{\n  \"train\": {\n    \"epochs\": 3,,\n  }\n}\n", NULL, 0, DS_ERR_FORMAT,
                "invalid JSON near '\"epochs\": 3,,'");
    expect_fail(t, "truncated", "{\"train\": {\"epochs\": ", NULL, 0, DS_ERR_FORMAT, "unexpected end of file");
    expect_fail(t, "trailing garbage", "{}\nx", NULL, 0, DS_ERR_FORMAT, "%s:2:1: invalid JSON near 'x'");
    expect_fail(t, "top level array", "[1, 2]", NULL, 0, DS_ERR_CONFIG, "%s: the top level must be a JSON object");
    ds_config *c = (ds_config *)&c;
    ds_err err = {0};
    const ds_status s = ds_config_load_table(&c, k_test_keys, N_OF(k_test_keys), "/nonexistent/cfg.json", NULL, 0, &err);
    ds_test_check(t, s == DS_ERR_IO && strstr(err.msg, "/nonexistent/cfg.json"), "missing file: %s", err.msg);
    ds_test_check(t, c == NULL, "missing file: *out not NULL");
}

// Reads a whole scratch file into a heap string.
static bool array_has(const cJSON *arr, const char *s) {
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, arr) if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0) return true;
    return false;
}

// The printed config is valid JSON, holds every value, names the sources, and its "config"
// member loads back to the same values.
static void test_print(ds_test *t) {
    const char *json = "{\"train\": {\"lr\": 0.1}, \"model\": {\"bert\": {\"layers\": 6}}}";
    const char *sets[] = {"run.device=we\"ird\\dev\tice", "train.fp32=true", "model.bert.dropout=1"};
    ds_config *c = NULL;
    ds_err err;
    char path[512], out_path[512], again_path[512];
    if (!ds_test_check(t, load(&c, json, sets, N_OF(sets), &err, path, sizeof path) == DS_OK, "print load: %s",
                       err.msg))
        return;
    ds_test_tmpfile("printed.json", out_path, sizeof out_path);
    FILE *f = fopen(out_path, "w");
    ds_config_print(c, f);
    fclose(f);
    char *text = ds_test_read_file(out_path, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    ds_test_check(t, root != NULL, "printed config is not valid JSON:\n%s", text ? text : "(unreadable)");
    if (root) {
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
        const cJSON *train = cJSON_GetObjectItemCaseSensitive(cfg, "train");
        const cJSON *lr = cJSON_GetObjectItemCaseSensitive(train, "lr");
        ds_test_check(t, cJSON_IsNumber(lr) && lr->valuedouble == 0.1, "printed train.lr");
        const cJSON *layers = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "model"), "bert"), "layers");
        ds_test_check(t, cJSON_IsNumber(layers) && layers->valueint == 6, "printed model.bert.layers");
        // Sections appear in order of first declaration, keys in table order within them.
        const char *order[] = {"run", "train", "model", "bench"};
        const cJSON *sec = cfg ? cfg->child : NULL;
        for (int i = 0; i < N_OF(order); i++, sec = sec ? sec->next : NULL)
            ds_test_check(t, sec && strcmp(sec->string, order[i]) == 0, "section %d is not %s", i, order[i]);
        const cJSON *bert = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "model"), "bert");
        ds_test_check(t, bert && bert->child && strcmp(bert->child->string, "layers") == 0 && bert->child->next &&
                             strcmp(bert->child->next->string, "dropout") == 0,
                      "model.bert keys in table order");
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(root, "file");
        ds_test_check(t, cJSON_IsString(file) && strcmp(file->valuestring, path) == 0, "printed file");
        const cJSON *ff = cJSON_GetObjectItemCaseSensitive(root, "from_file");
        const cJSON *fs = cJSON_GetObjectItemCaseSensitive(root, "from_set");
        ds_test_check(t, cJSON_GetArraySize(ff) == 2 && array_has(ff, "train.lr") && array_has(ff, "model.bert.layers"),
                      "from_file lists the file's keys");
        ds_test_check(t, cJSON_GetArraySize(fs) == 3 && array_has(fs, "run.device") && array_has(fs, "train.fp32"),
                      "from_set lists the --set keys");
        // The "config" member is a config file that resolves to the same values.
        char *again = cJSON_Print(cfg);
        ds_config *c2 = NULL;
        ds_err_clear(&err);
        write_tmp("again.json", again ? again : "", again_path, sizeof again_path);
        const ds_status s =
            ds_config_load_table(&c2, k_test_keys, N_OF(k_test_keys), again_path, NULL, 0, &err);
        ds_test_check(t, s == DS_OK, "printed config reloads: %s", err.msg);
        for (int i = 0; c2 && i < N_OF(k_test_keys); i++) {
            const char *p = k_test_keys[i].path;
            const bool same = ds_config_int(c, p) == ds_config_int(c2, p) &&
                              ds_config_float(c, p) == ds_config_float(c2, p) &&
                              ds_config_bool(c, p) == ds_config_bool(c2, p) &&
                              (!ds_config_str(c, p) || strcmp(ds_config_str(c, p), ds_config_str(c2, p)) == 0);
            ds_test_check(t, same, "%s differs after a print/reload round trip", p);
        }
        ds_config_free(c2);
        free(again);
        unlink(again_path);
        cJSON_Delete(root);
    }
    free(text);
    ds_config_free(c);
    unlink(out_path);
    unlink(path);
}

// A broken table fails every load with an internal error naming the key.
static void test_table_checks(ds_test *t) {
    static const ds_config_key bad[][2] = {
        {{"a.b", DS_CFG_INT, "1", .doc = "x"}, {"a.b", DS_CFG_INT, "2", .doc = "y"}},
        {{"a.b", DS_CFG_INT, "1", .doc = "x"}, {"a.b.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"a.b", DS_CFG_INT, "one", .doc = "x"}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"a.b", DS_CFG_INT, "0", .min = "1", .doc = "x"}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"a.b", DS_CFG_ENUM, "x", .choices = "y|z", .doc = "x"}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"a.b", DS_CFG_INT, "1", .doc = ""}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"A.b", DS_CFG_INT, "1", .doc = "x"}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"a..b", DS_CFG_INT, "1", .doc = "x"}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"a.b", DS_CFG_BOOL, "1", .doc = "x"}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"a.b", DS_CFG_STRING, "s", .min = "1", .doc = "x"}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"a.b", DS_CFG_INT, "5", .min = "9", .max = "1", .doc = "x"}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"a.b", DS_CFG_ENUM, "y", .choices = "y|z|y", .doc = "x"}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
        {{"a.b", DS_CFG_FLOAT, "1", .max = "inf", .doc = "x"}, {"a.c", DS_CFG_INT, "2", .doc = "y"}},
    };
    for (int i = 0; i < N_OF(bad); i++) {
        ds_config *c = NULL;
        ds_err err = {0};
        const ds_status s = ds_config_load_table(&c, bad[i], 2, NULL, NULL, 0, &err);
        ds_test_check(t, s == DS_ERR_INTERNAL && err.status == DS_ERR_INTERNAL && strstr(err.msg, "config table"),
                      "bad table %d accepted (%s: %s)", i, ds_status_name(s), err.msg);
        ds_config_free(c);
    }
    ds_err err = {0};
    ds_test_check(t, ds_config_table_check(k_test_keys, N_OF(k_test_keys), &err) == DS_OK, "test table: %s",
                  err.msg);
}

static void test_suggest(ds_test *t) {
    ds_test_check(t, ds_edit_distance("kitten", "sitting") == 3, "edit distance kitten/sitting");
    ds_test_check(t, ds_edit_distance("", "abc") == 3 && ds_edit_distance("abc", "") == 3, "edit distance empty");
    ds_test_check(t, ds_edit_distance("bench.batch", "bench.batch") == 0, "edit distance equal");
    const struct {
        const char *typo, *want;
    } cases[] = {
        {"train.learning_rte", "train.lr"}, {"train.learning_rate", "train.lr"}, {"bench.bacth", "bench.batch"},
        {"bench.seed", "run.seed"},         {"run.loglevel", "run.log_level"},   {"model.bert.layer", "model.bert.layers"},
        {"model.bart.dropout", "model.bert.dropout"}, {"train.fp16", "train.fp32"}, {"qqqqqq", NULL}, {"a.b", NULL},
    };
    for (int i = 0; i < N_OF(cases); i++) {
        const char *got = ds_config_suggest(k_test_keys, N_OF(k_test_keys), cases[i].typo);
        const bool ok = cases[i].want ? got && strcmp(got, cases[i].want) == 0 : got == NULL;
        ds_test_check(t, ok, "suggest(%s) = %s, want %s", cases[i].typo, got ? got : "NULL",
                      cases[i].want ? cases[i].want : "NULL");
    }
}

int main(void) {
    ds_test t = ds_test_begin("config");
    test_defaults(&t);
    test_real_table(&t);
    test_precedence(&t);
    test_unknown_keys(&t);
    test_type_errors(&t);
    test_ranges(&t);
    test_json_errors(&t);
    test_print(&t);
    test_table_checks(&t);
    test_suggest(&t);
    return ds_test_finish(&t);
}
