// The transcript normalisation and the vocabulary building of Hugging Face's CTC fine-tuning recipe
// (examples/pytorch/speech-recognition/run_speech_recognition_ctc.py), and writing the result as
// a tokenizer directory that Wav2Vec2CTCTokenizer.from_pretrained reads back.
//
// Normalisation (remove_special_characters):
//   target_text = re.sub(f'[{"".join(chars_to_ignore)}]', "", text).lower() + " "
// chars_to_ignore is joined and read as a Python regex CHARACTER CLASS, as the recipe does, so
// "-" between two characters is a range (the README's `, ? . ! - \; \: ...` removes everything from
// "!" to ";", digits included) and a backslash escapes. Supported inside the class: literal
// characters, ranges, "^" negation, "]" first, the escapes \\ \] \- \^ (any non-alphanumeric),
// \a \b \f \n \r \t \v, \xhh \uhhhh \Uhhhhhhhh, octal \0oo, and the classes \d \D \s \S \w \W
// (\d: Unicode Nd; \s: str.isspace; \w: letters, digits (L*, N*) and "_", Python's
// str.isalnum up to its handful of numeric CJK ideographs). Other escapes are DS_ERR_CONFIG, as
// re.error in Python. The trailing " " makes every label end with the word delimiter.
//
// Vocabulary (create_vocabulary_from_data): the set of characters of all normalised transcripts
// (the recipe takes train and eval together), sorted by code point, numbered 0.. in that order;
// then vocab[word_delimiter] = vocab[" "] and " " removed (the delimiter goes to the END of the
// dict, keeping the space's id); then unk and pad appended with id len(vocab). vocab.json is
// written byte for byte as the recipe's json.dump(vocab_dict, file) (ensure_ascii escapes, ", " and
// ": " separators).
#ifndef DS_CTC_VOCAB_H
#define DS_CTC_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "py_text.h"

// A compiled chars_to_ignore character class.
typedef struct ds_char_class {
    bool negate;
    int32_t *ranges;  // (2 * range_count) [lo, hi] pairs, host
    size_t range_count;
    unsigned classes;  // bit set of \d \D \s \S \w \W (ds_char_class.c)
} ds_char_class;

// Compiles "".join(chars_to_ignore) (UTF-8) as the body of a regex class "[...]".
ds_status ds_char_class_compile(const char *chars, ds_char_class *cls, ds_err *err);
bool ds_char_class_match(const ds_char_class *cls, int32_t cp);
void ds_char_class_free(ds_char_class *cls);

typedef struct ds_ctc_text_norm {
    const ds_char_class *ignore;  // characters removed first; NULL: none
    bool lowercase;               // str.lower() (the recipe: true)
    bool append_space;            // + " " (the recipe: true)
} ds_ctc_text_norm;

// The recipe's normalisation (ignore may be NULL: the recipe without chars_to_ignore).
ds_ctc_text_norm ds_ctc_text_norm_recipe(const ds_char_class *ignore);
// No normalisation: the transcript is tokenized as written (a hub tokenizer such as
// wav2vec2-base-960h with upper-case LibriSpeech transcripts).
ds_ctc_text_norm ds_ctc_text_norm_none(void);

// out = the normalised text[0, len) (replaced). `what` names the text in messages.
ds_status ds_ctc_normalize_text(const ds_ctc_text_norm *n, const char *text, size_t len, const char *what,
                                ds_str *out, ds_err *err);

// The set of characters seen so far (zero-initialise; ds_ctc_vocab_builder_free).
typedef struct ds_ctc_vocab_builder {
    int32_t *chars;  // (n) sorted, distinct code points
    size_t n, cap;
    size_t texts;    // transcripts added
} ds_ctc_vocab_builder;

// Adds the characters of one normalised transcript (UTF-8). Between transcripts the recipe's
// " ".join adds a space: ds_ctc_vocab_build counts it when there are two or more.
ds_status ds_ctc_vocab_builder_add(ds_ctc_vocab_builder *b, const char *text, size_t len, const char *what,
                                   ds_err *err);
void ds_ctc_vocab_builder_free(ds_ctc_vocab_builder *b);

// The special tokens of the recipe's tokenizer: data_args' defaults "|", "[UNK]", "[PAD]"
// (NULL: that step of create_vocabulary_from_data is skipped), and the bos/eos the tokenizer is
// created with (Wav2Vec2CTCTokenizer's defaults "<s>", "</s>", which the recipe keeps: they become
// two extra ids past vocab.json; NULL writes null and adds none).
typedef struct ds_ctc_vocab_spec {
    const char *word_delimiter_token, *unk_token, *pad_token;
    const char *bos_token, *eos_token;
    bool do_lower_case;  // the tokenizer's do_lower_case (the recipe: false; it lowercases the text)
} ds_ctc_vocab_spec;

// {"|", "[UNK]", "[PAD]", "<s>", "</s>", false}
ds_ctc_vocab_spec ds_ctc_vocab_spec_recipe(void);

// vocab.json's text (json.dump of the recipe's vocab_dict) into *out (replaced). Without a space
// among the characters (one transcript without spaces and no append_space) the recipe fails with a
// KeyError; here that is DS_ERR_INVALID_ARG.
ds_status ds_ctc_vocab_json(const ds_ctc_vocab_builder *b, const ds_ctc_vocab_spec *spec, ds_str *out, ds_err *err);

// The tokenizer_config.json that makes Wav2Vec2CTCTokenizer.from_pretrained(dir) build the
// recipe's tokenizer (the special tokens the recipe passes as from_pretrained arguments).
ds_status ds_ctc_tokenizer_config_json(const ds_ctc_vocab_spec *spec, ds_str *out, ds_err *err);

// Writes dir/vocab.json and dir/tokenizer_config.json (the directory must exist).
ds_status ds_ctc_vocab_write(const char *dir, const ds_ctc_vocab_builder *b, const ds_ctc_vocab_spec *spec,
                             ds_err *err);

// Python's json.dumps(s) of a UTF-8 string (ensure_ascii=True), appended to *out.
ds_status ds_json_append_string(ds_str *out, const char *s, ds_err *err);

#endif
