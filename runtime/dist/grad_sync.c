#include "grad_sync.h"

#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "../base/log.h"

ds_status ds_grad_sync_init(ds_grad_sync *g, ds_comm *comm, const ds_param_block *pb, double bucket_bytes,
                            ds_err *err) {
    memset(g, 0, sizeof *g);
    DS_REQUIRE(err, bucket_bytes > 0, DS_ERR_CONFIG, "dist.bucket_mb must be > 0");
    const bool device = pb->device.kind != DS_DEVICE_CPU;
    const ds_comm_backend b = ds_comm_backend_of(comm);
    // NCCL sums device buffers; MPI and TCP sum host buffers. Gradients on a GPU with a host
    // communicator would need a staging copy each step (a full device->host->device round trip of
    // the block): refused, since NCCL is the right tool there and dist.backend auto picks it.
    DS_REQUIRE(err, !device || b == DS_COMM_NCCL, DS_ERR_CONFIG,
               "dist.backend %s all-reduces host memory, but the gradients live on cuda:%d: use dist.backend=nccl "
               "(auto picks it on GPUs)",
               ds_comm_backend_name(b), pb->device.index);
    DS_REQUIRE(err, device || b != DS_COMM_NCCL, DS_ERR_CONFIG,
               "dist.backend nccl all-reduces device memory, but this run trains on the CPU: use dist.backend=mpi or "
               "tcp (auto picks one), or run.device=cuda");
    g->comm = comm;
    g->grads = device ? pb->grads_dev : pb->grads;
    g->total = pb->total;  // only the trainable range [train_begin, train_end) is ever reduced
    g->buckets = malloc((size_t)(pb->count > 0 ? pb->count : 1) * sizeof *g->buckets);
    g->tickets = malloc((size_t)(pb->count > 0 ? pb->count : 1) * sizeof *g->tickets);
    if (!g->buckets || !g->tickets) {
        ds_grad_sync_free(g);
        return ds_err_set(err, DS_ERR_OOM, "gradient buckets: out of memory");
    }
    // From the last trainable tensor backwards: close a bucket at a tensor's start once it holds
    // enough; the last one starts at the trainable range's start. Frozen tensors and buffers have no
    // gradient and are never reduced.
    size_t end = pb->train_end;
    for (int i = pb->count - 1; i >= 0 && end > pb->train_begin; i--) {
        if (!ds_param_is_trainable(pb, i)) continue;
        const size_t begin = pb->offset[i] == pb->train_begin ? pb->train_begin : pb->offset[i];
        if ((double)(end - begin) * sizeof(float) >= bucket_bytes || begin == pb->train_begin) {
            g->buckets[g->count++] = (ds_grad_bucket){begin, end};
            end = begin;
        }
    }
    return DS_OK;
}

void ds_grad_sync_free(ds_grad_sync *g) {
    free(g->buckets);
    free(g->tickets);
    memset(g, 0, sizeof *g);
}

void ds_grad_sync_begin(ds_grad_sync *g) {
    g->next = 0;
    g->active = true;
    g->step_t0 = 0;
}

static ds_status hand_over(ds_grad_sync *g, size_t from, ds_err *err) {
    while (g->next < g->count && g->buckets[g->next].begin >= from) {
        const ds_grad_bucket b = g->buckets[g->next];
        if (g->step_t0 == 0) g->step_t0 = ds_now_seconds();
        DS_TRY(ds_comm_iallreduce_sum(g->comm, g->grads + b.begin, (int64_t)(b.end - b.begin), &g->tickets[g->next],
                                      err));
        g->stats.bytes += (double)(b.end - b.begin) * sizeof(float);
        g->next++;
    }
    return DS_OK;
}

ds_status ds_grad_sync_ready(void *grad_sync, size_t from, ds_err *err) {
    ds_grad_sync *g = grad_sync;
    if (!g->active) return DS_OK;
    const double t0 = ds_now_seconds();
    const ds_status st = hand_over(g, from, err);
    g->stats.exposed_s += ds_now_seconds() - t0;
    return st;
}

ds_status ds_grad_sync_finish(ds_grad_sync *g, ds_err *err) {
    const double t0 = ds_now_seconds();
    ds_status st = hand_over(g, 0, err);
    for (int i = 0; i < g->count && st == DS_OK; i++) st = ds_comm_wait(g->comm, g->tickets[i], err);
    const double t1 = ds_now_seconds();
    g->stats.exposed_s += t1 - t0;
    g->stats.in_flight_s += t1 - (g->step_t0 ? g->step_t0 : t0);
    g->stats.steps++;
    g->active = false;
    return st;
}
