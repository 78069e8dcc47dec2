// Evaluation of a model on one split, for any model family (runtime/tasks/task.h): forward passes
// in eval mode over batches packed by the family, the mean loss over the loss's weight, and the
// family's metric sums; in a data-parallel run every rank takes a contiguous share of the split and
// the sums are all-reduced, so that every rank gets the report of the whole set.
#ifndef DS_EVALUATOR_H
#define DS_EVALUATOR_H

#include <stddef.h>

#include "../base/arena.h"
#include "../base/context.h"
#include "../base/model_hooks.h"
#include "../metrics/eval_result.h"
#include "../tasks/task.h"

// Evaluates split s of task t in batches of `batch` examples on `arena` (sized by the family's
// arena_bytes for that batch). coll: the ranks' collective (host buffers), or NULL for one
// process. prefix names the values ("eval_", "test_"). The model must be on its device.
ds_status ds_evaluate_split(ds_context *ctx, ds_task *t, ds_data_split s, size_t batch, ds_arena *arena,
                            const ds_collective *coll, const char *prefix, ds_eval_result *r);

#endif
