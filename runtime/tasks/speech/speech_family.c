// The speech family's table (runtime/tasks/task.h): Hugging Face's Wav2Vec2ForCTC
// (models/wav2vec2/w2v.h) fine-tuned on manifests of audio and transcripts (data/audio/) as
// run_speech_recognition_ctc.py does. The data side is speech_data.c, the vocabulary
// speech_vocab.c, model.path speech_model.c and speech_hf_config.c, evaluation speech_eval.c,
// export speech_export.c, and the predict and bench commands speech_predict.c and speech_bench.c.
// A packed batch is a header, the examples' dataset indices (for references and error messages),
// and the data/audio slot (normalised audio zero-padded to the batch's longest, labels padded with
// -100). The loss weight of a micro-batch: its utterance count for ctc_loss_reduction "mean" (HF's
// mean is over utterances of loss / target length), 1 and summed for "sum".
#include "speech_family.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../../data/audio/json_file.h"
#include "../../../models/common/device_memory.h"
#include "../../base/check.h"
#include "../../base/log.h"
#include "../task_loss.h"
#include "speech_internal.h"

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

size_t ds_speech_pack_prefix(size_t cap) { return (SPEECH_INDEX_OFFSET + cap * sizeof(int64_t) + 63) / 64 * 64; }

ds_status ds_speech_unpack(const speech_state *s, const void *packed, const speech_pack_header **h,
                           const int64_t **examples, ds_speech_batch *b, ds_err *err) {
    const speech_pack_header *hd = packed;
    ds_speech_batch_layout l;
    DS_TRY(ds_speech_batch_layout_init(&l, NULL, hd->cap, &s->pack, hd->max_samples, hd->max_labels, err));
    *h = hd;
    *examples = (const int64_t *)((const char *)packed + SPEECH_INDEX_OFFSET);
    *b = ds_speech_batch_view(&l, (char *)packed + hd->data_offset);
    return DS_OK;
}

// ---- open / close ------------------------------------------------------------------------------

static void speech_close(ds_task *t) {
    if (!t) return;
    speech_state *s = (speech_state *)t;
    if (s->model_loaded) ds_w2v_free(&s->model);
    if (s->data_loaded) ds_speech_data_free(&s->data);
    ds_speech_vocab_free(&s->vocab);
    cJSON_Delete(s->model_config);
    for (size_t i = 0; i < s->pending_cap; i++) ds_str_free(&s->pending[i]);
    free(s->pending);
    free(s->ids);
    free(s);
}

static speech_state *new_state(ds_context *ctx, const ds_config *cfg) {
    speech_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.family = &ds_speech_task_family;
    s->cfg = cfg;
    s->log = &ctx->log;
    s->seed = ctx->seed;
    s->pending_rows = -1;
    return s;
}

// The model's config: config.json's (a model directory), model.scratch_config's, or the built-in
// small model's; then the vocabulary's size and blank, model.* and the attention mask.
static ds_status model_config(ds_context *ctx, const ds_config *cfg, const speech_model_info *info,
                              const ds_ctc_tokenizer *tok, bool training, ds_w2v_config *c, bool *use_mask) {
    ds_err *err = &ctx->err;
    const char *scratch = ds_config_str(cfg, "model.scratch_config");
    if (info->config) {
        char name[4300];
        snprintf(name, sizeof name, "%s/config.json", info->dir);
        DS_TRY(ds_speech_config_from_json(info->config, name, c, err));
    } else if (scratch[0]) {
        DS_TRY(ds_speech_config_read_file(scratch, c, err));
    } else {
        *c = ds_speech_config_scratch();
    }
    if (training) {
        c->vocab_size = tok->size;
        c->pad_token_id = tok->pad_id;
    } else {
        DS_REQUIRE(err, c->vocab_size == tok->size, DS_ERR_CONFIG,
                   "%s: the model has %lld output ids but its tokenizer %d: is the vocabulary the model's?", info->dir,
                   (long long)c->vocab_size, (int)tok->size);
    }
    ds_speech_apply_overrides(cfg, training, c);
    const int mask = ds_speech_attention_mask_setting(cfg);
    *use_mask = mask < 0 ? info->features.return_attention_mask : mask == 1;
    c->use_attention_mask = *use_mask;
    return DS_OK;
}

// The tokenizer: data.vocab's directory, the model's, or one built from the transcripts.
static ds_status open_vocab(ds_context *ctx, const ds_config *cfg, const speech_model_info *info, bool training,
                            speech_state *s) {
    const char *want = ds_config_str(cfg, "data.vocab");
    if (want[0] && strcmp(want, "build") != 0) return ds_speech_vocab_load(want, &s->vocab, &ctx->err);
    if (!want[0] && info->has_tokenizer) return ds_speech_vocab_load(info->dir, &s->vocab, &ctx->err);
    DS_REQUIRE(&ctx->err, training, DS_ERR_CONFIG, "%s has no vocab.json: give the tokenizer directory as data.vocab",
               info->dir[0] ? info->dir : "the model");
    const ds_speech_dataset *sets[DS_DATA_SPLITS];
    const int n = ds_speech_data_sources(&s->data, sets);
    return ds_speech_vocab_build(sets, n, &s->data.norm, &s->vocab, &ctx->err);
}

static ds_status open_common(ds_context *ctx, const ds_config *cfg, bool training, speech_state *s) {
    ds_err *err = &ctx->err;
    speech_model_info info;
    ds_status st = ds_speech_model_probe(ctx, ds_config_str(cfg, "model.path"), &info);
    if (st == DS_OK) {
        st = ds_speech_data_open(cfg, &ctx->log, training, ctx->seed, info.features.sampling_rate, &s->data, err);
        s->data_loaded = st == DS_OK;
    }
    if (st == DS_OK && training && s->data.n[DS_DATA_TRAIN] == 0)
        st = ds_err_set(err, DS_ERR_INVALID_ARG, "the training set is empty (after the duration filter)");
    if (st == DS_OK && !training && s->data.n[DS_DATA_DEV] == 0 && s->data.n[DS_DATA_TEST] == 0)
        st = ds_err_set(err, DS_ERR_INVALID_ARG, "nothing to evaluate: the dev and test sets are empty");
    if (st == DS_OK) st = open_vocab(ctx, cfg, &info, training, s);
    if (st == DS_OK) st = ds_speech_data_encode(&s->data, &s->vocab.tok, err);
    ds_w2v_config c;
    bool use_mask = false;
    if (st == DS_OK) st = model_config(ctx, cfg, &info, &s->vocab.tok, training, &c, &use_mask);
    if (st == DS_OK) {
        st = ds_speech_model_load(ctx, &info, &c, !training, &s->model);
        s->model_loaded = st == DS_OK;
    }
    if (st == DS_OK) {
        s->pack = ds_speech_pack_defaults();
        s->pack.features = info.features;
        s->pack.features.return_attention_mask = use_mask;
        s->model_config = info.config;
        info.config = NULL;
        const ds_w2v_config *m = &s->model.cfg;
        DS_LOG_INFO(&ctx->log, "speech_ctc: %s%s, %.2f M parameters (%lld layers, hidden %lld, %s norm, %s), "
                    "vocabulary of %d ids (%s), blank %lld, ctc %s%s, attention mask %s, feature encoder %s",
                    info.dir[0] ? "" : "from scratch", info.dir, (double)s->model.params.total / 1e6,
                    (long long)m->layers, (long long)m->hidden, m->feat_extract_norm == DS_W2V_NORM_LAYER ? "layer" : "group",
                    m->do_stable_layer_norm ? "pre-LN" : "post-LN", (int)s->vocab.tok.size, s->vocab.source,
                    (long long)m->pad_token_id, m->ctc_loss_reduction == DS_CTC_MEAN ? "mean" : "sum",
                    m->ctc_zero_infinity ? " (zero_infinity)" : "", use_mask ? "on" : "off",
                    m->freeze_feature_encoder ? "frozen" : "trained");
        if (training && s->vocab.tok.unk_id >= 0) {
            size_t unk = 0;
            for (int k = 0; k < DS_DATA_SPLITS; k++) unk += s->data.open[k] ? s->data.sets[k].unknown_chars : 0;
            if (unk > 0)
                DS_LOG_WARN(&ctx->log, "%zu transcript characters are outside the vocabulary and became %s (data.oov=unk)",
                            unk, s->vocab.tok.unk_token);
        }
    }
    ds_speech_model_info_free(&info);
    return st;
}

static ds_status speech_open(ds_context *ctx, const ds_config *cfg, bool training, ds_task **out) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, training || ds_config_str(cfg, "model.path")[0], DS_ERR_CONFIG,
               "model.path is empty: give the fine-tuned model (train.output_dir/model after training)");
    speech_state *s = new_state(ctx, cfg);
    DS_REQUIRE(err, s != NULL, DS_ERR_OOM, "speech: out of memory");
    const ds_status st = open_common(ctx, cfg, training, s);
    if (st != DS_OK) {
        speech_close(&s->base);
        return st;
    }
    *out = &s->base;
    return DS_OK;
}

static ds_status speech_open_train(ds_context *ctx, const ds_config *cfg, ds_task **out) {
    return speech_open(ctx, cfg, true, out);
}

static ds_status speech_open_eval(ds_context *ctx, const ds_config *cfg, ds_task **out) {
    return speech_open(ctx, cfg, false, out);
}

// ---- the model ---------------------------------------------------------------------------------

static ds_param_block *speech_params(ds_task *t) { return &((speech_state *)t)->model.params; }

// On CUDA the model runs in run.precision: fp32, or bf16 mixed precision (models/wav2vec2:
// ds_w2v_to_device; fp32 master weights, bf16 activations, log-softmax and CTC in fp32; bf16 on
// the CPU is refused earlier, by the run's device setup); on the CPU nothing moves. The forward uploads each batch and
// downloads the loss (and, in evaluation, the logits), so evaluation and decoding read host arrays on both.
static ds_status speech_to_device(ds_context *ctx, ds_task *t, ds_dtype act) {
    return ds_w2v_to_device(ctx, &((speech_state *)t)->model, act);
}

static ds_status speech_arena_bytes(ds_context *ctx, ds_task *t, size_t batch, bool training, size_t *bytes) {
    speech_state *s = (speech_state *)t;
    size_t need = 64;
    for (int k = 0; k < DS_DATA_SPLITS; k++) {
        if (s->data.n[k] == 0 || (k == DS_DATA_TRAIN && !training)) continue;
        const ds_speech_dataset *d = s->data.src[k];
        size_t b = 0;
        DS_TRY(ds_w2v_arena_bytes(ctx, &s->model, (int64_t)batch, d->max_length, d->max_label_length,
                                  training && k == DS_DATA_TRAIN, &b));
        need = max_size(need, b);
    }
    *bytes = need;
    return DS_OK;
}

// The batch as the model takes it.
static ds_w2v_batch model_batch(const ds_speech_batch *b) {
    return (ds_w2v_batch){.B = b->B, .S = b->S, .audio = b->audio, .lengths = b->audio_lengths,
                          .labels = b->L > 0 ? b->labels : NULL, .label_len = b->L};
}

// An infinite CTC loss (the audio of an utterance too short for its transcript): the error names
// the files.
static ds_status infinite_loss(ds_context *ctx, const speech_state *s, const speech_pack_header *h,
                               const int64_t *examples, const ds_speech_batch *b) {
    const ds_speech_dataset *d = s->data.src[h->split];
    // (B) F32 host: the per-utterance losses (downloaded from a device; NULL: name the first rows)
    const ds_tensor *per_utt = &s->model.saved.losses;
    float *host = per_utt->device.kind == DS_DEVICE_CPU ? NULL : malloc(ds_tensor_nbytes(per_utt));
    if (host && ds_tensor_to_host(ctx, host, per_utt) != DS_OK) {
        free(host);
        return ctx->err.status;
    }
    const float *losses = per_utt->device.kind == DS_DEVICE_CPU ? per_utt->data : host;
    char names[1600] = "";
    size_t at = 0;
    int shown = 0;
    for (int64_t i = 0; i < b->B && at < sizeof names; i++) {
        if (losses && isfinite(losses[i])) continue;
        const ds_speech_utterance *u = &d->utts[examples[i]];
        const int64_t frames = ds_w2v_output_frames(&s->model.cfg, b->audio_lengths[i]);
        if (shown++ < 4)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s%s:%ld: %s (%.2f s, %lld frames, %d labels)",
                                   at ? "; " : "", d->source, u->line, ds_speech_dataset_path(d, (size_t)examples[i]),
                                   (double)b->audio_lengths[i] / s->pack.features.sampling_rate, (long long)frames,
                                   (int)b->label_lengths[i]);
    }
    free(host);
    return ds_err_set(&ctx->err, DS_ERR_NUMERIC,
                      "the CTC loss is infinite: the audio is too short for its transcript (CTC needs at least one "
                      "frame per label, two between repeated letters): %s. Remove such utterances, or set "
                      "model.ctc_zero_infinity=true to give them loss 0 (as HF's ctc_zero_infinity)", names);
}

// A packed batch as the forwards read it. An empty one (no utterance) leaves nothing to decode.
typedef struct speech_unpacked {
    const speech_pack_header *h;
    const int64_t *examples;
    ds_speech_batch b;
    ds_w2v_batch mb;  // the model's view of b
} speech_unpacked;

static ds_status unpack_for_forward(ds_context *ctx, speech_state *s, const void *batch, speech_unpacked *u) {
    DS_TRY(ds_speech_unpack(s, batch, &u->h, &u->examples, &u->b, &ctx->err));
    u->mb = model_batch(&u->b);
    s->pending_rows = u->b.B == 0 ? 0 : -1;
    return DS_OK;
}

// The trainer's forward. The loss stays on the device unless an infinite CTC loss must be told
// apart here, where the batch's files are still known: always on the CPU (no wait there), and on a
// device unless model.ctc_zero_infinity (which makes the loss finite) is set; there a wait per
// micro-batch remains.
static ds_status speech_forward_train(ds_context *ctx, ds_task *t, const void *batch, uint64_t rng_step,
                                      const ds_collective *coll, ds_arena *arena, ds_task_loss *loss) {
    (void)coll;  // no batch statistics: gradients alone are all-reduced (by the trainer)
    speech_state *s = (speech_state *)t;
    speech_unpacked u;
    DS_TRY(unpack_for_forward(ctx, s, batch, &u));
    *loss = (ds_task_loss){.value = NAN};
    if (u.b.B == 0) return DS_OK;
    ds_w2v_output out;
    DS_TRY(ds_w2v_forward_train(ctx, &s->model, &u.mb, rng_step, arena, &out));
    if (!out.has_loss) return DS_OK;
    *loss = (ds_task_loss){.count = 1, .term = {out.loss_term}, .coef = {1.0}, .round_f32 = true, .value = NAN};
    if (out.loss_term.device.kind != DS_DEVICE_CPU && s->model.cfg.ctc_zero_infinity) return DS_OK;
    double value;
    DS_TRY(ds_task_loss_to_host(ctx, loss, &value));
    if (isinf(value)) return infinite_loss(ctx, s, u.h, u.examples, &u.b);
    return DS_OK;
}

static ds_status speech_forward(ds_context *ctx, ds_task *t, const void *batch, bool training, uint64_t rng_step,
                                const ds_collective *coll, ds_arena *arena, double *loss) {
    (void)coll;  // as speech_forward_train
    speech_state *s = (speech_state *)t;
    speech_unpacked u;
    DS_TRY(unpack_for_forward(ctx, s, batch, &u));
    *loss = NAN;
    if (u.b.B == 0) return DS_OK;
    ds_w2v_output out;
    DS_TRY(ds_w2v_forward(ctx, &s->model, &u.mb, training, rng_step, arena, &out));
    *loss = out.has_loss ? (double)out.loss : (double)NAN;
    if (training && out.has_loss && isinf(out.loss)) return infinite_loss(ctx, s, u.h, u.examples, &u.b);
    if (!training) DS_TRY(ds_speech_decode_rows(s, &out, u.b.B, &ctx->err));
    return DS_OK;
}

static ds_status speech_backward(ds_context *ctx, ds_task *t, double dloss, ds_arena *arena,
                                 const ds_grad_hook *hook) {
    return ds_w2v_backward(ctx, &((speech_state *)t)->model, dloss, arena, hook);
}

// ---- the data ----------------------------------------------------------------------------------

static size_t speech_count(const ds_task *t, ds_data_split split) { return ((const speech_state *)t)->data.n[split]; }

static ds_status split_layout(const speech_state *s, ds_data_split k, size_t cap, ds_speech_batch_layout *l,
                              ds_err *err) {
    const ds_speech_dataset *d = s->data.src[k];
    return ds_speech_batch_layout_init(l, NULL, (int64_t)(cap > 0 ? cap : 1), &s->pack, d->max_length,
                                       d->max_label_length, err);
}

static size_t speech_batch_bytes(const ds_task *t, size_t batch) {
    const speech_state *s = (const speech_state *)t;
    size_t bytes = 0;
    ds_err err;
    for (int k = 0; k < DS_DATA_SPLITS; k++) {
        ds_speech_batch_layout l;
        if (s->data.n[k] > 0 && split_layout(s, (ds_data_split)k, batch, &l, &err) == DS_OK)
            bytes = max_size(bytes, l.bytes);
    }
    return ds_speech_pack_prefix(batch > 0 ? batch : 1) + bytes;
}

static ds_status speech_pack(const ds_task *t, ds_data_split split, const size_t *idx, size_t n, int64_t epoch,
                             void *batch, ds_batch_info *info, ds_err *err) {
    const speech_state *s = (const speech_state *)t;
    const size_t cap = n > 0 ? n : 1;
    ds_speech_batch_layout l;
    DS_TRY(split_layout(s, split, cap, &l, err));
    speech_pack_header h = {.split = (int32_t)split, .cap = (int32_t)cap, .max_samples = l.max_samples,
                            .max_labels = l.max_labels, .data_offset = (int64_t)ds_speech_pack_prefix(cap)};
    memset(batch, 0, SPEECH_INDEX_OFFSET);
    memcpy(batch, &h, sizeof h);
    int64_t *examples = (int64_t *)((char *)batch + SPEECH_INDEX_OFFSET);
    size_t *dataset_idx = malloc(cap * sizeof *dataset_idx);
    DS_REQUIRE(err, dataset_idx != NULL, DS_ERR_OOM, "speech batch: out of memory");
    for (size_t i = 0; i < n; i++) {
        dataset_idx[i] = ds_speech_data_example(&s->data, split, idx[i]);
        examples[i] = (int64_t)dataset_idx[i];
    }
    const ds_status st =
        ds_speech_batch_pack(s->data.src[split], &s->pack, &l, dataset_idx, (int64_t)n, epoch, (char *)batch + h.data_offset, err);
    free(dataset_idx);
    DS_TRY(st);
    // HF's "mean" is the mean over utterances of loss / target length: its weight is the utterance
    // count, so that the trainer's weighting over micro-batches and ranks gives the mean of the
    // whole batch; "sum" adds up as it is.
    const bool sum = s->model.cfg.ctc_loss_reduction == DS_CTC_SUM;
    *info = (ds_batch_info){.n = n, .weight = sum ? 1.0 : (double)n, .summed = sum};
    return DS_OK;
}

static const int32_t *speech_lengths(const ds_task *t, ds_data_split split) {
    return ((const speech_state *)t)->data.lengths[split];
}

// ---- files -------------------------------------------------------------------------------------

static ds_status speech_checkpoint_meta(const ds_task *t, cJSON **out, ds_err *err) {
    const speech_state *s = (const speech_state *)t;
    cJSON *root = cJSON_CreateObject();
    DS_REQUIRE(err, root != NULL, DS_ERR_OOM, "checkpoint metadata: out of memory");
    cJSON_AddStringToObject(root, "task", "speech_ctc");
    cJSON_AddNumberToObject(root, "vocab_size", (double)s->model.cfg.vocab_size);
    cJSON_AddNumberToObject(root, "pad_token_id", (double)s->model.cfg.pad_token_id);
    cJSON_AddStringToObject(root, "vocab_source", s->vocab.source);
    cJSON_AddStringToObject(root, "model_path", s->cfg ? ds_config_str(s->cfg, "model.path") : "");
    cJSON *config = ds_speech_config_to_json(&s->model.cfg, s->model_config);
    if (config) cJSON_AddItemToObject(root, "config", config);
    *out = root;
    return DS_OK;
}

static ds_status speech_export_model(ds_context *ctx, ds_task *t, const char *dir) {
    speech_state *s = (speech_state *)t;
    DS_TRY(ds_speech_export(&s->model, s->model_config, &s->vocab, &s->pack.features, dir, &ctx->err));
    DS_LOG_INFO(&ctx->log, "exported the model to %s (Wav2Vec2ForCTC / Wav2Vec2Processor: config.json, "
                "model.safetensors, vocab.json, tokenizer_config.json, preprocessor_config.json)", dir);
    return DS_OK;
}

const ds_task_family ds_speech_task_family = {
    .name = "speech_ctc",
    .summary = "Hugging Face Wav2Vec2ForCTC speech recognition on audio/transcript manifests (CPU)",
    .config_keys = ds_speech_config_keys,
    .batch_statistics = false,
    .open_train = speech_open_train,
    .open_eval = speech_open_eval,
    .close = speech_close,
    .params = speech_params,
    .to_device = speech_to_device,
    .arena_bytes = speech_arena_bytes,
    .forward = speech_forward,
    .forward_train = speech_forward_train,
    .backward = speech_backward,
    .count = speech_count,
    .batch_bytes = speech_batch_bytes,
    .pack = speech_pack,
    .lengths = speech_lengths,
    .length_unit = "samples",
    .eval_open = ds_speech_eval_open,
    .eval_add = ds_speech_eval_add,
    .eval_buffers = ds_speech_eval_buffers,
    .eval_report = ds_speech_eval_report,
    .eval_close = ds_speech_eval_close,
    .select_metric = ds_speech_select_metric,
    .checkpoint_meta = speech_checkpoint_meta,
    .export_model = speech_export_model,
    .recognizes = ds_speech_recognizes,
    .predict = ds_speech_predict,
    .bench = ds_speech_bench,
    .write_samples = ds_speech_write_samples,
};
