// model.path for the segmentation family: what a file or directory holds and the DeepLabV3 built
// from it. Accepted:
//   ""                 from scratch, torchvision's initialisation (ds_deeplab_init_weights)
//   a .pth / .safetensors of torchvision's DeepLabV3-ResNet state dict (deeplabv3_resnet50_coco-*.pth):
//                      depth, width, K and the aux head from its tensors (ds_deeplab_infer_config);
//                      another K than the data's re-initialises classifier.4 and aux_classifier.4 as
//                      torchvision's fine-tuning recipes replace them
//   a torchvision ResNet-50/101 classifier (resnet50-*.pth): conv1/bn1/layer1..4 into backbone.*,
//                      fc.* ignored, both heads initialised as torchvision does
//   a directory this family exported (model.safetensors + config.json + class_names.txt)
//   a training checkpoint of this family (train.output_dir/checkpoint-N.safetensors: param/<name> and
//                      buffer/<name>; the optimizer's state is ignored)
// The file format is recognised by content (runtime/io/tensor_source.h), never by its name.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../../data/common/file_read.h"
#include "../../base/check.h"
#include "../../base/log.h"
#include "../../io/tensor_source.h"
#include "../../io/weight_loader.h"
#include "seg_internal.h"

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

// err's message prefixed with `path` (the model's messages say "checkpoint: ..."), status kept.
static ds_status prefix_path(ds_err *err, ds_status st, const char *path) {
    char was[sizeof err->msg];
    snprintf(was, sizeof was, "%s", err->msg);
    return ds_err_set(err, st, "%s: %s", path, was);
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// The model's name of checkpoint tensor `name`: a training checkpoint's param/<name> and
// buffer/<name> without the prefix (NULL for its optimizer state); any other file's as it is.
static const char *model_tensor_name(const char *name, bool checkpoint) {
    if (!checkpoint) return name;
    if (strncmp(name, "param/", 6) == 0) return name + 6;
    if (strncmp(name, "buffer/", 7) == 0) return name + 7;
    return NULL;
}

// The names (as the model's) and shapes of src's tensors (views into src: valid while it is open).
static ds_status list_shapes(const ds_tensor_source *src, bool checkpoint, ds_named_shape **out, int *count,
                             ds_err *err) {
    const int n = ds_tensor_source_count(src);
    ds_named_shape *t = calloc((size_t)(n > 0 ? n : 1), sizeof *t);
    DS_REQUIRE(err, t != NULL, DS_ERR_OOM, "%s: out of memory", ds_tensor_source_path(src));
    int k = 0;
    for (int i = 0; i < n; i++) {
        const ds_named_tensor nt = ds_tensor_source_at(src, i);
        const char *name = model_tensor_name(nt.name, checkpoint);
        if (!name) continue;
        t[k].name = name;
        t[k].ndim = nt.tensor.ndim;
        memcpy(t[k].shape, nt.tensor.shape, sizeof t[k].shape);
        k++;
    }
    *out = t;
    *count = k;
    return DS_OK;
}

static const ds_named_shape *find_shape(const ds_named_shape *t, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

// Blocks of a torchvision ResNet layer in names <prefix>layer<L>.<i>.conv1.weight.
static int count_blocks(const ds_named_shape *t, int n, const char *prefix, int layer) {
    int blocks = 0;
    for (;; blocks++) {
        char name[96];
        snprintf(name, sizeof name, "%slayer%d.%d.conv1.weight", prefix, layer, blocks);
        if (!find_shape(t, n, name)) return blocks;
    }
}

// A plain torchvision ResNet classifier (conv1.weight, layer1.0...): its depth and width, or an
// error naming the file when it is not a Bottleneck ResNet-50/101.
static ds_status backbone_shape(const char *path, const ds_named_shape *t, int n, int *depth, int64_t *width,
                                ds_err *err) {
    const ds_named_shape *conv1 = find_shape(t, n, "conv1.weight");
    DS_REQUIRE(err, conv1->ndim == 4 && conv1->shape[1] == 3 && conv1->shape[2] == 7 && conv1->shape[3] == 7,
               DS_ERR_FORMAT, "%s: conv1.weight is not a ResNet stem (width, 3, 7, 7)", path);
    DS_REQUIRE(err, find_shape(t, n, "layer1.0.conv3.weight") != NULL, DS_ERR_FORMAT,
               "%s: a ResNet of BasicBlocks (layer1.0 has no conv3: torchvision's resnet18 or resnet34); DeepLabV3 "
               "needs the Bottleneck ResNet-50 or ResNet-101 (resnet50-*.pth, resnet101-*.pth)", path);
    const int blocks[4] = {count_blocks(t, n, "", 1), count_blocks(t, n, "", 2), count_blocks(t, n, "", 3),
                           count_blocks(t, n, "", 4)};
    const bool r50 = blocks[0] == 3 && blocks[1] == 4 && blocks[2] == 6 && blocks[3] == 3;
    const bool r101 = blocks[0] == 3 && blocks[1] == 4 && blocks[2] == 23 && blocks[3] == 3;
    DS_REQUIRE(err, r50 || r101, DS_ERR_FORMAT,
               "%s: a ResNet with %d, %d, %d, %d blocks per layer; DeepLabV3 takes ResNet-50 (3, 4, 6, 3) or "
               "ResNet-101 (3, 4, 23, 3)", path, blocks[0], blocks[1], blocks[2], blocks[3]);
    *depth = r50 ? 50 : 101;
    *width = conv1->shape[0];
    return DS_OK;
}

// ---- an exported directory's config.json --------------------------------------------------------

static ds_status read_exported_config(const char *dir, seg_model_info *info, ds_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &text, &size, err));
    cJSON *root = cJSON_ParseWithLength(text, size);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ds_err_set(err, DS_ERR_FORMAT, "%s: not a JSON object", path);
    }
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "model_type"));
    ds_status st = type && strcmp(type, "deeplabv3") == 0
                       ? DS_OK
                       : ds_err_set(err, DS_ERR_FORMAT, "%s: model_type is '%s', not deeplabv3 (a segmentation model "
                                    "exported by downstream)", path, type ? type : "(none)");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "class_names");
    if (st == DS_OK && cJSON_IsArray(names)) {
        const int n = cJSON_GetArraySize(names);
        const char **list = calloc((size_t)(n > 0 ? n : 1), sizeof *list);
        st = list ? DS_OK : ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
        for (int i = 0; st == DS_OK && i < n; i++) {
            list[i] = cJSON_GetStringValue(cJSON_GetArrayItem(names, i));
            if (!list[i]) st = ds_err_set(err, DS_ERR_FORMAT, "%s: class_names[%d] is not a string", path, i);
        }
        if (st == DS_OK) st = ds_label_map_from_names(&info->names, list, n, path, err);
        free(list);
    }
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(root, "base_size");
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(root, "mean"), *std = cJSON_GetObjectItemCaseSensitive(root, "std");
    if (st == DS_OK && cJSON_IsNumber(base) && cJSON_GetArraySize(mean) == 3 && cJSON_GetArraySize(std) == 3) {
        ds_seg_transform_options tf = ds_seg_transform_defaults();
        tf.base_size = (int32_t)base->valuedouble;
        const cJSON *crop = cJSON_GetObjectItemCaseSensitive(root, "crop_size");
        if (cJSON_IsNumber(crop)) tf.crop_size = (int32_t)crop->valuedouble;
        for (int c = 0; c < 3; c++) {
            tf.mean[c] = (float)cJSON_GetArrayItem(mean, c)->valuedouble;
            tf.std[c] = (float)cJSON_GetArrayItem(std, c)->valuedouble;
        }
        st = ds_seg_transform_check(&tf, err);
        if (st != DS_OK) st = prefix_path(err, DS_ERR_FORMAT, path);
        info->tf = tf;
        info->has_transform = st == DS_OK;
    }
    cJSON_Delete(root);
    return st;
}

// ---- the weight loader's callbacks -----------------------------------------------------------

typedef struct seg_map {
    ds_context *ctx;
    ds_deeplab_model *m;
    seg_source_kind kind;
    bool init_heads;   // heads absent from the file may start afresh (training)
} seg_map;

static bool is_head(const ds_deeplab_model *m, int i) { return i >= m->first_classifier_param; }

static bool is_last_conv(const ds_deeplab_model *m, int i) {
    const char *name = m->params.specs[i].name;
    return starts_with(name, "classifier.4.") || starts_with(name, "aux_classifier.4.");
}

// A ResNet classifier's names go under backbone.; its fc layer has no place in DeepLabV3.
static bool map_name(void *user, const char *name, char *dst, size_t cap) {
    const seg_map *s = user;
    if (s->kind == SEG_SOURCE_CHECKPOINT) {
        const char *own = model_tensor_name(name, true);
        return own && (size_t)snprintf(dst, cap, "%s", own) < cap;
    }
    if (s->kind != SEG_SOURCE_BACKBONE) return (size_t)snprintf(dst, cap, "%s", name) < cap;
    if (starts_with(name, "fc.")) return false;
    return (size_t)snprintf(dst, cap, "backbone.%s", name) < cap;
}

// Another class count: the last 1x1 convs of both heads start afresh (torchvision's recipe
// replaces model.classifier[4] and model.aux_classifier[4]); any other mismatch is an error.
static ds_weight_mismatch on_mismatch(void *user, int i, const ds_tensor *found) {
    const seg_map *s = user;
    const ds_param_spec *spec = &s->m->params.specs[i];
    const bool classes_only = s->init_heads && is_last_conv(s->m, i) && found->ndim == spec->ndim &&
                              (spec->ndim == 1 || (found->shape[1] == spec->shape[1] && found->shape[2] == spec->shape[2] &&
                                                   found->shape[3] == spec->shape[3]));
    return classes_only ? DS_WEIGHT_MISMATCH_REINIT : DS_WEIGHT_MISMATCH_ERROR;
}

// num_batches_tracked (checkpoints from before torch 0.4.1 lack it) counts from 0; a head the file
// lacks (a backbone, an aux head the file has not) starts afresh when training.
static bool init_missing(void *user, int i) {
    seg_map *s = user;
    if (ends_with(s->m->params.specs[i].name, "num_batches_tracked")) {
        ds_deeplab_init_param(s->ctx, s->m, i);
        return true;
    }
    if (!s->init_heads || !is_head(s->m, i)) return false;
    ds_deeplab_init_param(s->ctx, s->m, i);
    return true;
}

// ---- opening ---------------------------------------------------------------------------------

static ds_status from_scratch(ds_context *ctx, const seg_model_request *req, ds_deeplab_model *m) {
    DS_REQUIRE(&ctx->err, !req->for_eval, DS_ERR_CONFIG,
               "model.path is empty: give the trained model (train.output_dir/model after training, or a .pth / "
               "safetensors DeepLabV3 checkpoint)");
    DS_TRY(ds_deeplab_create(ctx, &req->cfg, m));
    ds_deeplab_init_weights(ctx, m);
    DS_LOG_INFO(&ctx->log, "model.path is empty: DeepLabV3-ResNet%d of width %lld%s from scratch, torchvision's "
                "initialisation (kaiming-normal backbone convs, default Conv2d heads; seed %llu)",
                req->cfg.depth, (long long)req->cfg.width, req->cfg.aux ? " with the aux head" : "",
                (unsigned long long)ctx->seed);
    return DS_OK;
}

// The model's config for the checkpoint's tensors and the request.
static ds_status config_for(ds_context *ctx, const char *path, const ds_named_shape *t, int n,
                            const seg_model_request *req, ds_deeplab_config *c, seg_model_info *info) {
    ds_err *err = &ctx->err;
    int depth = 0;
    int64_t width = 0;
    bool aux = req->cfg.aux;
    if (info->kind == SEG_SOURCE_BACKBONE) {
        DS_REQUIRE(err, !req->for_eval, DS_ERR_CONFIG,
                   "%s is a ResNet classifier's checkpoint: a backbone without a segmentation head; fine-tune it with "
                   "`downstream train` first", path);
        DS_TRY(backbone_shape(path, t, n, &depth, &width, err));
    } else {
        ds_deeplab_config found;
        const ds_status st = ds_deeplab_infer_config(t, n, &found, err);
        if (st != DS_OK) return prefix_path(err, st, path);
        depth = found.depth;
        width = found.width;
        info->file_classes = found.num_classes;
        if (!req->aux_set || req->for_eval) aux = found.aux;
        if (req->aux_set && !req->for_eval && req->cfg.aux != found.aux)
            DS_LOG_INFO(&ctx->log, "%s: %s; model.aux is %s: %s", path,
                        found.aux ? "has an aux head" : "has no aux head", req->cfg.aux ? "true" : "false",
                        req->cfg.aux ? "the aux head starts afresh (torchvision's initialisation)"
                                     : "its aux_classifier.* tensors are ignored");
    }
    DS_REQUIRE(err, !req->depth_set || req->cfg.depth == depth, DS_ERR_CONFIG,
               "%s holds a ResNet-%d backbone but model.depth is %d: remove model.depth or give a ResNet-%d checkpoint",
               path, depth, req->cfg.depth, req->cfg.depth);
    DS_REQUIRE(err, !req->width_set || req->cfg.width == width, DS_ERR_CONFIG,
               "%s has width %lld (backbone.conv1 has %lld channels) but model.width is %lld", path, (long long)width,
               (long long)width, (long long)req->cfg.width);
    *c = req->cfg;
    c->depth = depth;
    c->width = width;
    c->aux = aux;
    if (c->num_classes <= 0) c->num_classes = info->file_classes;
    DS_REQUIRE(err, c->num_classes > 0, DS_ERR_CONFIG, "%s: how many classes? set data.num_classes", path);
    DS_REQUIRE(err, !req->for_eval || info->file_classes == c->num_classes, DS_ERR_CONFIG,
               "%s has %lld classes but %lld are asked for", path, (long long)info->file_classes,
               (long long)c->num_classes);
    return DS_OK;
}

static ds_status from_file(ds_context *ctx, const char *path, const seg_model_request *req, ds_deeplab_model *m,
                           seg_model_info *info) {
    ds_err *err = &ctx->err;
    ds_tensor_source src;
    DS_TRY(ds_tensor_source_open(path, &src, err));
    ds_named_shape *t = NULL;
    int n = 0;
    if (!info->kind && ds_tensor_source_find(&src, "param/backbone.conv1.weight") >= 0) info->kind = SEG_SOURCE_CHECKPOINT;
    ds_status st = list_shapes(&src, info->kind == SEG_SOURCE_CHECKPOINT, &t, &n, err);
    if (st == DS_OK && !info->kind) {
        const bool resnet = find_shape(t, n, "conv1.weight") && find_shape(t, n, "layer1.0.conv1.weight") &&
                            !find_shape(t, n, "backbone.conv1.weight");
        info->kind = resnet ? SEG_SOURCE_BACKBONE : SEG_SOURCE_DEEPLAB;
    }
    ds_deeplab_config c;
    if (st == DS_OK) st = config_for(ctx, path, t, n, req, &c, info);
    free(t);
    bool created = false;
    if (st == DS_OK) created = (st = ds_deeplab_create(ctx, &c, m)) == DS_OK;
    if (st == DS_OK) {
        seg_map s = {ctx, m, info->kind, !req->for_eval};
        const ds_weight_map map = {
            .model_name = map_name, .on_mismatch = on_mismatch, .init_missing = init_missing, .user = &s,
            .hint = info->kind == SEG_SOURCE_BACKBONE ? "is it a torchvision ResNet-50/101 (resnet50-*.pth)?"
                                                      : "is it a torchvision DeepLabV3-ResNet50/101 state dict?"};
        ds_weight_report r;
        st = ds_weights_load(ctx, &src, &m->params, &map, &r);
        if (st == DS_OK) {
            int heads = 0;
            for (int i = m->first_classifier_param; i < m->params.count; i++)
                heads += !ends_with(m->params.specs[i].name, "num_batches_tracked");
            info->reinitialised = r.initialised;
            if (info->kind == SEG_SOURCE_BACKBONE)
                DS_LOG_INFO(&ctx->log, "%s: a torchvision ResNet-%d classifier: its backbone loaded into backbone.*, fc.* "
                            "ignored; the DeepLabHead%s (%d tensors) initialised as torchvision does (seed %llu)",
                            path, c.depth, c.aux ? " and the FCN aux head" : "", heads, (unsigned long long)ctx->seed);
            else if (info->file_classes != c.num_classes)
                DS_LOG_INFO(&ctx->log, "%s has %lld classes, the data %lld: classifier.4%s re-initialised, as "
                            "torchvision's fine-tuning recipe replaces the last conv", path,
                            (long long)info->file_classes, (long long)c.num_classes, c.aux ? " and aux_classifier.4" : "");
            else if (r.initialised > 0)
                DS_LOG_INFO(&ctx->log, "%s: %d tensors not in the file, initialised: %s", path, r.initialised,
                            r.initialised_names);
        }
    }
    if (st != DS_OK && created) ds_deeplab_free(m);
    if (st == DS_OK) {
        snprintf(info->weights, sizeof info->weights, "%s", path);
        DS_LOG_INFO(&ctx->log, "%s (%s): DeepLabV3-ResNet%d, width %lld, %lld classes%s%s", path,
                    ds_tensor_source_format(&src), c.depth, (long long)c.width, (long long)c.num_classes,
                    c.aux ? ", aux head" : "", c.frozen_bn ? ", frozen BatchNorm" : "");
    }
    ds_tensor_source_close(&src);
    return st;
}

ds_status ds_seg_model_open(ds_context *ctx, const char *path, const seg_model_request *req, ds_deeplab_model *m,
                            seg_model_info *info) {
    memset(m, 0, sizeof *m);
    memset(info, 0, sizeof *info);
    ds_label_map_init(&info->names);
    if (!path[0]) return from_scratch(ctx, req, m);
    if (!is_dir(path)) return from_file(ctx, path, req, m, info);
    DS_TRY(read_exported_config(path, info, &ctx->err));
    info->kind = SEG_SOURCE_EXPORTED;
    char file[4200];
    snprintf(file, sizeof file, "%s/model.safetensors", path);
    const ds_status st = from_file(ctx, file, req, m, info);
    info->kind = SEG_SOURCE_EXPORTED;
    if (st == DS_OK && info->names.count > 0 && info->names.count != m->cfg.num_classes &&
        m->cfg.num_classes == info->file_classes)
        return ds_err_set(&ctx->err, DS_ERR_FORMAT, "%s/config.json names %d classes but model.safetensors has %lld", path,
                          (int)info->names.count, (long long)info->file_classes);
    return st;
}

void ds_seg_model_info_free(seg_model_info *info) { ds_label_map_free(&info->names); }

bool ds_seg_recognizes(const char *path) {
    if (is_dir(path)) {
        char cfg[4200];
        snprintf(cfg, sizeof cfg, "%s/config.json", path);
        char *text = NULL;
        size_t size = 0;
        ds_err err;
        ds_err_clear(&err);
        if (ds_read_whole_file(cfg, &text, &size, &err) != DS_OK) return false;
        cJSON *root = cJSON_ParseWithLength(text, size);
        free(text);
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "model_type"));
        const bool ours = type && strcmp(type, "deeplabv3") == 0;
        cJSON_Delete(root);
        return ours;
    }
    ds_tensor_source src;
    ds_err err;
    ds_err_clear(&err);
    if (ds_tensor_source_open(path, &src, &err) != DS_OK) return false;
    const bool checkpoint = ds_tensor_source_find(&src, "param/classifier.4.weight") >= 0;
    bool layer4 = false;
    for (int i = 0; i < ds_tensor_source_count(&src) && !layer4; i++)
        layer4 = starts_with(ds_tensor_source_at(&src, i).name, checkpoint ? "param/backbone.layer4." : "backbone.layer4.");
    const bool deeplab = layer4 && (checkpoint || ds_tensor_source_find(&src, "classifier.4.weight") >= 0);
    ds_tensor_source_close(&src);
    return deeplab;
}
