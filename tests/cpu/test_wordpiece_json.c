// tokenizer.json (data/text/wordpiece_tokenizer_json.c) and writing a tokenizer back out
// (data/text/wordpiece_save.c), beyond the corpus comparisons of test_wordpiece.c (which run every
// fixture tokenizer saved by transformers 5 against transformers' ids):
//   - a hand-written tokenizer.json alone: its continuing_subword_prefix, max_input_chars_per_word,
//     lowercase switch and template ids are the ones used;
//   - what is not a BERT WordPiece pipeline is refused, naming the file and the part;
//   - vocab.txt, tokenizer.json and tokenizer_config.json written from a loaded tokenizer load back
//     to the same ids, each alone and together.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/text/wordpiece.h"
#include "../test_util.h"

static void write_text(const char *dir, const char *name, const char *text) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char *fresh_dir(const char *name, char *dir, size_t cap) {
    char cmd[1400];
    ds_test_tmpfile(name, dir, cap);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) dir[0] = 0;
    return dir;
}

// A tokenizer.json from parts (each a JSON value as text).
static void write_json(const char *dir, const char *model, const char *normalizer, const char *pre,
                       const char *post, const char *added) {
    char text[4096];
    snprintf(text, sizeof text,
             "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": %s,\n"
             " \"normalizer\": %s, \"pre_tokenizer\": %s, \"post_processor\": %s,\n"
             " \"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"@@\", \"cleanup\": true}, \"model\": %s}\n",
             added, normalizer, pre, post, model);
    write_text(dir, "tokenizer.json", text);
}

#define VOCAB "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"ab\": 4, \"@@c\": 5, \"A\": 6, \"##c\": 7}"
#define MODEL(prefix, max)                                                                                      \
    "{\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"" prefix "\", "     \
    "\"max_input_chars_per_word\": " max ", \"vocab\": " VOCAB "}"
#define NORM(lower) \
    "{\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": true, \"strip_accents\": null, " \
    "\"lowercase\": " lower "}"
#define PRE "{\"type\": \"BertPreTokenizer\"}"
#define TEMPLATE(cls_id)                                                                                          \
    "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\", \"type_id\": 0}}, "   \
    "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}}], " \
    "\"pair\": [{\"SpecialToken\": {\"id\": \"[CLS]\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", "        \
    "\"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"B\", " \
    "\"type_id\": 1}}, {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 1}}], \"special_tokens\": "          \
    "{\"[CLS]\": {\"id\": \"[CLS]\", \"ids\": [" cls_id "], \"tokens\": [\"[CLS]\"]}, \"[SEP]\": {\"id\": "      \
    "\"[SEP]\", \"ids\": [3], \"tokens\": [\"[SEP]\"]}}}"
#define ADDED                                                                                                \
    "[{\"id\": 0, \"content\": \"[PAD]\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "    \
    "\"normalized\": false, \"special\": true}, {\"id\": 2, \"content\": \"[CLS]\", \"normalized\": false}, " \
    "{\"id\": 3, \"content\": \"[SEP]\", \"normalized\": false}]"

// "ids,ids,..." of one text (and pair), or the error message.
static const char *encode(const ds_wp_tokenizer *tok, const char *text, const char *pair, char *buf, size_t cap) {
    ds_wp_scratch s = {0};
    ds_wp_encoding e = {0};
    ds_err err = {0};
    if (ds_wp_encode(tok, text, strlen(text), pair, pair ? strlen(pair) : 0, NULL, &s, &e, &err) != DS_OK) {
        snprintf(buf, cap, "error: %s", err.msg);
    } else {
        size_t n = 0;
        buf[0] = 0;
        for (size_t i = 0; i < e.len && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%d", i ? "," : "", (int)e.input_ids[i]);
    }
    ds_wp_encoding_free(&e);
    ds_wp_scratch_free(&s);
    return buf;
}

// A tokenizer.json alone decides the prefix, the word limit, the case and the template's ids.
static void check_json_alone(ds_test *t) {
    char dir[600], buf[256];
    ds_wp_tokenizer tok;
    ds_err err = {0};
    fresh_dir("wpj_alone", dir, sizeof dir);
    write_json(dir, MODEL("@@", "3"), NORM("false"), PRE, TEMPLATE("2"), ADDED);
    if (!ds_test_check(t, ds_wp_tokenizer_load(dir, &tok, &err) == DS_OK, "load %s: %s", dir, err.msg)) return;
    // "abc" -> ab @@c (the file's prefix, not "##"); "abcd" has 4 > 3 characters -> [UNK]; "A" kept
    // (lowercase off); "a" unknown; [CLS] in the text is an added token.
    ds_test_check(t, strcmp(encode(&tok, "abc abcd A a [CLS]", NULL, buf, sizeof buf), "2,4,5,1,6,1,2,3") == 0,
                  "json alone: got %s", buf);
    ds_test_check(t, tok.subword_prefix_len == 2 && strcmp(tok.subword_prefix, "@@") == 0 &&
                         tok.max_input_chars_per_word == 3,
                  "prefix %s, max %d", tok.subword_prefix, tok.max_input_chars_per_word);
    ds_test_check(t, strcmp(encode(&tok, "ab", "A", buf, sizeof buf), "2,4,3,6,3") == 0, "pair: got %s", buf);
    ds_wp_tokenizer_free(&tok);

    // With a BERT tokenizer_config.json beside it, BertTokenizer's rules win: "##", 100 characters,
    // do_lower_case (default true).
    write_text(dir, "tokenizer_config.json", "{\"tokenizer_class\": \"BertTokenizer\"}");
    ds_test_check(t, ds_wp_tokenizer_load(dir, &tok, &err) == DS_OK, "load with config: %s", err.msg);
    ds_test_check(t, strcmp(encode(&tok, "abc abcd A", NULL, buf, sizeof buf), "2,4,7,1,1,3") == 0,
                  "json + BERT config: got %s", buf);
    ds_wp_tokenizer_free(&tok);
    // Another class (PreTrainedTokenizerFast) leaves the pipeline to tokenizer.json.
    write_text(dir, "tokenizer_config.json", "{\"tokenizer_class\": \"PreTrainedTokenizerFast\"}");
    ds_test_check(t, ds_wp_tokenizer_load(dir, &tok, &err) == DS_OK, "load with other class: %s", err.msg);
    ds_test_check(t, strcmp(encode(&tok, "abc abcd A", NULL, buf, sizeof buf), "2,4,5,1,6,3") == 0,
                  "json + other class: got %s", buf);
    ds_wp_tokenizer_free(&tok);
    // The same file with vocab.txt beside it: tokenizer.json is preferred (vocab.txt here lacks [SEP]).
    remove(strcat(strcpy(buf, dir), "/tokenizer_config.json"));
    write_text(dir, "vocab.txt", "[PAD]\n[UNK]\n[CLS]\nab\n");
    ds_test_check(t, ds_wp_tokenizer_load(dir, &tok, &err) == DS_OK, "json preferred: %s", err.msg);
    ds_wp_tokenizer_free(&tok);
}

// What is not BERT WordPiece: refused, naming the file and the part.
static void check_refusals(ds_test *t) {
    const struct {
        const char *name, *model, *norm, *pre, *post, *added;
        ds_status status;
        const char *needle;
    } cases[] = {
        {"wpj_bpe", "{\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}", NORM("true"), PRE, TEMPLATE("2"), ADDED,
         DS_ERR_UNSUPPORTED, "not WordPiece"},
        {"wpj_unigram", "{\"type\": \"Unigram\", \"vocab\": []}", NORM("true"), PRE, TEMPLATE("2"), ADDED,
         DS_ERR_UNSUPPORTED, "Unigram, not WordPiece"},
        {"wpj_whitespace", MODEL("##", "100"), NORM("true"), "{\"type\": \"Whitespace\"}", TEMPLATE("2"), ADDED,
         DS_ERR_UNSUPPORTED, "pre_tokenizer \"Whitespace\""},
        {"wpj_nfkc", MODEL("##", "100"), "{\"type\": \"NFKC\"}", PRE, TEMPLATE("2"), ADDED, DS_ERR_UNSUPPORTED,
         "normalizer \"NFKC\""},
        {"wpj_no_clean", MODEL("##", "100"),
         "{\"type\": \"BertNormalizer\", \"clean_text\": false, \"handle_chinese_chars\": true, \"strip_accents\": "
         "null, \"lowercase\": true}",
         PRE, TEMPLATE("2"), ADDED, DS_ERR_UNSUPPORTED, "clean_text false"},
        {"wpj_roberta", MODEL("##", "100"), NORM("true"), PRE,
         "{\"type\": \"RobertaProcessing\", \"sep\": [\"</s>\", 2], \"cls\": [\"<s>\", 0]}", ADDED, DS_ERR_UNSUPPORTED,
         "post_processor \"RobertaProcessing\""},
        {"wpj_template_ids", MODEL("##", "100"), NORM("true"), PRE, TEMPLATE("6"), ADDED, DS_ERR_UNSUPPORTED,
         "post-processor gives [CLS] id 6"},
        {"wpj_holes", "{\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {\"[UNK]\": 0, \"a\": 5}}",
         NORM("true"), PRE, TEMPLATE("2"), ADDED, DS_ERR_FORMAT, "the ids must be 0..1"},
        {"wpj_normalized", MODEL("##", "100"), NORM("true"), PRE, TEMPLATE("2"),
         "[{\"id\": 4, \"content\": \"ab\", \"normalized\": true}]", DS_ERR_UNSUPPORTED, "normalized"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[600];
        fresh_dir(cases[i].name, dir, sizeof dir);
        write_json(dir, cases[i].model, cases[i].norm, cases[i].pre, cases[i].post, cases[i].added);
        ds_wp_tokenizer tok;
        ds_err err = {0};
        const ds_status s = ds_wp_tokenizer_load(dir, &tok, &err);
        ds_test_check(t, s == cases[i].status && strstr(err.msg, cases[i].needle) && strstr(err.msg, "tokenizer.json"),
                      "%s: %s '%s' (want %s, '%s')", cases[i].name, ds_status_name(s), err.msg,
                      ds_status_name(cases[i].status), cases[i].needle);
        if (s == DS_OK) ds_wp_tokenizer_free(&tok);
    }
    char dir[600];
    fresh_dir("wpj_nothing", dir, sizeof dir);
    ds_wp_tokenizer tok;
    ds_err err = {0};
    const ds_status s = ds_wp_tokenizer_load(dir, &tok, &err);
    ds_test_check(t, s == DS_ERR_IO && strstr(err.msg, "vocab.txt") && strstr(err.msg, "tokenizer.json"),
                  "empty directory: %s '%s'", ds_status_name(s), err.msg);
}

// Lines of the fixture corpus (pairs after a TAB), first n.
static int corpus_lines(char lines[][600], int n) {
    char path[512];
    FILE *f = fopen(ds_test_fixture("tokenizer/corpus.txt", path, sizeof path), "rb");
    int k = 0;
    while (f && k < n && fgets(lines[k], 600, f)) {
        lines[k][strcspn(lines[k], "\n")] = 0;
        if (strlen(lines[k]) < 590) k++;  // a line cut by the buffer would not be the fixture's
    }
    if (f) fclose(f);
    return k;
}

// Saves `tok`'s files into dir (which: 1 vocab.txt, 2 tokenizer.json, 4 tokenizer_config.json).
static bool save(const ds_wp_tokenizer *tok, const char *dir, int which, ds_err *err) {
    char *text = NULL;
    size_t len = 0;
    if ((which & 1) && ds_wp_vocab_text(tok, &text, &len, err) != DS_OK) return false;
    if (which & 1) write_text(dir, "vocab.txt", text), free(text);
    if ((which & 2) && ds_wp_tokenizer_json_text(tok, &text, err) != DS_OK) return false;
    if (which & 2) write_text(dir, "tokenizer.json", text), free(text);
    if ((which & 4) && ds_wp_tokenizer_config_text(tok, NULL, &text, err) != DS_OK) return false;
    if (which & 4) write_text(dir, "tokenizer_config.json", text), free(text);
    return true;
}

// A tokenizer written back out loads to the same ids from each file (and all together).
static void check_round_trip(ds_test *t) {
    static char lines[300][600];
    const int n = corpus_lines(lines, 300);
    ds_test_check(t, n >= 250, "corpus: %d lines", n);
    const char *sources[] = {"uncased", "cased_tf5", "uncased_keep_accents", "added_tokens_tf5", "uncased_json_only"};
    const int layouts[] = {1 | 4, 2, 2 | 4, 1 | 2 | 4};
    for (size_t si = 0; si < sizeof sources / sizeof sources[0]; si++) {
        char rel[128], src[512];
        snprintf(rel, sizeof rel, "tokenizer/%s", sources[si]);
        ds_wp_tokenizer a;
        ds_err err = {0};
        if (!ds_test_check(t, ds_wp_tokenizer_load(ds_test_fixture(rel, src, sizeof src), &a, &err) == DS_OK,
                           "load %s: %s", src, err.msg))
            continue;
        for (size_t li = 0; li < sizeof layouts / sizeof layouts[0]; li++) {
            // vocab.txt alone cannot hold added tokens beyond the vocabulary: skip that layout there.
            if (layouts[li] == (1 | 4) && strstr(sources[si], "added")) continue;
            char name[64], dir[600];
            snprintf(name, sizeof name, "wpj_rt_%zu_%zu", si, li);
            fresh_dir(name, dir, sizeof dir);
            ds_wp_tokenizer b;
            if (!ds_test_check(t, save(&a, dir, layouts[li], &err) && ds_wp_tokenizer_load(dir, &b, &err) == DS_OK,
                               "%s layout %d: %s", sources[si], layouts[li], err.msg))
                continue;
            int differ = 0;
            for (int i = 0; i < n; i++) {
                char *tab = strchr(lines[i], '\t'), x[4096], y[4096];
                char text[600];
                snprintf(text, sizeof text, "%.*s", tab ? (int)(tab - lines[i]) : (int)strlen(lines[i]), lines[i]);
                const char *pair = tab ? tab + 1 : NULL;
                differ += strcmp(encode(&a, text, pair, x, sizeof x), encode(&b, text, pair, y, sizeof y)) != 0;
            }
            ds_test_check(t, differ == 0, "%s saved as layout %d: %d of %d lines differ", sources[si], layouts[li],
                          differ, n);
            ds_wp_tokenizer_free(&b);
        }
        ds_wp_tokenizer_free(&a);
    }
}

int main(void) {
    ds_test t = ds_test_begin("wordpiece_json");
    check_json_alone(&t);
    check_refusals(&t);
    check_round_trip(&t);
    return ds_test_finish(&t);
}
