#include "resnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"

static const int k_blocks50[4] = {3, 4, 6, 3}, k_blocks101[4] = {3, 4, 23, 3};
enum { EXPANSION = 4 };

// Specs of a conv + BN unit: 1 conv weight and 5 BN tensors.
enum { UNIT_SPECS = 6 };

int ds_resnet_spec_count(int depth) {
    const int *b = depth == 101 ? k_blocks101 : k_blocks50;
    const int blocks = b[0] + b[1] + b[2] + b[3];
    // stem; 3 units per block; a downsample unit in each layer's first block
    return UNIT_SPECS * (1 + 3 * blocks + 4);
}

static ds_conv_bn unit(int64_t cin, int64_t cout, int k, int stride, int dilation, bool relu) {
    const int pad = k == 1 ? 0 : dilation * (k / 2);
    return (ds_conv_bn){.cin = cin, .cout = cout, .kh = k, .kw = k, .relu = relu,
                        .geom = {.stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad,
                                 .dilation_h = dilation, .dilation_w = dilation}};
}

ds_status ds_resnet_init(ds_resnet *r, int depth, int64_t width, const ds_conv_bn_spec_opts *bn_opts,
                         const char *prefix, ds_param_spec *specs, int *count, ds_err *err) {
    memset(r, 0, sizeof *r);
    DS_REQUIRE(err, depth == 50 || depth == 101, DS_ERR_INVALID_ARG, "resnet: depth %d is not 50 or 101", depth);
    DS_REQUIRE(err, width >= 1 && width <= (1 << 20), DS_ERR_INVALID_ARG, "resnet: width %lld must lie in [1, 2^20]",
               (long long)width);
    memcpy(r->blocks, depth == 101 ? k_blocks101 : k_blocks50, sizeof r->blocks);
    r->width = width;
    for (int l = 0; l < 4; l++) {
        r->first[l] = r->count;
        r->count += r->blocks[l];
    }
    r->block = calloc((size_t)r->count, sizeof *r->block);
    DS_REQUIRE(err, r->block != NULL, DS_ERR_OOM, "resnet: out of memory for %d blocks", r->count);
    char conv[160], bn[160];
    r->stem = unit(3, width, 7, 2, 1, true);
    r->stem.geom.pad_h = r->stem.geom.pad_w = 3;
    snprintf(conv, sizeof conv, "%sconv1.", prefix);
    snprintf(bn, sizeof bn, "%sbn1.", prefix);
    ds_conv_bn_add_specs(&r->stem, conv, bn, bn_opts, specs, count);
    // torchvision's _make_layer with replace_stride_with_dilation = [False, True, True].
    static const bool dilate[4] = {false, false, true, true};
    int64_t inplanes = width;
    int dilation = 1;
    for (int l = 0; l < 4; l++) {
        const int64_t planes = width << l, out = planes * EXPANSION;
        int stride = l == 0 ? 1 : 2;
        const int previous_dilation = dilation;
        if (dilate[l]) {
            dilation *= stride;
            stride = 1;
        }
        for (int i = 0; i < r->blocks[l]; i++) {
            ds_bottleneck *b = &r->block[r->first[l] + i];
            const int64_t cin = i == 0 ? inplanes : out;
            const int s = i == 0 ? stride : 1, d = i == 0 ? previous_dilation : dilation;
            b->c1 = unit(cin, planes, 1, 1, 1, true);
            b->c2 = unit(planes, planes, 3, s, d, true);
            b->c3 = unit(planes, out, 1, 1, 1, false);
            b->has_down = i == 0 && (s != 1 || cin != out);
            const char *names[3][2] = {{"conv1.", "bn1."}, {"conv2.", "bn2."}, {"conv3.", "bn3."}};
            ds_conv_bn *units[3] = {&b->c1, &b->c2, &b->c3};
            for (int u = 0; u < 3; u++) {
                snprintf(conv, sizeof conv, "%slayer%d.%d.%s", prefix, l + 1, i, names[u][0]);
                snprintf(bn, sizeof bn, "%slayer%d.%d.%s", prefix, l + 1, i, names[u][1]);
                ds_conv_bn_add_specs(units[u], conv, bn, bn_opts, specs, count);
            }
            if (b->has_down) {
                b->down = unit(cin, out, 1, s, 1, false);
                snprintf(conv, sizeof conv, "%slayer%d.%d.downsample.0.", prefix, l + 1, i);
                snprintf(bn, sizeof bn, "%slayer%d.%d.downsample.1.", prefix, l + 1, i);
                ds_conv_bn_add_specs(&b->down, conv, bn, bn_opts, specs, count);
            }
        }
        inplanes = out;
    }
    return DS_OK;
}

void ds_resnet_free(ds_resnet *r) {
    free(r->block);
    memset(r, 0, sizeof *r);
}

const ds_tensor *ds_resnet_layer_out(const ds_resnet *r, const ds_resnet_acts *a, int layer) {
    return &a->block[r->first[layer] + r->blocks[layer] - 1].c3.y;
}

#define RUN(stmt)                            \
    do {                                     \
        if (!arena->measuring) DS_TRY(stmt); \
    } while (0)

static ds_status bottleneck_forward(ds_context *ctx, const ds_bottleneck *b, const ds_param_block *pb,
                                    const ds_conv_bn_mode *mode, const ds_tensor *x, ds_arena *arena,
                                    ds_bottleneck_acts *a) {
    DS_TRY(ds_conv_bn_forward(ctx, &b->c1, pb, mode, x, NULL, arena, &a->c1));
    DS_TRY(ds_conv_bn_forward(ctx, &b->c2, pb, mode, &a->c1.y, NULL, arena, &a->c2));
    const ds_tensor *identity = x;
    if (b->has_down) {
        DS_TRY(ds_conv_bn_forward(ctx, &b->down, pb, mode, x, NULL, arena, &a->down));
        identity = &a->down.y;
    }
    // bn3 + identity, ReLU: c3.y is the block output (one pass on CUDA).
    return ds_conv_bn_forward_residual(ctx, &b->c3, pb, mode, &a->c2.y, identity, arena, &a->c3);
}

// dy: gradient of the block output (clobbered); dx: gradient of the block input (written).
static ds_status bottleneck_backward(ds_context *ctx, const ds_bottleneck *b, const ds_param_block *pb,
                                     const ds_conv_bn_mode *mode, const ds_bottleneck_acts *a, const ds_tensor *dy,
                                     const ds_tensor *dx, ds_arena *arena) {
    ds_err *err = &ctx->err;
    const size_t mark = arena->used;
    ds_unary_bwd_args relu = {.y = a->c3.y, .dy = *dy, .dx = *dy};
    RUN(ds_relu_backward(ctx, &relu));
    ds_tensor t3, d2, d1;
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, a->c3.y.shape, &t3, err));
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, a->c2.y.shape, &d2, err));
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, a->c1.y.shape, &d1, err));
    DS_TRY(ds_conv_bn_backward(ctx, &b->c3, pb, mode, &a->c3, dy, &t3, &d2, arena));
    DS_TRY(ds_conv_bn_backward(ctx, &b->c2, pb, mode, &a->c2, &d2, &d2, &d1, arena));
    DS_TRY(ds_conv_bn_backward(ctx, &b->c1, pb, mode, &a->c1, &d1, &d1, dx, arena));
    if (b->has_down) {
        ds_tensor td;
        DS_TRY(ds_arena_tensor(arena, mode->act, 4, dx->shape, &td, err));
        DS_TRY(ds_conv_bn_backward(ctx, &b->down, pb, mode, &a->down, dy, dy, &td, arena));
        ds_add_args add = {.a = *dx, .b = td, .y = *dx};
        RUN(ds_add(ctx, &add));
    } else {
        ds_add_args add = {.a = *dx, .b = *dy, .y = *dx};
        RUN(ds_add(ctx, &add));
    }
    arena->used = mark;
    return DS_OK;
}

// The stem's max pool: 3x3, stride 2, padding 1 (torchvision's ResNet).
static ds_pool2d_geom stem_pool(void) {
    return (ds_pool2d_geom){.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
}

ds_status ds_resnet_forward(ds_context *ctx, const ds_resnet *r, const ds_param_block *pb, const ds_conv_bn_mode *mode,
                            const ds_tensor *images, ds_arena *arena, ds_resnet_acts *acts) {
    ds_err *err = &ctx->err;
    DS_TRY(ds_conv_bn_forward(ctx, &r->stem, pb, mode, images, NULL, arena, &acts->stem));
    const ds_tensor *s = &acts->stem.y;
    const ds_pool2d_geom pool = stem_pool();
    const int64_t shape[] = {s->shape[0], s->shape[1], ds_pool_out_size(s->shape[2], 3, 2, 1, 1, false),
                             ds_pool_out_size(s->shape[3], 3, 2, 1, 1, false)};
    DS_TRY(ds_arena_tensor(arena, mode->act, 4, shape, &acts->pool, err));
    DS_TRY(ds_arena_tensor(arena, DS_I32, 4, shape, &acts->pool_idx, err));
    ds_maxpool2d_fwd_args mp = {.x = *s, .y = acts->pool, .indices = acts->pool_idx, .geom = pool};
    RUN(ds_maxpool2d_forward(ctx, &mp));
    const ds_tensor *x = &acts->pool;
    for (int i = 0; i < r->count; i++) {
        DS_TRY(bottleneck_forward(ctx, &r->block[i], pb, mode, x, arena, &acts->block[i]));
        x = &acts->block[i].c3.y;
    }
    return DS_OK;
}

int64_t ds_resnet_grad_buffer_numel(const ds_resnet *r, const ds_resnet_acts *acts) {
    int64_t m = ds_tensor_numel(&acts->stem.y);
    for (int i = 0; i < r->count; i++) {
        const int64_t n = ds_tensor_numel(&acts->block[i].c3.y);
        m = n > m ? n : m;
    }
    return m;  // the pool output is smaller than the stem output
}

// A view of buffer `buf` with the shape and dtype of `like`.
static ds_tensor view_as(const ds_tensor *buf, const ds_tensor *like) {
    return ds_tensor_make(buf->data, like->dtype, buf->device, like->ndim, like->shape);
}

ds_status ds_resnet_backward(ds_context *ctx, const ds_resnet *r, const ds_param_block *pb,
                             const ds_conv_bn_mode *mode, const ds_resnet_acts *acts, const ds_tensor *d4,
                             const ds_tensor *d3, const ds_tensor *ping, const ds_tensor *pong, ds_arena *arena,
                             const ds_grad_hook *hook) {
    ds_err *err = &ctx->err;
    const ds_tensor *buf[2] = {ping, pong};
    int cur = -1;  // which buffer holds dy (-1: the caller's d4)
    ds_tensor dy = *d4;
    const int layer4_first = r->first[3];
    for (int i = r->count - 1; i >= 0; i--) {
        const ds_tensor *in = i == 0 ? &acts->pool : &acts->block[i - 1].c3.y;
        const int nxt = cur == 0 ? 1 : 0;
        const ds_tensor dx = view_as(buf[nxt], in);
        DS_TRY(bottleneck_backward(ctx, &r->block[i], pb, mode, &acts->block[i], &dy, &dx, arena));
        if (i == layer4_first && d3 != NULL && d3->data != NULL) {
            ds_add_args add = {.a = dx, .b = *d3, .y = dx};
            RUN(ds_add(ctx, &add));
        }
        if (hook) DS_TRY(hook->ready(hook->user, pb->offset[r->block[i].c1.w], err));
        dy = dx;
        cur = nxt;
    }
    const int nxt = cur == 0 ? 1 : 0;
    const ds_tensor dstem = view_as(buf[nxt], &acts->stem.y);
    ds_maxpool2d_bwd_args mp = {.indices = acts->pool_idx, .dy = dy, .dx = dstem, .geom = stem_pool()};
    RUN(ds_maxpool2d_backward(ctx, &mp));
    DS_TRY(ds_conv_bn_backward(ctx, &r->stem, pb, mode, &acts->stem, &dstem, &dstem, NULL, arena));
    if (hook) DS_TRY(hook->ready(hook->user, pb->offset[r->stem.w], err));
    return DS_OK;
}
