// The segmentation family's evaluation (runtime/tasks/task.h): a K x K confusion matrix of pixels
// ([true][predicted], the argmax of the logits as torch.argmax; pixels labelled 255 skipped) summed
// over batches and all-reduced as one I64 buffer, and from it torchvision's
// references/segmentation ConfusionMatrix numbers: pixel accuracy (global correct), per-class
// accuracy and IoU = tp / (tp + fp + fn), mean IoU. One difference, on purpose: torchvision's
// mean IoU averages every class, so a class absent from both the labels and the predictions (0/0
// = NaN) makes it NaN; here such classes are left out of the mean (nanmean) and the report marks
// them "-".
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/check.h"
#include "../../base/log.h"
#include "seg_internal.h"

struct ds_task_eval {
    int64_t K;
    int64_t *conf;  // (K, K) I64 host, [true][predicted]
};

void ds_seg_confusion_add(int64_t *conf, int64_t K, const float *logits, const int32_t *mask, int64_t H, int64_t W) {
    const int64_t plane = H * W;
    for (int64_t p = 0; p < plane; p++) {
        const int32_t y = mask[p];
        if (y < 0 || y >= K) continue;  // 255: ignored
        int64_t best = 0;
        float v = logits[p];
        for (int64_t k = 1; k < K; k++) {
            const float x = logits[k * plane + p];
            if (x > v || (isnan(v) && !isnan(x))) v = x, best = k;  // the first maximum; NaN never wins
        }
        conf[(int64_t)y * K + best]++;
    }
}

ds_status ds_seg_metrics_compute(const int64_t *conf, int64_t K, seg_metrics *m, ds_err *err) {
    memset(m, 0, sizeof *m);
    m->iou = calloc((size_t)K, sizeof *m->iou);
    m->accuracy = calloc((size_t)K, sizeof *m->accuracy);
    if (!m->iou || !m->accuracy) {
        ds_seg_metrics_free(m);
        return ds_err_set(err, DS_ERR_OOM, "segmentation metrics: out of memory");
    }
    int64_t total = 0, correct = 0;
    double iou_sum = 0, acc_sum = 0;
    int with_pixels = 0;
    for (int64_t k = 0; k < K; k++) {
        int64_t row = 0, col = 0;
        for (int64_t j = 0; j < K; j++) row += conf[k * K + j], col += conf[j * K + k];
        const int64_t tp = conf[k * K + k], uni = row + col - tp;
        total += row;
        correct += tp;
        m->iou[k] = uni > 0 ? (double)tp / (double)uni : NAN;
        m->accuracy[k] = row > 0 ? (double)tp / (double)row : NAN;
        if (uni > 0) iou_sum += m->iou[k], m->present++;
        if (row > 0) acc_sum += m->accuracy[k], with_pixels++;
    }
    m->pixel_accuracy = total > 0 ? (double)correct / (double)total : 0;
    m->miou = m->present > 0 ? iou_sum / m->present : 0;
    m->mean_accuracy = with_pixels > 0 ? acc_sum / with_pixels : 0;
    return DS_OK;
}

void ds_seg_metrics_free(seg_metrics *m) {
    free(m->iou);
    free(m->accuracy);
    memset(m, 0, sizeof *m);
}

ds_status ds_seg_eval_open(ds_task *t, ds_task_eval **out, ds_err *err) {
    const seg_state *s = (const seg_state *)t;
    ds_task_eval *e = calloc(1, sizeof *e);
    const int64_t K = s->model.cfg.num_classes;
    if (e) e->conf = calloc((size_t)(K * K), sizeof *e->conf);
    if (!e || !e->conf) {
        ds_seg_eval_close(e);
        return ds_err_set(err, DS_ERR_OOM, "evaluation: out of memory");
    }
    e->K = K;
    *out = e;
    return DS_OK;
}

void ds_seg_eval_close(ds_task_eval *e) {
    if (!e) return;
    free(e->conf);
    free(e);
}

ds_status ds_seg_eval_add(ds_context *ctx, ds_task *t, ds_task_eval *e, const void *batch) {
    (void)batch;  // the forward (one image at a time) counted its pixels already
    seg_state *s = (seg_state *)t;
    DS_REQUIRE(&ctx->err, s->pending_valid, DS_ERR_INTERNAL, "segmentation evaluation: no forward to add");
    for (int64_t i = 0; i < e->K * e->K; i++) e->conf[i] += s->pending[i];
    s->pending_valid = false;
    return DS_OK;
}

int ds_seg_eval_buffers(ds_task_eval *e, ds_metric_buffer *out, int cap) {
    if (cap < 1) return 0;
    out[0] = (ds_metric_buffer){e->conf, DS_I64, e->K * e->K};
    return 1;
}

// Per-class IoU and accuracy with their names, then the confusion matrix.
static void print_report(const seg_metrics *m, const int64_t *conf, int64_t K, const ds_label_map *names, FILE *f) {
    fprintf(f, "  %-20s %8s %8s %12s\n", "class", "iou", "accuracy", "pixels");
    for (int64_t k = 0; k < K; k++) {
        int64_t row = 0;
        for (int64_t j = 0; j < K; j++) row += conf[k * K + j];
        const char *name = k < names->count ? names->names[k] : "?";
        char iou[16], acc[16];
        snprintf(iou, sizeof iou, isnan(m->iou[k]) ? "-" : "%.4f", m->iou[k]);
        snprintf(acc, sizeof acc, isnan(m->accuracy[k]) ? "-" : "%.4f", m->accuracy[k]);
        fprintf(f, "  %-20.20s %8s %8s %12lld\n", name, iou, acc, (long long)row);
    }
    fprintf(f, "  mean IoU %.4f over %d classes present, pixel accuracy %.4f, mean class accuracy %.4f\n", m->miou,
            m->present, m->pixel_accuracy, m->mean_accuracy);
    fprintf(f, "  confusion matrix (pixels; rows: true, columns: predicted)\n");
    for (int64_t i = 0; i < K; i++) {
        fprintf(f, "  %-20.20s", i < names->count ? names->names[i] : "?");
        for (int64_t j = 0; j < K; j++) fprintf(f, " %10lld", (long long)conf[i * K + j]);
        fputc('\n', f);
    }
}

ds_status ds_seg_eval_report(const ds_task *t, const ds_task_eval *e, const char *prefix, ds_eval_result *r,
                             ds_err *err) {
    const seg_state *s = (const seg_state *)t;
    seg_metrics m;
    DS_TRY(ds_seg_metrics_compute(e->conf, e->K, &m, err));
    ds_eval_result_add(r, prefix, "miou", m.miou);
    ds_eval_result_add(r, prefix, "pixel_accuracy", m.pixel_accuracy);
    ds_eval_result_add(r, prefix, "mean_accuracy", m.mean_accuracy);
    size_t size = 0;
    FILE *f = open_memstream(&r->report, &size);
    if (f) {
        print_report(&m, e->conf, e->K, ds_seg_state_names(s), f);
        fclose(f);
    }
    ds_seg_metrics_free(&m);
    DS_REQUIRE(err, r->report != NULL, DS_ERR_OOM, "evaluation report: out of memory");
    return DS_OK;
}

ds_status ds_seg_select_metric(const ds_task *t, const char *want, ds_metric_choice *out, ds_err *err) {
    (void)t;
    if (!want[0]) want = "miou";  // torchvision's reference reports mean IoU
    DS_REQUIRE(err, strcmp(want, "miou") == 0 || strcmp(want, "pixel_accuracy") == 0 || strcmp(want, "loss") == 0,
               DS_ERR_CONFIG, "train.metric '%s' is not a segmentation metric: miou, pixel_accuracy or loss", want);
    snprintf(out->name, sizeof out->name, "%s", want);
    out->greater_is_better = strcmp(want, "loss") != 0;
    return DS_OK;
}
