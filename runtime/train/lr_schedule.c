// Each lambda is HF's Python expression transcribed operation by operation in doubles (Python
// floats are doubles and math.cos is the C library's cos), so the result is the same double.
#include "lr_schedule.h"

#include <math.h>
#include <string.h>

#include "../base/check.h"

static const char *const k_names[DS_LR_KIND_COUNT] = {
    [DS_LR_LINEAR] = "linear",
    [DS_LR_COSINE] = "cosine",
    [DS_LR_CONSTANT_WITH_WARMUP] = "constant_with_warmup",
    [DS_LR_CONSTANT] = "constant",
    [DS_LR_POLY] = "poly",
};

ds_lr_schedule ds_lr_schedule_default(void) {
    ds_lr_schedule s = {
        .kind = DS_LR_LINEAR, .base_lr = 5e-5, .warmup_steps = 0, .total_steps = 0,
        .num_cycles = 0.5, .min_lr_rate = 0.0, .power = 0.9,
    };
    return s;
}

ds_status ds_lr_schedule_check(const ds_lr_schedule *s, ds_err *err) {
    DS_REQUIRE(err, s->kind >= 0 && s->kind < DS_LR_KIND_COUNT, DS_ERR_INVALID_ARG,
               "lr schedule: unknown kind %d", (int)s->kind);
    DS_REQUIRE(err, isfinite(s->base_lr) && s->base_lr >= 0, DS_ERR_INVALID_ARG,
               "lr schedule: base_lr must be finite and >= 0, got %g", s->base_lr);
    DS_REQUIRE(err, s->warmup_steps >= 0, DS_ERR_INVALID_ARG, "lr schedule: warmup_steps must be >= 0, got %lld",
               (long long)s->warmup_steps);
    if (s->kind == DS_LR_LINEAR || s->kind == DS_LR_COSINE || s->kind == DS_LR_POLY)
        DS_REQUIRE(err, s->total_steps > 0, DS_ERR_INVALID_ARG,
                   "lr schedule: %s needs total_steps > 0 (the number of optimizer steps), got %lld",
                   k_names[s->kind], (long long)s->total_steps);
    DS_REQUIRE(err, isfinite(s->num_cycles), DS_ERR_INVALID_ARG, "lr schedule: num_cycles must be finite, got %g",
               s->num_cycles);
    DS_REQUIRE(err, s->min_lr_rate >= 0 && s->min_lr_rate <= 1, DS_ERR_INVALID_ARG,
               "lr schedule: min_lr_rate must be in [0, 1], got %g", s->min_lr_rate);
    DS_REQUIRE(err, isfinite(s->power) && s->power >= 0, DS_ERR_INVALID_ARG,
               "lr schedule: power must be finite and >= 0, got %g", s->power);
    return DS_OK;
}

static int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

// float(current_step) / float(max(1, num_warmup_steps)); the constant schedule's max(1.0, w)
// is the same double.
static double warmup_ramp(const ds_lr_schedule *s, int64_t step) {
    return (double)step / (double)max_i64(1, s->warmup_steps);
}

double ds_lr_lambda(const ds_lr_schedule *s, int64_t step) {
    switch (s->kind) {
    case DS_LR_LINEAR: {
        if (step < s->warmup_steps) return warmup_ramp(s, step);
        const double r = (double)(s->total_steps - step) / (double)max_i64(1, s->total_steps - s->warmup_steps);
        return r > 0.0 ? r : 0.0;  // max(0.0, r)
    }
    case DS_LR_COSINE: {
        if (step < s->warmup_steps) return warmup_ramp(s, step);
        const double progress =
            (double)(step - s->warmup_steps) / (double)max_i64(1, s->total_steps - s->warmup_steps);
        // math.pi * float(num_cycles) * 2.0 * progress, evaluated left to right.
        double factor = 0.5 * (1.0 + cos(M_PI * s->num_cycles * 2.0 * progress));
        factor = factor * (1 - s->min_lr_rate) + s->min_lr_rate;
        return factor > 0 ? factor : 0.0;  // max(0, factor)
    }
    case DS_LR_CONSTANT_WITH_WARMUP:
        return step < s->warmup_steps ? warmup_ramp(s, step) : 1.0;
    case DS_LR_POLY: {
        if (step < s->warmup_steps) return warmup_ramp(s, step);
        // PolynomialLR's closed form: (1.0 - min(total_iters, last_epoch) / total_iters) ** power,
        // with total_iters the steps after warm-up. (Its chainable get_lr multiplies the previous lr
        // by a ratio of such factors; the two agree to a few ulp over any realistic run.)
        const int64_t total = max_i64(1, s->total_steps - s->warmup_steps);
        int64_t done = step - s->warmup_steps;
        if (done > total) done = total;
        return pow(1.0 - (double)done / (double)total, s->power);
    }
    case DS_LR_CONSTANT:
    case DS_LR_KIND_COUNT:
        break;
    }
    return 1.0;
}

double ds_lr_for_step(const ds_lr_schedule *s, int64_t steps_taken) {
    return s->base_lr * ds_lr_lambda(s, steps_taken);
}

int64_t ds_lr_warmup_from_ratio(int64_t total_steps, double ratio) {
    return (int64_t)ceil((double)total_steps * ratio);
}

const char *ds_lr_kind_name(ds_lr_kind kind) {
    return kind >= 0 && kind < DS_LR_KIND_COUNT ? k_names[kind] : "unknown";
}

int ds_lr_kind_parse(const char *name, ds_lr_kind *out) {
    for (int k = 0; k < DS_LR_KIND_COUNT; k++)
        if (strcmp(name, k_names[k]) == 0) {
            *out = (ds_lr_kind)k;
            return 0;
        }
    return -1;
}
