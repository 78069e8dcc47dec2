// The losses of one optimizer step's micro-batches, gathered where the model computed them and
// read with one download after the step's backwards (issue 14: a CUDA step no longer waits for
// the device once per micro-batch just to learn a loss it only logs).
//
// A family's forward_train gives a ds_task_loss: device terms (copied, in stream order, into this
// step's slots: the arena that holds them is reused by the next forward) or a host value.
// ds_step_losses_resolve brings the slots down at once and combines each micro-batch's terms with
// ds_task_loss_combine, so the values are those the family would have computed on the host.
#ifndef DS_STEP_LOSSES_H
#define DS_STEP_LOSSES_H

#include <stdint.h>

#include "../base/arena.h"
#include "../base/context.h"
#include "../tasks/task.h"

typedef struct ds_step_losses {
    int64_t cap;         // micro-batches per step at most
    int64_t n;           // added since the last reset
    ds_arena memory;     // on the context's device (the model's): holds `slots`
    ds_tensor slots;     // (cap, DS_TASK_LOSS_TERMS) F32 on the device
    float *staged;       // (cap, DS_TASK_LOSS_TERMS) F32 host: the slots once downloaded
    ds_task_loss *loss;  // (cap) host: what each micro-batch gave (terms' data unused after staging)
    double *value;       // (cap) host: the losses, after resolve
} ds_step_losses;

// Slots for `cap` micro-batches on ctx's device, and their host arrays.
ds_status ds_step_losses_init(ds_context *ctx, ds_step_losses *s, int64_t cap);
void ds_step_losses_free(ds_step_losses *s);  // idempotent

// Forgets the last step's losses.
void ds_step_losses_reset(ds_step_losses *s);

// Records the next micro-batch's loss (value[n] after resolve); device terms are copied into its
// slots (asynchronously on CUDA; a plain copy on the CPU).
ds_status ds_step_losses_add(ds_context *ctx, ds_step_losses *s, const ds_task_loss *l);

// One download (and wait) of the slots filled since the reset, when any was; then value[i] for
// every micro-batch added.
ds_status ds_step_losses_resolve(ds_context *ctx, ds_step_losses *s);

#endif
