// The optimizer driver (runtime/train/optim.c) against torch: clip_grad_norm_ + AdamW (foreach=False)
// with HF Trainer's two parameter groups and a transformers schedule, and SGD (momentum, Nesterov,
// weight decay; foreach=False) with PolynomialLR, with a 10x learning-rate group (torchvision's
// aux-head recipe) and a frozen tensor, several steps from the same start, never resynchronised
// (tests/fixtures/trainer/optim.*, scripts/fixtures/optim.py).
//
// Tolerances, and why:
// - lr: the schedule is the same double arithmetic as Python's (test_lr_schedule): exact.
// - grad_norm: torch sums each tensor's squares in fp32 (vector partial sums, in an order that
//   depends on the CPU's vector width), takes an fp32 root, and does the same over the norms; we
//   sum in double and round each norm once. Measured on the fixture: torch's per-tensor norms
//   are up to 1.9 ulps from the exact value and its total up to 1.9 ulps, ours within 0.5, the
//   two up to 2.6 ulps apart. k_norm_tol = 4 ulps of fp32 (4 * 2^-24 relative).
// - the clip factor is computed from the norm with torch's own fp32 operations, so it carries
//   the norm's relative difference (<= 4 ulps) plus one rounding. The clipped gradient then
//   differs by <= ~5 ulps relative, exp_avg (linear in it) by about as much and exp_avg_sq
//   (quadratic) by twice that: <= ~10 ulps ~ 6e-7 relative. k_moment_clip_tol = 1e-6 (measured
//   3.4e-7). Without clipping the factor is exactly 1 and the gradients are torch's bit for
//   bit, so in the unclipped case exp_avg and exp_avg_sq must match exactly (tolerance 0).
// - param: as in test_op_adamw, torch's fp32 sqrt on the CPU is not correctly rounded (up to
//   0.75 ulp), which can flip param's last bit per step; carried, not amplified, so after k
//   steps at most ~k ulps of param: k_param_tol = 1e-6 tensor-relative (measured below 1e-7).
// - SGD has no square root: every operation is one IEEE rounding on both sides (kernels/cpu/sgd.c
//   follows torch's fused multiply-adds), so without clipping param and the momentum buffer must
//   equal torch's bit for bit (tolerance 0); with clipping the factor's few-ulp difference carries
//   linearly into the buffer and param (k_moment_clip_tol).
// - a frozen tensor must never change (exact), and has no optimizer state.
// Also: the gradients are left untouched, the step counter, zero-size and error paths.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "../../runtime/train/lr_schedule.h"
#include "../../runtime/train/optim.h"
#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

static const double k_norm_tol = 4.0 / 16777216.0;  // 4 ulps of fp32, relative
static const double k_moment_clip_tol = 1e-6;
static const double k_param_tol = 1e-6;

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// Row `row` of a (steps, *shape) fixture tensor as a view of one tensor's worth.
static ds_tensor fixture_row(ds_test *t, const ds_st_file *f, const char *key, int64_t row, int64_t numel) {
    ds_tensor v = {0};
    ds_err err = {0};
    if (!ds_test_check(t, ds_st_view(f, key, DS_F32, &v, &err) == DS_OK, "%s", err.msg)) return v;
    return ds_tensor_cpu1((float *)v.data + row * numel, DS_F32, numel);
}

static int build_block(ds_test *t, const cJSON *c, ds_param_block *pb) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(c, "tensors");
    const int count = cJSON_GetArraySize(list);
    ds_param_spec *specs = calloc((size_t)count, sizeof *specs);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        snprintf(specs[i].name, sizeof specs[i].name, "%s",
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name")));
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape"), *d;
        cJSON_ArrayForEach(d, shape) specs[i].shape[specs[i].ndim++] = (int64_t)d->valuedouble;
        specs[i].decay = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "decay"));
        const cJSON *mult = cJSON_GetObjectItemCaseSensitive(e, "lr_mult");
        specs[i].lr_mult = cJSON_IsNumber(mult) ? (float)mult->valuedouble : 1.0f;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "frozen"))) specs[i].kind = DS_PARAM_FROZEN;
        i++;
    }
    ds_err err = {0};
    const bool ok = ds_test_check(t, ds_param_block_init(pb, specs, count, &err) == DS_OK, "%s", err.msg);
    free(specs);
    return ok ? count : -1;
}

static void run_case(ds_test *t, const ds_st_file *f, const cJSON *c) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
    ds_param_block pb;
    if (build_block(t, c, &pb) < 0) return;
    ds_optim_options oo = ds_optim_options_default();
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "optimizer"));
    ds_test_check(t, kind && ds_optim_kind_parse(kind, &oo.kind) == 0, "%s: optimizer %s", name, kind);
    const bool sgd = oo.kind == DS_OPTIM_SGD;
    if (sgd) {
        oo.momentum = num(c, "momentum");
        oo.nesterov = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "nesterov"));
    } else {
        const cJSON *betas = cJSON_GetObjectItemCaseSensitive(c, "betas");
        oo.beta1 = cJSON_GetArrayItem(betas, 0)->valuedouble;
        oo.beta2 = cJSON_GetArrayItem(betas, 1)->valuedouble;
        oo.eps = num(c, "eps");
    }
    oo.weight_decay = num(c, "weight_decay");
    oo.max_grad_norm = num(c, "max_grad_norm");
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(c, "schedule");
    ds_lr_schedule sched = ds_lr_schedule_default();
    ds_test_check(t, ds_lr_kind_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sj, "kind")),
                                      &sched.kind) == 0, "%s: schedule kind", name);
    sched.base_lr = num(c, "lr");
    sched.warmup_steps = (int64_t)num(sj, "warmup_steps");
    sched.total_steps = (int64_t)num(sj, "total_steps");
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(sj, "power"))) sched.power = num(sj, "power");
    const int64_t steps = (int64_t)num(c, "steps");

    ds_context ctx = ds_context_cpu();
    ds_optim o;
    ds_err err = {0};
    if (!ds_test_check(t, ds_optim_init(&o, &pb, &oo, &err) == DS_OK, "%s", err.msg)) {
        ds_param_block_free(&pb);
        return;
    }
    char key[256];
    for (int i = 0; i < pb.count; i++) {
        ds_tensor dst = ds_param_block_param(&pb, i);
        snprintf(key, sizeof key, "%s/%s/param0", name, pb.specs[i].name);
        ds_tensor p0 = fixture_row(t, f, key, 0, ds_tensor_numel(&dst));
        if (p0.data) memcpy(dst.data, p0.data, ds_tensor_nbytes(&dst));
    }
    ds_tensor norms = {0}, lrs = {0};
    snprintf(key, sizeof key, "%s/grad_norm", name);
    ds_test_check(t, ds_st_view(f, key, DS_F32, &norms, &err) == DS_OK, "%s", err.msg);
    snprintf(key, sizeof key, "%s/lr", name);
    ds_test_check(t, ds_st_view(f, key, DS_F64, &lrs, &err) == DS_OK, "%s", err.msg);
    if (!norms.data || !lrs.data) goto done;

    double worst_norm = 0, worst_m = 0, worst_v = 0, worst_p = 0;
    const double moment_tol = oo.max_grad_norm > 0 ? k_moment_clip_tol : 0.0;
    // SGD has no sqrt (see the top): without clipping param is exact too.
    const double param_tol = sgd && oo.max_grad_norm <= 0 ? 0.0 : sgd ? k_moment_clip_tol : k_param_tol;
    for (int64_t s = 0; s < steps; s++) {
        for (int i = 0; i < pb.count; i++) {
            if (!ds_param_is_trainable(&pb, i)) continue;  // a frozen tensor has no gradient
            ds_tensor g = ds_param_block_grad(&pb, i);
            snprintf(key, sizeof key, "%s/%s/grad", name, pb.specs[i].name);
            ds_tensor src = fixture_row(t, f, key, s, ds_tensor_numel(&g));
            if (src.data) memcpy(g.data, src.data, ds_tensor_nbytes(&g));
        }
        const double lr = ds_lr_for_step(&sched, o.step);
        // The lr of the base group: transformers' schedules are exact; PolynomialLR's chainable
        // form differs from the closed form by rounding (test_lr_schedule: within 1e-15).
        const double want_lr = ((const double *)lrs.data)[s];
        ds_test_check(t, sched.kind == DS_LR_POLY ? fabs(lr - want_lr) <= 1e-15 * want_lr : lr == want_lr,
                      "%s step %lld: lr %.17g, torch %.17g", name, (long long)s + 1, lr, want_lr);
        ds_optim_stats st;
        if (!ds_test_check(t, ds_optim_step(&ctx, &o, &pb, sched.base_lr, ds_lr_lambda(&sched, o.step), &st) == DS_OK,
                           "%s step %lld: %s", name, (long long)s + 1, ctx.err.msg))
            break;
        ds_test_check(t, o.step == s + 1 && !st.skipped && st.lr == lr, "%s: step counter %lld", name,
                      (long long)o.step);
        const double want_norm = ((const float *)norms.data)[s];
        const double dn = fabs(st.grad_norm - want_norm) / want_norm;
        if (dn > worst_norm) worst_norm = dn;
        ds_test_check(t, dn <= k_norm_tol, "%s step %lld: grad_norm %.9g, torch %.9g", name, (long long)s + 1,
                      st.grad_norm, want_norm);
        // torch scales whenever max_norm / (norm + 1e-6) < 1, i.e. also just below max_norm.
        const bool should_clip = oo.max_grad_norm > 0 && want_norm + 1e-6 > oo.max_grad_norm;
        ds_test_check(t, should_clip == (st.clip_coef < 1), "%s step %lld: clip factor %.9g at norm %.9g", name,
                      (long long)s + 1, st.clip_coef, st.grad_norm);
        for (int i = 0; i < pb.count; i++) {
            ds_tensor p = ds_param_block_param(&pb, i), m = ds_optim_m(&o, &pb, i), v = ds_optim_v(&o, &pb, i),
                      buf = ds_optim_buf(&o, &pb, i);
            const int64_t numel = ds_tensor_numel(&p);
            char what[300];
            struct {
                const char *suffix;
                const ds_tensor *got;
                double tol;
                double *worst;
            } parts[] = {{"param", &p, param_tol, &worst_p},
                         {sgd ? "momentum_buffer" : "exp_avg", sgd ? &buf : &m, moment_tol, &worst_m},
                         {"exp_avg_sq", &v, moment_tol, &worst_v}};
            const bool frozen = !ds_param_is_trainable(&pb, i);
            if (frozen) parts[0].tol = 0;  // never updated: torch's value is the start value, exactly
            ds_test_check(t, !frozen || (m.data == NULL && v.data == NULL && buf.data == NULL),
                          "%s: the frozen %s has no optimizer state", name, pb.specs[i].name);
            const size_t nparts = frozen ? 1 : sgd ? (o.buf ? 2 : 1) : 3;
            for (size_t k = 0; k < nparts; k++) {
                snprintf(key, sizeof key, "%s/%s/%s", name, pb.specs[i].name, parts[k].suffix);
                snprintf(what, sizeof what, "step %lld %s", (long long)s + 1, key);
                ds_tensor want = fixture_row(t, f, key, s, numel);
                ds_tensor got = ds_tensor_cpu1(parts[k].got->data, DS_F32, numel);
                if (!want.data) continue;
                const double e = ds_test_close(t, what, &got, &want, parts[k].tol);
                if (e > *parts[k].worst) *parts[k].worst = e;
            }
        }
        // The gradients are read, not scaled in place.
        for (int i = 0; i < pb.count; i++) {
            if (!ds_param_is_trainable(&pb, i)) continue;
            ds_tensor g = ds_param_block_grad(&pb, i);
            snprintf(key, sizeof key, "%s/%s/grad", name, pb.specs[i].name);
            ds_tensor src = fixture_row(t, f, key, s, ds_tensor_numel(&g));
            if (src.data)
                ds_test_check(t, memcmp(g.data, src.data, ds_tensor_nbytes(&g)) == 0, "%s: grads of %s changed", name,
                              pb.specs[i].name);
        }
    }
    printf("%-8s %lld steps: worst grad_norm rel %.3g, exp_avg/momentum %.3g, exp_avg_sq %.3g, param %.3g\n", name,
           (long long)steps, worst_norm, worst_m, worst_v, worst_p);
done:
    ds_optim_free(&o);
    ds_param_block_free(&pb);
}

static void check_fixture(ds_test *t) {
    char path[1024], jpath[1024];
    ds_test_fixture("trainer/optim.safetensors", path, sizeof path);
    ds_test_fixture("trainer/optim.json", jpath, sizeof jpath);
    ds_st_file f = {0};
    ds_err err = {0};
    if (!ds_test_check(t, ds_st_open(path, &f, &err) == DS_OK, "%s", err.msg)) return;
    char *text = ds_test_read_file(jpath, NULL);
    cJSON *cases = text ? cJSON_Parse(text) : NULL;
    if (ds_test_check(t, cJSON_IsArray(cases) && cJSON_GetArraySize(cases) == 6, "%s: cases", jpath)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cases) run_case(t, &f, c);
    }
    cJSON_Delete(cases);
    free(text);
    ds_st_close(&f);
}

// torch's clip factor, worked by hand: max_norm / (norm + 1e-6) in fp32, clamped to 1.
static void check_clip_coef(ds_test *t) {
    ds_test_check(t, ds_clip_coef(0.5f, 1.0) == 1.0f, "below max_norm: no clipping");
    ds_test_check(t, ds_clip_coef(4.0f, 1.0) == (1.0f / (4.0f + 1e-6f)) * 1.0f, "4 -> 1/(4 + 1e-6)");
    ds_test_check(t, ds_clip_coef(3.0f, 0.0) == 1.0f && ds_clip_coef(3.0f, -1.0) == 1.0f, "max_norm <= 0: off");
    ds_test_check(t, ds_clip_coef(1.0f, 1.0) < 1.0f, "norm == max_norm still scales by 1/(1 + 1e-6), as torch");
    ds_test_check(t, isnan(ds_clip_coef(NAN, 1.0)), "NaN norm gives a NaN factor (the step refuses it)");
}

static void check_errors(ds_test *t) {
    ds_param_spec specs[2] = {{.name = "w", .ndim = 2, .shape = {3, 5}, .decay = true},
                              {.name = "b", .ndim = 1, .shape = {3}, .decay = false}};
    ds_param_block pb;
    ds_err err = {0};
    if (!ds_test_check(t, ds_param_block_init(&pb, specs, 2, &err) == DS_OK, "%s", err.msg)) return;
    for (size_t i = 0; i < pb.total; i++) pb.params[i] = 1.0f;
    ds_optim_options oo = ds_optim_options_default();
    ds_optim o;
    oo.beta1 = 1.0;
    ds_test_check(t, ds_optim_init(&o, &pb, &oo, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "beta1"),
                  "beta1 = 1 rejected: %s", err.msg);
    ds_err_clear(&err);
    oo = ds_optim_options_default();
    if (!ds_test_check(t, ds_optim_init(&o, &pb, &oo, &err) == DS_OK, "%s", err.msg)) {
        ds_param_block_free(&pb);
        return;
    }
    ds_context ctx = ds_context_cpu();
    // A NaN gradient: refused, nothing updated.
    ds_param_block_grad(&pb, 1);
    pb.grads[pb.offset[1] + 2] = NAN;
    ds_optim_stats st;
    ds_test_check(t, ds_optim_step(&ctx, &o, &pb, 1e-3, 1.0, &st) == DS_ERR_NUMERIC && strstr(ctx.err.msg, "norm"),
                  "NaN gradient is an error: %s", ctx.err.msg);
    ds_test_check(t, o.step == 0 && pb.params[0] == 1.0f && o.m[0] == 0.0f, "nothing updated after the error");
    ds_err_clear(&ctx.err);
    o.options.nonfinite = DS_NONFINITE_SKIP;
    ds_test_check(t, ds_optim_step(&ctx, &o, &pb, 1e-3, 1.0, &st) == DS_OK && st.skipped && isnan(st.grad_norm),
                  "skip policy: %s", ctx.err.msg);
    ds_test_check(t, o.step == 0 && pb.params[0] == 1.0f, "skipped step changes nothing");
    pb.grads[pb.offset[1] + 2] = 0.5f;
    ds_test_check(t, ds_optim_step(&ctx, &o, &pb, NAN, 1.0, &st) == DS_ERR_INVALID_ARG && strstr(ctx.err.msg, "lr"),
                  "NaN lr rejected: %s", ctx.err.msg);
    ds_err_clear(&ctx.err);
    // Weight decay only where the spec says so: with zero gradients, AdamW's update is 0 and only
    // the decay moves a parameter.
    memset(pb.grads, 0, pb.total * sizeof(float));
    o.options.weight_decay = 0.5;
    ds_test_check(t, ds_optim_step(&ctx, &o, &pb, 0.1, 1.0, &st) == DS_OK && o.step == 1, "%s", ctx.err.msg);
    ds_test_check(t, pb.params[pb.offset[0]] == (float)(1 - 0.1 * 0.5) && pb.params[pb.offset[1]] == 1.0f,
                  "decay on w (%.9g), none on b (%.9g)", pb.params[pb.offset[0]], pb.params[pb.offset[1]]);
    ds_test_check(t, st.grad_norm == 0 && st.clip_coef == 1, "zero gradients: norm 0, no clipping");
    // A block of another size.
    ds_param_block other;
    if (ds_param_block_init(&other, specs, 1, &err) == DS_OK) {
        ds_test_check(t, ds_optim_step(&ctx, &o, &other, 0.1, 1.0, &st) == DS_ERR_INVALID_ARG &&
                             strstr(ctx.err.msg, "initialised for"),
                      "mismatched block: %s", ctx.err.msg);
        ds_param_block_free(&other);
    }
    ds_optim_free(&o);
    ds_param_block_free(&pb);
}

// The norm of a tensor big enough to be summed in chunks on several threads: the same bits on 1
// and 2 threads, and within 1 ulp of the exact value (long double here).
static void check_norm_threads(ds_test *t) {
    ds_param_spec spec = {.name = "big", .ndim = 1, .shape = {100003}, .decay = true};
    ds_param_block pb;
    ds_err err = {0};
    if (!ds_test_check(t, ds_param_block_init(&pb, &spec, 1, &err) == DS_OK, "%s", err.msg)) return;
    long double exact = 0;
    uint32_t x = 12345;
    for (int64_t i = 0; i < spec.shape[0]; i++) {
        x = x * 1664525u + 1013904223u;
        pb.grads[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 3.0f;
        exact += (long double)pb.grads[i] * pb.grads[i];
    }
    omp_set_num_threads(1);
    const float one = ds_grad_global_norm(&pb);
    omp_set_num_threads(2);
    const float two = ds_grad_global_norm(&pb);
    ds_test_check(t, memcmp(&one, &two, sizeof one) == 0, "norm on 1 thread %.9g, on 2 threads %.9g", one, two);
    const double e = sqrtl(exact);
    ds_test_check(t, fabs(one - e) <= e * 0x1p-24 * 1.0, "norm %.9g vs exact %.12g", one, e);
    ds_param_block_free(&pb);
}

int main(void) {
    ds_test t = ds_test_begin("optim");
    check_fixture(&t);
    check_clip_coef(&t);
    check_norm_threads(&t);
    check_errors(&t);
    return ds_test_finish(&t);
}
