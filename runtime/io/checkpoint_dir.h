// A run's folder of checkpoints: "checkpoint-<step>.safetensors" for the newest keep_last
// optimizer steps, and "checkpoint-best.safetensors", the one with the best evaluation metric
// (a hard link to the step file when the filesystem allows, else a second atomic write).
#ifndef DS_CHECKPOINT_DIR_H
#define DS_CHECKPOINT_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"

#define DS_CHECKPOINT_BEST_NAME "checkpoint-best.safetensors"

// Options; defaults from ds_checkpoint_options_default().
typedef struct ds_checkpoint_options {
    const char *dir;  // the folder (created, with its parents, when missing); required
    int keep_last;    // newest step checkpoints kept; default 2; <= 0 keeps every one (HF's
                      // save_total_limit=None)
    bool keep_best;   // maintain checkpoint-best.safetensors; default true
} ds_checkpoint_options;

ds_checkpoint_options ds_checkpoint_options_default(void);

// "<dir>/checkpoint-<step>.safetensors" into buf; returns buf.
const char *ds_checkpoint_step_path(const char *dir, int64_t step, char *buf, size_t cap);

// Saves checkpoint-<step> with ds_checkpoint_save (atomically), then, when is_best and
// keep_best, makes checkpoint-best the same file, then deletes the step checkpoints beyond the
// newest keep_last (never the one just written) and syncs the folder. A failure leaves every
// earlier checkpoint in place. path_out (may be NULL) receives the new file's path.
ds_status ds_checkpoint_save_step(const ds_checkpoint_options *o, int64_t step, bool is_best,
                                  const ds_param_block *pb, const ds_optim *optim, const ds_train_state *state,
                                  const char *user_json, char *path_out, size_t cap, ds_err *err);

// The step checkpoints in `dir`, newest first: steps[0..*count) (at most cap of them; *count is
// the number found, which may exceed cap). A missing folder has none.
ds_status ds_checkpoint_list(const char *dir, int64_t *steps, int cap, int *count, ds_err *err);

// The newest step checkpoint's path in buf and *found = true, or *found = false when there is none.
ds_status ds_checkpoint_latest(const char *dir, char *buf, size_t cap, bool *found, ds_err *err);

#endif
