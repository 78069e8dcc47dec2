// The recipe's transcript normalisation and vocabulary (data/audio/ctc_vocab.h) against
// run_speech_recognition_ctc.py's own functions, reimplemented in scripts/fixtures/audio_data.py:
// remove_special_characters with the README's chars_to_ignore (whose "!-\;" is a range), with a
// plain list and with none; create_vocabulary_from_data's vocab.json byte for byte; the
// tokenizer_config.json that makes Wav2Vec2CTCTokenizer.from_pretrained rebuild the recipe's
// tokenizer (checked there), read back here with the same ids; the Python str helpers behind it.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../data/audio/ctc_tokenizer.h"
#include "../../data/audio/ctc_vocab.h"
#include "../../data/audio/py_text.h"
#include "../test_util.h"

static const char *audio_fixture(const char *name, char *buf, size_t cap) {
    char rel[256];
    snprintf(rel, sizeof rel, "audio/%s", name);
    return ds_test_fixture(rel, buf, cap);
}

// "".join of a JSON list of strings.
static void join(const cJSON *list, char *buf, size_t cap) {
    buf[0] = '\0';
    for (const cJSON *e = list->child; e; e = e->next) strncat(buf, e->valuestring, cap - strlen(buf) - 1);
}

static void check_normalize(ds_test *t, const cJSON *rec) {
    char chars[512];
    join(cJSON_GetObjectItem(rec, "chars_to_ignore"), chars, sizeof chars);
    ds_char_class cls;
    ds_err err = {0};
    if (!ds_test_check(t, ds_char_class_compile(chars, &cls, &err) == DS_OK, "%s", err.msg)) return;
    const ds_ctc_text_norm norm = ds_ctc_text_norm_recipe(&cls);
    ds_str out = {0};
    const char *lists[2][2] = {{"train", "normalized_train"}, {"eval", "normalized_eval"}};
    int n = 0;
    for (int l = 0; l < 2; l++) {
        const cJSON *raw = cJSON_GetObjectItem(rec, lists[l][0]), *want = cJSON_GetObjectItem(rec, lists[l][1]);
        for (int i = 0; i < cJSON_GetArraySize(raw); i++, n++) {
            const char *text = cJSON_GetArrayItem(raw, i)->valuestring, *w = cJSON_GetArrayItem(want, i)->valuestring;
            ds_test_check(t, ds_ctc_normalize_text(&norm, text, strlen(text), "t", &out, &err) == DS_OK &&
                                 strcmp(out.v, w) == 0,
                          "recipe normalisation of \"%s\": \"%s\", Python \"%s\"", text, out.v, w);
        }
    }
    ds_char_class_free(&cls);
    // A plain list (no range) and no chars_to_ignore at all.
    for (const cJSON *c = cJSON_GetObjectItem(rec, "normalize_plain")->child; c; c = c->next, n++) {
        join(cJSON_GetObjectItem(c, "chars_to_ignore"), chars, sizeof chars);
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring, *w = cJSON_GetObjectItem(c, "out")->valuestring;
        ds_char_class plain;
        if (!ds_test_check(t, ds_char_class_compile(chars, &plain, &err) == DS_OK, "%s", err.msg)) continue;
        const ds_ctc_text_norm pn = ds_ctc_text_norm_recipe(&plain);
        ds_test_check(t, ds_ctc_normalize_text(&pn, text, strlen(text), "t", &out, &err) == DS_OK && strcmp(out.v, w) == 0,
                      "plain chars_to_ignore on \"%s\": \"%s\", Python \"%s\"", text, out.v, w);
        ds_char_class_free(&plain);
    }
    const ds_ctc_text_norm none = ds_ctc_text_norm_recipe(NULL);
    for (const cJSON *c = cJSON_GetObjectItem(rec, "normalize_none")->child; c; c = c->next, n++) {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring, *w = cJSON_GetObjectItem(c, "out")->valuestring;
        ds_test_check(t, ds_ctc_normalize_text(&none, text, strlen(text), "t", &out, &err) == DS_OK &&
                             strcmp(out.v, w) == 0,
                      "no chars_to_ignore on \"%s\": \"%s\", Python \"%s\"", text, out.v, w);
    }
    ds_str_free(&out);
    printf("  normalisation: %d transcripts\n", n);
}

static char *read_fixture(const char *rel) {
    char path[512];
    return ds_test_read_file(audio_fixture(rel, path, sizeof path), NULL);
}

static void check_vocab(ds_test *t, const cJSON *rec) {
    ds_ctc_vocab_builder b = {0};
    ds_err err = {0};
    const char *lists[2] = {"normalized_train", "normalized_eval"};
    for (int l = 0; l < 2; l++)
        for (const cJSON *e = cJSON_GetObjectItem(rec, lists[l])->child; e; e = e->next)
            ds_test_check(t, ds_ctc_vocab_builder_add(&b, e->valuestring, strlen(e->valuestring), "t", &err) == DS_OK,
                          "%s", err.msg);
    const ds_ctc_vocab_spec spec = ds_ctc_vocab_spec_recipe();
    ds_str json = {0};
    char *want = read_fixture("recipe_vocab/vocab.json");
    ds_test_check(t, want && ds_ctc_vocab_json(&b, &spec, &json, &err) == DS_OK && strcmp(json.v, want) == 0,
                  "vocab.json differs from the recipe's json.dump:\n  ours   %s\n  recipe %s", json.v, want);
    free(want);
    want = read_fixture("recipe_vocab/tokenizer_config.json");
    ds_test_check(t, want && ds_ctc_tokenizer_config_json(&spec, &json, &err) == DS_OK && strcmp(json.v, want) == 0,
                  "tokenizer_config.json differs:\n%s\n%s", json.v, want);
    free(want);
    // Written to a directory and read back: the recipe tokenizer's len and ids.
    char dir[512];
    ds_test_tmpfile("recipe_vocab_out", dir, sizeof dir);
    mkdir(dir, 0755);
    ds_ctc_tokenizer tok;
    if (ds_test_check(t, ds_ctc_vocab_write(dir, &b, &spec, &err) == DS_OK, "%s", err.msg) &&
        ds_test_check(t, ds_ctc_tokenizer_load(dir, &tok, &err) == DS_OK, "%s", err.msg)) {
        const int want_len = cJSON_GetObjectItem(rec, "tokenizer_len")->valueint;
        ds_test_check(t, tok.count == want_len && tok.size == want_len && tok.vocab_count == (size_t)want_len - 2,
                      "the recipe's tokenizer has %d ids (vocab.json + <s>, </s>), ours %d", want_len, tok.count);
        ds_test_check(t, tok.bos_id == want_len - 2 && tok.eos_id == want_len - 1 && tok.pad_id == want_len - 3 &&
                             tok.unk_id == want_len - 4,
                      "special ids: unk %d pad %d bos %d eos %d", tok.unk_id, tok.pad_id, tok.bos_id, tok.eos_id);
        ds_ctc_tokenizer_free(&tok);
    }
    ds_str_free(&json);
    // Transcripts without spaces: the space (so the delimiter) comes from the recipe's " ".join.
    const cJSON *js = cJSON_GetObjectItem(rec, "join_space");
    ds_ctc_vocab_builder two = {0};
    for (const cJSON *e = cJSON_GetObjectItem(js, "train")->child; e; e = e->next)
        ds_ctc_vocab_builder_add(&two, e->valuestring, strlen(e->valuestring), "t", &err);
    ds_str j3 = {0};
    const char *want_js = cJSON_GetObjectItem(js, "vocab")->valuestring;
    ds_test_check(t, ds_ctc_vocab_json(&two, &spec, &j3, &err) == DS_OK && strcmp(j3.v, want_js) == 0,
                  "vocab of [\"ab\", \"cd\"]: %s, recipe %s", j3.v ? j3.v : "", want_js);
    ds_str_free(&j3);
    ds_ctc_vocab_builder_free(&two);
    // No space anywhere: the recipe's KeyError.
    ds_ctc_vocab_builder one = {0};
    ds_test_check(t, ds_ctc_vocab_builder_add(&one, "abc", 3, "t", &err) == DS_OK, "%s", err.msg);
    ds_str j2 = {0};
    ds_test_check(t, ds_ctc_vocab_json(&one, &spec, &j2, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "no space"),
                  "a vocabulary without a space: %s", err.msg);
    ds_str_free(&j2);
    ds_ctc_vocab_builder_free(&one);
    ds_ctc_vocab_builder_free(&b);
}

static void check_char_class(ds_test *t) {
    struct {
        const char *chars;
        const char *in, *kept;  // in with the class's characters removed
    } cases[] = {
        {",?.!-\\;\\:\"", "a,b-c;d:e!f\"g1h'i", "abcdefghi"},  // "!-;" is a range: digits and ' go too
        {",?.!;:\"-", "a-b,c1", "abc1"},                          // "-" last is literal
        {"^a-z", "abc,DEF 1", "abc"},                              // negated
        {"]a", "a]b", "b"},                                        // "]" first is literal
        {"\\d\\s", "a 1\tb\u0663", "ab"},                          // classes (U+0663: an Arabic-Indic digit)
        {"\\x41\\u00e9\\n", "AéB\n", "B"},                         // hex escapes
    };
    ds_err err = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ds_char_class cls;
        if (!ds_test_check(t, ds_char_class_compile(cases[i].chars, &cls, &err) == DS_OK, "\"%s\": %s", cases[i].chars,
                           err.msg))
            continue;
        const ds_ctc_text_norm n = {.ignore = &cls};
        ds_str out = {0};
        ds_test_check(t, ds_ctc_normalize_text(&n, cases[i].in, strlen(cases[i].in), "t", &out, &err) == DS_OK &&
                             strcmp(out.v, cases[i].kept) == 0,
                      "class [%s] on \"%s\": \"%s\", expected \"%s\"", cases[i].chars, cases[i].in, out.v ? out.v : "", cases[i].kept);
        ds_str_free(&out);
        ds_char_class_free(&cls);
    }
    // Refused as Python's re refuses them; "ab]cd" Python reads as the class [ab] followed by the
    // text "cd]" (never what a chars_to_ignore list means): refused here.
    const char *bad[] = {"", "z-a", "\\q", "\\d-z", "\\", "ab]cd"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ds_char_class cls;
        ds_err_clear(&err);
        ds_test_check(t, ds_char_class_compile(bad[i], &cls, &err) == DS_ERR_CONFIG && strstr(err.msg, "chars_to_ignore"),
                      "class [%s] is refused: %s", bad[i], err.msg);
    }
}

// Python's str.upper / lower / strip on the cases where they differ from simple mappings.
static void check_py_text(ds_test *t) {
    struct {
        const char *in, *upper, *lower;
    } cases[] = {
        {"straße", "STRASSE", "straße"},
        {"ﬁ ŉ ǰ", "FI ʼN J̌", "ﬁ ŉ ǰ"},
        {"İstanbul", "İSTANBUL", "i̇stanbul"},
        {"ΣΟΦΟΣ ΚΑΙ Σ", "ΣΟΦΟΣ ΚΑΙ Σ", "\u03c3\u03bf\u03c6\u03bf\u03c2 \u03ba\u03b1\u03b9 \u03c3"},  // final sigma
        {"ΟΔΟΣ.", "ΟΔΟΣ.", "\u03bf\u03b4\u03bf\u03c2."},
        {"Α'Σ", "Α'Σ", "α'ς"},
        {"ΑΣ'Β", "ΑΣ'Β", "ασ'β"},
    };
    ds_err err = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ds_cps in = {0}, out = {0};
        ds_str s = {0};
        ds_utf8_to_cps(cases[i].in, strlen(cases[i].in), "t", &in, &err);
        ds_py_upper(in.v, in.n, &out, &err);
        ds_cps_append_utf8(out.v, out.n, &s, &err);
        ds_test_check(t, strcmp(s.v, cases[i].upper) == 0, "upper(\"%s\") = \"%s\", Python \"%s\"", cases[i].in, s.v,
                      cases[i].upper);
        ds_str_clear(&s);
        ds_py_lower(in.v, in.n, &out, &err);
        ds_cps_append_utf8(out.v, out.n, &s, &err);
        ds_test_check(t, strcmp(s.v, cases[i].lower) == 0, "lower(\"%s\") = \"%s\", Python \"%s\"", cases[i].in, s.v,
                      cases[i].lower);
        ds_cps_free(&in);
        ds_cps_free(&out);
        ds_str_free(&s);
    }
    const int32_t ws[] = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2000,
                          0x2005, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    bool all = true;
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) all = all && ds_py_isspace(ws[i]);
    ds_test_check(t, all && !ds_py_isspace(0x200B) && !ds_py_isspace(0x180E) && !ds_py_isspace('a'),
                  "str.isspace's code points");
    ds_cps bad = {0};
    ds_test_check(t, ds_utf8_to_cps("a\xC3", 2, "utt", &bad, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "utt"),
                  "invalid UTF-8 is refused: %s", err.msg);
    ds_cps_free(&bad);
}

int main(void) {
    ds_test t = ds_test_begin("ctc_vocab");
    char path[512];
    char *text = ds_test_read_file(audio_fixture("tokenizer.json", path, sizeof path), NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *rec = cJSON_GetObjectItem(j, "recipe");
    if (ds_test_check(&t, rec != NULL, "%s: no recipe cases", path)) {
        check_normalize(&t, rec);
        check_vocab(&t, rec);
    }
    cJSON_Delete(j);
    check_char_class(&t);
    check_py_text(&t);
    return ds_test_finish(&t);
}
