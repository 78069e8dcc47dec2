// Deterministic train/dev/test split of a dataset's example indices.
//
// Which examples land in which part depends only on (n, seed, fractions, stratified, labels):
// a Fisher-Yates shuffle drawing from the Philox stream (seed, DS_SPLIT_RNG_OFFSET), so the
// split is the same on every machine and run. Part sizes: the largest-remainder rounding of
// n * fraction (they always add up to n; ties go to train, then dev).
//
// Default: plain random (stratified = false), as HF datasets' train_test_split and sklearn do.
// Stratified mode splits each class on its own (single-label class ids needed), so every part
// holds each class in proportion, within one example per class.
// Each part's indices are sorted ascending: membership is random, order is the file's.
#ifndef DS_DATASET_SPLIT_H
#define DS_DATASET_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"

// The Philox offset of the split's stream ("SPLIT" in ASCII): far from the small offsets that
// dropout sites and steps use, so the same run seed draws unrelated numbers here.
#define DS_SPLIT_RNG_OFFSET 0x53504C4954ull

typedef struct ds_split_options {
    double train, dev, test;  // fractions, each >= 0, adding up to 1 (within 1e-6); default 0.8/0.1/0.1
    uint64_t seed;            // default 0
    bool stratified;          // default false
} ds_split_options;

ds_split_options ds_split_default_options(void);

// Reads the fractions "train,dev,test" (e.g. "0.8,0.1,0.1") of text into s->train/dev/test; key
// names the config key in the error message. The sum is checked by ds_split_make.
ds_status ds_split_parse_fractions(const char *key, const char *text, ds_split_options *s, ds_err *err);

typedef struct ds_split {
    size_t *train, *dev, *test;  // (n_train), (n_dev), (n_test) example indices, ascending, host
    size_t n_train, n_dev, n_test;
} ds_split;

// Splits indices 0..n-1. labels ((n) class ids in [0, num_classes), host) are needed only when
// opt->stratified. *out is freed with ds_split_free (also after a failure).
ds_status ds_split_make(size_t n, const int32_t *labels, int32_t num_classes, const ds_split_options *opt,
                        ds_split *out, ds_err *err);

void ds_split_free(ds_split *s);

// Hands the three parts of s to the caller: index[k] (owned by the caller now, to free) and n[k]
// for k = train, dev, test; s is left empty.
void ds_split_take_parts(ds_split *s, size_t *index[3], size_t n[3]);

// A uniform random permutation of idx[0, n) in place (Fisher-Yates), drawing from the Philox
// stream (seed, offset) starting at draw *draw (advanced past the draws used), two 32-bit
// draws per swap. The modulo bias is below n / 2^64: nothing at dataset sizes.
void ds_shuffle_indices(size_t *idx, size_t n, uint64_t seed, uint64_t offset, uint64_t *draw);

#endif
