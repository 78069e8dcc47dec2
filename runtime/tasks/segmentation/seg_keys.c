// The segmentation family's own config keys (task.type "segmentation"), and what the model.* and
// data.* keys resolve to. Defaults are torchvision's references/segmentation recipe
// (deeplabv3_resnet50, aux loss 0.5, base 520, crop 480); the drivers' keys it reuses are
// model.path, model.dropout, data.train/dev/test, data.split, data.header and train.* (the optimizer
// recipe lives in configs/segmentation_voc.json, since train.*'s defaults are the text family's).
#include <math.h>
#include <string.h>

#include "../../base/check.h"
#include "seg_internal.h"

static const ds_config_key k_keys[] = {
    {"data.voc_root",       DS_CFG_STRING, "",      .doc = "segmentation: a PASCAL-VOC tree (JPEGImages/<id>.jpg, SegmentationClass/<id>.png, ImageSets/Segmentation/<split>.txt) whose splits data.train_split/dev_split/test_split name; empty: list files data.train, data.dev, data.test (CSV/TSV/JSONL of image,mask paths)"},
    {"data.train_split",    DS_CFG_STRING, "train", .doc = "segmentation, VOC: the training split's name"},
    {"data.dev_split",      DS_CFG_STRING, "val",   .doc = "segmentation, VOC: the dev split's name (evaluated during training); empty: none"},
    {"data.test_split",     DS_CFG_STRING, "",      .doc = "segmentation, VOC: the test split's name; empty: none"},
    {"data.image_field",    DS_CFG_STRING, "image", .doc = "segmentation list files: the column (CSV/TSV header) or key (JSONL) of the image path; relative paths start at the list's folder"},
    {"data.mask_field",     DS_CFG_STRING, "mask",  .doc = "segmentation list files: the column or key of the mask path (palette or 8-bit gray PNG of class ids, 255 = ignore)"},
    {"data.class_names",    DS_CFG_STRING, "",      .doc = "segmentation: class names, a file (one per line) or a comma-separated list (class i = name i); empty: <voc_root>/class_names.txt when present, else class_0, class_1, ..."},
    {"data.num_classes",    DS_CFG_INT,    "0",     .min = "0", .max = "255", .doc = "segmentation: K, mask ids 0..K-1 (255 is ignored); 0: the number of class names (PASCAL VOC: 21)"},
    {"data.base_size",      DS_CFG_INT,    "520",   .min = "1", .max = "16384", .doc = "segmentation: training resizes the shorter side to a random size in [data.min_scale, data.max_scale] x base_size; evaluation to base_size (torchvision's recipe: 520)"},
    {"data.min_scale",      DS_CFG_FLOAT,  "0.5",   .min = "0.01", .max = "16", .doc = "segmentation: the smallest training resize, as a multiple of base_size (torchvision's recipe: 0.5)"},
    {"data.max_scale",      DS_CFG_FLOAT,  "2.0",   .min = "0.01", .max = "16", .doc = "segmentation: the largest training resize, as a multiple of base_size (torchvision's recipe: 2.0; at least data.min_scale)"},
    {"data.crop_size",      DS_CFG_INT,    "480",   .min = "1", .max = "16384", .doc = "segmentation: the square training crop, padded with ignored pixels when the image is smaller (torchvision: 480)"},
    {"data.hflip",          DS_CFG_FLOAT,  "0.5",   .min = "0", .max = "1", .doc = "segmentation: probability of a horizontal flip in training"},
    {"data.class_weights",  DS_CFG_STRING, "",      .doc = "segmentation: K comma-separated cross-entropy class weights (torch's weight=); the loss is then a mean weighted by them; empty: all 1"},
    {"model.depth",         DS_CFG_INT,    "50",    .min = "50", .max = "101", .doc = "segmentation: ResNet-50 or -101 backbone of a model built from scratch or from a checkpoint (which must match when this is set)"},
    {"model.width",         DS_CFG_INT,    "64",    .min = "1", .max = "4096", .doc = "segmentation: base channel width, 64 = torchvision's; every layer scales with it (8 or 16: the CPU demo's narrow model); a checkpoint's own width is used unless this is set"},
    {"model.aux",           DS_CFG_BOOL,   "true",  .doc = "segmentation: the FCN auxiliary head on layer3 (torchvision's aux_loss); a checkpoint's presence decides unless this is set (then a missing head is initialised, an unwanted one ignored)"},
    {"model.aux_weight",    DS_CFG_FLOAT,  "0.5",   .min = "0", .doc = "segmentation: loss = CE(out) + aux_weight x CE(aux)"},
    {"model.aux_lr_mult",   DS_CFG_FLOAT,  "10",    .min = "1e-6", .doc = "segmentation: learning-rate multiplier of the auxiliary head (torchvision's recipe: 10)"},
    {"model.frozen_bn",     DS_CFG_BOOL,   "false", .doc = "segmentation: BatchNorm weights frozen and running statistics used in training too (small batches)"},
    {"model.sync_bn",       DS_CFG_BOOL,   "true",  .doc = "segmentation: with several ranks, BatchNorm statistics over the global batch (SyncBatchNorm); false: each rank's own"},
    {"bench.image_size",    DS_CFG_INT,    "256",   .min = "8", .max = "4096", .doc = "segmentation bench: square image side (bench.batch images when set, else 2)"},
    {"bench.width",         DS_CFG_INT,    "64",    .min = "1", .max = "4096", .doc = "segmentation bench: DeepLabV3 base width (64 = torchvision)"},
    {"bench.depth",         DS_CFG_INT,    "50",    .min = "50", .max = "101", .doc = "segmentation bench: ResNet depth, 50 or 101"},
    {"bench.classes",       DS_CFG_INT,    "21",    .min = "1", .max = "255", .doc = "segmentation bench: classes of the benchmarked model (with the aux head)"},
};

const ds_config_key *ds_seg_config_keys(int *count) {
    *count = (int)(sizeof k_keys / sizeof k_keys[0]);
    return k_keys;
}

ds_status ds_seg_model_request(const ds_config *cfg, int64_t num_classes, bool for_eval, seg_model_request *out,
                               ds_err *err) {
    memset(out, 0, sizeof *out);
    ds_deeplab_config c = ds_deeplab_config_default();
    const int64_t depth = ds_config_int(cfg, "model.depth");
    DS_REQUIRE(err, depth == 50 || depth == 101, DS_ERR_CONFIG, "model.depth %lld: DeepLabV3 has ResNet-50 or ResNet-101",
               (long long)depth);
    c.depth = (int)depth;
    c.width = ds_config_int(cfg, "model.width");
    c.aux = ds_config_bool(cfg, "model.aux");
    c.aux_weight = (float)ds_config_float(cfg, "model.aux_weight");
    c.aux_lr_mult = (float)ds_config_float(cfg, "model.aux_lr_mult");
    c.frozen_bn = ds_config_bool(cfg, "model.frozen_bn");
    const double dropout = ds_config_float(cfg, "model.dropout");
    if (dropout >= 0) c.dropout = c.aux_dropout = (float)dropout;  // -1 keeps torchvision's 0.5 and 0.1
    c.num_classes = num_classes;
    out->cfg = c;
    out->depth_set = ds_config_source_of(cfg, "model.depth") != DS_CFG_FROM_DEFAULT;
    out->width_set = ds_config_source_of(cfg, "model.width") != DS_CFG_FROM_DEFAULT;
    out->aux_set = ds_config_source_of(cfg, "model.aux") != DS_CFG_FROM_DEFAULT;
    out->sync_bn = ds_config_bool(cfg, "model.sync_bn");
    out->for_eval = for_eval;
    return DS_OK;
}

ds_status ds_seg_transform_from_config(const ds_config *cfg, ds_seg_transform_options *out, ds_err *err) {
    ds_seg_transform_options o = ds_seg_transform_defaults();
    o.base_size = (int32_t)ds_config_int(cfg, "data.base_size");
    o.crop_size = (int32_t)ds_config_int(cfg, "data.crop_size");
    o.hflip_prob = (float)ds_config_float(cfg, "data.hflip");
    o.min_scale = ds_config_float(cfg, "data.min_scale");
    o.max_scale = ds_config_float(cfg, "data.max_scale");
    DS_TRY(ds_seg_transform_check(&o, err));
    *out = o;
    return DS_OK;
}
