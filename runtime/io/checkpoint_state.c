// The train_state metadata of a checkpoint as JSON, and the best-metric bookkeeping.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../base/check.h"
#include "checkpoint_internal.h"

static const double k_max_exact = 9007199254740992.0;  // 2^53: integers up to here are exact doubles

bool ds_train_state_update_best(ds_train_state *s, const char *metric, double value, bool greater_is_better,
                                int64_t step) {
    if (isnan(value)) return false;
    if (s->has_best && !(greater_is_better ? value > s->best_metric : value < s->best_metric)) return false;
    s->has_best = true;
    s->best_metric = value;
    s->best_step = step;
    snprintf(s->best_metric_name, sizeof s->best_metric_name, "%s", metric ? metric : "");
    return true;
}

static bool add_int(cJSON *o, const char *key, int64_t v) {
    if (v < 0 || (double)v > k_max_exact) return false;
    return cJSON_AddNumberToObject(o, key, (double)v) != NULL;
}

static bool add_u64(cJSON *o, const char *key, uint64_t v) {
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)v);
    return cJSON_AddStringToObject(o, key, s) != NULL;
}

ds_status ds_ckpt_state_encode(const ds_ckpt_state *s, const char *path, char **out, ds_err *err) {
    *out = NULL;
    const ds_train_state *t = &s->train;
    const struct {
        const char *key;
        int64_t v;
    } ints[] = {{"optimizer_step", s->optimizer_step}, {"scheduler_step", t->scheduler_step},
                {"epoch", t->epoch}, {"epoch_position", t->epoch_position}, {"best.step", t->best_step}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        DS_REQUIRE(err, ints[i].v >= 0 && (double)ints[i].v <= k_max_exact, DS_ERR_INVALID_ARG,
                   "checkpoint %s: train state %s is %lld; it must be in [0, 2^53]", path, ints[i].key,
                   (long long)ints[i].v);
    DS_REQUIRE(err, !t->has_best || isfinite(t->best_metric), DS_ERR_INVALID_ARG,
               "checkpoint %s: the best metric is %g; only finite values are recorded", path, t->best_metric);
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    for (size_t i = 0; ok && i < 4; i++) ok = add_int(o, ints[i].key, ints[i].v);
    ok = ok && add_u64(o, "seed", t->seed) && add_u64(o, "shuffle_seed", t->shuffle_seed);
    if (ok && t->has_best) {
        cJSON *b = cJSON_AddObjectToObject(o, "best");
        // 17 significant digits always parse back to the same double. (cJSON's own printing
        // does not guarantee that: it keeps 15 digits when they parse back to within an epsilon,
        // so 0.1 + 0.2 would come back as 0.3.)
        char value[32];
        snprintf(value, sizeof value, "%.17g", t->best_metric);
        ok = b && cJSON_AddStringToObject(b, "name", t->best_metric_name) && cJSON_AddRawToObject(b, "value", value) &&
             add_int(b, "step", t->best_step);
    } else if (ok) {
        ok = cJSON_AddNullToObject(o, "best") != NULL;
    }
    ok = ok && cJSON_AddBoolToObject(o, "has_optimizer", s->has_optimizer);
    if (ok) *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return *out ? DS_OK : ds_err_set(err, DS_ERR_OOM, "checkpoint %s: out of memory encoding the train state", path);
}

static ds_status get_int(const cJSON *o, const char *key, const char *path, int64_t *out, ds_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    DS_REQUIRE(err, cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= k_max_exact &&
                        v->valuedouble == floor(v->valuedouble),
               DS_ERR_FORMAT, "checkpoint %s: train_state.%s is missing or not a non-negative integer", path, key);
    *out = (int64_t)v->valuedouble;
    return DS_OK;
}

static ds_status get_u64(const cJSON *o, const char *key, const char *path, uint64_t *out, ds_err *err) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    char *end = NULL;
    const unsigned long long v = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
    DS_REQUIRE(err, end != NULL && *end == 0 && end - s <= 20, DS_ERR_FORMAT,
               "checkpoint %s: train_state.%s is missing or not an unsigned 64-bit integer in a string", path, key);
    *out = v;
    return DS_OK;
}

static ds_status decode_best(const cJSON *b, const char *path, ds_train_state *t, ds_err *err) {
    if (cJSON_IsNull(b)) return DS_OK;
    DS_REQUIRE(err, cJSON_IsObject(b), DS_ERR_FORMAT, "checkpoint %s: train_state.best is neither null nor an object",
               path);
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "name"));
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(b, "value");
    DS_REQUIRE(err, name != NULL && strlen(name) < sizeof t->best_metric_name && cJSON_IsNumber(value),
               DS_ERR_FORMAT, "checkpoint %s: train_state.best needs a name (< %zu bytes) and a numeric value", path,
               sizeof t->best_metric_name);
    DS_TRY(get_int(b, "step", path, &t->best_step, err));
    t->has_best = true;
    t->best_metric = value->valuedouble;
    snprintf(t->best_metric_name, sizeof t->best_metric_name, "%s", name);
    return DS_OK;
}

static ds_status decode_fields(const cJSON *o, const char *path, ds_ckpt_state *s, ds_err *err) {
    ds_train_state *t = &s->train;
    DS_TRY(get_int(o, "optimizer_step", path, &s->optimizer_step, err));
    DS_TRY(get_int(o, "scheduler_step", path, &t->scheduler_step, err));
    DS_TRY(get_int(o, "epoch", path, &t->epoch, err));
    DS_TRY(get_int(o, "epoch_position", path, &t->epoch_position, err));
    DS_TRY(get_u64(o, "seed", path, &t->seed, err));
    DS_TRY(get_u64(o, "shuffle_seed", path, &t->shuffle_seed, err));
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "best");
    DS_REQUIRE(err, b != NULL, DS_ERR_FORMAT, "checkpoint %s: train_state.best is missing", path);
    DS_TRY(decode_best(b, path, t, err));
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "has_optimizer");
    DS_REQUIRE(err, cJSON_IsBool(h), DS_ERR_FORMAT, "checkpoint %s: train_state.has_optimizer is missing", path);
    s->has_optimizer = cJSON_IsTrue(h);
    return DS_OK;
}

ds_status ds_ckpt_state_decode(const char *json, const char *path, ds_ckpt_state *s, ds_err *err) {
    memset(s, 0, sizeof *s);
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return ds_err_set(err, DS_ERR_FORMAT, "checkpoint %s: metadata 'train_state' is not a JSON object", path);
    }
    const ds_status st = decode_fields(o, path, s, err);
    cJSON_Delete(o);
    return st;
}
