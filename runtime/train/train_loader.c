#include "train_loader.h"

#include <stdlib.h>
#include <string.h>

#include "../../kernels/gpu.h"
#include "../../kernels/gpu_async.h"
#include "../base/check.h"

// What the producer writes at the start of a slot, before the family's batch.
typedef struct slot_header {
    int64_t index;       // global micro-batch b
    size_t global_n;     // examples of the global micro-batch
    ds_batch_info info;  // this rank's share as the family packed it
} slot_header;

#define SLOT_ALIGN ((size_t)64)

static size_t align_up(size_t x) { return (x + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN; }

// This rank's positions [lo, hi) within global micro-batch b (at = b x global_batch) of an epoch
// of n examples, and the micro-batch's size: the trainer's shard_of, exactly.
typedef struct share {
    size_t at, global_n, lo, hi;
} share;

static share share_of(size_t n, size_t global_batch, size_t batch, int rank, int64_t b) {
    share s;
    s.at = (size_t)b * global_batch;
    s.global_n = n - s.at < global_batch ? n - s.at : global_batch;
    const size_t lo = (size_t)rank * batch, hi = lo + batch;
    s.lo = lo < s.global_n ? lo : s.global_n;
    s.hi = hi < s.global_n ? hi : s.global_n;
    return s;
}

// The producer: packs global micro-batch b's share of this rank into the slot with the family's
// pack. Reads only the task and l->order, which stay unchanged while the epoch runs.
static ds_status produce(void *user, int64_t b, void *slot, ds_err *err) {
    const ds_train_loader *l = user;
    DS_REQUIRE(err, b >= 0 && b < l->batches, DS_ERR_INTERNAL, "train loader: batch %lld of an epoch of %lld",
               (long long)b, (long long)l->batches);
    const share s = share_of(l->examples, l->global_batch, l->opt.batch, l->opt.rank, b);
    slot_header *h = slot;
    h->index = b;
    h->global_n = s.global_n;
    memset(&h->info, 0, sizeof h->info);
    if (s.hi == s.lo) return DS_OK;  // an empty share: nothing to pack
    return l->task->family->pack(l->task, DS_DATA_TRAIN, l->order + s.at + s.lo, s.hi - s.lo, l->epoch,
                                 (char *)slot + l->payload_offset, &h->info, err);
}

ds_status ds_train_loader_init(ds_train_loader *l, const ds_task *task, const ds_train_loader_options *opt,
                               ds_err *err) {
    memset(l, 0, sizeof *l);
    DS_REQUIRE(err, opt->batch >= 1 && opt->world >= 1 && opt->rank >= 0 && opt->rank < opt->world,
               DS_ERR_INVALID_ARG, "train loader: batch %zu, rank %d of %d", opt->batch, opt->rank, opt->world);
    DS_REQUIRE(err, !opt->group_by_length || opt->group_batches >= 1, DS_ERR_INVALID_ARG,
               "train loader: %lld micro-batches per length group", (long long)opt->group_batches);
    const ds_task_family *f = task->family;
    DS_REQUIRE(err, !opt->group_by_length || (f->lengths && f->lengths(task, DS_DATA_TRAIN)), DS_ERR_CONFIG,
               "data.group_by_length: %s examples have no length to group by", f->name);
    l->task = task;
    l->opt = *opt;
    l->examples = f->count(task, DS_DATA_TRAIN);
    l->global_batch = (size_t)opt->world * opt->batch;
    l->batches = opt->drop_last ? (int64_t)(l->examples / l->global_batch)
                                : (int64_t)((l->examples + l->global_batch - 1) / l->global_batch);
    l->payload_offset = align_up(sizeof(slot_header));
    l->slot_bytes = l->payload_offset + align_up(f->batch_bytes(task, opt->batch));
    l->order = malloc((l->examples ? l->examples : 1) * sizeof *l->order);
    if (!l->order) return ds_err_set(err, DS_ERR_OOM, "train loader: out of memory for %zu indices", l->examples);
    const ds_batch_loader_options bo = {.num_workers = opt->num_workers, .slots = opt->slots,
                                        .slot_bytes = l->slot_bytes, .produce = produce, .produce_user = l,
                                        .alloc = opt->alloc, .free = opt->free, .alloc_user = opt->alloc_user};
    ds_status st = ds_batch_loader_create(&bo, &l->ring, err);
    if (st == DS_OK && opt->device) {
        l->fences = calloc((size_t)opt->slots, sizeof *l->fences);
        l->fenced = calloc((size_t)opt->slots, sizeof *l->fenced);
        l->fence_on = calloc((size_t)opt->slots, sizeof *l->fence_on);
        if (!l->fences || !l->fenced || !l->fence_on) {
            st = ds_err_set(err, DS_ERR_OOM, "train loader: out of memory");
            free(l->fences), free(l->fenced), free(l->fence_on);  // all three or none (the loops test fences)
            l->fences = NULL, l->fenced = NULL, l->fence_on = NULL;
        }
        for (int i = 0; i < opt->slots && st == DS_OK; i++)
            if ((st = ds_gpu_event_create(opt->device, &l->fences[i])) != DS_OK)
                ds_err_set(err, st, "train loader: %s", opt->device->err.msg);
    }
    if (st != DS_OK) ds_train_loader_free(l);
    return st;
}

// Releases fenced slot s once its event has passed: at once when `wait`, else only if it has.
static ds_status unfence(ds_train_loader *l, int s, bool wait, ds_err *err) {
    if (!l->fence_on[s]) return DS_OK;
    ds_context *dev = l->opt.device;
    bool passed = false;
    ds_status st = ds_gpu_event_query(dev, l->fences[s], &passed);
    if (st == DS_OK && !passed && wait) st = ds_gpu_event_sync(dev, l->fences[s]);
    if (st != DS_OK) return ds_err_set(err, st, "train loader: waiting for batch %lld's device work: %s",
                                       (long long)l->fenced[s].index, dev->err.msg);
    if (passed || wait) {
        ds_batch_loader_release(l->ring, &l->fenced[s]);
        l->fence_on[s] = false;
    }
    return DS_OK;
}

static void report_padding(ds_train_loader *l, const size_t *shuffled) {
    const int32_t *lengths = l->task->family->lengths ? l->task->family->lengths(l->task, DS_DATA_TRAIN) : NULL;
    if (!lengths) return;
    const char *unit = l->task->family->length_unit ? l->task->family->length_unit : "units";
    const ds_train_padding plain = ds_train_padding_of(lengths, shuffled, l->examples, l->global_batch, l->opt.batch);
    const double pad = plain.padded ? 100.0 * (double)(plain.padded - plain.real) / (double)plain.padded : 0;
    if (!l->opt.group_by_length) {
        DS_LOG_INFO(l->opt.log, "data: %lld %s per epoch padded to %lld (%.1f%% padding; data.group_by_length "
                    "groups examples of similar length to pad less)", (long long)plain.real, unit,
                    (long long)plain.padded, pad);
        return;
    }
    const ds_train_padding grouped = ds_train_padding_of(lengths, l->order, l->examples, l->global_batch, l->opt.batch);
    const double gpad = grouped.padded ? 100.0 * (double)(grouped.padded - grouped.real) / (double)grouped.padded : 0;
    DS_LOG_INFO(l->opt.log,
                "data.group_by_length: %lld %s per epoch padded to %lld (%.1f%% padding) instead of %lld (%.1f%%) "
                "in mega-batches of %lld micro-batches: %.1f%% less to compute",
                (long long)grouped.real, unit, (long long)grouped.padded, gpad, (long long)plain.padded, pad,
                (long long)l->opt.group_batches,
                plain.padded ? 100.0 * (double)(plain.padded - grouped.padded) / (double)plain.padded : 0.0);
}

ds_status ds_train_loader_start_epoch(ds_train_loader *l, int64_t epoch, const size_t *order, int64_t first,
                                      ds_err *err) {
    ds_train_loader_stop_epoch(l);  // the workers read l->order and l->epoch: none may run while they change
    l->taken = 0;
    l->epoch = epoch;
    const size_t n = l->examples;
    memcpy(l->order, order, n * sizeof *l->order);
    if (l->opt.group_by_length)
        DS_TRY(ds_train_group_by_length(l->task->family->lengths(l->task, DS_DATA_TRAIN), l->order, n,
                                        l->global_batch, l->opt.group_batches, err));
    if (!l->reported && l->opt.log) report_padding(l, order);
    l->reported = true;
    DS_REQUIRE(err, first >= 0 && first <= l->batches, DS_ERR_INVALID_ARG,
               "train loader: starting at micro-batch %lld of an epoch of %lld", (long long)first,
               (long long)l->batches);
    return ds_batch_loader_start(l->ring, first, l->batches, err);
}

ds_status ds_train_loader_next(ds_train_loader *l, ds_train_batch *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    for (int s = 0; l->fences && s < l->opt.slots; s++)  // the slot the next batch needs must be free
        DS_TRY(unfence(l, s, s == (int)(l->taken % l->opt.slots), err));
    DS_TRY(ds_batch_loader_next(l->ring, &out->slot, err));
    l->taken++;
    const slot_header *h = out->slot.data;
    out->info = h->info;
    out->data = h->info.n ? (const char *)out->slot.data + l->payload_offset : NULL;
    out->global_n = h->global_n;
    out->wait_s = out->slot.wait_s;
    return DS_OK;
}

void ds_train_loader_release(ds_train_loader *l, const ds_train_batch *b) {
    ds_batch_loader_release(l->ring, &b->slot);
}

ds_status ds_train_loader_release_after_device(ds_train_loader *l, const ds_train_batch *b, ds_err *err) {
    if (!l->fences || !b->slot.data) {
        ds_train_loader_release(l, b);
        return DS_OK;
    }
    const int s = b->slot.slot;
    ds_status st = ds_gpu_event_record_compute(l->opt.device, l->fences[s]);
    if (st != DS_OK) return ds_err_set(err, st, "train loader: fencing batch %lld: %s", (long long)b->slot.index,
                                       l->opt.device->err.msg);
    l->fenced[s] = b->slot;
    l->fence_on[s] = true;
    return DS_OK;
}

void ds_train_loader_stop_epoch(ds_train_loader *l) {
    ds_context *dev = l->opt.device;
    // This often runs while an error is being reported (the trainer's cleanup): a failed wait
    // below must not replace that error's message in the context.
    ds_err saved;
    if (dev) saved = dev->err;
    bool failed = false;
    for (int s = 0; l->fences && s < l->opt.slots; s++) {
        ds_err ignored;  // a failed wait: the device is broken and its next call says so; the slot goes anyway
        ds_err_clear(&ignored);
        if (l->fence_on[s] && unfence(l, s, true, &ignored) != DS_OK) {
            l->fence_on[s] = false;
            failed = true;
        }
    }
    // The slots go back to the workers below: where a fence could not be waited on, wait for the
    // whole stream instead, so that no copy still reads a slot a worker refills.
    if (failed) (void)ds_gpu_sync(dev);
    if (dev) dev->err = saved;
    ds_batch_loader_stop(l->ring);
}

ds_batch_loader_stats ds_train_loader_stats(const ds_train_loader *l) { return ds_batch_loader_get_stats(l->ring); }

void ds_train_loader_free(ds_train_loader *l) {
    if (l->ring) ds_train_loader_stop_epoch(l);
    ds_batch_loader_destroy(l->ring);  // joins the workers before the order they read goes
    for (int i = 0; l->fences && i < l->opt.slots; i++) ds_gpu_event_destroy(l->opt.device, l->fences[i]);
    free(l->fences);
    free(l->fenced);
    free(l->fence_on);
    free(l->order);
    memset(l, 0, sizeof *l);
}

typedef struct by_length {
    int32_t length;
    size_t pos;    // position in the mega-batch (the tie-break: the shuffled order)
    size_t index;  // the example
} by_length;

static int longest_first(const void *a, const void *b) {
    const by_length *x = a, *y = b;
    if (x->length != y->length) return x->length > y->length ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

ds_status ds_train_group_by_length(const int32_t *lengths, size_t *order, size_t n, size_t global_batch,
                                   int64_t group_batches, ds_err *err) {
    const size_t mega = global_batch * (size_t)group_batches;
    by_length *tmp = malloc((mega < n ? mega : n ? n : 1) * sizeof *tmp);
    if (!tmp) return ds_err_set(err, DS_ERR_OOM, "group_by_length: out of memory for %zu examples", mega);
    for (size_t at = 0; at < n; at += mega) {
        const size_t m = n - at < mega ? n - at : mega;
        for (size_t i = 0; i < m; i++) tmp[i] = (by_length){lengths[order[at + i]], i, order[at + i]};
        qsort(tmp, m, sizeof *tmp, longest_first);  // a total order (positions differ): deterministic
        for (size_t i = 0; i < m; i++) order[at + i] = tmp[i].index;
    }
    free(tmp);
    return DS_OK;
}

ds_train_padding ds_train_padding_of(const int32_t *lengths, const size_t *order, size_t n, size_t global_batch,
                                     size_t batch) {
    ds_train_padding p = {0, 0};
    const int world = (int)(global_batch / batch);
    for (int64_t b = 0; (size_t)b * global_batch < n; b++) {
        for (int r = 0; r < world; r++) {
            const share s = share_of(n, global_batch, batch, r, b);
            int64_t longest = 1;  // a batch is at least one unit long
            for (size_t i = s.lo; i < s.hi; i++) {
                const int64_t len = lengths[order[s.at + i]];
                p.real += len;
                if (len > longest) longest = len;
            }
            p.padded += (int64_t)(s.hi - s.lo) * longest;
        }
    }
    return p;
}

ds_status ds_train_loader_pinned_alloc(void *user, size_t bytes, void **slot, ds_err *err) {
    ds_context *ctx = user;
    const ds_status st = ds_gpu_host_alloc(ctx, bytes, slot);
    return st == DS_OK ? DS_OK : ds_err_set(err, st, "%s", ctx->err.msg);
}

void ds_train_loader_pinned_free(void *user, void *slot) { ds_gpu_host_free(user, slot); }
