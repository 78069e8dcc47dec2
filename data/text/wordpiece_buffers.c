// Growable buffers of the tokenizer, and the release of everything it hands out.
#include <stdlib.h>

#include "wordpiece_internal.h"

ds_status ds_wp_reserve(void **buf, size_t *cap, size_t need, size_t elem_size, const char *what, ds_err *err) {
    if (need <= *cap) return DS_OK;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *p = realloc(*buf, n * elem_size);
    if (p == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: cannot grow %s to %zu elements", what, n);
    *buf = p;
    *cap = n;
    return DS_OK;
}

ds_status ds_wp_ids_push(ds_wp_ids *ids, int32_t id, ds_err *err) {
    if (ids->len == ids->cap) DS_WP_RESERVE(ids->ids, ids->cap, ids->len + 1, "token ids", err);
    ids->ids[ids->len++] = id;
    return DS_OK;
}

void ds_wp_scratch_free(ds_wp_scratch *s) {
    if (s == NULL) return;
    free(s->cps);
    free(s->norm);
    free(s->word);
    free(s->bounds);
    ds_wp_ids_free(&s->seq_a);
    ds_wp_ids_free(&s->seq_b);
    *s = (ds_wp_scratch){0};
}

void ds_wp_ids_free(ds_wp_ids *ids) {
    if (ids == NULL) return;
    free(ids->ids);
    *ids = (ds_wp_ids){0};
}

void ds_wp_encoding_free(ds_wp_encoding *enc) {
    if (enc == NULL) return;
    free(enc->input_ids);
    free(enc->token_type_ids);
    free(enc->attention_mask);
    *enc = (ds_wp_encoding){0};
}
