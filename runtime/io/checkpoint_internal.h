// The train_state JSON of a checkpoint (runtime/io/checkpoint.h documents its fields). Internal to
// runtime/checkpoint*.c.
#ifndef DS_CHECKPOINT_INTERNAL_H
#define DS_CHECKPOINT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/status.h"
#include "checkpoint.h"

// The decoded "train_state" metadata.
typedef struct ds_ckpt_state {
    ds_train_state train;
    int64_t optimizer_step;
    bool has_optimizer;
} ds_ckpt_state;

// Encodes s as compact JSON (malloc'd into *out). DS_ERR_INVALID_ARG names a counter that is
// negative or beyond 2^53; `path` is for messages.
ds_status ds_ckpt_state_encode(const ds_ckpt_state *s, const char *path, char **out, ds_err *err);

// Decodes the JSON text; DS_ERR_FORMAT names the file and the missing or malformed key.
ds_status ds_ckpt_state_decode(const char *json, const char *path, ds_ckpt_state *s, ds_err *err);

#endif
