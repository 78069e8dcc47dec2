// Appending rows to a text dataset: the class ids of a row's labels, its strings into the pool,
// and the bookkeeping of bad rows.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "text_dataset_build.h"

ds_status ds_text_bad_row_msg(ds_text_builder *b, long line, const char *msg, ds_err *err) {
    ds_text_dataset *d = b->d;
    if (!b->opt->skip_bad_rows) return ds_err_set(err, DS_ERR_FORMAT, "%s", msg);
    if (d->skipped < DS_TEXT_SKIPPED_LINES_KEPT) d->skipped_lines[d->skipped] = line;
    if (d->skipped == 0) snprintf(d->first_skip_reason, sizeof d->first_skip_reason, "%s", msg);
    d->skipped++;
    return DS_OK;
}

ds_status ds_text_bad_row(ds_text_builder *b, long line, ds_err *err, const char *fmt, ...) {
    char what[768], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s:%ld: %s", b->d->source, line, what);
    return ds_text_bad_row_msg(b, line, msg, err);
}

// Grows *buf (elements of `size` bytes, *cap of them) to hold `need`.
static ds_status reserve(void **buf, size_t *cap, size_t need, size_t size, const char *source, ds_err *err) {
    if (need <= *cap) return DS_OK;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *bigger = realloc(*buf, n * size);
    if (bigger == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory (%zu bytes) while loading", source, n * size);
    *buf = bigger;
    *cap = n;
    return DS_OK;
}

// Copies text[0, len) and a NUL into the pool; returns its offset.
static ds_status pool_add(ds_text_dataset *d, const char *text, size_t len, size_t *offset, ds_err *err) {
    DS_TRY(reserve((void **)&d->pool, &d->pool_cap, d->pool_len + len + 1, 1, d->source, err));
    memcpy(d->pool + d->pool_len, text, len);
    d->pool[d->pool_len + len] = '\0';
    *offset = d->pool_len;
    d->pool_len += len + 1;
    return DS_OK;
}

// Maps tokens to class ids at the end of d->label_ids (not yet counted in label_ids_len), each
// id once. An unknown label under an explicit list is a bad row.
static ds_status map_tokens(ds_text_builder *b, long line, size_t n, uint32_t *count, int *bad, ds_err *err) {
    ds_text_dataset *d = b->d;
    *count = 0;
    if (n == 0) return DS_OK;  // a multi-label row with no label (label_ids may still be NULL)
    DS_TRY(reserve((void **)&d->label_ids, &d->label_ids_cap, d->label_ids_len + n, sizeof *d->label_ids, d->source, err));
    int32_t *ids = d->label_ids + d->label_ids_len;
    if (b->labels_fixed) {  // check every label before anything is kept
        for (size_t t = 0; t < n; t++) {
            if (ds_label_map_find(&d->labels, b->tokens[t], b->token_lens[t]) >= 0) continue;
            *bad = 1;
            return ds_text_bad_row(b, line, err, "unknown label '%.*s' (the label list has %d: %s%s%s%s)",
                                   (int)b->token_lens[t], b->tokens[t], d->labels.count, d->labels.names[0],
                                   d->labels.count > 1 ? ", " : "", d->labels.count > 1 ? d->labels.names[1] : "",
                                   d->labels.count > 2 ? ", ..." : "");
        }
    }
    *count = 0;
    for (size_t t = 0; t < n; t++) {
        int32_t id;
        DS_TRY(ds_label_map_intern(&d->labels, b->tokens[t], b->token_lens[t], &id, NULL, err));
        int seen = 0;  // "a|a": a label counts once
        for (uint32_t j = 0; j < *count; j++) seen |= ids[j] == id;
        if (!seen) ids[(*count)++] = id;
    }
    return DS_OK;
}

ds_status ds_text_builder_add(ds_text_builder *b, const ds_text_raw_row *row, ds_err *err) {
    ds_text_dataset *d = b->d;
    size_t n_tokens = 0;
    int bad = 0;
    ds_text_example ex = {.text_pair = DS_TEXT_NO_PAIR, .labels = d->label_ids_len, .line = row->line};
    if (!b->opt->unlabeled) DS_TRY(ds_text_row_label(b, row, &n_tokens, &ex.value, &bad, err));
    if (bad) return DS_OK;  // skipped
    if (!b->opt->unlabeled && d->problem_type != DS_PROBLEM_REGRESSION) {
        DS_TRY(map_tokens(b, row->line, n_tokens, &ex.label_count, &bad, err));
        if (bad) return DS_OK;
    }
    DS_TRY(reserve((void **)&d->examples, &d->examples_cap, d->count + 1, sizeof *d->examples, d->source, err));
    DS_TRY(pool_add(d, row->text, row->text_len, &ex.text, err));
    if (row->pair != NULL) DS_TRY(pool_add(d, row->pair, row->pair_len, &ex.text_pair, err));
    d->label_ids_len += ex.label_count;
    d->examples[d->count++] = ex;
    return DS_OK;
}
