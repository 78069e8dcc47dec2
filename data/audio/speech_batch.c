// Speech batches in loader slots (see speech_batch.h).
#include "speech_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "audio_read.h"

// The first bytes of a slot.
typedef struct slot_header {
    int64_t B, S, L, target_tokens, batch_index;
    int32_t use_attention_mask;
} slot_header;

ds_speech_pack_options ds_speech_pack_defaults(void) {
    return (ds_speech_pack_options){
        .features = ds_w2v2_feature_defaults(), .pad_to_multiple_of = 1, .pad_labels_to_multiple_of = 1};
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static int64_t round_up(int64_t n, int64_t m) { return m > 1 ? (n + m - 1) / m * m : n; }

ds_status ds_speech_batch_layout_init(ds_speech_batch_layout *l, const ds_speech_dataset *d, int64_t max_batch,
                                      const ds_speech_pack_options *opt, int64_t max_samples, int64_t max_labels,
                                      ds_err *err) {
    memset(l, 0, sizeof *l);
    if (d) {
        max_samples = d->max_length;
        max_labels = d->labels ? d->max_label_length : 0;
        DS_REQUIRE(err, !d->has_labels || d->labels, DS_ERR_INVALID_ARG,
                   "%s: encode the transcripts (ds_speech_dataset_encode_labels) before sizing batches", d->source);
    }
    DS_REQUIRE(err, max_batch >= 1 && max_samples >= 1 && max_labels >= 0 && opt->pad_to_multiple_of >= 1 &&
                        opt->pad_labels_to_multiple_of >= 1,
               DS_ERR_INVALID_ARG, "speech batch: bad sizes (batch %lld, samples %lld, labels %lld)",
               (long long)max_batch, (long long)max_samples, (long long)max_labels);
    l->max_batch = max_batch;
    l->max_samples = round_up(max_samples, opt->pad_to_multiple_of);
    l->max_labels = round_up(max_labels, opt->pad_labels_to_multiple_of);
    DS_REQUIRE(err, l->max_samples <= INT32_MAX && (double)max_batch * (double)l->max_samples * 4.0 < 1e12,
               DS_ERR_INVALID_ARG, "speech batch: %lld x %lld samples is too large", (long long)max_batch,
               (long long)l->max_samples);
    size_t at = align64(sizeof(slot_header));
    l->off_audio = at;
    at = align64(at + (size_t)max_batch * (size_t)l->max_samples * sizeof(float));
    l->off_audio_lengths = at;
    at = align64(at + (size_t)max_batch * sizeof(int32_t));
    l->off_labels = at;
    at = align64(at + (size_t)max_batch * (size_t)l->max_labels * sizeof(int32_t));
    l->off_label_lengths = at;
    l->bytes = align64(at + (size_t)max_batch * sizeof(int32_t));
    return DS_OK;
}

ds_speech_batch ds_speech_batch_view(const ds_speech_batch_layout *l, void *slot) {
    const slot_header *h = slot;
    char *base = slot;
    return (ds_speech_batch){
        .B = h->B, .S = h->S, .L = h->L, .target_tokens = h->target_tokens, .batch_index = h->batch_index,
        .use_attention_mask = h->use_attention_mask != 0, .audio = (float *)(base + l->off_audio),
        .audio_lengths = (int32_t *)(base + l->off_audio_lengths), .labels = (int32_t *)(base + l->off_labels),
        .label_lengths = (int32_t *)(base + l->off_label_lengths)};
}

// Decodes utterance i into row[0, S): normalised samples, then padding.
static ds_status pack_audio(const ds_speech_dataset *d, const ds_speech_pack_options *opt, size_t i, float *row,
                            int64_t S, ds_err *err) {
    const ds_speech_utterance *u = &d->utts[i];
    const char *path = ds_speech_dataset_path(d, i);
    ds_audio_read_options ro = {.target_rate = d->opt.target_rate, .max_seconds = d->opt.cap_seconds,
                                .quality = d->opt.quality};
    ds_audio a;
    ds_err inner;
    ds_err_clear(&inner);
    const ds_status s = ds_audio_read(path, &ro, &a, &inner);
    if (s != DS_OK) return ds_err_set(err, s, "%s:%ld: %s", d->source, u->line, inner.msg);
    if (a.n != u->length) {
        const int64_t got = a.n;
        ds_audio_free(&a);
        return ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: audio %s now gives %lld samples, %lld when the manifest was read "
                          "(the file changed)", d->source, u->line, path, (long long)got, (long long)u->length);
    }
    if (opt->features.do_normalize) ds_w2v2_normalize(a.samples, a.n);
    memcpy(row, a.samples, (size_t)a.n * sizeof *row);
    for (int64_t t = a.n; t < S; t++) row[t] = opt->features.padding_value;
    ds_audio_free(&a);
    return DS_OK;
}

ds_status ds_speech_batch_pack(const ds_speech_dataset *d, const ds_speech_pack_options *opt,
                               const ds_speech_batch_layout *l, const size_t *indices, int64_t B, int64_t batch_index,
                               void *slot, ds_err *err) {
    DS_REQUIRE(err, B >= 0 && B <= l->max_batch, DS_ERR_INVALID_ARG, "speech batch: %lld utterances, the layout holds %lld",
               (long long)B, (long long)l->max_batch);
    DS_TRY(ds_w2v2_check_sampling_rate(&opt->features, d->opt.target_rate, d->source, err));
    DS_REQUIRE(err, !d->has_labels || d->labels, DS_ERR_INVALID_ARG,
               "%s: encode the transcripts (ds_speech_dataset_encode_labels) before packing batches", d->source);
    int64_t S = 0, L = 0, tokens = 0;
    for (int64_t b = 0; b < B; b++) {
        DS_REQUIRE(err, indices[b] < d->count, DS_ERR_INVALID_ARG, "speech batch: utterance %zu of %zu", indices[b],
                   d->count);
        const ds_speech_utterance *u = &d->utts[indices[b]];
        if (u->length > S) S = u->length;
        if (d->labels && u->label_length > L) L = u->label_length;
        tokens += d->labels ? u->label_length : 0;
    }
    S = round_up(S, opt->pad_to_multiple_of);
    L = round_up(L, opt->pad_labels_to_multiple_of);
    DS_REQUIRE(err, S <= l->max_samples && L <= l->max_labels, DS_ERR_INVALID_ARG,
               "speech batch: needs %lld samples and %lld labels, the layout holds %lld and %lld", (long long)S,
               (long long)L, (long long)l->max_samples, (long long)l->max_labels);
    slot_header *h = slot;
    *h = (slot_header){.B = B, .S = S, .L = L, .target_tokens = tokens, .batch_index = batch_index,
                       .use_attention_mask = opt->features.return_attention_mask};
    const ds_speech_batch v = ds_speech_batch_view(l, slot);
    for (int64_t b = 0; b < B; b++) {
        const size_t i = indices[b];
        DS_TRY(pack_audio(d, opt, i, v.audio + b * S, S, err));
        v.audio_lengths[b] = (int32_t)d->utts[i].length;
        const int32_t *ids = NULL;
        const int32_t n = ds_speech_dataset_labels(d, i, &ids);
        for (int64_t t = 0; t < L; t++) v.labels[b * L + t] = t < n ? ids[t] : DS_SPEECH_LABEL_PAD;
        v.label_lengths[b] = n;
    }
    return DS_OK;
}
