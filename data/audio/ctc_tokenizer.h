// A character tokenizer with exactly the ids and strings of Hugging Face's Wav2Vec2CTCTokenizer
// (transformers 5.24, tokenization_wav2vec2.py on PythonBackend), read from vocab.json plus
// tokenizer_config.json (and, in the older hub layout, special_tokens_map.json / added_tokens.json).
//
// Vocabulary (what transformers builds when it loads the files, reproduced step by step):
//   1. vocab.json: token -> id (the encoder); its inverse is the decoder (a repeated id: the last
//      token wins, as {v: k for k, v in encoder.items()}).
//   2. added tokens: tokenizer_config.json's "added_tokens_decoder" when present; otherwise the
//      legacy added_tokens.json. Each has lstrip/rstrip flags.
//   3. special tokens: bos, eos, unk, pad (defaults "<s>", "</s>", "<unk>", "<pad>"; null removes
//      one), the model-specific word_delimiter_token ("|") and the extra/additional special tokens,
//      in that order; one that is neither in vocab.json nor added yet is appended as a new id
//      (len(vocabulary) + k). So the recipe's vocab.json, which has no "<s>"/"</s>", gives a
//      tokenizer of len(vocab) + 2 ids: the vocab_size the recipe gives the model.
//   4. every vocab.json token longer than one character ("<pad>", "[UNK]", ...) becomes an added
//      token with lstrip = rstrip = true (overriding step 2/3 for that id), so it is never split.
//   Special tokens come from tokenizer_config.json, overridden by special_tokens_map.json in the
//   legacy layout (only when tokenizer_config.json has no added_tokens_decoder, as transformers).
//
// Encoding a transcript (tokenizer(text).input_ids; no bos/eos are added):
//   1. the text is cut at added tokens (leftmost, longest first); an added token with rstrip eats
//      the whitespace after it, one with lstrip the whitespace before it;
//   2. each other piece: uppercased (str.upper) when do_lower_case, every " " replaced by the word
//      delimiter, then split into characters;
//   3. each token: its added-token id, else its vocab.json id, else the unk token's id. With
//      DS_CTC_OOV_ERROR a character that is in neither is an error naming the utterance, the
//      character and its position instead.
// Decoding ids (batch_decode(ids) with its defaults):
//   1. ids -> tokens (vocab.json first, then added tokens, else the unk token's string);
//      skip_special_tokens drops bos/eos/unk/pad/extra special tokens (never the word delimiter)
//      BEFORE grouping;
//   2. group_tokens: runs of equal tokens collapse to one (CTC); then the pad token (the CTC blank)
//      is removed and the word delimiter becomes replace_word_delimiter_char (" ");
//   3. joined without separators, str.strip()'d, lowercased (str.lower) when do_lower_case, then
//      clean_up_tokenization (" ." -> "." etc.) when clean_up_tokenization_spaces: false unless
//      tokenizer_config.json says true (transformers 5 default; 4.x defaulted to true).
// References in the recipe's compute_metrics are label ids decoded with group_tokens = false.
//
// Text is UTF-8; str.upper/str.lower/str.strip follow Python 3.11 (py_text.h).
// Not supported (loading fails with DS_ERR_UNSUPPORTED): nested multi-language vocabularies
// (target_lang), added tokens with single_word.
// A loaded tokenizer is immutable: threads may share it.
#ifndef DS_CTC_TOKENIZER_H
#define DS_CTC_TOKENIZER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "py_text.h"

typedef struct ds_ctc_added_token {
    char *content;  // UTF-8, owned
    int32_t *cps;   // (cp_count) its code points, owned
    size_t cp_count;
    int32_t id;
    bool lstrip, rstrip;
} ds_ctc_added_token;

typedef struct ds_ctc_vocab_entry {
    char *token;  // UTF-8, owned
    int32_t id;
} ds_ctc_vocab_entry;

typedef struct ds_ctc_tokenizer {
    ds_ctc_vocab_entry *vocab;  // (vocab_count) vocab.json, sorted by token (bytes) for lookup
    size_t vocab_count;
    ds_ctc_added_token *added;  // (added_count) the added tokens, by id
    size_t added_count;
    // Decoding table: id -> token string (vocab.json's, else the added token's), NULL for an id
    // nothing has. Points into vocab / added.
    const char **id_to_token;  // (size)
    int32_t size;              // largest id + 1: the model's vocab_size (the CTC head's width)
    int32_t count;             // distinct token strings: len(tokenizer) in transformers (= size
                               // when the ids have no holes)
    // Special tokens: NULL when unset. *_id is the token's id, or -1.
    char *bos_token, *eos_token, *unk_token, *pad_token, *word_delimiter_token;
    int32_t bos_id, eos_id, unk_id, pad_id, word_delimiter_id;
    char **extra_special;  // (extra_special_count) additional/extra special tokens
    size_t extra_special_count;
    char *replace_word_delimiter_char;  // " "
    bool do_lower_case;
    bool clean_up_tokenization_spaces;
} ds_ctc_tokenizer;

// What to do with a character that is neither in vocab.json nor an added token.
typedef enum ds_ctc_oov {
    DS_CTC_OOV_UNK = 0,  // map it to the unk token, as HF does
    DS_CTC_OOV_ERROR,    // fail, naming the utterance and the character
} ds_ctc_oov;

// A growable list of ids (zero-initialise; ds_ctc_ids_free).
typedef struct ds_ctc_ids {
    int32_t *v;  // (n) host
    size_t n, cap;
} ds_ctc_ids;

void ds_ctc_ids_free(ds_ctc_ids *ids);

// Loads a tokenizer directory: vocab.json (required), tokenizer_config.json, special_tokens_map.json
// and added_tokens.json when present. Errors name the file and the key.
ds_status ds_ctc_tokenizer_load(const char *dir, ds_ctc_tokenizer *tok, ds_err *err);

// The same from parsed JSON (any but vocab may be NULL); names are used in messages.
typedef struct ds_ctc_tokenizer_json {
    const cJSON *vocab;               // vocab.json
    const char *vocab_name;
    const cJSON *config;              // tokenizer_config.json
    const char *config_name;
    const cJSON *special_tokens_map;  // special_tokens_map.json
    const char *special_tokens_map_name;
    const cJSON *added_tokens;        // added_tokens.json
    const char *added_tokens_name;
} ds_ctc_tokenizer_json;
ds_status ds_ctc_tokenizer_from_json(const ds_ctc_tokenizer_json *files, ds_ctc_tokenizer *tok, ds_err *err);

void ds_ctc_tokenizer_free(ds_ctc_tokenizer *tok);

// Id of a token string in the tokenizer's vocabulary (added tokens first, as HF), or -1.
int32_t ds_ctc_token_id(const ds_ctc_tokenizer *tok, const char *token);

// Encodes text[0, len) (UTF-8) into *ids (replaced). `what` names the utterance in messages
// ("train.csv:12"). *unknown (may be NULL) receives how many characters became the unk token.
ds_status ds_ctc_encode(const ds_ctc_tokenizer *tok, const char *text, size_t len, ds_ctc_oov oov, const char *what,
                        ds_ctc_ids *ids, size_t *unknown, ds_err *err);

typedef struct ds_ctc_decode_options {
    bool group_tokens;         // true: CTC grouping of repeated tokens (false for references)
    bool skip_special_tokens;  // false
    int clean_up;              // -1: the tokenizer's clean_up_tokenization_spaces; 0 / 1 force it
} ds_ctc_decode_options;

// {group_tokens = true, skip_special_tokens = false, clean_up = -1}: batch_decode's defaults.
ds_ctc_decode_options ds_ctc_decode_defaults(void);

// Decodes ids[0, n) (any int32: ids outside the vocabulary decode to the unk token's string, as
// HF) into *out (replaced; UTF-8, NUL-terminated).
ds_status ds_ctc_decode(const ds_ctc_tokenizer *tok, const int32_t *ids, size_t n, const ds_ctc_decode_options *opt,
                        ds_str *out, ds_err *err);

// Greedy CTC: ids[t] = argmax over v of logits[t * V + v] for t < T ((T, V) host, row-major; the
// first maximum wins, as torch.argmax / np.argmax; NaN never wins).
void ds_ctc_argmax(const float *logits, int64_t T, int64_t V, int32_t *ids);

#endif
