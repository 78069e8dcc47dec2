// The WordPiece tokenizer against transformers' BertTokenizerFast: every id of every line of the
// generated corpus (tests/fixtures/tokenizer/, from scripts/fixtures/tokenizer.py) for three
// settings (uncased, cased, lowercase keeping accents and CJK unsplit), truncated encodings,
// a padded batch; then unit checks of pairs, truncation, padding, [UNK] and the error paths.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "../../data/text/wordpiece.h"
#include "../test_util.h"

#define MAX_REPORTED 5  // mismatching lines printed per file

typedef struct corpus {
    char *data;  // the whole file; each line's '\n' replaced by NUL
    size_t size;
    char **lines;  // (count) pointers into data
    size_t *lens;  // (count) bytes of each line
    size_t count;
} corpus;

static bool load_corpus(ds_test *t, const char *rel, corpus *c) {
    char path[512];
    ds_test_fixture(rel, path, sizeof path);
    *c = (corpus){0};
    c->data = ds_test_read_file(path, &c->size);
    if (!ds_test_check(t, c->data != NULL, "cannot read %s", path)) return false;
    for (size_t i = 0; i < c->size; i++) c->count += c->data[i] == '\n';
    c->lines = malloc(c->count * sizeof *c->lines);
    c->lens = malloc(c->count * sizeof *c->lens);
    size_t start = 0, k = 0;
    for (size_t i = 0; i < c->size; i++) {
        if (c->data[i] != '\n') continue;
        c->data[i] = '\0';
        c->lines[k] = c->data + start;
        c->lens[k++] = i - start;
        start = i + 1;
    }
    return true;
}

static void free_corpus(corpus *c) {
    free(c->data);
    free(c->lines);
    free(c->lens);
}

// A corpus line is text, or text<TAB>pair (split at the first TAB).
static void split_line(const char *line, size_t len, size_t *text_len, const char **pair, size_t *pair_len) {
    const char *tab = memchr(line, '\t', len);
    *text_len = tab ? (size_t)(tab - line) : len;
    *pair = tab ? tab + 1 : NULL;
    *pair_len = tab ? len - *text_len - 1 : 0;
}

// The line with non-ASCII and control bytes escaped, for failure messages.
static const char *escaped(const char *s, size_t len, char *buf, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < len && k + 8 < cap; i++) {
        const unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7F)
            buf[k++] = (char)ch;
        else
            k += (size_t)snprintf(buf + k, cap - k, "\\x%02X", ch);
    }
    buf[k] = '\0';
    return buf;
}

static const char *fmt_ids(const int32_t *ids, size_t n, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && k + 16 < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? "," : "", ids[i]);
    return buf;
}

// Compares an encoding with a fixture record {"ids": [...], "types_from": k}.
static bool same_as_record(const ds_wp_encoding *e, const cJSON *rec, bool is_pair, char *why, size_t cap) {
    const cJSON *ids = cJSON_GetObjectItem(rec, "ids");
    const int n = cJSON_GetArraySize(ids);
    const cJSON *tf = cJSON_GetObjectItem(rec, "types_from");
    const int types_from = is_pair && cJSON_IsNumber(tf) ? tf->valueint : n;
    bool same = (size_t)n == e->len;
    for (int i = 0; same && i < n; i++) {
        same = e->input_ids[i] == cJSON_GetArrayItem(ids, i)->valueint && e->token_type_ids[i] == (i >= types_from) &&
               e->attention_mask[i] == 1;
    }
    if (!same) {
        int32_t *want = malloc(((size_t)n + 1) * sizeof *want);
        for (int i = 0; i < n; i++) want[i] = cJSON_GetArrayItem(ids, i)->valueint;
        char g[1024], w[1024], ty[256];
        snprintf(why, cap, "\n    got  %s (types %s)\n    want %s (type 1 from %d)",
                 fmt_ids(e->input_ids, e->len, g, sizeof g), fmt_ids(e->token_type_ids, e->len, ty, sizeof ty),
                 fmt_ids(want, (size_t)n, w, sizeof w), types_from);
        free(want);
    }
    return same;
}

// Every line of the corpus through the tokenizer of directory tokenizer/<dir_name>, against the ids
// of <name>.jsonl (truncated lines from <name>.truncated.jsonl).
static void check_corpus_dir(ds_test *t, const corpus *c, const char *dir_name, const char *name, bool truncated) {
    char rel[256], path[512], dir[512];
    snprintf(rel, sizeof rel, "tokenizer/%s", dir_name);
    ds_test_fixture(rel, dir, sizeof dir);
    ds_wp_tokenizer tok;
    ds_err err = {0};
    if (!ds_test_check(t, ds_wp_tokenizer_load(dir, &tok, &err) == DS_OK, "load %s: %s", dir, err.msg)) return;
    snprintf(rel, sizeof rel, "tokenizer/%s%s.jsonl", name, truncated ? ".truncated" : "");
    FILE *f = fopen(ds_test_fixture(rel, path, sizeof path), "r");
    if (!ds_test_check(t, f != NULL, "cannot open %s", path)) {
        ds_wp_tokenizer_free(&tok);
        return;
    }
    ds_wp_scratch scratch = {0};
    ds_wp_encoding enc = {0};
    size_t lineno = 0, bad = 0, records = 0, tokens = 0;
    char *jl = NULL;
    size_t jcap = 0;
    ssize_t jlen;
    while ((jlen = getline(&jl, &jcap, f)) > 0) {
        cJSON *rec = cJSON_Parse(jl);
        const cJSON *line_item = rec ? cJSON_GetObjectItem(rec, "line") : NULL;
        const cJSON *ml = rec ? cJSON_GetObjectItem(rec, "max_length") : NULL;
        const size_t i = truncated ? (size_t)(line_item ? line_item->valueint : -1) : lineno;
        lineno++;
        if (!ds_test_check(t, rec != NULL && i < c->count, "%s:%zu: bad record", path, lineno)) {
            cJSON_Delete(rec);
            break;
        }
        size_t text_len, pair_len;
        const char *pair;
        split_line(c->lines[i], c->lens[i], &text_len, &pair, &pair_len);
        const ds_wp_encode_opts opts = {.max_length = truncated && ml ? (size_t)ml->valueint : 0,
                                        .truncate = truncated};
        char why[3000] = "";
        bool ok = ds_wp_encode(&tok, c->lines[i], text_len, pair, pair_len, &opts, &scratch, &enc, &err) == DS_OK;
        if (!ok) snprintf(why, sizeof why, ": %s", err.msg);
        ok = ok && same_as_record(&enc, rec, pair != NULL, why, sizeof why);
        records++;
        tokens += enc.len;
        if (!ok && bad++ < MAX_REPORTED) {
            char esc[1024];
            ds_test_check(t, false, "%s line %zu%s \"%s\"%s", dir_name, i + 1, truncated ? " (truncated)" : "",
                          escaped(c->lines[i], c->lens[i], esc, sizeof esc), why);
        }
        ds_err_clear(&err);
        cJSON_Delete(rec);
    }
    free(jl);
    fclose(f);
    ds_test_check(t, bad == 0, "%s%s: %zu of %zu lines differ from transformers", dir_name,
                  truncated ? " (truncated)" : "", bad, records);
    ds_test_check(t, records >= (truncated ? 100 : c->count), "%s: only %zu records", path, records);
    printf("%s%s: %zu lines, %zu tokens, %zu mismatches\n", dir_name, truncated ? " truncated" : "", records, tokens,
           bad);
    ds_wp_encoding_free(&enc);
    ds_wp_scratch_free(&scratch);
    ds_wp_tokenizer_free(&tok);
}

static void check_corpus(ds_test *t, const corpus *c, const char *name, bool truncated) {
    check_corpus_dir(t, c, name, name, truncated);
}

// transformers' padding=True on the first lines' texts: every row padded to the longest.
static void check_padded_batch(ds_test *t, const corpus *c) {
    char path[512], dir[512];
    size_t size;
    char *json = ds_test_read_file(ds_test_fixture("tokenizer/uncased.padded_batch.json", path, sizeof path), &size);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    free(json);
    ds_wp_tokenizer tok;
    ds_err err = {0};
    if (!ds_test_check(t, root != NULL, "cannot read %s", path) ||
        !ds_test_check(t,
                       ds_wp_tokenizer_load(ds_test_fixture("tokenizer/uncased", dir, sizeof dir), &tok, &err) == DS_OK,
                       "load: %s", err.msg)) {
        cJSON_Delete(root);
        return;
    }
    const int n = cJSON_GetObjectItem(root, "lines")->valueint;
    ds_wp_encoding encs[16] = {0};
    ds_wp_scratch scratch = {0};
    bool ok = n <= 16;
    for (int i = 0; ok && i < n; i++) {
        size_t text_len, pair_len;
        const char *pair;
        split_line(c->lines[i], c->lens[i], &text_len, &pair, &pair_len);
        ok = ds_wp_encode(&tok, c->lines[i], text_len, NULL, 0, NULL, &scratch, &encs[i], &err) == DS_OK;
    }
    ok = ok && ds_wp_pad_batch(&tok, encs, (size_t)n, &err) == DS_OK;
    ds_test_check(t, ok, "padded batch: %s", err.msg);
    const char *keys[3] = {"input_ids", "token_type_ids", "attention_mask"};
    for (int i = 0; ok && i < n; i++) {
        const int32_t *got[3] = {encs[i].input_ids, encs[i].token_type_ids, encs[i].attention_mask};
        for (int k = 0; k < 3; k++) {
            const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(root, keys[k]), i);
            bool same = (size_t)cJSON_GetArraySize(row) == encs[i].len;
            for (size_t j = 0; same && j < encs[i].len; j++)
                same = got[k][j] == cJSON_GetArrayItem(row, (int)j)->valueint;
            ds_test_check(t, same, "padded batch row %d: %s differs", i, keys[k]);
        }
    }
    for (int i = 0; i < 16; i++) ds_wp_encoding_free(&encs[i]);
    ds_wp_scratch_free(&scratch);
    ds_wp_tokenizer_free(&tok);
    cJSON_Delete(root);
}

// Extra added tokens (added_tokens_decoder, additional_special_tokens): ids past the vocabulary
// and matches in the raw text, as transformers gives them (tests/fixtures/tokenizer/added_tokens.jsonl).
static void check_added_tokens(ds_test *t, const char *dir_name) {
    char path[512], dir[512], rel[256];
    ds_wp_tokenizer tok;
    ds_err err = {0};
    snprintf(rel, sizeof rel, "tokenizer/%s", dir_name);
    if (!ds_test_check(t, ds_wp_tokenizer_load(ds_test_fixture(rel, dir, sizeof dir), &tok, &err) == DS_OK,
                       "load %s: %s", dir, err.msg))
        return;
    FILE *f = fopen(ds_test_fixture("tokenizer/added_tokens.jsonl", path, sizeof path), "r");
    ds_wp_scratch s = {0};
    ds_wp_encoding e = {0};
    char *jl = NULL;
    size_t jcap = 0, n = 0;
    while (f && getline(&jl, &jcap, f) > 0) {
        cJSON *rec = cJSON_Parse(jl);
        const cJSON *text = cJSON_GetObjectItem(rec, "text"), *pair = cJSON_GetObjectItem(rec, "pair");
        if (!ds_test_check(t, cJSON_IsString(text), "%s: bad record %zu", path, n + 1)) {
            cJSON_Delete(rec);
            break;
        }
        const char *p = cJSON_IsString(pair) ? pair->valuestring : NULL;
        char why[3000] = "";
        bool ok = ds_wp_encode(&tok, text->valuestring, strlen(text->valuestring), p, p ? strlen(p) : 0, NULL, &s, &e,
                               &err) == DS_OK;
        ok = ok && same_as_record(&e, rec, p != NULL, why, sizeof why);
        char esc[1024];
        ds_test_check(t, ok, "added tokens \"%s\": %s%s",
                      escaped(text->valuestring, strlen(text->valuestring), esc, sizeof esc), err.msg, why);
        ds_err_clear(&err);
        cJSON_Delete(rec);
        n++;
    }
    ds_test_check(t, n >= 15, "%s: %zu records", path, n);
    free(jl);
    if (f) fclose(f);
    ds_wp_encoding_free(&e);
    ds_wp_scratch_free(&s);
    ds_wp_tokenizer_free(&tok);
}

// ---- unit checks on a hand-made vocabulary ---------------------------------------------------

// A model directory under the build tree holding vocab.txt (and a config when given).
static const char *make_model(const char *name, const char *vocab, const char *config, char *dir, size_t cap) {
    char path[600];
    ds_test_tmpfile(name, dir, cap);
    snprintf(path, sizeof path, "mkdir -p '%s'", dir);
    if (system(path) != 0) return dir;
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(vocab, f);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    remove(path);
    if (config) {
        f = fopen(path, "wb");
        if (f) {
            fputs(config, f);
            fclose(f);
        }
    }
    return dir;
}

// Ids of one text through tok as a comma-separated string.
static const char *encode_str(const ds_wp_tokenizer *tok, const char *text, size_t len, const char *pair,
                              const ds_wp_encode_opts *opts, ds_wp_scratch *s, ds_wp_encoding *e, char *buf,
                              size_t cap) {
    ds_err err = {0};
    if (ds_wp_encode(tok, text, len, pair, pair ? strlen(pair) : 0, opts, s, e, &err) != DS_OK) {
        snprintf(buf, cap, "error: %s", err.msg);
        return buf;
    }
    return fmt_ids(e->input_ids, e->len, buf, cap);
}

#define TEXT(s) (s), (sizeof(s) - 1)

static void check_units(ds_test *t) {
    // 0 [PAD] 1 [UNK] 2 [CLS] 3 [SEP] 4 [MASK] 5 a 6 ##a 7 b 8 ##b 9 ab 10 ##c 11 , 12 ü 13 ##ü
    // 14 un 15 ##aff 16 ##able 17 ! ; trailing "  \r" and a duplicate of "a" test the file rules.
    const char *vocab =
        "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na  \r\n##a\nb\n##b\nab\n##c\n,\n\xC3\xBC\n##\xC3\xBC\nun\n"
        "##aff\n##able\n!\na\n";
    char dir[512], buf[4096], big[512];
    ds_err err = {0};
    ds_wp_tokenizer tok;
    ds_wp_scratch s = {0};
    ds_wp_encoding e = {0};
    make_model("wp_unit", vocab, "{\"do_lower_case\": false, \"model_max_length\": 8}", dir, sizeof dir);
    if (!ds_test_check(t, ds_wp_tokenizer_load(dir, &tok, &err) == DS_OK, "unit vocab: %s", err.msg)) return;
    ds_test_check(t,
                  tok.vocab.count == 19 && tok.settings.model_max_length == 8 && !tok.settings.lowercase &&
                      !tok.settings.strip_accents && tok.mask_id == 4,
                  "unit vocab settings");
    ds_test_check(t, ds_wp_vocab_lookup(&tok.vocab, "a", 1) == 18, "a repeated token keeps its last id");
    const ds_wp_encode_opts none = {0};
    ds_test_check(t, strcmp(encode_str(&tok, TEXT(""), NULL, &none, &s, &e, buf, sizeof buf), "2,3") == 0,
                  "empty text: %s", buf);
    ds_test_check(t,
                  strcmp(encode_str(&tok, TEXT(""), "", &none, &s, &e, buf, sizeof buf), "2,3,3") == 0 &&
                      e.token_type_ids[2] == 1,
                  "empty pair: %s", buf);
    ds_test_check(t,
                  strcmp(encode_str(&tok, TEXT("unaffable, abc!"), NULL, &none, &s, &e, buf, sizeof buf),
                         "2,14,15,16,11,9,10,17,3") == 0,
                  "greedy longest match: %s", buf);
    ds_test_check(t, strcmp(encode_str(&tok, TEXT("abx b"), NULL, &none, &s, &e, buf, sizeof buf), "2,1,7,3") == 0,
                  "a word with no full match is one [UNK]: %s", buf);
    ds_test_check(
        t, strcmp(encode_str(&tok, TEXT("a\0b\xEF\xBF\xBD"), NULL, &none, &s, &e, buf, sizeof buf), "2,9,3") == 0,
        "NUL and U+FFFD dropped inside a word: %s", buf);
    ds_test_check(
        t, strcmp(encode_str(&tok, TEXT("a[MASK]b [SEP]"), NULL, &none, &s, &e, buf, sizeof buf), "2,18,4,7,3,3") == 0,
        "special tokens in the text: %s", buf);
    // 100 characters pass, 101 become [UNK]; counted in characters (ü is two bytes).
    memset(big, 'a', 101);
    ds_test_check(t,
                  encode_str(&tok, big, 100, NULL, &none, &s, &e, buf, sizeof buf) && e.len == 102 &&
                      e.input_ids[1] == 18 && e.input_ids[100] == 6,
                  "100-character word");
    ds_test_check(t, strcmp(encode_str(&tok, big, 101, NULL, &none, &s, &e, buf, sizeof buf), "2,1,3") == 0,
                  "101-character word: %s", buf);
    for (int i = 0; i < 101; i++) memcpy(big + 2 * i, "\xC3\xBC", 2);
    ds_test_check(
        t, encode_str(&tok, big, 200, NULL, &none, &s, &e, buf, sizeof buf) && e.len == 102 && e.input_ids[1] == 12,
        "100 two-byte characters: %s", buf);
    ds_test_check(t, strcmp(encode_str(&tok, big, 202, NULL, &none, &s, &e, buf, sizeof buf), "2,1,3") == 0,
                  "101 two-byte characters: %s", buf);

    // Truncation "longest_first" (budget = max_length - 3 for a pair): tokenizers gives each
    // side half and the odd token to the longer side, to the second on a tie.
    const char *seven_a = "a a a a a a a", *seven_b = "b b b b b b b", *eight_a = "a a a a a a a a", *two_a = "a a";
    struct {
        const char *text, *pair;
        size_t max_length;
        const char *want;
    } cases[] = {
        {seven_a, seven_b, 11, "2,18,18,18,18,3,7,7,7,7,3"},
        {seven_a, seven_b, 12, "2,18,18,18,18,3,7,7,7,7,7,3"},
        {eight_a, seven_b, 12, "2,18,18,18,18,18,3,7,7,7,7,3"},
        {two_a, seven_b, 11, "2,18,18,3,7,7,7,7,7,7,3"},
        {seven_a, two_a, 8, "2,18,18,18,3,18,18,3"},
        {seven_a, NULL, 4, "2,18,18,3"},
        {seven_a, NULL, 2, "2,3"},
        {two_a, seven_b, 3, "2,3,3"},
        {two_a, "b", 40, "2,18,18,3,7,3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ds_wp_encode_opts o = {.max_length = cases[i].max_length, .truncate = true};
        encode_str(&tok, cases[i].text, strlen(cases[i].text), cases[i].pair, &o, &s, &e, buf, sizeof buf);
        ds_test_check(t, strcmp(buf, cases[i].want) == 0, "truncate '%s' / '%s' to %zu: got %s, want %s", cases[i].text,
                      cases[i].pair ? cases[i].pair : "-", cases[i].max_length, buf, cases[i].want);
    }
    const ds_wp_encode_opts too_short = {.max_length = 2, .truncate = true};
    ds_test_check(t,
                  ds_wp_encode(&tok, TEXT("a"), "b", 1, &too_short, &s, &e, &err) == DS_ERR_INVALID_ARG &&
                      strstr(err.msg, "max_length 2") != NULL,
                  "max_length below the special tokens: %s", err.msg);
    ds_err_clear(&err);

    // Padding: [PAD] ids, type 0, mask 0; a longer text is left whole without truncation.
    const ds_wp_encode_opts pad = {.max_length = 8, .pad = true};
    encode_str(&tok, TEXT("a"), "b", &pad, &s, &e, buf, sizeof buf);
    ds_test_check(t,
                  strcmp(buf, "2,18,3,7,3,0,0,0") == 0 && e.attention_mask[4] == 1 && e.attention_mask[5] == 0 &&
                      e.token_type_ids[4] == 1 && e.token_type_ids[5] == 0,
                  "pad to 8: %s", buf);
    encode_str(&tok, seven_a, strlen(seven_a), NULL, &pad, &s, &e, buf, sizeof buf);
    ds_test_check(t, e.len == 9, "pad without truncation leaves a longer text whole: %s", buf);
    const ds_wp_encode_opts both = {.max_length = 8, .pad = true, .truncate = true};
    encode_str(&tok, seven_a, strlen(seven_a), NULL, &both, &s, &e, buf, sizeof buf);
    ds_test_check(t, e.len == 8 && e.attention_mask[7] == 1, "truncate and pad: %s", buf);

    // Invalid UTF-8 is an error naming the byte.
    const struct {
        const char *bytes;
        size_t len, offset;
    } bad[] = {{"ab\xFF", 3, 2}, {"\xC0\x80", 2, 0}, {"x \xED\xA0\x80", 5, 2}, {"\xE2\x82", 2, 0}, {"[SEP]\x80", 6, 5}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "byte %zu", bad[i].offset);
        ds_err_clear(&err);
        const ds_status st = ds_wp_encode(&tok, bad[i].bytes, bad[i].len, NULL, 0, &none, &s, &e, &err);
        ds_test_check(t, st == DS_ERR_INVALID_ARG && strstr(err.msg, want) != NULL, "invalid UTF-8 case %zu: %s", i,
                      err.msg);
    }
    ds_err_clear(&err);
    ds_wp_tokenizer_free(&tok);

    // Settings given directly, no tokenizer_config.json: lowercase + accents stripped.
    char vpath[600];
    snprintf(vpath, sizeof vpath, "%s/vocab.txt", dir);
    const ds_wp_settings lower = {.lowercase = true, .strip_accents = true, .chinese_chars = true};
    ds_test_check(t, ds_wp_tokenizer_load_vocab(vpath, &lower, &tok, &err) == DS_OK, "load_vocab: %s", err.msg);
    ds_test_check(t,
                  strcmp(encode_str(&tok,
                                    TEXT("\xC3\x80"
                                         "B, A\xCC\x81"),
                                    NULL, &none, &s, &e, buf, sizeof buf),
                         "2,9,11,18,3") == 0,
                  "lowercase and strip accents: %s", buf);
    ds_wp_tokenizer_free(&tok);

    ds_wp_encoding_free(&e);
    ds_wp_scratch_free(&s);
}

// Loading errors: each names the file and what is wrong.
static void check_errors(ds_test *t) {
    char dir[512];
    ds_wp_tokenizer tok;
    ds_err err = {0};
    const char *ok_vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n";
    const struct {
        const char *name, *vocab, *config;
        ds_status status;
        const char *needle;
    } cases[] = {
        {"wp_no_sep", "[PAD]\n[UNK]\n[CLS]\na\n", NULL, DS_ERR_FORMAT, "sep_token \"[SEP]\""},
        {"wp_no_unk", "[PAD]\n[CLS]\n[SEP]\n", NULL, DS_ERR_FORMAT, "unk_token"},
        {"wp_renamed_pad", ok_vocab, "{\"pad_token\": \"<pad>\"}", DS_ERR_FORMAT, "pad_token \"<pad>\""},
        {"wp_bad_json", ok_vocab, "{\n\"do_lower_case\": true,\n oops }", DS_ERR_FORMAT, "tokenizer_config.json:3"},
        {"wp_bad_type", ok_vocab, "{\"do_lower_case\": \"yes\"}", DS_ERR_FORMAT, "do_lower_case"},
        {"wp_bad_len", ok_vocab, "{\"model_max_length\": \"long\"}", DS_ERR_FORMAT, "model_max_length"},
        {"wp_bad_utf8", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xFF\n", NULL, DS_ERR_FORMAT, "vocab.txt:5"},
        {"wp_empty", "", NULL, DS_ERR_FORMAT, "empty"},
        {"wp_normalized", ok_vocab,
         "{\"added_tokens_decoder\": {\"4\": {\"content\": \"a\", \"normalized\": true, \"special\": false}}}",
         DS_ERR_UNSUPPORTED, "normalized"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make_model(cases[i].name, cases[i].vocab, cases[i].config, dir, sizeof dir);
        ds_err_clear(&err);
        const ds_status s = ds_wp_tokenizer_load(dir, &tok, &err);
        ds_test_check(t, s == cases[i].status && strstr(err.msg, cases[i].needle) != NULL,
                      "%s: status %s, message '%s' (want %s, '%s')", cases[i].name, ds_status_name(s), err.msg,
                      ds_status_name(cases[i].status), cases[i].needle);
        if (s == DS_OK) ds_wp_tokenizer_free(&tok);
    }
    ds_err_clear(&err);
    ds_test_check(t,
                  ds_wp_tokenizer_load("/nonexistent/model", &tok, &err) == DS_ERR_IO &&
                      strstr(err.msg, "/nonexistent/model/vocab.txt") != NULL,
                  "missing vocab.txt: %s", err.msg);
    // No [MASK] in the vocabulary: transformers appends it, so its id is the vocabulary size.
    make_model("wp_no_mask", ok_vocab, NULL, dir, sizeof dir);
    ds_err_clear(&err);
    ds_test_check(t, ds_wp_tokenizer_load(dir, &tok, &err) == DS_OK && tok.mask_id == 5, "missing mask: %s", err.msg);
    ds_wp_tokenizer_free(&tok);
}

// Random input: random bytes must give ids or an invalid-UTF-8 error, random code points from
// every plane must give ids; every id inside the vocabulary. Mostly for the sanitizer build.
static void check_random_input(ds_test *t) {
    char dir[512];
    ds_wp_tokenizer tok;
    ds_err err = {0};
    if (!ds_test_check(t,
                       ds_wp_tokenizer_load(ds_test_fixture("tokenizer/uncased", dir, sizeof dir), &tok, &err) == DS_OK,
                       "load: %s", err.msg))
        return;
    ds_wp_scratch s = {0};
    ds_wp_encoding e = {0};
    uint64_t state = 12345;  // a fixed LCG: the same inputs every run
    char text[1024];
    int failures = 0;
    for (int round = 0; round < 4000; round++) {
        size_t len = 0;
        const size_t target = (size_t)(round % 300);
        while (len + 4 < target) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            const uint32_t r = (uint32_t)(state >> 33);
            if (round % 2 == 0) {
                text[len++] = (char)(r & 0xFF);  // raw bytes, valid or not
            } else {
                uint32_t cp = r % 0x110000;  // a code point from any plane, or ASCII half the time
                if (r & 0x80000000u) cp = 0x20 + r % 0x60;
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
                len += (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)text + len);
            }
        }
        ds_err_clear(&err);
        const ds_status st = ds_wp_encode(&tok, text, len, round % 3 ? NULL : "pair", 4, NULL, &s, &e, &err);
        bool ok = st == DS_OK || (round % 2 == 0 && st == DS_ERR_INVALID_ARG);
        for (size_t i = 0; st == DS_OK && i < e.len; i++)
            ok = ok && e.input_ids[i] >= 0 && e.input_ids[i] < tok.vocab.count;
        if (!ok && failures++ < MAX_REPORTED) ds_test_check(t, false, "random input %d: %s", round, err.msg);
    }
    ds_test_check(t, failures == 0, "%d random inputs failed", failures);
    ds_wp_encoding_free(&e);
    ds_wp_scratch_free(&s);
    ds_wp_tokenizer_free(&tok);
}

// Throughput of the uncased tokenizer over the corpus, on one core.
static void check_speed(ds_test *t, const corpus *c) {
    char dir[512];
    ds_wp_tokenizer tok;
    ds_err err = {0};
    if (ds_wp_tokenizer_load(ds_test_fixture("tokenizer/uncased", dir, sizeof dir), &tok, &err) != DS_OK) return;
    ds_wp_scratch s = {0};
    ds_wp_encoding e = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t bytes = 0;
    double secs = 0;
    while (secs < 0.3) {
        for (size_t i = 0; i < c->count; i++) {
            ds_wp_encode(&tok, c->lines[i], c->lens[i], NULL, 0, NULL, &s, &e, &err);
            bytes += c->lens[i];
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    }
    const double mbps = (double)bytes / secs / 1e6;
    printf("speed: %.1f MB/s of text (uncased, one core)\n", mbps);
    // The target is 1 MB/s; a machine loaded by parallel builds may be several times slower, so
    // only a rate 10x below target (a quadratic slip, say) fails.
    ds_test_check(t, mbps > 0.1, "tokenizer throughput %.2f MB/s", mbps);
    ds_wp_encoding_free(&e);
    ds_wp_scratch_free(&s);
    ds_wp_tokenizer_free(&tok);
}

int main(void) {
    ds_test t = ds_test_begin("wordpiece");
    corpus c;
    if (!load_corpus(&t, "tokenizer/corpus.txt", &c)) return ds_test_finish(&t);
    ds_test_check(&t, c.count >= 2000, "corpus has %zu lines", c.count);
    const char *names[] = {"uncased", "cased", "uncased_keep_accents"};
    for (int i = 0; i < 3; i++) {
        check_corpus(&t, &c, names[i], false);
        check_corpus(&t, &c, names[i], true);
        // The same tokenizers as transformers 5 saves them: tokenizer.json + tokenizer_config.json.
        char tf5[64];
        snprintf(tf5, sizeof tf5, "%s_tf5", names[i]);
        check_corpus_dir(&t, &c, tf5, names[i], false);
        check_corpus_dir(&t, &c, tf5, names[i], true);
    }
    // tokenizer.json alone: its normalizer, pre-tokenizer, template and model rule.
    check_corpus_dir(&t, &c, "uncased_json_only", "uncased", false);
    check_corpus_dir(&t, &c, "uncased_json_only", "uncased", true);
    check_padded_batch(&t, &c);
    check_added_tokens(&t, "added_tokens");
    check_added_tokens(&t, "added_tokens_tf5");
    check_units(&t);
    check_errors(&t);
    check_random_input(&t);
    check_speed(&t, &c);
    free_corpus(&c);
    return ds_test_finish(&t);
}
