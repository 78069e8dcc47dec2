// What model a checkpoint holds, from its tensor names and shapes alone: a pure function, so that
// the checkpoint loaders (.pth, safetensors) can size the model before reading any data.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "deeplab.h"
#include "deeplab_internal.h"

static const ds_named_shape *find(const ds_named_shape *t, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (t[i].name && strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

static bool starts_with(const char *s, const char *prefix) { return s && strncmp(s, prefix, strlen(prefix)) == 0; }

static bool any_prefix(const ds_named_shape *t, int n, const char *prefix) {
    for (int i = 0; i < n; i++)
        if (starts_with(t[i].name, prefix)) return true;
    return false;
}

static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < ndim && k < cap; d++) k += (size_t)snprintf(buf + k, cap - k, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
    return buf;
}

// Names the kind of a checkpoint that is not a DeepLabV3-ResNet, for the error message.
static ds_status not_deeplab(const ds_named_shape *t, int n, ds_err *err) {
    const char *what;
    if (find(t, n, "conv1.weight") && find(t, n, "fc.weight"))
        what = "it looks like a plain torchvision ResNet classifier (conv1.weight, fc.weight without the 'backbone.' "
               "prefix); DeepLabV3 needs a segmentation checkpoint";
    else if (any_prefix(t, n, "backbone.") && find(t, n, "classifier.0.weight"))
        what = "it looks like torchvision's FCN (classifier.0.weight is an FCNHead conv), not DeepLabV3";
    else if (find(t, n, "backbone.0.0.weight") || any_prefix(t, n, "backbone.features."))
        what = "its backbone is not a ResNet (a MobileNetV3 DeepLabV3/LRASPP checkpoint?)";
    else if (any_prefix(t, n, "bert.") || any_prefix(t, n, "wav2vec2."))
        what = "it is a transformer checkpoint (BERT or Wav2Vec2), not an image model";
    else
        what = "no tensor 'backbone.conv1.weight'";
    return ds_err_set(err, DS_ERR_FORMAT, "checkpoint is not a torchvision DeepLabV3-ResNet: %s (%d tensors, first '%s')",
                      what, n, n > 0 && t[0].name ? t[0].name : "");
}

ds_status ds_deeplab_infer_config(const ds_named_shape *t, int n, ds_deeplab_config *cfg, ds_err *err) {
    char b0[96], b1[96];
    const ds_named_shape *conv1 = find(t, n, "backbone.conv1.weight");
    if (!conv1 || !find(t, n, "classifier.0.convs.0.0.weight")) return not_deeplab(t, n, err);
    DS_REQUIRE(err, conv1->ndim == 4 && conv1->shape[1] == 3 && conv1->shape[2] == 7 && conv1->shape[3] == 7 &&
                        conv1->shape[0] >= 1,
               DS_ERR_FORMAT, "checkpoint: backbone.conv1.weight is %s, expected (width, 3, 7, 7) of a ResNet stem",
               shape_str(conv1->ndim, conv1->shape, b0, sizeof b0));
    const ds_named_shape *cls = find(t, n, "classifier.4.weight");
    DS_REQUIRE(err, cls && cls->ndim == 4 && cls->shape[0] >= 1, DS_ERR_FORMAT,
               "checkpoint: classifier.4.weight (the DeepLabHead's last 1x1 conv, (num_classes, 256, 1, 1)) is %s",
               cls ? shape_str(cls->ndim, cls->shape, b0, sizeof b0) : "missing");
    int layer3 = 0;
    for (;; layer3++) {
        char name[64];
        snprintf(name, sizeof name, "backbone.layer3.%d.conv1.weight", layer3);
        if (!find(t, n, name)) break;
    }
    DS_REQUIRE(err, layer3 == 6 || layer3 == 23, DS_ERR_FORMAT,
               "checkpoint: backbone.layer3 has %d blocks; ResNet-50 has 6 and ResNet-101 23", layer3);
    ds_deeplab_config c = ds_deeplab_config_default();
    c.depth = layer3 == 6 ? 50 : 101;
    c.width = conv1->shape[0];
    c.num_classes = cls->shape[0];
    c.aux = any_prefix(t, n, "aux_classifier.");
    if (c.ignore_index >= 0 && c.ignore_index < c.num_classes) c.ignore_index = -1;  // > 255 classes: none by default
    DS_TRY(ds_deeplab_check_config(&c, err));

    // Every tensor of that model must be there with its shape, and nothing else.
    ds_deeplab_model m;
    memset(&m, 0, sizeof m);
    m.cfg = c;
    const int cap = ds_deeplab_spec_capacity(&c);
    ds_param_spec *specs = calloc((size_t)cap, sizeof *specs);
    DS_REQUIRE(err, specs != NULL, DS_ERR_OOM, "checkpoint check: out of memory");
    int count = 0;
    ds_status st = ds_deeplab_layout(&m, specs, &count, err);
    ds_resnet_free(&m.backbone);
    int matched = 0;
    for (int i = 0; st == DS_OK && i < count; i++) {
        const ds_param_spec *s = &specs[i];
        const ds_named_shape *got = find(t, n, s->name);
        if (!got) {
            const size_t len = strlen(s->name), suffix = strlen("num_batches_tracked");
            if (len >= suffix && strcmp(s->name + len - suffix, "num_batches_tracked") == 0) continue;
            st = ds_err_set(err, DS_ERR_FORMAT,
                            "checkpoint: tensor '%s' %s is missing (a DeepLabV3-ResNet%d of width %lld, %lld classes%s)",
                            s->name, shape_str(s->ndim, s->shape, b0, sizeof b0), c.depth, (long long)c.width,
                            (long long)c.num_classes, c.aux ? ", aux head" : "");
            break;
        }
        matched++;
        bool same = got->ndim == s->ndim;
        for (int d = 0; same && d < s->ndim; d++) same = got->shape[d] == s->shape[d];
        if (!same)
            st = ds_err_set(err, DS_ERR_FORMAT, "checkpoint: tensor '%s' is %s, expected %s (DeepLabV3-ResNet%d of width %lld)",
                            s->name, shape_str(got->ndim, got->shape, b0, sizeof b0),
                            shape_str(s->ndim, s->shape, b1, sizeof b1), c.depth, (long long)c.width);
    }
    if (st == DS_OK && matched != n) {
        for (int i = 0; i < n; i++) {
            bool known = false;
            for (int k = 0; k < count && !known; k++) known = t[i].name && strcmp(specs[k].name, t[i].name) == 0;
            if (!known) {
                st = ds_err_set(err, DS_ERR_FORMAT,
                                "checkpoint: tensor '%s' is not part of a DeepLabV3-ResNet%d (width %lld%s)",
                                t[i].name ? t[i].name : "(null)", c.depth, (long long)c.width, c.aux ? ", aux head" : "");
                break;
            }
        }
        if (st == DS_OK)
            st = ds_err_set(err, DS_ERR_FORMAT, "checkpoint: %d tensors but %d distinct model tensors (duplicate names?)",
                            n, matched);
    }
    free(specs);
    if (st == DS_OK) *cfg = c;
    return st;
}
