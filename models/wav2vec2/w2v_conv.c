#include "w2v_conv.h"

#include "../../runtime/base/check.h"

// A (A, B, 1, C) view of a 3-d tensor (A, B, C); absent stays absent.
static ds_tensor as_4d(const ds_tensor *t) {
    if (t == NULL || t->ndim == 0) return (ds_tensor){0};
    const int64_t s[] = {t->shape[0], t->shape[1], 1, t->shape[2]};
    return ds_tensor_make(t->data, t->dtype, t->device, 4, s);
}

static ds_conv2d_geom geom_of(const ds_w2v_conv1d *c) {
    return (ds_conv2d_geom){.stride_h = 1, .stride_w = c->stride, .pad_h = 0, .pad_w = c->padding, .dilation_h = 1,
                            .dilation_w = 1, .groups = c->groups};
}

// The op's workspace for this shape, carved from the arena (absent when it needs none).
static ds_status workspace(ds_context *ctx, const ds_tensor *x4, const ds_tensor *w4, const ds_conv2d_geom *g,
                           ds_arena *arena, ds_tensor *ws) {
    size_t bytes = 0;
    ds_conv2d_workspace_args q = {.x = *x4, .w = *w4, .geom = *g, .bytes = &bytes};
    DS_TRY(ds_conv2d_workspace_size(ctx, &q));
    *ws = (ds_tensor){0};
    if (bytes == 0) return DS_OK;
    const int64_t n = (int64_t)bytes;
    return ds_arena_tensor(arena, DS_U8, 1, &n, ws, &ctx->err);
}

ds_status ds_w2v_conv1d_forward(ds_context *ctx, const ds_w2v_conv1d *c, const ds_tensor *x, const ds_tensor *w,
                                const ds_tensor *b, const ds_tensor *y, ds_arena *arena) {
    const ds_tensor x4 = as_4d(x), w4 = as_4d(w);
    const ds_conv2d_geom g = geom_of(c);
    const size_t mark = arena->used;
    ds_tensor ws;
    DS_TRY(workspace(ctx, &x4, &w4, &g, arena, &ws));
    ds_status st = DS_OK;
    if (!arena->measuring) {
        ds_conv2d_fwd_args a = {.x = x4, .w = w4, .y = as_4d(y), .workspace = ws, .geom = g};
        if (b) a.b = *b;
        st = ds_conv2d_forward(ctx, &a);
    }
    arena->used = mark;
    return st;
}

ds_status ds_w2v_conv1d_backward(ds_context *ctx, const ds_w2v_conv1d *c, const ds_tensor *x, const ds_tensor *w,
                                 const ds_tensor *dy, const ds_tensor *dx, const ds_tensor *dw, const ds_tensor *db,
                                 ds_arena *arena) {
    const ds_tensor x4 = as_4d(x), w4 = as_4d(w);
    const ds_conv2d_geom g = geom_of(c);
    const size_t mark = arena->used;
    ds_tensor ws;
    DS_TRY(workspace(ctx, &x4, &w4, &g, arena, &ws));
    ds_status st = DS_OK;
    if (!arena->measuring) {
        ds_conv2d_bwd_args a = {.x = x4, .w = w4, .dy = as_4d(dy), .dx = as_4d(dx), .dw = as_4d(dw), .workspace = ws,
                                .geom = g, .accumulate = true};
        if (db) a.db = *db;
        st = ds_conv2d_backward(ctx, &a);
    }
    arena->used = mark;
    return st;
}
