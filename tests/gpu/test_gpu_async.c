// The copy stream and events (kernels/gpu_async.h) driven by the batch loader as the trainer is
// meant to use them: batches produced by 2 workers into pinned slots (ds_gpu_host_alloc), each
// uploaded on the copy stream into one of two device buffers, the compute stream waiting for the
// copy's event and then consuming the buffer (a device-to-device copy into the batch's place in
// a results array stands in for the forward), the next upload into that buffer waiting for the
// compute's event, and each slot released only once its copy's event has passed (queried without
// blocking first; the loader's next() would otherwise refuse a batch whose slot is still held).
// Downloaded at the end, every batch must be exactly what the producer made: a slot released too
// early, or a buffer overwritten before compute read it, would show as wrong bytes.
// Then the trainer's way (runtime/train/train_loader.h with .device, the text family packing):
// each batch's ids uploaded from its pinned slot on the compute stream (asynchronous, behind
// 256 MiB of copying so that the stream lags the host), the slot handed back with
// ds_train_loader_release_after_device, and the ids on the device checked against
// ds_text_batch_make's; and a control that releases each slot at once, which must see corrupted
// batches (otherwise the fenced run would prove nothing).
#include <stdlib.h>
#include <string.h>

#include "../../data/common/batch_loader.h"
#include "../../kernels/gpu_async.h"
#include "../../runtime/tasks/text/text_family.h"
#include "../../runtime/train/train_loader.h"
#include "../gpu_test_util.h"

enum { WORDS = 1 << 16, BATCHES = 64, SLOTS = 3 };  // 256 KiB batches: copies take measurable time

static uint32_t word(int64_t b, size_t i) { return (uint32_t)(b * 2654435761u) ^ (uint32_t)(i * 40503u + 7); }

static ds_status produce(void *user, int64_t b, void *slot, ds_err *err) {
    (void)user, (void)err;
    uint32_t *w = slot;  // (WORDS) pinned host
    for (size_t i = 0; i < WORDS; i++) w[i] = word(b, i);
    return DS_OK;
}

// Examples of EX_T tokens each (every batch B x EX_T), ids unique per (example, position).
enum { EX_N = 600, EX_T = 128, EX_B = 16 };

static ds_text_examples fixed_examples(void) {
    ds_text_examples e;
    memset(&e, 0, sizeof e);
    e.n = EX_N;
    e.max_length = EX_T;
    e.num_labels = 2;
    e.ids = calloc((size_t)EX_N * EX_T, sizeof(int32_t));
    e.types = calloc((size_t)EX_N * EX_T, sizeof(int32_t));
    e.lengths = calloc(EX_N, sizeof(int32_t));
    e.labels = calloc(EX_N, sizeof(int32_t));
    e.source_index = calloc(EX_N, sizeof(size_t));
    for (size_t k = 0; k < EX_N; k++) {
        e.lengths[k] = EX_T;
        e.labels[k] = (int32_t)(k % 2);
        e.source_index[k] = k;
        for (size_t j = 0; j < EX_T; j++) e.ids[k * EX_T + j] = (int32_t)(k * EX_T + j);
    }
    return e;
}

// Bytes of device-to-device copying enqueued before each upload, so that the compute stream runs
// well behind the host (~0.3 ms per batch on an H200, accumulating) and a slot released too early
// is refilled by a worker before its upload has read it.
#define BUSY_BYTES ((size_t)256 << 20)

// One epoch through the train loader with pinned slots; each batch's ids uploaded from its slot on
// the compute stream behind BUSY_BYTES of copying, the slot released after the device (fenced) or
// at once (the control, which must see corruption, or the fenced result proves nothing). Returns
// the number of batches whose ids reached the device wrong, or -1 when the run failed.
static int64_t run_text_loader(ds_test *t, ds_context *ctx, bool fenced) {
    ds_text_examples e = fixed_examples();
    size_t order[EX_N];
    for (size_t i = 0; i < EX_N; i++) order[i] = (i * 7919) % EX_N;  // a permutation (7919 is prime)
    const int64_t batches = EX_N / EX_B;
    const size_t batch_bytes = (size_t)EX_B * EX_T * sizeof(int32_t);
    const ds_train_loader_options o = {.batch = EX_B, .rank = 0, .world = 1, .num_workers = 2, .slots = 2,
                                       .alloc = ds_train_loader_pinned_alloc, .free = ds_train_loader_pinned_free,
                                       .alloc_user = ctx, .device = ctx};
    ds_train_loader l;
    memset(&l, 0, sizeof l);
    ds_task *task = NULL;
    void *dev = NULL;             // (batches x EX_B x EX_T) int32 device: every batch's ids
    void *busy[2] = {NULL, NULL};  // (BUSY_BYTES) device each: copied into each other
    ds_err err;
    ds_err_clear(&err);
    ds_status st = ds_text_task_of_examples(&e, &task, &err);
    if (st == DS_OK) st = ds_train_loader_init(&l, task, &o, &err);
    if (st == DS_OK) st = ds_gpu_alloc(ctx, batch_bytes * (size_t)batches, &dev);
    for (int k = 0; k < 2 && st == DS_OK; k++)
        if ((st = ds_gpu_alloc(ctx, BUSY_BYTES, &busy[k])) == DS_OK) st = ds_gpu_memset(ctx, busy[k], k, BUSY_BYTES);
    if (st == DS_OK) st = ds_gpu_sync(ctx);
    if (st == DS_OK) st = ds_train_loader_start_epoch(&l, 0, order, 0, &err);
    for (int64_t b = 0; b < batches && st == DS_OK; b++) {
        ds_train_batch lb;
        if ((st = ds_train_loader_next(&l, &lb, &err)) != DS_OK) break;
        ds_bert_batch bb;
        ds_text_batch_of_packed(lb.data, &bb);
        st = ds_gpu_copy(ctx, busy[b % 2], busy[1 - b % 2], BUSY_BYTES);
        if (st == DS_OK) st = ds_gpu_upload(ctx, (char *)dev + (size_t)b * batch_bytes, bb.input_ids, batch_bytes);
        ds_status rs = DS_OK;
        if (fenced) rs = ds_train_loader_release_after_device(&l, &lb, &err);
        else ds_train_loader_release(&l, &lb);  // too early, on purpose: the control
        if (st == DS_OK) st = rs;
    }
    ds_train_loader_stop_epoch(&l);
    if (st == DS_OK) st = ds_gpu_sync(ctx);
    ds_test_check(t, st == DS_OK, "%s text loader ran: %s", fenced ? "fenced" : "unfenced",
                  err.msg[0] ? err.msg : ctx->err.msg);
    int64_t wrong = -1;
    if (st == DS_OK) {
        int32_t *got = malloc(batch_bytes * (size_t)batches);
        ds_text_batch_buf ref;
        ds_text_batch_buf_init(&ref, EX_B, EX_T, 2, &err);
        st = ds_gpu_download(ctx, got, dev, batch_bytes * (size_t)batches);
        if (st == DS_OK) st = ds_gpu_sync(ctx);
        wrong = st == DS_OK ? 0 : -1;
        for (int64_t b = 0; b < batches && st == DS_OK; b++) {
            ds_bert_batch rb;
            ds_text_batch_make(&e, order + (size_t)b * EX_B, EX_B, &ref, &rb);
            wrong += memcmp(got + (size_t)b * EX_B * EX_T, rb.input_ids, batch_bytes) != 0;
        }
        ds_text_batch_buf_free(&ref);
        free(got);
    }
    for (int k = 0; k < 2; k++) ds_gpu_free(ctx, busy[k], BUSY_BYTES);
    ds_gpu_free(ctx, dev, batch_bytes * (size_t)batches);
    ds_train_loader_free(&l);
    if (task) task->family->close(task);
    ds_text_examples_free(&e);
    return wrong;
}

static void test_text_loader_fenced(ds_test *t, ds_context *ctx) {
    const int64_t batches = EX_N / EX_B;
    const int64_t wrong = run_text_loader(t, ctx, true);
    ds_test_check(t, wrong == 0, "every batch's ids reached the device intact (%lld of %lld wrong)", (long long)wrong,
                  (long long)batches);
    // The control: the same run releasing each slot right after enqueueing its upload.
    const int64_t control = run_text_loader(t, ctx, false);
    ds_test_check(t, control > 0,
                  "the control (slots released before their uploads ran) must see corrupted batches, else the fenced "
                  "run above proves nothing: %lld of %lld wrong",
                  (long long)control, (long long)batches);
    printf("gpu_async: fenced %lld wrong, unfenced control %lld of %lld wrong\n", (long long)wrong,
           (long long)control, (long long)batches);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "gpu_async")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("gpu_async");
    const size_t bytes = WORDS * sizeof(uint32_t);
    const ds_batch_loader_options o = {.num_workers = 2, .slots = SLOTS, .slot_bytes = bytes, .produce = produce,
                                       .alloc = ds_train_loader_pinned_alloc, .free = ds_train_loader_pinned_free,
                                       .alloc_user = &ctx};
    ds_batch_loader *l = NULL;
    ds_gpu_copy_stream *cs = NULL;
    ds_gpu_event *copied[2] = {NULL, NULL}, *done[2] = {NULL, NULL};
    void *dbuf[2] = {NULL, NULL}, *results = NULL;  // (WORDS) device each; (BATCHES x WORDS) device
    ds_err err;
    ds_err_clear(&err);
    ds_status st = ds_batch_loader_create(&o, &l, &err);
    if (st == DS_OK) st = ds_gpu_copy_stream_create(&ctx, &cs);
    for (int i = 0; i < 2 && st == DS_OK; i++) {
        st = ds_gpu_event_create(&ctx, &copied[i]);
        if (st == DS_OK) st = ds_gpu_event_create(&ctx, &done[i]);
        if (st == DS_OK) st = ds_gpu_alloc(&ctx, bytes, &dbuf[i]);
    }
    if (st == DS_OK) st = ds_gpu_alloc(&ctx, bytes * BATCHES, &results);
    if (st == DS_OK) st = ds_batch_loader_start(l, 0, BATCHES, &err);
    ds_loaded_batch held[2];  // batch b's slot, until its copy has passed
    bool holding[2] = {false, false};
    int64_t released_early = 0;  // released on a query (no host wait)
    for (int64_t b = 0; b < BATCHES && st == DS_OK; b++) {
        const int i = (int)(b % 2);
        // Batch b - 2 used buffer i and slot holding[i]: its copy must be done before its slot goes.
        if (holding[i]) {
            bool passed = false;
            st = ds_gpu_event_query(&ctx, copied[i], &passed);
            if (st == DS_OK && !passed) st = ds_gpu_event_sync(&ctx, copied[i]);
            released_early += passed;
            ds_batch_loader_release(l, &held[i]);
            holding[i] = false;
        }
        if (st == DS_OK) st = ds_batch_loader_next(l, &held[i], &err);
        if (st != DS_OK) break;
        holding[i] = true;
        st = ds_gpu_copy_wait_event(&ctx, cs, done[i]);  // compute has finished reading buffer i
        if (st == DS_OK) st = ds_gpu_upload_on_copy_stream(&ctx, cs, dbuf[i], held[i].data, bytes);
        if (st == DS_OK) st = ds_gpu_event_record_copy(&ctx, cs, copied[i]);
        if (st == DS_OK) st = ds_gpu_compute_wait_event(&ctx, copied[i]);
        if (st == DS_OK) st = ds_gpu_copy(&ctx, (char *)results + (size_t)b * bytes, dbuf[i], bytes);
        if (st == DS_OK) st = ds_gpu_event_record_compute(&ctx, done[i]);
    }
    for (int i = 0; i < 2 && st == DS_OK; i++)
        if (holding[i]) {
            st = ds_gpu_event_sync(&ctx, copied[i]);
            ds_batch_loader_release(l, &held[i]);
        }
    if (st == DS_OK) st = ds_gpu_sync(&ctx);
    ds_test_check(&t, st == DS_OK, "the pipeline ran: %s", err.msg[0] ? err.msg : ctx.err.msg);
    if (st == DS_OK) {
        uint32_t *host = malloc(bytes * BATCHES);
        st = ds_gpu_download(&ctx, host, results, bytes * BATCHES);
        if (st == DS_OK) st = ds_gpu_sync(&ctx);
        int64_t wrong = 0;
        for (int64_t b = 0; b < BATCHES && st == DS_OK; b++) {
            bool ok = true;
            for (size_t k = 0; k < WORDS && ok; k++) ok = host[(size_t)b * WORDS + k] == word(b, k);
            wrong += !ok;
        }
        ds_test_check(&t, st == DS_OK && wrong == 0, "all %d batches arrived intact on the device (%lld wrong): %s",
                      BATCHES, (long long)wrong, ctx.err.msg);
        printf("gpu_async: %lld of %d slot releases found their copy already done\n", (long long)released_early,
               BATCHES - 2);
        free(host);
    }
    ds_batch_loader_destroy(l);
    for (int i = 0; i < 2; i++) {
        ds_gpu_event_destroy(&ctx, copied[i]);
        ds_gpu_event_destroy(&ctx, done[i]);
        ds_gpu_free(&ctx, dbuf[i], bytes);
    }
    ds_gpu_free(&ctx, results, bytes * BATCHES);
    ds_gpu_copy_stream_destroy(&ctx, cs);
    test_text_loader_fenced(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
