#include "rng_keys.h"

uint64_t ds_train_rng_step(int64_t epoch, int64_t batches_per_epoch, int64_t b, int world, int rank) {
    return (uint64_t)(epoch * batches_per_epoch + b) * (uint64_t)world + (uint64_t)rank;
}
