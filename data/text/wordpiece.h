// A BERT WordPiece tokenizer that gives exactly the ids of Hugging Face's BertTokenizerFast
// (tokenizers' BertNormalizer + BertPreTokenizer + WordPiece + the [CLS] A [SEP] (B [SEP])
// template), read from a model directory: tokenizer.json (what transformers 5 saves) or
// vocab.txt, and, when present, tokenizer_config.json.
//
// Which file says what, as transformers does it (v4's BertTokenizerFast and v5's BertTokenizer):
//   - tokenizer.json is preferred over vocab.txt when both exist: its WordPiece vocabulary and its
//     added_tokens (with their ids);
//   - with a tokenizer_config.json of a BERT tokenizer class (tokenizer_class absent or naming a
//     *Bert* class), the class rebuilds the pipeline from that file: do_lower_case,
//     strip_accents, tokenize_chinese_chars (BertTokenizer's defaults when absent), the special
//     tokens by name, "##" and 100 characters per word;
//   - without one (or with another class, e.g. PreTrainedTokenizerFast), tokenizer.json alone
//     describes the pipeline, as AutoTokenizer loads it: the normalizer (BertNormalizer, or a
//     Sequence holding one), the pre-tokenizer (BertPreTokenizer, or WhitespaceSplit followed by
//     an isolating Punctuation: the same split), the post-processor (TemplateProcessing of the
//     [CLS] $A [SEP] ($B:1 [SEP]:1) form, or BertProcessing) and the model's unk_token,
//     continuing_subword_prefix and max_input_chars_per_word.
// Anything else (a BPE or Unigram model, another normalizer or pre-tokenizer, another template,
// clean_text off) is refused with DS_ERR_UNSUPPORTED naming the file and the part.
//
// Pipeline of one text (as tokenizers runs it):
//   1. special tokens ([CLS], [SEP], [PAD], [UNK], [MASK], added tokens) are cut out of the raw
//      text first and map straight to their ids;
//   2. each remaining piece is normalized: control/format/private-use characters dropped,
//      whitespace to ' ', CJK ideographs surrounded by spaces, NFD + non-spacing marks removed
//      (strip_accents, which follows do_lower_case when unset), lowercase;
//   3. split on whitespace and around every punctuation character;
//   4. each word: greedy longest-match-first WordPiece with "##" continuations, or [UNK] when
//      the word has more than 100 characters or no complete match.
// Character classes follow tokenizers' own tables, not today's Unicode: see wordpiece_unicode.c.
//
// A loaded tokenizer is immutable, so threads can share one; each thread brings its own
// ds_wp_scratch. Text is UTF-8 with an explicit length (NUL bytes allowed: they are dropped like
// other control characters). Invalid UTF-8 (also overlong forms and surrogates, exactly what
// Python's strict decoder rejects) is an error, DS_ERR_INVALID_ARG naming the byte offset: the
// Hugging Face tokenizer only ever sees decoded Python strings, so there is nothing to match.
//
// Not supported (loading fails with DS_ERR_UNSUPPORTED): added tokens with normalized or
// single_word set in tokenizer_config.json.
#ifndef DS_WORDPIECE_H
#define DS_WORDPIECE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"

// The vocabulary: token strings and an open-addressing hash table from string to id.
typedef struct ds_wp_vocab {
    char *strings;             // (total bytes) host: every token, each followed by a NUL
    uint32_t *offsets;         // (count) host: where token i starts in strings
    uint32_t *lengths;         // (count) host: its length in bytes
    int32_t count;             // number of lines of vocab.txt = number of ids
    int32_t *slots;            // (slot_count) host: an id, or -1 for an empty slot
    uint32_t slot_count;       // a power of two, at least twice count
    uint32_t max_token_bytes;  // longest token, "##" included: bounds the WordPiece search
} ds_wp_vocab;

// A token matched in the raw text before normalization (the special tokens and the entries of
// tokenizer_config.json's added_tokens_decoder). Their lstrip/rstrip flags only move offsets
// (the whitespace they swallow would be dropped anyway), so they are not kept.
typedef struct ds_wp_added_token {
    char *content;  // host, NUL-terminated
    size_t len;     // bytes of content
    int32_t id;
} ds_wp_added_token;

typedef struct ds_wp_settings {
    bool lowercase;            // do_lower_case (default true)
    bool strip_accents;        // resolved: strip_accents, or lowercase when null/absent
    bool chinese_chars;        // tokenize_chinese_chars (default true)
    int64_t model_max_length;  // from tokenizer_config.json; 0 when absent or effectively unbounded
} ds_wp_settings;

typedef struct ds_wp_tokenizer {
    ds_wp_vocab vocab;
    ds_wp_settings settings;
    int32_t unk_id, cls_id, sep_id, pad_id;  // all required to be in the vocabulary
    int32_t mask_id;                         // vocab.count when the vocabulary lacks the mask token:
                                             // transformers then appends it as a new token
    ds_wp_added_token *added;                // (added_count) host, longest first
    int added_count;
    int max_input_chars_per_word;  // 100, as in BERT
    char subword_prefix[16];       // WordPiece's continuing_subword_prefix, "##" for BERT
    int subword_prefix_len;        // its bytes (< 16)
} ds_wp_tokenizer;

// A growable list of ids.
typedef struct ds_wp_ids {
    int32_t *ids;  // (len) host
    size_t len;
    size_t cap;
} ds_wp_ids;

// Growable buffers one thread reuses across calls so that encoding does not allocate per text.
// Zero-initialize; release with ds_wp_scratch_free.
typedef struct ds_wp_scratch {
    int32_t *cps;  // (cps_cap) host: code points of the piece being normalized
    size_t cps_cap;
    int32_t *norm;  // (norm_cap) host: the normalized code points
    size_t norm_cap;
    char *word;  // (word_cap) host: one word in UTF-8, "##" room in front
    size_t word_cap;
    uint32_t *bounds;  // (bounds_cap) host: byte offset of each character of the word
    size_t bounds_cap;
    ds_wp_ids seq_a;  // the ids of the text, before special tokens
    ds_wp_ids seq_b;  // the ids of the pair's second text
} ds_wp_scratch;

// One encoded example: the three model inputs, all of length len.
typedef struct ds_wp_encoding {
    int32_t *input_ids;       // (len) host
    int32_t *token_type_ids;  // (len) host: 0 for [CLS] A [SEP], 1 for B [SEP]
    int32_t *attention_mask;  // (len) host: 1 on tokens, 0 on padding
    size_t len;
    size_t cap;
} ds_wp_encoding;

typedef struct ds_wp_encode_opts {
    size_t max_length;  // 0: no limit (then truncate and pad are ignored)
    bool truncate;      // "longest_first" truncation to max_length, special tokens included
    bool pad;           // pad with [PAD] (type 0, mask 0) up to max_length
} ds_wp_encode_opts;

// Loads model_dir/tokenizer.json or model_dir/vocab.txt and, when present,
// model_dir/tokenizer_config.json (see the top of this file). Errors name the file (and line): no
// vocabulary at all (DS_ERR_IO), a special token missing from the vocabulary, malformed JSON or a
// setting of the wrong type, a tokenizer.json that is not a BERT WordPiece (DS_ERR_UNSUPPORTED).
ds_status ds_wp_tokenizer_load(const char *model_dir, ds_wp_tokenizer *tok, ds_err *err);

// Builds a tokenizer from a vocabulary file and explicit settings (no tokenizer_config.json).
ds_status ds_wp_tokenizer_load_vocab(const char *vocab_path, const ds_wp_settings *settings, ds_wp_tokenizer *tok,
                                     ds_err *err);

void ds_wp_tokenizer_free(ds_wp_tokenizer *tok);

// Id of a token string, or -1.
int32_t ds_wp_vocab_lookup(const ds_wp_vocab *vocab, const char *token, size_t len);

// The ids of one text without special tokens, appended to *out (whose contents are kept).
ds_status ds_wp_tokenize(const ds_wp_tokenizer *tok, const char *text, size_t text_len, ds_wp_scratch *scratch,
                         ds_wp_ids *out, ds_err *err);

// [CLS] text [SEP] or, when pair is non-NULL, [CLS] text [SEP] pair [SEP], truncated and padded
// as opts says (opts may be NULL: neither). *out is overwritten. An empty pair ("", not NULL)
// still adds its [SEP], as tokenizers and transformers' batch call do (transformers' single-text
// call drops an empty pair). A max_length below the special tokens' count is an error
// (transformers logs it and returns the text untruncated).
ds_status ds_wp_encode(const ds_wp_tokenizer *tok, const char *text, size_t text_len, const char *pair, size_t pair_len,
                       const ds_wp_encode_opts *opts, ds_wp_scratch *scratch, ds_wp_encoding *out, ds_err *err);

// Pads *enc with [PAD] up to length (no-op when already that long or longer).
ds_status ds_wp_pad(const ds_wp_tokenizer *tok, ds_wp_encoding *enc, size_t length, ds_err *err);

// Pads every encoding of a batch to the longest one (transformers' padding=True / "longest").
ds_status ds_wp_pad_batch(const ds_wp_tokenizer *tok, ds_wp_encoding *encs, size_t count, ds_err *err);

// ---- writing a tokenizer back out (wordpiece_save.c): texts of the files, for the caller to write.
// vocab.txt: the vocabulary, one token a line in id order (*len bytes, NUL-terminated).
ds_status ds_wp_vocab_text(const ds_wp_tokenizer *tok, char **out, size_t *len, ds_err *err);
// tokenizer.json: BertNormalizer, BertPreTokenizer, the [CLS]/[SEP] template, WordPiece with the
// vocabulary and every added token with its id; BertTokenizerFast and AutoTokenizer load it.
ds_status ds_wp_tokenizer_json_text(const ds_wp_tokenizer *tok, char **out, ds_err *err);
// tokenizer_config.json: `source` (the model's own file, or NULL) with the settings and special
// tokens this tokenizer runs with written explicitly.
ds_status ds_wp_tokenizer_config_text(const ds_wp_tokenizer *tok, const char *source, char **out, ds_err *err);

void ds_wp_scratch_free(ds_wp_scratch *scratch);
void ds_wp_ids_free(ds_wp_ids *ids);
void ds_wp_encoding_free(ds_wp_encoding *enc);

#endif
