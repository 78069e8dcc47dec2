// conv2d on CUDA: the op entry points (workspace query, forward, backward), their argument checks
// (the CPU's geometry rules and messages, kernels/cpu/conv2d.c), and the choice of implementation
// per pass by ctx->cuda->opt.conv:
//   OWN    our implicit GEMM (conv2d_plain.cu / conv2d_fast.cu by opt.kernels and the dtype)
//   CUDNN  cuDNN's legacy convolution API (conv2d_cudnn.cu), our own where cuDNN cannot
//   AUTO   whichever of the two was faster on the first call with this shape and alignment
// Dtypes on CUDA: x, w, y, dy, dx F32 or BF16 (one dtype; w is the BF16 working copy with BF16 x),
// b, dw, db F32. dx is overwritten; dw and db are added into when accumulate.
//
// Workspace (the op never allocates; warp-ctc style): ds_conv2d_workspace_size returns the most
// any path may use for the shape: our FAST wgrad's split-K partials (BF16), and under cudnn/auto
// the workspace of cuDNN's chosen algorithms plus a BF16 copy of dw. A smaller workspace (or none)
// still works: FAST wgrad splits less, and cuDNN is skipped for a pass whose algorithm needs more
// than given. The query accepts tensors whose data is NULL (a measuring arena).
#include <string.h>

#include "conv2d_internal.cuh"
#include "op_checks.cuh"

extern "C" {
#include "cuda_ops.h"
}

static int or_default(int v, int dflt) { return v == 0 ? dflt : v; }

// Shapes and geometry of x (N, C, H, W) and w (K, C/G, R, S), as the CPU's resolve(); data may be
// NULL. Sets *p (its dt from x).
static ds_status resolve(ds_context *ctx, const char *op, const ds_tensor *x, const ds_tensor *w,
                         const ds_conv2d_geom *g, ds_conv_problem *p) {
    ds_err *err = &ctx->err;
    char d0[96], d1[96];
    DS_REQUIRE(err, x->ndim == 4, DS_ERR_INVALID_ARG, "%s: x: expected (N, C, H, W), got %s", op,
               ds_tensor_describe(x, d0, sizeof d0));
    DS_REQUIRE(err, w->ndim == 4, DS_ERR_INVALID_ARG, "%s: w: expected (K, C/groups, R, S), got %s", op,
               ds_tensor_describe(w, d0, sizeof d0));
    DS_REQUIRE(err, x->dtype == DS_F32 || x->dtype == DS_BF16, DS_ERR_INVALID_ARG,
               "%s: x: expected dtype F32 or BF16 on cuda, got %s", op, ds_tensor_describe(x, d0, sizeof d0));
    DS_REQUIRE(err, w->dtype == x->dtype, DS_ERR_INVALID_ARG,
               "%s: w: expected x's dtype %s (the BF16 working copy with BF16 x), got %s", op, ds_dtype_name(x->dtype),
               ds_tensor_describe(w, d0, sizeof d0));
    const int sh = or_default(g->stride_h, 1), sw = or_default(g->stride_w, 1);
    const int dh = or_default(g->dilation_h, 1), dw = or_default(g->dilation_w, 1), G = or_default(g->groups, 1);
    DS_REQUIRE(err, sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1 && G >= 1 && g->pad_h >= 0 && g->pad_w >= 0,
               DS_ERR_INVALID_ARG,
               "%s: geometry stride (%d, %d), padding (%d, %d), dilation (%d, %d), groups %d: strides, dilations "
               "and groups must be >= 1, paddings >= 0",
               op, sh, sw, g->pad_h, g->pad_w, dh, dw, G);
    p->N = x->shape[0], p->C = x->shape[1], p->H = x->shape[2], p->W = x->shape[3];
    p->K = w->shape[0], p->R = w->shape[2], p->S = w->shape[3];
    p->G = G, p->sh = sh, p->sw = sw, p->ph = g->pad_h, p->pw = g->pad_w, p->dh = dh, p->dw = dw;
    p->dt = x->dtype;
    DS_REQUIRE(err, p->C % G == 0 && p->K % G == 0 && w->shape[1] * G == p->C, DS_ERR_INVALID_ARG,
               "%s: w is %s for x %s with groups %d: expected (K, C/groups, R, S) with C and K multiples of groups", op,
               ds_tensor_describe(w, d0, sizeof d0), ds_tensor_describe(x, d1, sizeof d1), G);
    DS_REQUIRE(err, p->N >= 1 && p->C >= 1 && p->H >= 1 && p->W >= 1 && p->K >= 1 && p->R >= 1 && p->S >= 1,
               DS_ERR_INVALID_ARG, "%s: empty tensor: x %s, w %s", op, ds_tensor_describe(x, d0, sizeof d0),
               ds_tensor_describe(w, d1, sizeof d1));
    p->Cg = p->C / G, p->Kg = p->K / G;
    p->P = ds_conv_out_size(p->H, (int)p->R, sh, g->pad_h, dh);
    p->Q = ds_conv_out_size(p->W, (int)p->S, sw, g->pad_w, dw);
    DS_REQUIRE(err, p->P >= 1 && p->Q >= 1, DS_ERR_INVALID_ARG,
               "%s: input %s is smaller than the dilated kernel %s (output would be %lld x %lld)", op,
               ds_tensor_describe(x, d0, sizeof d0), ds_tensor_describe(w, d1, sizeof d1), (long long)p->P,
               (long long)p->Q);
    return DS_OK;
}

// The workspace tensor's bytes (0 when absent); a present one must be a CUDA tensor of the context.
static ds_status workspace_of(ds_context *ctx, const char *op, const ds_tensor *ws, void **ptr, size_t *bytes) {
    *ptr = NULL;
    *bytes = 0;
    if (!ds_cuda_present(ws)) return DS_OK;
    DS_TRY(ds_cuda_check_tensor(ctx, DS_CUDA_CTX_DEVICE, op, "workspace", ws, DS_DTYPE_COUNT, ws->ndim));
    *ptr = ws->data;
    *bytes = ds_tensor_nbytes(ws);
    return DS_OK;
}

extern "C" ds_status ds_cuda_conv2d_workspace(ds_context *ctx, const void *args) {
    const ds_conv2d_workspace_args *a = (const ds_conv2d_workspace_args *)args;
    const char *op = "conv2d_workspace";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    DS_REQUIRE(&ctx->err, a->bytes != NULL, DS_ERR_INVALID_ARG, "%s: bytes (the output pointer) is NULL", op);
    ds_conv_problem p;
    DS_TRY(resolve(ctx, op, &a->x, &a->w, &a->geom, &p));
    size_t bytes = ds_conv_own_workspace_bytes(p);
    if (cu->opt.conv != DS_CONV_OWN) {
        size_t c = 0;
        DS_TRY(ds_conv_cudnn_workspace(ctx, p, &c));
        if (c > bytes) bytes = c;
    }
    *a->bytes = bytes;
    return DS_OK;
}

// Whether pass `pass` runs cuDNN under the context's choice (AUTO times both the first time).
static ds_status want_cudnn(ds_context *ctx, const ds_conv_problem &p, ds_conv_pass pass, const ds_conv_operands &o,
                            bool *use) {
    *use = false;
    if (ctx->cuda->opt.conv == DS_CONV_CUDNN) *use = true;
    else if (ctx->cuda->opt.conv == DS_CONV_AUTO) DS_TRY(ds_conv_auto_pick(ctx, p, pass, o, use));
    return DS_OK;
}

extern "C" ds_status ds_cuda_conv2d_forward(ds_context *ctx, const void *args) {
    const ds_conv2d_fwd_args *a = (const ds_conv2d_fwd_args *)args;
    const char *op = "conv2d_forward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, 4, &dt));
    DS_TRY(ds_cuda_check(ctx, op, "w", &a->w, dt, 4, NULL));
    ds_conv_problem p;
    DS_TRY(resolve(ctx, op, &a->x, &a->w, &a->geom, &p));
    const bool has_b = ds_cuda_present(&a->b);
    if (has_b) {
        const int64_t k1[1] = {p.K};
        DS_TRY(ds_cuda_check(ctx, op, "b", &a->b, DS_F32, 1, k1));
    }
    const int64_t yshape[4] = {p.N, p.K, p.P, p.Q};
    DS_TRY(ds_cuda_check(ctx, op, "y", &a->y, dt, 4, yshape));
    const size_t es = ds_dtype_size(dt);
    const char *xs = (const char *)a->x.data, *ys = (const char *)a->y.data;
    DS_REQUIRE(&ctx->err, ys + ds_tensor_nbytes(&a->y) <= xs || xs + (size_t)ds_tensor_numel(&a->x) * es <= ys,
               DS_ERR_INVALID_ARG, "%s: y overlaps x", op);
    void *ws = NULL;
    size_t ws_bytes = 0;
    DS_TRY(workspace_of(ctx, op, &a->workspace, &ws, &ws_bytes));
    const float *b = has_b ? (const float *)a->b.data : NULL;
    ds_conv_operands o = {};
    o.x = a->x.data, o.w = a->w.data, o.b = b, o.y = a->y.data, o.ws = ws, o.ws_bytes = ws_bytes;
    bool use = false;
    DS_TRY(want_cudnn(ctx, p, DS_CONV_PASS_FWD, o, &use));
    if (use) {
        bool done = false;
        DS_TRY(ds_conv_cudnn_forward(ctx, p, a->x.data, a->w.data, b, a->y.data, ws, ws_bytes, &done));
        if (done) return DS_OK;
    }
    return ds_conv_own_forward(ctx, p, a->x.data, a->w.data, b, a->y.data, ws, ws_bytes);
}

extern "C" ds_status ds_cuda_conv2d_backward(ds_context *ctx, const void *args) {
    const ds_conv2d_bwd_args *a = (const ds_conv2d_bwd_args *)args;
    const char *op = "conv2d_backward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dy", &a->dy, 4, &dt));
    DS_TRY(ds_cuda_check(ctx, op, "w", &a->w, dt, 4, NULL));
    ds_conv_problem p;
    DS_TRY(ds_cuda_check_tensor(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, dt, 4));
    DS_TRY(resolve(ctx, op, &a->x, &a->w, &a->geom, &p));
    const int64_t yshape[4] = {p.N, p.K, p.P, p.Q};
    DS_TRY(ds_cuda_check(ctx, op, "dy", &a->dy, dt, 4, yshape));
    const bool has_dx = ds_cuda_present(&a->dx), has_dw = ds_cuda_present(&a->dw), has_db = ds_cuda_present(&a->db);
    if (has_dx) DS_TRY(ds_cuda_check(ctx, op, "dx", &a->dx, dt, 4, a->x.shape));
    if (has_dw) {
        const int64_t wshape[4] = {p.K, p.Cg, p.R, p.S};
        DS_TRY(ds_cuda_check(ctx, op, "dw", &a->dw, DS_F32, 4, wshape));
    }
    if (has_db) {
        const int64_t k1[1] = {p.K};
        DS_TRY(ds_cuda_check(ctx, op, "db", &a->db, DS_F32, 1, k1));
    }
    void *ws = NULL;
    size_t ws_bytes = 0;
    DS_TRY(workspace_of(ctx, op, &a->workspace, &ws, &ws_bytes));
    ds_conv_operands o = {};
    o.x = a->x.data, o.w = a->w.data, o.dy = a->dy.data, o.ws = ws, o.ws_bytes = ws_bytes;
    o.accumulate = a->accumulate;
    if (has_dw) {
        float *dw = (float *)a->dw.data;
        o.dw = dw;
        bool use = false, done = false;
        DS_TRY(want_cudnn(ctx, p, DS_CONV_PASS_WGRAD, o, &use));
        if (use) DS_TRY(ds_conv_cudnn_wgrad(ctx, p, a->x.data, a->dy.data, dw, a->accumulate, ws, ws_bytes, &done));
        if (!done) DS_TRY(ds_conv_own_wgrad(ctx, p, a->x.data, a->dy.data, dw, a->accumulate, ws, ws_bytes));
        o.dw = NULL;
    }
    if (has_dx) {
        o.dx = a->dx.data;
        bool use = false, done = false;
        DS_TRY(want_cudnn(ctx, p, DS_CONV_PASS_DGRAD, o, &use));
        if (use) DS_TRY(ds_conv_cudnn_dgrad(ctx, p, a->w.data, a->dy.data, a->dx.data, ws, ws_bytes, &done));
        if (!done) DS_TRY(ds_conv_own_dgrad(ctx, p, a->w.data, a->dy.data, a->dx.data));
    }
    if (has_db) DS_TRY(ds_conv_bias_grad(ctx, p, a->dy.data, (float *)a->db.data, a->accumulate));
    return DS_OK;
}
