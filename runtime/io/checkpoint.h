// Training checkpoints: everything needed to continue a run bit-exactly, in ONE safetensors file.
//
// File layout (format "downstream.checkpoint.v1"):
//   tensors, shaped as the parameter specs:
//     "param/<name>"         every parameter, trainable or frozen (F32)
//     "adam_m/<name>"        AdamW's first moment   } of the trainable tensors; absent in a
//     "adam_v/<name>"        AdamW's second moment  } weights-only checkpoint; SGD writes
//     "sgd_momentum/<name>"  SGD's momentum buffer  } sgd_momentum instead (none without momentum)
//     "buffer/<name>"        every buffer (BatchNorm running statistics, ...), in its own dtype
//   "__metadata__" (string -> string):
//     "format"       "downstream.checkpoint.v1"
//     "train_state"  JSON object: {"optimizer_step": int, "scheduler_step": int, "epoch": int,
//                    "epoch_position": int, "seed": "<u64 decimal>", "shuffle_seed": "<u64 decimal>",
//                    "best": null | {"name": str, "value": number, "step": int},
//                    "has_optimizer": bool}
//                    (64-bit seeds are strings because JSON numbers are doubles; the other
//                    integers stay below 2^53 and are exact; "value" is printed so that it parses
//                    back to the same double)
//     "checksums"    JSON object: tensor name -> 16 hex digits of ds_checksum64 of its bytes
//     "user"         free-form JSON text from the caller (label mapping, model config, the
//                    resolved run config, ...), stored verbatim; absent when none was given
// The writer is atomic (temporary file, fsync, rename, fsync of the folder): a crash or a failed
// write leaves the previous file at that path as it was. Python's safetensors loads the file.
#ifndef DS_CHECKPOINT_H
#define DS_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/param_block.h"
#include "../base/status.h"
#include "../train/optim.h"

#define DS_CHECKPOINT_FORMAT "downstream.checkpoint.v1"

// What the trainer needs to continue where it stopped, besides the tensors and the optimizer
// step (ds_optim.step). The trainer fills it before saving and reads it after loading.
typedef struct ds_train_state {
    int64_t scheduler_step;   // steps the LR schedule has advanced (LambdaLR's last_epoch)
    int64_t epoch;            // epoch in progress, 0-based
    int64_t epoch_position;   // how far into that epoch's (shuffled) order the run got, in the
                              // data loader's unit (the trainer's choice: micro-batches consumed)
    uint64_t seed;            // the run's seed (ds_context.seed): key of the Philox streams
    uint64_t shuffle_seed;    // seed of the data order (each epoch's permutation derives from it)
    bool has_best;            // whether an evaluation has set best_*
    double best_metric;       // best value of the selection metric so far
    int64_t best_step;        // optimizer step of that evaluation
    char best_metric_name[64];  // e.g. "eval_accuracy"
} ds_train_state;

// Records `value` of `metric` at `step` as the best when it is the first, or better than the best
// so far (greater when greater_is_better, else smaller; NaN never is). Returns whether it was.
bool ds_train_state_update_best(ds_train_state *s, const char *metric, double value, bool greater_is_better,
                                int64_t step);

// Saves `pb`'s parameters and buffers, `optim`'s state and step (optim NULL: a weights-only checkpoint),
// `state` (NULL: all zero) and `user_json` (NULL: none; otherwise it must parse as JSON) to
// `path`, atomically. Fails with DS_ERR_INVALID_ARG (bad user_json, a counter beyond 2^53, an
// optimizer of another block) or DS_ERR_IO, naming the file.
ds_status ds_checkpoint_save(const char *path, const ds_param_block *pb, const ds_optim *optim,
                             const ds_train_state *state, const char *user_json, ds_err *err);

// Restores a checkpoint saved by ds_checkpoint_save into a block laid out for the same model:
// every tensor of `pb` (parameters and buffers) must be in the file with its shape and dtype and
// the file must hold no parameter or buffer `pb` lacks (the error names the missing, unexpected or
// mis-shaped tensors). With optim non-NULL the file must hold that optimizer's state too (the
// state of another optimizer is an error that says so; optim->step is restored); state (may be NULL) is
// filled; *user_json (when user_json is non-NULL) receives a malloc'd copy of the stored user
// JSON or NULL when there was none. Every tensor's checksum is verified first.
// Nothing is modified unless everything checks out. Errors: DS_ERR_IO (unreadable),
// DS_ERR_FORMAT (truncated, corrupted, not a checkpoint, bad checksum), DS_ERR_INVALID_ARG (the
// model does not match); the message names the file and the tensor or key.
ds_status ds_checkpoint_load(const char *path, ds_param_block *pb, ds_optim *optim, ds_train_state *state,
                             char **user_json, ds_err *err);

// Reads only the train state of a checkpoint (its seeds and position), without a model: what a
// resumed run needs before it builds its data and model (the split and every random stream come
// from the checkpoint's seed). The file's format and metadata are checked, its tensors are not.
ds_status ds_checkpoint_peek_state(const char *path, ds_train_state *state, ds_err *err);

#endif
