// Evaluation of the speech family: greedy CTC decoding (argmax per frame over each utterance's own
// frames, then Wav2Vec2CTCTokenizer.batch_decode: merge repeats, drop the blank, "|" -> " "),
// references as the recipe's compute_metrics makes them (label ids decoded without grouping),
// WER/CER with jiwer's definitions as I64 sums all-reduced over ranks (runtime/metrics/metrics_wer.h),
// a report with the first transcripts beside their references and the worst utterances of this rank,
// and the sample lines of the run report (samples.jsonl).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/check.h"
#include "speech_internal.h"

#define SHOWN_FIRST 10  // transcripts printed in the report, in data order
#define SHOWN_WORST 5   // and the utterances with the most character errors

typedef struct shown_utt {
    int64_t char_errors, ref_chars;
    char *audio, *reference, *hypothesis;  // owned
} shown_utt;

struct ds_task_eval {
    ds_wer_counts counts;
    shown_utt first[SHOWN_FIRST], worst[SHOWN_WORST];
    int n_first, n_worst;
};

ds_status ds_speech_decode(const ds_ctc_tokenizer *tok, const float *logits, int64_t frames, int64_t V,
                           int32_t *ids, ds_str *out, ds_err *err) {
    ds_ctc_argmax(logits, frames, V, ids);
    const ds_ctc_decode_options o = ds_ctc_decode_defaults();
    return ds_ctc_decode(tok, ids, (size_t)frames, &o, out, err);
}

ds_status ds_speech_reference(const ds_ctc_tokenizer *tok, const ds_speech_dataset *d, size_t i, ds_str *out,
                              ds_err *err) {
    const int32_t *ids = NULL;
    const int32_t n = ds_speech_dataset_labels(d, i, &ids);
    ds_ctc_decode_options o = ds_ctc_decode_defaults();
    o.group_tokens = false;
    return ds_ctc_decode(tok, ids, (size_t)n, &o, out, err);
}

ds_status ds_speech_decode_rows(speech_state *s, const ds_w2v_output *out, int64_t B, ds_err *err) {
    const int64_t T = out->T, V = s->model.cfg.vocab_size;
    if ((size_t)B > s->pending_cap) {
        ds_str *p = realloc(s->pending, (size_t)B * sizeof *p);
        DS_REQUIRE(err, p != NULL, DS_ERR_OOM, "speech evaluation: out of memory");
        memset(p + s->pending_cap, 0, ((size_t)B - s->pending_cap) * sizeof *p);
        s->pending = p;
        s->pending_cap = (size_t)B;
    }
    if ((size_t)T > s->ids_cap) {
        int32_t *ids = realloc(s->ids, (size_t)T * sizeof *ids);
        DS_REQUIRE(err, ids != NULL, DS_ERR_OOM, "speech evaluation: out of memory");
        s->ids = ids;
        s->ids_cap = (size_t)T;
    }
    for (int64_t i = 0; i < B; i++) {
        const float *row = (const float *)out->logits.data + i * T * V;  // (T, V) of utterance i
        DS_TRY(ds_speech_decode(&s->vocab.tok, row, out->valid_frames[i], V, s->ids, &s->pending[i], err));
    }
    s->pending_rows = B;
    return DS_OK;
}

ds_status ds_speech_eval_open(ds_task *t, ds_task_eval **out, ds_err *err) {
    (void)t;
    ds_task_eval *e = calloc(1, sizeof *e);
    DS_REQUIRE(err, e != NULL, DS_ERR_OOM, "speech evaluation: out of memory");
    ds_wer_counts_reset(&e->counts);
    *out = e;
    return DS_OK;
}

static void shown_free(shown_utt *u) {
    free(u->audio);
    free(u->reference);
    free(u->hypothesis);
    memset(u, 0, sizeof *u);
}

static ds_status shown_set(shown_utt *u, const char *audio, const char *ref, const char *hyp, int64_t errors,
                           int64_t chars, ds_err *err) {
    shown_free(u);
    u->audio = strdup(audio), u->reference = strdup(ref), u->hypothesis = strdup(hyp);
    u->char_errors = errors, u->ref_chars = chars;
    DS_REQUIRE(err, u->audio && u->reference && u->hypothesis, DS_ERR_OOM, "speech evaluation: out of memory");
    return DS_OK;
}

// Keeps the SHOWN_WORST utterances with the most character errors (ties: the first seen).
static ds_status keep_worst(ds_task_eval *e, const char *audio, const char *ref, const char *hyp, int64_t errors,
                            int64_t chars, ds_err *err) {
    if (errors == 0) return DS_OK;
    int slot = e->n_worst < SHOWN_WORST ? e->n_worst++ : -1;
    if (slot < 0) {
        int low = 0;
        for (int k = 1; k < SHOWN_WORST; k++)
            if (e->worst[k].char_errors < e->worst[low].char_errors) low = k;
        if (e->worst[low].char_errors >= errors) return DS_OK;
        slot = low;
    }
    return shown_set(&e->worst[slot], audio, ref, hyp, errors, chars, err);
}

ds_status ds_speech_eval_add(ds_context *ctx, ds_task *t, ds_task_eval *e, const void *batch) {
    speech_state *s = (speech_state *)t;
    ds_err *err = &ctx->err;
    const speech_pack_header *h;
    const int64_t *examples;
    ds_speech_batch b;
    DS_TRY(ds_speech_unpack(s, batch, &h, &examples, &b, err));
    DS_REQUIRE(err, s->pending_rows == b.B, DS_ERR_INTERNAL, "speech evaluation: no forward of this batch to add");
    const ds_speech_dataset *d = s->data.src[h->split];
    ds_str ref = {0};
    ds_status st = DS_OK;
    for (int64_t i = 0; i < b.B && st == DS_OK; i++) {
        st = ds_speech_reference(&s->vocab.tok, d, (size_t)examples[i], &ref, err);
        const char *hyp = s->pending[i].v ? s->pending[i].v : "";
        const char *r = ref.v ? ref.v : "";
        int64_t ce = 0, rc = 0;
        if (st == DS_OK) st = ds_wer_counts_add(&e->counts, r, hyp, err);
        if (st == DS_OK) st = ds_cer_distance(r, hyp, &ce, &rc, err);
        const char *audio = ds_speech_dataset_path(d, (size_t)examples[i]);
        if (st == DS_OK && e->n_first < SHOWN_FIRST) st = shown_set(&e->first[e->n_first++], audio, r, hyp, ce, rc, err);
        if (st == DS_OK) st = keep_worst(e, audio, r, hyp, ce, rc, err);
    }
    ds_str_free(&ref);
    s->pending_rows = -1;
    return st;
}

int ds_speech_eval_buffers(ds_task_eval *e, ds_metric_buffer *out, int cap) {
    if (cap < 1) return 0;
    out[0] = ds_wer_counts_buffer(&e->counts);
    return 1;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void print_utts(FILE *f, const shown_utt *u, int n) {
    for (int k = 0; k < n; k++)
        fprintf(f, "  %-24.24s cer %5.3f  ref: %s\n  %-24s            hyp: %s\n", base_name(u[k].audio),
                u[k].ref_chars > 0 ? (double)u[k].char_errors / (double)u[k].ref_chars : (double)u[k].char_errors,
                u[k].reference, "", u[k].hypothesis);
}

ds_status ds_speech_eval_report(const ds_task *t, const ds_task_eval *e, const char *prefix, ds_eval_result *r,
                                ds_err *err) {
    (void)t;
    ds_wer_report w;
    ds_wer_report_compute(&e->counts, &w);
    ds_eval_result_add(r, prefix, "wer", w.wer);
    ds_eval_result_add(r, prefix, "cer", w.cer);
    size_t size = 0;
    FILE *f = open_memstream(&r->report, &size);
    if (f) {
        fprintf(f, "  %lld utterances: WER %.4f (%lld word errors / %lld words), CER %.4f (%lld / %lld characters)\n",
                (long long)w.utterances, w.wer, (long long)w.word_errors, (long long)w.ref_words, w.cer,
                (long long)w.char_errors, (long long)w.ref_chars);
        if (e->n_first > 0) {
            fprintf(f, "  transcripts (greedy CTC) beside their references, the first %d:\n", e->n_first);
            print_utts(f, e->first, e->n_first);
        }
        if (e->n_worst > 0) {
            fprintf(f, "  the most character errors (this rank's data):\n");
            print_utts(f, e->worst, e->n_worst);
        }
        fclose(f);
    }
    DS_REQUIRE(err, r->report != NULL, DS_ERR_OOM, "evaluation report: out of memory");
    return DS_OK;
}

void ds_speech_eval_close(ds_task_eval *e) {
    if (!e) return;
    for (int k = 0; k < SHOWN_FIRST; k++) shown_free(&e->first[k]);
    for (int k = 0; k < SHOWN_WORST; k++) shown_free(&e->worst[k]);
    free(e);
}

ds_status ds_speech_select_metric(const ds_task *t, const char *want, ds_metric_choice *out, ds_err *err) {
    (void)t;
    if (!want[0]) want = "wer";  // the recipe's metric_for_best_model
    DS_REQUIRE(err, strcmp(want, "wer") == 0 || strcmp(want, "cer") == 0 || strcmp(want, "loss") == 0, DS_ERR_CONFIG,
               "train.metric '%s' is not a speech_ctc metric: wer, cer or loss", want);
    snprintf(out->name, sizeof out->name, "%s", want);
    out->greater_is_better = false;
    return DS_OK;
}

// samples.jsonl: up to 24 utterances of split k, mistakes first, as
// {"kind": "audio", "audio", "reference", "hypothesis", "prediction", "correct", "cer", "split", "index"}.
ds_status ds_speech_write_samples(ds_context *ctx, ds_task *t, ds_data_split k, size_t batch, ds_arena *arena,
                                  FILE *out) {
    speech_state *s = (speech_state *)t;
    ds_err *err = &ctx->err;
    const size_t n = s->data.n[k] < 48 ? s->data.n[k] : 48;  // the first 48 examples, 24 of them written
    if (n == 0) return DS_OK;
    const size_t bytes = t->family->batch_bytes(t, batch);
    void *buf = aligned_alloc(64, (bytes + 63) / 64 * 64);  // one packed batch, host
    size_t *idx = malloc(batch * sizeof *idx);
    char **lines[2] = {calloc(n, sizeof(char *)), calloc(n, sizeof(char *))};  // [mistakes, correct]
    size_t counts[2] = {0, 0};
    ds_status st = buf && idx && lines[0] && lines[1] ? DS_OK : ds_err_set(err, DS_ERR_OOM, "samples: out of memory");
    ds_str ref = {0};
    for (size_t at = 0; st == DS_OK && at < n; at += batch) {
        const size_t m = n - at < batch ? n - at : batch;
        for (size_t i = 0; i < m; i++) idx[i] = at + i;
        ds_batch_info info;
        double loss;
        if ((st = t->family->pack(t, k, idx, m, 0, buf, &info, err)) != DS_OK) break;
        if ((st = t->family->forward(ctx, t, buf, false, 0, NULL, arena, &loss)) != DS_OK) break;
        const ds_speech_dataset *d = s->data.src[k];
        for (size_t i = 0; i < m && st == DS_OK; i++) {
            const size_t ex = ds_speech_data_example(&s->data, k, at + i);
            st = ds_speech_reference(&s->vocab.tok, d, ex, &ref, err);
            int64_t ce = 0, rc = 0;
            const char *hyp = s->pending[i].v ? s->pending[i].v : "", *r = ref.v ? ref.v : "";
            if (st == DS_OK) st = ds_cer_distance(r, hyp, &ce, &rc, err);
            if (st != DS_OK) break;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "kind", "audio");
            cJSON_AddStringToObject(o, "audio", ds_speech_dataset_path(d, ex));
            cJSON_AddStringToObject(o, "reference", r);
            cJSON_AddStringToObject(o, "hypothesis", hyp);
            cJSON_AddStringToObject(o, "prediction", hyp);
            cJSON_AddBoolToObject(o, "correct", ce == 0);
            cJSON_AddNumberToObject(o, "cer", rc > 0 ? (double)ce / (double)rc : (double)ce);
            cJSON_AddStringToObject(o, "split", k == DS_DATA_TEST ? "test" : k == DS_DATA_DEV ? "dev" : "train");
            cJSON_AddNumberToObject(o, "index", (double)(at + i));
            char *line = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            if (!line) st = ds_err_set(err, DS_ERR_OOM, "samples: out of memory");
            else lines[ce == 0][counts[ce == 0]++] = line;
        }
        s->pending_rows = -1;
    }
    size_t written = 0;
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < counts[c]; i++) {
            if (st == DS_OK && written < 24) {
                fprintf(out, "%s\n", lines[c][i]);
                written++;
            }
            free(lines[c][i]);
        }
    ds_str_free(&ref);
    free(lines[0]);
    free(lines[1]);
    free(idx);
    free(buf);
    return st;
}
