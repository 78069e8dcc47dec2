// The WordPiece model: greedy longest-match-first over one word, continuations prefixed by the
// tokenizer's continuing_subword_prefix ("##" for BERT); the whole word becomes [UNK] when it is
// too long or some position has no match.
#include <string.h>
#include <utf8proc.h>

#include "wordpiece_internal.h"

ds_status ds_wp_wordpiece(const ds_wp_tokenizer *tok, const int32_t *cps, size_t n, ds_wp_scratch *s, ds_wp_ids *out,
                          ds_err *err) {
    // tokenizers counts characters (code points), not bytes.
    if (n > (size_t)tok->max_input_chars_per_word) return ds_wp_ids_push(out, tok->unk_id, err);

    // The word in UTF-8 after prefix_len spare bytes, with the byte offset of every character.
    const uint32_t prefix_len = (uint32_t)tok->subword_prefix_len;
    DS_WP_RESERVE(s->word, s->word_cap, prefix_len + 4 * n + 1, "word buffer", err);
    DS_WP_RESERVE(s->bounds, s->bounds_cap, n + 1, "word offsets", err);
    char *word = s->word + prefix_len;
    uint32_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        s->bounds[i] = bytes;
        bytes += (uint32_t)utf8proc_encode_char(cps[i], (utf8proc_uint8_t *)word + bytes);
    }
    s->bounds[n] = bytes;

    const size_t first = out->len;
    size_t start = 0;
    while (start < n) {
        // The prefix goes just before the remaining text; it overwrites bytes already matched.
        const uint32_t prefix = start > 0 ? prefix_len : 0;
        char *piece = word + s->bounds[start] - prefix;
        if (prefix) memcpy(piece, tok->subword_prefix, prefix);
        int32_t id = -1;
        size_t end = n;
        for (; end > start; end--) {
            const uint32_t len = s->bounds[end] - s->bounds[start] + prefix;
            if (len > tok->vocab.max_token_bytes) continue;  // longer than any token
            id = ds_wp_vocab_lookup(&tok->vocab, piece, len);
            if (id >= 0) break;
        }
        if (id < 0) {
            out->len = first;
            return ds_wp_ids_push(out, tok->unk_id, err);
        }
        DS_TRY(ds_wp_ids_push(out, id, err));
        start = end;
    }
    return DS_OK;
}
