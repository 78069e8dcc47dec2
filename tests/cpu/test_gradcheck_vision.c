// Finite-difference checks of the vision ops' backward in double precision: conv2d (strided,
// dilated, grouped, padded; a direct 1x1; a conv1d; the tap-wise path), batch norm (training statistics through
// stats -> finalize -> apply, and eval), relu, max pooling, adaptive average pooling, bilinear
// interpolation (up, down, align_corners) and per-pixel cross-entropy (class weights, ignored
// pixels). For L = sum(op(inputs) * R) with a fixed random R, the op's backward applied to dy = R
// must match central differences of L with respect to every input and parameter.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"

// Central differences in double with h = 1e-6 err near 1e-9 relative (gradcheck.h); 1e-6 leaves a
// wide margin while a wrong formula misses by orders of magnitude.
#define H 1e-6
#define TOL 1e-6
#define PROBES 400

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

// ---- conv2d ----
typedef struct conv_case {
    const char *name;
    int64_t N, C, Hh, W, K, R, S;
    ds_conv2d_geom g;
    bool bias;
    // state
    ds_context *ctx;
    int64_t P, Q;
    double *x, *w, *b, *y, *r;
    ds_tensor ws;
} conv_case;

static ds_conv2d_fwd_args conv_fwd(conv_case *c) {
    const int G = c->g.groups ? c->g.groups : 1;
    return (ds_conv2d_fwd_args){.x = ds_tensor_cpu4(c->x, DS_F64, c->N, c->C, c->Hh, c->W),
                                .w = ds_tensor_cpu4(c->w, DS_F64, c->K, c->C / G, c->R, c->S),
                                .b = c->bias ? ds_tensor_cpu1(c->b, DS_F64, c->K) : (ds_tensor){0},
                                .y = ds_tensor_cpu4(c->y, DS_F64, c->N, c->K, c->P, c->Q), .workspace = c->ws,
                                .geom = c->g};
}

static double conv_loss(void *user) {
    conv_case *c = user;
    ds_conv2d_fwd_args a = conv_fwd(c);
    if (ds_conv2d_forward(c->ctx, &a) != DS_OK) return NAN;
    return dot(c->y, c->r, (size_t)(c->N * c->K * c->P * c->Q));
}

static void check_conv(ds_test *t, ds_context *ctx, conv_case c) {
    const int G = c.g.groups ? c.g.groups : 1;
    c.ctx = ctx;
    c.P = ds_conv_out_size(c.Hh, (int)c.R, c.g.stride_h ? c.g.stride_h : 1, c.g.pad_h, c.g.dilation_h ? c.g.dilation_h : 1);
    c.Q = ds_conv_out_size(c.W, (int)c.S, c.g.stride_w ? c.g.stride_w : 1, c.g.pad_w, c.g.dilation_w ? c.g.dilation_w : 1);
    const size_t nx = (size_t)(c.N * c.C * c.Hh * c.W), nw = (size_t)(c.K * c.C / G * c.R * c.S);
    const size_t ny = (size_t)(c.N * c.K * c.P * c.Q);
    c.x = filled(nx, 1), c.w = filled(nw, 2), c.b = filled((size_t)c.K, 3), c.y = calloc(ny, 8), c.r = filled(ny, 4);
    size_t bytes = 0;
    ds_conv2d_fwd_args f = conv_fwd(&c);
    ds_conv2d_workspace_args q = {.x = f.x, .w = f.w, .geom = c.g, .bytes = &bytes};
    char what[96];
    if (ok(t, ctx, ds_conv2d_workspace_size(ctx, &q), "conv2d_workspace")) {
        c.ws = ds_tensor_cpu1(calloc(bytes + 1, 1), DS_U8, (int64_t)bytes + 1);
        double *dx = calloc(nx, 8), *dw = calloc(nw, 8), *db = calloc((size_t)c.K, 8);
        f = conv_fwd(&c);
        ds_conv2d_bwd_args a = {.x = f.x, .w = f.w, .dy = ds_tensor_cpu4(c.r, DS_F64, c.N, c.K, c.P, c.Q),
                                .dx = ds_tensor_cpu4(dx, DS_F64, c.N, c.C, c.Hh, c.W), .dw = ds_tensor_cpu4(dw, DS_F64, c.K, c.C / G, c.R, c.S),
                                .db = c.bias ? ds_tensor_cpu1(db, DS_F64, c.K) : (ds_tensor){0}, .workspace = c.ws, .geom = c.g};
        if (ok(t, ctx, ds_conv2d_backward(ctx, &a), "conv2d_backward")) {
            snprintf(what, sizeof what, "conv2d %s dx", c.name);
            ds_gradcheck(t, what, c.x, dx, nx, PROBES, conv_loss, &c, H, TOL);
            snprintf(what, sizeof what, "conv2d %s dw", c.name);
            ds_gradcheck(t, what, c.w, dw, nw, PROBES, conv_loss, &c, H, TOL);
            snprintf(what, sizeof what, "conv2d %s db", c.name);
            if (c.bias) ds_gradcheck(t, what, c.b, db, (size_t)c.K, PROBES, conv_loss, &c, H, TOL);
        }
        free(dx), free(dw), free(db), free(c.ws.data);
    }
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r);
}

// ---- batch norm: y = bn(x) with batch statistics (training) or running statistics (eval) ----
enum { BN_N = 3, BN_C = 4, BN_H = 3, BN_W = 5, BN_NE = BN_N * BN_C * BN_H * BN_W };
typedef struct bn_case {
    ds_context *ctx;
    bool training;
    double *x, *gamma, *beta, *y, *r, mean[BN_C], rstd[BN_C], stats[2 * BN_C + 1];
    float run_mean[BN_C], run_var[BN_C];
} bn_case;

static ds_status bn_forward(bn_case *c) {
    ds_bn_stats_args sa = {.x = ds_tensor_cpu4(c->x, DS_F64, BN_N, BN_C, BN_H, BN_W),
                           .stats = ds_tensor_cpu1(c->stats, DS_F64, 2 * BN_C + 1)};
    ds_bn_finalize_args fa = {.stats = c->training ? sa.stats : (ds_tensor){0},
                              .mean = ds_tensor_cpu1(c->mean, DS_F64, BN_C), .rstd = ds_tensor_cpu1(c->rstd, DS_F64, BN_C),
                              .running_mean = c->training ? (ds_tensor){0} : ds_tensor_cpu1(c->run_mean, DS_F32, BN_C),
                              .running_var = c->training ? (ds_tensor){0} : ds_tensor_cpu1(c->run_var, DS_F32, BN_C),
                              .eps = 1e-5, .use_running = !c->training};
    ds_bn_apply_args aa = {.x = sa.x, .mean = fa.mean, .rstd = fa.rstd, .gamma = ds_tensor_cpu1(c->gamma, DS_F64, BN_C),
                           .beta = ds_tensor_cpu1(c->beta, DS_F64, BN_C),
                           .y = ds_tensor_cpu4(c->y, DS_F64, BN_N, BN_C, BN_H, BN_W)};
    ds_status s = c->training ? ds_bn_stats(c->ctx, &sa) : DS_OK;
    if (s == DS_OK) s = ds_bn_finalize(c->ctx, &fa);
    if (s == DS_OK) s = ds_bn_apply(c->ctx, &aa);
    return s;
}

static double bn_loss(void *user) {
    bn_case *c = user;
    return bn_forward(c) == DS_OK ? dot(c->y, c->r, BN_NE) : NAN;
}

static void check_bn(ds_test *t, ds_context *ctx, bool training) {
    bn_case c = {.ctx = ctx, .training = training, .x = filled(BN_NE, 11), .gamma = filled(BN_C, 12),
                 .beta = filled(BN_C, 13), .y = calloc(BN_NE, 8), .r = filled(BN_NE, 14)};
    for (int i = 0; i < BN_NE; i++) c.x[i] = 1.5 + 2 * c.x[i];
    for (int i = 0; i < BN_C; i++) c.run_mean[i] = 0.25f * (float)i, c.run_var[i] = 0.5f + 0.25f * (float)i;
    double dx[BN_NE], dgamma[BN_C], dbeta[BN_C], sums[2 * BN_C + 1];
    const char *mode = training ? "training" : "eval";
    char what[64];
    if (ok(t, ctx, bn_forward(&c), "batch norm forward")) {
        const ds_tensor x = ds_tensor_cpu4(c.x, DS_F64, BN_N, BN_C, BN_H, BN_W);
        const ds_tensor r = ds_tensor_cpu4(c.r, DS_F64, BN_N, BN_C, BN_H, BN_W);
        const ds_tensor mean = ds_tensor_cpu1(c.mean, DS_F64, BN_C), rstd = ds_tensor_cpu1(c.rstd, DS_F64, BN_C);
        ds_bn_bwd_reduce_args ra = {.x = x, .mean = mean, .rstd = rstd, .dy = r,
                                    .sums = training ? ds_tensor_cpu1(sums, DS_F64, 2 * BN_C + 1) : (ds_tensor){0},
                                    .dgamma = ds_tensor_cpu1(dgamma, DS_F64, BN_C), .dbeta = ds_tensor_cpu1(dbeta, DS_F64, BN_C)};
        ds_bn_bwd_apply_args pa = {.x = x, .mean = mean, .rstd = rstd, .gamma = ds_tensor_cpu1(c.gamma, DS_F64, BN_C),
                                   .dy = r, .sums = ra.sums, .dx = ds_tensor_cpu4(dx, DS_F64, BN_N, BN_C, BN_H, BN_W)};
        if (ok(t, ctx, ds_bn_backward_reduce(ctx, &ra), "bn_backward_reduce") &&
            ok(t, ctx, ds_bn_backward_apply(ctx, &pa), "bn_backward_apply")) {
            snprintf(what, sizeof what, "batch norm (%s) dx", mode);
            ds_gradcheck(t, what, c.x, dx, BN_NE, PROBES, bn_loss, &c, H, TOL);
            snprintf(what, sizeof what, "batch norm (%s) dgamma", mode);
            ds_gradcheck(t, what, c.gamma, dgamma, BN_C, PROBES, bn_loss, &c, H, TOL);
            snprintf(what, sizeof what, "batch norm (%s) dbeta", mode);
            ds_gradcheck(t, what, c.beta, dbeta, BN_C, PROBES, bn_loss, &c, H, TOL);
        }
    }
    free(c.x), free(c.gamma), free(c.beta), free(c.y), free(c.r);
}

// ---- single-input ops: relu, max pool, adaptive avg pool, interpolate ----
typedef ds_status (*fwd_fn)(ds_context *ctx, const double *x, double *y, const void *cfg);
typedef struct unary_case {
    ds_context *ctx;
    fwd_fn fwd;
    const void *cfg;
    double *x, *y, *r;
    size_t ny;
} unary_case;

static double unary_loss(void *user) {
    unary_case *c = user;
    return c->fwd(c->ctx, c->x, c->y, c->cfg) == DS_OK ? dot(c->y, c->r, c->ny) : NAN;
}

enum { UN_N = 2, UN_C = 2, UN_H = 7, UN_W = 6 };
typedef struct shape_cfg {
    int64_t oh, ow;
    ds_pool2d_geom pool;
    bool align;
} shape_cfg;

static ds_tensor in4(const double *x) { return ds_tensor_cpu4((void *)x, DS_F64, UN_N, UN_C, UN_H, UN_W); }
static ds_tensor out4(double *y, const shape_cfg *s) { return ds_tensor_cpu4(y, DS_F64, UN_N, UN_C, s->oh, s->ow); }

static ds_status relu_fwd(ds_context *ctx, const double *x, double *y, const void *cfg) {
    (void)cfg;
    ds_unary_fwd_args a = {.x = in4(x), .y = ds_tensor_cpu4(y, DS_F64, UN_N, UN_C, UN_H, UN_W)};
    return ds_relu_forward(ctx, &a);
}
static ds_status maxpool_fwd(ds_context *ctx, const double *x, double *y, const void *cfg) {
    const shape_cfg *s = cfg;
    int32_t idx[UN_N * UN_C * UN_H * UN_W];
    ds_maxpool2d_fwd_args a = {.x = in4(x), .y = out4(y, s), .indices = ds_tensor_cpu4(idx, DS_I32, UN_N, UN_C, s->oh, s->ow),
                               .geom = s->pool};
    return ds_maxpool2d_forward(ctx, &a);
}
static ds_status aavg_fwd(ds_context *ctx, const double *x, double *y, const void *cfg) {
    ds_adaptive_avgpool2d_args a = {.x = in4(x), .y = out4(y, cfg)};
    return ds_adaptive_avgpool2d_forward(ctx, &a);
}
static ds_status interp_fwd(ds_context *ctx, const double *x, double *y, const void *cfg) {
    const shape_cfg *s = cfg;
    ds_interpolate_args a = {.x = in4(x), .y = out4(y, s), .align_corners = s->align};
    return ds_interpolate_forward(ctx, &a);
}

// Runs the op's backward for dy = r into dx.
static ds_status unary_backward(ds_context *ctx, const char *op, unary_case *c, const shape_cfg *s, double *dx) {
    const ds_tensor dy = out4(c->r, s), tdx = ds_tensor_cpu4(dx, DS_F64, UN_N, UN_C, UN_H, UN_W);
    if (strcmp(op, "relu") == 0) {
        ds_unary_bwd_args a = {.y = ds_tensor_cpu4(c->y, DS_F64, UN_N, UN_C, UN_H, UN_W), .dy = dy, .dx = tdx};
        return ds_relu_backward(ctx, &a);
    }
    if (strcmp(op, "maxpool") == 0) {
        int32_t idx[UN_N * UN_C * UN_H * UN_W];
        ds_maxpool2d_fwd_args f = {.x = in4(c->x), .y = out4(c->y, s),
                                   .indices = ds_tensor_cpu4(idx, DS_I32, UN_N, UN_C, s->oh, s->ow), .geom = s->pool};
        ds_status st = ds_maxpool2d_forward(ctx, &f);
        ds_maxpool2d_bwd_args a = {.indices = f.indices, .dy = dy, .dx = tdx};
        return st == DS_OK ? ds_maxpool2d_backward(ctx, &a) : st;
    }
    if (strcmp(op, "adaptive avgpool") == 0) {
        ds_adaptive_avgpool2d_args a = {.x = dy, .y = tdx};
        return ds_adaptive_avgpool2d_backward(ctx, &a);
    }
    ds_interpolate_args a = {.x = dy, .y = tdx, .align_corners = s->align};
    return ds_interpolate_backward(ctx, &a);
}

static void check_unary(ds_test *t, ds_context *ctx, const char *op, const char *name, fwd_fn fwd, const shape_cfg *s,
                        bool spread) {
    const size_t nx = UN_N * UN_C * UN_H * UN_W, ny = (size_t)(UN_N * UN_C * s->oh * s->ow);
    unary_case c = {ctx, fwd, s, filled(nx, 21), calloc(ny > nx ? ny : nx, 8), filled(ny, 22), ny};
    // relu: keep |x| >= 0.05 away from the kink; max pool: distinct values 0.01 apart, so that a
    // step of 1e-6 never changes a window's winner.
    for (size_t i = 0; i < nx; i++) {
        if (spread) c.x[i] = 0.01 * (double)((i * 37) % nx) - 0.5 * 0.01 * (double)nx;
        else if (fabs(c.x[i]) < 0.05) c.x[i] += c.x[i] < 0 ? -0.05 : 0.05;
    }
    double *dx = calloc(nx, 8);
    char what[96];
    snprintf(what, sizeof what, "%s %s dx", op, name);
    if (ok(t, ctx, fwd(ctx, c.x, c.y, s), op) && ok(t, ctx, unary_backward(ctx, op, &c, s, dx), op))
        ds_gradcheck(t, what, c.x, dx, nx, PROBES, unary_loss, &c, H, TOL);
    free(c.x), free(c.y), free(c.r), free(dx);
}

// ---- per-pixel cross-entropy: L = r * loss ----
enum { CE_N = 2, CE_K = 4, CE_H = 3, CE_W = 5, CE_NP = CE_N * CE_H * CE_W };
typedef struct ce_case {
    ds_context *ctx;
    int32_t targets[CE_NP];
    double *logits, cw[CE_K], lse[CE_NP], loss, wsum, r;
} ce_case;

static ds_pixel_ce_fwd_args ce_fwd(ce_case *c) {
    return (ds_pixel_ce_fwd_args){.logits = ds_tensor_cpu4(c->logits, DS_F64, CE_N, CE_K, CE_H, CE_W),
                                  .targets = ds_tensor_cpu3(c->targets, DS_I32, CE_N, CE_H, CE_W),
                                  .class_weights = ds_tensor_cpu1(c->cw, DS_F64, CE_K),
                                  .loss = ds_tensor_cpu1(&c->loss, DS_F64, 1), .weight_sum = ds_tensor_cpu1(&c->wsum, DS_F64, 1),
                                  .lse = ds_tensor_cpu3(c->lse, DS_F64, CE_N, CE_H, CE_W), .ignore_index = 255};
}

static double ce_loss(void *user) {
    ce_case *c = user;
    ds_pixel_ce_fwd_args a = ce_fwd(c);
    return ds_pixel_cross_entropy_forward(c->ctx, &a) == DS_OK ? c->r * c->loss : NAN;
}

static void check_ce(ds_test *t, ds_context *ctx) {
    ce_case c = {.ctx = ctx, .logits = filled(CE_N * CE_K * CE_H * CE_W, 31), .r = -0.8};
    for (int i = 0; i < CE_N * CE_K * CE_H * CE_W; i++) c.logits[i] *= 3;
    for (int i = 0; i < CE_NP; i++) c.targets[i] = i % 4 == 1 ? 255 : (i * 3) % CE_K;
    for (int k = 0; k < CE_K; k++) c.cw[k] = 0.5 + 0.3 * k;
    double dl[CE_N * CE_K * CE_H * CE_W];
    ds_pixel_ce_fwd_args f = ce_fwd(&c);
    ds_pixel_ce_bwd_args a = {.logits = f.logits, .targets = f.targets, .class_weights = f.class_weights, .lse = f.lse,
                              .weight_sum = f.weight_sum, .dlogits = ds_tensor_cpu4(dl, DS_F64, CE_N, CE_K, CE_H, CE_W),
                              .dloss = c.r, .ignore_index = 255};
    if (ok(t, ctx, ds_pixel_cross_entropy_forward(ctx, &f), "pixel_cross_entropy_forward") &&
        ok(t, ctx, ds_pixel_cross_entropy_backward(ctx, &a), "pixel_cross_entropy_backward"))
        ds_gradcheck(t, "pixel cross-entropy dlogits", c.logits, dl, CE_N * CE_K * CE_H * CE_W, PROBES, ce_loss, &c, H, TOL);
    free(c.logits);
}

int main(void) {
    ds_test t = ds_test_begin("gradcheck_vision");
    ds_context ctx = ds_context_cpu();
    check_conv(&t, &ctx, (conv_case){.name = "3x3 stride (2,1) pad (2,1) dilation (2,1) groups 2", .N = 2, .C = 4, .Hh = 7,
                                     .W = 6, .K = 6, .R = 3, .S = 3, .bias = true,
                                     .g = {.stride_h = 2, .stride_w = 1, .pad_h = 2, .pad_w = 1, .dilation_h = 2, .dilation_w = 1, .groups = 2}});
    check_conv(&t, &ctx, (conv_case){.name = "1x1 direct groups 3", .N = 2, .C = 6, .Hh = 3, .W = 4, .K = 3, .R = 1, .S = 1,
                                     .bias = true, .g = {.groups = 3}});
    check_conv(&t, &ctx, (conv_case){.name = "conv1d k4 s2 p2 groups 2", .N = 2, .C = 4, .Hh = 1, .W = 11, .K = 4, .R = 1,
                                     .S = 4, .g = {.stride_w = 2, .pad_w = 2, .groups = 2}});
    check_conv(&t, &ctx, (conv_case){.name = "7x7 stride 2 pad 3", .N = 1, .C = 2, .Hh = 9, .W = 8, .K = 3, .R = 7, .S = 7,
                                     .g = {.stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3}});
    // conv2d.c's tap-wise path (dilated, mostly padding, >= 16 channels per group): partial taps,
    // stride, groups; then whole rows of empty taps.
    check_conv(&t, &ctx, (conv_case){.name = "3x3 stride (2,1) pad (6,5) dilation (6,5) groups 2, tap-wise", .N = 2, .C = 32,
                                     .Hh = 11, .W = 9, .K = 32, .R = 3, .S = 3, .bias = true,
                                     .g = {.stride_h = 2, .stride_w = 1, .pad_h = 6, .pad_w = 5, .dilation_h = 6, .dilation_w = 5, .groups = 2}});
    check_conv(&t, &ctx, (conv_case){.name = "3x3 pad 7 dilation 7 on 6 rows, tap-wise", .N = 1, .C = 16, .Hh = 6, .W = 10,
                                     .K = 16, .R = 3, .S = 3,
                                     .g = {.pad_h = 7, .pad_w = 7, .dilation_h = 7, .dilation_w = 7}});
    check_bn(&t, &ctx, true);
    check_bn(&t, &ctx, false);
    const shape_cfg same = {.oh = UN_H, .ow = UN_W};
    check_unary(&t, &ctx, "relu", "", relu_fwd, &same, false);
    const shape_cfg stem = {.oh = 4, .ow = 3, .pool = {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}};
    check_unary(&t, &ctx, "maxpool", "3x3/2 pad 1", maxpool_fwd, &stem, true);
    const shape_cfg uneven = {.oh = 3, .ow = 4};
    check_unary(&t, &ctx, "adaptive avgpool", "to 3x4", aavg_fwd, &uneven, false);
    const shape_cfg up = {.oh = 17, .ow = 13}, down = {.oh = 3, .ow = 4}, up_aligned = {.oh = 11, .ow = 9, .align = true};
    check_unary(&t, &ctx, "interpolate", "up", interp_fwd, &up, false);
    check_unary(&t, &ctx, "interpolate", "down", interp_fwd, &down, false);
    check_unary(&t, &ctx, "interpolate", "up align_corners", interp_fwd, &up_aligned, false);
    check_ce(&t, &ctx);
    return ds_test_finish(&t);
}
