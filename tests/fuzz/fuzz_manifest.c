// Fuzz target: dataset manifests -- the speech manifest (data/audio/speech_dataset.h: CSV, TSV or
// JSON Lines of audio paths and transcripts), the segmentation list file (data/image/
// seg_dataset.h: CSV, TSV or JSON Lines of image and mask paths) and the segmentation class-names
// file. The first input byte picks the reader and format (0-2 speech csv/tsv/jsonl, 3-5
// segmentation csv/tsv/jsonl, 6 class names; bit 3: no header / unlabelled); the rest is the file.
// The folder also holds a.wav (10 ms of silence at 16 kHz), so rows that name it reach the audio
// header check and the duration filter. Seeds: tests/fixtures (speech and image manifests).
#include <string.h>

#include "../../data/audio/speech_dataset.h"
#include "../../data/image/seg_dataset.h"
#include "fuzz_util.h"

// A 16-bit mono WAV at 16 kHz with 160 zero samples: 44 header bytes + 320 data bytes.
static void tiny_wav(uint8_t *w) {
    memset(w, 0, 364);
    memcpy(w, "RIFF", 4);
    const uint32_t riff = 356, fmt = 16, rate = 16000, byte_rate = 32000, data = 320;
    memcpy(w + 4, &riff, 4);  // little-endian host (x86-64, aarch64), as WAV
    memcpy(w + 8, "WAVEfmt ", 8);
    memcpy(w + 16, &fmt, 4);
    w[20] = 1;  // PCM
    w[22] = 1;  // mono
    memcpy(w + 24, &rate, 4);
    memcpy(w + 28, &byte_rate, 4);
    w[32] = 2;   // block align
    w[34] = 16;  // bits per sample
    memcpy(w + 36, "data", 4);
    memcpy(w + 40, &data, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const int mode = (data[0] & 7) % 7;
    const bool flag = (data[0] & 8) != 0;
    static const char *const names[7] = {"m.csv", "m.tsv", "m.jsonl", "l.csv", "l.tsv", "l.jsonl", "classes.txt"};
    char dir[512], path[1024], wav_path[1024];
    if (fuzz_dir_make(dir, sizeof dir, "manifest") != 0) return 0;
    uint8_t wav[364];
    tiny_wav(wav);
    if (fuzz_write(dir, "a.wav", wav, sizeof wav, wav_path, sizeof wav_path) != 0 ||
        fuzz_write(dir, names[mode], data + 1, size - 1, path, sizeof path) != 0)
        goto out;
    ds_err err = {0};
    if (mode < 3) {
        ds_speech_dataset_options o = ds_speech_dataset_default_options();
        if (flag) o.text_column = NULL;
        o.max_seconds = 1.0;
        ds_speech_dataset d;
        const ds_status st = ds_speech_dataset_load(path, &o, &d, &err);
        fuzz_note(st, &err);
        if (st == DS_OK) {
            volatile size_t sink = 0;
            for (size_t i = 0; i < d.count; i++) {
                sink += strlen(ds_speech_dataset_path(&d, i));
                const char *t = ds_speech_dataset_text(&d, i);
                if (t) sink += strlen(t);
            }
            (void)sink;
        }
        ds_speech_dataset_free(&d);
    } else if (mode < 6) {
        ds_seg_dataset_options o = ds_seg_dataset_default_options();
        o.num_classes = 21;
        o.has_header = !flag;
        o.check_files = false;  // rows name files that mostly do not exist; the reader itself is the target
        ds_seg_dataset d;
        const ds_status st = ds_seg_dataset_open_list(path, &o, &d, &err);
        fuzz_note(st, &err);
        if (st == DS_OK) {
            volatile size_t sink = 0;
            for (size_t i = 0; i < d.count; i++) sink += strlen(d.images[i]) + strlen(d.masks[i]) + strlen(d.ids[i]);
            (void)sink;
        }
        ds_seg_dataset_free(&d);
    } else {
        ds_label_map names_map;
        ds_label_map_init(&names_map);
        fuzz_note(ds_seg_read_class_names(path, &names_map, &err), &err);
        ds_label_map_free(&names_map);
    }
out:
    fuzz_dir_remove(dir);
    return 0;
}
