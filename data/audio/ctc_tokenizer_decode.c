// Decoding ids as Wav2Vec2CTCTokenizer._decode + convert_tokens_to_string (see ctc_tokenizer.h,
// "Decoding"), and the greedy argmax that feeds it.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "ctc_tokenizer.h"

ds_ctc_decode_options ds_ctc_decode_defaults(void) {
    return (ds_ctc_decode_options){.group_tokens = true, .skip_special_tokens = false, .clean_up = -1};
}

void ds_ctc_argmax(const float *logits, int64_t T, int64_t V, int32_t *ids) {
    for (int64_t t = 0; t < T; t++) {
        const float *row = logits + t * V;
        int64_t best = 0;
        for (int64_t v = 1; v < V; v++)
            if (row[v] > row[best] || (isnan(row[best]) && !isnan(row[v]))) best = v;
        ids[t] = (int32_t)best;
    }
}

static bool is_special(const ds_ctc_tokenizer *tok, const char *t) {
    const char *named[] = {tok->bos_token, tok->eos_token, tok->unk_token, tok->pad_token, tok->word_delimiter_token};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (named[i] && strcmp(named[i], t) == 0) return true;
    for (size_t i = 0; i < tok->extra_special_count; i++)
        if (strcmp(tok->extra_special[i], t) == 0) return true;
    return false;
}

static bool same(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

// Python's str.replace(from, to) on UTF-8 (both ASCII here, so bytes and characters agree).
static ds_status replace_all(ds_str *s, const char *from, const char *to, ds_str *tmp, ds_err *err) {
    const size_t fl = strlen(from);
    if (s->n == 0 || strstr(s->v, from) == NULL) return DS_OK;
    ds_str_clear(tmp);
    const char *p = s->v;
    for (const char *hit; (hit = strstr(p, from)) != NULL; p = hit + fl) {
        DS_TRY(ds_str_append(tmp, p, (size_t)(hit - p), err));
        DS_TRY(ds_str_append(tmp, to, strlen(to), err));
    }
    DS_TRY(ds_str_append(tmp, p, strlen(p), err));
    ds_str_clear(s);
    return ds_str_append(s, tmp->v, tmp->n, err);
}

// PreTrainedTokenizerBase.clean_up_tokenization, the replacements in its order.
static ds_status clean_up(ds_str *s, ds_err *err) {
    static const char *const k_from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"};
    static const char *const k_to[] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};
    ds_str tmp = {0};
    ds_status st = DS_OK;
    for (size_t i = 0; i < sizeof k_from / sizeof k_from[0] && st == DS_OK; i++)
        st = replace_all(s, k_from[i], k_to[i], &tmp, err);
    ds_str_free(&tmp);
    return st;
}

// strip() then lower() (when do_lower_case) of the joined string, in place.
static ds_status strip_lower(const ds_ctc_tokenizer *tok, ds_str *out, ds_err *err) {
    ds_cps cps = {0}, low = {0};
    ds_status s = ds_utf8_to_cps(out->v, out->n, "decoded text", &cps, err);
    size_t b = 0, e = 0;
    if (s == DS_OK) ds_py_strip_range(cps.v, cps.n, &b, &e);
    const int32_t *src = cps.v ? cps.v + b : NULL;  // NULL for an empty text: no offset on a null pointer
    size_t n = e - b;
    if (s == DS_OK && tok->do_lower_case) {
        s = ds_py_lower(src, n, &low, err);
        src = low.v;
        n = low.n;
    }
    if (s == DS_OK) {
        ds_str_clear(out);
        s = ds_cps_append_utf8(src, n, out, err);
    }
    ds_cps_free(&cps);
    ds_cps_free(&low);
    return s;
}

ds_status ds_ctc_decode(const ds_ctc_tokenizer *tok, const int32_t *ids, size_t n, const ds_ctc_decode_options *opt,
                        ds_str *out, ds_err *err) {
    ds_str_clear(out);
    DS_TRY(ds_str_append(out, "", 0, err));
    const char *prev = NULL;  // the previous token kept (for grouping)
    const char *unk = tok->unk_token ? tok->unk_token : "";
    for (size_t i = 0; i < n; i++) {
        const int32_t id = ids[i];
        const char *t = id >= 0 && id < tok->size && tok->id_to_token[id] ? tok->id_to_token[id] : unk;
        if (opt->skip_special_tokens && is_special(tok, t) && !same(t, tok->word_delimiter_token)) continue;
        // groupby over the token strings: a run of equal tokens counts once.
        const bool repeat = opt->group_tokens && prev != NULL && strcmp(prev, t) == 0;
        prev = t;
        if (repeat || same(t, tok->pad_token)) continue;  // the pad token is the CTC blank
        if (same(t, tok->word_delimiter_token)) t = tok->replace_word_delimiter_char;
        DS_TRY(ds_str_append(out, t, strlen(t), err));
    }
    DS_TRY(strip_lower(tok, out, err));
    const bool cleanup = opt->clean_up < 0 ? tok->clean_up_tokenization_spaces : opt->clean_up != 0;
    if (cleanup) DS_TRY(clean_up(out, err));
    return DS_OK;
}
