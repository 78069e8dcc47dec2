// Wav2Vec2FeatureExtractor semantics (transformers 5.24, feature_extraction_wav2vec2.py): the
// settings of preprocessor_config.json (or processor_config.json's "feature_extractor"), the
// sampling-rate check and the per-utterance normalisation.
//
// Normalisation (do_normalize): zero_mean_unit_var_norm computes, over the VALID samples x[0, n)
// of one utterance, (x - mean) / sqrt(var + 1e-7) with the population variance. That is what the
// fine-tuning recipe does: prepare_dataset calls the feature extractor on one utterance at a time,
// and the collator pads the normalised audio afterwards with padding_value (0.0).
// The sums here are in double and the result rounded to float32 once; HF computes in float32 with
// numpy's pairwise sums, so the two agree to about 1e-6 of the largest value, not bit for bit.
//
// A quirk to know (not the recipe's path): a BATCHED call feature_extractor(list, padding=True) with
// return_attention_mask=False (wav2vec2-base's setting) normalises each row over its padded length,
// zeros included; ds_w2v2_normalize(row, S) over the whole row reproduces that if ever needed.
//
// return_attention_mask: whether HF passes an attention_mask to the model. False for the
// feat_extract_norm="group" checkpoints (wav2vec2-base): padded batches are then fed unmasked.
#ifndef DS_W2V2_FEATURES_H
#define DS_W2V2_FEATURES_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/base/status.h"

#define DS_W2V2_NORM_EPS 1e-7  // added to the variance, as HF

typedef struct ds_w2v2_feature_config {
    int sampling_rate;           // 16000
    bool do_normalize;           // true
    float padding_value;         // 0.0
    bool return_attention_mask;  // false
    int feature_size;            // 1 (the only value a raw-waveform model accepts)
} ds_w2v2_feature_config;

// Wav2Vec2FeatureExtractor()'s defaults: {16000, true, 0.0, false, 1}.
ds_w2v2_feature_config ds_w2v2_feature_defaults(void);

// Reads the settings of a feature-extractor JSON object (absent keys keep their defaults; other
// keys are ignored, as HF keeps them as attributes). `name` ("dir/preprocessor_config.json") is
// used in messages. padding_side "left" and feature_size != 1 are DS_ERR_UNSUPPORTED.
ds_status ds_w2v2_feature_config_from_json(const cJSON *obj, const char *name, ds_w2v2_feature_config *c,
                                           ds_err *err);

// HF raises when the audio's rate differs from the extractor's: the same check, naming `what`.
ds_status ds_w2v2_check_sampling_rate(const ds_w2v2_feature_config *c, int rate, const char *what, ds_err *err);

// In place over x[0, n) (host): (x - mean) / sqrt(var + 1e-7). n = 0 does nothing.
void ds_w2v2_normalize(float *x, int64_t n);

#endif
