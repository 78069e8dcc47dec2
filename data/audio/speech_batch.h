// Packing a batch of utterances into one loader slot (data/common/batch_loader.h): the body of the
// `produce` callback the speech task's loader calls. What it makes equals the recipe's
// prepare_dataset + DataCollatorCTCWithPadding:
//   - audio: each utterance decoded, mixed to mono, resampled to the feature extractor's rate,
//     normalised over its own samples (do_normalize), then right-padded with padding_value (0.0)
//     to S, the longest of the batch (rounded up to pad_to_multiple_of);
//   - labels: the utterance's label ids right-padded with -100 to L, the longest of the batch
//     (HF: labels_batch["input_ids"].masked_fill(attention_mask.ne(1), -100));
//   - the lengths of both, and target_tokens = the sum of label lengths: the weight of a
//     token-mean loss (HF's ctc_loss_reduction="mean" divides each utterance's loss by its own
//     target length; "sum" needs the count for an all-rank mean).
// use_attention_mask tells whether HF would pass the attention mask to the model (the feature
// extractor's return_attention_mask; false for wav2vec2-base, whose padded batches run unmasked).
//
// One contiguous slot: a header, then audio (B, S) float32, audio_lengths (B) int32, labels
// (B, L) int32, label_lengths (B) int32, each at a 64-byte-aligned offset sized for the layout's
// maxima; rows are stored densely with the batch's own S and L as strides.
// Thread-safe: reads only the dataset, which must not change while workers run.
#ifndef DS_SPEECH_BATCH_H
#define DS_SPEECH_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "speech_dataset.h"
#include "w2v2_features.h"

#define DS_SPEECH_LABEL_PAD (-100)  // HF's ignore index in padded label positions

typedef struct ds_speech_batch_layout {
    int64_t max_batch;    // utterances per batch at most
    int64_t max_samples;  // S at most (the dataset's longest, rounded up to pad_to_multiple_of)
    int64_t max_labels;   // L at most
    size_t off_audio, off_audio_lengths, off_labels, off_label_lengths;
    size_t bytes;         // the slot size to give the loader
} ds_speech_batch_layout;

typedef struct ds_speech_pack_options {
    ds_w2v2_feature_config features;  // sampling_rate must be the dataset's target rate
    int64_t pad_to_multiple_of;       // audio S rounded up to a multiple of this (1: none)
    int64_t pad_labels_to_multiple_of;  // L likewise (1: none)
} ds_speech_pack_options;

// {Wav2Vec2FeatureExtractor defaults, 1, 1}
ds_speech_pack_options ds_speech_pack_defaults(void);

// The slot layout for batches of up to max_batch utterances of dataset d (its longest audio and
// label sequence), or of explicit maxima when d is NULL.
ds_status ds_speech_batch_layout_init(ds_speech_batch_layout *l, const ds_speech_dataset *d, int64_t max_batch,
                                      const ds_speech_pack_options *opt, int64_t max_samples, int64_t max_labels,
                                      ds_err *err);

// A filled slot, viewed.
typedef struct ds_speech_batch {
    int64_t B;                // utterances (0: an empty batch, e.g. a rank past the end)
    int64_t S;                // padded audio length of this batch
    int64_t L;                // padded label length (0 when the dataset has no labels)
    int64_t target_tokens;    // sum of label_lengths
    int64_t batch_index;      // the loader's batch index b
    bool use_attention_mask;  // HF passes attention_mask (return_attention_mask)
    float *audio;             // (B, S) host, row-major, padded with padding_value
    int32_t *audio_lengths;   // (B) valid samples per row
    int32_t *labels;          // (B, L) host, row-major, padded with -100
    int32_t *label_lengths;   // (B)
} ds_speech_batch;

// Fills `slot` (l->bytes) with the utterances indices[0, B) of d (B <= l->max_batch).
// `batch_index` is recorded in the header. Errors name the manifest line and the audio file.
ds_status ds_speech_batch_pack(const ds_speech_dataset *d, const ds_speech_pack_options *opt,
                               const ds_speech_batch_layout *l, const size_t *indices, int64_t B, int64_t batch_index,
                               void *slot, ds_err *err);

// The view of a slot that ds_speech_batch_pack filled.
ds_speech_batch ds_speech_batch_view(const ds_speech_batch_layout *l, void *slot);

#endif
