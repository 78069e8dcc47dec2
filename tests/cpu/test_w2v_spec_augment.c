// SpecAugment's mask drawing (models/wav2vec2/w2v_spec_augment.h) against HF's
// _compute_mask_indices. The draws cannot be numpy's, so the test compares what they must share:
// in distribution, each row's mean masked fraction and mean number of masked runs over 4000 draws
// (tests/fixtures/wav2vec2/spec_augment_stats.json, from the real function with numpy's RNG), for
// settings with per-row lengths (an attention mask), rows shorter than a span (HF's dummy index),
// min_masks, and heavy masking; and exactly: determinism, spans inside each row's length,
// HF's errors.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../models/wav2vec2/w2v_spec_augment.h"
#include "../test_util.h"

// Means over 4000 draws: a row's masked fraction varies by <= ~0.15 per draw (standard error of the
// difference of two means <= 0.0034), its run count by <= ~1.5 (<= 0.034): 0.02 and 0.2 are ~6
// standard errors, while an off-by-one span count or a wrong length rule moves a mean by >= 0.05
// (fraction) or 0.5 (runs).
#define TOL_FRACTION 0.02
#define TOL_RUNS 0.2

static int runs_of(const int32_t *row, int64_t L) {
    int n = 0;
    for (int64_t i = 0; i < L; i++) n += row[i] && (i == 0 || !row[i - 1]);
    return n;
}

static void check_setting(ds_test *t, const cJSON *st, int k) {
    const int64_t B = (int64_t)cJSON_GetObjectItem(st, "B")->valuedouble, L = (int64_t)cJSON_GetObjectItem(st, "L")->valuedouble;
    const double prob = cJSON_GetObjectItem(st, "prob")->valuedouble;
    const int64_t len = (int64_t)cJSON_GetObjectItem(st, "length")->valuedouble;
    const int64_t min_masks = (int64_t)cJSON_GetObjectItem(st, "min_masks")->valuedouble;
    const int draws = (int)cJSON_GetObjectItem(st, "draws")->valuedouble;
    const cJSON *lj = cJSON_GetObjectItem(st, "lengths");
    int32_t lengths[16];
    const bool has_lengths = cJSON_IsArray(lj);
    for (int64_t b = 0; has_lengths && b < B; b++) lengths[b] = (int32_t)cJSON_GetArrayItem(lj, (int)b)->valuedouble;
    int32_t *mask = malloc(sizeof(int32_t) * (size_t)(B * L)), *scratch = malloc(sizeof(int32_t) * (size_t)L);
    double frac[16] = {0}, runs[16] = {0};
    bool inside = true, ok = true;
    ds_err err;
    ds_err_clear(&err);
    for (int d = 0; d < draws && ok; d++) {
        ok = ds_w2v_compute_mask(B, L, prob, len, min_masks, has_lengths ? lengths : NULL, 7, 1000 + (uint64_t)d, mask,
                                 scratch, "test", &err) == DS_OK;
        for (int64_t b = 0; b < B; b++) {
            const int32_t *row = mask + b * L;
            int64_t on = 0;
            for (int64_t i = 0; i < L; i++) on += row[i];
            frac[b] += (double)on / (double)L;
            runs[b] += runs_of(row, L);
            // Spans lie inside the row's length, except HF's dummy position L-1 of a row too short for one.
            const int64_t own = has_lengths ? lengths[b] : L;
            for (int64_t i = own; i < L; i++) inside &= !row[i] || (own < len && i == L - 1 && on == 1);
        }
    }
    ds_test_check(t, ok, "setting %d: %s", k, err.msg);
    ds_test_check(t, inside, "setting %d: a span outside its row's length", k);
    const cJSON *mf = cJSON_GetObjectItem(st, "mean_fraction"), *mr = cJSON_GetObjectItem(st, "mean_runs");
    for (int64_t b = 0; b < B; b++) {
        const double f = frac[b] / draws, r = runs[b] / draws;
        const double fw = cJSON_GetArrayItem(mf, (int)b)->valuedouble, rw = cJSON_GetArrayItem(mr, (int)b)->valuedouble;
        const bool good = fabs(f - fw) <= TOL_FRACTION && fabs(r - rw) <= TOL_RUNS;
        ds_test_check(t, good, "setting %d row %lld: masked fraction %.4f (HF %.4f), runs %.3f (HF %.3f)", k, (long long)b, f,
                      fw, r, rw);
        if (good && getenv("DS_TEST_VERBOSE"))
            printf("ok   setting %d row %lld: fraction %.4f vs HF %.4f, runs %.3f vs %.3f\n", k, (long long)b, f, fw, r, rw);
    }
    free(mask), free(scratch);
}

static void check_exact(ds_test *t) {
    enum { B = 3, L = 40 };
    int32_t a[B * L], b[B * L], c[B * L], scratch[L];
    ds_err err;
    ds_err_clear(&err);
    ds_w2v_compute_mask(B, L, 0.3, 4, 2, NULL, 5, 9, a, scratch, "t", &err);
    ds_w2v_compute_mask(B, L, 0.3, 4, 2, NULL, 5, 9, b, scratch, "t", &err);
    ds_w2v_compute_mask(B, L, 0.3, 4, 2, NULL, 5, 10, c, scratch, "t", &err);
    ds_test_check(t, memcmp(a, b, sizeof a) == 0, "the same (seed, offset) draws the same masks");
    ds_test_check(t, memcmp(a, c, sizeof a) != 0, "another offset draws other masks");
    // Every run is at least one span long (spans of 4, possibly overlapping or clipped at the end).
    bool spans = true;
    for (int r = 0; r < B; r++)
        for (int i = 0; i < L; i++)
            if (a[r * L + i] && (i == 0 || !a[r * L + i - 1])) {
                int n = 0;
                while (i + n < L && a[r * L + i + n]) n++;
                spans &= n >= 4 || i + n == L;
            }
    ds_test_check(t, spans, "masked runs are made of whole spans");
    // mask_prob 0 with no min_masks masks nothing; min_masks alone still masks.
    ds_w2v_compute_mask(B, L, 0.0, 4, 0, NULL, 5, 9, a, scratch, "t", &err);
    int on = 0;
    for (int i = 0; i < B * L; i++) on += a[i];
    ds_test_check(t, on == 0, "mask_prob 0 and min_masks 0 mask %d positions", on);
    ds_w2v_compute_mask(B, L, 0.0, 4, 2, NULL, 5, 9, a, scratch, "t", &err);
    for (int r = 0; r < B; r++) {
        int row = 0;
        for (int i = 0; i < L; i++) row += a[r * L + i];
        ds_test_check(t, row >= 4 && row <= 8, "min_masks 2 of span 4 masks 4..8 positions, row %d has %d", r, row);
    }
    // HF's errors.
    ds_test_check(t, ds_w2v_compute_mask(B, L, 0.1, L + 1, 0, NULL, 5, 9, a, scratch, "time mask", &err) ==
                             DS_ERR_INVALID_ARG &&
                         strstr(err.msg, "exceeds the sequence length") != NULL,
                  "a span longer than the sequence is an error: %s", err.msg);
    ds_err_clear(&err);
}

int main(void) {
    ds_test t = ds_test_begin("w2v_spec_augment");
    char path[1024];
    char *text = ds_test_read_file(ds_test_fixture("wav2vec2/spec_augment_stats.json", path, sizeof path), NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    if (ds_test_check(&t, cJSON_IsArray(j) && cJSON_GetArraySize(j) >= 4, "cannot read %s", path)) {
        int k = 0;
        const cJSON *st;
        cJSON_ArrayForEach(st, j) check_setting(&t, st, k++);
    }
    cJSON_Delete(j);
    free(text);
    check_exact(&t);
    return ds_test_finish(&t);
}
