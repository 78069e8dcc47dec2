// The speech family's own config keys (task.type "speech_ctc") and what the model.* keys do to the
// model's config. Defaults are Hugging Face's fine-tuning recipe
// (examples/pytorch/speech-recognition/run_speech_recognition_ctc.py): its DataTrainingArguments
// and ModelArguments, which the recipe writes into the model's config before training. The drivers'
// keys it reuses: model.path, data.train/dev/test, data.split, data.text_field (the transcript
// column), data.group_by_length, train.*.
#include <string.h>

#include "../../base/check.h"
#include "speech_internal.h"

static const ds_config_key k_keys[] = {
    {"data.audio_field",        DS_CFG_STRING, "audio", .doc = "speech_ctc: the manifest column (CSV/TSV header) or JSONL key of the audio path (a string, or an object with \"path\"); relative paths start at the manifest's folder; the transcript column is data.text_field"},
    {"data.max_seconds",        DS_CFG_FLOAT,  "20",    .min = "0", .doc = "speech_ctc: utterances of this length or longer are skipped (the recipe's max_duration_in_seconds); 0: no limit"},
    {"data.min_seconds",        DS_CFG_FLOAT,  "0",     .min = "0", .doc = "speech_ctc: utterances of this length or shorter are skipped (min_duration_in_seconds)"},
    {"data.text_norm",          DS_CFG_ENUM,   "recipe", .choices = "recipe|none", .doc = "speech_ctc: transcript normalisation: recipe = remove data.chars_to_ignore, lower-case, append a space (run_speech_recognition_ctc.py); none = as written (e.g. a hub tokenizer with upper-case LibriSpeech transcripts)"},
    {"data.chars_to_ignore",    DS_CFG_STRING, "",      .doc = "speech_ctc: characters removed from transcripts, read as the body of a regex character class as the recipe joins chars_to_ignore (so a-b is a range)"},
    {"data.oov",                DS_CFG_ENUM,   "error", .choices = "error|unk", .doc = "speech_ctc: a transcript character outside the vocabulary: error (names the manifest line and the character) or unk (the unk token, as HF's tokenizer)"},
    {"data.vocab",              DS_CFG_STRING, "",      .doc = "speech_ctc: the CTC vocabulary: empty = the model directory's tokenizer when it has vocab.json, else one built from the train, dev and test transcripts as the recipe does; build = always built; or a tokenizer directory"},
    {"model.scratch_config",    DS_CFG_STRING, "",      .doc = "speech_ctc, model.path empty: a Wav2Vec2 config.json to build the model from (random weights); empty: the built-in small model (0.6 M parameters, configs/speech_demo.json)"},
    {"model.freeze_feature_encoder", DS_CFG_BOOL, "true", .doc = "speech_ctc: the convolutional feature encoder is frozen (no gradient, no optimizer state), as the recipe's default"},
    {"model.attention_dropout", DS_CFG_FLOAT,  "0",     .min = "0", .max = "1", .doc = "speech_ctc: dropout of the attention probabilities (the recipe writes its value into the config: 0)"},
    {"model.activation_dropout", DS_CFG_FLOAT, "0",     .min = "0", .max = "1", .doc = "speech_ctc: dropout after the feed-forward's GELU"},
    {"model.hidden_dropout",    DS_CFG_FLOAT,  "0",     .min = "0", .max = "1", .doc = "speech_ctc: dropout of the encoder's hidden states"},
    {"model.feat_proj_dropout", DS_CFG_FLOAT,  "0",     .min = "0", .max = "1", .doc = "speech_ctc: dropout after the feature projection"},
    {"model.final_dropout",     DS_CFG_FLOAT,  "0",     .min = "0", .max = "1", .doc = "speech_ctc: dropout before lm_head"},
    {"model.layerdrop",         DS_CFG_FLOAT,  "0",     .min = "0", .max = "1", .doc = "speech_ctc: LayerDrop probability of each encoder layer in training"},
    {"model.mask_time_prob",    DS_CFG_FLOAT,  "0.05",  .min = "0", .max = "1", .doc = "speech_ctc: SpecAugment's share of time steps masked (with masked_spec_embed)"},
    {"model.mask_time_length",  DS_CFG_INT,    "10",    .min = "1", .doc = "speech_ctc: SpecAugment time-mask span in frames"},
    {"model.mask_feature_prob", DS_CFG_FLOAT,  "0",     .min = "0", .max = "1", .doc = "speech_ctc: SpecAugment's share of feature channels masked"},
    {"model.mask_feature_length", DS_CFG_INT,  "10",    .min = "1", .doc = "speech_ctc: SpecAugment feature-mask span"},
    {"model.ctc_loss_reduction", DS_CFG_ENUM,  "mean",  .choices = "mean|sum", .doc = "speech_ctc: CTC reduction: mean (each loss over its target length, then the mean over utterances; the recipe's) or sum"},
    {"model.ctc_zero_infinity", DS_CFG_BOOL,   "false", .doc = "speech_ctc: impossible alignments (audio too short for its transcript) give loss 0 instead of an error"},
    {"model.attention_mask",    DS_CFG_ENUM,   "auto",  .choices = "auto|true|false", .doc = "speech_ctc: feed the model an attention mask over padding: auto = the processor's return_attention_mask (HF: true for feat_extract_norm layer models, false for wav2vec2-base, whose padding is plain zeros)"},
    {"bench.seconds",           DS_CFG_FLOAT,  "4",     .min = "0.1", .max = "600", .doc = "speech_ctc bench: seconds of audio per utterance (bench.batch utterances when set, else 2)"},
    {"bench.frozen_encoder",    DS_CFG_BOOL,   "true",  .doc = "speech_ctc bench: freeze the feature encoder (the recipe's default)"},
};

const ds_config_key *ds_speech_config_keys(int *count) {
    *count = (int)(sizeof k_keys / sizeof k_keys[0]);
    return k_keys;
}

int ds_speech_attention_mask_setting(const ds_config *cfg) {
    const char *v = ds_config_str(cfg, "model.attention_mask");
    return strcmp(v, "true") == 0 ? 1 : strcmp(v, "false") == 0 ? 0 : -1;
}

// Training: the recipe writes every one of these into the config (config.update), so they apply
// whatever config.json says. Evaluation: the model as trained, unless a key is set explicitly.
void ds_speech_apply_overrides(const ds_config *cfg, bool training, ds_w2v_config *c) {
#define SET(key) (training || ds_config_source_of(cfg, key) != DS_CFG_FROM_DEFAULT)
    if (SET("model.attention_dropout")) c->attention_dropout = (float)ds_config_float(cfg, "model.attention_dropout");
    if (SET("model.activation_dropout"))
        c->activation_dropout = (float)ds_config_float(cfg, "model.activation_dropout");
    if (SET("model.hidden_dropout")) c->hidden_dropout = (float)ds_config_float(cfg, "model.hidden_dropout");
    if (SET("model.feat_proj_dropout")) c->feat_proj_dropout = (float)ds_config_float(cfg, "model.feat_proj_dropout");
    if (SET("model.final_dropout")) c->final_dropout = (float)ds_config_float(cfg, "model.final_dropout");
    if (SET("model.layerdrop")) c->layerdrop = (float)ds_config_float(cfg, "model.layerdrop");
    if (SET("model.mask_time_prob")) c->mask_time_prob = ds_config_float(cfg, "model.mask_time_prob");
    if (SET("model.mask_time_length")) c->mask_time_length = ds_config_int(cfg, "model.mask_time_length");
    if (SET("model.mask_feature_prob")) c->mask_feature_prob = ds_config_float(cfg, "model.mask_feature_prob");
    if (SET("model.mask_feature_length")) c->mask_feature_length = ds_config_int(cfg, "model.mask_feature_length");
    if (SET("model.ctc_loss_reduction"))
        c->ctc_loss_reduction =
            strcmp(ds_config_str(cfg, "model.ctc_loss_reduction"), "sum") == 0 ? DS_CTC_SUM : DS_CTC_MEAN;
    if (SET("model.ctc_zero_infinity")) c->ctc_zero_infinity = ds_config_bool(cfg, "model.ctc_zero_infinity");
#undef SET
    c->freeze_feature_encoder = training && ds_config_bool(cfg, "model.freeze_feature_encoder");
}
