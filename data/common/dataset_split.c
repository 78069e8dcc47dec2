#include "dataset_split.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../../runtime/base/philox.h"

ds_split_options ds_split_default_options(void) {
    return (ds_split_options){.train = 0.8, .dev = 0.1, .test = 0.1, .seed = 0, .stratified = false};
}

ds_status ds_split_parse_fractions(const char *key, const char *text, ds_split_options *s, ds_err *err) {
    double f[3];
    char tail;
    if (sscanf(text, "%lf,%lf,%lf%c", &f[0], &f[1], &f[2], &tail) != 3)
        return ds_err_set(err, DS_ERR_CONFIG, "%s: expected three fractions 'train,dev,test', got '%s'", key, text);
    s->train = f[0], s->dev = f[1], s->test = f[2];
    return DS_OK;
}

void ds_split_take_parts(ds_split *s, size_t *index[3], size_t n[3]) {
    index[0] = s->train, index[1] = s->dev, index[2] = s->test;
    n[0] = s->n_train, n[1] = s->n_dev, n[2] = s->n_test;
    memset(s, 0, sizeof *s);
}

void ds_split_free(ds_split *s) {
    free(s->train);
    free(s->dev);
    free(s->test);
    memset(s, 0, sizeof *s);
}

void ds_shuffle_indices(size_t *idx, size_t n, uint64_t seed, uint64_t offset, uint64_t *draw) {
    for (size_t i = n; i > 1; i--) {
        const uint64_t hi = ds_philox_u32(seed, offset, (*draw)++);
        const uint64_t lo = ds_philox_u32(seed, offset, (*draw)++);
        const size_t j = (size_t)(((hi << 32) | lo) % i);  // uniform in [0, i)
        const size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

// Sizes of the three parts of n: floors of n * fraction, then the leftover examples one each
// to the largest remainders (ties to the earlier part).
static void part_sizes(size_t n, const double frac[3], size_t size[3]) {
    double rem[3];
    size_t given = 0;
    for (int p = 0; p < 3; p++) {
        const double exact = (double)n * frac[p];
        size[p] = (size_t)floor(exact);
        if (size[p] > n) size[p] = n;
        rem[p] = exact - (double)size[p];
        given += size[p];
    }
    while (given < n) {
        int best = 0;
        for (int p = 1; p < 3; p++)
            if (rem[p] > rem[best]) best = p;
        size[best]++;
        rem[best] = -1.0;  // at most one extra each: the floors lose less than 1 per part
        given++;
    }
    while (given > n) {  // rounding of the products cannot overshoot, but stay safe
        for (int p = 2; p >= 0 && given > n; p--) {
            if (size[p] == 0) continue;
            size[p]--;
            given--;
        }
    }
}

static int ascending(const void *a, const void *b) {
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static ds_status check_options(const ds_split_options *o, ds_err *err) {
    const double f[3] = {o->train, o->dev, o->test};
    for (int p = 0; p < 3; p++)
        DS_REQUIRE(err, f[p] >= 0.0 && f[p] <= 1.0, DS_ERR_INVALID_ARG,
                   "split fractions must lie in [0, 1]; got train %g, dev %g, test %g", f[0], f[1], f[2]);
    // 1e-6: fractions typed in a config (0.7/0.15/0.15) add up to 1 only within double rounding.
    DS_REQUIRE(err, fabs(f[0] + f[1] + f[2] - 1.0) <= 1e-6, DS_ERR_INVALID_ARG,
               "split fractions must add up to 1; train %g + dev %g + test %g = %g", f[0], f[1], f[2],
               f[0] + f[1] + f[2]);
    return DS_OK;
}

ds_status ds_split_make(size_t n, const int32_t *labels, int32_t num_classes, const ds_split_options *opt,
                        ds_split *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    const ds_split_options o = opt ? *opt : ds_split_default_options();
    DS_TRY(check_options(&o, err));
    DS_REQUIRE(err, !o.stratified || (labels != NULL && num_classes > 0), DS_ERR_INVALID_ARG,
               "a stratified split needs one class id per example (single-label classification)");
    for (size_t i = 0; o.stratified && i < n; i++)
        DS_REQUIRE(err, labels[i] >= 0 && labels[i] < num_classes, DS_ERR_INVALID_ARG,
                   "stratified split: example %zu has class id %d outside 0..%d", i, labels[i], num_classes - 1);
    const double frac[3] = {o.train, o.dev, o.test};
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t *part[3] = {malloc((n ? n : 1) * sizeof(size_t)), malloc((n ? n : 1) * sizeof(size_t)),
                       malloc((n ? n : 1) * sizeof(size_t))};
    out->train = part[0];
    out->dev = part[1];
    out->test = part[2];
    if (!order || !part[0] || !part[1] || !part[2]) {
        free(order);
        ds_split_free(out);
        return ds_err_set(err, DS_ERR_OOM, "split: out of memory for %zu indices", n);
    }
    // Groups: the whole dataset, or one per class; each group a slice of `order` holding its
    // indices in ascending order (a counting sort by class id).
    const int32_t groups = o.stratified ? num_classes : 1;
    size_t *group_start = calloc((size_t)groups + 1, sizeof *group_start);
    if (group_start == NULL) {
        free(order);
        ds_split_free(out);
        return ds_err_set(err, DS_ERR_OOM, "split: out of memory for %d classes", groups);
    }
    for (size_t i = 0; i < n; i++) group_start[(o.stratified ? labels[i] : 0) + 1]++;
    for (int32_t g = 0; g < groups; g++) group_start[g + 1] += group_start[g];
    for (size_t i = 0; i < n; i++) order[group_start[o.stratified ? labels[i] : 0]++] = i;
    for (int32_t g = groups; g > 0; g--) group_start[g] = group_start[g - 1];  // undo the fill's advance
    group_start[0] = 0;
    size_t count[3] = {0, 0, 0};
    uint64_t draw = 0;  // one stream for the whole split; groups take consecutive draws
    for (int32_t g = 0; g < groups; g++) {
        size_t *slice = order + group_start[g];
        const size_t m = group_start[g + 1] - group_start[g];
        ds_shuffle_indices(slice, m, o.seed, DS_SPLIT_RNG_OFFSET, &draw);
        size_t size[3];
        part_sizes(m, frac, size);
        size_t at = 0;
        for (int p = 0; p < 3; p++)
            for (size_t k = 0; k < size[p]; k++) part[p][count[p]++] = slice[at++];
    }
    free(group_start);
    free(order);
    for (int p = 0; p < 3; p++) qsort(part[p], count[p], sizeof(size_t), ascending);
    out->n_train = count[0];
    out->n_dev = count[1];
    out->n_test = count[2];
    return DS_OK;
}
