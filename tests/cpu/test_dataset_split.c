// The train/dev/test split: part sizes, disjoint parts that cover every index, determinism in
// the seed, an unbiased shuffle, and stratified parts that keep each class's proportion within
// one example.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/common/dataset_split.h"
#include "../test_util.h"

// Each index of 0..n-1 in exactly one part, each part ascending.
static void check_partition(ds_test *t, const char *what, const ds_split *s, size_t n) {
    unsigned char *seen = calloc(n ? n : 1, 1);
    const size_t *parts[3] = {s->train, s->dev, s->test};
    const size_t counts[3] = {s->n_train, s->n_dev, s->n_test};
    int ok = counts[0] + counts[1] + counts[2] == n, ascending = 1;
    for (int p = 0; p < 3; p++)
        for (size_t k = 0; k < counts[p]; k++) {
            const size_t i = parts[p][k];
            if (i >= n || seen[i]) ok = 0;
            else seen[i] = 1;
            if (k && parts[p][k - 1] >= i) ascending = 0;
        }
    ds_test_check(t, ok, "%s: parts (%zu, %zu, %zu) are not a partition of %zu indices", what, counts[0], counts[1],
                  counts[2], n);
    ds_test_check(t, ascending, "%s: a part is not in ascending order", what);
    free(seen);
}

static int same_split(const ds_split *a, const ds_split *b) {
    return a->n_train == b->n_train && a->n_dev == b->n_dev && a->n_test == b->n_test &&
           memcmp(a->train, b->train, a->n_train * sizeof(size_t)) == 0 &&
           memcmp(a->dev, b->dev, a->n_dev * sizeof(size_t)) == 0 &&
           memcmp(a->test, b->test, a->n_test * sizeof(size_t)) == 0;
}

static void test_plain(ds_test *t) {
    ds_err err = {0};
    ds_split a, b, c;
    ds_split_options o = ds_split_default_options();
    if (!ds_test_check(t, ds_split_make(103, NULL, 0, &o, &a, &err) == DS_OK, "%s", err.msg)) return;
    // 103 * (0.8, 0.1, 0.1) = (82.4, 10.3, 10.3): floors 82 + 10 + 10 = 102, the one left goes
    // to the largest remainder, train's 0.4.
    ds_test_check(t, a.n_train == 83 && a.n_dev == 10 && a.n_test == 10, "sizes (%zu, %zu, %zu), expected (83, 10, 10)",
                  a.n_train, a.n_dev, a.n_test);
    check_partition(t, "plain", &a, 103);
    int identity = 1;  // a shuffled split does not just cut 0..82 off the front
    for (size_t k = 0; k < a.n_train; k++) identity &= a.train[k] == k;
    ds_test_check(t, !identity, "train is the first 83 indices: not shuffled");
    ds_test_check(t, ds_split_make(103, NULL, 0, &o, &b, &err) == DS_OK && same_split(&a, &b),
                  "the same seed must give the same split");
    o.seed = 1;
    ds_test_check(t, ds_split_make(103, NULL, 0, &o, &c, &err) == DS_OK && !same_split(&a, &c),
                  "another seed should give another split");
    ds_split_free(&a);
    ds_split_free(&b);
    ds_split_free(&c);
    // Edges: nothing to split; everything in train; a part may be empty.
    o = (ds_split_options){.train = 1.0, .dev = 0.0, .test = 0.0, .seed = 3};
    if (ds_test_check(t, ds_split_make(0, NULL, 0, &o, &a, &err) == DS_OK, "%s", err.msg)) {
        ds_test_check(t, a.n_train + a.n_dev + a.n_test == 0, "n = 0: empty parts");
        ds_split_free(&a);
    }
    if (ds_test_check(t, ds_split_make(5, NULL, 0, &o, &a, &err) == DS_OK, "%s", err.msg)) {
        ds_test_check(t, a.n_train == 5 && a.n_dev == 0 && a.n_test == 0, "fractions 1/0/0");
        check_partition(t, "1/0/0", &a, 5);
        ds_split_free(&a);
    }
    // 0.7/0.15/0.15 of 10: (7, 1.5, 1.5) -> floors 7, 1, 1 and the one left to dev (tie: the earlier part).
    o = (ds_split_options){.train = 0.7, .dev = 0.15, .test = 0.15};
    if (ds_test_check(t, ds_split_make(10, NULL, 0, &o, &a, &err) == DS_OK, "%s", err.msg)) {
        ds_test_check(t, a.n_train == 7 && a.n_dev == 2 && a.n_test == 1, "0.7/0.15/0.15 of 10: (%zu, %zu, %zu)",
                      a.n_train, a.n_dev, a.n_test);
        ds_split_free(&a);
    }
}

// Fisher-Yates drawing j uniformly from the unshuffled prefix: over many seeds every index lands
// at every position equally often. With 5 indices and 4000 seeds each count is
// Binomial(4000, 1/5): mean 800, sd 25.3; a band of +-130 (over 5 sd) fails by chance with
// probability ~1e-6, while an off-by-one shuffle (Sattolo's: j never the current slot) never
// leaves an index in place, a count of 0, far outside the band.
static void test_uniform(ds_test *t) {
    size_t counts[5][5] = {{0}};
    int draws_ok = 1;
    for (uint64_t seed = 0; seed < 4000; seed++) {
        size_t idx[5] = {0, 1, 2, 3, 4};
        uint64_t draw = 0;
        ds_shuffle_indices(idx, 5, seed, DS_SPLIT_RNG_OFFSET, &draw);
        for (int pos = 0; pos < 5; pos++) counts[idx[pos]][pos]++;
        draws_ok &= draw == 8;
    }
    ds_test_check(t, draws_ok, "a shuffle of 5 uses 2 draws per swap, 4 swaps");
    for (int i = 0; i < 5; i++)
        for (int pos = 0; pos < 5; pos++)
            ds_test_check(t, fabs((double)counts[i][pos] - 800.0) <= 130.0, "index %d at position %d %zu times of 4000",
                          i, pos, counts[i][pos]);
}

static void test_stratified(ds_test *t) {
    // 111 examples of 5 classes, sizes 50, 30, 23, 7, 1, interleaved through the file.
    enum { N = 111, K = 5 };
    const size_t class_size[K] = {50, 30, 23, 7, 1};
    int32_t labels[N];
    size_t left[K];
    memcpy(left, class_size, sizeof left);
    for (size_t i = 0, c = 0; i < N; i++) {
        while (left[c % K] == 0) c++;
        labels[i] = (int32_t)(c % K);
        left[c % K]--;
        c++;
    }
    ds_err err = {0};
    ds_split s, again;
    ds_split_options o = ds_split_default_options();
    o.stratified = true;
    o.seed = 42;
    if (!ds_test_check(t, ds_split_make(N, labels, K, &o, &s, &err) == DS_OK, "%s", err.msg)) return;
    check_partition(t, "stratified", &s, N);
    const size_t *parts[3] = {s.train, s.dev, s.test};
    const size_t counts[3] = {s.n_train, s.n_dev, s.n_test};
    const double frac[3] = {o.train, o.dev, o.test};
    for (int p = 0; p < 3; p++) {
        size_t per_class[K] = {0};
        for (size_t k = 0; k < counts[p]; k++) per_class[labels[parts[p][k]]]++;
        for (int c = 0; c < K; c++) {
            const double want = (double)class_size[c] * frac[p];
            ds_test_check(t, fabs((double)per_class[c] - want) < 1.0,
                          "stratified: part %d holds %zu of class %d, %.2f expected (within 1)", p, per_class[c], c,
                          want);
        }
    }
    ds_test_check(t, ds_split_make(N, labels, K, &o, &again, &err) == DS_OK && same_split(&s, &again),
                  "stratified: the same seed must give the same split");
    ds_split_free(&s);
    ds_split_free(&again);
}

static void test_errors(ds_test *t) {
    ds_split s;
    const int32_t labels[3] = {0, 1, 2};
    const struct {
        ds_split_options o;
        const int32_t *labels;
        int32_t k;
        const char *phrase;
    } bad[] = {
        {{.train = 0.8, .dev = 0.1, .test = 0.2}, NULL, 0, "add up to 1"},
        {{.train = 1.2, .dev = -0.1, .test = -0.1}, NULL, 0, "lie in [0, 1]"},
        {{.train = 0.8, .dev = 0.1, .test = 0.1, .stratified = true}, NULL, 0, "needs one class id per example"},
        {{.train = 0.8, .dev = 0.1, .test = 0.1, .stratified = true}, labels, 2, "example 2 has class id 2 outside 0..1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ds_err err = {0};
        const ds_status st = ds_split_make(3, bad[i].labels, bad[i].k, &bad[i].o, &s, &err);
        ds_test_check(t, st == DS_ERR_INVALID_ARG && strstr(err.msg, bad[i].phrase), "case %zu: %s, \"%s\"", i,
                      ds_status_name(st), err.msg);
        ds_split_free(&s);
    }
}

// "train,dev,test" fractions as the families read data.split, and handing the parts over.
static void test_parse_and_take(ds_test *t) {
    ds_split_options o = ds_split_default_options();
    ds_err err = {0};
    ds_status st = ds_split_parse_fractions("data.split", "0.5, 0.25,0.25", &o, &err);
    ds_test_check(t, st == DS_OK && o.train == 0.5 && o.dev == 0.25 && o.test == 0.25, "parse: %s (%g, %g, %g)",
                  ds_status_name(st), o.train, o.dev, o.test);
    const char *bad[] = {"0.8,0.2", "0.8,0.1,0.1x", "", "a,b,c", "0.8;0.1;0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ds_err e = {0};
        st = ds_split_parse_fractions("data.split", bad[i], &o, &e);
        ds_test_check(t, st == DS_ERR_CONFIG && strstr(e.msg, "data.split") && strstr(e.msg, "three fractions"),
                      "parse '%s': %s, \"%s\"", bad[i], ds_status_name(st), e.msg);
    }
    ds_split s;
    st = ds_split_make(10, NULL, 0, &o, &s, &err);
    ds_test_check(t, st == DS_OK, "make: %s", err.msg);
    size_t *index[3], n[3];
    const size_t *before[3] = {s.train, s.dev, s.test};
    ds_split_take_parts(&s, index, n);
    ds_test_check(t, n[0] == 5 && n[1] == 3 && n[2] == 2 && index[0] == before[0] && index[1] == before[1] &&
                         index[2] == before[2] && s.train == NULL && s.n_train == 0,
                  "take_parts: sizes (%zu, %zu, %zu) or ownership wrong", n[0], n[1], n[2]);
    ds_split_free(&s);  // empty now: frees nothing the caller owns
    for (int k = 0; k < 3; k++) free(index[k]);
}

int main(void) {
    ds_test t = ds_test_begin("dataset_split");
    test_plain(&t);
    test_uniform(&t);
    test_stratified(&t);
    test_errors(&t);
    test_parse_and_take(&t);
    return ds_test_finish(&t);
}
