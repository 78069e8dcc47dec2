// `downstream predict` for a Wav2Vec2ForCTC directory (speech_ctc):
//   --input AUDIO | DIR (its .wav/.flac/.ogg files, sorted by name) | MANIFEST (.csv/.tsv/.jsonl: the
//           data.audio_field column)
//   --output F.jsonl (default stdout): one line per utterance {"audio", "text", "seconds"}
//   --save-logits DIR: DIR/<stem>.safetensors with "logits" (1, T, V) F32
// Each utterance runs alone (batch 1, no padding): the audio is read, mixed to mono, resampled to
// the feature extractor's rate and normalised as Wav2Vec2FeatureExtractor does, and the logits
// decoded greedily as processor.batch_decode(argmax) does.
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../../data/audio/audio_read.h"
#include "../../base/check.h"
#include "../../base/log.h"
#include "../../io/fs.h"
#include "../../io/safetensors.h"
#include "speech_internal.h"

static bool has_suffix(const char *s, const char *suffix) {
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static bool is_audio_name(const char *s) {
    return has_suffix(s, ".wav") || has_suffix(s, ".flac") || has_suffix(s, ".ogg");
}

static bool is_manifest_name(const char *s) {
    return has_suffix(s, ".csv") || has_suffix(s, ".tsv") || has_suffix(s, ".jsonl") || has_suffix(s, ".json");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct path_list {
    char **v;  // (n) owned paths
    size_t n, cap;
} path_list;

static ds_status list_add(path_list *l, const char *p, ds_err *err) {
    if (l->n == l->cap) {
        const size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        DS_REQUIRE(err, v != NULL, DS_ERR_OOM, "predict: out of memory");
        l->v = v, l->cap = cap;
    }
    l->v[l->n] = strdup(p);
    DS_REQUIRE(err, l->v[l->n] != NULL, DS_ERR_OOM, "predict: out of memory");
    l->n++;
    return DS_OK;
}

static void list_free(path_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

// The audio files of --input.
static ds_status read_inputs(const ds_config *cfg, const char *input, path_list *l, ds_err *err) {
    struct stat st;
    DS_REQUIRE(err, stat(input, &st) == 0, DS_ERR_IO, "predict: %s: %s", input, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(input);
        DS_REQUIRE(err, d != NULL, DS_ERR_IO, "predict: %s: %s", input, strerror(errno));
        struct dirent *e;
        ds_status s = DS_OK;
        char path[4400];
        while (s == DS_OK && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' || !is_audio_name(e->d_name)) continue;
            snprintf(path, sizeof path, "%s/%s", input, e->d_name);
            s = list_add(l, path, err);
        }
        closedir(d);
        DS_TRY(s);
        DS_REQUIRE(err, l->n > 0, DS_ERR_INVALID_ARG, "predict: %s holds no .wav, .flac or .ogg file", input);
        qsort(l->v, l->n, sizeof *l->v, cmp_str);
        return DS_OK;
    }
    if (!is_manifest_name(input)) return list_add(l, input, err);
    ds_speech_dataset_options o = ds_speech_dataset_default_options();
    o.audio_column = ds_config_str(cfg, "data.audio_field");
    o.text_column = NULL;
    o.max_seconds = 0;
    ds_speech_dataset d;
    DS_TRY(ds_speech_dataset_load(input, &o, &d, err));
    ds_status s = DS_OK;
    for (size_t i = 0; i < d.count && s == DS_OK; i++) s = list_add(l, ds_speech_dataset_path(&d, i), err);
    ds_speech_dataset_free(&d);
    return s;
}

static ds_status save_logits(const char *dir, const char *audio, const ds_tensor *logits, int64_t T, int64_t V,
                             ds_err *err) {
    const char *base = strrchr(audio, '/');
    base = base ? base + 1 : audio;
    char stem[1024];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot) *dot = '\0';
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, stem);
    const ds_tensor t = ds_tensor_cpu3(logits->data, DS_F32, 1, T, V);  // (1, T, V) of the (B=1) output
    const ds_st_entry e = {"logits", t};
    return ds_st_write(path, &e, 1, NULL, 0, err);
}

typedef struct predictor {
    ds_w2v_model model;
    bool model_loaded;
    speech_vocab vocab;
    ds_w2v2_feature_config features;
    ds_arena arena;
    size_t arena_bytes;
    int32_t *ids;
    size_t ids_cap;
} predictor;

static ds_status open_predictor(ds_context *ctx, const ds_config *cfg, const char *dir, predictor *p) {
    speech_model_info info;
    ds_status st = ds_speech_model_probe(ctx, dir, &info);
    if (st == DS_OK && !info.has_tokenizer)
        st = ds_err_set(&ctx->err, DS_ERR_CONFIG, "%s has no vocab.json: predict needs the model's tokenizer", dir);
    if (st == DS_OK) st = ds_speech_vocab_load(info.dir, &p->vocab, &ctx->err);
    ds_w2v_config c;
    if (st == DS_OK) {
        char name[4300];
        snprintf(name, sizeof name, "%s/config.json", info.dir);
        st = ds_speech_config_from_json(info.config, name, &c, &ctx->err);
    }
    if (st == DS_OK && c.vocab_size != p->vocab.tok.size)
        st = ds_err_set(&ctx->err, DS_ERR_CONFIG, "%s: the model has %lld output ids but its tokenizer %d", info.dir,
                        (long long)c.vocab_size, (int)p->vocab.tok.size);
    if (st == DS_OK) {
        ds_speech_apply_overrides(cfg, false, &c);
        const int mask = ds_speech_attention_mask_setting(cfg);
        c.use_attention_mask = mask < 0 ? info.features.return_attention_mask : mask == 1;
        c.apply_spec_augment = false;  // inference: no masks, and no masked_spec_embed needed
        c.mask_time_prob = c.mask_feature_prob = 0;
        p->features = info.features;
        st = ds_speech_model_load(ctx, &info, &c, true, &p->model);
        p->model_loaded = st == DS_OK;
    }
    ds_speech_model_info_free(&info);
    return st;
}

// One utterance: logits (1, T, V) and the greedy transcript into *text.
static ds_status run_one(ds_context *ctx, predictor *p, const char *path, ds_str *text, ds_w2v_output *out,
                         double *seconds) {
    ds_err *err = &ctx->err;
    ds_audio_read_options ro = ds_audio_read_defaults();
    ro.target_rate = p->features.sampling_rate;
    ds_audio a;
    DS_TRY(ds_audio_read(path, &ro, &a, err));
    *seconds = (double)a.n / (double)a.sample_rate;
    ds_status st = DS_OK;
    if (ds_w2v_output_frames(&p->model.cfg, a.n) < 1)
        st = ds_err_set(err, DS_ERR_INVALID_ARG, "%s: %.3f s of audio is shorter than the model's receptive field", path,
                        *seconds);
    if (st == DS_OK && p->features.do_normalize) ds_w2v2_normalize(a.samples, a.n);
    size_t need = 0;
    if (st == DS_OK) st = ds_w2v_arena_bytes(ctx, &p->model, 1, a.n, 0, false, &need);
    if (st == DS_OK && need > p->arena_bytes) {
        if (p->arena_bytes) ds_arena_free(&p->arena);
        p->arena_bytes = 0;
        st = ds_arena_init_cpu(&p->arena, need, err);
        if (st == DS_OK) p->arena_bytes = need;
    }
    const int32_t len = (int32_t)a.n;
    const ds_w2v_batch b = {.B = 1, .S = a.n, .audio = a.samples, .lengths = &len};
    if (st == DS_OK) st = ds_w2v_forward(ctx, &p->model, &b, false, 0, &p->arena, out);
    if (st == DS_OK && (size_t)out->T > p->ids_cap) {
        int32_t *ids = realloc(p->ids, (size_t)out->T * sizeof *ids);
        if (!ids) st = ds_err_set(err, DS_ERR_OOM, "predict: out of memory");
        else p->ids = ids, p->ids_cap = (size_t)out->T;
    }
    if (st == DS_OK)
        st = ds_speech_decode(&p->vocab.tok, out->logits.data, out->valid_frames[0], p->model.cfg.vocab_size, p->ids, text,
                              err);
    ds_audio_free(&a);
    return st;
}

ds_status ds_speech_predict(ds_context *ctx, const ds_config *cfg, const ds_predict_args *a) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, a->resize == 0 && !a->overlay, DS_ERR_CONFIG,
               "predict: --resize and --overlay apply to segmentation models; %s is a speech model", a->model);
    DS_REQUIRE(err, a->max_length == 0, DS_ERR_CONFIG, "predict: --max-length applies to text models; %s is a speech model",
               a->model);
    DS_REQUIRE(err, strcmp(a->input, "-") != 0, DS_ERR_CONFIG,
               "predict: a speech model reads audio files: give --input AUDIO, a folder or a manifest, not stdin");
    DS_REQUIRE(err, !a->save_logits || a->save_logits[0], DS_ERR_CONFIG,
               "predict: --save-logits needs a folder for a speech model (--save-logits DIR)");
    DS_REQUIRE(err, ctx->device.kind == DS_DEVICE_CPU, DS_ERR_UNSUPPORTED,
               "speech_ctc runs on the CPU backend for now: set run.device=cpu");
    predictor p;
    memset(&p, 0, sizeof p);
    path_list inputs = {0};
    FILE *out = stdout;
    ds_status st = open_predictor(ctx, cfg, a->model, &p);
    if (st == DS_OK) st = read_inputs(cfg, a->input, &inputs, err);
    if (st == DS_OK && a->save_logits) st = ds_mkdirs(a->save_logits, err);
    if (st == DS_OK && a->output && !(out = fopen(a->output, "w"))) {
        out = stdout;
        st = ds_err_set(err, DS_ERR_IO, "%s: cannot write: %s", a->output, strerror(errno));
    }
    const double t0 = ds_now_seconds();
    double audio_seconds = 0;
    ds_str text = {0};
    if (st == DS_OK)
        DS_LOG_INFO(&ctx->log, "transcribing %zu audio files with %s (greedy CTC)", inputs.n, a->model);
    for (size_t i = 0; i < inputs.n && st == DS_OK; i++) {
        ds_w2v_output o;
        double seconds = 0;
        st = run_one(ctx, &p, inputs.v[i], &text, &o, &seconds);
        if (st == DS_OK && a->save_logits)
            st = save_logits(a->save_logits, inputs.v[i], &o.logits, o.T, p.model.cfg.vocab_size, err);
        if (st != DS_OK) break;
        audio_seconds += seconds;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "audio", inputs.v[i]);
        cJSON_AddStringToObject(j, "text", text.v ? text.v : "");
        cJSON_AddNumberToObject(j, "seconds", round(seconds * 1e4) / 1e4);
        char *line = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!line) st = ds_err_set(err, DS_ERR_OOM, "predict: out of memory");
        else fprintf(out, "%s\n", line);
        free(line);
    }
    if (out != stdout && fclose(out) != 0 && st == DS_OK)
        st = ds_err_set(err, DS_ERR_IO, "%s: cannot write: %s", a->output, strerror(errno));
    if (out == stdout && fflush(stdout) != 0 && st == DS_OK)
        st = ds_err_set(err, DS_ERR_IO, "stdout: cannot write: %s", strerror(errno));
    if (st == DS_OK)
        DS_LOG_INFO(&ctx->log, "%zu transcripts (%.1f s of audio) in %.2f s%s%s%s%s", inputs.n, audio_seconds,
                    ds_now_seconds() - t0, a->output ? " written to " : "", a->output ? a->output : "",
                    a->save_logits ? "; logits in " : "", a->save_logits ? a->save_logits : "");
    ds_str_free(&text);
    list_free(&inputs);
    if (p.arena_bytes) ds_arena_free(&p.arena);
    free(p.ids);
    if (p.model_loaded) ds_w2v_free(&p.model);
    ds_speech_vocab_free(&p.vocab);
    return st;
}
