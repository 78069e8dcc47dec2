// The prefetching batch loader (data/common/batch_loader.h): batches come in order with the content
// produce() gives them, bit for bit, with 0, 1 or 3 workers; the ring wraps around with more
// batches than slots; slow consumers and producers (batches finishing out of order) keep the
// order; a producer's failure reaches the consumer with its message; stop() joins workers blocked
// on a full ring; holding too many slots is an error, not a hang; the wait is accounted; slot
// memory comes from the caller's callbacks and all of it goes back.
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../data/common/batch_loader.h"
#include "../../runtime/base/log.h"
#include "../test_util.h"

#define WORDS 37  // uint64 words per slot: an odd size, so nothing lines up by accident

typedef struct producer {
    int sleep_us_every;   // every batch sleeps this long ...
    bool uneven;          // ... times (b * 7) % 5 when set: later batches often finish first
    int64_t fail_at;      // this batch fails (-1: none)
    atomic_int produced;  // produce() calls that completed
} producer;

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

// Batch b's content: a function of b alone.
static uint64_t word(int64_t b, int i) {
    uint64_t x = (uint64_t)b * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xBF58476D1CE4E5B9ull + 1;
    x ^= x >> 31;
    return x * 0x94D049BB133111EBull;
}

static ds_status produce(void *user, int64_t b, void *slot, ds_err *err) {
    producer *p = user;
    long us = p->sleep_us_every;
    if (p->uneven) us *= (b * 7) % 5;
    if (us) sleep_us(us);
    if (b == p->fail_at) return ds_err_set(err, DS_ERR_IO, "test producer: batch %lld cannot be read", (long long)b);
    uint64_t *w = slot;
    for (int i = 0; i < WORDS; i++) w[i] = word(b, i);
    atomic_fetch_add(&p->produced, 1);
    return DS_OK;
}

static bool content_ok(const void *data, int64_t b) {
    uint64_t want[WORDS];
    for (int i = 0; i < WORDS; i++) want[i] = word(b, i);
    return memcmp(data, want, sizeof want) == 0;
}

static ds_batch_loader *make(ds_test *t, producer *p, int workers, int slots) {
    const ds_batch_loader_options o = {.num_workers = workers, .slots = slots, .slot_bytes = WORDS * sizeof(uint64_t),
                                       .produce = produce, .produce_user = p};
    ds_batch_loader *l = NULL;
    ds_err err;
    ds_err_clear(&err);
    const ds_status st = ds_batch_loader_create(&o, &l, &err);
    ds_test_check(t, st == DS_OK, "create (%d workers, %d slots): %s", workers, slots, err.msg);
    return st == DS_OK ? l : NULL;
}

// Consumes [first, end), checking order and content; consumer_us: the consumer's work per batch.
// Returns the batches that came right; `bytes` (when non-NULL) collects every slot's bytes.
static int64_t consume_range(ds_test *t, ds_batch_loader *l, int64_t first, int64_t end, long consumer_us,
                             uint64_t *bytes, const char *what) {
    ds_err err;
    ds_err_clear(&err);
    if (ds_batch_loader_start(l, first, end, &err) != DS_OK) {
        ds_test_check(t, false, "%s: start: %s", what, err.msg);
        return 0;
    }
    int64_t good = 0;
    for (int64_t b = first; b < end; b++) {
        ds_loaded_batch lb;
        if (ds_batch_loader_next(l, &lb, &err) != DS_OK) {
            ds_test_check(t, false, "%s: next at batch %lld: %s", what, (long long)b, err.msg);
            break;
        }
        const bool right = lb.index == b && content_ok(lb.data, b);
        if (!right) ds_test_check(t, false, "%s: got batch %lld (content %s) when %lld was due", what,
                                  (long long)lb.index, content_ok(lb.data, lb.index) ? "its own" : "wrong", (long long)b);
        good += right;
        if (bytes) memcpy(bytes + (b - first) * WORDS, lb.data, WORDS * sizeof(uint64_t));
        if (consumer_us) sleep_us(consumer_us);
        ds_batch_loader_release(l, &lb);
    }
    ds_batch_loader_stop(l);
    return good;
}

static void test_order_and_content(ds_test *t) {
    enum { N = 40 };
    uint64_t *ref = malloc(N * WORDS * sizeof(uint64_t)), *got = malloc(N * WORDS * sizeof(uint64_t));
    const int workers[] = {0, 1, 3};
    for (int w = 0; w < 3; w++) {
        producer p = {.fail_at = -1};
        ds_batch_loader *l = make(t, &p, workers[w], 4);
        if (!l) continue;
        char what[64];
        snprintf(what, sizeof what, "%d workers, 4 slots, %d batches", workers[w], N);
        const int64_t good = consume_range(t, l, 0, N, 0, w == 0 ? ref : got, what);
        ds_test_check(t, good == N, "%s: %lld of %d batches in order with their content", what, (long long)good, N);
        if (w > 0)
            ds_test_check(t, memcmp(ref, got, N * WORDS * sizeof(uint64_t)) == 0,
                          "%s: the bytes equal those of 0 workers", what);
        ds_test_check(t, atomic_load(&p.produced) == N, "%s: each batch produced once (%d calls)", what,
                      atomic_load(&p.produced));
        const ds_batch_loader_stats s = ds_batch_loader_get_stats(l);
        ds_test_check(t, s.batches == N, "%s: stats count %lld batches", what, (long long)s.batches);
        ds_batch_loader_destroy(l);
    }
    free(ref);
    free(got);
}

// More batches than slots, down to one slot; a range not starting at 0 (a resumed epoch); a
// second range on the same loader; an empty range.
static void test_wrap_around_and_ranges(ds_test *t) {
    const int slots[] = {1, 2, 3};
    for (int s = 0; s < 3; s++) {
        producer p = {.fail_at = -1};
        ds_batch_loader *l = make(t, &p, 2, slots[s]);
        if (!l) continue;
        char what[64];
        snprintf(what, sizeof what, "2 workers, %d slot(s)", slots[s]);
        ds_test_check(t, consume_range(t, l, 0, 25, 0, NULL, what) == 25, "%s: 25 batches through the ring", what);
        ds_test_check(t, consume_range(t, l, 7, 19, 0, NULL, what) == 12, "%s: then batches 7..18 (a resumed range)",
                      what);
        ds_test_check(t, consume_range(t, l, 5, 5, 0, NULL, what) == 0, "%s: an empty range", what);
        ds_loaded_batch lb;
        ds_err err;
        ds_err_clear(&err);
        ds_test_check(t, ds_batch_loader_next(l, &lb, &err) == DS_ERR_INVALID_ARG,
                      "%s: next() past the end is an error (%s)", what, err.msg);
        ds_batch_loader_destroy(l);
    }
}

// Batches finishing out of order (uneven producer), and a consumer slower than the producers.
static void test_slow_sides(ds_test *t) {
    for (int w = 1; w <= 3; w += 2) {
        producer p = {.sleep_us_every = 400, .uneven = true, .fail_at = -1};
        ds_batch_loader *l = make(t, &p, w, 3);
        if (!l) continue;
        char what[64];
        snprintf(what, sizeof what, "uneven slow producer, %d workers", w);
        ds_test_check(t, consume_range(t, l, 0, 30, 0, NULL, what) == 30, "%s: in order", what);
        ds_batch_loader_destroy(l);
    }
    producer p = {.fail_at = -1};
    ds_batch_loader *l = make(t, &p, 3, 2);
    if (l) {
        ds_test_check(t, consume_range(t, l, 0, 20, 1000, NULL, "slow consumer") == 20, "slow consumer: in order");
        ds_batch_loader_destroy(l);
    }
}

// A failing batch: every earlier batch arrives, then the failure with the producer's message
// (again on a second ask), and stop() joins the workers.
static void test_producer_error(ds_test *t) {
    const int workers[] = {0, 1, 3};
    for (int w = 0; w < 3; w++) {
        producer p = {.sleep_us_every = 200, .uneven = true, .fail_at = 7};
        ds_batch_loader *l = make(t, &p, workers[w], 3);
        if (!l) continue;
        ds_err err;
        ds_err_clear(&err);
        ds_batch_loader_start(l, 0, 20, &err);
        int64_t good = 0;
        ds_status st = DS_OK;
        ds_loaded_batch lb;
        while ((st = ds_batch_loader_next(l, &lb, &err)) == DS_OK) {
            good += lb.index == good && content_ok(lb.data, lb.index);
            ds_batch_loader_release(l, &lb);
        }
        ds_test_check(t, good == 7, "%d workers: batches 0..6 before the failure (got %lld)", workers[w], (long long)good);
        ds_test_check(t, st == DS_ERR_IO && strstr(err.msg, "batch 7 cannot be read") != NULL,
                      "%d workers: the failure reaches the consumer: status %d, '%s'", workers[w], (int)st, err.msg);
        ds_err again;
        ds_err_clear(&again);
        ds_test_check(t, ds_batch_loader_next(l, &lb, &again) == DS_ERR_IO, "%d workers: asking again fails the same way",
                      workers[w]);
        ds_batch_loader_stop(l);
        // The loader is usable again after the failed range.
        p.fail_at = -1;
        ds_test_check(t, consume_range(t, l, 0, 10, 0, NULL, "after a failure") == 10,
                      "%d workers: a new range after the failure", workers[w]);
        ds_batch_loader_destroy(l);
    }
}

// stop() mid-range: the consumer holds a batch and the workers wait on a full ring (or sleep in
// produce); stop() must wake and join them all, quickly.
static void test_shutdown_mid_range(ds_test *t) {
    producer p = {.fail_at = -1};
    ds_batch_loader *l = make(t, &p, 4, 2);
    if (!l) return;
    ds_err err;
    ds_err_clear(&err);
    ds_batch_loader_start(l, 0, 1000, &err);
    ds_loaded_batch lb;
    ds_test_check(t, ds_batch_loader_next(l, &lb, &err) == DS_OK, "first batch: %s", err.msg);
    // The other slot fills (waited for, up to 5 s on a busy machine); then the workers block on
    // the full ring, and 20 ms later still nothing more has been made.
    for (int i = 0; i < 5000 && atomic_load(&p.produced) < 2; i++) sleep_us(1000);
    sleep_us(20000);
    const int made = atomic_load(&p.produced);
    ds_test_check(t, made == 2, "a full ring of 2 slots stops the workers at 2 batches (made %d)", made);
    const double t0 = ds_now_seconds();
    ds_batch_loader_stop(l);  // with the consumer still holding batch 0 (an error on the consumer's side)
    const double took = ds_now_seconds() - t0;
    // Generous: joining idle threads takes microseconds; a hang would take the ctest timeout.
    ds_test_check(t, took < 2.0, "stop() with blocked workers returns (%.3f s)", took);
    ds_test_check(t, atomic_load(&p.produced) == made, "nothing produced after stop()");
    ds_batch_loader_destroy(l);

    // Workers asleep inside produce() when stop() comes: it waits for them, then returns.
    producer slow = {.sleep_us_every = 30000, .fail_at = -1};
    l = make(t, &slow, 3, 4);
    if (!l) return;
    ds_batch_loader_start(l, 0, 100, &err);
    sleep_us(5000);
    ds_batch_loader_stop(l);
    ds_test_check(t, atomic_load(&slow.produced) <= 4, "stop() during produce(): %d batches made, at most the ring",
                  atomic_load(&slow.produced));
    ds_batch_loader_destroy(l);
}

// The consumer may hold up to `slots` batches; asking for one more is an error, not a hang.
static void test_holding_too_many(ds_test *t) {
    const int workers[] = {0, 2};
    for (int w = 0; w < 2; w++) {
        producer p = {.fail_at = -1};
        ds_batch_loader *l = make(t, &p, workers[w], 2);
        if (!l) continue;
        ds_err err;
        ds_err_clear(&err);
        ds_batch_loader_start(l, 0, 10, &err);
        ds_loaded_batch a, b, c;
        const ds_status s1 = ds_batch_loader_next(l, &a, &err), s2 = ds_batch_loader_next(l, &b, &err);
        ds_test_check(t, s1 == DS_OK && s2 == DS_OK, "%d workers: two batches held at once in two slots: %s",
                      workers[w], err.msg);
        const ds_status s3 = ds_batch_loader_next(l, &c, &err);
        ds_test_check(t, s3 == DS_ERR_INVALID_ARG && strstr(err.msg, "release it first") != NULL,
                      "%d workers: a third while both are held: status %d, '%s'", workers[w], (int)s3, err.msg);
        ds_batch_loader_release(l, &a);
        ds_err_clear(&err);
        ds_test_check(t, ds_batch_loader_next(l, &c, &err) == DS_OK && c.index == 2 && content_ok(c.data, 2),
                      "%d workers: batch 2 once batch 0 is released: %s", workers[w], err.msg);
        ds_batch_loader_destroy(l);
    }
}

// A producer of 5 ms per batch and a consumer that does nothing: the consumer waits for each
// batch, so the recorded wait is at least the production time the workers could not hide.
static void test_wait_accounting(ds_test *t) {
    enum { N = 10, US = 5000 };
    const int workers[] = {0, 1};
    for (int w = 0; w < 2; w++) {
        producer p = {.sleep_us_every = US, .fail_at = -1};
        ds_batch_loader *l = make(t, &p, workers[w], 2);
        if (!l) continue;
        ds_err err;
        ds_err_clear(&err);
        ds_batch_loader_start(l, 0, N, &err);
        double sum = 0;
        for (int b = 0; b < N; b++) {
            ds_loaded_batch lb;
            if (ds_batch_loader_next(l, &lb, &err) != DS_OK) break;
            sum += lb.wait_s;
            ds_batch_loader_release(l, &lb);
        }
        const ds_batch_loader_stats s = ds_batch_loader_get_stats(l);
        // One worker makes the N batches one after another (N x 5 ms from start); the consumer
        // spends nothing between batches, so it waits all but the time between start() and its
        // first next() (microseconds): a lower bound of 80% of N x 5 ms leaves room for that.
        ds_test_check(t, s.wait_s >= 0.8 * N * US * 1e-6, "%d workers: waited %.4f s for %d batches of 5 ms",
                      workers[w], s.wait_s, N);
        ds_test_check(t, s.batches == N && s.wait_s == sum, "%d workers: totals (%lld batches, %.4f s) = the per-batch "
                      "waits (%.4f s)", workers[w], (long long)s.batches, s.wait_s, sum);
        ds_batch_loader_destroy(l);
    }
}

typedef struct counting_alloc {
    int allocs, frees, fail_at;  // the fail_at-th allocation fails (-1: none)
    size_t bytes;
} counting_alloc;

static ds_status count_alloc(void *user, size_t bytes, void **slot, ds_err *err) {
    counting_alloc *a = user;
    if (a->allocs == a->fail_at) return ds_err_set(err, DS_ERR_OOM, "test allocator: no slot %d", a->allocs);
    a->allocs++;
    a->bytes = bytes;
    *slot = malloc(bytes);
    return DS_OK;
}

static void count_free(void *user, void *slot) {
    ((counting_alloc *)user)->frees++;
    free(slot);
}

static void test_alloc_callbacks(ds_test *t) {
    producer p = {.fail_at = -1};
    counting_alloc a = {.fail_at = -1};
    ds_batch_loader_options o = {.num_workers = 2, .slots = 3, .slot_bytes = WORDS * sizeof(uint64_t),
                                 .produce = produce, .produce_user = &p, .alloc = count_alloc, .free = count_free,
                                 .alloc_user = &a};
    ds_batch_loader *l = NULL;
    ds_err err;
    ds_err_clear(&err);
    ds_test_check(t, ds_batch_loader_create(&o, &l, &err) == DS_OK, "create with callbacks: %s", err.msg);
    ds_test_check(t, a.allocs == 3 && a.bytes == WORDS * sizeof(uint64_t), "one allocation per slot of the slot size");
    if (l) ds_test_check(t, consume_range(t, l, 0, 9, 0, NULL, "callbacks") == 9, "batches in caller memory");
    ds_batch_loader_destroy(l);
    ds_test_check(t, a.frees == 3, "every slot freed (%d)", a.frees);

    counting_alloc b = {.fail_at = 2};
    o.alloc_user = &b;
    ds_err_clear(&err);
    l = NULL;
    const ds_status st = ds_batch_loader_create(&o, &l, &err);
    ds_test_check(t, st == DS_ERR_OOM && l == NULL && strstr(err.msg, "no slot 2"), "a failing allocation: '%s'",
                  err.msg);
    ds_test_check(t, b.frees == b.allocs && b.allocs == 2, "the slots made before it are freed (%d of %d)", b.frees,
                  b.allocs);

    o.slots = 0;
    ds_err_clear(&err);
    ds_test_check(t, ds_batch_loader_create(&o, &l, &err) == DS_ERR_INVALID_ARG, "0 slots refused: %s", err.msg);
}

int main(void) {
    ds_test t = ds_test_begin("batch_loader");
    test_order_and_content(&t);
    test_wrap_around_and_ranges(&t);
    test_slow_sides(&t);
    test_producer_error(&t);
    test_shutdown_mid_range(&t);
    test_holding_too_many(&t);
    test_wait_accounting(&t);
    test_alloc_callbacks(&t);
    return ds_test_finish(&t);
}
