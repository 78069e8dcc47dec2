#include "w2v_feature_encoder.h"

#include <stdio.h>

#include "../../runtime/base/check.h"
#include "w2v_conv.h"

// HF builds these norms with torch's default eps (nn.GroupNorm / nn.LayerNorm), not the config's.
#define FE_NORM_EPS 1e-5

static bool has_norm(const ds_w2v_fe_dims *d, int i) { return d->layer_norm || i == 0; }

// Tensors of layer i: conv weight, then bias, then norm weight and bias.
static int layer_params(const ds_w2v_fe_dims *d, int i) { return 1 + (d->bias ? 1 : 0) + (has_norm(d, i) ? 2 : 0); }

int ds_w2v_fe_param_count(const ds_w2v_fe_dims *d) {
    int n = 0;
    for (int i = 0; i < d->layers; i++) n += layer_params(d, i);
    return n;
}

static int layer_first(const ds_w2v_fe_dims *d, int first_param, int i) {
    int k = first_param;
    for (int j = 0; j < i; j++) k += layer_params(d, j);
    return k;
}

void ds_w2v_fe_specs(const ds_w2v_fe_dims *d, const char *prefix, ds_param_spec *specs, int *count) {
    for (int i = 0; i < d->layers; i++) {
        const int64_t cin = i == 0 ? 1 : d->dim[i - 1], c = d->dim[i];
        const char *names[4] = {"conv.weight", "conv.bias", "layer_norm.weight", "layer_norm.bias"};
        for (int p = 0; p < 4; p++) {
            if ((p == 1 && !d->bias) || (p >= 2 && !has_norm(d, i))) continue;
            ds_param_spec *s = &specs[(*count)++];
            *s = (ds_param_spec){0};
            snprintf(s->name, sizeof s->name, "%sconv_layers.%d.%s", prefix, i, names[p]);
            s->kind = d->frozen ? DS_PARAM_FROZEN : DS_PARAM_TRAINABLE;
            s->decay = p == 0;  // HF's Trainer: no decay for biases and "layer_norm" weights
            if (p == 0) {
                s->ndim = 3;
                s->shape[0] = c, s->shape[1] = cin, s->shape[2] = d->kernel[i];
            } else {
                s->ndim = 1;
                s->shape[0] = c;
            }
        }
    }
}

#define RUN(stmt)                            \
    do {                                     \
        if (!arena->measuring) DS_TRY(stmt); \
    } while (0)

// Activations (and their gradients) in dtype dt; statistics are carved F32 by their callers.
static ds_status carve(ds_arena *a, ds_dtype dt, int ndim, const int64_t *shape, ds_tensor *t, ds_err *err) {
    return ds_arena_tensor(a, dt, ndim, shape, t, err);
}

// A (B, C, L) view of buf's memory (a working buffer at least that large), in buf's dtype.
static ds_tensor view3(const ds_tensor *buf, int64_t B, int64_t C, int64_t L) {
    const int64_t s[] = {B, C, L};
    return ds_tensor_make(buf->data, buf->dtype, buf->device, 3, s);
}
static ds_tensor view2(const ds_tensor *buf, int64_t R, int64_t C) {
    const int64_t s[] = {R, C};
    return ds_tensor_make(buf->data, buf->dtype, buf->device, 2, s);
}


// (B, C, L) <-> (B, L, C), through the head permutation with D = 1: x (B, C, L) read as
// (B, T = C, H*D = L) goes to (B, H = L, T = C, 1).
static ds_status transpose(ds_context *ctx, const ds_tensor *x, const ds_tensor *y, int64_t B, int64_t C, int64_t L,
                           bool to_lc) {
    if (to_lc) {
        const int64_t xs[] = {B, C, L}, ys[] = {B, L, C, 1};
        ds_permute_heads_args p = {.x = ds_tensor_make(x->data, x->dtype, x->device, 3, xs),
                                   .y = ds_tensor_make(y->data, y->dtype, y->device, 4, ys), .heads = (int)L, .to_heads = true};
        return ds_permute_heads(ctx, &p);
    }
    const int64_t xs[] = {B, L, C, 1}, ys[] = {B, C, L};
    ds_permute_heads_args p = {.x = ds_tensor_make(x->data, x->dtype, x->device, 4, xs),
                               .y = ds_tensor_make(y->data, y->dtype, y->device, 3, ys), .heads = (int)L, .to_heads = false};
    return ds_permute_heads(ctx, &p);
}

// Two buffers other than `busy` (an index into work, or -1).
static void free_pair(int busy, int *f1, int *f2) {
    *f1 = busy == 0 ? 1 : 0;
    *f2 = busy == 2 ? 1 : (busy == 1 ? 2 : (*f1 == 0 ? 1 : 2));
    if (*f2 == *f1) *f2 = 2;
}

ds_status ds_w2v_fe_forward(ds_context *ctx, const ds_w2v_fe_dims *d, const ds_param_block *pb, int first_param,
                            const ds_tensor *audio, ds_arena *arena, ds_w2v_fe_acts *acts) {
    ds_err *err = &ctx->err;
    const int64_t B = audio->shape[0];
    int64_t L = audio->shape[2];
    // Frozen: three working buffers of the largest layer serve every layer (nothing is kept): the
    // layer's input occupies one, the other two take y, the norm's temporaries and h in turn.
    ds_tensor work[3] = {{0}, {0}, {0}};
    int busy = -1;  // the work buffer holding the current input (-1: the audio)
    if (d->frozen) {
        int64_t most = 0, l = L;
        for (int i = 0; i < d->layers && l >= d->kernel[i]; i++) {
            l = (l - d->kernel[i]) / d->stride[i] + 1;
            if (d->dim[i] * l > most) most = d->dim[i] * l;
        }
        const int64_t s[] = {B * (most > 0 ? most : 1)};
        for (int w = 0; w < 3; w++) DS_TRY(carve(arena, d->act, 1, s, &work[w], err));
    }
    const ds_tensor *x = audio;
    for (int i = 0; i < d->layers; i++) {
        ds_w2v_fe_layer_acts *a = &acts->layer[i];
        *a = (ds_w2v_fe_layer_acts){0};
        const int64_t C = d->dim[i];
        DS_REQUIRE(err, L >= d->kernel[i], DS_ERR_INVALID_ARG,
                   "wav2vec2 feature encoder: %lld samples leave %lld frames before conv layer %d of kernel %lld: "
                   "the audio is shorter than the receptive field", (long long)audio->shape[2], (long long)L, i,
                   (long long)d->kernel[i]);
        L = (L - d->kernel[i]) / d->stride[i] + 1;
        a->L = L;
        a->x = *x;
        const int64_t s3[] = {B, C, L}, s2[] = {B * L, C};
        const int p0 = layer_first(d, first_param, i);
        const bool norm = has_norm(d, i);
        int f1 = 0, f2 = 1, hbuf = 0;
        if (d->frozen) {
            free_pair(busy, &f1, &f2);
            // y -> f1; group: n -> f2, h -> f1; layer: yt -> f2, nt -> f1, n -> f2, h -> f1; none: h -> f2.
            a->y = view3(&work[f1], B, C, L);
            if (norm) a->n = view3(&work[f2], B, C, L);
            if (norm && d->layer_norm) a->yt = view2(&work[f2], B * L, C), a->nt = view2(&work[f1], B * L, C);
            hbuf = norm ? f1 : f2;
            a->h = view3(&work[hbuf], B, C, L);
        } else {
            DS_TRY(carve(arena, d->act, 3, s3, &a->y, err));
            if (norm) DS_TRY(carve(arena, d->act, 3, s3, &a->n, err));
            if (norm && d->layer_norm) {
                DS_TRY(carve(arena, d->act, 2, s2, &a->yt, err));
                DS_TRY(carve(arena, d->act, 2, s2, &a->nt, err));
            }
            DS_TRY(carve(arena, d->act, 3, s3, &a->h, err));
        }
        if (norm) {
            const int64_t sg[] = {B, C}, sl[] = {B * L};
            DS_TRY(carve(arena, DS_F32, d->layer_norm ? 1 : 2, d->layer_norm ? sl : sg, &a->mean, err));
            DS_TRY(carve(arena, DS_F32, d->layer_norm ? 1 : 2, d->layer_norm ? sl : sg, &a->rstd, err));
        }
        const ds_w2v_conv1d cv = {.stride = (int)d->stride[i], .padding = 0, .groups = 1};
        const ds_tensor w = ds_param_block_op_weight(pb, p0, d->act);
        const ds_tensor bias = d->bias ? ds_param_block_op_param(pb, p0 + 1) : (ds_tensor){0};
        DS_TRY(ds_w2v_conv1d_forward(ctx, &cv, x, &w, &bias, &a->y, arena));
        const int pn = p0 + 1 + (d->bias ? 1 : 0);
        if (norm && !d->layer_norm) {
            ds_groupnorm_fwd_args gn = {.x = a->y, .gamma = ds_param_block_op_param(pb, pn),
                                        .beta = ds_param_block_op_param(pb, pn + 1), .y = a->n, .mean = a->mean,
                                        .rstd = a->rstd, .groups = (int)C, .eps = FE_NORM_EPS};
            RUN(ds_groupnorm_forward(ctx, &gn));
        } else if (norm) {
            // LayerNorm over channels: (B, C, L) -> (B*L, C) rows, normalise, and back.
            RUN(transpose(ctx, &a->y, &a->yt, B, C, L, true));
            ds_layernorm_fwd_args ln = {.x = a->yt, .gamma = ds_param_block_op_param(pb, pn),
                                        .beta = ds_param_block_op_param(pb, pn + 1), .y = a->nt, .mean = a->mean,
                                        .rstd = a->rstd, .eps = FE_NORM_EPS};
            RUN(ds_layernorm_forward(ctx, &ln));
            RUN(transpose(ctx, &a->nt, &a->n, B, C, L, false));
        }
        ds_unary_fwd_args ge = {.x = norm ? a->n : a->y, .y = a->h};
        RUN(ds_gelu_forward(ctx, &ge));
        x = &a->h;
        busy = hbuf;
    }
    acts->out = *x;
    return DS_OK;
}

ds_status ds_w2v_fe_backward(ds_context *ctx, const ds_w2v_fe_dims *d, const ds_param_block *pb, int first_param,
                             const ds_w2v_fe_acts *acts, const ds_tensor *dout, ds_arena *arena) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, !d->frozen, DS_ERR_INTERNAL, "wav2vec2 feature encoder: backward of a frozen encoder");
    const int64_t B = acts->layer[0].x.shape[0];
    // Three gradient buffers of the largest layer: dh occupies one (or is the caller's dout), the
    // other two take the norm's and the conv's gradients in turn.
    int64_t most = 0;
    for (int i = 0; i < d->layers; i++)
        if (d->dim[i] * acts->layer[i].L > most) most = d->dim[i] * acts->layer[i].L;
    const int64_t s[] = {B * (most > 0 ? most : 1)};
    ds_tensor g[3];
    for (int k = 0; k < 3; k++) DS_TRY(carve(arena, d->act, 1, s, &g[k], err));
    if (arena->measuring) {  // plan the convs' workspaces (taken and released per call)
        for (int i = 0; i < d->layers; i++) {
            const ds_w2v_fe_layer_acts *a = &acts->layer[i];
            const ds_w2v_conv1d cv = {.stride = (int)d->stride[i], .padding = 0, .groups = 1};
            const ds_tensor w = ds_param_block_op_weight(pb, layer_first(d, first_param, i), d->act);
            DS_TRY(ds_w2v_conv1d_backward(ctx, &cv, &a->x, &w, &a->y, NULL, NULL, NULL, arena));
        }
        return DS_OK;
    }
    ds_tensor dh = *dout;  // gradient at layer i's output h
    int busy = -1;         // the buffer holding dh (-1: dout)
    for (int i = d->layers - 1; i >= 0; i--) {
        const ds_w2v_fe_layer_acts *a = &acts->layer[i];
        const int64_t C = d->dim[i], L = a->L;
        const int p0 = layer_first(d, first_param, i), pn = p0 + 1 + (d->bias ? 1 : 0);
        const bool norm = has_norm(d, i);
        int f1, f2;
        free_pair(busy, &f1, &f2);
        // GELU: dh -> f1. group: f1 -> dy in f2. layer: f1 -> (B*L, C) in f2, LN -> dh's buffer (dead),
        // back -> dy in f1. none: dy is f1.
        ds_tensor dpre = view3(&g[f1], B, C, L), dy = dpre;
        int ybuf = f1;
        ds_unary_bwd_args ge = {.x = norm ? a->n : a->y, .y = a->h, .dy = dh, .dx = dpre};
        DS_TRY(ds_gelu_backward(ctx, &ge));
        if (norm && !d->layer_norm) {
            dy = view3(&g[f2], B, C, L), ybuf = f2;
            ds_groupnorm_bwd_args gn = {.x = a->y, .gamma = ds_param_block_op_param(pb, pn), .mean = a->mean,
                                        .rstd = a->rstd, .dy = dpre, .dx = dy, .dgamma = ds_param_block_op_grad(pb, pn),
                                        .dbeta = ds_param_block_op_grad(pb, pn + 1), .groups = (int)C, .accumulate = true};
            DS_TRY(ds_groupnorm_backward(ctx, &gn));
        } else if (norm) {
            ds_tensor dnt = view2(&g[f2], B * L, C);
            const int spare = busy >= 0 ? busy : 3 - f1 - f2;  // dh is dead after the GELU backward
            ds_tensor dyt = view2(&g[spare], B * L, C);
            DS_TRY(transpose(ctx, &dpre, &dnt, B, C, L, true));
            ds_layernorm_bwd_args ln = {.x = a->yt, .gamma = ds_param_block_op_param(pb, pn), .mean = a->mean,
                                        .rstd = a->rstd, .dy = dnt, .dx = dyt, .dgamma = ds_param_block_op_grad(pb, pn),
                                        .dbeta = ds_param_block_op_grad(pb, pn + 1), .accumulate = true};
            DS_TRY(ds_layernorm_backward(ctx, &ln));
            DS_TRY(transpose(ctx, &dyt, &dpre, B, C, L, false));  // dy in f1
        }
        ds_tensor dx = {0};
        int xbuf = -1;
        if (i > 0) {
            xbuf = ybuf == f1 ? f2 : f1;
            dx = view3(&g[xbuf], B, d->dim[i - 1], acts->layer[i - 1].L);
        }
        const ds_w2v_conv1d cv = {.stride = (int)d->stride[i], .padding = 0, .groups = 1};
        const ds_tensor w = ds_param_block_op_weight(pb, p0, d->act), dw = ds_param_block_op_grad(pb, p0);
        const ds_tensor db = d->bias ? ds_param_block_op_grad(pb, p0 + 1) : (ds_tensor){0};
        DS_TRY(ds_w2v_conv1d_backward(ctx, &cv, &a->x, &w, &dy, &dx, &dw, &db, arena));
        dh = dx;
        busy = xbuf;
    }
    return DS_OK;
}
