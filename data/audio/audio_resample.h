// Sample-rate conversion with libsoxr, called exactly as python-soxr's soxr.resample() calls it
// (soxr_create with float32 I/O and soxr_quality_spec(quality, 0), the input fed to soxr_process
// in chunks of 48000 * in_rate / out_rate frames, then flushed), so the output equals python-soxr's
// for the same quality up to the libsoxr build (Debian's 0.1.3 here, python-soxr bundles its own).
//
// Quality: DS_RESAMPLE_HQ by default. That is libsoxr's SOXR_HQ (20-bit precision, passband to
// 91.3% of Nyquist), which is what Hugging Face `datasets` 2.x applies when a dataset is cast to
// Audio(sampling_rate=16000): it resamples with librosa.resample, whose default res_type is
// "soxr_hq" (librosa >= 0.10). datasets >= 3 decodes with torchcodec/FFmpeg instead, which no C
// build can reproduce bit for bit; soxr HQ is the documented recipe's resampler.
//
// Output length: round-half-up(n * out_rate / in_rate) frames, what soxr gives after its flush
// (librosa would then pad/trim to ceil(n * ratio), at most one sample more).
#ifndef DS_AUDIO_RESAMPLE_H
#define DS_AUDIO_RESAMPLE_H

#include <stdint.h>

#include "../../runtime/base/status.h"

typedef enum ds_resample_quality {
    DS_RESAMPLE_QQ = 0,   // SOXR_QQ: 'quick' cubic interpolation
    DS_RESAMPLE_LQ = 1,   // SOXR_LQ: 16-bit, 80% passband
    DS_RESAMPLE_MQ = 2,   // SOXR_MQ: 16-bit, 95% passband
    DS_RESAMPLE_HQ = 4,   // SOXR_HQ: 20-bit, 91.3% passband (the default, as librosa's soxr_hq)
    DS_RESAMPLE_VHQ = 6,  // SOXR_VHQ: 28-bit, 91.3% passband
} ds_resample_quality;

// "qq", "lq", "mq", "hq", "vhq" (also "soxr_hq" etc., as python-soxr accepts).
ds_status ds_resample_quality_parse(const char *name, ds_resample_quality *q, ds_err *err);
const char *ds_resample_quality_name(ds_resample_quality q);

// Frames the resampler produces from n input frames.
int64_t ds_resampled_length(int64_t n, int in_rate, int out_rate);

// Resamples in[0, n) (mono, host) from in_rate to out_rate into a fresh malloc'd *out of
// *out_n = ds_resampled_length(n, in_rate, out_rate) frames (the caller frees it). `what` names
// the audio in messages.
ds_status ds_resample(const float *in, int64_t n, int in_rate, int out_rate, ds_resample_quality q, const char *what,
                      float **out, int64_t *out_n, ds_err *err);

#endif
