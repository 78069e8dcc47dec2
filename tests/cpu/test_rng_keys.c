// The trainer's dropout keys (runtime/train/rng_keys.h) never repeat: every (epoch, micro-batch,
// rank) of a run gets its own rng_step, and with BERT's per-site offsets (ds_bert_dropout_offset)
// every dropout site of every micro-batch on every rank its own Philox stream. A key without the
// epoch term would repeat epoch 1's masks in epoch 2, one without the rank every rank's masks:
// both fail here.
#include <stdlib.h>
#include <string.h>

#include "../../models/bert/bert.h"
#include "../../runtime/train/rng_keys.h"
#include "../test_util.h"

static int cmp_u64(const void *a, const void *b) {
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

// Sorts keys[0..n) and returns how many equal their predecessor.
static size_t repeats(uint64_t *keys, size_t n) {
    qsort(keys, n, sizeof *keys, cmp_u64);
    size_t r = 0;
    for (size_t i = 1; i < n; i++) r += keys[i] == keys[i - 1];
    return r;
}

int main(void) {
    ds_test t = ds_test_begin("rng_keys");
    // Shapes of real runs: few and many batches per epoch, one and several ranks.
    const struct {
        int64_t epochs, batches;
        int world;
    } runs[] = {{3, 1, 1}, {4, 7, 1}, {3, 9, 2}, {2, 125, 8}, {5, 13, 3}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        const size_t n = (size_t)(runs[r].epochs * runs[r].batches * runs[r].world);
        uint64_t *keys = malloc(n * sizeof *keys);
        size_t k = 0;
        for (int64_t e = 0; e < runs[r].epochs; e++)
            for (int64_t b = 0; b < runs[r].batches; b++)
                for (int rank = 0; rank < runs[r].world; rank++)
                    keys[k++] = ds_train_rng_step(e, runs[r].batches, b, runs[r].world, rank);
        ds_test_check(&t, repeats(keys, n) == 0, "%lld epochs x %lld batches x %d ranks: every rng_step distinct",
                      (long long)runs[r].epochs, (long long)runs[r].batches, runs[r].world);
        free(keys);
    }
    // Epoch 2's first micro-batch follows epoch 1's last; rank r's step is the same micro-batch's.
    ds_test_check(&t, ds_train_rng_step(1, 9, 0, 1, 0) == ds_train_rng_step(0, 9, 8, 1, 0) + 1,
                  "epochs continue the sequence");
    ds_test_check(&t, ds_train_rng_step(2, 9, 4, 3, 2) == (2 * 9 + 4) * 3 + 2, "the documented formula");

    // BERT's dropout streams: sites 0 .. 3L+1 of every micro-batch of a 2-epoch, 2-rank run.
    const int layers = 6, sites = 3 * layers + 2;
    const int64_t epochs = 2, batches = 11;
    const int world = 2;
    const size_t n = (size_t)(epochs * batches * world * sites);
    uint64_t *keys = malloc(n * sizeof *keys);
    size_t k = 0;
    for (int64_t e = 0; e < epochs; e++)
        for (int64_t b = 0; b < batches; b++)
            for (int rank = 0; rank < world; rank++)
                for (int s = 0; s < sites; s++)
                    keys[k++] = ds_bert_dropout_offset(ds_train_rng_step(e, batches, b, world, rank), (uint64_t)s);
    ds_test_check(&t, repeats(keys, n) == 0, "every dropout site of every micro-batch and rank has its own stream");
    free(keys);
    return ds_test_finish(&t);
}
