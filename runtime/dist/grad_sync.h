// Bucketed, overlapped gradient all-reduce over a parameter block's gradients.
//
// The gradient block is cut into buckets of about bucket_bytes at tensor boundaries, from the END
// of the block: backward produces the head's gradients first and the embeddings' last, so the
// buckets fill in that order. During the backward of an optimizer step's last micro-batch the
// model tells which gradients are final (ds_grad_hook); every bucket that lies wholly in the
// final part is handed to the communicator at once (ds_comm_iallreduce_sum) and reduced on its
// thread while backward goes on. ds_grad_sync_finish hands over what is left and waits for all.
//
// The gradients are SUMMED over ranks: each rank has already scaled its loss by its share of the
// global batch (local examples / global examples), so the sum is the gradient of the mean over
// the global batch, whatever the number of examples each rank had.
//
// Exposed time: the seconds the training thread spent inside this module's calls (handing
// buckets over and, above all, waiting in finish) — the communication that did not hide behind
// backward. In-flight time: from the first bucket's hand-over to the last one's completion.
#ifndef DS_GRAD_SYNC_H
#define DS_GRAD_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "../base/param_block.h"
#include "comm.h"

typedef struct ds_grad_bucket {
    size_t begin, end;  // element range [begin, end) of the gradient block
} ds_grad_bucket;

typedef struct ds_grad_sync_stats {
    int64_t steps;          // synchronised steps
    double exposed_s;       // total seconds the training thread waited on communication
    double in_flight_s;     // total seconds from the first hand-over to the end of the wait
    double bytes;           // total bytes all-reduced (per rank)
} ds_grad_sync_stats;

typedef struct ds_grad_sync {
    ds_comm *comm;
    float *grads;              // (total): the block's gradients, host (mpi, tcp) or device (nccl)
    size_t total;
    ds_grad_bucket *buckets;   // [count], in the order they become final (end of the block first)
    int count;
    int next;                  // the next bucket to hand over in this step
    ds_comm_ticket *tickets;   // [count]
    bool active;               // between begin and finish
    double step_t0;            // first hand-over of this step
    ds_grad_sync_stats stats;
} ds_grad_sync;

// Plans the buckets of pb's trainable range (bucket_bytes > 0; a tensor larger than a bucket is a
// bucket of its own). Frozen tensors and buffers are never reduced.
ds_status ds_grad_sync_init(ds_grad_sync *g, ds_comm *comm, const ds_param_block *pb, double bucket_bytes,
                            ds_err *err);
void ds_grad_sync_free(ds_grad_sync *g);

// The backward that completes this step's gradients is about to run.
void ds_grad_sync_begin(ds_grad_sync *g);

// grads[from, total) are final: hands over every bucket that lies wholly inside. (The signature of
// ds_grad_hook.ready, with user = the ds_grad_sync.)
ds_status ds_grad_sync_ready(void *grad_sync, size_t from, ds_err *err);

// Hands over the remaining buckets and waits for every one: the block then holds the sum over
// ranks, the same on every rank.
ds_status ds_grad_sync_finish(ds_grad_sync *g, ds_err *err);

#endif
