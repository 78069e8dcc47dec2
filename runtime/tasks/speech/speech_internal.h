// Shared by the speech family's files (runtime/tasks/speech/speech_*.c) only: the resolved
// config, the vocabulary, the datasets, the model loader, the state behind the task table
// (runtime/tasks/task.h) and the packed batch. See docs/speech.md.
#ifndef DS_SPEECH_INTERNAL_H
#define DS_SPEECH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../../../data/audio/ctc_tokenizer.h"
#include "../../../data/audio/ctc_vocab.h"
#include "../../../data/audio/speech_batch.h"
#include "../../../data/audio/speech_dataset.h"
#include "../../../data/audio/w2v2_features.h"
#include "../../../models/wav2vec2/w2v.h"
#include "../../metrics/metrics_wer.h"
#include "../task.h"

// ---- the family's config keys (speech_keys.c) ---------------------------------------------------
const ds_config_key *ds_speech_config_keys(int *count);

// The model.* overrides of a config (run_speech_recognition_ctc.py's model arguments): applied to
// the model's config.json values when training; in evaluation only the keys set explicitly.
void ds_speech_apply_overrides(const ds_config *cfg, bool training, ds_w2v_config *c);

// model.attention_mask: -1 auto (the processor's return_attention_mask), 0 false, 1 true.
int ds_speech_attention_mask_setting(const ds_config *cfg);

// ---- config.json (speech_hf_config.c) -----------------------------------------------------------
// Reads a Wav2Vec2 config.json object into c (absent keys: Wav2Vec2Config()'s defaults). Settings
// the model does not implement (an activation other than gelu, adapters, weighted layer sums, a
// multi-language vocabulary) are DS_ERR_UNSUPPORTED naming `name` (the file) and the key.
ds_status ds_speech_config_from_json(const cJSON *j, const char *name, ds_w2v_config *c, ds_err *err);
// The same from a config.json file at `path`.
ds_status ds_speech_config_read_file(const char *path, ds_w2v_config *c, ds_err *err);
// The small model trained from scratch when model.path is empty (the speech demo's, 0.61 M
// parameters with a 20-id vocabulary): 7 convolutions of 64 channels with layer norm, hidden 128,
// 3 pre-LN layers of 4 heads, intermediate 256, positional conv 32 taps in 4 groups.
ds_w2v_config ds_speech_config_scratch(void);
// A new config.json object for c (HF's Wav2Vec2Config keys, architectures Wav2Vec2ForCTC), merged
// over `base` (a copy; may be NULL) so that keys this family does not read survive an export.
cJSON *ds_speech_config_to_json(const ds_w2v_config *c, const cJSON *base);
// Whether architectures of config.json names a Wav2Vec2 model this family reads.
bool ds_speech_config_is_wav2vec2(const cJSON *j);

// ---- the vocabulary (speech_vocab.c) ------------------------------------------------------------
// The tokenizer and the files that describe it (for export): loaded from a directory, or built from
// transcripts as the recipe's create_vocabulary_from_data does.
typedef struct speech_vocab {
    ds_ctc_tokenizer tok;
    bool loaded;
    char *vocab_json;             // vocab.json's text (owned)
    char *tokenizer_config_json;  // tokenizer_config.json's text (owned)
    char *special_tokens_json;    // special_tokens_map.json's text, or NULL
    char *added_tokens_json;      // added_tokens.json's text, or NULL
    char source[4200];            // where it came from: a directory, or "built from ..."
} speech_vocab;

// Loads the tokenizer of directory `dir` (vocab.json, tokenizer_config.json, ...).
ds_status ds_speech_vocab_load(const char *dir, speech_vocab *v, ds_err *err);
// Builds the recipe's vocabulary from the normalised transcripts of the datasets sets[0..n).
ds_status ds_speech_vocab_build(const ds_speech_dataset *const *sets, int n, const ds_ctc_text_norm *norm,
                                speech_vocab *v, ds_err *err);
// Writes the tokenizer files into dir.
ds_status ds_speech_vocab_write(const speech_vocab *v, const char *dir, ds_err *err);
void ds_speech_vocab_free(speech_vocab *v);

// ---- the datasets (speech_data.c) ---------------------------------------------------------------
typedef struct speech_data {
    ds_speech_dataset sets[DS_DATA_SPLITS];  // each split's manifest (data.split: all in sets[TRAIN])
    bool open[DS_DATA_SPLITS];
    const ds_speech_dataset *src[DS_DATA_SPLITS];  // the dataset of each split's examples
    size_t *index[DS_DATA_SPLITS];  // (n[k]) dataset indices of split k (data.split), or NULL: all of src[k]
    size_t n[DS_DATA_SPLITS];
    int32_t *lengths[DS_DATA_SPLITS];  // (n[k]) samples at 16 kHz of each example (group_by_length)
    ds_char_class ignore;           // data.chars_to_ignore compiled
    bool has_ignore;
    ds_ctc_text_norm norm;          // the transcript normalisation (data.text_norm)
    ds_ctc_oov oov;                 // data.oov
} speech_data;

// Reads the manifests of data.* (training: train required; eval: dev and test) and the
// normalisation settings; no labels yet (ds_speech_data_encode).
ds_status ds_speech_data_open(const ds_config *cfg, const ds_log *log, bool need_train, uint64_t seed,
                              int target_rate, speech_data *d, ds_err *err);
// Encodes every split's transcripts with tok.
ds_status ds_speech_data_encode(speech_data *d, const ds_ctc_tokenizer *tok, ds_err *err);
void ds_speech_data_free(speech_data *d);
// The dataset index of example i of split k.
size_t ds_speech_data_example(const speech_data *d, ds_data_split k, size_t i);
// The distinct datasets open (for building a vocabulary); returns how many (<= 3).
int ds_speech_data_sources(const speech_data *d, const ds_speech_dataset **out);

// ---- model.path (speech_model.c) ----------------------------------------------------------------
typedef struct speech_model_info {
    char dir[4200];        // the model directory ("" from scratch)
    char weights[4200];    // the weights file ("" from scratch)
    cJSON *config;         // config.json as read (owned; NULL from scratch)
    bool has_tokenizer;    // the directory holds vocab.json
    bool has_features;     // it holds a feature-extractor config
    ds_w2v2_feature_config features;  // its settings (defaults otherwise)
    int lm_head_reinit;    // lm_head tensors started afresh (another vocabulary, or absent)
} speech_model_info;

// Resolves model.path (an HF directory, a Hub id through runtime/hub, or "" for the built-in
// scratch config) and reads its config and processor settings, without weights.
ds_status ds_speech_model_probe(ds_context *ctx, const char *path, speech_model_info *info);
// Creates the model of cfg and fills it: the weights of info (names with or without "wav2vec2.",
// either weight-norm spelling; lm_head re-initialised when absent or of another vocabulary unless
// for_eval), or HF's initialisation from scratch.
ds_status ds_speech_model_load(ds_context *ctx, speech_model_info *info, const ds_w2v_config *cfg,
                               bool for_eval, ds_w2v_model *m);
void ds_speech_model_info_free(speech_model_info *info);
// Whether path is a directory whose config.json names a Wav2Vec2 model.
bool ds_speech_recognizes(const char *path);

// ---- the state behind the table (speech_family.c) -----------------------------------------------
typedef struct speech_state {
    ds_task base;              // first: a ds_task * is a speech_state *
    const ds_config *cfg;      // not owned
    const ds_log *log;
    speech_data data;
    bool data_loaded;
    speech_vocab vocab;
    ds_w2v_model model;
    bool model_loaded;
    cJSON *model_config;       // the source config.json (owned; NULL from scratch): kept keys on export
    ds_speech_pack_options pack;  // the feature extractor's settings
    uint64_t seed;
    // The hypotheses of the last evaluation forward, one per row, wait here for eval_add.
    ds_str *pending;           // (pending_cap) decoded transcripts
    int32_t *ids;              // (ids_cap) argmax scratch
    size_t pending_cap, ids_cap;
    int64_t pending_rows;      // rows decoded by the last evaluation forward (-1: none)
} speech_state;

// ---- the packed batch ---------------------------------------------------------------------------
// A header, the examples' dataset indices (int64 each, cap of them), then at data_offset a
// data/audio slot (ds_speech_batch_layout of cap utterances of max_samples / max_labels).
typedef struct speech_pack_header {
    int32_t split;          // ds_data_split
    int32_t cap;            // utterances the layout was made for
    int64_t max_samples;    // the layout's maxima
    int64_t max_labels;
    int64_t data_offset;    // bytes from the start to the slot
} speech_pack_header;
#define SPEECH_INDEX_OFFSET ((size_t)64)
// Bytes before the slot for cap examples (64-byte aligned).
size_t ds_speech_pack_prefix(size_t cap);

// The header, the dataset indices and the batch view of a packed batch.
ds_status ds_speech_unpack(const speech_state *s, const void *packed, const speech_pack_header **h,
                           const int64_t **examples, ds_speech_batch *b, ds_err *err);

// ---- evaluation (speech_eval.c) ----------------------------------------------------------------
// Greedy CTC decoding of logits (T, V) over their first `frames` frames: argmax, then
// batch_decode (merge repeats, drop the blank, "|" -> " "), into *out.
ds_status ds_speech_decode(const ds_ctc_tokenizer *tok, const float *logits, int64_t frames, int64_t V,
                           int32_t *ids, ds_str *out, ds_err *err);
// The reference of utterance i of d as the recipe's compute_metrics makes it (its label ids
// decoded without grouping).
ds_status ds_speech_reference(const ds_ctc_tokenizer *tok, const ds_speech_dataset *d, size_t i, ds_str *out,
                              ds_err *err);
// Decodes every row of the last forward's output into s->pending.
ds_status ds_speech_decode_rows(speech_state *s, const ds_w2v_output *out, int64_t B, ds_err *err);

ds_status ds_speech_eval_open(ds_task *t, ds_task_eval **out, ds_err *err);
ds_status ds_speech_eval_add(ds_context *ctx, ds_task *t, ds_task_eval *e, const void *batch);
int ds_speech_eval_buffers(ds_task_eval *e, ds_metric_buffer *out, int cap);
ds_status ds_speech_eval_report(const ds_task *t, const ds_task_eval *e, const char *prefix, ds_eval_result *r,
                                ds_err *err);
void ds_speech_eval_close(ds_task_eval *e);
ds_status ds_speech_select_metric(const ds_task *t, const char *want, ds_metric_choice *out, ds_err *err);
ds_status ds_speech_write_samples(ds_context *ctx, ds_task *t, ds_data_split s, size_t batch, ds_arena *arena,
                                  FILE *out);

// ---- export, commands (speech_export.c, speech_predict.c, speech_bench.c) -----------------------
// Writes dir/config.json, model.safetensors, the tokenizer files and preprocessor_config.json:
// a directory Wav2Vec2ForCTC.from_pretrained and Wav2Vec2Processor.from_pretrained load.
ds_status ds_speech_export(const ds_w2v_model *m, const cJSON *base_config, const speech_vocab *v,
                           const ds_w2v2_feature_config *features, const char *dir, ds_err *err);
ds_status ds_speech_predict(ds_context *ctx, const ds_config *cfg, const ds_predict_args *a);
ds_status ds_speech_bench(ds_context *ctx, const ds_config *cfg, const ds_bench_env *env, FILE *out);

#endif
