// A prefetching batch loader: worker threads fill a ring of batch buffers ("slots") ahead of the
// consumer, which takes the batches strictly in order and gives each slot back when it is done
// with it. Generic: what a batch is, and what memory a slot is, belong to the caller's callbacks.
//
// Determinism: batch b is always produced by produce(user, b, slot) and nothing else, so its
// content depends only on b (and the caller's data), never on which worker made it or when. A
// run with 0 workers (batches made synchronously in the consumer's thread by next()), 1 or N
// workers hands the consumer the very same bytes in the very same order.
//
// The ring: batch b of a range [first, end) lives in slot (b - first) % slots. A worker may fill
// that slot only once the consumer has released batch b - slots from it, so at most `slots`
// batches exist at once (being filled, ready, or held by the consumer). The consumer may hold
// several slots at once (e.g. while their device copies are in flight), but it must release
// batch b before it asks for batch b + slots; next() reports that mistake instead of hanging.
//
// Release is explicit because on a GPU the slot (pinned host memory) is read by an asynchronous
// host->device copy: the consumer releases it only after an event recorded behind that copy has
// passed (kernels/gpu_async.h). On the CPU it releases the slot as soon as the model has copied
// the batch in.
//
// Errors: a failing produce() makes its batch an error batch; the consumer gets the status and
// the producer's message from next() when it reaches that batch (every earlier batch is still
// delivered), and workers stop taking new batches. stop() always joins every worker, including
// ones blocked waiting for a slot.
//
// Threads: the consumer side (start, next, release, stop, stats) belongs to one thread; produce()
// runs concurrently in the workers and must only read shared data (the caller does not change it
// between start() and stop()).
#ifndef DS_BATCH_LOADER_H
#define DS_BATCH_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"

// Fills `slot` (slot_bytes, memory from the alloc callback) with batch `batch_index`. Returns
// DS_OK, or a failure with its message in *err (the worker's own record, passed on to the
// consumer). Runs in a worker thread (or in the consumer's when there are no workers).
typedef ds_status (*ds_batch_produce_fn)(void *user, int64_t batch_index, void *slot, ds_err *err);
// Slot memory: e.g. malloc on the CPU, pinned memory (ds_gpu_host_alloc) when batches go to a GPU.
typedef ds_status (*ds_batch_slot_alloc_fn)(void *user, size_t bytes, void **slot, ds_err *err);
typedef void (*ds_batch_slot_free_fn)(void *user, void *slot);

typedef struct ds_batch_loader_options {
    int num_workers;                 // 0: next() produces each batch itself, synchronously
    int slots;                       // ring size (>= 1); with workers, batches made ahead at most
    size_t slot_bytes;               // bytes of one slot
    ds_batch_produce_fn produce;
    void *produce_user;
    ds_batch_slot_alloc_fn alloc;    // NULL: malloc / free
    ds_batch_slot_free_fn free;
    void *alloc_user;
} ds_batch_loader_options;

// The batch next() hands out: valid until it is released (or stop()).
typedef struct ds_loaded_batch {
    int64_t index;   // the batch index b
    int slot;        // which ring slot holds it (for release)
    void *data;      // (slot_bytes) slot memory as the producer filled it
    double wait_s;   // seconds next() was blocked for it (with 0 workers: the time to produce it)
} ds_loaded_batch;

// Totals over the loader's life (every range started), for data_wait_frac = wait_s / step time.
typedef struct ds_batch_loader_stats {
    double wait_s;    // seconds the consumer spent blocked in next()
    int64_t batches;  // batches handed out
} ds_batch_loader_stats;

// Opaque: the ring, the worker threads and their lock (data/common/batch_loader.c).
typedef struct ds_batch_loader ds_batch_loader;

// Checks the options and allocates the slots; no thread runs until start().
ds_status ds_batch_loader_create(const ds_batch_loader_options *opt, ds_batch_loader **out, ds_err *err);
// Begins the range of batches [first, end): workers (if any) start filling slots. Any range
// still running is stopped first.
ds_status ds_batch_loader_start(ds_batch_loader *l, int64_t first, int64_t end, ds_err *err);
// The next batch of the range, in order: blocks until it is ready. DS_ERR_INVALID_ARG past the
// end or when the consumer still holds the slot that batch needs; a producer's failure comes
// back with the producer's message.
ds_status ds_batch_loader_next(ds_batch_loader *l, ds_loaded_batch *out, ds_err *err);
// Gives the batch's slot back to the workers. Releasing a batch not held is ignored.
void ds_batch_loader_release(ds_batch_loader *l, const ds_loaded_batch *b);
// Ends the range: wakes and joins every worker (a produce() in progress finishes first) and
// frees every slot for the next start(). Slots the consumer still holds are released, so on a
// GPU their copies must have completed. Safe to call when nothing runs.
void ds_batch_loader_stop(ds_batch_loader *l);
ds_batch_loader_stats ds_batch_loader_get_stats(const ds_batch_loader *l);
// stop() and frees the slots and the loader. NULL-safe.
void ds_batch_loader_destroy(ds_batch_loader *l);

#endif
