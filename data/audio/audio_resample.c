// libsoxr driven as python-soxr's csoxr_divide_proc (see audio_resample.h).
#include "audio_resample.h"

#include <soxr.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../runtime/base/check.h"

ds_status ds_resample_quality_parse(const char *name, ds_resample_quality *q, ds_err *err) {
    const char *s = strncasecmp(name, "soxr_", 5) == 0 ? name + 5 : name;
    static const struct { const char *name; ds_resample_quality q; } k_names[] = {
        {"qq", DS_RESAMPLE_QQ}, {"lq", DS_RESAMPLE_LQ}, {"mq", DS_RESAMPLE_MQ}, {"hq", DS_RESAMPLE_HQ},
        {"vhq", DS_RESAMPLE_VHQ}};
    for (size_t i = 0; i < sizeof k_names / sizeof k_names[0]; i++)
        if (strcasecmp(s, k_names[i].name) == 0) {
            *q = k_names[i].q;
            return DS_OK;
        }
    return ds_err_set(err, DS_ERR_CONFIG, "resample quality \"%s\": expected one of qq, lq, mq, hq, vhq", name);
}

const char *ds_resample_quality_name(ds_resample_quality q) {
    switch (q) {
    case DS_RESAMPLE_QQ: return "qq";
    case DS_RESAMPLE_LQ: return "lq";
    case DS_RESAMPLE_MQ: return "mq";
    case DS_RESAMPLE_HQ: return "hq";
    case DS_RESAMPLE_VHQ: return "vhq";
    }
    return "?";
}

int64_t ds_resampled_length(int64_t n, int in_rate, int out_rate) {
    if (in_rate == out_rate) return n;
    // floor((2 n out + in) / (2 in)) = round-half-up(n * out / in), exact in integers (no overflow
    // below 2^62 / out_rate frames: days of audio at any real rate).
    return (2 * n * (int64_t)out_rate + in_rate) / (2 * (int64_t)in_rate);
}

ds_status ds_resample(const float *in, int64_t n, int in_rate, int out_rate, ds_resample_quality q, const char *what,
                      float **out, int64_t *out_n, ds_err *err) {
    *out = NULL;
    *out_n = 0;
    DS_REQUIRE(err, in_rate > 0 && out_rate > 0 && n >= 0, DS_ERR_INVALID_ARG,
               "%s: cannot resample %lld frames from %d Hz to %d Hz", what, (long long)n, in_rate, out_rate);
    const int64_t want = ds_resampled_length(n, in_rate, out_rate);
    // python-soxr's buffer: ilen * out_rate / in_rate + 1 frames (double arithmetic, truncated).
    const size_t olen = (size_t)((double)n * out_rate / in_rate) + 1;
    float *y = calloc(olen, sizeof *y);
    if (y == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory resampling %lld frames", what, (long long)n);
    if (in_rate == out_rate) {
        if (n) memcpy(y, in, (size_t)n * sizeof *y);
        *out = y;
        *out_n = n;
        return DS_OK;
    }
    soxr_error_t e = NULL;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t qs = soxr_quality_spec((unsigned long)q, 0);
    soxr_t s = soxr_create(in_rate, out_rate, 1, &e, &io, &qs, NULL);
    if (e != NULL) {
        free(y);
        return ds_err_set(err, DS_ERR_INTERNAL, "%s: libsoxr cannot resample %d Hz -> %d Hz: %s", what, in_rate, out_rate,
                          e);
    }
    const size_t chunk = (size_t)(48000.0 * in_rate / out_rate);
    size_t pos = 0, done = 0;
    for (size_t at = 0; at < (size_t)n && e == NULL; at += chunk) {
        const size_t len = (size_t)n - at < chunk ? (size_t)n - at : chunk;
        e = soxr_process(s, in + at, len, NULL, y + pos, olen - pos, &done);
        pos += done;
    }
    if (e == NULL) {
        e = soxr_process(s, NULL, 0, NULL, y + pos, olen - pos, &done);  // flush
        pos += done;
    }
    soxr_delete(s);
    if (e != NULL) {
        free(y);
        return ds_err_set(err, DS_ERR_INTERNAL, "%s: libsoxr failed resampling %d Hz -> %d Hz: %s", what, in_rate,
                          out_rate, e);
    }
    if ((int64_t)pos != want) {
        free(y);
        return ds_err_set(err, DS_ERR_INTERNAL, "%s: libsoxr gave %zu frames for %lld at %d -> %d Hz, expected %lld", what,
                          pos, (long long)n, in_rate, out_rate, (long long)want);
    }
    *out = y;
    *out_n = want;
    return DS_OK;
}
