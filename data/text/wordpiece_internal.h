// Internal pieces of the WordPiece tokenizer (data/wordpiece_*.c), exposed to each other and to
// tests/cpu/test_wordpiece.c, which checks every code point against tokenizers' behaviour.
#ifndef DS_WORDPIECE_INTERNAL_H
#define DS_WORDPIECE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../../runtime/base/check.h"
#include "wordpiece.h"

// ---- character classes as tokenizers sees them (wordpiece_unicode.c) -------------------------
// Removed by clean_text: NUL, U+FFFD and "other" characters (Cc, Cf, Co, Cs) except \t \n \r.
bool ds_wp_cp_is_dropped(int32_t cp);
// Rust's char::is_whitespace (the Unicode White_Space property).
bool ds_wp_cp_is_whitespace(int32_t cp);
// The CJK ideograph blocks that handle_chinese_chars surrounds with spaces.
bool ds_wp_cp_is_chinese(int32_t cp);
// BertPreTokenizer's punctuation: ASCII punctuation or a P* category.
bool ds_wp_cp_is_punct(int32_t cp);
// Removed after NFD by strip_accents: category Mn.
bool ds_wp_cp_is_nonspacing_mark(int32_t cp);
// Rust's char::to_lowercase: writes 1 or 2 code points to out, returns how many.
int ds_wp_cp_lower(int32_t cp, int32_t out[2]);
// Canonical decomposition of one code point, fully recursive (Hangul included), not yet
// reordered: writes up to cap code points to out, returns how many (more than cap: call again
// with more room).
size_t ds_wp_cp_decompose(int32_t cp, int32_t *out, size_t cap);
// Canonical combining class (0 for starters).
int ds_wp_cp_combining_class(int32_t cp);

// ---- buffers ---------------------------------------------------------------------------------
// Makes *buf hold at least need elements of elem_size bytes (doubling), naming what in the
// out-of-memory message.
ds_status ds_wp_reserve(void **buf, size_t *cap, size_t need, size_t elem_size, const char *what, ds_err *err);
ds_status ds_wp_ids_push(ds_wp_ids *ids, int32_t id, ds_err *err);

// DS_WP_RESERVE(ptr, cap, need, what, err): ds_wp_reserve for a typed pointer; returns the
// status from the enclosing function on failure.
#define DS_WP_RESERVE(ptr, cap, need, what, err)                                                           \
    do {                                                                                                   \
        void *ds_wp_p_ = (ptr);                                                                            \
        const ds_status ds_wp_s_ = ds_wp_reserve(&ds_wp_p_, &(cap), (need), sizeof *(ptr), (what), (err)); \
        (ptr) = ds_wp_p_;                                                                                  \
        if (ds_wp_s_ != DS_OK) return ds_wp_s_;                                                            \
    } while (0)

// ---- vocabulary (wordpiece_vocab.c) ---------------------------------------------------------
// Reads vocab.txt as tokenizers does: one token per line, id = line number (from 0), trailing
// whitespace trimmed, a repeated token keeps its last id.
ds_status ds_wp_vocab_read(const char *path, ds_wp_vocab *vocab, ds_err *err);
void ds_wp_vocab_free(ds_wp_vocab *vocab);
// A vocabulary from tokens[id] (count of them, NUL-terminated; `what` names the source in errors).
ds_status ds_wp_vocab_from_tokens(const char *const *tokens, int32_t count, const char *what, ds_wp_vocab *vocab,
                                  ds_err *err);

// ---- tokenizer.json (wordpiece_tokenizer_json.c) ---------------------------------------------
// What a tokenizers serialization says about a BERT WordPiece pipeline. Strings point into root.
typedef struct ds_wp_json {
    cJSON *root;                    // the parsed file (owned)
    ds_wp_settings settings;        // the normalizer's (model_max_length 0)
    const char *unk;                // the model's unk_token
    const char *cls, *sep;          // the post-processor's special tokens
    int32_t cls_id, sep_id;         // and the ids it gives them
    const char *pad;                // "padding"'s pad_token, or NULL
    char prefix[16];                // continuing_subword_prefix
    int max_chars;                  // max_input_chars_per_word
    const cJSON *vocab;             // the model's {token: id}
    const cJSON *added;             // added_tokens: [{id, content, ...}], or NULL
} ds_wp_json;

// Reads and checks path (a tokenizer.json); DS_ERR_UNSUPPORTED for what is not BERT WordPiece.
ds_status ds_wp_json_read(const char *path, ds_wp_json *j, ds_err *err);
// The vocabulary of j (ids must be 0..n-1, each once).
ds_status ds_wp_json_vocab(const ds_wp_json *j, const char *path, ds_wp_vocab *vocab, ds_err *err);
void ds_wp_json_free(ds_wp_json *j);

// Reads a whole file into a NUL-terminated heap buffer (*size excludes the NUL).
ds_status ds_wp_read_file(const char *path, char **data, size_t *size, ds_err *err);

// ---- stages ----------------------------------------------------------------------------------
// Decodes text into scratch->cps; fails on invalid UTF-8 (offset reported from base_offset).
ds_status ds_wp_decode_utf8(const char *text, size_t len, size_t base_offset, ds_wp_scratch *scratch, size_t *count,
                            ds_err *err);

// NFD's canonical ordering: stable sort of each run of combining marks by combining class.
void ds_wp_canonical_order(int32_t *cps, size_t n);

// BertNormalizer over scratch->cps[0..count) into scratch->norm[0..*out_count).
ds_status ds_wp_normalize(const ds_wp_settings *settings, ds_wp_scratch *scratch, size_t count, size_t *out_count,
                          ds_err *err);

// BertPreTokenizer: the next word of cps[*pos..n) as [*start, *end); false when none is left.
bool ds_wp_next_word(const int32_t *cps, size_t n, size_t *pos, size_t *start, size_t *end);

// WordPiece on one word cps[0..n): appends its ids (or [UNK]) to *out.
ds_status ds_wp_wordpiece(const ds_wp_tokenizer *tok, const int32_t *cps, size_t n, ds_wp_scratch *scratch,
                          ds_wp_ids *out, ds_err *err);

#endif
