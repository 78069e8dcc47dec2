// Fuzz target: audio files (data/audio/audio_read.h) through libsndfile -- WAV, FLAC, OGG/Vorbis
// and whatever else libsndfile recognises -- and the resampler. The first input byte picks the
// call: 0 the header probe, 1 decoding to mono at the file's rate, 2 decoding resampled to
// 16 kHz (fast quality); the rest is the file. Inputs are capped at 60 s of audio (the readers'
// own max_seconds check), so a header that claims hours is refused, not decoded.
// Seeds: tests/fixtures/audio (good, truncated and corrupt files).
#include "../../data/audio/audio_read.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const int mode = data[0] % 3;
    char dir[512], path[1024];
    if (fuzz_dir_make(dir, sizeof dir, "audio") != 0) return 0;
    if (fuzz_write(dir, "audio.bin", data + 1, size - 1, path, sizeof path) == 0) {
        ds_err err = {0};
        ds_audio a = {0};
        ds_status st;
        if (mode == 0) {
            ds_audio_info info;
            st = ds_audio_probe(path, &info, &err);
        } else if (mode == 1) {
            st = ds_audio_decode_mono(path, 60.0, &a, &err);
        } else {
            ds_audio_read_options o = ds_audio_read_defaults();
            o.max_seconds = 60.0;
            o.quality = DS_RESAMPLE_QQ;
            st = ds_audio_read(path, &o, &a, &err);
        }
        fuzz_note(st, &err);
        volatile float sink = 0;
        for (int64_t i = 0; i < a.n; i++) sink += a.samples[i];
        (void)sink;
        ds_audio_free(&a);
    }
    fuzz_dir_remove(dir);
    return 0;
}
