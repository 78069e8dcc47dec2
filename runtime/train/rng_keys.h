// The keys of the trainer's random streams, as pure functions so that tests can hold them.
#ifndef DS_RNG_KEYS_H
#define DS_RNG_KEYS_H

#include <stdint.h>

#define DS_TRAIN_SHUFFLE_OFFSET 0x5348554646ull  // "SHUFF": far from dropout's offsets

// The dropout step of micro-batch b (0-based in the epoch) of epoch `epoch` on rank `rank` of
// `world`: (epoch * batches_per_epoch + b) * world + rank. Distinct for every (epoch, b, rank)
// with b < batches_per_epoch and rank < world, so no two micro-batches of a run, on any rank,
// draw the same masks (tests/cpu/test_rng_keys.c). The model turns it into per-site Philox
// offsets (e.g. ds_bert_dropout_offset).
uint64_t ds_train_rng_step(int64_t epoch, int64_t batches_per_epoch, int64_t b, int world, int rank);

#endif
