// The ring of batch slots and its worker threads (see batch_loader.h for the contract).
//
// Slot s of a range [first, end) holds batches first + s, first + s + S, ... (S slots) in turn:
// `turn` is the batch it holds or will hold next and advances by S on release. A worker only
// takes the next unclaimed batch once that batch's slot is free for it, so no worker ever sits on
// a claim while its slot is busy, and claims (hence a failure's position) follow batch order.
#include "batch_loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../../runtime/base/log.h"

typedef enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_HELD } slot_state;

typedef struct batch_slot {
    void *data;         // (slot_bytes) from the alloc callback
    slot_state state;
    int64_t turn;       // the batch this slot holds or is to hold next
    ds_status status;   // of produce() for that batch
    ds_err err;         // its message
} batch_slot;

struct ds_batch_loader {
    ds_batch_loader_options opt;
    batch_slot *slots;          // [opt.slots]
    pthread_t *threads;         // [opt.num_workers]
    int running;                // workers started for the current range
    pthread_mutex_t mu;
    pthread_cond_t slot_freed;  // workers wait on it for their slot
    pthread_cond_t batch_ready; // the consumer waits on it for its batch
    int sync_made;              // how many of mu, slot_freed, batch_ready exist (for destroy)
    // The current range; every field below is guarded by mu while workers run.
    int64_t first, end;         // batches [first, end)
    int64_t claim;              // the next batch a worker takes
    int64_t next;               // the next batch the consumer takes
    bool stopping;              // stop() was called: workers leave
    bool failed;                // a batch failed: workers take no new batches
    ds_batch_loader_stats stats;  // consumer-only
};

static ds_status malloc_slot(void *user, size_t bytes, void **slot, ds_err *err) {
    (void)user;
    *slot = malloc(bytes ? bytes : 1);
    return *slot ? DS_OK : ds_err_set(err, DS_ERR_OOM, "batch loader: out of memory for a %zu-byte slot", bytes);
}

static void free_slot(void *user, void *slot) {
    (void)user;
    free(slot);
}

static int slot_of(const ds_batch_loader *l, int64_t b) { return (int)((b - l->first) % l->opt.slots); }

static bool slot_free_for(const ds_batch_loader *l, int64_t b) {
    const batch_slot *s = &l->slots[slot_of(l, b)];
    return s->state == SLOT_FREE && s->turn == b;
}

// Makes batch b into its slot (the caller has marked it FILLING) and records the outcome.
static ds_status produce_into(ds_batch_loader *l, int64_t b, batch_slot *s) {
    ds_err_clear(&s->err);
    ds_status st = l->opt.produce(l->opt.produce_user, b, s->data, &s->err);
    if (st != DS_OK && s->err.status == DS_OK)  // a producer that forgot its message
        ds_err_set(&s->err, st, "batch loader: producing batch %lld failed", (long long)b);
    s->status = st;
    return st;
}

static void *worker_main(void *arg) {
    ds_batch_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stopping && !l->failed && l->claim < l->end && !slot_free_for(l, l->claim))
            pthread_cond_wait(&l->slot_freed, &l->mu);
        if (l->stopping || l->failed || l->claim >= l->end) break;
        const int64_t b = l->claim++;
        batch_slot *s = &l->slots[slot_of(l, b)];
        s->state = SLOT_FILLING;
        pthread_mutex_unlock(&l->mu);
        const ds_status st = produce_into(l, b, s);  // the slot is this worker's alone while FILLING
        pthread_mutex_lock(&l->mu);
        s->state = SLOT_READY;
        if (st != DS_OK) {
            l->failed = true;
            pthread_cond_broadcast(&l->slot_freed);  // idle workers leave too
        }
        pthread_cond_broadcast(&l->batch_ready);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

ds_status ds_batch_loader_create(const ds_batch_loader_options *opt, ds_batch_loader **out, ds_err *err) {
    *out = NULL;
    DS_REQUIRE(err, opt->produce != NULL, DS_ERR_INVALID_ARG, "batch loader: no produce callback");
    DS_REQUIRE(err, opt->slots >= 1, DS_ERR_INVALID_ARG, "batch loader: %d slots (need at least 1)", opt->slots);
    DS_REQUIRE(err, opt->num_workers >= 0, DS_ERR_INVALID_ARG, "batch loader: %d workers (need 0 or more)",
               opt->num_workers);
    DS_REQUIRE(err, (opt->alloc == NULL) == (opt->free == NULL), DS_ERR_INVALID_ARG,
               "batch loader: give both slot alloc and free callbacks, or neither");
    ds_batch_loader *l = calloc(1, sizeof *l);
    if (!l) return ds_err_set(err, DS_ERR_OOM, "batch loader: out of memory");
    l->opt = *opt;
    if (!l->opt.alloc) l->opt.alloc = malloc_slot, l->opt.free = free_slot;
    l->slots = calloc((size_t)opt->slots, sizeof *l->slots);
    l->threads = calloc(opt->num_workers ? (size_t)opt->num_workers : 1, sizeof *l->threads);
    ds_status st = l->slots && l->threads ? DS_OK : ds_err_set(err, DS_ERR_OOM, "batch loader: out of memory");
    for (int i = 0; i < opt->slots && st == DS_OK; i++)
        st = l->opt.alloc(l->opt.alloc_user, opt->slot_bytes, &l->slots[i].data, err);
    if (st == DS_OK && pthread_mutex_init(&l->mu, NULL) == 0) l->sync_made++;
    if (st == DS_OK && l->sync_made == 1 && pthread_cond_init(&l->slot_freed, NULL) == 0) l->sync_made++;
    if (st == DS_OK && l->sync_made == 2 && pthread_cond_init(&l->batch_ready, NULL) == 0) l->sync_made++;
    if (st == DS_OK && l->sync_made != 3) st = ds_err_set(err, DS_ERR_INTERNAL, "batch loader: cannot create its lock");
    if (st != DS_OK) {
        ds_batch_loader_destroy(l);
        return st;
    }
    *out = l;
    return DS_OK;
}

ds_status ds_batch_loader_start(ds_batch_loader *l, int64_t first, int64_t end, ds_err *err) {
    ds_batch_loader_stop(l);
    DS_REQUIRE(err, first >= 0 && end >= first, DS_ERR_INVALID_ARG, "batch loader: bad range [%lld, %lld)",
               (long long)first, (long long)end);
    l->first = l->claim = l->next = first;
    l->end = end;
    l->stopping = l->failed = false;
    for (int i = 0; i < l->opt.slots; i++) {
        l->slots[i].state = SLOT_FREE;
        l->slots[i].turn = first + i;
    }
    for (; l->running < l->opt.num_workers; l->running++) {
        const int e = pthread_create(&l->threads[l->running], NULL, worker_main, l);
        if (e != 0) {
            ds_batch_loader_stop(l);
            return ds_err_set(err, DS_ERR_INTERNAL, "batch loader: cannot start worker %d of %d: %s", l->running + 1,
                              l->opt.num_workers, strerror(e));
        }
    }
    return DS_OK;
}

// Hands slot s (holding batch b, just produced) to the consumer, or the producer's failure.
static ds_status take(ds_batch_loader *l, int64_t b, int s, double t0, ds_loaded_batch *out, ds_err *err) {
    batch_slot *slot = &l->slots[s];
    slot->state = SLOT_READY;
    if (slot->status != DS_OK)  // stays READY: asking again gives the same failure; stop() frees it
        return ds_err_set(err, slot->status, "%s", slot->err.msg);
    slot->state = SLOT_HELD;
    l->next++;
    out->index = b;
    out->slot = s;
    out->data = slot->data;
    out->wait_s = ds_now_seconds() - t0;
    l->stats.wait_s += out->wait_s;
    l->stats.batches++;
    return DS_OK;
}

ds_status ds_batch_loader_next(ds_batch_loader *l, ds_loaded_batch *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    const double t0 = ds_now_seconds();
    pthread_mutex_lock(&l->mu);
    const int64_t b = l->next;
    const int s = b < l->end ? slot_of(l, b) : 0;
    ds_status st = DS_OK;
    if (b >= l->end) {
        st = ds_err_set(err, DS_ERR_INVALID_ARG, "batch loader: no batch after %lld (the range ends there)",
                        (long long)l->end - 1);
    } else if (l->slots[s].turn != b) {
        // Only the consumer can still hold batch b - slots in this slot: waiting would never end.
        st = ds_err_set(err, DS_ERR_INVALID_ARG,
                        "batch loader: batch %lld needs slot %d, which still holds batch %lld: release it first "
                        "(%d slots)", (long long)b, s, (long long)l->slots[s].turn, l->opt.slots);
    } else if (l->opt.num_workers == 0) {
        batch_slot *slot = &l->slots[s];
        slot->state = SLOT_FILLING;
        pthread_mutex_unlock(&l->mu);
        produce_into(l, b, slot);
        pthread_mutex_lock(&l->mu);
        st = take(l, b, s, t0, out, err);
    } else {
        while (l->slots[s].state != SLOT_READY) pthread_cond_wait(&l->batch_ready, &l->mu);
        st = take(l, b, s, t0, out, err);
    }
    pthread_mutex_unlock(&l->mu);
    return st;
}

void ds_batch_loader_release(ds_batch_loader *l, const ds_loaded_batch *b) {
    if (!b->data || b->slot < 0 || b->slot >= l->opt.slots) return;
    pthread_mutex_lock(&l->mu);
    batch_slot *s = &l->slots[b->slot];
    if (s->state == SLOT_HELD && s->turn == b->index) {
        s->state = SLOT_FREE;
        s->turn += l->opt.slots;
        pthread_cond_broadcast(&l->slot_freed);
    }
    pthread_mutex_unlock(&l->mu);
}

void ds_batch_loader_stop(ds_batch_loader *l) {
    if (!l || l->sync_made != 3) return;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_broadcast(&l->slot_freed);
    pthread_mutex_unlock(&l->mu);
    for (; l->running > 0; l->running--) pthread_join(l->threads[l->running - 1], NULL);
    // Nothing runs now: the range is over, every slot is free again.
    l->claim = l->next = l->end;
    for (int i = 0; i < l->opt.slots; i++) l->slots[i].state = SLOT_FREE;
}

ds_batch_loader_stats ds_batch_loader_get_stats(const ds_batch_loader *l) { return l->stats; }

void ds_batch_loader_destroy(ds_batch_loader *l) {
    if (!l) return;
    ds_batch_loader_stop(l);
    for (int i = 0; l->slots && i < l->opt.slots; i++)
        if (l->slots[i].data) l->opt.free(l->opt.alloc_user, l->slots[i].data);
    if (l->sync_made >= 3) pthread_cond_destroy(&l->batch_ready);
    if (l->sync_made >= 2) pthread_cond_destroy(&l->slot_freed);
    if (l->sync_made >= 1) pthread_mutex_destroy(&l->mu);
    free(l->slots);
    free(l->threads);
    free(l);
}
