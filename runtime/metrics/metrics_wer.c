// jiwer's WER and CER (see metrics_wer.h): the default transforms on code points, then a
// two-row Levenshtein distance over words or characters.
#include "metrics_wer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/audio/py_text.h"
#include "../base/check.h"

void ds_wer_counts_reset(ds_wer_counts *c) { memset(c, 0, sizeof *c); }

ds_metric_buffer ds_wer_counts_buffer(ds_wer_counts *c) {
    return (ds_metric_buffer){.data = c->sums, .dtype = DS_I64, .count = 5};
}

// A word: code points [begin, end) of the transformed text.
typedef struct span {
    size_t begin, end;
} span;

// wer_default: RemoveMultipleSpaces (re.sub(r"\s\s+", " ")), Strip, split(" ") without empties.
static ds_status words_of(const char *text, const char *what, ds_cps *cps, span **words, size_t *n, ds_err *err) {
    ds_cps raw = {0};
    ds_status s = ds_utf8_to_cps(text, strlen(text), what, &raw, err);
    cps->n = 0;
    for (size_t i = 0; i < raw.n && s == DS_OK;) {
        size_t run = 0;
        while (i + run < raw.n && ds_py_isspace(raw.v[i + run])) run++;
        if (run >= 2) {
            s = ds_cps_push(cps, ' ', err);
            i += run;
        } else {
            s = ds_cps_push(cps, raw.v[i], err);
            i++;
        }
    }
    ds_cps_free(&raw);
    if (s != DS_OK) return s;
    size_t b = 0, e = 0;
    ds_py_strip_range(cps->v, cps->n, &b, &e);
    *n = 0;
    *words = malloc((e - b + 1) * sizeof **words);
    if (*words == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for the words", what);
    for (size_t i = b; i < e;) {
        size_t j = i;
        while (j < e && cps->v[j] != ' ') j++;
        if (j > i) (*words)[(*n)++] = (span){i, j};
        i = j + 1;
    }
    return DS_OK;
}

static bool same_word(const ds_cps *a, span x, const ds_cps *b, span y) {
    return x.end - x.begin == y.end - y.begin &&
           memcmp(a->v + x.begin, b->v + y.begin, (x.end - x.begin) * sizeof *a->v) == 0;
}

// Levenshtein distance between sequences of n and m items, eq(i, j) telling item equality.
typedef bool (*eq_fn)(const void *ctx, size_t i, size_t j);

static ds_status levenshtein(size_t n, size_t m, eq_fn eq, const void *ctx, int64_t *out, ds_err *err) {
    int64_t *row = malloc((m + 1) * 2 * sizeof *row);
    if (row == NULL) return ds_err_set(err, DS_ERR_OOM, "error rate: out of memory for %zu items", m);
    int64_t *prev = row, *cur = row + m + 1;
    for (size_t j = 0; j <= m; j++) prev[j] = (int64_t)j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (int64_t)i;
        for (size_t j = 1; j <= m; j++) {
            const int64_t sub = prev[j - 1] + (eq(ctx, i - 1, j - 1) ? 0 : 1);
            const int64_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        int64_t *t = prev;
        prev = cur;
        cur = t;
    }
    *out = prev[m];
    free(row);
    return DS_OK;
}

typedef struct word_ctx {
    const ds_cps *rc, *hc;
    const span *rw, *hw;
} word_ctx;

static bool word_eq(const void *ctx, size_t i, size_t j) {
    const word_ctx *c = ctx;
    return same_word(c->rc, c->rw[i], c->hc, c->hw[j]);
}

ds_status ds_wer_distance(const char *reference, const char *hypothesis, int64_t *errors, int64_t *ref_words,
                          ds_err *err) {
    ds_cps rc = {0}, hc = {0};
    span *rw = NULL, *hw = NULL;
    size_t rn = 0, hn = 0;
    ds_status s = words_of(reference, "WER reference", &rc, &rw, &rn, err);
    if (s == DS_OK) s = words_of(hypothesis, "WER hypothesis", &hc, &hw, &hn, err);
    const word_ctx ctx = {&rc, &hc, rw, hw};
    if (s == DS_OK) s = levenshtein(rn, hn, word_eq, &ctx, errors, err);
    if (s == DS_OK) *ref_words = (int64_t)rn;
    free(rw);
    free(hw);
    ds_cps_free(&rc);
    ds_cps_free(&hc);
    return s;
}

typedef struct char_ctx {
    const int32_t *r, *h;
} char_ctx;

static bool char_eq(const void *ctx, size_t i, size_t j) {
    const char_ctx *c = ctx;
    return c->r[i] == c->h[j];
}

ds_status ds_cer_distance(const char *reference, const char *hypothesis, int64_t *errors, int64_t *ref_chars,
                          ds_err *err) {
    ds_cps rc = {0}, hc = {0};
    ds_status s = ds_utf8_to_cps(reference, strlen(reference), "CER reference", &rc, err);
    if (s == DS_OK) s = ds_utf8_to_cps(hypothesis, strlen(hypothesis), "CER hypothesis", &hc, err);
    size_t rb = 0, re = 0, hb = 0, he = 0;
    if (s == DS_OK) {
        ds_py_strip_range(rc.v, rc.n, &rb, &re);
        ds_py_strip_range(hc.v, hc.n, &hb, &he);
        const char_ctx ctx = {rc.v + rb, hc.v + hb};
        s = levenshtein(re - rb, he - hb, char_eq, &ctx, errors, err);
    }
    if (s == DS_OK) *ref_chars = (int64_t)(re - rb);
    ds_cps_free(&rc);
    ds_cps_free(&hc);
    return s;
}

ds_status ds_wer_counts_add(ds_wer_counts *c, const char *reference, const char *hypothesis, ds_err *err) {
    int64_t we = 0, wn = 0, ce = 0, cn = 0;
    DS_TRY(ds_wer_distance(reference, hypothesis, &we, &wn, err));
    DS_TRY(ds_cer_distance(reference, hypothesis, &ce, &cn, err));
    c->sums[0] += we;
    c->sums[1] += wn;
    c->sums[2] += ce;
    c->sums[3] += cn;
    c->sums[4] += 1;
    return DS_OK;
}

void ds_wer_report_compute(const ds_wer_counts *c, ds_wer_report *r) {
    r->word_errors = c->sums[0];
    r->ref_words = c->sums[1];
    r->char_errors = c->sums[2];
    r->ref_chars = c->sums[3];
    r->utterances = c->sums[4];
    // jiwer: with no reference words at all, the "rate" is the insertion count itself.
    r->wer = r->ref_words > 0 ? (double)r->word_errors / (double)r->ref_words : (double)r->word_errors;
    r->cer = r->ref_chars > 0 ? (double)r->char_errors / (double)r->ref_chars : (double)r->char_errors;
}

int ds_wer_report_values(const ds_wer_report *r, const char *prefix, ds_metric_value *out) {
    snprintf(out[0].name, sizeof out[0].name, "%swer", prefix);
    out[0].value = r->wer;
    snprintf(out[1].name, sizeof out[1].name, "%scer", prefix);
    out[1].value = r->cer;
    return 2;
}
