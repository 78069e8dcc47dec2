// Encoding a transcript as Wav2Vec2CTCTokenizer does (PythonBackend.tokenize + _tokenize +
// convert_tokens_to_ids; see ctc_tokenizer.h, "Encoding").
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "ctc_tokenizer.h"
#include "ctc_tokenizer_internal.h"

// One piece of the text after the split at added tokens: code points [begin, end).
typedef struct piece {
    size_t begin, end;
} piece;

static ds_status push_id(ds_ctc_ids *ids, int32_t id, ds_err *err) {
    if (ids->n == ids->cap) {
        const size_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (v == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory for %zu ids", cap);
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return DS_OK;
}

// The added token whose content is exactly cps[p.begin, p.end), or NULL.
static const ds_ctc_added_token *added_equal(const ds_ctc_tokenizer *tok, const int32_t *cps, piece p) {
    const size_t n = p.end - p.begin;
    for (size_t i = 0; i < tok->added_count; i++) {
        const ds_ctc_added_token *a = &tok->added[i];
        if (a->cp_count == n && n > 0 && memcmp(a->cps, cps + p.begin, n * sizeof *cps) == 0) return a;
    }
    return NULL;
}

// The longest added token that starts at cps[at], or NULL (the trie's longest-first match).
static const ds_ctc_added_token *added_at(const ds_ctc_tokenizer *tok, const int32_t *cps, size_t n, size_t at) {
    const ds_ctc_added_token *best = NULL;
    for (size_t i = 0; i < tok->added_count; i++) {
        const ds_ctc_added_token *a = &tok->added[i];
        if (a->cp_count == 0 || a->cp_count > n - at || (best && a->cp_count <= best->cp_count)) continue;
        if (memcmp(a->cps, cps + at, a->cp_count * sizeof *cps) == 0) best = a;
    }
    return best;
}

static ds_status push_piece(piece **v, size_t *n, size_t *cap, piece p, ds_err *err) {
    if (*n == *cap) {
        const size_t c = *cap ? *cap * 2 : 16;
        piece *q = realloc(*v, c * sizeof *q);
        if (q == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory");
        *v = q;
        *cap = c;
    }
    (*v)[(*n)++] = p;
    return DS_OK;
}

// Trie.split: the text cut before and after every added token (leftmost, longest first).
static ds_status split_added(const ds_ctc_tokenizer *tok, const int32_t *cps, size_t n, piece **pieces, size_t *count,
                             ds_err *err) {
    size_t cap = 0, last = 0, at = 0;
    *pieces = NULL;
    *count = 0;
    while (at < n) {
        const ds_ctc_added_token *a = added_at(tok, cps, n, at);
        if (a == NULL) {
            at++;
            continue;
        }
        if (at > last) DS_TRY(push_piece(pieces, count, &cap, (piece){last, at}, err));
        DS_TRY(push_piece(pieces, count, &cap, (piece){at, at + a->cp_count}, err));
        at += a->cp_count;
        last = at;
    }
    if (n > last) DS_TRY(push_piece(pieces, count, &cap, (piece){last, n}, err));
    return DS_OK;
}

// The id of a one-character token of _tokenize: the added encoder, vocab.json, else unk.
static ds_status char_id(const ds_ctc_tokenizer *tok, int32_t cp, ds_ctc_oov oov, const char *what, size_t pos,
                         int32_t *id, size_t *unknown, ds_err *err) {
    ds_str s = {0};
    DS_TRY(ds_str_append_cp(&s, cp, err));
    *id = ds_ctc_token_id(tok, s.v);
    ds_str_free(&s);
    if (*id >= 0) return DS_OK;
    if (oov == DS_CTC_OOV_ERROR) {
        ds_str c = {0};
        ds_status st = ds_str_append_cp(&c, cp, err);
        if (st == DS_OK)
            ds_err_set(err, DS_ERR_INVALID_ARG,
                       "%s: character '%s' (U+%04X) at position %zu is not in the tokenizer's vocabulary (map such "
                       "characters to the unk token %s, or remove them from the transcripts)",
                       what, c.v, (unsigned)cp, pos, tok->unk_token);
        ds_str_free(&c);
        return DS_ERR_INVALID_ARG;
    }
    DS_REQUIRE(err, tok->unk_id >= 0, DS_ERR_INVALID_ARG, "%s: character U+%04X is not in the vocabulary and the unk "
               "token %s has no id", what, (unsigned)cp, tok->unk_token);
    *id = tok->unk_id;
    if (unknown) (*unknown)++;
    return DS_OK;
}

// _tokenize(piece) + convert_tokens_to_ids: uppercase when do_lower_case, " " -> word delimiter,
// one token per character.
static ds_status tokenize_text(const ds_ctc_tokenizer *tok, const int32_t *cps, piece p, const ds_cps *delim,
                               ds_ctc_oov oov, const char *what, ds_cps *upper, ds_ctc_ids *ids, size_t *unknown,
                               ds_err *err) {
    const int32_t *src = cps + p.begin;
    size_t n = p.end - p.begin;
    if (tok->do_lower_case) {
        DS_TRY(ds_py_upper(src, n, upper, err));
        src = upper->v;
        n = upper->n;
    }
    for (size_t i = 0; i < n; i++) {
        if (src[i] == 0x20) {
            DS_REQUIRE(err, delim->n > 0, DS_ERR_INVALID_ARG,
                       "%s: the text has a space but the tokenizer has no word_delimiter_token", what);
            for (size_t k = 0; k < delim->n; k++) {
                int32_t id = 0;
                DS_TRY(char_id(tok, delim->v[k], oov, what, p.begin + i, &id, unknown, err));
                DS_TRY(push_id(ids, id, err));
            }
            continue;
        }
        int32_t id = 0;
        DS_TRY(char_id(tok, src[i], oov, what, p.begin + i, &id, unknown, err));
        DS_TRY(push_id(ids, id, err));
    }
    return DS_OK;
}

// PythonBackend.tokenize's lstrip/rstrip pass over the pieces, then the ids of each piece.
static ds_status encode_pieces(const ds_ctc_tokenizer *tok, const int32_t *cps, piece *pieces, size_t count,
                               ds_ctc_oov oov, const char *what, ds_ctc_ids *ids, size_t *unknown, ds_err *err) {
    for (size_t i = 0; i < count; i++) {
        const ds_ctc_added_token *a = added_equal(tok, cps, pieces[i]);
        if (a == NULL) continue;
        if (a->rstrip && i + 1 < count)  // right.lstrip()
            while (pieces[i + 1].begin < pieces[i + 1].end && ds_py_isspace(cps[pieces[i + 1].begin]))
                pieces[i + 1].begin++;
        if (a->lstrip && i > 0)  // left.rstrip()
            while (pieces[i - 1].end > pieces[i - 1].begin && ds_py_isspace(cps[pieces[i - 1].end - 1]))
                pieces[i - 1].end--;
    }
    ds_cps delim = {0}, upper = {0};
    ds_status s = DS_OK;
    if (tok->word_delimiter_token)
        s = ds_utf8_to_cps(tok->word_delimiter_token, strlen(tok->word_delimiter_token), "word_delimiter_token", &delim,
                           err);
    for (size_t i = 0; i < count && s == DS_OK; i++) {
        if (pieces[i].end == pieces[i].begin) continue;
        const ds_ctc_added_token *a = added_equal(tok, cps, pieces[i]);
        if (a)
            s = push_id(ids, a->id, err);
        else
            s = tokenize_text(tok, cps, pieces[i], &delim, oov, what, &upper, ids, unknown, err);
    }
    ds_cps_free(&delim);
    ds_cps_free(&upper);
    return s;
}

ds_status ds_ctc_encode(const ds_ctc_tokenizer *tok, const char *text, size_t len, ds_ctc_oov oov, const char *what,
                        ds_ctc_ids *ids, size_t *unknown, ds_err *err) {
    ids->n = 0;
    if (unknown) *unknown = 0;
    ds_cps cps = {0};
    piece *pieces = NULL;
    size_t count = 0;
    ds_status s = ds_utf8_to_cps(text, len, what, &cps, err);
    if (s == DS_OK) s = split_added(tok, cps.v, cps.n, &pieces, &count, err);
    if (s == DS_OK) s = encode_pieces(tok, cps.v, pieces, count, oov, what, ids, unknown, err);
    free(pieces);
    ds_cps_free(&cps);
    return s;
}
