// The transcripts of a speech dataset as label ids (one pool for all) and as vocabulary input.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "speech_dataset.h"

static ds_status pool_ids(ds_speech_dataset *d, const int32_t *ids, size_t n, ds_err *err) {
    if (d->labels_len + n > d->labels_cap) {
        size_t cap = d->labels_cap ? d->labels_cap : 4096;
        while (cap < d->labels_len + n) cap *= 2;
        int32_t *v = realloc(d->labels, cap * sizeof *v);
        if (v == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for %zu label ids", d->source, cap);
        d->labels = v;
        d->labels_cap = cap;
    }
    if (n) memcpy(d->labels + d->labels_len, ids, n * sizeof *ids);
    d->labels_len += n;
    return DS_OK;
}

ds_status ds_speech_dataset_encode_labels(ds_speech_dataset *d, const ds_ctc_tokenizer *tok,
                                          const ds_ctc_text_norm *norm, ds_ctc_oov oov, ds_err *err) {
    DS_REQUIRE(err, d->has_labels, DS_ERR_INVALID_ARG, "%s: the dataset has no transcripts to encode", d->source);
    d->labels_len = 0;
    d->max_label_length = 0;
    d->unknown_chars = 0;
    ds_str text = {0};
    ds_ctc_ids ids = {0};
    ds_status s = DS_OK;
    for (size_t i = 0; i < d->count && s == DS_OK; i++) {
        char what[512];
        snprintf(what, sizeof what, "%s:%ld", d->source, d->utts[i].line);
        const char *raw = ds_speech_dataset_text(d, i);
        size_t unknown = 0;
        s = ds_ctc_normalize_text(norm, raw, strlen(raw), what, &text, err);
        if (s == DS_OK) s = ds_ctc_encode(tok, text.v, text.n, oov, what, &ids, &unknown, err);
        if (s == DS_OK && ids.n > (size_t)INT32_MAX / 2)
            s = ds_err_set(err, DS_ERR_INVALID_ARG, "%s: a transcript of %zu tokens", what, ids.n);
        if (s != DS_OK) break;
        d->utts[i].label_offset = d->labels_len;
        d->utts[i].label_length = (int32_t)ids.n;
        if ((int32_t)ids.n > d->max_label_length) d->max_label_length = (int32_t)ids.n;
        d->unknown_chars += unknown;
        s = pool_ids(d, ids.v, ids.n, err);
    }
    d->target_tokens = (int64_t)d->labels_len;
    ds_str_free(&text);
    ds_ctc_ids_free(&ids);
    if (s != DS_OK) {
        free(d->labels);
        d->labels = NULL;
        d->labels_len = d->labels_cap = 0;
    }
    return s;
}

ds_status ds_speech_dataset_add_to_vocab(const ds_speech_dataset *d, const ds_ctc_text_norm *norm,
                                         ds_ctc_vocab_builder *b, ds_err *err) {
    DS_REQUIRE(err, d->has_labels, DS_ERR_INVALID_ARG, "%s: the dataset has no transcripts", d->source);
    ds_str text = {0};
    ds_status s = DS_OK;
    for (size_t i = 0; i < d->count && s == DS_OK; i++) {
        char what[512];
        snprintf(what, sizeof what, "%s:%ld", d->source, d->utts[i].line);
        const char *raw = ds_speech_dataset_text(d, i);
        s = ds_ctc_normalize_text(norm, raw, strlen(raw), what, &text, err);
        if (s == DS_OK) s = ds_ctc_vocab_builder_add(b, text.v, text.n, what, err);
    }
    const size_t skipped = d->skipped_texts ? d->skipped_long + d->skipped_short : 0;
    for (size_t i = 0; i < skipped && s == DS_OK; i++) {
        const char *raw = d->pool + d->skipped_texts[i];
        s = ds_ctc_normalize_text(norm, raw, strlen(raw), d->source, &text, err);
        if (s == DS_OK) s = ds_ctc_vocab_builder_add(b, text.v, text.n, d->source, err);
    }
    ds_str_free(&text);
    return s;
}
