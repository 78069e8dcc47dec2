// 2-d convolution (torch.nn.functional.conv2d; conv1d is H = 1), the CPU reference: im2col into
// a caller-provided workspace and OpenBLAS GEMMs; a 1x1 stride-1 unpadded convolution multiplies
// the input directly. Work is split into units (image n, group g):
//   forward and dx: one GEMM per unit (then col2im for dx);
//   dw: per group, the images' GEMMs accumulate in image order;
//   db: per output channel, a double sum in index order.
// Several units run at once (each GEMM single-threaded, each thread with its own column slot of
// the workspace) when they split evenly over the threads; otherwise one unit at a time with
// OpenBLAS's threads. OpenBLAS splits only the M and N dimensions over its threads, never K, so
// each output element is the same sum either way: results do not depend on the thread count.
#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

// The resolved geometry of one call.
typedef struct conv_shape {
    int64_t N, C, H, W;      // input
    int64_t K, R, S;         // output channels, kernel rows and columns
    int64_t P, Q;            // output rows and columns
    int64_t G, Cg, Kg;       // groups, input and output channels per group
    int64_t sh, sw, ph, pw, dh, dw;
    bool direct;             // 1x1, stride 1, no padding: x is its own column matrix
    int64_t col_elems;       // elements of one column slot (Cg*R*S, P*Q); 0 when direct
} conv_shape;

static int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

// The output columns q in [q0, q1) whose input column q*stride + off lies in [0, W).
static void valid_range(int64_t off, int64_t stride, int64_t W, int64_t Q, int64_t *q0, int64_t *q1) {
    *q0 = clamp64(ceil_div(-off, stride), 0, Q);
    *q1 = clamp64(floor_div(W - 1 - off, stride) + 1, *q0, Q);
}

// How many threads run units at once: all of them (up to the slots the workspace holds) when the
// units divide evenly among them or are many; otherwise 1 (units in turn, OpenBLAS threaded).
static int parallel_threads(int64_t units, int64_t slots) {
    const int64_t threads = omp_get_max_threads();
    int64_t t = threads < slots ? threads : slots;
    if (units < 2 || t < 2) return 1;
    if (t > units) t = units;
    return (units % t == 0 || units >= 4 * t) ? (int)t : 1;
}

#define DS_REAL_F64 0
#include "conv2d_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "conv2d_impl.inc"
#undef DS_REAL_F64

static int or_default(int v, int dflt) { return v == 0 ? dflt : v; }

// Validates x (N, C, H, W) and w (K, C/G, R, S) shapes against the geometry (shapes only: data may
// be NULL) and fills *cs.
static ds_status resolve(ds_err *err, const char *op, const ds_tensor *x, const ds_tensor *w, const ds_conv2d_geom *g,
                         conv_shape *cs) {
    char d0[96], d1[96];
    DS_REQUIRE(err, x->ndim == 4, DS_ERR_INVALID_ARG, "%s: x: expected (N, C, H, W), got %s", op,
               ds_tensor_describe(x, d0, sizeof d0));
    DS_REQUIRE(err, w->ndim == 4, DS_ERR_INVALID_ARG, "%s: w: expected (K, C/groups, R, S), got %s", op,
               ds_tensor_describe(w, d0, sizeof d0));
    const int sh = or_default(g->stride_h, 1), sw = or_default(g->stride_w, 1);
    const int dh = or_default(g->dilation_h, 1), dw = or_default(g->dilation_w, 1), G = or_default(g->groups, 1);
    DS_REQUIRE(err, sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1 && G >= 1 && g->pad_h >= 0 && g->pad_w >= 0,
               DS_ERR_INVALID_ARG,
               "%s: geometry stride (%d, %d), padding (%d, %d), dilation (%d, %d), groups %d: strides, dilations "
               "and groups must be >= 1, paddings >= 0",
               op, sh, sw, g->pad_h, g->pad_w, dh, dw, G);
    cs->N = x->shape[0], cs->C = x->shape[1], cs->H = x->shape[2], cs->W = x->shape[3];
    cs->K = w->shape[0], cs->R = w->shape[2], cs->S = w->shape[3];
    cs->G = G, cs->sh = sh, cs->sw = sw, cs->ph = g->pad_h, cs->pw = g->pad_w, cs->dh = dh, cs->dw = dw;
    DS_REQUIRE(err, cs->C % G == 0 && cs->K % G == 0 && w->shape[1] * G == cs->C, DS_ERR_INVALID_ARG,
               "%s: w is %s for x %s with groups %d: expected (K, C/groups, R, S) with C and K multiples of groups", op,
               ds_tensor_describe(w, d0, sizeof d0), ds_tensor_describe(x, d1, sizeof d1), G);
    DS_REQUIRE(err, cs->N >= 1 && cs->C >= 1 && cs->H >= 1 && cs->W >= 1 && cs->K >= 1 && cs->R >= 1 && cs->S >= 1,
               DS_ERR_INVALID_ARG, "%s: empty tensor: x %s, w %s", op, ds_tensor_describe(x, d0, sizeof d0),
               ds_tensor_describe(w, d1, sizeof d1));
    cs->Cg = cs->C / G, cs->Kg = cs->K / G;
    cs->P = ds_conv_out_size(cs->H, (int)cs->R, sh, g->pad_h, dh);
    cs->Q = ds_conv_out_size(cs->W, (int)cs->S, sw, g->pad_w, dw);
    DS_REQUIRE(err, cs->P >= 1 && cs->Q >= 1, DS_ERR_INVALID_ARG,
               "%s: input %s is smaller than the dilated kernel %s (output would be %lld x %lld)", op,
               ds_tensor_describe(x, d0, sizeof d0), ds_tensor_describe(w, d1, sizeof d1), (long long)cs->P,
               (long long)cs->Q);
    cs->direct = cs->R == 1 && cs->S == 1 && sh == 1 && sw == 1 && g->pad_h == 0 && g->pad_w == 0;
    const int64_t crs = cs->Cg * cs->R * cs->S, pq = cs->P * cs->Q;
    DS_REQUIRE(err, crs <= INT_MAX && pq <= INT_MAX && cs->Kg <= INT_MAX && crs * pq < INT64_MAX / 8,
               DS_ERR_INVALID_ARG, "%s: GEMM dimensions (%lld, %lld, %lld) exceed what cblas takes (int)", op,
               (long long)cs->Kg, (long long)crs, (long long)pq);
    cs->col_elems = cs->direct ? 0 : crs * pq;
    return DS_OK;
}

// Slots the workspace needs: one per thread that can work on a unit at once.
static int64_t wanted_slots(const conv_shape *cs) {
    const int64_t units = cs->N * cs->G, threads = omp_get_max_threads();
    return units < threads ? units : threads;
}

ds_status ds_cpu_conv2d_workspace(ds_context *ctx, const void *args) {
    const ds_conv2d_workspace_args *a = args;
    const char *op = "conv2d_workspace";
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, a->bytes != NULL, DS_ERR_INVALID_ARG, "%s: bytes (the output pointer) is NULL", op);
    DS_REQUIRE(err, a->x.dtype == DS_F32 || a->x.dtype == DS_F64, DS_ERR_INVALID_ARG,
               "%s: x: expected dtype F32 or F64 on the cpu, got %s", op, ds_dtype_name(a->x.dtype));
    conv_shape cs;
    DS_TRY(resolve(err, op, &a->x, &a->w, &a->geom, &cs));
    *a->bytes = (size_t)(wanted_slots(&cs) * cs.col_elems) * ds_dtype_size(a->x.dtype);
    return DS_OK;
}

// The column slots that `workspace` holds (any dtype; its bytes count); fails below one slot.
static ds_status workspace_slots(ds_err *err, const char *op, const ds_tensor *ws, const conv_shape *cs, ds_dtype dt,
                                 int64_t *slots) {
    if (cs->col_elems == 0) {
        *slots = INT32_MAX;  // a direct convolution needs no columns
        return DS_OK;
    }
    const size_t slot_bytes = (size_t)cs->col_elems * ds_dtype_size(dt);
    const size_t have = ds_cpu_present(ws) ? ds_tensor_nbytes(ws) : 0;
    DS_REQUIRE(err, have >= slot_bytes, DS_ERR_INVALID_ARG,
               "%s: workspace holds %zu bytes but this shape needs at least %zu (ask ds_conv2d_workspace_size)", op,
               have, slot_bytes);
    if (ds_cpu_present(ws)) {
        char what[128];
        snprintf(what, sizeof what, "%s: workspace", op);
        DS_TRY(ds_tensor_expect(ws, what, DS_DTYPE_COUNT, DS_DEVICE_CPU, ws->ndim, err));
    }
    *slots = (int64_t)(have / slot_bytes);
    return DS_OK;
}

ds_status ds_cpu_conv2d_forward(ds_context *ctx, const void *args) {
    const ds_conv2d_fwd_args *a = args;
    const char *op = "conv2d_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, &dt));
    DS_TRY(ds_cpu_check(err, op, "w", &a->w, dt, 4, NULL));
    conv_shape cs;
    DS_TRY(resolve(err, op, &a->x, &a->w, &a->geom, &cs));
    const bool has_b = ds_cpu_present(&a->b);
    if (has_b) DS_TRY(ds_cpu_check(err, op, "b", &a->b, dt, 1, (const int64_t[]){cs.K}));
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, 4, (const int64_t[]){cs.N, cs.K, cs.P, cs.Q}));
    int64_t slots;
    DS_TRY(workspace_slots(err, op, &a->workspace, &cs, dt, &slots));
    void *b = has_b ? a->b.data : NULL;
    if (dt == DS_F32)
        conv_forward_f32(&cs, a->x.data, a->w.data, b, a->y.data, a->workspace.data, slots);
    else
        conv_forward_f64(&cs, a->x.data, a->w.data, b, a->y.data, a->workspace.data, slots);
    return DS_OK;
}

ds_status ds_cpu_conv2d_backward(ds_context *ctx, const void *args) {
    const ds_conv2d_bwd_args *a = args;
    const char *op = "conv2d_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, &dt));
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, 4, NULL));
    DS_TRY(ds_cpu_check(err, op, "w", &a->w, dt, 4, NULL));
    conv_shape cs;
    DS_TRY(resolve(err, op, &a->x, &a->w, &a->geom, &cs));
    DS_TRY(ds_cpu_check(err, op, "dy", &a->dy, dt, 4, (const int64_t[]){cs.N, cs.K, cs.P, cs.Q}));
    const bool has_dx = ds_cpu_present(&a->dx), has_dw = ds_cpu_present(&a->dw), has_db = ds_cpu_present(&a->db);
    if (has_dx) DS_TRY(ds_cpu_check(err, op, "dx", &a->dx, dt, 4, (const int64_t[]){cs.N, cs.C, cs.H, cs.W}));
    if (has_dw)
        DS_TRY(ds_cpu_check(err, op, "dw", &a->dw, dt, 4, (const int64_t[]){cs.K, cs.Cg, cs.R, cs.S}));
    if (has_db) DS_TRY(ds_cpu_check(err, op, "db", &a->db, dt, 1, (const int64_t[]){cs.K}));
    int64_t slots = INT32_MAX;
    if (has_dx || has_dw) DS_TRY(workspace_slots(err, op, &a->workspace, &cs, dt, &slots));
    void *dx = has_dx ? a->dx.data : NULL, *dw = has_dw ? a->dw.data : NULL, *db = has_db ? a->db.data : NULL;
    if (dt == DS_F32)
        conv_backward_f32(&cs, a->x.data, a->w.data, a->dy.data, dx, dw, db, a->accumulate, a->workspace.data, slots);
    else
        conv_backward_f64(&cs, a->x.data, a->w.data, a->dy.data, dx, dw, db, a->accumulate, a->workspace.data, slots);
    return DS_OK;
}
