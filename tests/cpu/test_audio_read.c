// Audio reading (data/audio/audio_read.h) against soundfile, python-soxr and transformers'
// Wav2Vec2FeatureExtractor (scripts/fixtures/audio_data.py): every fixture file's header (rate,
// channels, frames, format), its samples mixed to mono, resampled to 16 kHz, and normalised; then
// every bad-input case: missing, empty, unrecognised, unsupported, corrupt, truncated WAV / FLAC /
// OGG, zero-length audio, the duration cap.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/audio/audio_read.h"
#include "../../data/audio/w2v2_features.h"
#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

static const char *audio_fixture(const char *name, char *buf, size_t cap) {
    char rel[256];
    snprintf(rel, sizeof rel, "audio/%s", name);
    return ds_test_fixture(rel, buf, cap);
}

static cJSON *load_json(ds_test *t, const char *name) {
    char path[512];
    char *text = ds_test_read_file(audio_fixture(name, path, sizeof path), NULL);
    ds_test_check(t, text != NULL, "%s: cannot read", path);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    ds_test_check(t, j != NULL, "%s: not JSON", name);
    return j;
}

// max |got - want| over n values, and whether every value is identical.
static double max_abs_diff(const float *got, const float *want, int64_t n, bool *identical) {
    double worst = 0.0;
    *identical = true;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - (double)want[i]);
        if (d > worst) worst = d;
        if (got[i] != want[i]) *identical = false;
    }
    return worst;
}

// Compares `got` with the fixture tensor `key`: lengths equal and max |diff| <= tol (tol 0:
// bit-identical). Prints the worst difference.
static void compare(ds_test *t, const ds_st_file *f, const char *key, const float *got, int64_t n, double tol) {
    ds_tensor want;
    ds_err err = {0};
    if (!ds_test_check(t, ds_st_view(f, key, DS_F32, &want, &err) == DS_OK, "%s", err.msg)) return;
    const int64_t wn = ds_tensor_numel(&want);
    if (!ds_test_check(t, wn == n, "%s: %lld samples, soundfile/soxr gave %lld", key, (long long)n, (long long)wn))
        return;
    bool same = false;
    const double d = max_abs_diff(got, want.data, n, &same);
    ds_test_check(t, tol == 0.0 ? same : d <= tol, "%s: max |diff| %.3g > %.3g", key, d, tol);
    printf("  %-28s %6lld samples  max |diff| %.3g%s\n", key, (long long)n, d, same ? " (identical)" : "");
}

static bool is_vorbis(const char *name) { return strstr(name, ".ogg") != NULL; }

static void check_files(ds_test *t) {
    cJSON *facts = load_json(t, "decode.json");
    char path[512];
    ds_st_file golden;
    ds_err err = {0};
    if (!facts || !ds_test_check(t, ds_st_open(audio_fixture("decode.safetensors", path, sizeof path), &golden, &err) ==
                                        DS_OK, "%s", err.msg)) {
        cJSON_Delete(facts);
        return;
    }
    int files = 0;
    for (const cJSON *e = facts->child; e; e = e->next, files++) {
        const char *name = e->string;
        char stem[128], key[160];
        snprintf(stem, sizeof stem, "%s", name);
        *strrchr(stem, '.') = '\0';
        audio_fixture(name, path, sizeof path);
        ds_audio_info info;
        if (!ds_test_check(t, ds_audio_probe(path, &info, &err) == DS_OK, "%s", err.msg)) continue;
        ds_test_check(t, info.sample_rate == cJSON_GetObjectItem(e, "rate")->valueint &&
                             info.channels == cJSON_GetObjectItem(e, "channels")->valueint &&
                             info.frames == cJSON_GetObjectItem(e, "frames")->valueint,
                      "%s: header %d Hz x %d ch x %lld frames differs from soundfile's", name, info.sample_rate,
                      info.channels, (long long)info.frames);
        ds_test_check(t, strcmp(info.format_name, cJSON_GetObjectItem(e, "format")->valuestring) == 0,
                      "%s: format \"%s\", soundfile says \"%s\"", name, info.format_name,
                      cJSON_GetObjectItem(e, "format")->valuestring);
        // Mono at the file's rate. PCM, FLAC and float decode through the same libsndfile code as
        // soundfile's (Debian 1.2.0 here, 1.2.2 in the wheel): bit-identical. Vorbis is decoded by
        // libvorbis in float arithmetic whose rounding depends on the build (the wheel bundles its
        // own libvorbis, compiled differently): 1e-6 of full scale (-120 dB), far below 16-bit
        // quantisation (3e-5), bounds that.
        const double decode_tol = is_vorbis(name) ? 1e-6 : 0.0;
        ds_audio mono;
        if (ds_test_check(t, ds_audio_decode_mono(path, 0, &mono, &err) == DS_OK, "%s", err.msg)) {
            snprintf(key, sizeof key, "%s.mono", stem);
            compare(t, &golden, key, mono.samples, mono.n, decode_tol);
            ds_test_check(t, mono.sample_rate == info.sample_rate && mono.source_channels == info.channels,
                          "%s: rate/channels of the decoded audio", name);
            ds_audio_free(&mono);
        }
        // Resampled to 16 kHz with soxr HQ: the same libsoxr algorithm and call sequence as
        // python-soxr, from a different build (Debian's 0.1.3 vs the wheel's 0.1.3-14). Here the
        // outputs are bit-identical; 2e-6 of full scale leaves room for another build's float32
        // rounding order (1e-7 per tap over the filter's taps), and Vorbis' own 1e-6 on top.
        const double resample_tol = info.sample_rate == 16000 ? decode_tol : 2e-6 + decode_tol;
        ds_audio_read_options ro = ds_audio_read_defaults();
        ds_audio a;
        if (ds_test_check(t, ds_audio_read(path, &ro, &a, &err) == DS_OK, "%s", err.msg)) {
            snprintf(key, sizeof key, "%s.r16k", stem);
            compare(t, &golden, key, a.samples, a.n, resample_tol);
            ds_test_check(t, a.n == cJSON_GetObjectItem(e, "r16k_frames")->valueint &&
                                 a.n == ds_resampled_length(info.frames, info.sample_rate, 16000),
                          "%s: %lld samples at 16 kHz, the length formula says %lld", name, (long long)a.n,
                          (long long)ds_resampled_length(info.frames, info.sample_rate, 16000));
            // Wav2Vec2FeatureExtractor: HF sums in float32 (numpy pairwise), here in double: the
            // outputs (unit variance, |x| up to ~3) agree to ~1e-6; 1e-5 absolute leaves room for
            // the inputs' own differences above, scaled by 1/std (~4).
            snprintf(key, sizeof key, "%s.norm", stem);
            if (ds_st_find(&golden, key)) {
                ds_w2v2_normalize(a.samples, a.n);
                compare(t, &golden, key, a.samples, a.n, 1e-5);
            }
            ds_audio_free(&a);
        }
    }
    ds_test_check(t, files == 10, "decode.json lists %d files, expected 10", files);
    ds_st_close(&golden);
    cJSON_Delete(facts);
}

// Reading `name` fails with `status` and a message that holds the path and `phrase`.
static void expect_error(ds_test *t, const char *name, double cap, ds_status status, const char *phrase) {
    char path[512];
    audio_fixture(name, path, sizeof path);
    ds_audio_read_options ro = ds_audio_read_defaults();
    ro.max_seconds = cap;
    ds_audio a = {0};
    ds_err err = {0};
    const ds_status s = ds_audio_read(path, &ro, &a, &err);
    ds_test_check(t, s == status && strstr(err.msg, path) && strstr(err.msg, phrase),
                  "%s: status %s, message \"%s\"; expected %s with \"%s\"", name, ds_status_name(s), err.msg,
                  ds_status_name(status), phrase);
    ds_test_check(t, a.samples == NULL && a.n == 0, "%s: a failed read leaves samples behind", name);
    printf("  %-22s -> %s\n", name, err.msg);
}

static void check_errors(ds_test *t) {
    expect_error(t, "no_such_file.wav", 0, DS_ERR_IO, "cannot open");
    expect_error(t, "empty.wav", 0, DS_ERR_UNSUPPORTED, "empty file");
    expect_error(t, "notaudio.wav", 0, DS_ERR_UNSUPPORTED, "unsupported or unrecognised format");
    expect_error(t, "unsupported.m4a", 0, DS_ERR_UNSUPPORTED, "unsupported or unrecognised format");
    expect_error(t, "corrupt.wav", 0, DS_ERR_FORMAT, "corrupt");
    expect_error(t, "truncated.wav", 0, DS_ERR_FORMAT, "truncated WAV");
    expect_error(t, "truncated.flac", 0, DS_ERR_FORMAT, "truncated or corrupt");
    expect_error(t, "truncated.ogg", 0, DS_ERR_FORMAT, "truncated or corrupt");
    expect_error(t, "zero_frames.wav", 0, DS_ERR_FORMAT, "zero-length audio");
    expect_error(t, "pcm16_16k_mono.wav", 0.1, DS_ERR_INVALID_ARG, "over the cap of");
    // The same files through the header-only probe.
    char path[512];
    ds_audio_info info;
    ds_err err = {0};
    ds_test_check(t, ds_audio_probe(audio_fixture("zero_frames.wav", path, sizeof path), &info, &err) == DS_ERR_FORMAT,
                  "probe of a zero-length file: %s", err.msg);
    ds_err_clear(&err);
    ds_test_check(t, ds_audio_probe(audio_fixture("truncated.wav", path, sizeof path), &info, &err) == DS_ERR_FORMAT,
                  "probe of a truncated WAV: %s", err.msg);
}

// Mono mixing is the mean of the channels, and the header-only probe agrees with decoding.
static void check_options(ds_test *t) {
    char path[512];
    ds_err err = {0};
    ds_audio_read_options ro = ds_audio_read_defaults();
    ds_test_check(t, ro.target_rate == 16000 && ro.quality == DS_RESAMPLE_HQ && ro.max_seconds == 3600.0,
                  "defaults: %d Hz, quality %d, cap %g s", ro.target_rate, (int)ro.quality, ro.max_seconds);
    ro.target_rate = 0;  // keep the file's rate
    ds_audio a;
    if (ds_test_check(t, ds_audio_read(audio_fixture("pcm24_44k_stereo.wav", path, sizeof path), &ro, &a, &err) == DS_OK,
                      "%s", err.msg)) {
        ds_test_check(t, a.sample_rate == 44100 && a.n == 2205, "target_rate 0 keeps 44100 Hz: %d Hz, %lld frames",
                      a.sample_rate, (long long)a.n);
        ds_audio_free(&a);
    }
    ro.target_rate = 8000;
    if (ds_test_check(t, ds_audio_read(audio_fixture("pcm16_16k_mono.wav", path, sizeof path), &ro, &a, &err) == DS_OK,
                      "%s", err.msg)) {
        ds_test_check(t, a.sample_rate == 8000 && a.n == 1600, "16 kHz -> 8 kHz: %d Hz, %lld frames", a.sample_rate,
                      (long long)a.n);
        ds_audio_free(&a);
    }
    ds_w2v2_feature_config fe = ds_w2v2_feature_defaults();
    ds_test_check(t, ds_w2v2_check_sampling_rate(&fe, 16000, "x", &err) == DS_OK, "16 kHz accepted");
    ds_test_check(t, ds_w2v2_check_sampling_rate(&fe, 8000, "utt7", &err) == DS_ERR_INVALID_ARG &&
                         strstr(err.msg, "utt7") && strstr(err.msg, "16000"),
                  "8 kHz refused as HF does: %s", err.msg);
    float x[4] = {1, 2, 3, 4};  // mean 2.5, var 1.25
    ds_w2v2_normalize(x, 4);
    const double s = sqrt(1.25 + 1e-7);
    ds_test_check(t, fabs(x[0] - (-1.5 / s)) < 1e-7 && fabs(x[3] - 1.5 / s) < 1e-7, "normalize: %g %g", x[0], x[3]);
    float z[3] = {0.25f, 0.25f, 0.25f};  // zero variance: (x - mean) / sqrt(1e-7) = 0
    ds_w2v2_normalize(z, 3);
    ds_test_check(t, z[0] == 0.0f && z[2] == 0.0f, "normalize of a constant: %g", z[0]);
}

int main(void) {
    ds_test t = ds_test_begin("audio_read");
    check_files(&t);
    check_errors(&t);
    check_options(&t);
    return ds_test_finish(&t);
}
