// Word and character error rates with jiwer's definitions (jiwer 3.x/4.x defaults), as sums that
// add up across batches and ranks: each accumulator is one flat I64 buffer to all-reduce (sum)
// before the report, so every rank reports the corpus-level rates of all the data.
//
// jiwer's defaults, reproduced exactly:
// - WER (jiwer.wer, transform wer_default): runs of two or more whitespace characters (Python's
//   \s, i.e. str.isspace) become one " ", then str.strip(), then split on " " with empty words
//   dropped (so a lone tab stays inside a word, as in jiwer). Errors = word-level Levenshtein
//   distance (S + D + I); the corpus rate is sum(errors) / sum(reference words), not a mean of
//   per-utterance rates.
// - CER (jiwer.cer, transform cer_default): str.strip() only, then the characters (code points),
//   spaces included; the same corpus ratio.
// - An empty reference contributes no words and its hypothesis' words as insertions. When the
//   whole corpus has no reference words jiwer returns the insertion count itself (not a ratio);
//   the report does the same (rate = errors when the reference total is 0).
// jiwer also reports S, D and I separately; they depend on rapidfuzz's choice among equally short
// alignments, so only their sum (the distance) is computed here.
#ifndef DS_METRICS_WER_H
#define DS_METRICS_WER_H

#include <stddef.h>
#include <stdint.h>

#include "../base/status.h"
#include "metrics.h"

// Sums: [word errors, reference words, char errors, reference chars, utterances].
typedef struct ds_wer_counts {
    int64_t sums[5];
} ds_wer_counts;

void ds_wer_counts_reset(ds_wer_counts *c);
ds_metric_buffer ds_wer_counts_buffer(ds_wer_counts *c);  // 5 I64

// Adds one utterance: reference and hypothesis, UTF-8 (NUL-terminated). Invalid UTF-8 is
// DS_ERR_INVALID_ARG (nothing added).
ds_status ds_wer_counts_add(ds_wer_counts *c, const char *reference, const char *hypothesis, ds_err *err);

// The per-utterance parts: jiwer's word-level and character-level distance and reference length.
ds_status ds_wer_distance(const char *reference, const char *hypothesis, int64_t *errors, int64_t *ref_words,
                          ds_err *err);
ds_status ds_cer_distance(const char *reference, const char *hypothesis, int64_t *errors, int64_t *ref_chars,
                          ds_err *err);

typedef struct ds_wer_report {
    int64_t word_errors, ref_words, char_errors, ref_chars, utterances;
    double wer, cer;  // errors / reference length; the error count itself when the length is 0
} ds_wer_report;

void ds_wer_report_compute(const ds_wer_counts *c, ds_wer_report *r);
// "<prefix>wer", "<prefix>cer" into out[0..2); returns 2.
int ds_wer_report_values(const ds_wer_report *r, const char *prefix, ds_metric_value *out);

#endif
