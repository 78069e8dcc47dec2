// The losses of one optimizer step's micro-batches, gathered where the model computed them and
// read with one download after the step's backwards (issue 14: a CUDA step no longer waits for
// the device once per micro-batch just to learn a loss it only logs).
//
// A family's forward_train gives a ds_task_loss: device terms (copied, on the device's stream,
// into this step's slots: the arena that holds them is reused by the next forward) or a host
// value. ds_step_losses_resolve brings every slot down at once and combines each micro-batch's
// terms in double, in the family's order, so the values are those the family would have computed
// on the host.
#ifndef DS_STEP_LOSSES_H
#define DS_STEP_LOSSES_H

#include <stdint.h>

#include "../base/context.h"
#include "../tasks/task.h"

typedef struct ds_step_losses {
    int64_t cap;               // micro-batches per step at most
    int64_t n;                 // added since the last reset
    ds_device device;          // where `slots` lives (set by the first device term)
    float *slots;              // (cap, DS_TASK_LOSS_TERMS) F32 on `device`; NULL until a term comes
    float *staged;             // (cap, DS_TASK_LOSS_TERMS) F32 host: the slots once downloaded
    ds_task_loss *loss;        // (cap) host: what each micro-batch gave (terms' data unused after staging)
    double *value;             // (cap) host: the losses, after resolve
} ds_step_losses;

// Host arrays for `cap` micro-batches; the device slots come with the first device term.
ds_status ds_step_losses_init(ds_context *ctx, ds_step_losses *s, int64_t cap);
void ds_step_losses_free(ds_context *ctx, ds_step_losses *s);  // NULL-safe, idempotent

// Forgets the last step's losses.
void ds_step_losses_reset(ds_step_losses *s);

// Records micro-batch n's loss and returns n in *index; device terms are copied into its slots
// (asynchronously on CUDA; a plain copy on the CPU).
ds_status ds_step_losses_add(ds_context *ctx, ds_step_losses *s, const ds_task_loss *l, int64_t *index);

// One download (and wait) for every slot filled since the reset, when any was; then value[i] for
// every micro-batch added.
ds_status ds_step_losses_resolve(ds_context *ctx, ds_step_losses *s);

#endif
