#include "grad_sync.h"

#include <stdlib.h>
#include <string.h>

#include "base/check.h"
#include "base/log.h"

ds_status ds_grad_sync_init(ds_grad_sync *g, ds_comm *comm, const ds_param_block *pb, double bucket_bytes,
                            ds_err *err) {
    memset(g, 0, sizeof *g);
    DS_REQUIRE(err, bucket_bytes > 0, DS_ERR_CONFIG, "dist.bucket_mb must be > 0");
    g->comm = comm;
    g->grads = pb->grads;
    g->total = pb->total;
    g->buckets = malloc((size_t)(pb->count > 0 ? pb->count : 1) * sizeof *g->buckets);
    g->tickets = malloc((size_t)(pb->count > 0 ? pb->count : 1) * sizeof *g->tickets);
    if (!g->buckets || !g->tickets) {
        ds_grad_sync_free(g);
        return ds_err_set(err, DS_ERR_OOM, "gradient buckets: out of memory");
    }
    // From the last tensor backwards: close a bucket at a tensor's start once it holds enough.
    size_t end = pb->total;
    for (int i = pb->count - 1; i >= 0; i--) {
        const size_t begin = i == 0 ? 0 : pb->offset[i];
        if ((double)(end - begin) * sizeof(float) >= bucket_bytes || i == 0) {
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
