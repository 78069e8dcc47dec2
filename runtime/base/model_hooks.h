// What a model may ask of the trainer while it runs, without ever seeing the communicator
// (runtime/dist/): two small callback tables the trainer fills and passes to forward/backward.
#ifndef DS_MODEL_HOOKS_H
#define DS_MODEL_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "status.h"

// Told during backward which gradients are final: ready(user, from, err) says that the
// parameter block's gradients [from, total) will not change again in this backward. A model lays
// its block out in forward order and runs backward the other way, so it calls ready after each
// layer (or group of layers) with that layer's first offset. Data-parallel training starts the
// all-reduce of those gradients there, while backward continues (runtime/dist/grad_sync.h). A
// failure it returns stops the backward. Given only for the backward whose gradients complete an
// optimizer step; NULL otherwise.
typedef struct ds_grad_hook {
    ds_status (*ready)(void *user, size_t from, ds_err *err);
    void *user;
} ds_grad_hook;

// A collective over every rank of a data-parallel run, for layers whose math spans the global
// batch (SyncBatchNorm: the per-channel sums of forward and of backward) and for metric sums.
// allreduce_sum sums `count` elements of `dtype` (F32, F64 or I64) in place over the ranks, buf in
// host memory; allreduce_sum_device does the same for buf in the memory of the model's device
// (NULL when the model is on the CPU: host memory is its memory), ordered after the work already
// enqueued on the device and complete when it returns. Every rank must make the same calls in the
// same order. A NULL table or a NULL allreduce_sum is a world of one: the model skips the call.
typedef struct ds_collective {
    ds_status (*allreduce_sum)(void *user, void *buf, int64_t count, ds_dtype dtype, ds_err *err);
    ds_status (*allreduce_sum_device)(void *user, void *buf, int64_t count, ds_dtype dtype, ds_err *err);
    void *user;
    int world;  // ranks taking part (1 when there is no communicator)
    int rank;   // this process's rank among them
} ds_collective;

#endif
