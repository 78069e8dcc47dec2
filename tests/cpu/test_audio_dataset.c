// Speech manifests and batches (data/audio/speech_dataset.h, speech_batch.h): the fixture
// manifest as CSV, TSV (other column names) and JSONL (HF's {"path": ...} audio objects) loads the
// same utterances with lengths known up front; the recipe's duration filter (strict bounds,
// counted); labels from the recipe's normalisation and tokenizer; a packed batch equal to the
// recipe's prepare_dataset + DataCollatorCTCWithPadding output (scripts/fixtures/audio_data.py);
// the same batches through the prefetching loader with workers; group_by_length; bad manifests.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/audio/speech_batch.h"
#include "../../data/audio/w2v2_processor.h"
#include "../../data/common/batch_loader.h"
#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

static const char *audio_fixture(const char *name, char *buf, size_t cap) {
    char rel[256];
    snprintf(rel, sizeof rel, "audio/%s", name);
    return ds_test_fixture(rel, buf, cap);
}

static const char *const k_texts[4] = {"Hello, World!", "The quick brown fox.", "naïve café -- 42", "ΣΟΦΙΑ 🙂"};
static const int64_t k_lengths[4] = {3200, 800, 4800, 4800};  // at 16 kHz (decode.json's r16k_frames)

static bool load(ds_test *t, const char *name, const ds_speech_dataset_options *o, ds_speech_dataset *d) {
    char path[512];
    ds_err err = {0};
    return ds_test_check(t, ds_speech_dataset_load(audio_fixture(name, path, sizeof path), o, d, &err) == DS_OK, "%s: %s",
                         name, err.msg);
}

static void check_manifests(ds_test *t) {
    ds_speech_dataset_options o = ds_speech_dataset_default_options();
    const char *names[3] = {"manifest.csv", "manifest.tsv", "manifest.jsonl"};
    for (int m = 0; m < 3; m++) {
        o.audio_column = m == 1 ? "path" : "audio";
        o.text_column = m == 1 ? "sentence" : "text";
        ds_speech_dataset d;
        if (!load(t, names[m], &o, &d)) continue;
        bool ok = d.count == 4 && d.has_labels && d.max_length == 4800 && d.skipped_long == 0;
        for (size_t i = 0; ok && i < 4; i++) {
            ok = d.utts[i].length == k_lengths[i] && strcmp(ds_speech_dataset_text(&d, i), k_texts[i]) == 0 &&
                 strstr(ds_speech_dataset_path(&d, i), "tests/fixtures/audio/") != NULL;
        }
        ds_test_check(t, ok, "%s: 4 utterances with their lengths, transcripts and resolved paths", names[m]);
        ds_test_check(t, d.utts[2].source_rate == 8000 && d.utts[2].channels == 2 && d.utts[2].frames == 2400 &&
                             d.utts[0].line == (m == 2 ? 1 : 2) && fabs(d.total_seconds - 13600.0 / 16000) < 1e-12,
                      "%s: header facts and manifest lines", names[m]);
        char buf[512];
        printf("  %s\n", ds_speech_dataset_summary(&d, buf, sizeof buf));
        ds_speech_dataset_free(&d);
    }
    // The duration filter: min * rate < length < max * rate, strict, on the 16 kHz length.
    o = ds_speech_dataset_default_options();
    o.max_seconds = 0.3;  // 4800 samples: the 0.3 s files are not < 4800
    o.min_seconds = 0.05;  // 800 samples: the 0.05 s file is not > 800
    ds_speech_dataset d;
    if (load(t, "manifest.csv", &o, &d)) {
        ds_test_check(t, d.count == 1 && d.skipped_long == 2 && d.skipped_short == 1 && d.utts[0].length == 3200,
                      "filter: %zu kept, %zu long, %zu short", d.count, d.skipped_long, d.skipped_short);
        ds_speech_dataset_free(&d);
    }
    o.max_seconds = 0.01;
    o.min_seconds = 0;
    char path[512];
    ds_err err = {0};
    ds_test_check(t, ds_speech_dataset_load(audio_fixture("manifest.csv", path, sizeof path), &o, &d, &err) ==
                             DS_ERR_FORMAT && strstr(err.msg, "no utterances") && strstr(err.msg, "4 skipped"),
                  "everything filtered: %s", err.msg);
    o = ds_speech_dataset_default_options();
    o.text_column = NULL;  // unlabelled: prediction
    if (load(t, "manifest.csv", &o, &d)) {
        ds_test_check(t, !d.has_labels && ds_speech_dataset_text(&d, 0) == NULL, "unlabelled manifest");
        ds_speech_dataset_free(&d);
    }
}

// The recipe's normalisation with the fixture's chars_to_ignore.
static bool recipe_class(ds_test *t, ds_char_class *cls) {
    char path[512];
    char *text = ds_test_read_file(audio_fixture("tokenizer.json", path, sizeof path), NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    char chars[256] = "";
    const cJSON *list = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "recipe"), "chars_to_ignore");
    for (const cJSON *e = list ? list->child : NULL; e; e = e->next) strncat(chars, e->valuestring, 200 - strlen(chars));
    cJSON_Delete(j);
    ds_err err = {0};
    return ds_test_check(t, list && ds_char_class_compile(chars, cls, &err) == DS_OK, "chars_to_ignore: %s", err.msg);
}

typedef struct loader_ctx {
    const ds_speech_dataset *d;
    const ds_speech_pack_options *opt;
    const ds_speech_batch_layout *layout;
} loader_ctx;

// Batch b: utterances {b, (b + 1) % 4, (b + 3) % 4}.
static ds_status produce(void *user, int64_t b, void *slot, ds_err *err) {
    const loader_ctx *c = user;
    const size_t idx[3] = {(size_t)b % 4, (size_t)(b + 1) % 4, (size_t)(b + 3) % 4};
    return ds_speech_batch_pack(c->d, c->opt, c->layout, idx, 3, b, slot, err);
}

static void check_batches(ds_test *t) {
    char path[512];
    ds_err err = {0};
    ds_w2v2_processor proc;
    ds_speech_dataset d;
    ds_char_class cls;
    if (!ds_test_check(t, ds_w2v2_processor_load(audio_fixture("recipe_v5", path, sizeof path), &proc, &err) == DS_OK,
                       "%s", err.msg))
        return;
    ds_speech_dataset_options o = ds_speech_dataset_default_options();
    if (!recipe_class(t, &cls) || !load(t, "manifest.csv", &o, &d)) {
        ds_w2v2_processor_free(&proc);
        return;
    }
    const ds_ctc_text_norm norm = ds_ctc_text_norm_recipe(&cls);
    ds_test_check(t, ds_speech_dataset_encode_labels(&d, &proc.tokenizer, &norm, DS_CTC_OOV_ERROR, &err) == DS_OK,
                  "%s", err.msg);
    ds_speech_pack_options po = ds_speech_pack_defaults();
    po.features = proc.features;
    ds_speech_batch_layout layout;
    ds_st_file golden;
    void *slot = NULL;
    if (ds_test_check(t, ds_speech_batch_layout_init(&layout, &d, 4, &po, 0, 0, &err) == DS_OK, "%s", err.msg) &&
        ds_test_check(t, ds_st_open(audio_fixture("batch.safetensors", path, sizeof path), &golden, &err) == DS_OK, "%s",
                      err.msg)) {
        slot = malloc(layout.bytes);
        ds_tensor want_x, want_len, want_lab, order;
        ds_st_view(&golden, "input_values", DS_F32, &want_x, &err);
        ds_st_view(&golden, "lengths", DS_I32, &want_len, &err);
        ds_st_view(&golden, "labels", DS_I32, &want_lab, &err);
        ds_test_check(t, ds_st_view(&golden, "order", DS_I64, &order, &err) == DS_OK, "%s", err.msg);
        size_t idx[3];
        for (int i = 0; i < 3; i++) idx[i] = (size_t)((const int64_t *)order.data)[i];
        if (ds_test_check(t, ds_speech_batch_pack(&d, &po, &layout, idx, 3, 7, slot, &err) == DS_OK, "%s", err.msg)) {
            const ds_speech_batch b = ds_speech_batch_view(&layout, slot);
            ds_test_check(t, b.B == 3 && b.S == want_x.shape[1] && b.L == want_lab.shape[1] && b.batch_index == 7 &&
                                 b.use_attention_mask,
                          "batch shape (%lld, %lld), labels (%lld, %lld); HF (3, %lld), (3, %lld)", (long long)b.B,
                          (long long)b.S, (long long)b.B, (long long)b.L, (long long)want_x.shape[1],
                          (long long)want_lab.shape[1]);
            const int64_t n = b.B * b.S;
            // Normalised audio: HF's float32 pairwise sums vs double here (see test_audio_read):
            // 1e-5 absolute on unit-variance values; padding must be exactly 0.
            double worst = 0.0;
            bool pad_exact = true;
            for (int64_t i = 0; i < n && b.S == want_x.shape[1]; i++) {
                const double diff = fabs(b.audio[i] - ((const float *)want_x.data)[i]);
                worst = diff > worst ? diff : worst;
                if (i % b.S >= b.audio_lengths[i / b.S]) pad_exact = pad_exact && b.audio[i] == 0.0f;
            }
            ds_test_check(t, worst <= 1e-5 && pad_exact, "input_values: max |diff| %.3g, padding exact %d", worst,
                          pad_exact);
            bool same = b.L == want_lab.shape[1];
            int64_t tokens = 0;
            for (int64_t i = 0; same && i < b.B * b.L; i++) same = b.labels[i] == ((const int32_t *)want_lab.data)[i];
            for (int i = 0; i < 3; i++) {
                same = same && b.audio_lengths[i] == ((const int32_t *)want_len.data)[i];
                tokens += b.label_lengths[i];
            }
            ds_test_check(t, same, "labels (-100 padded) and lengths equal the collator's");
            ds_test_check(t, b.target_tokens == tokens && tokens > 0, "target_tokens %lld", (long long)b.target_tokens);
            printf("  batch (3, %lld) audio max |diff| %.3g, labels (3, %lld), %lld target tokens\n", (long long)b.S,
                   worst, (long long)b.L, (long long)b.target_tokens);
        }
        ds_st_close(&golden);
    }
    // Through the prefetching loader with 2 workers: the same bytes as packing directly.
    loader_ctx ctx = {&d, &po, &layout};
    ds_batch_loader_options lo = {.num_workers = 2, .slots = 3, .slot_bytes = layout.bytes, .produce = produce,
                                  .produce_user = &ctx};
    ds_batch_loader *loader = NULL;
    if (slot && ds_test_check(t, ds_batch_loader_create(&lo, &loader, &err) == DS_OK, "%s", err.msg)) {
        int same = 0;
        ds_test_check(t, ds_batch_loader_start(loader, 0, 8, &err) == DS_OK, "%s", err.msg);
        for (int64_t b = 0; b < 8; b++) {
            ds_loaded_batch lb;
            if (!ds_test_check(t, ds_batch_loader_next(loader, &lb, &err) == DS_OK, "%s", err.msg)) break;
            produce(&ctx, b, slot, &err);
            const ds_speech_batch x = ds_speech_batch_view(&layout, lb.data), y = ds_speech_batch_view(&layout, slot);
            same += x.B == y.B && x.S == y.S && x.L == y.L &&
                    memcmp(x.audio, y.audio, (size_t)(x.B * x.S) * sizeof(float)) == 0 &&
                    memcmp(x.labels, y.labels, (size_t)(x.B * x.L) * sizeof(int32_t)) == 0;
            ds_batch_loader_release(loader, &lb);
        }
        ds_test_check(t, same == 8, "%d of 8 loader batches equal direct packing", same);
        ds_batch_loader_destroy(loader);
    }
    // group_by_length: each mega-batch sorted longest first, ties in their order.
    size_t ord[4] = {0, 1, 2, 3};
    ds_test_check(t, ds_speech_group_by_length(&d, ord, 4, 2, 1, &err) == DS_OK, "%s", err.msg);
    ds_test_check(t, ord[0] == 0 && ord[1] == 1 && ord[2] == 2 && ord[3] == 3, "mega-batches of 2: %zu %zu %zu %zu",
                  ord[0], ord[1], ord[2], ord[3]);
    ds_test_check(t, ds_speech_group_by_length(&d, ord, 4, 2, 2, &err) == DS_OK, "%s", err.msg);
    ds_test_check(t, ord[0] == 2 && ord[1] == 3 && ord[2] == 0 && ord[3] == 1, "one mega-batch of 4: %zu %zu %zu %zu",
                  ord[0], ord[1], ord[2], ord[3]);
    // A pack for a feature extractor at another rate is refused, as HF's sampling_rate check.
    po.features.sampling_rate = 8000;
    const size_t one = 0;
    ds_test_check(t, slot && ds_speech_batch_pack(&d, &po, &layout, &one, 1, 0, slot, &err) == DS_ERR_INVALID_ARG &&
                         strstr(err.msg, "8000"),
                  "a feature extractor at 8 kHz: %s", err.msg);
    free(slot);
    // The vocabulary from the manifest equals the recipe's over these transcripts: every label
    // character of the manifest is in it (the OOV_ERROR encoding above succeeded).
    ds_speech_dataset_free(&d);
    ds_char_class_free(&cls);
    ds_w2v2_processor_free(&proc);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

// A manifest written to the build tree next to a copy of nothing: audio paths point to the
// fixture folder by absolute path.
static void expect_manifest_error(ds_test *t, const char *name, const char *content, ds_status status, const char *phrase,
                                  const char *phrase2) {
    char path[512];
    ds_test_tmpfile(name, path, sizeof path);
    write_text(path, content);
    ds_speech_dataset_options o = ds_speech_dataset_default_options();
    ds_speech_dataset d;
    ds_err err = {0};
    const ds_status s = ds_speech_dataset_load(path, &o, &d, &err);
    ds_test_check(t, s == status && strstr(err.msg, phrase) && strstr(err.msg, phrase2),
                  "%s: %s \"%s\"; expected %s with \"%s\" and \"%s\"", name, ds_status_name(s), err.msg,
                  ds_status_name(status), phrase, phrase2);
    ds_test_check(t, d.count == 0 && d.utts == NULL, "%s: a failed load leaves data", name);
    printf("  %-20s -> %s\n", name, err.msg);
}

// A FLAC cut in half has an intact header: the manifest loads (headers only), and packing the
// batch that holds it fails, naming the manifest line and the file.
static void check_truncated_flac(ds_test *t, const char *dir) {
    char path[512], row[2048];
    ds_test_tmpfile("m_trunc_flac.csv", path, sizeof path);
    snprintf(row, sizeof row, "audio,text\n%s/pcm16_16k_mono.wav,ok\n%s/truncated.flac,bad\n", dir, dir);
    write_text(path, row);
    ds_speech_dataset_options o = ds_speech_dataset_default_options();
    o.text_column = NULL;
    ds_speech_dataset d;
    ds_err err = {0};
    if (!ds_test_check(t, ds_speech_dataset_load(path, &o, &d, &err) == DS_OK, "%s", err.msg)) return;
    ds_speech_pack_options po = ds_speech_pack_defaults();
    ds_speech_batch_layout l;
    void *slot = NULL;
    const size_t idx[2] = {0, 1};
    if (ds_test_check(t, ds_speech_batch_layout_init(&l, &d, 2, &po, 0, 0, &err) == DS_OK, "%s", err.msg)) {
        slot = malloc(l.bytes);
        ds_test_check(t, ds_speech_batch_pack(&d, &po, &l, idx, 2, 0, slot, &err) == DS_ERR_FORMAT &&
                             strstr(err.msg, "m_trunc_flac.csv:3") && strstr(err.msg, "truncated or corrupt"),
                      "a truncated FLAC in a batch: %s", err.msg);
        printf("  %-20s -> %s\n", "m_trunc_flac.csv", err.msg);
    }
    free(slot);
    ds_speech_dataset_free(&d);
}

static void check_errors(ds_test *t) {
    char dir[512], row[2048];
    audio_fixture("", dir, sizeof dir);
    expect_manifest_error(t, "m_nocol.csv", "file,text\na.wav,x\n", DS_ERR_FORMAT, ":1: no audio column 'audio'",
                          "'file', 'text'");
    snprintf(row, sizeof row, "audio,text\n%s/truncated.wav,x\n", dir);
    expect_manifest_error(t, "m_trunc.csv", row, DS_ERR_FORMAT, "m_trunc.csv:2: audio", "truncated WAV");
    snprintf(row, sizeof row, "audio,text\n%s/truncated.ogg,x\n", dir);
    expect_manifest_error(t, "m_trunc_ogg.csv", row, DS_ERR_FORMAT, "m_trunc_ogg.csv:2: audio", "truncated or corrupt");
    check_truncated_flac(t, dir);
    snprintf(row, sizeof row, "audio,text\n%s/unsupported.m4a,x\n", dir);
    expect_manifest_error(t, "m_unsup.csv", row, DS_ERR_UNSUPPORTED, "m_unsup.csv:2:", "unsupported");
    snprintf(row, sizeof row, "audio,text\n%s/zero_frames.wav,x\n", dir);
    expect_manifest_error(t, "m_zero.csv", row, DS_ERR_FORMAT, "m_zero.csv:2:", "zero-length");
    expect_manifest_error(t, "m_missing.csv", "audio,text\nnowhere.wav,x\n", DS_ERR_IO, "m_missing.csv:2:",
                          "nowhere.wav");
    expect_manifest_error(t, "m_empty_path.csv", "audio,text\n,x\n", DS_ERR_FORMAT, "m_empty_path.csv:2:",
                          "empty audio path");
    expect_manifest_error(t, "m_fields.csv", "audio,text\na.wav,x,y\n", DS_ERR_FORMAT, "m_fields.csv:2:", "3 fields");
    expect_manifest_error(t, "m_text.jsonl", "{\"audio\": \"a.wav\", \"text\": 3}\n", DS_ERR_FORMAT, "m_text.jsonl:1:",
                          "must be a string");
    expect_manifest_error(t, "m_format.txt", "x\n", DS_ERR_INVALID_ARG, "m_format.txt", "extension");
    // A transcript with a character outside the vocabulary: the error names the manifest line.
    char path[512];
    ds_test_tmpfile("m_oov.csv", path, sizeof path);
    snprintf(row, sizeof row, "audio,text\n%s/pcm16_16k_mono.wav,hello\n%s/pcm24_44k_stereo.wav,h\xC3\xA9llo\n", dir,
             dir);
    write_text(path, row);
    ds_speech_dataset_options o = ds_speech_dataset_default_options();
    ds_speech_dataset d;
    ds_w2v2_processor proc;
    ds_err err = {0};
    if (ds_test_check(t, ds_speech_dataset_load(path, &o, &d, &err) == DS_OK, "%s", err.msg) &&
        ds_test_check(t, ds_w2v2_processor_load(audio_fixture("hub", dir, sizeof dir), &proc, &err) == DS_OK, "%s",
                      err.msg)) {
        const ds_ctc_text_norm none = ds_ctc_text_norm_none();
        ds_test_check(t, ds_speech_dataset_encode_labels(&d, &proc.tokenizer, &none, DS_CTC_OOV_ERROR, &err) ==
                                 DS_ERR_INVALID_ARG && strstr(err.msg, "m_oov.csv:2") && strstr(err.msg, "U+0068"),
                      "OOV error names the line and the character: %s", err.msg);
        ds_err_clear(&err);
        ds_test_check(t, ds_speech_dataset_encode_labels(&d, &proc.tokenizer, &none, DS_CTC_OOV_UNK, &err) == DS_OK &&
                             d.unknown_chars == 10 && d.max_label_length == 5,
                      "OOV as unk: %zu unknown characters", d.unknown_chars);
        ds_w2v2_processor_free(&proc);
    }
    ds_speech_dataset_free(&d);
}

int main(void) {
    ds_test t = ds_test_begin("audio_dataset");
    check_manifests(&t);
    check_batches(&t);
    check_errors(&t);
    return ds_test_finish(&t);
}
