// Attention (kernels/cpu/attention.c) against PyTorch: tests/fixtures/ops/attention.safetensors,
// written by scripts/fixtures/ops_attention.py from torch's scaled_dot_product_attention (math
// backend, float32) and autograd. Cases: T = 1; T = 7 with unequal padding (boolean mask);
// T = 16, D = 32 with an additive mask; T = 16 without a mask and a non-default scale; T = 4 with
// a fully padded batch element (torch outputs zeros there); T = 7 with dropout p = 0.25, where
// torch was handed the keep mask of our Philox stream. Each case runs in F32 (compared with
// torch) and in F64 (the same comparison: torch's float32 rounding dominates), with 1 and 2
// threads (bitwise equal), followed by the argument checks. Longer sequences, beyond one tile of
// queries and one block of keys (kernels/cpu/attention_tiled.c): tests/fixtures/ops/
// attention_long.safetensors (scripts/fixtures/ops_attention_long.py): T = 300 with padding and
// dropout p = 0.1, T = 260 with padding; the dot products there are of length D <= 16 and the
// sums of probabilities over up to 300 keys, which the tolerances below cover as well.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../../kernels/ops.h"
#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

// Tolerances, tensor-relative (max|diff| / max|want|, tests/test_util.h).
// Both sides compute in float32 with different operation orders (torch scales q and k by
// sqrt(scale) each, multiplies with a GEMM and takes a max-subtracted softmax; we use
// scale * (q . k) and exp(s - lse)). The worst-case relative error of a float32 dot product of
// length n <= 32 is n * 2^-24 = 2e-6 of the sum of |terms|; an absolute error e of a score
// becomes a relative error e of its probability; out and the gradients are sums of such
// products again. Measured over all cases, F32 and F64: <= 4.3e-7 (torch's own rounding
// dominates; the F64 run is no closer). 5e-6 sits above the worst-case dot-product bound and
// ~10x above what is measured, while a wrong formula (a missing scale, a mask or dropout
// applied wrongly, the dropout row term) is off by 1e-2 or more.
static const double k_tol_fwd = 5e-6;
static const double k_tol_bwd = 5e-6;

static const char *const k_cases[] = {"t1", "t7", "t16", "t16nomask", "t4empty", "t7drop"};
static const char *const k_long_cases[] = {"t300drop", "t260"};

typedef struct attn_case {
    ds_tensor q, k, v, dout, out, lse, dq, dk, dv, key_mask;  // torch's, F32 (mask I32, may be absent)
    double scale;
    float p;
    uint64_t seed, offset;
} attn_case;

static bool load_case(ds_test *t, const ds_st_file *f, const char *name, attn_case *c) {
    ds_err err = {0};
    char key[64];
    struct {
        const char *suffix;
        ds_tensor *dst;
    } parts[] = {{"q", &c->q},     {"k", &c->k},   {"v", &c->v},   {"dout", &c->dout}, {"out", &c->out},
                 {"lse", &c->lse}, {"dq", &c->dq}, {"dk", &c->dk}, {"dv", &c->dv}};
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", name, parts[i].suffix);
        if (!ds_test_check(t, ds_st_view(f, key, DS_F32, parts[i].dst, &err) == DS_OK, "%s", err.msg)) return false;
    }
    snprintf(key, sizeof key, "%s.key_mask", name);
    if (ds_st_find(f, key) && !ds_test_check(t, ds_st_view(f, key, DS_I32, &c->key_mask, &err) == DS_OK, "%s", err.msg))
        return false;
    ds_tensor params, stream;
    snprintf(key, sizeof key, "%s.params", name);
    if (!ds_test_check(t, ds_st_view(f, key, DS_F64, &params, &err) == DS_OK, "%s", err.msg)) return false;
    c->scale = ((const double *)params.data)[0];
    c->p = (float)((const double *)params.data)[1];
    snprintf(key, sizeof key, "%s.stream", name);
    if (ds_st_find(f, key)) {
        if (!ds_test_check(t, ds_st_view(f, key, DS_I64, &stream, &err) == DS_OK, "%s", err.msg)) return false;
        c->seed = (uint64_t)((const int64_t *)stream.data)[0];
        c->offset = (uint64_t)((const int64_t *)stream.data)[1];
    }
    return true;
}

// Our results for one case in one dtype.
typedef struct attn_run {
    void *out, *lse, *dq, *dk, *dv;
    ds_tensor tout, tlse, tdq, tdk, tdv;
} attn_run;

static void *to_dtype(const ds_tensor *src, ds_dtype dt) {
    const int64_t n = ds_tensor_numel(src);
    const float *s = src->data;
    if (dt == DS_F32) {
        float *d = malloc(sizeof(float) * (size_t)n);
        memcpy(d, s, sizeof(float) * (size_t)n);
        return d;
    }
    double *d = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) d[i] = s[i];
    return d;
}

static ds_tensor like(const ds_tensor *shape_of, void *data, ds_dtype dt) {
    return ds_tensor_make(data, dt, shape_of->device, shape_of->ndim, shape_of->shape);
}

// Runs forward then backward (on our own out and lse) in dtype dt; returns false on error.
static bool run_case(ds_test *t, ds_context *ctx, const attn_case *c, ds_dtype dt, attn_run *r) {
    const size_t es = dt == DS_F32 ? sizeof(float) : sizeof(double);
    const size_t n = (size_t)ds_tensor_numel(&c->q), nl = (size_t)ds_tensor_numel(&c->lse);
    void *q = to_dtype(&c->q, dt), *k = to_dtype(&c->k, dt), *v = to_dtype(&c->v, dt), *dout = to_dtype(&c->dout, dt);
    r->out = calloc(n, es), r->lse = calloc(nl, es), r->dq = calloc(n, es), r->dk = calloc(n, es), r->dv = calloc(n, es);
    r->tout = like(&c->q, r->out, dt), r->tlse = like(&c->lse, r->lse, dt);
    r->tdq = like(&c->q, r->dq, dt), r->tdk = like(&c->q, r->dk, dt), r->tdv = like(&c->q, r->dv, dt);
    ctx->seed = c->seed;
    ds_attention_fwd_args f = {.q = like(&c->q, q, dt), .k = like(&c->q, k, dt), .v = like(&c->q, v, dt),
                               .key_mask = c->key_mask, .out = r->tout, .lse = r->tlse, .scale = c->scale,
                               .dropout_p = c->p, .dropout_offset = c->offset};
    ds_attention_bwd_args b = {.q = f.q, .k = f.k, .v = f.v, .key_mask = c->key_mask, .out = r->tout, .lse = r->tlse,
                               .dout = like(&c->q, dout, dt), .dq = r->tdq, .dk = r->tdk, .dv = r->tdv,
                               .scale = c->scale, .dropout_p = c->p, .dropout_offset = c->offset};
    ds_err_clear(&ctx->err);
    const bool ok = ds_test_check(t, ds_attention_forward(ctx, &f) == DS_OK, "forward: %s", ctx->err.msg) &&
                    ds_test_check(t, ds_attention_backward(ctx, &b) == DS_OK, "backward: %s", ctx->err.msg);
    free(q), free(k), free(v), free(dout);
    return ok;
}

static void free_run(attn_run *r) { free(r->out), free(r->lse), free(r->dq), free(r->dk), free(r->dv); }

// lse may hold -inf (fully masked rows): those must match exactly, the rest within tol.
static void check_lse(ds_test *t, const char *what, const ds_tensor *got, const ds_tensor *want, double tol) {
    const int64_t n = ds_tensor_numel(want);
    const float *w = want->data;
    double *g = malloc(sizeof(double) * (size_t)n), *wf = malloc(sizeof(double) * (size_t)n);
    int64_t inf_mismatch = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        const double gi = got->dtype == DS_F32 ? ((const float *)got->data)[i] : ((const double *)got->data)[i];
        if (isinf(w[i]) || isinf(gi)) {
            inf_mismatch += !(gi == (double)w[i]);
            continue;
        }
        g[m] = gi, wf[m] = w[i], m++;
    }
    ds_test_check(t, inf_mismatch == 0, "%s: %lld rows disagree on -inf", what, (long long)inf_mismatch);
    ds_test_close_f64(t, what, g, wf, (size_t)m, tol);
    free(g), free(wf);
}

static void check_case(ds_test *t, ds_context *ctx, const char *name, const attn_case *c) {
    const ds_dtype dts[] = {DS_F32, DS_F64};
    for (int di = 0; di < 2; di++) {
        attn_run r;
        if (!run_case(t, ctx, c, dts[di], &r)) {
            free_run(&r);
            continue;
        }
        char what[96];
        const char *dn = ds_dtype_name(dts[di]);
        snprintf(what, sizeof what, "%s %s out", name, dn);
        ds_test_close(t, what, &r.tout, &c->out, k_tol_fwd);
        snprintf(what, sizeof what, "%s %s lse", name, dn);
        check_lse(t, what, &r.tlse, &c->lse, k_tol_fwd);
        snprintf(what, sizeof what, "%s %s dq", name, dn);
        ds_test_close(t, what, &r.tdq, &c->dq, k_tol_bwd);
        snprintf(what, sizeof what, "%s %s dk", name, dn);
        ds_test_close(t, what, &r.tdk, &c->dk, k_tol_bwd);
        snprintf(what, sizeof what, "%s %s dv", name, dn);
        ds_test_close(t, what, &r.tdv, &c->dv, k_tol_bwd);

        // The thread count changes nothing: rerun with 1 thread and compare bit for bit.
        omp_set_num_threads(1);
        attn_run r1;
        if (run_case(t, ctx, c, dts[di], &r1)) {
            const size_t bytes = ds_tensor_nbytes(&r.tout), lbytes = ds_tensor_nbytes(&r.tlse);
            ds_test_check(t, memcmp(r.out, r1.out, bytes) == 0 && memcmp(r.lse, r1.lse, lbytes) == 0 &&
                                 memcmp(r.dq, r1.dq, bytes) == 0 && memcmp(r.dk, r1.dk, bytes) == 0 &&
                                 memcmp(r.dv, r1.dv, bytes) == 0,
                          "%s %s: 1 and 2 threads give different bits", name, dn);
        }
        free_run(&r1);
        omp_set_num_threads(2);
        free_run(&r);
    }
}

// Bad arguments are refused with DS_ERR_INVALID_ARG, a message naming the op and the tensor,
// and nothing written.
static void check_errors(ds_test *t, ds_context *ctx, const attn_case *c) {
    const int64_t n = ds_tensor_numel(&c->q), nl = ds_tensor_numel(&c->lse), B = c->q.shape[0], T = c->q.shape[2];
    float *out = malloc(sizeof(float) * (size_t)n), *lse = malloc(sizeof(float) * (size_t)nl);
    int32_t *mask = malloc(sizeof(int32_t) * (size_t)(B * T));
    double *kd = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < B * T; i++) mask[i] = 1;
    mask[B * T - 1] = 2;
    struct {
        const char *why, *expect_in_msg;
        ds_attention_fwd_args a;
    } bad[7];
    const ds_attention_fwd_args good = {.q = c->q, .k = c->k, .v = c->v, .key_mask = c->key_mask,
                                        .out = like(&c->q, out, DS_F32), .lse = like(&c->lse, lse, DS_F32),
                                        .scale = c->scale};
    for (int i = 0; i < 7; i++) bad[i].a = good;
    bad[0].why = "lse of the wrong shape", bad[0].expect_in_msg = "lse";
    bad[0].a.lse = ds_tensor_cpu3(lse, DS_F32, B, c->q.shape[1], T - 1);
    bad[1].why = "mask value 2", bad[1].expect_in_msg = "key_mask";
    bad[1].a.key_mask = ds_tensor_cpu2(mask, DS_I32, B, T);
    bad[2].why = "k in F64", bad[2].expect_in_msg = ": k";
    bad[2].a.k = like(&c->q, kd, DS_F64);
    bad[3].why = "dropout_p = 1", bad[3].expect_in_msg = "dropout_p";
    bad[3].a.dropout_p = 1.0f;
    bad[4].why = "v of another shape", bad[4].expect_in_msg = ": v";
    bad[4].a.v = ds_tensor_cpu4(c->v.data, DS_F32, B, c->q.shape[1], T, c->q.shape[3] - 1);
    bad[5].why = "mask in F32", bad[5].expect_in_msg = "key_mask";
    bad[5].a.key_mask = ds_tensor_cpu2(mask, DS_F32, B, T);
    bad[6].why = "scale NaN", bad[6].expect_in_msg = "scale";
    bad[6].a.scale = NAN;
    for (int i = 0; i < 7; i++) {
        for (int64_t j = 0; j < n; j++) out[j] = 42.0f;
        for (int64_t j = 0; j < nl; j++) lse[j] = 42.0f;
        ds_err_clear(&ctx->err);
        const ds_status s = ds_attention_forward(ctx, &bad[i].a);
        ds_test_check(t,
                      s == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "attention_forward") &&
                          strstr(ctx->err.msg, bad[i].expect_in_msg),
                      "%s: status %d, message '%s'", bad[i].why, (int)s, ctx->err.msg);
        int written = 0;
        for (int64_t j = 0; j < n; j++) written += out[j] != 42.0f;
        for (int64_t j = 0; j < nl; j++) written += lse[j] != 42.0f;
        ds_test_check(t, written == 0, "%s: %d outputs written on error", bad[i].why, written);
    }
    // Backward checks its own tensors: a missing dk.
    ds_attention_bwd_args b = {.q = c->q, .k = c->k, .v = c->v, .key_mask = c->key_mask, .out = c->out,
                               .lse = c->lse, .dout = c->dout, .dq = like(&c->q, out, DS_F32),
                               .dv = like(&c->q, out, DS_F32), .scale = c->scale};
    ds_err_clear(&ctx->err);
    ds_test_check(t, ds_attention_backward(ctx, &b) == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, ": dk"),
                  "backward without dk: '%s'", ctx->err.msg);
    ds_err_clear(&ctx->err);
    free(out), free(lse), free(mask), free(kd);
}

int main(void) {
    ds_test t = ds_test_begin("op_attention");
    ds_context ctx = ds_context_cpu();
    char path[1024];
    ds_st_file f;
    if (!ds_test_check(&t, ds_st_open(ds_test_fixture("ops/attention.safetensors", path, sizeof path), &f,
                                      &ctx.err) == DS_OK,
                       "%s", ctx.err.msg))
        return ds_test_finish(&t);
    omp_set_num_threads(2);
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        attn_case c;
        if (load_case(&t, &f, k_cases[i], &c)) check_case(&t, &ctx, k_cases[i], &c);
    }
    attn_case c;
    if (load_case(&t, &f, "t7", &c)) check_errors(&t, &ctx, &c);
    ds_st_close(&f);
    if (ds_test_check(&t, ds_st_open(ds_test_fixture("ops/attention_long.safetensors", path, sizeof path), &f,
                                     &ctx.err) == DS_OK,
                      "%s", ctx.err.msg)) {
        for (size_t i = 0; i < sizeof k_long_cases / sizeof k_long_cases[0]; i++)
            if (load_case(&t, &f, k_long_cases[i], &c)) check_case(&t, &ctx, k_long_cases[i], &c);
        ds_st_close(&f);
    }
    return ds_test_finish(&t);
}
