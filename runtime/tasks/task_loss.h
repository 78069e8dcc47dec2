// Reading a ds_task_loss (task.h): the combination of its terms, the one formula both the
// families' host path and the trainer's batched download (runtime/train/step_losses) use, so
// the two give the same bits.
#ifndef DS_TASK_LOSS_H
#define DS_TASK_LOSS_H

#include "task.h"

// The loss from its terms' values (terms[i]: term i on the host): sum of coef[i] x terms[i] in
// double, in order, rounded to F32 when round_f32; `value` when count is 0.
double ds_task_loss_combine(const ds_task_loss *l, const float *terms);

// Downloads the terms (one wait on a device) and combines them into *out.
ds_status ds_task_loss_to_host(ds_context *ctx, const ds_task_loss *l, double *out);

#endif
