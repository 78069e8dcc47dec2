// Text to ids: added tokens are cut out of the raw text first, every piece between them is
// normalized, split and WordPiece-tokenized; then the [CLS] A [SEP] (B [SEP]) template,
// "longest_first" truncation and padding, as tokenizers does them.
#include <string.h>

#include "wordpiece_internal.h"

static ds_status tokenize_piece(const ds_wp_tokenizer *tok, const char *text, size_t len, size_t base, ds_wp_scratch *s,
                                ds_wp_ids *out, ds_err *err) {
    if (len == 0) return DS_OK;
    size_t n;
    DS_TRY(ds_wp_decode_utf8(text, len, base, s, &n, err));
    DS_TRY(ds_wp_normalize(&tok->settings, s, n, &n, err));
    size_t pos = 0, start, end;
    while (ds_wp_next_word(s->norm, n, &pos, &start, &end))
        DS_TRY(ds_wp_wordpiece(tok, s->norm + start, end - start, s, out, err));
    return DS_OK;
}

// The added token starting at text[i], longest first (tok->added is sorted that way), or NULL.
static const ds_wp_added_token *added_at(const ds_wp_tokenizer *tok, const char *text, size_t len, size_t i) {
    for (int k = 0; k < tok->added_count; k++) {
        const ds_wp_added_token *a = &tok->added[k];
        if (a->len <= len - i && text[i] == a->content[0] && memcmp(text + i, a->content, a->len) == 0) return a;
    }
    return NULL;
}

ds_status ds_wp_tokenize(const ds_wp_tokenizer *tok, const char *text, size_t text_len, ds_wp_scratch *scratch,
                         ds_wp_ids *out, ds_err *err) {
    size_t start = 0, i = 0;
    while (i < text_len) {
        const ds_wp_added_token *a = added_at(tok, text, text_len, i);
        if (a == NULL) {
            i++;
            continue;
        }
        DS_TRY(tokenize_piece(tok, text + start, i - start, start, scratch, out, err));
        DS_TRY(ds_wp_ids_push(out, a->id, err));
        i += a->len;
        start = i;
    }
    return tokenize_piece(tok, text + start, text_len - start, start, scratch, out, err);
}

static ds_status reserve_encoding(ds_wp_encoding *e, size_t n, ds_err *err) {
    if (n <= e->cap) return DS_OK;
    size_t cap = e->cap;
    DS_WP_RESERVE(e->input_ids, cap, n, "input_ids", err);
    cap = e->cap;
    DS_WP_RESERVE(e->token_type_ids, cap, n, "token_type_ids", err);
    cap = e->cap;
    DS_WP_RESERVE(e->attention_mask, cap, n, "attention_mask", err);
    e->cap = cap;
    return DS_OK;
}

// tokenizers' TruncationStrategy::LongestFirst for a budget of m tokens (special tokens already
// taken off): when both must shrink, each gets half and the longer input the odd token; equal
// lengths give the odd token to the second.
static void truncate_longest_first(size_t *la, size_t *lb, size_t m) {
    if (*la + *lb <= m) return;
    const bool swap = *la > *lb;
    size_t n1 = swap ? *lb : *la, n2;  // n1: the shorter
    if (n1 > m)
        n2 = n1;
    else
        n2 = n1 > m - n1 ? n1 : m - n1;
    if (n1 + n2 > m) {
        n1 = m / 2;
        n2 = n1 + m % 2;
    }
    const size_t ta = swap ? n2 : n1, tb = swap ? n1 : n2;
    if (*la > ta) *la = ta;
    if (*lb > tb) *lb = tb;
}

ds_status ds_wp_encode(const ds_wp_tokenizer *tok, const char *text, size_t text_len, const char *pair, size_t pair_len,
                       const ds_wp_encode_opts *opts, ds_wp_scratch *scratch, ds_wp_encoding *out, ds_err *err) {
    scratch->seq_a.len = 0;
    scratch->seq_b.len = 0;
    DS_TRY(ds_wp_tokenize(tok, text, text_len, scratch, &scratch->seq_a, err));
    if (pair) DS_TRY(ds_wp_tokenize(tok, pair, pair_len, scratch, &scratch->seq_b, err));
    size_t la = scratch->seq_a.len, lb = scratch->seq_b.len;
    const size_t specials = pair ? 3 : 2;
    const size_t max_length = opts ? opts->max_length : 0;
    if (max_length > 0 && opts->truncate) {
        // transformers logs an error and leaves the text whole here; a caller asking for this
        // has a bug worth stopping for.
        DS_REQUIRE(err, max_length >= specials, DS_ERR_INVALID_ARG,
                   "tokenizer: max_length %zu leaves no room for the %zu special tokens of a %s", max_length, specials,
                   pair ? "sentence pair" : "sentence");
        const size_t m = max_length - specials;
        if (pair)
            truncate_longest_first(&la, &lb, m);
        else if (la > m)
            la = m;
    }
    const size_t len = la + lb + specials;
    DS_TRY(reserve_encoding(out, len, err));
    size_t k = 0;
    out->input_ids[k] = tok->cls_id;
    out->token_type_ids[k++] = 0;
    for (size_t i = 0; i < la; i++) {
        out->input_ids[k + i] = scratch->seq_a.ids[i];
        out->token_type_ids[k + i] = 0;
    }
    k += la;
    out->input_ids[k] = tok->sep_id;
    out->token_type_ids[k++] = 0;
    if (pair) {
        for (size_t i = 0; i < lb; i++) {
            out->input_ids[k + i] = scratch->seq_b.ids[i];
            out->token_type_ids[k + i] = 1;
        }
        k += lb;
        out->input_ids[k] = tok->sep_id;
        out->token_type_ids[k++] = 1;
    }
    for (size_t i = 0; i < k; i++) out->attention_mask[i] = 1;
    out->len = k;
    if (max_length > 0 && opts->pad) DS_TRY(ds_wp_pad(tok, out, max_length, err));
    return DS_OK;
}

ds_status ds_wp_pad(const ds_wp_tokenizer *tok, ds_wp_encoding *enc, size_t length, ds_err *err) {
    if (enc->len >= length) return DS_OK;
    DS_TRY(reserve_encoding(enc, length, err));
    for (size_t i = enc->len; i < length; i++) {
        enc->input_ids[i] = tok->pad_id;
        enc->token_type_ids[i] = 0;
        enc->attention_mask[i] = 0;
    }
    enc->len = length;
    return DS_OK;
}

ds_status ds_wp_pad_batch(const ds_wp_tokenizer *tok, ds_wp_encoding *encs, size_t count, ds_err *err) {
    size_t longest = 0;
    for (size_t i = 0; i < count; i++)
        if (encs[i].len > longest) longest = encs[i].len;
    for (size_t i = 0; i < count; i++) DS_TRY(ds_wp_pad(tok, &encs[i], longest, err));
    return DS_OK;
}
