// 1-D convolution (torch.nn.Conv1d) for the speech model's feature encoder and positional
// convolution: im2col + one OpenBLAS GEMM per (sample, group). A stand-in until the shared conv2d
// op lands (conv1d = conv2d with H = 1); the semantics are torch's.
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

typedef struct conv1d_geom {
    int64_t n, cin, l, cout, k, lout, groups, cig, cog;
    int64_t stride, pad, dil;
} conv1d_geom;

#define DS_REAL_F64 0
#include "conv1d_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "conv1d_impl.inc"
#undef DS_REAL_F64

// Checks x (N, Cin, L), w (Cout, Cin/G, K), y/dy (N, Cout, Lout) and the hyper-parameters.
static ds_status geometry(ds_err *err, const char *op, const ds_tensor *x, const ds_tensor *w, const ds_tensor *y,
                          const char *yname, int stride, int padding, int dilation, int groups, ds_dtype dt,
                          conv1d_geom *g) {
    DS_TRY(ds_cpu_check(err, op, "x", x, dt, 3, NULL));
    DS_TRY(ds_cpu_check(err, op, "w", w, dt, 3, NULL));
    DS_REQUIRE(err, stride >= 1 && dilation >= 1 && padding >= 0 && groups >= 1, DS_ERR_INVALID_ARG,
               "%s: stride %d, dilation %d must be >= 1, padding %d >= 0, groups %d >= 1", op, stride, dilation,
               padding, groups);
    *g = (conv1d_geom){.n = x->shape[0], .cin = x->shape[1], .l = x->shape[2], .cout = w->shape[0], .k = w->shape[2],
                       .groups = groups, .stride = stride, .pad = padding, .dil = dilation};
    DS_REQUIRE(err, g->cin % groups == 0 && g->cout % groups == 0 && w->shape[1] * groups == g->cin, DS_ERR_INVALID_ARG,
               "%s: groups = %d must divide Cin = %lld and Cout = %lld, and w must be (Cout, Cin / groups, K), got "
               "(%lld, %lld, %lld)", op, groups, (long long)g->cin, (long long)g->cout, (long long)w->shape[0],
               (long long)w->shape[1], (long long)w->shape[2]);
    g->cig = g->cin / groups;
    g->cog = g->cout / groups;
    const int64_t span = (int64_t)dilation * (g->k - 1) + 1, padded = g->l + 2 * (int64_t)padding;
    DS_REQUIRE(err, g->k >= 1 && padded >= span, DS_ERR_INVALID_ARG,
               "%s: the input (length %lld, padding %d) is shorter than the kernel's span %lld", op,
               (long long)g->l, padding, (long long)span);
    g->lout = (padded - span) / stride + 1;
    DS_TRY(ds_cpu_check(err, op, yname, y, dt, 3, (const int64_t[]){g->n, g->cout, g->lout}));
    DS_REQUIRE(err, g->cig * g->k * g->lout <= INT_MAX && g->cog * g->cig * g->k <= INT_MAX, DS_ERR_INVALID_ARG,
               "%s: the im2col matrix (%lld x %lld) exceeds what cblas takes (int)", op, (long long)(g->cig * g->k),
               (long long)g->lout);
    return DS_OK;
}

// Scratch for one (Cin/G * K, Lout) im2col matrix.
static ds_status col_alloc(ds_err *err, const char *op, const conv1d_geom *g, size_t es, void **col) {
    const size_t bytes = (size_t)(g->cig * g->k * g->lout) * es;
    *col = malloc(bytes > 0 ? bytes : 1);
    DS_REQUIRE(err, *col != NULL, DS_ERR_OOM, "%s: out of memory for a %zu-byte im2col buffer", op, bytes);
    return DS_OK;
}

ds_status ds_cpu_conv1d_forward(ds_context *ctx, const void *args) {
    const ds_conv1d_fwd_args *a = args;
    const char *op = "conv1d_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, &dt));
    conv1d_geom g;
    DS_TRY(geometry(err, op, &a->x, &a->w, &a->y, "y", a->stride, a->padding, a->dilation, a->groups, dt, &g));
    const bool has_b = ds_cpu_present(&a->b);
    if (has_b) DS_TRY(ds_cpu_check(err, op, "b", &a->b, dt, 1, (const int64_t[]){g.cout}));
    void *col;
    DS_TRY(col_alloc(err, op, &g, ds_dtype_size(dt), &col));
    if (dt == DS_F32) conv1d_fwd_f32(a->x.data, a->w.data, has_b ? a->b.data : NULL, a->y.data, col, &g);
    else conv1d_fwd_f64(a->x.data, a->w.data, has_b ? a->b.data : NULL, a->y.data, col, &g);
    free(col);
    return DS_OK;
}

ds_status ds_cpu_conv1d_backward(ds_context *ctx, const void *args) {
    const ds_conv1d_bwd_args *a = args;
    const char *op = "conv1d_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, &dt));
    conv1d_geom g;
    DS_TRY(geometry(err, op, &a->x, &a->w, &a->dy, "dy", a->stride, a->padding, a->dilation, a->groups, dt, &g));
    const bool has_dx = ds_cpu_present(&a->dx), has_dw = ds_cpu_present(&a->dw), has_db = ds_cpu_present(&a->db);
    if (has_dx) DS_TRY(ds_cpu_check(err, op, "dx", &a->dx, dt, 3, a->x.shape));
    if (has_dw) DS_TRY(ds_cpu_check(err, op, "dw", &a->dw, dt, 3, a->w.shape));
    if (has_db) DS_TRY(ds_cpu_check(err, op, "db", &a->db, dt, 1, (const int64_t[]){g.cout}));
    void *col;
    DS_TRY(col_alloc(err, op, &g, ds_dtype_size(dt), &col));
    if (dt == DS_F32)
        conv1d_bwd_f32(a->x.data, a->w.data, a->dy.data, has_dx ? a->dx.data : NULL, has_dw ? a->dw.data : NULL,
                       has_db ? a->db.data : NULL, col, &g, a->accumulate);
    else
        conv1d_bwd_f64(a->x.data, a->w.data, a->dy.data, has_dx ? a->dx.data : NULL, has_dw ? a->dw.data : NULL,
                       has_db ? a->db.data : NULL, col, &g, a->accumulate);
    free(col);
    return DS_OK;
}
