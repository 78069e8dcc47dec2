// The training-batch loader (runtime/train/train_loader.h) with the text family's packer: every
// batch equals ds_text_batch_make on this rank's shard of the global micro-batch (the trainer's
// shard, restated here), bit for bit, for 0, 1 and 3 workers, one and three ranks, single- and multi-label sets, with and
// without length grouping; an epoch started at batch k (a resumed run, even in a new loader)
// gives the same batches as an uninterrupted one; length grouping keeps every example exactly
// once per epoch, keeps each mega-batch's examples, sorts them longest first, and on a skewed set
// pads far less.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/common/dataset_split.h"
#include "../../kernels/gpu_async.h"
#include "../../runtime/tasks/text/text_family.h"
#include "../../runtime/train/train_loader.h"
#include "../test_util.h"

enum { MARK = 1000 };  // ids[k][0] = MARK + k: which example a batch row holds

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// n examples of max_length T. skewed: one in ten long (T-3..T tokens), the rest 3..8; otherwise
// lengths spread over 2..T. multi: 3 multi-hot labels instead of single-label classes.
static ds_text_examples make_examples(size_t n, int64_t T, bool skewed, bool multi) {
    ds_text_examples e;
    memset(&e, 0, sizeof e);
    e.n = n;
    e.max_length = T;
    e.num_labels = 3;
    e.problem_type = multi ? DS_PROBLEM_MULTI_LABEL : DS_PROBLEM_SINGLE_LABEL;
    e.ids = calloc(n * (size_t)T, sizeof(int32_t));
    e.types = calloc(n * (size_t)T, sizeof(int32_t));
    e.lengths = calloc(n, sizeof(int32_t));
    e.source_index = calloc(n, sizeof(size_t));
    if (multi)
        e.label_values = calloc(n * 3, sizeof(float));
    else
        e.labels = calloc(n, sizeof(int32_t));
    for (size_t k = 0; k < n; k++) {
        const uint64_t r = mix(k);
        const int32_t len = skewed ? (k % 10 == 3 ? (int32_t)(T - 3 + (int64_t)(r % 4)) : (int32_t)(3 + r % 6))
                                   : (int32_t)(2 + r % (uint64_t)(T - 1));
        e.lengths[k] = len;
        e.source_index[k] = k;
        int32_t *ids = e.ids + k * (size_t)T, *types = e.types + k * (size_t)T;
        ids[0] = MARK + (int32_t)k;
        for (int32_t j = 1; j < len; j++) ids[j] = (int32_t)((k * 31 + (size_t)j * 7) % 500 + 1);
        for (int32_t j = len / 2; j < len; j++) types[j] = 1;
        if (multi)
            for (int j = 0; j < 3; j++) e.label_values[k * 3 + (size_t)j] = (float)((r >> (8 + j)) & 1);
        else
            e.labels[k] = (int32_t)(r % 3);
    }
    return e;
}

static void shuffled(size_t *order, size_t n, uint64_t epoch) {
    for (size_t i = 0; i < n; i++) order[i] = i;
    uint64_t draw = 0;
    ds_shuffle_indices(order, n, 7, epoch, &draw);
}

// The batch the trainer used to build itself: ds_text_batch_make on rank r's positions of
// global micro-batch b.
typedef struct ref_batch {
    ds_text_batch_buf buf;
    ds_bert_batch batch;
    size_t global_n;
} ref_batch;

static void make_ref(const ds_text_examples *e, const size_t *order, size_t batch, int rank, int world, int64_t b,
                     ref_batch *r) {
    const size_t G = (size_t)world * batch, at = (size_t)b * G;
    r->global_n = e->n - at < G ? e->n - at : G;
    size_t lo = (size_t)rank * batch, hi = lo + batch;
    if (lo > r->global_n) lo = r->global_n;
    if (hi > r->global_n) hi = r->global_n;
    ds_text_batch_make(e, order + at + lo, hi - lo, &r->buf, &r->batch);
}

static bool same_batch(const ds_bert_batch *a, const ds_bert_batch *b, int64_t K) {
    if (a->B != b->B || a->T != b->T) return false;
    const size_t cells = (size_t)(a->B * a->T) * sizeof(int32_t);
    if (memcmp(a->input_ids, b->input_ids, cells) || memcmp(a->token_type_ids, b->token_type_ids, cells) ||
        memcmp(a->attention_mask, b->attention_mask, cells))
        return false;
    if ((a->labels == NULL) != (b->labels == NULL) || (a->label_values == NULL) != (b->label_values == NULL))
        return false;
    if (a->labels) return memcmp(a->labels, b->labels, (size_t)a->B * sizeof(int32_t)) == 0;
    return memcmp(a->label_values, b->label_values, (size_t)(a->B * K) * sizeof(float)) == 0;
}

static ds_train_loader_options options(size_t batch, int rank, int world, int workers, bool group) {
    return (ds_train_loader_options){.batch = batch, .rank = rank, .world = world, .num_workers = workers, .slots = 3,
                                    .group_by_length = group, .group_batches = 2};
}

// Every batch of an epoch (from `first`) against the reference; returns the batches that matched.
static int64_t check_epoch(ds_test *t, const ds_text_examples *e, const size_t *order, const ds_train_loader_options *o,
                           int64_t first, const char *what) {
    ds_train_loader l;
    memset(&l, 0, sizeof l);
    ds_err err;
    ds_err_clear(&err);
    ds_task *task = NULL;
    if (ds_text_task_of_examples(e, &task, &err) != DS_OK || ds_train_loader_init(&l, task, o, &err) != DS_OK ||
        ds_train_loader_start_epoch(&l, 0, order, first, &err) != DS_OK) {
        ds_test_check(t, false, "%s: %s", what, err.msg);
        ds_train_loader_free(&l);
        if (task) task->family->close(task);
        return 0;
    }
    size_t *ref_order = malloc(e->n * sizeof *ref_order);
    memcpy(ref_order, order, e->n * sizeof *ref_order);
    if (o->group_by_length)
        ds_train_group_by_length(e->lengths, ref_order, e->n, (size_t)o->world * o->batch, o->group_batches, &err);
    ref_batch r;
    ds_text_batch_buf_init(&r.buf, o->batch, e->max_length, e->num_labels, &err);
    int64_t good = 0;
    for (int64_t b = first; b < l.batches; b++) {
        ds_train_batch lb;
        if (ds_train_loader_next(&l, &lb, &err) != DS_OK) {
            ds_test_check(t, false, "%s: batch %lld: %s", what, (long long)b, err.msg);
            break;
        }
        make_ref(e, ref_order, o->batch, o->rank, o->world, b, &r);
        ds_bert_batch got = {0};
        if (lb.data) ds_text_batch_of_packed(lb.data, &got);
        else got.T = r.batch.T;  // an empty share: nothing packed
        const bool ok = lb.slot.index == b && lb.global_n == r.global_n && (int64_t)lb.info.n == r.batch.B &&
                        lb.info.weight == (double)r.batch.B && !lb.info.summed &&
                        (r.batch.B == 0 ? lb.data == NULL : same_batch(&got, &r.batch, e->num_labels));
        if (!ok) ds_test_check(t, false, "%s: batch %lld (B %lld T %lld) differs from ds_text_batch_make's (B %lld T %lld)",
                               what, (long long)b, (long long)got.B, (long long)got.T, (long long)r.batch.B,
                               (long long)r.batch.T);
        good += ok;
        ds_train_loader_release(&l, &lb);
    }
    ds_train_loader_stop_epoch(&l);
    ds_text_batch_buf_free(&r.buf);
    free(ref_order);
    ds_train_loader_free(&l);
    task->family->close(task);
    return good;
}

static void test_batches_match_reference(ds_test *t) {
    const size_t n = 50, batch = 4;  // 3 ranks: global 12, 5 batches, the last of 2 (ranks 1 and 2 get none)
    size_t order[50];
    shuffled(order, n, 0);
    for (int multi = 0; multi < 2; multi++) {
        ds_text_examples e = make_examples(n, 16, false, multi);
        for (int group = 0; group < 2; group++)
            for (int world = 1; world <= 3; world += 2)
                for (int rank = 0; rank < world; rank++)
                    for (int w = 0; w <= 3; w += w ? 2 : 1) {  // 0, 1, 3 workers
                        char what[128];
                        snprintf(what, sizeof what, "%s, group %d, rank %d of %d, %d workers",
                                 multi ? "multi-label" : "single-label", group, rank, world, w);
                        const ds_train_loader_options o = options(batch, rank, world, w, group);
                        const int64_t want = (int64_t)((n + (size_t)world * batch - 1) / ((size_t)world * batch));
                        ds_test_check(t, check_epoch(t, &e, order, &o, 0, what) == want,
                                      "%s: all %lld batches equal the reference", what, (long long)want);
                    }
        ds_text_examples_free(&e);
    }
}

// A resumed run starts the epoch at batch k in a fresh loader: batches k.. equal the reference
// (which is the uninterrupted epoch's), here with grouping and 2 workers.
static void test_resume_mid_epoch(ds_test *t) {
    const size_t n = 90;
    ds_text_examples e = make_examples(n, 20, true, false);
    size_t order[90];
    shuffled(order, n, 3);
    for (int64_t k = 0; k <= 12; k += 4) {
        const ds_train_loader_options o = options(6, 1, 2, 2, true);  // 8 batches; k = 12 starts past the end
        char what[64];
        snprintf(what, sizeof what, "resume at batch %lld, grouped, 2 workers", (long long)k);
        const int64_t want = k < 8 ? 8 - k : 0;
        if (k > 8) {
            ds_train_loader l;
            memset(&l, 0, sizeof l);
            ds_err err;
            ds_err_clear(&err);
            ds_task *task = NULL;
            ds_status st = ds_text_task_of_examples(&e, &task, &err);
            if (st == DS_OK) st = ds_train_loader_init(&l, task, &o, &err);
            if (st == DS_OK) st = ds_train_loader_start_epoch(&l, 0, order, k, &err);
            ds_test_check(t, st == DS_ERR_INVALID_ARG, "%s: refused (%s)", what, err.msg);
            ds_train_loader_free(&l);
            if (task) task->family->close(task);
            continue;
        }
        ds_test_check(t, check_epoch(t, &e, order, &o, k, what) == want, "%s: %lld batches as uninterrupted", what,
                      (long long)want);
    }
    ds_text_examples_free(&e);
}

static void test_grouping(ds_test *t) {
    const size_t n = 1000, batch = 8, G = 50;  // mega-batches of 400 examples: 3 of them, the last of 200
    ds_text_examples e = make_examples(n, 64, true, false);
    size_t *order = malloc(n * sizeof *order), *grouped = malloc(n * sizeof *grouped);
    shuffled(order, n, 1);
    memcpy(grouped, order, n * sizeof *order);
    ds_err err;
    ds_err_clear(&err);
    ds_test_check(t, ds_train_group_by_length(e.lengths, grouped, n, batch, (int64_t)G, &err) == DS_OK, "group: %s",
                  err.msg);
    const size_t mega = batch * G;
    bool sorted = true, same_sets = true;
    int *seen = calloc(n, sizeof *seen);
    for (size_t at = 0; at < n; at += mega) {
        const size_t m = n - at < mega ? n - at : mega;
        for (size_t i = 0; i < m; i++) seen[order[at + i]] = (int)(at / mega) + 1;
        for (size_t i = 0; i < m; i++) {
            same_sets &= seen[grouped[at + i]] == (int)(at / mega) + 1;
            if (i) sorted &= e.lengths[grouped[at + i - 1]] >= e.lengths[grouped[at + i]];
        }
    }
    ds_test_check(t, same_sets, "each mega-batch holds the examples of the shuffled order's mega-batch");
    ds_test_check(t, sorted, "each mega-batch sorted longest first");

    // Through the loader: every example exactly once, and the padding it reports is what it does.
    ds_train_loader_options o = options(batch, 0, 1, 2, true);
    o.group_batches = (int64_t)G;
    ds_train_loader l;
    memset(&l, 0, sizeof l);
    ds_task *task = NULL;
    ds_test_check(t, ds_text_task_of_examples(&e, &task, &err) == DS_OK && ds_train_loader_init(&l, task, &o, &err) ==
                  DS_OK && ds_train_loader_start_epoch(&l, 0, order, 0, &err) == DS_OK, "loader: %s", err.msg);
    memset(seen, 0, n * sizeof *seen);
    int64_t padded = 0;
    bool marks_ok = true;
    for (int64_t b = 0; b < l.batches; b++) {
        ds_train_batch lb;
        if (ds_train_loader_next(&l, &lb, &err) != DS_OK) break;
        ds_bert_batch bb;
        ds_text_batch_of_packed(lb.data, &bb);
        padded += bb.B * bb.T;
        for (int64_t r = 0; r < bb.B; r++) {
            const int32_t k = bb.input_ids[r * bb.T] - MARK;
            if (k < 0 || (size_t)k >= n) marks_ok = false;
            else seen[k]++;
        }
        ds_train_loader_release(&l, &lb);
    }
    ds_train_loader_free(&l);
    if (task) task->family->close(task);
    bool once = marks_ok;
    for (size_t k = 0; k < n; k++) once &= seen[k] == 1;
    ds_test_check(t, once, "grouped epoch: every example exactly once");
    const ds_train_padding plain = ds_train_padding_of(e.lengths, order, n, batch, batch);
    const ds_train_padding grp = ds_train_padding_of(e.lengths, grouped, n, batch, batch);
    ds_test_check(t, padded == grp.padded, "the batches' B x T total (%lld) is the reported %lld", (long long)padded,
                  (long long)grp.padded);
    ds_test_check(t, plain.real == grp.real, "real tokens unchanged by grouping (%lld, %lld)", (long long)plain.real,
                  (long long)grp.real);
    // One example in ten is ~62 tokens, the rest ~5: shuffled, 1 - 0.9^8 = 57% of the batches of 8
    // hold a long one and pad to ~62 (about 3.4x the real tokens); grouped, only the few batches
    // where long and short meet do. Half is a wide margin on both sides.
    ds_test_check(t, grp.padded * 2 < plain.padded, "grouping pads less: %lld padded tokens instead of %lld (real %lld)",
                  (long long)grp.padded, (long long)plain.padded, (long long)grp.real);
    free(seen);
    free(order);
    free(grouped);
    ds_text_examples_free(&e);
}

// Pinned slots need a device: on a CPU context the loader refuses cleanly, naming the allocation.
// So do the copy stream and events.
static void test_pinned_without_device(ds_test *t) {
    ds_text_examples e = make_examples(10, 8, false, false);
    ds_context ctx = ds_context_cpu();
    ds_train_loader_options o = options(2, 0, 1, 1, false);
    o.alloc = ds_train_loader_pinned_alloc;
    o.free = ds_train_loader_pinned_free;
    o.alloc_user = &ctx;
    ds_train_loader l;
    memset(&l, 0, sizeof l);
    ds_err err;
    ds_err_clear(&err);
    ds_task *task = NULL;
    ds_status st = ds_text_task_of_examples(&e, &task, &err);
    if (st == DS_OK) st = ds_train_loader_init(&l, task, &o, &err);
    ds_test_check(t, st != DS_OK && strstr(err.msg, "ds_gpu_host_alloc") != NULL, "pinned slots on a CPU context: '%s'",
                  err.msg);
    ds_train_loader_free(&l);
    if (task) task->family->close(task);
    ds_text_examples_free(&e);

    // The copy stream and events the GPU path uses need the device too: a clean error here.
    ds_gpu_copy_stream *cs = (ds_gpu_copy_stream *)&ctx;  // must come back NULL
    ds_gpu_event *ev = (ds_gpu_event *)&ctx;
    ds_err_clear(&ctx.err);
    const ds_status s1 = ds_gpu_copy_stream_create(&ctx, &cs);
    ds_test_check(t, s1 != DS_OK && cs == NULL && strstr(ctx.err.msg, "ds_gpu_copy_stream_create"),
                  "copy stream on a CPU context: '%s'", ctx.err.msg);
    ds_err_clear(&ctx.err);
    const ds_status s2 = ds_gpu_event_create(&ctx, &ev);
    ds_test_check(t, s2 != DS_OK && ev == NULL && strstr(ctx.err.msg, "ds_gpu_event_create"),
                  "event on a CPU context: '%s'", ctx.err.msg);
    ds_gpu_copy_stream_destroy(&ctx, cs);
    ds_gpu_event_destroy(&ctx, ev);
}

int main(void) {
    ds_test t = ds_test_begin("train_loader");
    test_batches_match_reference(&t);
    test_resume_mid_epoch(&t);
    test_grouping(&t);
    test_pinned_without_device(&t);
    return ds_test_finish(&t);
}
