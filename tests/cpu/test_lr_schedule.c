// LR schedules (runtime/train/lr_schedule.c) against transformers' own schedules driven by torch's
// LambdaLR: tests/fixtures/trainer/lr_schedule.{json,safetensors}, written by
// scripts/fixtures/lr_schedule.py. Every step's learning rate must match within 1e-12 relative:
// both sides evaluate the same double expressions, so the only possible difference is the C
// library's cos against the one Python calls (the same glibc here, so in practice equal); 1e-12
// leaves room for a different libm (cos is within 1 ulp ~ 1e-16) and nothing else.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../runtime/train/lr_schedule.h"
#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

static const double k_rel_tol = 1e-12;

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void check_case(ds_test *t, const ds_st_file *f, const cJSON *c) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "kind"));
    ds_lr_schedule s = ds_lr_schedule_default();
    if (!ds_test_check(t, name && kind && ds_lr_kind_parse(kind, &s.kind) == 0, "case %s: kind %s", name, kind))
        return;
    s.base_lr = num(c, "base_lr");
    s.warmup_steps = (int64_t)num(c, "warmup_steps");
    s.total_steps = (int64_t)num(c, "total_steps");
    s.num_cycles = num(c, "num_cycles");
    s.min_lr_rate = num(c, "min_lr_rate");
    s.power = num(c, "power");
    const int64_t steps = (int64_t)num(c, "steps");
    ds_err err = {0};
    if (!ds_test_check(t, ds_lr_schedule_check(&s, &err) == DS_OK, "case %s: %s", name, err.msg)) return;
    char key[96];
    snprintf(key, sizeof key, "%s.lr", name);
    ds_tensor want;
    if (!ds_test_check(t, ds_st_view(f, key, DS_F64, &want, &err) == DS_OK, "%s", err.msg)) return;
    if (!ds_test_check(t, want.shape[0] == steps, "%s: %lld rows, json says %lld", key, (long long)want.shape[0],
                       (long long)steps))
        return;
    const double *w = want.data;
    double worst = 0;
    int64_t worst_at = 0;
    for (int64_t k = 0; k < steps; k++) {
        const double got = ds_lr_for_step(&s, k);
        const double d = fabs(got - w[k]);
        // Relative to the value; an exact 0 must be an exact 0.
        const double rel = w[k] != 0 ? d / fabs(w[k]) : (got == 0 ? 0 : INFINITY);
        if (!(rel <= worst)) worst = rel, worst_at = k;
    }
    ds_test_check(t, worst <= k_rel_tol, "%s: optimizer step %lld: lr %.17g, torch %.17g (rel %.3g)", name,
                  (long long)worst_at + 1, ds_lr_for_step(&s, worst_at), w[worst_at], worst);
    if (getenv("DS_TEST_VERBOSE")) printf("ok   %-20s %lld steps, max rel err %.3g\n", name, (long long)steps, worst);
}

static void check_fixture(ds_test *t) {
    char path[1024], jpath[1024];
    ds_test_fixture("trainer/lr_schedule.safetensors", path, sizeof path);
    ds_test_fixture("trainer/lr_schedule.json", jpath, sizeof jpath);
    ds_st_file f = {0};
    ds_err err = {0};
    if (!ds_test_check(t, ds_st_open(path, &f, &err) == DS_OK, "%s", err.msg)) return;
    char *text = ds_test_read_file(jpath, NULL);
    cJSON *cases = text ? cJSON_Parse(text) : NULL;
    if (ds_test_check(t, cJSON_IsArray(cases) && cJSON_GetArraySize(cases) >= 8, "%s: cases", jpath)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cases) check_case(t, &f, c);
    }
    cJSON_Delete(cases);
    free(text);
    ds_st_close(&f);
}

// Hand-checked properties of HF's definitions, independent of the fixture.
static void check_properties(ds_test *t) {
    ds_lr_schedule s = ds_lr_schedule_default();
    s.base_lr = 1.0;
    s.warmup_steps = 4;
    s.total_steps = 12;
    ds_test_check(t, ds_lr_for_step(&s, 0) == 0.0, "first warmup step runs at lr 0");
    ds_test_check(t, ds_lr_for_step(&s, 2) == 0.5, "warmup is linear: lambda(2) = 2/4");
    ds_test_check(t, ds_lr_for_step(&s, 4) == 1.0, "peak right after warmup");
    ds_test_check(t, ds_lr_for_step(&s, 8) == 0.5, "linear decay: (12-8)/(12-4)");
    ds_test_check(t, ds_lr_for_step(&s, 12) == 0.0 && ds_lr_for_step(&s, 40) == 0.0, "linear stays 0 past total");
    s.kind = DS_LR_COSINE;
    ds_test_check(t, fabs(ds_lr_for_step(&s, 8) - 0.5) < 1e-15, "cosine half way: 0.5");
    s.kind = DS_LR_CONSTANT;
    ds_test_check(t, ds_lr_for_step(&s, 0) == 1.0, "constant ignores warmup");
    ds_test_check(t, ds_lr_warmup_from_ratio(1000, 0.06) == 60 && ds_lr_warmup_from_ratio(10, 0.11) == 2,
                  "warmup_ratio rounds up as HF's math.ceil");
    ds_lr_kind k;
    for (int i = 0; i < DS_LR_KIND_COUNT; i++)
        ds_test_check(t, ds_lr_kind_parse(ds_lr_kind_name((ds_lr_kind)i), &k) == 0 && (int)k == i, "name %d", i);
    ds_test_check(t, ds_lr_kind_parse("cosine_restarts", &k) != 0, "unknown name rejected");
}

static void check_errors(ds_test *t) {
    ds_err err = {0};
    ds_lr_schedule s = ds_lr_schedule_default();
    ds_test_check(t, ds_lr_schedule_check(&s, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "total_steps"),
                  "linear without total_steps: %s", err.msg);
    ds_err_clear(&err);
    s.total_steps = 10;
    s.warmup_steps = -1;
    ds_test_check(t, ds_lr_schedule_check(&s, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "warmup_steps"),
                  "negative warmup: %s", err.msg);
    ds_err_clear(&err);
    s.warmup_steps = 0;
    s.base_lr = NAN;
    ds_test_check(t, ds_lr_schedule_check(&s, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "base_lr"),
                  "nan base_lr: %s", err.msg);
    ds_err_clear(&err);
    s.base_lr = 1e-3;
    s.kind = DS_LR_CONSTANT;
    s.total_steps = 0;
    ds_test_check(t, ds_lr_schedule_check(&s, &err) == DS_OK, "constant needs no total_steps: %s", err.msg);
}

int main(void) {
    ds_test t = ds_test_begin("lr_schedule");
    check_fixture(&t);
    check_properties(&t);
    check_errors(&t);
    return ds_test_finish(&t);
}
