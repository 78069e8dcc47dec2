// The task seam: one table of functions per model family (text classification with BERT,
// segmentation with DeepLabV3, speech recognition with Wav2Vec2 + CTC), chosen by the config key
// task.type (runtime/tasks/registry.h). The drivers (runtime/train/: the trainer, the evaluator,
// the eval/predict/bench commands, the export) call only these functions and never include a
// family's header; a family lives in runtime/tasks/<family>/ on top of its model (models/<family>/)
// and its data (data/<kind>/).
//
// What a family provides, in the order the trainer uses it:
//   open         config keys, datasets (train/dev/test), the pretrained model of model.path, the
//                model built for them (with ctx->seed for every split and initialisation)
//   the model    its parameter block (kinds: trainable, frozen, buffers; lr groups), the move to
//                the device, the arena it needs for a batch, forward with the loss, backward with
//                the grad-ready hook
//   the data     examples per split, the bytes of one packed micro-batch, and `pack`: a worker
//                thread packs examples into a loader slot (training randomness, e.g. augmentation,
//                keyed by (ctx->seed, epoch, example) so that workers and resume change nothing),
//                reporting the loss's weight of the batch
//   evaluation   sums that add up across batches and ranks (flat buffers to all-reduce), and a
//                report from the totals: metric values by name and a printable text
//   files        the fields of the checkpoint's metadata, and the export of a trained model in
//                its ecosystem's own format
//   commands     whether a model path is the family's (predict picks the family from the model),
//                predict, and bench
//
// Loss weights: a micro-batch's loss is a mean over `weight` items (examples, valid pixels, target
// tokens) or, with `summed`, a sum. The trainer gives backward dloss = weight / W, W being the sum
// of the weights of every micro-batch of the optimizer step on every rank (dloss = 1 for a summed
// loss), so data-parallel and accumulated steps equal one big batch for every family.
#ifndef DS_TASK_H
#define DS_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "../base/arena.h"
#include "../base/context.h"
#include "../base/model_hooks.h"
#include "../base/param_block.h"
#include "../config/config.h"
#include "../metrics/eval_result.h"
#include "../metrics/metrics.h"

typedef enum ds_data_split { DS_DATA_TRAIN = 0, DS_DATA_DEV, DS_DATA_TEST, DS_DATA_SPLITS } ds_data_split;

typedef struct ds_task_family ds_task_family;

// The part of every family's state the drivers see: a family's own struct begins with it.
typedef struct ds_task {
    const ds_task_family *family;
} ds_task;

// What packing a micro-batch tells the trainer.
typedef struct ds_batch_info {
    size_t n;       // examples packed
    double weight;  // items the loss averages over (examples, valid pixels, target tokens); 1 when summed
    bool summed;    // the loss is a sum over the batch: micro-batches and ranks add without normalising
} ds_batch_info;

// The dev metric that selects the best checkpoint: its name without the "eval_" prefix, and its
// direction.
typedef struct ds_metric_choice {
    char name[40];  // "accuracy", "loss", "miou", "wer", ...
    bool greater_is_better;
} ds_metric_choice;

// A training forward's loss, where the model computed it (forward_train): `count` F32 scalars on
// the model's device with loss = sum over i of coef[i] x term[i] (in double, in this order), or,
// with count 0, the host value. The trainer stages the terms and reads a whole optimizer step's
// losses with one download after its backwards, so a CUDA step does not wait for the device once
// per micro-batch (issue 14).
#define DS_TASK_LOSS_TERMS 2
typedef struct ds_task_loss {
    int count;                              // 0 .. DS_TASK_LOSS_TERMS device terms; 0: `value`
    ds_tensor term[DS_TASK_LOSS_TERMS];     // one-element F32 tensors on the model's device (arena
                                            // views: valid until the next forward)
    double coef[DS_TASK_LOSS_TERMS];
    bool round_f32;                         // the sum is rounded to F32 (the model's loss is a float)
    double value;                           // count 0: the loss (NaN: the batch has no labels)
} ds_task_loss;

typedef struct ds_task_eval ds_task_eval;  // a family's evaluation sums (opaque)

// `downstream predict`'s options; a family refuses those that do not apply to it.
typedef struct ds_predict_args {
    const char *model;        // the trained model (a directory or file)
    const char *input;        // a file, a directory, a list, or "-" (stdin)
    const char *output;       // a file (text: JSON lines) or a directory (masks); NULL: the family's default
    const char *save_logits;  // a directory for the raw outputs, or NULL
    long long batch_size;     // > 0
    long long max_length;     // text: tokens per example; 0: the config's
    long long resize;         // segmentation: the shorter side; 0: the image's own size
    bool overlay;             // segmentation: also write the mask over the photo
} ds_predict_args;

// What `downstream bench` knows before the family runs.
typedef struct ds_bench_env {
    double process_start_s;  // ds_now_seconds() at process start (for first_step_s)
    bool cuda;
    int device_index;
    ds_dtype act;            // activation dtype on the device
    double gemm_gflops;      // CPU: the measured large-GEMM rate (the basis of mfu); 0: not measured
    const char *blas_core;   // CPU: OpenBLAS's kernel family in use
} ds_bench_env;

struct ds_task_family {
    const char *name;     // the task.type value: "text_classification", "segmentation", "speech_ctc"
    const char *summary;  // one line for help
    // The family's own config keys (the drivers' keys are in runtime/config/config_keys.c).
    const ds_config_key *(*config_keys)(int *count);
    // Training forwards compute statistics over the global micro-batch through the collective
    // (SyncBatchNorm): every rank must run every forward with examples, so training drops the last
    // incomplete global micro-batch of each epoch (data.drop_last, as torchvision's recipe does),
    // whatever the number of ranks.
    bool batch_statistics;

    // ---- open / close ------------------------------------------------------------------------
    // Training: the data of data.*, the pretrained weights of model.path, the model for them.
    ds_status (*open_train)(ds_context *ctx, const ds_config *cfg, ds_task **out);
    // Evaluation of a fine-tuned model (model.path) on data.dev / data.test (or the dev and test
    // parts of data.train, split exactly as training split it).
    ds_status (*open_eval)(ds_context *ctx, const ds_config *cfg, ds_task **out);
    void (*close)(ds_task *t);

    // ---- the model -----------------------------------------------------------------------------
    ds_param_block *(*params)(ds_task *t);
    // Moves the model to ctx's device with activations of `act` (F32, or BF16 on CUDA).
    ds_status (*to_device)(ds_context *ctx, ds_task *t, ds_dtype act);
    // Arena bytes for the largest micro-batch of `batch` examples of any split (forward, and
    // backward when training).
    ds_status (*arena_bytes)(ds_context *ctx, ds_task *t, size_t batch, bool training, size_t *bytes);
    // Forward of a packed batch (training: dropout and the like on, masks from rng_step); *loss
    // is the batch's loss (NaN when the batch has no labels). The batch's memory goes back to the
    // loader when forward returns: what backward needs must be copied (into the arena). coll: the collective of a
    // data-parallel run (NULL or world 1: none).
    ds_status (*forward)(ds_context *ctx, ds_task *t, const void *batch, bool training, uint64_t rng_step,
                         const ds_collective *coll, ds_arena *arena, double *loss);
    // Backward of the last training forward: every trainable gradient of dloss x loss is ADDED
    // into the block's gradients. hook (may be NULL) is told which gradients are final.
    ds_status (*backward)(ds_context *ctx, ds_task *t, double dloss, ds_arena *arena, const ds_grad_hook *hook);

    // ---- the data ------------------------------------------------------------------------------
    size_t (*count)(const ds_task *t, ds_data_split s);
    // Bytes of one packed micro-batch of up to `batch` examples (what `pack` writes).
    size_t (*batch_bytes)(const ds_task *t, size_t batch);
    // Packs examples idx[0..n) of split s into `batch` (batch_bytes bytes, 64-byte aligned).
    // Training randomness comes from (ctx seed, epoch, example index) only. Called from loader
    // threads: it must only read `t`.
    ds_status (*pack)(const ds_task *t, ds_data_split s, const size_t *idx, size_t n, int64_t epoch, void *batch,
                      ds_batch_info *info, ds_err *err);
    // Per-example lengths of split s for data.group_by_length, in `length_unit`s; NULL: the
    // family's examples have no length to group by.
    const int32_t *(*lengths)(const ds_task *t, ds_data_split s);
    const char *length_unit;

    // ---- evaluation ----------------------------------------------------------------------------
    ds_status (*eval_open)(ds_task *t, ds_task_eval **out, ds_err *err);
    // Adds the batch just run forward (eval mode) to the sums.
    ds_status (*eval_add)(ds_context *ctx, ds_task *t, ds_task_eval *e, const void *batch);
    // The sums as flat host buffers to all-reduce (sum); returns how many (<= cap).
    int (*eval_buffers)(ds_task_eval *e, ds_metric_buffer *out, int cap);
    // Appends the family's metric values ("<prefix>accuracy", ...) to r and sets r->report.
    ds_status (*eval_report)(const ds_task *t, const ds_task_eval *e, const char *prefix, ds_eval_result *r,
                             ds_err *err);
    void (*eval_close)(ds_task_eval *e);
    // Validates train.metric (`want`; "" = the family's default) and names the dev value to select by.
    ds_status (*select_metric)(const ds_task *t, const char *want, ds_metric_choice *out, ds_err *err);

    // ---- files ---------------------------------------------------------------------------------
    // A new JSON object with what the family stores in every checkpoint (classes, vocabulary, ...).
    ds_status (*checkpoint_meta)(const ds_task *t, cJSON **out, ds_err *err);
    // Writes the trained model (parameters and buffers on the host) to `dir` in the format its
    // ecosystem loads (an HF directory, torchvision names, ...).
    ds_status (*export_model)(ds_context *ctx, ds_task *t, const char *dir);

    // ---- commands ------------------------------------------------------------------------------
    // Whether `model_path` holds a model of this family (predict picks the family by it).
    bool (*recognizes)(const char *model_path);
    ds_status (*predict)(ds_context *ctx, const ds_config *cfg, const ds_predict_args *a);
    // Times a training step on synthetic data and writes one JSON object (a line) to `out`.
    ds_status (*bench)(ds_context *ctx, const ds_config *cfg, const ds_bench_env *env, FILE *out);

    // ---- optional (NULL: none) -----------------------------------------------------------------
    // Sample predictions of split s for the run report, one JSON object a line into `out`
    // (<output_dir>/samples.jsonl, runtime/train/run_files.h gives the format: {"kind": "text" |
    // "image" | "audio", ...}), a handful per class, mistakes first. Rank 0 alone calls it after the
    // final evaluation, with the model on its device and an arena for `batch` examples; forwards
    // in eval mode only (no collective).
    ds_status (*write_samples)(ds_context *ctx, ds_task *t, ds_data_split s, size_t batch, ds_arena *arena,
                               FILE *out);
    // A training forward (as forward with training = true) that leaves the loss where the model
    // computed it instead of bringing it to the host (*loss above). The trainer uses it when given.
    ds_status (*forward_train)(ds_context *ctx, ds_task *t, const void *batch, uint64_t rng_step,
                               const ds_collective *coll, ds_arena *arena, ds_task_loss *loss);
};

#endif
