// The segmentation family's table (runtime/tasks/task.h): torchvision's DeepLabV3-ResNet50/101
// (models/deeplab/deeplab.h) on PASCAL-VOC trees or image/mask lists (data/image/), with the
// reference recipe's transforms and loss. The data side is seg_data.c, model.path seg_weights.c,
// evaluation seg_eval.c, export seg_export.c, and the predict and bench commands seg_predict.c and
// seg_bench.c. Training batches are crops of crop_size packed by data/image/seg_batch.h; evaluation
// batches are packed padded to their largest image but run one image at a time at its own size
// (torchvision's evaluation, batch 1), so padding never reaches the model.
#include "seg_family.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../../models/common/device_memory.h"
#include "../../base/check.h"
#include "../../base/log.h"
#include "seg_internal.h"

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

const ds_label_map *ds_seg_state_names(const seg_state *s) {
    return s->model_names.count ? &s->model_names : &s->data.classes;
}

ds_status ds_seg_unpack(const void *packed, ds_seg_slot_layout *l, ds_seg_batch *b, ds_err *err) {
    const seg_pack_header *h = packed;
    DS_TRY(ds_seg_slot_layout_make(h->cap, h->max_h, h->max_w, l, err));
    *b = ds_seg_batch_view(l, (char *)packed + SEG_PACK_OFFSET);
    return DS_OK;
}

// ---- open / close ------------------------------------------------------------------------------

static void seg_close(ds_task *t) {
    if (!t) return;
    seg_state *s = (seg_state *)t;
    if (s->model_loaded) ds_deeplab_free(&s->model);
    if (s->data_loaded) ds_seg_data_free(&s->data);
    ds_label_map_free(&s->model_names);
    free(s->eval_image);
    free(s->eval_mask);
    free(s->pending);
    free(s);
}

static seg_state *new_state(ds_context *ctx, const ds_config *cfg) {
    seg_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.family = &ds_seg_task_family;
    s->cfg = cfg;
    s->log = &ctx->log;
    s->seed = ctx->seed;
    ds_label_map_init(&s->model_names);
    return s;
}

// What every opening ends with: the evaluation scratch (one example of the largest size) and the
// pending confusion matrix.
static ds_status finish_open(ds_context *ctx, seg_state *s) {
    const size_t px = (size_t)s->data.eval_h * (size_t)s->data.eval_w;
    const size_t K = (size_t)s->model.cfg.num_classes;
    s->eval_image = malloc(max_size(px, 1) * 3 * sizeof(float));
    s->eval_mask = malloc(max_size(px, 1) * sizeof(int32_t));
    s->pending = calloc(K * K, sizeof(int64_t));
    DS_REQUIRE(&ctx->err, s->eval_image && s->eval_mask && s->pending, DS_ERR_OOM,
               "segmentation: out of memory for evaluation buffers of %d x %d", (int)s->data.eval_w,
               (int)s->data.eval_h);
    return DS_OK;
}

static ds_status seg_open_train(ds_context *ctx, const ds_config *cfg, ds_task **out) {
    ds_err *err = &ctx->err;
    seg_state *s = new_state(ctx, cfg);
    DS_REQUIRE(err, s != NULL, DS_ERR_OOM, "segmentation: out of memory");
    ds_status st = ds_seg_data_open(cfg, &ctx->log, true, ctx->seed, NULL, &s->data, err);
    s->data_loaded = st == DS_OK;
    if (st == DS_OK && s->data.n[DS_DATA_TRAIN] == 0) st = ds_err_set(err, DS_ERR_INVALID_ARG, "the training set is empty");
    seg_model_request req;
    if (st == DS_OK) st = ds_seg_model_request(cfg, s->data.num_classes, false, &req, err);
    if (st == DS_OK) {
        seg_model_info info;
        st = ds_seg_model_open(ctx, ds_config_str(cfg, "model.path"), &req, &s->model, &info);
        s->model_loaded = st == DS_OK;
        ds_seg_model_info_free(&info);
        s->sync_bn = req.sync_bn;
    }
    if (st == DS_OK) st = finish_open(ctx, s);
    if (st == DS_OK && strcmp(ds_config_str(cfg, "train.optimizer"), "sgd") != 0)
        DS_LOG_INFO(&ctx->log, "train.optimizer is %s; torchvision's segmentation recipe is SGD (momentum 0.9, weight "
                    "decay 1e-4, lr 0.01, poly schedule): configs/segmentation_voc.json",
                    ds_config_str(cfg, "train.optimizer"));
    if (st != DS_OK) {
        seg_close(&s->base);
        return st;
    }
    *out = &s->base;
    return DS_OK;
}

static ds_status seg_open_eval(ds_context *ctx, const ds_config *cfg, ds_task **out) {
    ds_err *err = &ctx->err;
    const char *path = ds_config_str(cfg, "model.path");
    DS_REQUIRE(err, path[0], DS_ERR_CONFIG,
               "model.path is empty: give the fine-tuned model (train.output_dir/model after training)");
    seg_state *s = new_state(ctx, cfg);
    DS_REQUIRE(err, s != NULL, DS_ERR_OOM, "segmentation: out of memory");
    seg_model_request req;
    seg_model_info info;
    memset(&info, 0, sizeof info);
    ds_label_map_init(&info.names);
    ds_status st = ds_seg_model_request(cfg, 0, true, &req, err);
    if (st == DS_OK) {
        st = ds_seg_model_open(ctx, path, &req, &s->model, &info);
        s->model_loaded = st == DS_OK;
    }
    ds_seg_transform_options tf;
    if (st == DS_OK) st = ds_seg_transform_from_config(cfg, &tf, err);
    if (st == DS_OK && info.has_transform) {
        // The model's normalisation always; its base size unless data.base_size says otherwise.
        memcpy(tf.mean, info.tf.mean, sizeof tf.mean);
        memcpy(tf.std, info.tf.std, sizeof tf.std);
        if (ds_config_source_of(cfg, "data.base_size") == DS_CFG_FROM_DEFAULT) tf.base_size = info.tf.base_size;
    }
    if (st == DS_OK) {
        const seg_data_model dm = {.num_classes = (int32_t)s->model.cfg.num_classes,
                                   .names = info.names.count ? &info.names : NULL, .tf = &tf};
        st = ds_seg_data_open(cfg, &ctx->log, false, ctx->seed, &dm, &s->data, err);
        s->data_loaded = st == DS_OK;
    }
    if (st == DS_OK && info.names.count) st = ds_label_map_copy(&s->model_names, &info.names, err);
    if (st == DS_OK && s->data.n[DS_DATA_DEV] == 0 && s->data.n[DS_DATA_TEST] == 0)
        st = ds_err_set(err, DS_ERR_INVALID_ARG, "nothing to evaluate: no dev or test set (data.dev, data.test, or a VOC "
                        "root's data.dev_split / data.test_split)");
    if (st == DS_OK) st = finish_open(ctx, s);
    s->sync_bn = false;
    ds_seg_model_info_free(&info);
    if (st != DS_OK) {
        seg_close(&s->base);
        return st;
    }
    *out = &s->base;
    return DS_OK;
}

// ---- the model ---------------------------------------------------------------------------------

static ds_param_block *seg_params(ds_task *t) { return &((seg_state *)t)->model.params; }

// On CUDA the model runs in fp32 or bf16 mixed precision (models/deeplab: ds_deeplab_to_device);
// the CPU computes in fp32.
static ds_status seg_to_device(ds_context *ctx, ds_task *t, ds_dtype act) {
    return ds_deeplab_to_device(ctx, &((seg_state *)t)->model, act);
}

static ds_status seg_arena_bytes(ds_context *ctx, ds_task *t, size_t batch, bool training, size_t *bytes) {
    seg_state *s = (seg_state *)t;
    size_t need = 0, b = 0;
    if (training && s->data.n[DS_DATA_TRAIN] > 0) {
        const int64_t crop = s->data.tf.crop_size;
        DS_TRY(ds_deeplab_arena_bytes(ctx, &s->model, (int64_t)batch, crop, crop, true, &b));
        need = b;
    }
    if (s->data.eval_h > 0) {  // evaluation runs one image at a time
        DS_TRY(ds_deeplab_arena_bytes(ctx, &s->model, 1, s->data.eval_h, s->data.eval_w, false, &b));
        need = max_size(need, b);
    }
    *bytes = max_size(need, 64);
    return DS_OK;
}

// Evaluation: each example of the padded batch cut out and run alone at its own size; the loss is
// the mean over every valid pixel of the batch, the confusion waits in s->pending for eval_add.
static ds_status forward_eval(ds_context *ctx, seg_state *s, const ds_seg_batch *b, ds_arena *arena, double *loss) {
    const int64_t H = b->header->height, W = b->header->width, K = s->model.cfg.num_classes;
    memset(s->pending, 0, (size_t)(K * K) * sizeof(int64_t));
    s->pending_valid = false;
    double sum = 0, weight = 0;
    for (int32_t i = 0; i < b->header->count; i++) {
        const int64_t h = b->sizes[2 * i], w = b->sizes[2 * i + 1];
        DS_REQUIRE(&ctx->err, h >= 1 && w >= 1 && h <= s->data.eval_h && w <= s->data.eval_w, DS_ERR_INTERNAL,
                   "segmentation: evaluation example of %lld x %lld outside the planned %d x %d", (long long)w,
                   (long long)h, (int)s->data.eval_w, (int)s->data.eval_h);
        const float *img = b->image + (size_t)i * 3 * (size_t)(H * W);  // (3, H, W) of the batch
        const int32_t *msk = b->mask + (size_t)i * (size_t)(H * W);     // (H, W)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t y = 0; y < h; y++)
                memcpy(s->eval_image + (c * h + y) * w, img + (c * H + y) * W, (size_t)w * sizeof(float));
        for (int64_t y = 0; y < h; y++) memcpy(s->eval_mask + y * w, msk + y * W, (size_t)w * sizeof(int32_t));
        const ds_deeplab_batch one = {.N = 1, .H = h, .W = w, .images = s->eval_image, .masks = s->eval_mask,
                                      .class_weights = s->data.class_weights};
        ds_deeplab_output out;
        DS_TRY(ds_deeplab_forward(ctx, &s->model, &one, false, 0, NULL, arena, &out));
        if (out.loss_weight > 0) {
            sum += (double)out.loss * out.loss_weight;
            weight += out.loss_weight;
        }
        ds_seg_confusion_add(s->pending, K, out.out.data, s->eval_mask, h, w);
    }
    s->pending_valid = true;
    *loss = weight > 0 ? sum / weight : (double)NAN;
    return DS_OK;
}

// Without SyncBN (model.sync_bn=false) each rank's BatchNorm updates its running statistics from
// its own images; as torch's DistributedDataParallel (broadcast_buffers=True) every rank then takes
// rank 0's buffers, so that the ranks stay one model (checkpoints, evaluation shards). A broadcast
// through the sum all-reduce: the other ranks contribute zeros (0 + x is x exactly, F32 and I64).
// On CUDA the buffers go through their host staging copy (a rare configuration: SyncBN is the
// default whenever training is distributed).
static ds_status share_rank0_buffers(ds_context *ctx, ds_param_block *pb, const ds_collective *coll) {
    const bool device = pb->device.kind != DS_DEVICE_CPU;
    if (device) DS_TRY(ds_param_block_download(ctx, pb));
    for (int i = 0; i < pb->count; i++) {
        if (!ds_param_is_buffer(pb, i)) continue;
        const ds_tensor b = ds_param_block_param(pb, i);
        if (coll->rank != 0) memset(b.data, 0, ds_tensor_nbytes(&b));
        DS_TRY(coll->allreduce_sum(coll->user, b.data, ds_tensor_numel(&b), b.dtype, &ctx->err));
    }
    return device ? ds_param_block_upload(ctx, pb) : DS_OK;
}

// A training forward of an unpacked batch. keep_loss: the loss stays on the device (out->loss_term,
// ds_deeplab_forward_train); otherwise the model brings it to the host (out->loss). Without SyncBN,
// rank 0's BN buffers are shared afterwards, as DDP broadcasts them.
static ds_status train_forward(ds_context *ctx, seg_state *s, const ds_seg_batch *b, uint64_t rng_step,
                               const ds_collective *coll, ds_arena *arena, bool keep_loss, ds_deeplab_output *out) {
    const ds_deeplab_batch db = {.N = b->header->count, .H = b->header->height, .W = b->header->width,
                                 .images = b->image, .masks = b->mask, .class_weights = s->data.class_weights};
    const ds_collective *sync = s->sync_bn ? coll : NULL;
    DS_TRY(keep_loss ? ds_deeplab_forward_train(ctx, &s->model, &db, rng_step, sync, arena, out)
                     : ds_deeplab_forward(ctx, &s->model, &db, true, rng_step, sync, arena, out));
    if (!s->sync_bn && coll && coll->allreduce_sum && coll->world > 1 && !s->model.cfg.frozen_bn)
        DS_TRY(share_rank0_buffers(ctx, &s->model.params, coll));
    return DS_OK;
}

// The trainer's forward: the loss stays on the device, (float)(CE(out) + aux_weight x CE(aux)) as
// ds_deeplab_forward computes it on the host.
static ds_status seg_forward_train(ds_context *ctx, ds_task *t, const void *batch, uint64_t rng_step,
                                   const ds_collective *coll, ds_arena *arena, ds_task_loss *loss) {
    seg_state *s = (seg_state *)t;
    ds_seg_slot_layout l;
    ds_seg_batch b;
    DS_TRY(ds_seg_unpack(batch, &l, &b, &ctx->err));
    ds_deeplab_output out;
    DS_TRY(train_forward(ctx, s, &b, rng_step, coll, arena, true, &out));
    *loss = (ds_task_loss){.value = NAN};
    if (!out.has_loss) return DS_OK;
    *loss = (ds_task_loss){.count = s->model.cfg.aux ? 2 : 1, .term = {out.loss_term[0], out.loss_term[1]},
                           .coef = {1.0, (double)s->model.cfg.aux_weight}, .round_f32 = true, .value = NAN};
    return DS_OK;
}

static ds_status seg_forward(ds_context *ctx, ds_task *t, const void *batch, bool training, uint64_t rng_step,
                             const ds_collective *coll, ds_arena *arena, double *loss) {
    seg_state *s = (seg_state *)t;
    ds_seg_slot_layout l;
    ds_seg_batch b;
    DS_TRY(ds_seg_unpack(batch, &l, &b, &ctx->err));
    if (!training) return forward_eval(ctx, s, &b, arena, loss);
    // The model's own host loss (what forward_train's terms must reproduce: test_forward_train_same).
    ds_deeplab_output out;
    DS_TRY(train_forward(ctx, s, &b, rng_step, coll, arena, false, &out));
    *loss = out.has_loss ? (double)out.loss : (double)NAN;
    return DS_OK;
}

static ds_status seg_backward(ds_context *ctx, ds_task *t, double dloss, ds_arena *arena, const ds_grad_hook *hook) {
    return ds_deeplab_backward(ctx, &((seg_state *)t)->model, dloss, arena, hook);
}

// ---- the data ----------------------------------------------------------------------------------

static size_t seg_count(const ds_task *t, ds_data_split split) { return ((const seg_state *)t)->data.n[split]; }

// The slot extent of a split: training crops, or the largest evaluation size.
static void extent_of(const seg_state *s, ds_data_split split, int32_t *h, int32_t *w) {
    if (split == DS_DATA_TRAIN) {
        *h = *w = s->data.tf.crop_size;
    } else {
        *h = s->data.eval_h;
        *w = s->data.eval_w;
    }
}

static size_t seg_batch_bytes(const ds_task *t, size_t batch) {
    const seg_state *s = (const seg_state *)t;
    size_t bytes = 0;
    ds_err err;
    for (int k = 0; k < DS_DATA_SPLITS; k++) {
        int32_t h, w;
        extent_of(s, (ds_data_split)k, &h, &w);
        ds_seg_slot_layout l;
        if (s->data.n[k] > 0 && ds_seg_slot_layout_make((int32_t)batch, h, w, &l, &err) == DS_OK)
            bytes = max_size(bytes, l.bytes);
    }
    return SEG_PACK_OFFSET + bytes;
}

static ds_status seg_pack(const ds_task *t, ds_data_split split, const size_t *idx, size_t n, int64_t epoch,
                          void *batch, ds_batch_info *info, ds_err *err) {
    const seg_state *s = (const seg_state *)t;
    seg_pack_header h = {.mode = split == DS_DATA_TRAIN ? DS_SEG_MODE_TRAIN : DS_SEG_MODE_EVAL, .cap = (int32_t)n};
    extent_of(s, split, &h.max_h, &h.max_w);
    ds_seg_slot_layout l;
    DS_TRY(ds_seg_slot_layout_make(h.cap, h.max_h, h.max_w, &l, err));
    memset(batch, 0, SEG_PACK_OFFSET);
    memcpy(batch, &h, sizeof h);
    int64_t *examples = malloc(max_size(n, 1) * sizeof *examples);
    DS_REQUIRE(err, examples != NULL, DS_ERR_OOM, "segmentation batch: out of memory");
    for (size_t i = 0; i < n; i++) examples[i] = (int64_t)ds_seg_data_example(&s->data, split, idx[i]);
    const ds_seg_pack_args a = {.data = s->data.src[split], .transform = &s->data.tf, .mode = (ds_seg_mode)h.mode,
                                .seed = s->seed, .epoch = (uint64_t)epoch, .layout = &l};
    const ds_status st = ds_seg_pack(&a, 0, examples, (int32_t)n, (char *)batch + SEG_PACK_OFFSET, err);
    free(examples);
    DS_TRY(st);
    // The loss is a mean over the valid pixels, weighted by their classes' weights when given.
    const ds_seg_batch b = ds_seg_batch_view(&l, (char *)batch + SEG_PACK_OFFSET);
    double weight = (double)b.header->valid_pixels;
    if (s->data.class_weights) {
        weight = 0;
        const int64_t cells = (int64_t)b.header->count * b.header->height * b.header->width;
        for (int64_t p = 0; p < cells; p++)
            if (b.mask[p] != DS_SEG_IGNORE) weight += s->data.class_weights[b.mask[p]];
    }
    *info = (ds_batch_info){.n = n, .weight = weight, .summed = false};
    return DS_OK;
}

// ---- files -------------------------------------------------------------------------------------

static ds_status seg_checkpoint_meta(const ds_task *t, cJSON **out, ds_err *err) {
    const seg_state *s = (const seg_state *)t;
    const ds_label_map *names = ds_seg_state_names(s);
    cJSON *root = cJSON_CreateObject();
    DS_REQUIRE(err, root != NULL, DS_ERR_OOM, "checkpoint metadata: out of memory");
    cJSON_AddStringToObject(root, "task", "segmentation");
    cJSON *list = cJSON_AddArrayToObject(root, "class_names");
    for (int32_t k = 0; list && k < names->count; k++) cJSON_AddItemToArray(list, cJSON_CreateString(names->names[k]));
    cJSON_AddNumberToObject(root, "num_classes", (double)s->model.cfg.num_classes);
    cJSON_AddNumberToObject(root, "depth", s->model.cfg.depth);
    cJSON_AddNumberToObject(root, "width", (double)s->model.cfg.width);
    cJSON_AddBoolToObject(root, "aux", s->model.cfg.aux);
    cJSON_AddNumberToObject(root, "base_size", s->data.tf.base_size);
    cJSON_AddNumberToObject(root, "crop_size", s->data.tf.crop_size);
    cJSON_AddStringToObject(root, "model_path", s->cfg ? ds_config_str(s->cfg, "model.path") : "");
    *out = root;
    return DS_OK;
}

static ds_status seg_export_model(ds_context *ctx, ds_task *t, const char *dir) {
    seg_state *s = (seg_state *)t;
    DS_TRY(ds_seg_export(&s->model, ds_seg_state_names(s), &s->data.tf, dir, &ctx->err));
    DS_LOG_INFO(&ctx->log, "exported the model to %s (torchvision deeplabv3_resnet%d names: model.safetensors, "
                "config.json, class_names.txt)", dir, s->model.cfg.depth);
    return DS_OK;
}

const ds_task_family ds_seg_task_family = {
    .name = "segmentation",
    .summary = "torchvision DeepLabV3-ResNet50/101 on PASCAL-VOC trees or image/mask lists (CPU)",
    .config_keys = ds_seg_config_keys,
    .batch_statistics = true,
    .open_train = seg_open_train,
    .open_eval = seg_open_eval,
    .close = seg_close,
    .params = seg_params,
    .to_device = seg_to_device,
    .arena_bytes = seg_arena_bytes,
    .forward = seg_forward,
    .forward_train = seg_forward_train,
    .backward = seg_backward,
    .count = seg_count,
    .batch_bytes = seg_batch_bytes,
    .pack = seg_pack,
    .lengths = NULL,
    .length_unit = NULL,
    .eval_open = ds_seg_eval_open,
    .eval_add = ds_seg_eval_add,
    .eval_buffers = ds_seg_eval_buffers,
    .eval_report = ds_seg_eval_report,
    .eval_close = ds_seg_eval_close,
    .select_metric = ds_seg_select_metric,
    .checkpoint_meta = seg_checkpoint_meta,
    .export_model = seg_export_model,
    .recognizes = ds_seg_recognizes,
    .predict = ds_seg_predict,
    .bench = ds_seg_bench,
};
