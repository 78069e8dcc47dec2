// DeepLabV3-ResNet50 against real torchvision (tests/fixtures/deeplab/, written by
// scripts/fixtures/deeplab.py; weights and images from a formula both sides compute):
//   - the parameter block holds torchvision's state_dict names, shapes and order (full size and
//     the narrow test model);
//   - full-size deeplabv3_resnet50(num_classes=21, aux_loss=True), eval forward on 1x3x65x97: the
//     heads' logits and the upsampled out/aux;
//   - the narrow model (width 4, 5 classes) in training mode on a 2-image batch with ignored pixels
//     and class weights: loss, its weight, the heads' logits, EVERY parameter gradient and the BN
//     running statistics after the step;
//   - the losses of 5 steps of SGD (momentum 0.9, weight decay 1e-4 on every parameter, aux head at
//     10x lr) on that batch, the update written here as torch.optim.SGD does it.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../models/deeplab/deeplab.h"
#include "../../runtime/base/check.h"
#include "../../runtime/io/safetensors.h"
#include "../deeplab_fixture.h"
#include "../test_util.h"

// Full model, eval: ~70 conv layers of fp32 sums over up to 18432 terms (ASPP's 3x3 convs on 2048
// channels); our OpenBLAS summation order differs from torch's and each layer adds ~sqrt(terms)
// ulps of its output scale, which eval-mode BN (an affine map) passes on. Measured: 8e-7 (heads'
// logits) .. 9e-7 of each tensor's largest value. The brief's bound is 1e-4; 1e-5 still leaves a
// 10x margin for other BLAS kernels and thread counts, while a wrong dilation, padding or
// stride, a missed ReLU or BN term errs by >= 1e-2.
#define FULL_TOL 1e-5
// Narrow model, one training step: a deep network whose BNs use batch statistics amplifies
// rounding (see scripts/fixtures/deeplab.py; the fixture keeps bn3 weights small to tame it).
// Against torch's float64 run of the same step, torch's float32 gradients err by <= 2.9e-5 and
// ours by <= 8e-5 (worst: the ASPP pooling branch, whose BN normalises 2 values per channel, and
// the 4-channel BN weights of layer1); ours against torch's float32: loss 1e-7, logits 2.8e-6,
// gradients <= 1.05e-4 tensor-relative, running statistics 4e-7. 3e-4 leaves a 3x margin, while
// a missing BN mean term, a dropout mask at the wrong site or step, the aux weight or class
// weights ignored, a wrong first-block dilation or an off-by-one upsampling err by >= 1e-2.
#define STEP_TOL 3e-4
// Loss trace of 5 SGD steps: measured <= 2.8e-7 relative. 1e-5 leaves a 30x margin; the aux
// head at 1x lr instead of 10x, or no momentum, changes step 1..4 losses by >= 1e-4.
#define TRACE_TOL 1e-5

typedef struct fixture {
    ds_st_file file;
    bool open;
} fixture;

static ds_tensor get(ds_test *t, const fixture *f, const char *name, ds_dtype dt) {
    ds_tensor v = {0};
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, ds_st_view(&f->file, name, dt, &v, &err) == DS_OK, "fixture tensor: %s", err.msg))
        memset(&v, 0, sizeof v);
    return v;
}

static bool open_fixture(ds_test *t, fixture *f, const char *rel) {
    char path[1024];
    ds_err err;
    ds_err_clear(&err);
    f->open = ds_test_check(t, ds_st_open(ds_test_fixture(rel, path, sizeof path), &f->file, &err) == DS_OK,
                            "cannot open %s: %s", rel, err.msg);
    return f->open;
}

// The block's specs against torchvision's state_dict [name, shape] list, in order.
static void check_names(ds_test *t, const ds_deeplab_model *m, const void *settings, const char *list) {
    int i = 0, bad = 0;
    const char *name;
    int ndim;
    int64_t shape[DS_MAX_DIMS];
    for (; ds_test_deeplab_name(settings, list, i, &name, &ndim, shape); i++) {
        if (i >= m->params.count) break;
        const ds_param_spec *s = &m->params.specs[i];
        bool same = strcmp(s->name, name) == 0 && s->ndim == ndim;
        for (int d = 0; same && d < ndim; d++) same = s->shape[d] == shape[d];
        if (!same && bad++ < 3)
            ds_test_check(t, false, "%s[%d]: ours '%s' (%d dims), torchvision's '%s' (%d dims)", list, i, s->name,
                          s->ndim, name, ndim);
    }
    ds_test_check(t, bad == 0, "%s: %d tensors differ in name, shape or position", list, bad);
    ds_test_check(t, i == m->params.count, "%s: torchvision has %d tensors, we have %d", list, i, m->params.count);
}

static ds_status make_model(ds_context *ctx, const void *settings, bool small, ds_deeplab_model *m) {
    ds_deeplab_config cfg = ds_deeplab_config_default();
    if (small) {
        cfg.width = (int64_t)ds_test_deeplab_number(settings, "small", "width");
        cfg.num_classes = (int64_t)ds_test_deeplab_number(settings, "small", "classes");
    }
    ds_status s = ds_deeplab_create(ctx, &cfg, m);
    if (s == DS_OK)
        ds_test_deeplab_fill(m, (uint64_t)ds_test_deeplab_number(settings, "formula_seed", NULL),
                             (uint64_t)ds_test_deeplab_number(settings, "formula_offset", NULL));
    return s;
}

static ds_status run_forward(ds_context *ctx, ds_deeplab_model *m, const ds_deeplab_batch *b, bool training,
                             uint64_t step, ds_arena *arena, ds_deeplab_output *out) {
    if (arena->base == NULL) {
        size_t bytes = 0;
        DS_TRY(ds_deeplab_arena_bytes(ctx, m, b->N, b->H, b->W, training, &bytes));
        DS_TRY(ds_arena_init_cpu(arena, bytes, &ctx->err));
    }
    return ds_deeplab_forward(ctx, m, b, training, step, NULL, arena, out);
}

// ---- full size, eval ----
static void check_full(ds_test *t, ds_context *ctx, const void *settings) {
    fixture f;
    if (!open_fixture(t, &f, "deeplab/full_eval.safetensors")) return;
    ds_deeplab_model m;
    if (!ds_test_check(t, make_model(ctx, settings, false, &m) == DS_OK, "full model: %s", ctx->err.msg)) {
        ds_st_close(&f.file);
        return;
    }
    check_names(t, &m, settings, "full_names");
    const int64_t N = 1, H = 65, W = 97;
    float *img = malloc(sizeof(float) * N * 3 * H * W);
    ds_test_deeplab_image(img, N * 3 * H * W, (uint64_t)ds_test_deeplab_number(settings, "formula_seed", NULL),
                          (uint64_t)ds_test_deeplab_number(settings, "image_offset", NULL));
    ds_deeplab_batch b = {.N = N, .H = H, .W = W, .images = img};
    ds_arena arena = {0};
    ds_deeplab_output out;
    if (ds_test_check(t, run_forward(ctx, &m, &b, false, 0, &arena, &out) == DS_OK, "full forward: %s", ctx->err.msg)) {
        const ds_tensor os = get(t, &f, "out_small", DS_F32), as = get(t, &f, "aux_small", DS_F32);
        if (os.data) ds_test_close(t, "full eval: classifier logits (1, 21, 9, 13)", &m.saved.head.cls.y, &os, FULL_TOL);
        if (as.data) ds_test_close(t, "full eval: aux_classifier logits", &m.saved.aux.cls.y, &as, FULL_TOL);
        ds_test_check(t, !out.has_loss && out.out.shape[2] == H && out.out.shape[3] == W, "full eval: output shape");
        const ds_tensor rows = get(t, &f, "grid_rows", DS_I32), cols = get(t, &f, "grid_cols", DS_I32);
        const ds_tensor og = get(t, &f, "out_grid", DS_F32), ag = get(t, &f, "aux_grid", DS_F32);
        if (rows.data && cols.data && og.data && ag.data) {
            const int64_t R = rows.shape[0], C = cols.shape[0], K = 21;
            float *mine[2] = {malloc(sizeof(float) * K * R * C), malloc(sizeof(float) * K * R * C)};
            const float *src[2] = {out.out.data, out.aux.data};  // (1, K, H, W)
            for (int s = 0; s < 2; s++)
                for (int64_t k = 0; k < K; k++)
                    for (int64_t r = 0; r < R; r++)
                        for (int64_t c = 0; c < C; c++)
                            mine[s][(k * R + r) * C + c] =
                                src[s][(k * H + ((int32_t *)rows.data)[r]) * W + ((int32_t *)cols.data)[c]];
            const ds_tensor g0 = ds_tensor_cpu1(mine[0], DS_F32, K * R * C), g1 = ds_tensor_cpu1(mine[1], DS_F32, K * R * C);
            ds_test_close(t, "full eval: out (upsampled to 65x97, every 4th pixel)", &g0, &og, FULL_TOL);
            ds_test_close(t, "full eval: aux (upsampled to 65x97, every 4th pixel)", &g1, &ag, FULL_TOL);
            free(mine[0]), free(mine[1]);
        }
    }
    ds_arena_free(&arena);
    free(img);
    ds_deeplab_free(&m);
    ds_st_close(&f.file);
}

// ---- narrow model, training step and SGD trace ----
// torch.optim.SGD(momentum, dampening 0, nesterov False) with weight decay on every parameter:
// d = g + wd p; buf = d (first step) or momentum buf + d; p -= lr_group buf. In float, as torch.
static void sgd_step(ds_deeplab_model *m, float *buf, int step, double lr, double momentum, double wd) {
    const ds_param_block *pb = &m->params;
    for (int i = 0; i < pb->count; i++) {
        if (!ds_param_is_trainable(pb, i)) continue;
        const float lr_i = (float)(lr * pb->specs[i].lr_mult);
        float *p = pb->params + pb->offset[i], *g = pb->grads + pb->offset[i], *b = buf + pb->offset[i];
        const size_t n = ds_param_spec_numel(&pb->specs[i]);
        for (size_t j = 0; j < n; j++) {
            const float d = g[j] + (float)wd * p[j];
            b[j] = step == 0 ? d : (float)momentum * b[j] + d;
            p[j] -= lr_i * b[j];
        }
    }
}

static void check_small(ds_test *t, ds_context *ctx, const void *settings) {
    fixture f;
    if (!open_fixture(t, &f, "deeplab/small.safetensors")) return;
    ds_deeplab_model m;
    if (!ds_test_check(t, make_model(ctx, settings, true, &m) == DS_OK, "small model: %s", ctx->err.msg)) {
        ds_st_close(&f.file);
        return;
    }
    check_names(t, &m, settings, "small_names");
    const int64_t N = (int64_t)ds_test_deeplab_number(settings, "small", "N");
    const int64_t H = (int64_t)ds_test_deeplab_number(settings, "small", "H");
    const int64_t W = (int64_t)ds_test_deeplab_number(settings, "small", "W");
    float *img = malloc(sizeof(float) * N * 3 * H * W);
    ds_test_deeplab_image(img, N * 3 * H * W, (uint64_t)ds_test_deeplab_number(settings, "formula_seed", NULL),
                          (uint64_t)ds_test_deeplab_number(settings, "image_offset", NULL));
    const ds_tensor masks = get(t, &f, "masks", DS_I32), cw = get(t, &f, "class_weights", DS_F32);
    const ds_tensor trace = get(t, &f, "trace_loss", DS_F32);
    if (!masks.data || !cw.data || !trace.data) goto done;
    ds_deeplab_batch b = {.N = N, .H = H, .W = W, .images = img, .masks = masks.data, .class_weights = cw.data};
    ctx->seed = (uint64_t)ds_test_deeplab_number(settings, "dropout_seed", NULL);
    ds_arena arena = {0};
    ds_deeplab_output out;
    const double lr = ds_test_deeplab_number(settings, "sgd", "lr");
    const double momentum = ds_test_deeplab_number(settings, "sgd", "momentum");
    const double wd = ds_test_deeplab_number(settings, "sgd", "weight_decay");
    const int steps = (int)ds_test_deeplab_number(settings, "sgd", "steps");
    float *buf = calloc(m.params.total, sizeof(float));
    double worst_grad = 0, worst_trace = 0;
    for (int step = 0; step < steps; step++) {
        ds_deeplab_zero_grads(&m);
        if (!ds_test_check(t, run_forward(ctx, &m, &b, true, (uint64_t)step, &arena, &out) == DS_OK &&
                                  ds_deeplab_backward(ctx, &m, 1.0, &arena, NULL) == DS_OK,
                           "small step %d: %s", step, ctx->err.msg))
            break;
        const double want = ((const float *)trace.data)[step];
        const double rel = fabs(out.loss - want) / fabs(want);
        worst_trace = fmax(worst_trace, rel);
        ds_test_check(t, rel <= TRACE_TOL, "step %d loss %.8g, torch %.8g (rel %.2e)", step, (double)out.loss, want, rel);
        if (step == 0) {
            const double loss = ds_st_find(&f.file, "step0.loss") ? *(const float *)get(t, &f, "step0.loss", DS_F32).data : NAN;
            const double lw = *(const float *)get(t, &f, "step0.loss_weight", DS_F32).data;
            ds_test_check(t, fabs(out.loss - loss) <= STEP_TOL * fabs(loss), "step0 loss %.8g, torch %.8g",
                          (double)out.loss, loss);
            ds_test_check(t, fabs(out.loss_weight - lw) <= 1e-6 * lw, "step0 loss_weight %.8g, torch %.8g",
                          out.loss_weight, lw);
            const ds_tensor os = get(t, &f, "step0.out_small", DS_F32), as = get(t, &f, "step0.aux_small", DS_F32);
            if (os.data) ds_test_close(t, "step0 classifier logits", &m.saved.head.cls.y, &os, STEP_TOL);
            if (as.data) ds_test_close(t, "step0 aux logits", &m.saved.aux.cls.y, &as, STEP_TOL);
            int compared = 0;
            for (int i = 0; i < m.params.count; i++) {
                const ds_param_spec *s = &m.params.specs[i];
                char name[200];
                const bool trainable = ds_param_is_trainable(&m.params, i);
                snprintf(name, sizeof name, "step0.%s.%s", trainable ? "grad" : "after", s->name);
                const ds_tensor want_t = get(t, &f, name, s->dtype);
                if (!want_t.data) continue;
                compared++;
                if (s->dtype == DS_I64) {
                    ds_test_check(t, *(int64_t *)ds_param_block_param(&m.params, i).data == *(int64_t *)want_t.data,
                                  "%s: %lld, torch %lld", s->name, (long long)*(int64_t *)ds_param_block_param(&m.params, i).data,
                                  (long long)*(int64_t *)want_t.data);
                    continue;
                }
                const ds_tensor mine = trainable ? ds_param_block_grad(&m.params, i) : ds_param_block_param(&m.params, i);
                const double e = ds_test_close(t, name, &mine, &want_t, STEP_TOL);
                if (trainable) worst_grad = fmax(worst_grad, e);
            }
            ds_test_check(t, compared == m.params.count, "step0: compared %d of %d tensors", compared, m.params.count);
        }
        sgd_step(&m, buf, step, lr, momentum, wd);
    }
    printf("small model: worst gradient error %.3e, worst loss-trace error %.3e\n", worst_grad, worst_trace);
    free(buf);
    ds_arena_free(&arena);
done:
    free(img);
    ds_deeplab_free(&m);
    ds_st_close(&f.file);
}

int main(void) {
    ds_test t = ds_test_begin("deeplab_parity");
    ds_context ctx = ds_context_cpu();
    void *settings = ds_test_deeplab_settings();
    if (ds_test_check(&t, settings != NULL, "cannot read tests/fixtures/deeplab/deeplab.json")) {
        check_full(&t, &ctx, settings);
        check_small(&t, &ctx, settings);
        ds_test_deeplab_settings_free(settings);
    }
    return ds_test_finish(&t);
}
