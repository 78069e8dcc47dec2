// Reading audio files for speech recognition: libsndfile decodes WAV (PCM 8/16/24/32-bit, 32/64-bit
// float, and the other WAV codecs libsndfile knows), FLAC and OGG/Vorbis (and the other formats
// libsndfile opens); the channels are mixed down to mono as their mean (what HF/torchaudio
// pipelines do: librosa.to_mono, waveform.mean(0)), and the result is resampled to the target rate
// with libsoxr (audio_resample.h). Samples are float32 as libsndfile's sf_readf_float gives them
// (integer PCM scaled to [-1, 1), e.g. x / 32768 for 16-bit: the values soundfile.read(...,
// dtype="float32") returns; float files pass through unscaled, as in soundfile).
//
// Mono mix: the mean over channels is summed in double and rounded to float once (equal to
// numpy's float32 mean for 1 and 2 channels, and to float64 pipelines cast to float32).
//
// Errors (each message names the file): cannot open/read (DS_ERR_IO); empty file, unrecognised or
// unsupported format or encoding (DS_ERR_UNSUPPORTED); malformed, truncated or corrupt data
// (DS_ERR_FORMAT: a WAV whose data chunk is longer than the file, a FLAC/OGG stream that decodes
// fewer frames than its header announces, a decoder error); zero-length audio (DS_ERR_FORMAT);
// longer than the cap (DS_ERR_INVALID_ARG: the cap protects memory from a wrong file, 1 hour by
// default).
//
// Thread-safe: each call opens its own handle.
#ifndef DS_AUDIO_READ_H
#define DS_AUDIO_READ_H

#include <stdint.h>

#include "../../runtime/base/status.h"
#include "audio_resample.h"

#define DS_AUDIO_DEFAULT_RATE 16000
#define DS_AUDIO_DEFAULT_MAX_SECONDS 3600.0

// What the header says, without decoding.
typedef struct ds_audio_info {
    int64_t frames;     // per channel, at sample_rate
    int sample_rate;
    int channels;
    int format;         // libsndfile's SF_FORMAT_* major | subtype
    char format_name[64];  // e.g. "WAV PCM_16", "FLAC PCM_24", "OGG VORBIS"
    double seconds;     // frames / sample_rate
} ds_audio_info;

typedef struct ds_audio_read_options {
    int target_rate;              // resample to this rate; 0 keeps the file's rate
    double max_seconds;           // refuse longer files; 0 = no cap
    ds_resample_quality quality;  // resampler quality
} ds_audio_read_options;

// {16000, 3600 s, HQ}
ds_audio_read_options ds_audio_read_defaults(void);

// Decoded mono audio.
typedef struct ds_audio {
    float *samples;   // (n) host, malloc'd
    int64_t n;        // frames at sample_rate
    int sample_rate;  // the target rate (or the file's when target_rate is 0)
    int source_rate;  // the file's rate
    int source_channels;
} ds_audio;

// Opens `path` and reads its header (frames, rate, channels, format); checks that it holds audio
// (at least one frame) and that a WAV is not truncated. Does not decode.
ds_status ds_audio_probe(const char *path, ds_audio_info *info, ds_err *err);

// Decodes all of `path` to mono float32, resampled to opt->target_rate.
ds_status ds_audio_read(const char *path, const ds_audio_read_options *opt, ds_audio *out, ds_err *err);

// The same without the resampling step: mono at the file's own rate.
ds_status ds_audio_decode_mono(const char *path, double max_seconds, ds_audio *out, ds_err *err);

void ds_audio_free(ds_audio *a);

#endif
