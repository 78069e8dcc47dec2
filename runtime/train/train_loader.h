// The training set's micro-batches through the prefetching loader (data/common/batch_loader.h),
// for any model family (runtime/tasks/task.h): for each epoch the trainer gives the epoch's order
// of example indices; batch b of it is this rank's share of global micro-batch b (positions
// [b*G, b*G + G) of the order, G = world x batch; rank r takes positions [r*batch, r*batch +
// batch) of it, clipped to the examples there), packed into a ring slot by a worker thread with
// the family's `pack`. What a batch holds is the family's business; the slot starts with a header
// this loader writes (the batch index, the examples of this rank and of the global micro-batch,
// and the loss weight the family reported).
//
// Length grouping (data.group_by_length, as Hugging Face's LengthGroupedSampler; only for
// families with per-example lengths): the epoch's order is cut into mega-batches of
// `group_batches` global micro-batches and each is sorted by length, longest first (ties keep
// their shuffled order), so a micro-batch holds examples of similar length and pads less, while
// which examples an epoch visits, and the randomness across mega-batches, stay those of the
// shuffle. It is a pure function of the order: every rank gets the same grouped order, and a
// resumed run the same batches.
#ifndef DS_TRAIN_LOADER_H
#define DS_TRAIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../data/common/batch_loader.h"
#include "../base/context.h"
#include "../base/log.h"
#include "../tasks/task.h"

// HF's megabatch_mult: mega-batches of 50 micro-batches.
#define DS_TRAIN_LOADER_GROUP_BATCHES 50

typedef struct ds_train_loader_options {
    size_t batch;            // examples per rank per micro-batch
    int rank, world;         // this rank's shard of each global micro-batch of world x batch
    int num_workers;         // 0: batches made in the consumer's thread
    int slots;               // ring slots (data.prefetch_batches, at least the micro-batches of a step)
    bool drop_last;          // the epoch ends before an incomplete last global micro-batch
    bool group_by_length;    // needs the family's lengths (refused otherwise)
    int64_t group_batches;   // micro-batches per mega-batch for grouping (DS_TRAIN_LOADER_GROUP_BATCHES)
    ds_batch_slot_alloc_fn alloc;  // NULL: malloc (see ds_train_loader_pinned_alloc for a GPU)
    ds_batch_slot_free_fn free;
    void *alloc_user;
    const ds_log *log;       // where the padding report of the first epoch goes; NULL: none
    // A context with an open CUDA device whose compute stream reads the batches (e.g. uploads
    // from pinned slots): ds_train_loader_release_after_device then frees a slot only once the
    // work enqueued before it has completed. NULL (the CPU): releases are immediate.
    ds_context *device;
} ds_train_loader_options;

typedef struct ds_train_loader {
    const ds_task *task;               // the family's state (read by the workers; not owned)
    ds_train_loader_options opt;
    size_t examples;                   // of the training split
    size_t global_batch;               // world x batch
    int64_t batches;                   // global micro-batches per epoch
    int64_t epoch;                     // the epoch running (its augmentation keys)
    size_t *order;                     // (examples) host: the epoch's order, grouped when asked
    size_t payload_offset, slot_bytes; // the family's batch starts at payload_offset of a slot
    ds_batch_loader *ring;
    bool reported;                     // the padding report was logged
    int64_t taken;                     // batches handed out this epoch (the next one needs slot taken % slots)
    // With opt.device: per slot, an event on the compute stream and the batch waiting for it.
    struct ds_gpu_event **fences;      // [slots]
    ds_loaded_batch *fenced;           // [slots]
    bool *fence_on;                    // [slots]
} ds_train_loader;

// One batch in the consumer's hands: a view of the slot, valid until release.
typedef struct ds_train_batch {
    const void *data;      // the family's packed batch (NULL when this rank's share is empty)
    ds_batch_info info;    // n = this rank's examples (0 for a rank past the end of a short last batch)
    size_t global_n;       // examples of the global micro-batch (all ranks)
    double wait_s;         // seconds the consumer waited for it
    ds_loaded_batch slot;  // for ds_train_loader_release
} ds_train_batch;

// Padded and real lengths (sum over every rank's micro-batch of n x the longest, and of the
// lengths) of an epoch in `order`, micro-batches of `global_batch` split in shares of `batch`.
typedef struct ds_train_padding {
    int64_t padded, real;
} ds_train_padding;

ds_status ds_train_loader_init(ds_train_loader *l, const ds_task *task, const ds_train_loader_options *opt,
                               ds_err *err);
// Starts epoch `epoch` whose order is `order` (the training split's indices, copied and grouped
// when asked) at global micro-batch `first` (a resumed run's epoch_position): workers begin
// filling slots.
ds_status ds_train_loader_start_epoch(ds_train_loader *l, int64_t epoch, const size_t *order, int64_t first,
                                      ds_err *err);
// The next micro-batch of the epoch, in order (blocks until it is ready).
ds_status ds_train_loader_next(ds_train_loader *l, ds_train_batch *out, ds_err *err);
// Gives the batch's slot back at once (the CPU: the model has copied the batch in).
void ds_train_loader_release(ds_train_loader *l, const ds_train_batch *b);
// Gives the batch's slot back once everything enqueued so far on opt.device's compute stream has
// completed (an event recorded now; next() and stop_epoch() wait for it only when they need the
// slot). Without opt.device it is ds_train_loader_release.
ds_status ds_train_loader_release_after_device(ds_train_loader *l, const ds_train_batch *b, ds_err *err);
// Ends the epoch (or abandons it: waits for the fenced slots' device work, joins the workers).
// Safe to call twice.
void ds_train_loader_stop_epoch(ds_train_loader *l);
ds_batch_loader_stats ds_train_loader_stats(const ds_train_loader *l);
void ds_train_loader_free(ds_train_loader *l);  // safe on a zeroed loader

// In place: sorts each mega-batch of group_batches x global_batch positions of order[0..n) by
// lengths[], longest first, ties in their given order.
ds_status ds_train_group_by_length(const int32_t *lengths, size_t *order, size_t n, size_t global_batch,
                                   int64_t group_batches, ds_err *err);
ds_train_padding ds_train_padding_of(const int32_t *lengths, const size_t *order, size_t n, size_t global_batch,
                                     size_t batch);

// Slot allocators for ds_train_loader_options: pinned host memory of the context `user` (a
// ds_context * with an open device; kernels/gpu.h), so that copies to the device can be
// asynchronous.
ds_status ds_train_loader_pinned_alloc(void *user, size_t bytes, void **slot, ds_err *err);
void ds_train_loader_pinned_free(void *user, void *slot);

#endif
