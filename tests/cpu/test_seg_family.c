// The segmentation family's model.path loader and metrics (runtime/tasks/segmentation/), on
// checkpoints torch and torchvision wrote (tests/fixtures/segmentation/, scripts/fixtures/seg_checkpoints.py):
//   - a DeepLabV3 .pth with the data's K: every tensor (BN buffers and the I64 num_batches_tracked
//     included) equals the file's;
//   - with another K: classifier.4 and aux_classifier.4 take torchvision's fresh initialisation
//     (the values of a model built from scratch with the same seed), everything else the file's;
//   - a torchvision ResNet-50 classifier: backbone.<name> = the file's <name>, fc ignored, both
//     heads as from scratch;
//   - refused, naming the file: a ResNet-18 (BasicBlocks), model.depth or model.width that differ
//     from the file, a backbone for evaluation, a truncated file;
//   - model.aux=false on a file with the aux head: loaded without it;
//   - the confusion matrix (argmax, ignore 255) and the metrics of a hand-counted case.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/tensor_source.h"
#include "../../runtime/tasks/segmentation/seg_internal.h"
#include "../test_util.h"

static ds_context quiet_ctx(void) {
    ds_context ctx = ds_context_cpu();
    ctx.log.level = DS_LOG_ERROR;
    ctx.seed = 5;
    return ctx;
}

static seg_model_request request(int64_t K) {
    seg_model_request r;
    memset(&r, 0, sizeof r);
    r.cfg = ds_deeplab_config_default();
    r.cfg.num_classes = K;
    return r;
}

static bool same_bytes(const ds_tensor *a, const ds_tensor *b) {
    return ds_tensor_nbytes(a) == ds_tensor_nbytes(b) && memcmp(a->data, b->data, ds_tensor_nbytes(a)) == 0;
}

// Every tensor of the file (name mapped by `prefix`; fc.* and names containing `skip` skipped) equals the model's, bit for bit;
// returns how many were compared, -1 on a difference.
static int compare_with_file(ds_test *t, const ds_deeplab_model *m, const char *path, const char *prefix,
                             const char *skip) {
    ds_tensor_source src;
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, ds_tensor_source_open(path, &src, &err) == DS_OK, "open %s: %s", path, err.msg)) return -1;
    int compared = 0;
    for (int i = 0; i < ds_tensor_source_count(&src); i++) {
        const ds_named_tensor nt = ds_tensor_source_at(&src, i);
        if (strncmp(nt.name, "fc.", 3) == 0 || (skip && strstr(nt.name, skip)))
            continue;
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, nt.name);
        const int k = ds_param_block_find(&m->params, name);
        if (k < 0) continue;  // e.g. aux tensors of a model built without the aux head
        const ds_tensor p = ds_param_block_param(&m->params, k);
        if (!same_bytes(&p, &nt.tensor)) {
            ds_test_check(t, false, "%s: the model's %s differs from the file's %s", path, name, nt.name);
            compared = -1;
            break;
        }
        compared++;
    }
    ds_tensor_source_close(&src);
    return compared;
}

// Tensors [first, count) of m equal those of a from-scratch model of the same config and seed.
static bool heads_as_scratch(ds_test *t, ds_context *ctx, const ds_deeplab_model *m, int first, const char *only) {
    ds_deeplab_model ref;
    if (!ds_test_check(t, ds_deeplab_create(ctx, &m->cfg, &ref) == DS_OK, "scratch model: %s", ctx->err.msg))
        return false;
    ds_deeplab_init_weights(ctx, &ref);
    bool ok = true;
    int checked = 0;
    for (int i = first; i < m->params.count; i++) {
        if (only && strncmp(m->params.specs[i].name, only, strlen(only)) != 0) continue;
        const ds_tensor a = ds_param_block_param(&m->params, i), b = ds_param_block_param(&ref.params, i);
        if (!same_bytes(&a, &b)) {
            ds_test_check(t, false, "%s is not torchvision's fresh initialisation", m->params.specs[i].name);
            ok = false;
            break;
        }
        checked++;
    }
    ds_deeplab_free(&ref);
    return ok && checked > 0;
}

static void test_deeplab_same_k(ds_test *t) {
    ds_context ctx = quiet_ctx();
    char path[4096];
    ds_test_fixture("segmentation/deeplab_w2_k5.pth", path, sizeof path);
    const seg_model_request req = request(5);
    ds_deeplab_model m;
    seg_model_info info;
    if (!ds_test_check(t, ds_seg_model_open(&ctx, path, &req, &m, &info) == DS_OK, "open: %s", ctx.err.msg)) return;
    ds_test_check(t, m.cfg.width == 2 && m.cfg.depth == 50 && m.cfg.aux && m.cfg.num_classes == 5,
                  "shape from the file: width %lld depth %d aux %d K %lld", (long long)m.cfg.width, m.cfg.depth,
                  m.cfg.aux, (long long)m.cfg.num_classes);
    ds_test_check(t, info.kind == SEG_SOURCE_DEEPLAB && info.reinitialised == 0, "kind %d, %d re-initialised",
                  info.kind, info.reinitialised);
    const int n = compare_with_file(t, &m, path, "", NULL);
    ds_test_check(t, n == m.params.count, "all %d tensors equal the file's (compared %d)", m.params.count, n);
    const int k = ds_param_block_find(&m.params, "backbone.bn1.num_batches_tracked");
    ds_test_check(t, k >= 0 && *(const int64_t *)ds_param_block_param(&m.params, k).data == 3,
                  "num_batches_tracked 3 (three training forwards in the fixture)");
    ds_deeplab_free(&m);
    ds_seg_model_info_free(&info);
}

static void test_deeplab_other_k(ds_test *t) {
    ds_context ctx = quiet_ctx();
    char path[4096];
    ds_test_fixture("segmentation/deeplab_w2_k5.pth", path, sizeof path);
    const seg_model_request req = request(3);
    ds_deeplab_model m;
    seg_model_info info;
    if (!ds_test_check(t, ds_seg_model_open(&ctx, path, &req, &m, &info) == DS_OK, "open K=3: %s", ctx.err.msg))
        return;
    ds_test_check(t, m.cfg.num_classes == 3 && info.file_classes == 5 && info.reinitialised == 4,
                  "K 3 from 5: %d tensors re-initialised (want 4: both heads' last weight and bias)", info.reinitialised);
    const int n = compare_with_file(t, &m, path, "", "classifier.4.");
    ds_test_check(t, n == m.params.count - 4, "every other tensor is the file's (%d of %d)", n, m.params.count);
    ds_test_check(t, heads_as_scratch(t, &ctx, &m, 0, "classifier.4.") && heads_as_scratch(t, &ctx, &m, 0, "aux_classifier.4."),
                  "classifier.4 and aux_classifier.4 as torchvision initialises a new Conv2d");
    ds_deeplab_free(&m);
    ds_seg_model_info_free(&info);

    // model.aux=false on a file with the aux head: the aux tensors are left out.
    seg_model_request noaux = request(5);
    noaux.cfg.aux = false;
    noaux.aux_set = true;
    if (ds_test_check(t, ds_seg_model_open(&ctx, path, &noaux, &m, &info) == DS_OK, "open without aux: %s", ctx.err.msg)) {
        ds_test_check(t, !m.cfg.aux && ds_param_block_find(&m.params, "aux_classifier.0.weight") < 0,
                      "model.aux=false: no aux head");
        const int c = compare_with_file(t, &m, path, "", "aux_classifier.");
        ds_test_check(t, c == m.params.count, "the rest loaded (%d of %d)", c, m.params.count);
        ds_deeplab_free(&m);
        ds_seg_model_info_free(&info);
    }
}

static void test_backbone(ds_test *t) {
    ds_context ctx = quiet_ctx();
    char path[4096];
    ds_test_fixture("segmentation/resnet50_w2.pth", path, sizeof path);
    const seg_model_request req = request(4);
    ds_deeplab_model m;
    seg_model_info info;
    if (!ds_test_check(t, ds_seg_model_open(&ctx, path, &req, &m, &info) == DS_OK, "open backbone: %s", ctx.err.msg))
        return;
    ds_test_check(t, info.kind == SEG_SOURCE_BACKBONE && m.cfg.width == 2 && m.cfg.depth == 50 && m.cfg.aux,
                  "a ResNet-50 backbone of width 2 (kind %d)", info.kind);
    const int n = compare_with_file(t, &m, path, "backbone.", NULL);
    ds_test_check(t, n == m.first_classifier_param, "backbone.* = the file's tensors (%d of %d)", n,
                  m.first_classifier_param);
    ds_test_check(t, heads_as_scratch(t, &ctx, &m, m.first_classifier_param, NULL),
                  "both heads as torchvision initialises them");
    ds_deeplab_free(&m);
    ds_seg_model_info_free(&info);

    seg_model_request ev = request(0);
    ev.for_eval = true;
    ds_err_clear(&ctx.err);
    ds_test_check(t, ds_seg_model_open(&ctx, path, &ev, &m, &info) != DS_OK && strstr(ctx.err.msg, path) &&
                         strstr(ctx.err.msg, "without a segmentation head"),
                  "a backbone cannot be evaluated: %s", ctx.err.msg);
    ds_seg_model_info_free(&info);
}

// A refusal whose message names the file and says `why`.
static void refused(ds_test *t, const char *what, const char *path, const seg_model_request *req, const char *why) {
    ds_context ctx = quiet_ctx();
    ds_deeplab_model m;
    seg_model_info info;
    const ds_status st = ds_seg_model_open(&ctx, path, req, &m, &info);
    ds_test_check(t, st != DS_OK && strstr(ctx.err.msg, path) && strstr(ctx.err.msg, why), "%s refused: %s", what,
                  ctx.err.msg);
    if (st == DS_OK) ds_deeplab_free(&m);
    ds_seg_model_info_free(&info);
}

static void test_refusals(ds_test *t) {
    char r18[4096], dl[4096], cut[4096];
    ds_test_fixture("segmentation/resnet18_w2.safetensors", r18, sizeof r18);
    ds_test_fixture("segmentation/deeplab_w2_k5.pth", dl, sizeof dl);
    const seg_model_request req = request(5);
    refused(t, "resnet18", r18, &req, "BasicBlocks");
    seg_model_request deep = request(5);
    deep.cfg.depth = 101;
    deep.depth_set = true;
    refused(t, "model.depth 101 on a ResNet-50 file", dl, &deep, "ResNet-50");
    seg_model_request wide = request(5);
    wide.width_set = true;  // 64 against the file's 2
    refused(t, "model.width 64 on a width-2 file", dl, &wide, "model.width");
    // The first 40% of the .pth: the zip's central directory is gone.
    size_t size = 0;
    char *bytes = ds_test_read_file(dl, &size);
    ds_test_tmpfile("seg_truncated.pth", cut, sizeof cut);
    FILE *f = fopen(cut, "wb");
    if (bytes && f) fwrite(bytes, 1, size * 2 / 5, f);
    if (f) fclose(f);
    free(bytes);
    refused(t, "a truncated .pth", cut, &req, "");
}

static void test_metrics(ds_test *t) {
    // 3 classes, 2 x 3 pixels; logits pick classes [0 1 2 / 2 1 0] (ties: the first maximum).
    const int64_t K = 3, H = 2, W = 3;
    const float logits[3 * 6] = {5, 0, 0, 0, 1, 7, /* class 1 */ 1, 3, 0, 0, 3, 2, /* class 2 */ 0, 0, 4, 9, 0, 0};
    const int32_t mask[6] = {0, 1, 255, 2, 0, 0};  // pixel 2 ignored
    int64_t conf[9] = {0};
    ds_seg_confusion_add(conf, K, logits, mask, H, W);
    // Pixels: 0 true 0 -> 0; 1 true 1 -> 1; 2 ignored; 3 true 2 -> 2; 4 true 0 -> 1; 5 true 0 -> 0.
    const int64_t want[9] = {2, 1, 0, 0, 1, 0, 0, 0, 1};
    ds_test_check(t, memcmp(conf, want, sizeof want) == 0, "confusion [%lld %lld %lld / %lld %lld %lld / %lld %lld %lld]",
                  (long long)conf[0], (long long)conf[1], (long long)conf[2], (long long)conf[3], (long long)conf[4],
                  (long long)conf[5], (long long)conf[6], (long long)conf[7], (long long)conf[8]);
    seg_metrics m;
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, ds_seg_metrics_compute(conf, K, &m, &err) == DS_OK, "metrics")) return;
    // IoU: class 0 2/(3+2-2) = 2/3; class 1 1/(1+2-1) = 1/2; class 2 1/1. Pixel accuracy 4/5.
    ds_test_check(t, fabs(m.iou[0] - 2.0 / 3) < 1e-15 && fabs(m.iou[1] - 0.5) < 1e-15 && m.iou[2] == 1.0,
                  "per-class IoU %g %g %g", m.iou[0], m.iou[1], m.iou[2]);
    ds_test_check(t, fabs(m.miou - (2.0 / 3 + 0.5 + 1) / 3) < 1e-15 && fabs(m.pixel_accuracy - 0.8) < 1e-15,
                  "mIoU %g, pixel accuracy %g", m.miou, m.pixel_accuracy);
    ds_seg_metrics_free(&m);
    // A class with no pixel and no prediction is left out of the mean (torchvision's mean would be NaN).
    const int64_t absent[16] = {3, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    if (ds_test_check(t, ds_seg_metrics_compute(absent, 4, &m, &err) == DS_OK, "metrics with absent classes")) {
        ds_test_check(t, isnan(m.iou[2]) && isnan(m.iou[3]) && m.present == 2 &&
                             fabs(m.miou - (0.75 + 2.0 / 3) / 2) < 1e-15,
                      "absent classes: NaN IoU, mean over the %d present: %g", m.present, m.miou);
        ds_seg_metrics_free(&m);
    }
}

int main(void) {
    ds_test t = ds_test_begin("seg_family");
    test_metrics(&t);
    test_deeplab_same_k(&t);
    test_deeplab_other_k(&t);
    test_backbone(&t);
    test_refusals(&t);
    return ds_test_finish(&t);
}
