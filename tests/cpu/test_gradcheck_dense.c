// Finite-difference checks of the dense ops' backward (linear, layernorm, gelu, tanh, softmax,
// embedding, cross-entropy) in double precision: for L = sum(op(inputs) * R) with a fixed random
// R, the op's backward applied to dy = R must match central differences of L with respect to
// every input and parameter. Shapes are small and odd so that no size is special.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"

// Central differences in double with h = 1e-6 have an error near 1e-9 relative (see
// gradcheck.h); 1e-6 leaves a wide margin, while a wrong formula misses by orders of magnitude.
#define H 1e-6
#define TOL 1e-6
#define PROBES 200  // every element of these small tensors

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double *filled(size_t n, unsigned long long seed) {
    double *a = malloc(n * sizeof *a);
    ds_fill_uniform_f64(a, n, seed);
    return a;
}

static bool ok(ds_test *t, ds_context *ctx, ds_status s, const char *what) {
    return ds_test_check(t, s == DS_OK, "%s failed: %s", what, ctx->err.msg);
}

// ---- linear ----
enum { LN_N = 5, LN_K = 7, LN_M = 3 };
typedef struct { ds_context *ctx; double *x, *w, *b, *y, *r; } linear_case;

static double linear_loss(void *user) {
    linear_case *c = user;
    ds_linear_fwd_args a = {.x = ds_tensor_cpu2(c->x, DS_F64, LN_N, LN_K), .w = ds_tensor_cpu2(c->w, DS_F64, LN_M, LN_K),
                            .b = ds_tensor_cpu1(c->b, DS_F64, LN_M), .y = ds_tensor_cpu2(c->y, DS_F64, LN_N, LN_M)};
    if (ds_linear_forward(c->ctx, &a) != DS_OK) return NAN;
    return dot(c->y, c->r, LN_N * LN_M);
}

static void check_linear(ds_test *t, ds_context *ctx) {
    linear_case c = {ctx, filled(LN_N * LN_K, 1), filled(LN_M * LN_K, 2), filled(LN_M, 3),
                     calloc(LN_N * LN_M, sizeof(double)), filled(LN_N * LN_M, 4)};
    double dx[LN_N * LN_K], dw[LN_M * LN_K], db[LN_M];
    ds_linear_bwd_args a = {.x = ds_tensor_cpu2(c.x, DS_F64, LN_N, LN_K), .w = ds_tensor_cpu2(c.w, DS_F64, LN_M, LN_K),
                            .dy = ds_tensor_cpu2(c.r, DS_F64, LN_N, LN_M), .dx = ds_tensor_cpu2(dx, DS_F64, LN_N, LN_K),
                            .dw = ds_tensor_cpu2(dw, DS_F64, LN_M, LN_K), .db = ds_tensor_cpu1(db, DS_F64, LN_M)};
    if (ok(t, ctx, ds_linear_backward(ctx, &a), "linear_backward")) {
        ds_gradcheck(t, "linear dx", c.x, dx, LN_N * LN_K, PROBES, linear_loss, &c, H, TOL);
        ds_gradcheck(t, "linear dw", c.w, dw, LN_M * LN_K, PROBES, linear_loss, &c, H, TOL);
        ds_gradcheck(t, "linear db", c.b, db, LN_M, PROBES, linear_loss, &c, H, TOL);
    }
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r);
}

// ---- layernorm ----
enum { LY_N = 5, LY_C = 9 };
typedef struct { ds_context *ctx; double *x, *gamma, *beta, *y, *mean, *rstd, *r; } layernorm_case;

static ds_layernorm_fwd_args layernorm_fwd(layernorm_case *c) {
    return (ds_layernorm_fwd_args){.x = ds_tensor_cpu2(c->x, DS_F64, LY_N, LY_C),
                                   .gamma = ds_tensor_cpu1(c->gamma, DS_F64, LY_C),
                                   .beta = ds_tensor_cpu1(c->beta, DS_F64, LY_C),
                                   .y = ds_tensor_cpu2(c->y, DS_F64, LY_N, LY_C),
                                   .mean = ds_tensor_cpu1(c->mean, DS_F64, LY_N),
                                   .rstd = ds_tensor_cpu1(c->rstd, DS_F64, LY_N),
                                   .eps = 1e-5};
}

static double layernorm_loss(void *user) {
    layernorm_case *c = user;
    ds_layernorm_fwd_args a = layernorm_fwd(c);
    if (ds_layernorm_forward(c->ctx, &a) != DS_OK) return NAN;
    return dot(c->y, c->r, LY_N * LY_C);
}

static void check_layernorm(ds_test *t, ds_context *ctx) {
    layernorm_case c = {ctx, filled(LY_N * LY_C, 11), filled(LY_C, 12), filled(LY_C, 13),
                        calloc(LY_N * LY_C, sizeof(double)), calloc(LY_N, sizeof(double)),
                        calloc(LY_N, sizeof(double)), filled(LY_N * LY_C, 14)};
    double dx[LY_N * LY_C], dgamma[LY_C], dbeta[LY_C];
    ds_layernorm_fwd_args f = layernorm_fwd(&c);
    ds_layernorm_bwd_args a = {.x = f.x, .gamma = f.gamma, .mean = f.mean, .rstd = f.rstd,
                               .dy = ds_tensor_cpu2(c.r, DS_F64, LY_N, LY_C),
                               .dx = ds_tensor_cpu2(dx, DS_F64, LY_N, LY_C),
                               .dgamma = ds_tensor_cpu1(dgamma, DS_F64, LY_C),
                               .dbeta = ds_tensor_cpu1(dbeta, DS_F64, LY_C)};
    if (ok(t, ctx, ds_layernorm_forward(ctx, &f), "layernorm_forward") &&
        ok(t, ctx, ds_layernorm_backward(ctx, &a), "layernorm_backward")) {
        ds_gradcheck(t, "layernorm dx", c.x, dx, LY_N * LY_C, PROBES, layernorm_loss, &c, H, TOL);
        ds_gradcheck(t, "layernorm dgamma", c.gamma, dgamma, LY_C, PROBES, layernorm_loss, &c, H, TOL);
        ds_gradcheck(t, "layernorm dbeta", c.beta, dbeta, LY_C, PROBES, layernorm_loss, &c, H, TOL);
    }
    free(c.x), free(c.gamma), free(c.beta), free(c.y), free(c.mean), free(c.rstd), free(c.r);
}

// ---- gelu and tanh (any shape: 3-d here) ----
enum { UN_A = 3, UN_B = 5, UN_C = 7, UN_NUMEL = UN_A * UN_B * UN_C };
typedef ds_status (*unary_fwd_fn)(ds_context *, const ds_unary_fwd_args *);
typedef ds_status (*unary_bwd_fn)(ds_context *, const ds_unary_bwd_args *);
typedef struct { ds_context *ctx; unary_fwd_fn fwd; double *x, *y, *r; } unary_case;

static double unary_loss(void *user) {
    unary_case *c = user;
    ds_unary_fwd_args a = {.x = ds_tensor_cpu3(c->x, DS_F64, UN_A, UN_B, UN_C),
                           .y = ds_tensor_cpu3(c->y, DS_F64, UN_A, UN_B, UN_C)};
    if (c->fwd(c->ctx, &a) != DS_OK) return NAN;
    return dot(c->y, c->r, UN_NUMEL);
}

static void check_unary(ds_test *t, ds_context *ctx, const char *name, unary_fwd_fn fwd, unary_bwd_fn bwd) {
    unary_case c = {ctx, fwd, filled(UN_NUMEL, 21), calloc(UN_NUMEL, sizeof(double)), filled(UN_NUMEL, 22)};
    // Spread x over [-4, 4) so that both tails and the middle of each curve are probed.
    for (int i = 0; i < UN_NUMEL; i++) c.x[i] *= 4;
    double dx[UN_NUMEL];
    ds_unary_fwd_args f = {.x = ds_tensor_cpu3(c.x, DS_F64, UN_A, UN_B, UN_C),
                           .y = ds_tensor_cpu3(c.y, DS_F64, UN_A, UN_B, UN_C)};
    ds_unary_bwd_args a = {.x = f.x, .y = f.y, .dy = ds_tensor_cpu3(c.r, DS_F64, UN_A, UN_B, UN_C),
                           .dx = ds_tensor_cpu3(dx, DS_F64, UN_A, UN_B, UN_C)};
    char what[64];
    snprintf(what, sizeof what, "%s dx", name);
    if (ok(t, ctx, fwd(ctx, &f), name) && ok(t, ctx, bwd(ctx, &a), name))
        ds_gradcheck(t, what, c.x, dx, UN_NUMEL, PROBES, unary_loss, &c, H, TOL);
    free(c.x), free(c.y), free(c.r);
}

// ---- softmax ----
enum { SM_N = 5, SM_C = 11 };
typedef struct { ds_context *ctx; double *x, *y, *r; } softmax_case;

static double softmax_loss(void *user) {
    softmax_case *c = user;
    ds_softmax_fwd_args a = {.x = ds_tensor_cpu2(c->x, DS_F64, SM_N, SM_C), .y = ds_tensor_cpu2(c->y, DS_F64, SM_N, SM_C)};
    if (ds_softmax_forward(c->ctx, &a) != DS_OK) return NAN;
    return dot(c->y, c->r, SM_N * SM_C);
}

static void check_softmax(ds_test *t, ds_context *ctx) {
    softmax_case c = {ctx, filled(SM_N * SM_C, 31), calloc(SM_N * SM_C, sizeof(double)), filled(SM_N * SM_C, 32)};
    for (int i = 0; i < SM_N * SM_C; i++) c.x[i] *= 3;  // peakier rows than uniform [-1, 1)
    double dx[SM_N * SM_C];
    ds_softmax_fwd_args f = {.x = ds_tensor_cpu2(c.x, DS_F64, SM_N, SM_C), .y = ds_tensor_cpu2(c.y, DS_F64, SM_N, SM_C)};
    ds_softmax_bwd_args a = {.y = f.y, .dy = ds_tensor_cpu2(c.r, DS_F64, SM_N, SM_C),
                             .dx = ds_tensor_cpu2(dx, DS_F64, SM_N, SM_C)};
    if (ok(t, ctx, ds_softmax_forward(ctx, &f), "softmax_forward") &&
        ok(t, ctx, ds_softmax_backward(ctx, &a), "softmax_backward"))
        ds_gradcheck(t, "softmax dx", c.x, dx, SM_N * SM_C, PROBES, softmax_loss, &c, H, TOL);
    free(c.x), free(c.y), free(c.r);
}

// ---- embedding (ids repeat, and some rows are never used) ----
enum { EM_N = 7, EM_V = 6, EM_C = 5 };
typedef struct { ds_context *ctx; int32_t ids[EM_N]; double *table, *out, *r; } embedding_case;

static double embedding_loss(void *user) {
    embedding_case *c = user;
    ds_embedding_fwd_args a = {.ids = ds_tensor_cpu1(c->ids, DS_I32, EM_N),
                               .table = ds_tensor_cpu2(c->table, DS_F64, EM_V, EM_C),
                               .out = ds_tensor_cpu2(c->out, DS_F64, EM_N, EM_C)};
    if (ds_embedding_forward(c->ctx, &a) != DS_OK) return NAN;
    return dot(c->out, c->r, EM_N * EM_C);
}

static void check_embedding(ds_test *t, ds_context *ctx) {
    embedding_case c = {ctx, {3, 0, 3, 5, 3, 0, 2}, filled(EM_V * EM_C, 41), calloc(EM_N * EM_C, sizeof(double)),
                        filled(EM_N * EM_C, 42)};
    double dtable[EM_V * EM_C];
    ds_embedding_bwd_args a = {.ids = ds_tensor_cpu1(c.ids, DS_I32, EM_N),
                               .dout = ds_tensor_cpu2(c.r, DS_F64, EM_N, EM_C),
                               .dtable = ds_tensor_cpu2(dtable, DS_F64, EM_V, EM_C)};
    if (ok(t, ctx, ds_embedding_backward(ctx, &a), "embedding_backward"))
        ds_gradcheck(t, "embedding dtable", c.table, dtable, EM_V * EM_C, PROBES, embedding_loss, &c, H, TOL);
    free(c.table), free(c.out), free(c.r);
}

// ---- cross-entropy (some targets ignored; L = r * loss for a scalar r) ----
enum { CE_N = 7, CE_C = 5 };
typedef struct { ds_context *ctx; int32_t targets[CE_N]; int ignore_index; double *logits, *lse, loss, r; } ce_case;

static double ce_loss(void *user) {
    ce_case *c = user;
    ds_cross_entropy_fwd_args a = {.logits = ds_tensor_cpu2(c->logits, DS_F64, CE_N, CE_C),
                                   .targets = ds_tensor_cpu1(c->targets, DS_I32, CE_N),
                                   .loss = ds_tensor_cpu1(&c->loss, DS_F64, 1),
                                   .lse = ds_tensor_cpu1(c->lse, DS_F64, CE_N),
                                   .ignore_index = c->ignore_index};
    if (ds_cross_entropy_forward(c->ctx, &a) != DS_OK) return NAN;
    return c->loss * c->r;
}

static void check_cross_entropy(ds_test *t, ds_context *ctx, int ignore_index, const char *what) {
    ce_case c = {ctx, {4, ignore_index, 0, 2, ignore_index, 4, 1}, ignore_index, filled(CE_N * CE_C, 51),
                 calloc(CE_N, sizeof(double)), 0, -0.7};
    for (int i = 0; i < CE_N * CE_C; i++) c.logits[i] *= 3;
    double dlogits[CE_N * CE_C];
    ds_cross_entropy_bwd_args a = {.logits = ds_tensor_cpu2(c.logits, DS_F64, CE_N, CE_C),
                                   .targets = ds_tensor_cpu1(c.targets, DS_I32, CE_N),
                                   .lse = ds_tensor_cpu1(c.lse, DS_F64, CE_N),
                                   .dlogits = ds_tensor_cpu2(dlogits, DS_F64, CE_N, CE_C),
                                   .dloss = c.r,
                                   .ignore_index = ignore_index};
    if (ds_test_check(t, isfinite(ce_loss(&c)), "cross_entropy_forward failed: %s", ctx->err.msg) &&
        ok(t, ctx, ds_cross_entropy_backward(ctx, &a), "cross_entropy_backward"))
        ds_gradcheck(t, what, c.logits, dlogits, CE_N * CE_C, PROBES, ce_loss, &c, H, TOL);
    free(c.logits), free(c.lse);
}

int main(void) {
    ds_test t = ds_test_begin("gradcheck_dense");
    ds_context ctx = ds_context_cpu();
    check_linear(&t, &ctx);
    check_layernorm(&t, &ctx);
    check_unary(&t, &ctx, "gelu", ds_gelu_forward, ds_gelu_backward);
    check_unary(&t, &ctx, "tanh", ds_tanh_forward, ds_tanh_backward);
    check_softmax(&t, &ctx);
    check_embedding(&t, &ctx);
    check_cross_entropy(&t, &ctx, -100, "cross_entropy dlogits (ignore -100)");
    check_cross_entropy(&t, &ctx, 2, "cross_entropy dlogits (ignore 2)");  // also a real class
    return ds_test_finish(&t);
}
