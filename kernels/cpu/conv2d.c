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
//
// Tap-wise path (conv2d_taps_impl.inc), for dilated kernels whose taps mostly read padding
// (DeepLabV3's ASPP: 3x3 at dilation 12, 24, 36 on a 32x32 map, where im2col would multiply
// 44%, 75% and 89% zeros): the convolution is the sum over taps (r, s) of 1x1 convolutions on
// each tap's valid output rectangle, with the weights repacked tap-major (G, RS, Kg, Cg) in the
// workspace; taps with an empty rectangle cost nothing. Forward and dx run per unit (n, g) as
// above, the taps in order; dw runs per (group, tap), the images in order, several such tasks at
// once (each GEMM single-threaded) when they balance over the threads, else one at a time with
// OpenBLAS's threads. Either way each output is the same sum for any thread count.
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
    bool taps;               // the tap-wise path (taps_worth_it)
    int64_t fixed_elems;     // workspace elements before the slots: the packed weights K*Cg*R*S (taps), else 0
    int64_t col_elems;       // elements of one slot: (Cg*R*S, P*Q) columns, or (Cg + Kg)*P*Q for
                             // the taps' gathers; 0 when direct
} conv_shape;

static int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

// The output columns q in [q0, q1) whose input column q*stride + off lies in [0, W).
static void valid_range(int64_t off, int64_t stride, int64_t W, int64_t Q, int64_t *q0, int64_t *q1) {
    *q0 = clamp64(ceil_div(-off, stride), 0, Q);
    *q1 = clamp64(floor_div(W - 1 - off, stride) + 1, *q0, Q);
}

// One kernel tap t = r*S + s: its input offsets and its valid output rectangle [p0, p1) x [q0, q1),
// the outputs whose input (p*sh + hoff, q*sw + woff) lies inside x.
typedef struct tap_geom {
    int64_t hoff, woff;       // input row of output row p: p*sh + hoff; column: q*sw + woff
    int64_t p0, p1, q0, q1;   // the valid rectangle (empty when nv == 0)
    int64_t nq, nv;           // its width, its size (np*nq)
    bool y_full;              // q0 == 0, q1 == Q: its outputs are rows p0..p1-1 of each (P, Q) plane, contiguous
    bool x_direct;            // also its inputs: rows p0+hoff.. of each (H, W) plane, contiguous (stride 1, woff 0, Q == W)
} tap_geom;

static tap_geom tap_of(const conv_shape *cs, int64_t t) {
    tap_geom tg;
    const int64_t r = t / cs->S, s = t % cs->S;
    tg.hoff = r * cs->dh - cs->ph, tg.woff = s * cs->dw - cs->pw;
    valid_range(tg.hoff, cs->sh, cs->H, cs->P, &tg.p0, &tg.p1);
    valid_range(tg.woff, cs->sw, cs->W, cs->Q, &tg.q0, &tg.q1);
    tg.nq = tg.q1 - tg.q0, tg.nv = (tg.p1 - tg.p0) * tg.nq;
    tg.y_full = tg.q0 == 0 && tg.q1 == cs->Q;
    tg.x_direct = cs->sh == 1 && cs->sw == 1 && tg.woff == 0 && cs->Q == cs->W;
    return tg;
}

// (tap, output) pairs whose input lies inside x, summed over taps: the multiply-adds the tap-wise
// path does per input and output channel. Rows and columns are independent, so it is a product.
static int64_t valid_pairs(const conv_shape *cs) {
    return ds_conv_valid_pairs(cs->H, (int)cs->R, (int)cs->sh, (int)cs->ph, (int)cs->dh) *
           ds_conv_valid_pairs(cs->W, (int)cs->S, (int)cs->sw, (int)cs->pw, (int)cs->dw);
}

// The tap-wise path pays per tap (a gather of the shifted input, a GEMM whose inner dimension is
// Cg rather than Cg*R*S, an add of its output) where im2col pays once, so it is chosen only for
// dilated kernels (where whole taps fall into the padding) that skip at least an eighth of the
// products, on enough channels (Cg, Kg >= 16) for the per-tap GEMMs to run near full rate.
// Measured on DeepLabV3's shapes (2 threads, 32x32 maps): dilation 4 on 512 channels (84% of the
// products valid) ran 5-15% faster tap-wise; dilation 2 (92% valid) the same within the noise
// (faster on 512 channels, slower on 256).
static bool taps_worth_it(const conv_shape *cs) {
    if (cs->R * cs->S < 2 || (cs->dh == 1 && cs->dw == 1) || cs->Cg < 16 || cs->Kg < 16) return false;
    if (cs->H * cs->W > INT_MAX) return false;  // a row-contiguous tap passes H*W to cblas as a leading dimension
    return 8 * valid_pairs(cs) <= 7 * cs->R * cs->S * cs->P * cs->Q;
}

// Elements a tap's gather or scatter must move before it splits over threads: a parallel region
// costs microseconds (milliseconds when the cores are shared), a copy of 32K floats about as much.
#define TAPS_PAR_GRAIN (1 << 15)

// dw's tasks (group, tap) run several at once, dynamically scheduled, largest first (`order`, a
// permutation of the tasks), when there are at least 2 per thread and the largest is at most a
// thread's share of the work; else 1 (tasks in turn, OpenBLAS threaded). Task i's work is its
// valid outputs, nv.
#define TAPS_MAX_TASKS 64
static int taps_dw_threads(const conv_shape *cs, int64_t slots, int64_t order[TAPS_MAX_TASKS]) {
    const int64_t RS = cs->R * cs->S, tasks = cs->G * RS, threads = omp_get_max_threads();
    const int64_t t = threads < slots ? threads : slots;
    if (t < 2 || tasks > TAPS_MAX_TASKS || tasks < 2 * t) return 1;
    int64_t nv[TAPS_MAX_TASKS], total = 0, largest = 0;
    for (int64_t i = 0; i < tasks; i++) {
        nv[i] = tap_of(cs, i % RS).nv;
        total += nv[i], largest = nv[i] > largest ? nv[i] : largest;
        // insertion sort, by nv descending, ties in task order
        int64_t j = i;
        for (; j > 0 && nv[order[j - 1]] < nv[i]; j--) order[j] = order[j - 1];
        order[j] = i;
    }
    return largest * t <= total ? (int)t : 1;
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
#include "conv2d_taps_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "conv2d_impl.inc"
#include "conv2d_taps_impl.inc"
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
    cs->taps = !cs->direct && taps_worth_it(cs);
    cs->fixed_elems = cs->taps ? cs->K * crs : 0;
    cs->col_elems = cs->direct ? 0 : cs->taps ? (cs->Cg + cs->Kg) * pq : crs * pq;
    return DS_OK;
}

// Slots the workspace needs: one per thread that can work on a unit at once.
static int64_t wanted_slots(const conv_shape *cs) {
    const int64_t threads = omp_get_max_threads(), tasks = cs->G * cs->R * cs->S;
    // taps: dw's (group, tap) tasks also run in parallel
    const int64_t units = cs->taps && tasks > cs->N * cs->G ? tasks : cs->N * cs->G;
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
    *a->bytes = (size_t)(cs.fixed_elems + wanted_slots(&cs) * cs.col_elems) * ds_dtype_size(a->x.dtype);
    return DS_OK;
}

// The slots that `workspace` holds after its fixed part (any dtype; its bytes count); fails below
// one slot.
static ds_status workspace_slots(ds_err *err, const char *op, const ds_tensor *ws, const conv_shape *cs, ds_dtype dt,
                                 int64_t *slots) {
    if (cs->col_elems == 0) {
        *slots = INT32_MAX;  // a direct convolution needs no columns
        return DS_OK;
    }
    const size_t slot_bytes = (size_t)cs->col_elems * ds_dtype_size(dt);
    const size_t fixed_bytes = (size_t)cs->fixed_elems * ds_dtype_size(dt);
    const size_t have = ds_cpu_present(ws) ? ds_tensor_nbytes(ws) : 0;
    DS_REQUIRE(err, have >= fixed_bytes + slot_bytes, DS_ERR_INVALID_ARG,
               "%s: workspace holds %zu bytes but this shape needs at least %zu (ask ds_conv2d_workspace_size)", op,
               have, fixed_bytes + slot_bytes);
    if (ds_cpu_present(ws)) {
        char what[128];
        snprintf(what, sizeof what, "%s: workspace", op);
        DS_TRY(ds_tensor_expect(ws, what, DS_DTYPE_COUNT, DS_DEVICE_CPU, ws->ndim, err));
    }
    *slots = (int64_t)((have - fixed_bytes) / slot_bytes);
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
        (cs.taps ? taps_forward_f32 : conv_forward_f32)(&cs, a->x.data, a->w.data, b, a->y.data, a->workspace.data,
                                                        slots);
    else
        (cs.taps ? taps_forward_f64 : conv_forward_f64)(&cs, a->x.data, a->w.data, b, a->y.data, a->workspace.data,
                                                        slots);
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
    if (cs.taps && dt == DS_F32) {
        taps_backward_f32(&cs, a->x.data, a->w.data, a->dy.data, dx, dw, a->accumulate, a->workspace.data, slots);
        if (db != NULL) db_sums_f32(&cs, a->dy.data, db, a->accumulate);
    } else if (cs.taps) {
        taps_backward_f64(&cs, a->x.data, a->w.data, a->dy.data, dx, dw, a->accumulate, a->workspace.data, slots);
        if (db != NULL) db_sums_f64(&cs, a->dy.data, db, a->accumulate);
    } else if (dt == DS_F32) {
        conv_backward_f32(&cs, a->x.data, a->w.data, a->dy.data, dx, dw, db, a->accumulate, a->workspace.data, slots);
    } else {
        conv_backward_f64(&cs, a->x.data, a->w.data, a->dy.data, dx, dw, db, a->accumulate, a->workspace.data, slots);
    }
    return DS_OK;
}
