#include "deeplab_head.h"

#include <stdio.h>

#include "../../runtime/base/check.h"

static const int k_rates[3] = {12, 24, 36};

static ds_conv_bn unit(int64_t cin, int64_t cout, int k, int dilation, bool relu) {
    const int pad = k == 1 ? 0 : dilation * (k / 2);
    return (ds_conv_bn){.cin = cin, .cout = cout, .kh = k, .kw = k, .relu = relu,
                        .geom = {.pad_h = pad, .pad_w = pad, .dilation_h = dilation, .dilation_w = dilation}};
}

static void add(ds_conv_bn *u, const char *prefix, const char *conv, const char *bn, const ds_conv_bn_spec_opts *opts,
                bool bias, ds_param_spec *specs, int *count) {
    char c[160], b[160];
    snprintf(c, sizeof c, "%s%s", prefix, conv);
    snprintf(b, sizeof b, "%s%s", prefix, bn ? bn : "");
    ds_conv_bn_spec_opts o = *opts;
    o.bias = bias;
    o.bn = bn != NULL;
    ds_conv_bn_add_specs(u, c, b, &o, specs, count);
}

void ds_deeplab_head_init(ds_deeplab_head *h, int64_t in, int64_t mid, int64_t classes, float dropout,
                          const ds_conv_bn_spec_opts *opts, const char *prefix, ds_param_spec *specs, int *count) {
    h->dropout = dropout;
    h->aspp[0] = unit(in, mid, 1, 1, true);
    add(&h->aspp[0], prefix, "0.convs.0.0.", "0.convs.0.1.", opts, false, specs, count);
    for (int r = 0; r < 3; r++) {
        char conv[32], bn[32];
        snprintf(conv, sizeof conv, "0.convs.%d.0.", r + 1);
        snprintf(bn, sizeof bn, "0.convs.%d.1.", r + 1);
        h->aspp[1 + r] = unit(in, mid, 3, k_rates[r], true);
        add(&h->aspp[1 + r], prefix, conv, bn, opts, false, specs, count);
    }
    // ASPPPooling: index 0 is the AdaptiveAvgPool2d, so its conv is 1 and its BN 2.
    h->aspp[4] = unit(in, mid, 1, 1, true);
    add(&h->aspp[4], prefix, "0.convs.4.1.", "0.convs.4.2.", opts, false, specs, count);
    h->project = unit(5 * mid, mid, 1, 1, true);
    add(&h->project, prefix, "0.project.0.", "0.project.1.", opts, false, specs, count);
    h->conv = unit(mid, mid, 3, 1, true);
    add(&h->conv, prefix, "1.", "2.", opts, false, specs, count);
    h->cls = unit(mid, classes, 1, 1, false);
    add(&h->cls, prefix, "4.", NULL, opts, true, specs, count);
}

void ds_fcn_head_init(ds_fcn_head *h, int64_t in, int64_t classes, float dropout, const ds_conv_bn_spec_opts *opts,
                      const char *prefix, ds_param_spec *specs, int *count) {
    h->dropout = dropout;
    h->conv = unit(in, in / 4, 3, 1, true);
    add(&h->conv, prefix, "0.", "1.", opts, false, specs, count);
    h->cls = unit(in / 4, classes, 1, 1, false);
    add(&h->cls, prefix, "4.", NULL, opts, true, specs, count);
}

#define RUN(stmt)                            \
    do {                                     \
        if (!arena->measuring) DS_TRY(stmt); \
    } while (0)

// y = dropout(x) into a new arena tensor when on, else y = x.
static ds_status dropout_forward(ds_context *ctx, const ds_tensor *x, float p, bool on, uint64_t offset,
                                 ds_arena *arena, ds_tensor *y) {
    if (!on) {
        *y = *x;
        return DS_OK;
    }
    DS_TRY(ds_arena_tensor(arena, x->dtype, 4, x->shape, y, &ctx->err));
    ds_dropout_fwd_args d = {.x = *x, .y = *y, .p = p, .offset = offset};
    RUN(ds_dropout_forward(ctx, &d));
    return DS_OK;
}

ds_status ds_deeplab_head_forward(ds_context *ctx, const ds_deeplab_head *h, const ds_param_block *pb,
                                  const ds_conv_bn_mode *mode, const ds_tensor *x, bool training,
                                  uint64_t dropout_offset, ds_arena *arena, ds_deeplab_head_acts *a) {
    ds_err *err = &ctx->err;
    const int64_t N = x->shape[0], hh = x->shape[2], ww = x->shape[3], mid = h->project.cout;
    for (int i = 0; i < 4; i++) DS_TRY(ds_conv_bn_forward(ctx, &h->aspp[i], pb, mode, x, NULL, arena, &a->aspp[i]));
    const int64_t pooled[] = {N, x->shape[1], 1, 1}, up[] = {N, mid, hh, ww}, cat[] = {N, 5 * mid, hh, ww};
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, pooled, &a->pooled, err));
    ds_adaptive_avgpool2d_args ap = {.x = *x, .y = a->pooled};
    RUN(ds_adaptive_avgpool2d_forward(ctx, &ap));
    DS_TRY(ds_conv_bn_forward(ctx, &h->aspp[4], pb, mode, &a->pooled, NULL, arena, &a->aspp[4]));
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, up, &a->pool_up, err));
    ds_interpolate_args ip = {.x = a->aspp[4].y, .y = a->pool_up, .mode = DS_INTERP_BILINEAR};
    RUN(ds_interpolate_forward(ctx, &ip));
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, cat, &a->cat, err));
    for (int i = 0; i < 5; i++) {
        ds_channel_copy_args cp = {.src = i < 4 ? a->aspp[i].y : a->pool_up, .dst = a->cat, .dst_c0 = i * mid,
                                   .channels = mid};
        RUN(ds_channel_copy(ctx, &cp));
    }
    DS_TRY(ds_conv_bn_forward(ctx, &h->project, pb, mode, &a->cat, NULL, arena, &a->project));
    a->dropout_on = training && h->dropout > 0;
    DS_TRY(dropout_forward(ctx, &a->project.y, h->dropout, a->dropout_on, dropout_offset, arena, &a->drop));
    DS_TRY(ds_conv_bn_forward(ctx, &h->conv, pb, mode, &a->drop, NULL, arena, &a->conv));
    return ds_conv_bn_forward(ctx, &h->cls, pb, mode, &a->conv.y, NULL, arena, &a->cls);
}

ds_status ds_deeplab_head_backward(ds_context *ctx, const ds_deeplab_head *h, const ds_param_block *pb,
                                   const ds_conv_bn_mode *mode, const ds_deeplab_head_acts *a, const ds_tensor *dlogits,
                                   const ds_tensor *dx, uint64_t dropout_offset, ds_arena *arena) {
    ds_err *err = &ctx->err;
    const size_t mark = arena->used;
    const int64_t mid = h->project.cout;
    ds_tensor t0, t1, dcat, tx, dpool, dpooled;  // t0, t1: (N, mid, h, w); tx: (N, in, h, w)
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, a->project.y.shape, &t0, err));
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, a->project.y.shape, &t1, err));
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, a->cat.shape, &dcat, err));
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, dx->shape, &tx, err));
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, a->aspp[4].y.shape, &dpool, err));
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, a->pooled.shape, &dpooled, err));
    DS_TRY(ds_conv_bn_backward(ctx, &h->cls, pb, mode, &a->cls, dlogits, dlogits, &t0, arena));
    DS_TRY(ds_conv_bn_backward(ctx, &h->conv, pb, mode, &a->conv, &t0, &t0, &t1, arena));
    if (a->dropout_on) {
        ds_dropout_bwd_args d = {.dy = t1, .dx = t1, .p = h->dropout, .offset = dropout_offset};
        RUN(ds_dropout_backward(ctx, &d));
    }
    DS_TRY(ds_conv_bn_backward(ctx, &h->project, pb, mode, &a->project, &t1, &t1, &dcat, arena));
    for (int i = 0; i < 4; i++) {
        ds_channel_copy_args cp = {.src = dcat, .dst = t0, .src_c0 = i * mid, .channels = mid};
        RUN(ds_channel_copy(ctx, &cp));
        DS_TRY(ds_conv_bn_backward(ctx, &h->aspp[i], pb, mode, &a->aspp[i], &t0, &t0, i == 0 ? dx : &tx, arena));
        if (i > 0) {
            ds_add_args s = {.a = *dx, .b = tx, .y = *dx};
            RUN(ds_add(ctx, &s));
        }
    }
    ds_channel_copy_args cp = {.src = dcat, .dst = t0, .src_c0 = 4 * mid, .channels = mid};
    RUN(ds_channel_copy(ctx, &cp));
    ds_interpolate_args ip = {.x = t0, .y = dpool, .mode = DS_INTERP_BILINEAR};
    RUN(ds_interpolate_backward(ctx, &ip));
    DS_TRY(ds_conv_bn_backward(ctx, &h->aspp[4], pb, mode, &a->aspp[4], &dpool, &dpool, &dpooled, arena));
    ds_adaptive_avgpool2d_args ap = {.x = dpooled, .y = tx};
    RUN(ds_adaptive_avgpool2d_backward(ctx, &ap));
    ds_add_args s = {.a = *dx, .b = tx, .y = *dx};
    RUN(ds_add(ctx, &s));
    arena->used = mark;
    return DS_OK;
}

ds_status ds_fcn_head_forward(ds_context *ctx, const ds_fcn_head *h, const ds_param_block *pb,
                              const ds_conv_bn_mode *mode, const ds_tensor *x, bool training, uint64_t dropout_offset,
                              ds_arena *arena, ds_fcn_head_acts *a) {
    DS_TRY(ds_conv_bn_forward(ctx, &h->conv, pb, mode, x, NULL, arena, &a->conv));
    a->dropout_on = training && h->dropout > 0;
    DS_TRY(dropout_forward(ctx, &a->conv.y, h->dropout, a->dropout_on, dropout_offset, arena, &a->drop));
    return ds_conv_bn_forward(ctx, &h->cls, pb, mode, &a->drop, NULL, arena, &a->cls);
}

ds_status ds_fcn_head_backward(ds_context *ctx, const ds_fcn_head *h, const ds_param_block *pb,
                               const ds_conv_bn_mode *mode, const ds_fcn_head_acts *a, const ds_tensor *dlogits,
                               const ds_tensor *dx, uint64_t dropout_offset, ds_arena *arena) {
    const size_t mark = arena->used;
    ds_tensor t;
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, a->conv.y.shape, &t, &ctx->err));
    DS_TRY(ds_conv_bn_backward(ctx, &h->cls, pb, mode, &a->cls, dlogits, dlogits, &t, arena));
    if (a->dropout_on) {
        ds_dropout_bwd_args d = {.dy = t, .dx = t, .p = h->dropout, .offset = dropout_offset};
        RUN(ds_dropout_backward(ctx, &d));
    }
    DS_TRY(ds_conv_bn_backward(ctx, &h->conv, pb, mode, &a->conv, &t, &t, dx, arena));
    arena->used = mark;
    return DS_OK;
}
