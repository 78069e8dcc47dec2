// Resampling (data/audio/audio_resample.h) against python-soxr's soxr.resample on hash noise
// (the input is a formula both sides compute, scripts/fixtures/audio_data.py hash_noise): several
// rate pairs, every quality, 1- and 7-frame inputs, and long inputs that cross python-soxr's
// feeding chunks (slices and sums of the output are stored); the length formula; the quality names.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/audio/audio_resample.h"
#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

// Same libsoxr algorithm and call sequence as python-soxr, a different build of it (Debian's 0.1.3
// vs the wheel's): outputs are bit-identical here; 2e-6 of the input's full scale (0.5) leaves
// room for another build's float32 rounding order over the filter's taps (1e-7 each).
#define RESAMPLE_TOL 2e-6

// The fixture's hash_noise: splitmix64(seed * 2^32 + i) >> 40, / 2^24 - 0.5, exact in float32.
static float hash_noise(uint64_t seed, uint64_t i) {
    uint64_t z = (seed << 32) + i + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 40) / 16777216.0 - 0.5);
}

static float *noise(uint64_t seed, int64_t n) {
    float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
    for (int64_t i = 0; x && i < n; i++) x[i] = hash_noise(seed, (uint64_t)i);
    return x;
}

static double max_diff(const float *a, const float *b, int64_t n, bool *same) {
    double worst = 0.0;
    *same = true;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        worst = d > worst ? d : worst;
        *same = *same && a[i] == b[i];
    }
    return worst;
}

static int item_int(const cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k)->valueint; }

static void check_case(ds_test *t, const ds_st_file *f, const cJSON *c, int k) {
    const int a = item_int(c, "in_rate"), b = item_int(c, "out_rate"), n = item_int(c, "frames");
    const char *qn = cJSON_GetObjectItem(c, "quality")->valuestring;
    ds_resample_quality q;
    ds_err err = {0};
    if (!ds_test_check(t, ds_resample_quality_parse(qn, &q, &err) == DS_OK, "%s", err.msg)) return;
    float *x = noise((uint64_t)item_int(c, "seed"), n), *y = NULL;
    int64_t m = 0;
    char key[64], what[64];
    snprintf(key, sizeof key, "case%d.out", k);
    snprintf(what, sizeof what, "case %d (%d -> %d Hz, %s, %d frames)", k, a, b, qn, n);
    ds_tensor want;
    if (ds_test_check(t, ds_resample(x, n, a, b, q, what, &y, &m, &err) == DS_OK, "%s", err.msg) &&
        ds_test_check(t, ds_st_view(f, key, DS_F32, &want, &err) == DS_OK, "%s", err.msg) &&
        ds_test_check(t, ds_tensor_numel(&want) == m, "%s: %lld frames, soxr gave %lld", what, (long long)m,
                      (long long)ds_tensor_numel(&want))) {
        bool same = false;
        const double d = max_diff(y, want.data, m, &same);
        ds_test_check(t, d <= RESAMPLE_TOL, "%s: max |diff| %.3g", what, d);
        ds_test_check(t, m == ds_resampled_length(n, a, b), "%s: length formula", what);
        printf("  %-40s max |diff| %.3g%s\n", what, d, same ? " (identical)" : "");
    }
    free(x);
    free(y);
}

static void check_long(ds_test *t, const ds_st_file *f, const cJSON *c) {
    const int k = item_int(c, "long"), a = item_int(c, "in_rate"), b = item_int(c, "out_rate"), n = item_int(c, "frames");
    float *x = noise((uint64_t)item_int(c, "seed"), n), *y = NULL;
    int64_t m = 0;
    ds_err err = {0};
    char key[64], what[64];
    snprintf(what, sizeof what, "long %d (%d -> %d Hz, %d frames)", k, a, b, n);
    if (!ds_test_check(t, ds_resample(x, n, a, b, DS_RESAMPLE_HQ, what, &y, &m, &err) == DS_OK, "%s", err.msg)) {
        free(x);
        return;
    }
    double worst = 0.0;
    for (int s = 0; s < item_int(c, "slices"); s++) {
        ds_tensor want, start;
        snprintf(key, sizeof key, "long%d.slice%d", k, s);
        if (!ds_test_check(t, ds_st_view(f, key, DS_F32, &want, &err) == DS_OK, "%s", err.msg)) break;
        snprintf(key, sizeof key, "long%d.start%d", k, s);
        if (!ds_test_check(t, ds_st_view(f, key, DS_I64, &start, &err) == DS_OK, "%s", err.msg)) break;
        const int64_t at = *(const int64_t *)start.data, len = ds_tensor_numel(&want);
        if (!ds_test_check(t, at >= 0 && at + len <= m, "%s: slice %d at %lld past the end (%lld)", what, s,
                           (long long)at, (long long)m))
            break;
        bool same = false;
        const double d = max_diff(y + at, want.data, len, &same);
        worst = d > worst ? d : worst;
    }
    ds_test_check(t, worst <= RESAMPLE_TOL, "%s: max |diff| %.3g over the slices", what, worst);
    ds_tensor sums;
    snprintf(key, sizeof key, "long%d.sums", k);
    if (ds_test_check(t, ds_st_view(f, key, DS_F64, &sums, &err) == DS_OK, "%s", err.msg)) {
        const double *w = sums.data;
        double s1 = 0, s2 = 0;
        for (int64_t i = 0; i < m; i++) {
            s1 += y[i];
            s2 += (double)y[i] * y[i];
        }
        // Sums over ~1e5 values each within RESAMPLE_TOL: |sum diff| <= m * tol.
        ds_test_check(t, (double)m == w[2] && fabs(s1 - w[0]) <= m * RESAMPLE_TOL && fabs(s2 - w[1]) <= m * RESAMPLE_TOL,
                      "%s: %lld frames (soxr %.0f), sum %.9g vs %.9g, sum of squares %.9g vs %.9g", what, (long long)m,
                      w[2], s1, w[0], s2, w[1]);
        printf("  %-40s max |diff| %.3g over the slices; sums %.3g / %.3g apart\n", what, worst, fabs(s1 - w[0]),
               fabs(s2 - w[1]));
    }
    free(x);
    free(y);
}

static void check_basics(ds_test *t) {
    ds_test_check(t, ds_resampled_length(3, 8000, 16000) == 6 && ds_resampled_length(2205, 44100, 16000) == 800 &&
                         ds_resampled_length(1, 44100, 16000) == 0 && ds_resampled_length(2, 44100, 16000) == 1 &&
                         ds_resampled_length(11, 22050, 16000) == 8 && ds_resampled_length(5, 16000, 16000) == 5,
                  "length formula: round half up of n * out / in");
    const char *names[] = {"hq", "HQ", "soxr_hq", "vhq", "qq", "lq", "mq"};
    const ds_resample_quality want[] = {DS_RESAMPLE_HQ, DS_RESAMPLE_HQ, DS_RESAMPLE_HQ, DS_RESAMPLE_VHQ,
                                        DS_RESAMPLE_QQ, DS_RESAMPLE_LQ, DS_RESAMPLE_MQ};
    ds_err err = {0};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ds_resample_quality q = DS_RESAMPLE_QQ;
        ds_test_check(t, ds_resample_quality_parse(names[i], &q, &err) == DS_OK && q == want[i], "quality \"%s\"",
                      names[i]);
    }
    ds_resample_quality q;
    ds_test_check(t, ds_resample_quality_parse("best", &q, &err) == DS_ERR_CONFIG && strstr(err.msg, "best"),
                  "an unknown quality is refused: %s", err.msg);
    float x[4] = {0};
    float *y = NULL;
    int64_t m = 0;
    ds_err_clear(&err);
    ds_test_check(t, ds_resample(x, 4, 0, 16000, DS_RESAMPLE_HQ, "utt", &y, &m, &err) == DS_ERR_INVALID_ARG &&
                         strstr(err.msg, "utt") && y == NULL,
                  "a zero input rate is refused: %s", err.msg);
}

int main(void) {
    ds_test t = ds_test_begin("audio_resample");
    char path[512];
    ds_st_file f;
    ds_err err = {0};
    if (ds_test_check(&t, ds_st_open(ds_test_fixture("audio/resample.safetensors", path, sizeof path), &f, &err) == DS_OK,
                      "%s", err.msg)) {
        cJSON *meta = cJSON_Parse(ds_st_meta_get(&f, "cases"));
        int k = 0, longs = 0;
        for (const cJSON *c = meta ? meta->child : NULL; c; c = c->next) {
            if (cJSON_GetObjectItem(c, "long")) {
                check_long(&t, &f, c);
                longs++;
            } else {
                check_case(&t, &f, c, k++);
            }
        }
        ds_test_check(&t, k == 13 && longs == 2, "%d cases and %d long ones in the fixture", k, longs);
        cJSON_Delete(meta);
        ds_st_close(&f);
    }
    check_basics(&t);
    return ds_test_finish(&t);
}
