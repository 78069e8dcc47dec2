// Shared by the segmentation family's files (runtime/tasks/segmentation/seg_*.c) only: the
// resolved config, the datasets, the model loader, the state behind the task table
// (runtime/tasks/task.h) and the packed batch.
#ifndef DS_SEG_INTERNAL_H
#define DS_SEG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../data/common/label_map.h"
#include "../../../data/image/seg_batch.h"
#include "../../../data/image/seg_dataset.h"
#include "../../../data/image/seg_transform.h"
#include "../../../models/deeplab/deeplab.h"
#include "../task.h"

// ---- the family's config keys (seg_keys.c) ------------------------------------------------------
const ds_config_key *ds_seg_config_keys(int *count);

// The model a config asks for: the deeplab config of model.* (num_classes left 0: the data's or
// the checkpoint's), and which of its shape keys were set explicitly (a checkpoint that differs
// is then an error, or, for model.aux, adapted).
typedef struct seg_model_request {
    ds_deeplab_config cfg;
    bool depth_set, width_set, aux_set;
    bool sync_bn;     // model.sync_bn: pass the collective to BatchNorm in training
    bool for_eval;    // eval/predict: the model exactly as the file holds it (no new head, no scratch)
} seg_model_request;

// model.* of cfg (K = num_classes; 0 leaves it to the checkpoint).
ds_status ds_seg_model_request(const ds_config *cfg, int64_t num_classes, bool for_eval, seg_model_request *out,
                               ds_err *err);

// data.base_size, data.crop_size, data.hflip with torchvision's mean and std.
ds_status ds_seg_transform_from_config(const ds_config *cfg, ds_seg_transform_options *out, ds_err *err);

// ---- the datasets (seg_data.c) ------------------------------------------------------------------
typedef struct seg_data {
    ds_seg_dataset sets[DS_DATA_SPLITS];  // the files of each split (with data.split: all in sets[TRAIN])
    bool open[DS_DATA_SPLITS];
    const ds_seg_dataset *src[DS_DATA_SPLITS];  // the dataset each split's examples come from
    size_t *index[DS_DATA_SPLITS];  // (n[k]) dataset indices of split k (data.split), or NULL: all of src[k]
    size_t n[DS_DATA_SPLITS];       // examples per split
    bool split_from_train;          // dev/test are parts of data.train (data.split)
    ds_label_map classes;           // K names (class_0.. when none were given)
    int32_t num_classes;            // K
    float *class_weights;           // (K) host, or NULL: every class weighs 1
    ds_seg_transform_options tf;
    int32_t eval_h, eval_w;         // the largest evaluation size over dev and test (0 when neither)
} seg_data;

// What the data must agree with in eval: the model's classes (K and names; names may be empty),
// and the transform it was trained with (NULL: data.*'s).
typedef struct seg_data_model {
    int32_t num_classes;
    const ds_label_map *names;
    const ds_seg_transform_options *tf;
} seg_data_model;

// Opens the splits of data.* (training: the train split is required; eval: dev and test). seed:
// the split of data.train by data.split. model (eval, may be NULL): the classes to check against.
ds_status ds_seg_data_open(const ds_config *cfg, const ds_log *log, bool need_train, uint64_t seed,
                           const seg_data_model *model, seg_data *d, ds_err *err);
void ds_seg_data_free(seg_data *d);

// The dataset index of example i of split k.
size_t ds_seg_data_example(const seg_data *d, ds_data_split k, size_t i);

// Reads class names from data.class_names: a file (one per line) or a comma-separated list; "" with
// a VOC root: <root>/class_names.txt when present. *names is left empty when none are given.
ds_status ds_seg_class_names(const ds_config *cfg, ds_label_map *names, ds_err *err);

// ---- model.path (seg_weights.c) ---------------------------------------------------------------
typedef enum seg_source_kind {
    SEG_SOURCE_SCRATCH = 0,  // model.path empty: torchvision's initialisation
    SEG_SOURCE_DEEPLAB,      // a DeepLabV3-ResNet state dict (.pth or safetensors)
    SEG_SOURCE_BACKBONE,     // a torchvision ResNet classifier's state dict: its backbone
    SEG_SOURCE_EXPORTED,     // a directory this family exported
    SEG_SOURCE_CHECKPOINT,   // a training checkpoint of this family (param/<name>, buffer/<name>, ...)
} seg_source_kind;

typedef struct seg_model_info {
    seg_source_kind kind;
    char weights[4200];      // the file the tensors came from ("" from scratch)
    ds_label_map names;      // an exported directory's class names (empty otherwise)
    bool has_transform;      // an exported directory's base size, mean and std
    ds_seg_transform_options tf;
    int64_t file_classes;    // the checkpoint's K (0: none, e.g. a backbone)
    int reinitialised;       // head tensors started afresh (another K, or absent)
} seg_model_info;

// Builds the model of `path` (see docs/segmentation.md: empty, .pth, safetensors, an exported
// directory, a ResNet backbone) for the request; errors name the file.
ds_status ds_seg_model_open(ds_context *ctx, const char *path, const seg_model_request *req, ds_deeplab_model *m,
                            seg_model_info *info);
void ds_seg_model_info_free(seg_model_info *info);

// Whether `path` holds a DeepLabV3 of this family: an exported directory (config.json with
// model_type "deeplabv3"), or a .pth / safetensors file whose tensors are DeepLabV3's.
bool ds_seg_recognizes(const char *path);

// ---- export (seg_export.c) --------------------------------------------------------------------
// Writes dir/model.safetensors (torchvision's names, buffers included), dir/config.json and
// dir/class_names.txt.
ds_status ds_seg_export(const ds_deeplab_model *m, const ds_label_map *classes, const ds_seg_transform_options *tf,
                        const char *dir, ds_err *err);

// ---- the state behind the table (seg_family.c) ---------------------------------------------------
typedef struct seg_state {
    ds_task base;              // first: a ds_task * is a seg_state *
    const ds_config *cfg;      // not owned
    const ds_log *log;         // the context's
    seg_data data;
    bool data_loaded;
    ds_deeplab_model model;
    bool model_loaded;
    bool sync_bn;              // pass the trainer's collective to BatchNorm
    uint64_t seed;             // the augmentation key (the run's seed; a resumed run's checkpoint seed)
    ds_label_map model_names;  // eval: the model's class names
    // Evaluation forwards run one image at a time at its own size (torchvision's batch 1); the
    // sums of the last one wait here for eval_add.
    float *eval_image;         // (3, eval_h, eval_w) F32 host: one example cut out of a padded batch
    int32_t *eval_mask;        // (eval_h, eval_w) I32 host
    int64_t *pending;          // (K, K) I64 host: the confusion of the last evaluation forward
    bool pending_valid;
} seg_state;

// The classes the reports name.
const ds_label_map *ds_seg_state_names(const seg_state *s);

// ---- the packed batch (a loader slot / the evaluator's buffer) ---------------------------------
// A header, then at offset SEG_PACK_OFFSET a data/image slot (ds_seg_slot_layout of `cap`
// examples of max_h x max_w).
#define SEG_PACK_OFFSET ((size_t)64)
typedef struct seg_pack_header {
    int32_t mode;          // ds_seg_mode
    int32_t cap;           // examples the slot layout was made for
    int32_t max_h, max_w;  // its extent
} seg_pack_header;

// The layout and views of a packed batch.
ds_status ds_seg_unpack(const void *packed, ds_seg_slot_layout *l, ds_seg_batch *b, ds_err *err);

// ---- evaluation (seg_eval.c) -------------------------------------------------------------------
// Adds the argmax of logits (K, H, W) F32 host against mask (H, W) I32 (255 ignored) to the
// confusion matrix conf (K, K) [true][predicted].
void ds_seg_confusion_add(int64_t *conf, int64_t K, const float *logits, const int32_t *mask, int64_t H, int64_t W);

// The metrics of a confusion matrix (torchvision's references/segmentation ConfusionMatrix).
typedef struct seg_metrics {
    double pixel_accuracy;   // diag / total
    double mean_accuracy;    // mean over classes with pixels of diag / row
    double miou;             // mean IoU over classes present (union > 0)
    double *iou;             // (K) per class; NaN where the union is empty
    double *accuracy;        // (K) per class recall; NaN where the class has no pixel
    int present;             // classes with union > 0
} seg_metrics;
ds_status ds_seg_metrics_compute(const int64_t *conf, int64_t K, seg_metrics *m, ds_err *err);
void ds_seg_metrics_free(seg_metrics *m);

ds_status ds_seg_eval_open(ds_task *t, ds_task_eval **out, ds_err *err);
ds_status ds_seg_eval_add(ds_context *ctx, ds_task *t, ds_task_eval *e, const void *batch);
int ds_seg_eval_buffers(ds_task_eval *e, ds_metric_buffer *out, int cap);
ds_status ds_seg_eval_report(const ds_task *t, const ds_task_eval *e, const char *prefix, ds_eval_result *r,
                             ds_err *err);
void ds_seg_eval_close(ds_task_eval *e);
ds_status ds_seg_select_metric(const ds_task *t, const char *want, ds_metric_choice *out, ds_err *err);

// ---- commands (seg_predict.c, seg_bench.c) -------------------------------------------------------
ds_status ds_seg_predict(ds_context *ctx, const ds_config *cfg, const ds_predict_args *a);
ds_status ds_seg_bench(ds_context *ctx, const ds_config *cfg, const ds_bench_env *env, FILE *out);

#endif
