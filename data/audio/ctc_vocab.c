// The recipe's transcript normalisation and create_vocabulary_from_data, and the tokenizer files
// written from them (see ctc_vocab.h).
#include "ctc_vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "../../runtime/base/check.h"
#include "json_file.h"

ds_ctc_text_norm ds_ctc_text_norm_recipe(const ds_char_class *ignore) {
    return (ds_ctc_text_norm){.ignore = ignore, .lowercase = true, .append_space = true};
}

ds_ctc_text_norm ds_ctc_text_norm_none(void) { return (ds_ctc_text_norm){0}; }

ds_ctc_vocab_spec ds_ctc_vocab_spec_recipe(void) {
    return (ds_ctc_vocab_spec){.word_delimiter_token = "|", .unk_token = "[UNK]", .pad_token = "[PAD]",
                               .bos_token = "<s>", .eos_token = "</s>", .do_lower_case = false};
}

ds_status ds_ctc_normalize_text(const ds_ctc_text_norm *n, const char *text, size_t len, const char *what,
                                ds_str *out, ds_err *err) {
    ds_cps cps = {0}, kept = {0}, low = {0};
    ds_status s = ds_utf8_to_cps(text, len, what, &cps, err);
    for (size_t i = 0; i < cps.n && s == DS_OK; i++)
        if (n->ignore == NULL || !ds_char_class_match(n->ignore, cps.v[i])) s = ds_cps_push(&kept, cps.v[i], err);
    const ds_cps *src = &kept;
    if (s == DS_OK && n->lowercase) {
        s = ds_py_lower(kept.v, kept.n, &low, err);
        src = &low;
    }
    if (s == DS_OK) {
        ds_str_clear(out);
        s = ds_cps_append_utf8(src->v, src->n, out, err);
    }
    if (s == DS_OK && n->append_space) s = ds_str_append(out, " ", 1, err);
    ds_cps_free(&cps);
    ds_cps_free(&kept);
    ds_cps_free(&low);
    return s;
}

static ds_status add_char(ds_ctc_vocab_builder *b, int32_t cp, ds_err *err) {
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (b->chars[mid] < cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo < b->n && b->chars[lo] == cp) return DS_OK;
    if (b->n == b->cap) {
        const size_t cap = b->cap ? b->cap * 2 : 64;
        int32_t *v = realloc(b->chars, cap * sizeof *v);
        if (v == NULL) return ds_err_set(err, DS_ERR_OOM, "vocabulary: out of memory");
        b->chars = v;
        b->cap = cap;
    }
    memmove(b->chars + lo + 1, b->chars + lo, (b->n - lo) * sizeof *b->chars);
    b->chars[lo] = cp;
    b->n++;
    return DS_OK;
}

ds_status ds_ctc_vocab_builder_add(ds_ctc_vocab_builder *b, const char *text, size_t len, const char *what,
                                   ds_err *err) {
    ds_cps cps = {0};
    ds_status s = ds_utf8_to_cps(text, len, what, &cps, err);
    for (size_t i = 0; i < cps.n && s == DS_OK; i++) s = add_char(b, cps.v[i], err);
    ds_cps_free(&cps);
    if (s == DS_OK && ++b->texts == 2) s = add_char(b, ' ', err);  // the " ".join between transcripts
    return s;
}

void ds_ctc_vocab_builder_free(ds_ctc_vocab_builder *b) {
    free(b->chars);
    *b = (ds_ctc_vocab_builder){0};
}

ds_status ds_json_append_string(ds_str *out, const char *s, ds_err *err) {
    ds_cps cps = {0};
    ds_status st = ds_utf8_to_cps(s, strlen(s), "JSON string", &cps, err);
    if (st == DS_OK) st = ds_str_append(out, "\"", 1, err);
    for (size_t i = 0; i < cps.n && st == DS_OK; i++) {
        const int32_t c = cps.v[i];
        char buf[16];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: break;
        }
        if (esc == NULL && c >= 0x20 && c < 0x7F) {
            buf[0] = (char)c;
            buf[1] = '\0';
            esc = buf;
        } else if (esc == NULL && c < 0x10000) {
            snprintf(buf, sizeof buf, "\\u%04x", (unsigned)c);
            esc = buf;
        } else if (esc == NULL) {  // a surrogate pair, as json.dumps writes it
            const unsigned v = (unsigned)c - 0x10000;
            snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
            esc = buf;
        }
        st = ds_str_append(out, esc, strlen(esc), err);
    }
    if (st == DS_OK) st = ds_str_append(out, "\"", 1, err);
    ds_cps_free(&cps);
    return st;
}

// The recipe's vocab_dict as an insertion-ordered list of (key, id).
typedef struct entry {
    char key[64];  // one character, or a special token (checked to fit)
    int32_t id;
} entry;

static ds_status set_key(entry *e, const char *key, int32_t id, ds_err *err) {
    DS_REQUIRE(err, strlen(key) < sizeof e->key, DS_ERR_INVALID_ARG, "vocabulary: token \"%s\" is too long", key);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->id = id;
    return DS_OK;
}

static ssize_t find(const entry *v, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0) return (ssize_t)i;
    return -1;
}

// vocab_dict[key] = id: replaces the value in place, or appends.
static ds_status dict_set(entry *v, size_t *n, const char *key, int32_t id, ds_err *err) {
    const ssize_t at = find(v, *n, key);
    if (at >= 0) {
        v[at].id = id;
        return DS_OK;
    }
    return set_key(&v[(*n)++], key, id, err);
}

ds_status ds_ctc_vocab_json(const ds_ctc_vocab_builder *b, const ds_ctc_vocab_spec *spec, ds_str *out, ds_err *err) {
    entry *v = calloc(b->n + 4, sizeof *v);
    if (v == NULL) return ds_err_set(err, DS_ERR_OOM, "vocabulary: out of memory");
    size_t n = 0;
    ds_status s = DS_OK;
    for (size_t i = 0; i < b->n && s == DS_OK; i++) {
        ds_str ch = {0};
        s = ds_str_append_cp(&ch, b->chars[i], err);
        if (s == DS_OK) s = set_key(&v[n++], ch.v, (int32_t)i, err);
        ds_str_free(&ch);
    }
    if (s == DS_OK && spec->word_delimiter_token) {
        const ssize_t space = find(v, n, " ");
        if (space < 0) {
            s = ds_err_set(err, DS_ERR_INVALID_ARG,
                           "vocabulary: the transcripts hold no space, so the word delimiter \"%s\" has no id (the "
                           "recipe fails with KeyError: ' ')",
                           spec->word_delimiter_token);
        } else {
            s = dict_set(v, &n, spec->word_delimiter_token, v[space].id, err);
            const ssize_t sp = find(v, n, " ");  // del vocab_dict[" "]
            memmove(v + sp, v + sp + 1, (n - (size_t)sp - 1) * sizeof *v);
            n--;
        }
    }
    if (s == DS_OK && spec->unk_token) s = dict_set(v, &n, spec->unk_token, (int32_t)n, err);
    if (s == DS_OK && spec->pad_token) s = dict_set(v, &n, spec->pad_token, (int32_t)n, err);
    ds_str_clear(out);
    if (s == DS_OK) s = ds_str_append(out, "{", 1, err);
    for (size_t i = 0; i < n && s == DS_OK; i++) {
        char num[32];
        snprintf(num, sizeof num, ": %d", v[i].id);
        if (i) s = ds_str_append(out, ", ", 2, err);
        if (s == DS_OK) s = ds_json_append_string(out, v[i].key, err);
        if (s == DS_OK) s = ds_str_append(out, num, strlen(num), err);
    }
    if (s == DS_OK) s = ds_str_append(out, "}", 1, err);
    free(v);
    return s;
}

static ds_status append_token_field(ds_str *out, const char *key, const char *value, ds_err *err) {
    DS_TRY(ds_str_append(out, "  \"", 3, err));
    DS_TRY(ds_str_append(out, key, strlen(key), err));
    DS_TRY(ds_str_append(out, "\": ", 3, err));
    if (value == NULL) DS_TRY(ds_str_append(out, "null", 4, err));
    else DS_TRY(ds_json_append_string(out, value, err));
    return ds_str_append(out, ",\n", 2, err);
}

ds_status ds_ctc_tokenizer_config_json(const ds_ctc_vocab_spec *spec, ds_str *out, ds_err *err) {
    ds_str_clear(out);
    DS_TRY(ds_str_append(out, "{\n", 2, err));
    DS_TRY(append_token_field(out, "tokenizer_class", "Wav2Vec2CTCTokenizer", err));
    DS_TRY(append_token_field(out, "bos_token", spec->bos_token, err));
    DS_TRY(append_token_field(out, "eos_token", spec->eos_token, err));
    DS_TRY(append_token_field(out, "unk_token", spec->unk_token, err));
    DS_TRY(append_token_field(out, "pad_token", spec->pad_token, err));
    DS_TRY(append_token_field(out, "word_delimiter_token", spec->word_delimiter_token, err));
    DS_TRY(append_token_field(out, "replace_word_delimiter_char", " ", err));
    const char *tail = spec->do_lower_case ? "  \"do_lower_case\": true\n}\n" : "  \"do_lower_case\": false\n}\n";
    return ds_str_append(out, tail, strlen(tail), err);
}

ds_status ds_ctc_vocab_write(const char *dir, const ds_ctc_vocab_builder *b, const ds_ctc_vocab_spec *spec,
                             ds_err *err) {
    ds_str text = {0};
    ds_status s = ds_ctc_vocab_json(b, spec, &text, err);
    if (s == DS_OK) s = ds_text_file_write(dir, "vocab.json", text.v, text.n, err);
    if (s == DS_OK) s = ds_ctc_tokenizer_config_json(spec, &text, err);
    if (s == DS_OK) s = ds_text_file_write(dir, "tokenizer_config.json", text.v, text.n, err);
    ds_str_free(&text);
    return s;
}
