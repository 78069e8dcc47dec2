// A speech-recognition dataset read from a manifest: CSV, TSV or JSON Lines with an audio-path
// column and a transcript column (names configurable). Relative paths are resolved against the
// manifest's folder. Every audio file's header is read at load time (libsndfile's sf_info: no
// decoding), so lengths are known up front: the recipe's duration filter, the padded sizes of
// batches (ds_speech_batch_layout) and grouping by length all use them.
//
// Duration filter, as the recipe's is_audio_in_length_range: an utterance is kept when its length
// after resampling, L samples at target_rate, satisfies min_seconds * rate < L < max_seconds *
// rate (strict, as HF); the others are skipped and counted (skipped_long, skipped_short).
// max_seconds = 0 disables the upper bound. A file longer than cap_seconds (the reader's
// safety cap) is skipped as long too when it is over max_seconds, and an error otherwise.
//
// Errors name the manifest and the line: a missing column, an empty path, a transcript that is
// not a string; and the audio file's own error (unreadable, unsupported, corrupt, truncated, zero
// length) prefixed with "<manifest>:<line>: ".
//
// Labels: ds_speech_dataset_encode_labels tokenizes every transcript once (after the chosen
// normalisation, e.g. the recipe's) into one pool of ids; a character outside the vocabulary is
// the unk token or an error naming the manifest line and the character (ds_ctc_oov).
#ifndef DS_SPEECH_DATASET_H
#define DS_SPEECH_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "audio_resample.h"
#include "ctc_tokenizer.h"
#include "ctc_vocab.h"

#define DS_SPEECH_NO_TEXT SIZE_MAX  // ds_speech_utterance.text of an unlabelled utterance

typedef enum ds_speech_format {
    DS_SPEECH_FORMAT_AUTO = 0,  // from the extension: .csv, .tsv, .jsonl / .json
    DS_SPEECH_FORMAT_CSV,
    DS_SPEECH_FORMAT_TSV,
    DS_SPEECH_FORMAT_JSONL,
} ds_speech_format;

typedef struct ds_speech_dataset_options {
    ds_speech_format format;      // AUTO
    const char *audio_column;     // "audio" (the recipe's audio_column_name); a JSONL value may be a
                                  // path string or an object with "path" (HF datasets' Audio)
    const char *text_column;      // "text" (text_column_name); NULL: unlabelled (prediction)
    int target_rate;              // 16000: the feature extractor's sampling_rate
    double max_seconds;           // 20.0 (max_duration_in_seconds); 0: no upper bound
    double min_seconds;           // 0.0 (min_duration_in_seconds)
    double cap_seconds;           // 3600: files longer than this are never decoded
    ds_resample_quality quality;  // HQ
} ds_speech_dataset_options;

ds_speech_dataset_options ds_speech_dataset_default_options(void);

typedef struct ds_speech_utterance {
    size_t path;          // offset in the pool: the audio path, resolved
    size_t text;          // offset in the pool: the transcript as written, or DS_SPEECH_NO_TEXT
    long line;            // manifest line (1-based)
    int64_t frames;       // in the file, at source_rate
    int source_rate, channels;
    int64_t length;       // samples after resampling to target_rate (the model's input length)
    size_t label_offset;  // into ds_speech_dataset.labels (after encode_labels)
    int32_t label_length;
} ds_speech_utterance;

typedef struct ds_speech_dataset {
    char *source;                 // the manifest path (owned)
    ds_speech_dataset_options opt;  // as loaded (the column strings are not kept: NULL here)
    size_t count;                 // utterances kept
    ds_speech_utterance *utts;    // (count) host, in manifest order
    char *pool;                   // (pool_len) paths and transcripts, NUL-terminated
    size_t pool_len, pool_cap, utts_cap;
    size_t skipped_long, skipped_short;  // rows dropped by the duration filter
    size_t *skipped_texts;        // (skipped_long + skipped_short) pool offsets of their transcripts
                                  // (the recipe builds its vocabulary before filtering)
    size_t skipped_texts_cap;
    double total_seconds;         // of the kept utterances
    int64_t max_length;           // longest kept utterance, samples at target_rate
    bool has_labels;
    int32_t *labels;              // (labels_len) every utterance's label ids back to back
    size_t labels_len, labels_cap;
    int32_t max_label_length;
    int64_t target_tokens;        // labels_len: the label tokens of the whole set
    size_t unknown_chars;         // characters encoded as the unk token
} ds_speech_dataset;

// Reads the manifest and every audio file's header. On failure *out is left empty (safe to free).
ds_status ds_speech_dataset_load(const char *manifest, const ds_speech_dataset_options *opt, ds_speech_dataset *out,
                                 ds_err *err);
void ds_speech_dataset_free(ds_speech_dataset *d);

const char *ds_speech_dataset_path(const ds_speech_dataset *d, size_t i);
const char *ds_speech_dataset_text(const ds_speech_dataset *d, size_t i);  // NULL when unlabelled
// Utterance i's label ids ((return value) of them at *ids).
int32_t ds_speech_dataset_labels(const ds_speech_dataset *d, size_t i, const int32_t **ids);

// Normalises (norm) and encodes every transcript with tok into the label pool (replacing any).
ds_status ds_speech_dataset_encode_labels(ds_speech_dataset *d, const ds_ctc_tokenizer *tok,
                                          const ds_ctc_text_norm *norm, ds_ctc_oov oov, ds_err *err);

// Adds every normalised transcript's characters to a vocabulary, the duration filter's skipped
// rows included: the recipe builds its vocabulary before filtering, from train and eval
// transcripts together (call this for both).
ds_status ds_speech_dataset_add_to_vocab(const ds_speech_dataset *d, const ds_ctc_text_norm *norm,
                                         ds_ctc_vocab_builder *b, ds_err *err);

// One line for the log: "train.csv: 412 utterances, 0.48 h, longest 9.1 s; skipped 3 longer than
// 20 s, 0 shorter than 0 s". Returns buf.
const char *ds_speech_dataset_summary(const ds_speech_dataset *d, char *buf, size_t cap);

// HF's group_by_length over utterance lengths (LengthGroupedSampler's mega-batches): sorts each
// run of `group_batches` x `global_batch` positions of order[0..n) by length, longest first, ties
// in their given order. order holds utterance indices.
ds_status ds_speech_group_by_length(const ds_speech_dataset *d, size_t *order, size_t n, size_t global_batch,
                                    int64_t group_batches, ds_err *err);

#endif
