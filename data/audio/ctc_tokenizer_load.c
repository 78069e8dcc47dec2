// Loading a Wav2Vec2CTCTokenizer: the vocabulary, the settings and the added tokens, built in the
// order transformers 5.24 builds them (see ctc_tokenizer.h, "Vocabulary").
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "../../runtime/base/check.h"
#include "ctc_tokenizer.h"
#include "ctc_tokenizer_internal.h"
#include "json_file.h"

// The named special tokens in SPECIAL_TOKENS_ATTRIBUTES order, with Wav2Vec2CTCTokenizer's defaults.
enum { NAMED_BOS, NAMED_EOS, NAMED_UNK, NAMED_SEP, NAMED_PAD, NAMED_CLS, NAMED_MASK, NAMED_COUNT };
static const char *const k_named_keys[NAMED_COUNT] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                                      "pad_token", "cls_token", "mask_token"};
static const char *const k_named_defaults[NAMED_COUNT] = {"<s>", "</s>", "<unk>", NULL, "<pad>", NULL, NULL};

// The settings as the files resolve them; strings point into the parsed JSON or the defaults.
typedef struct settings {
    const char *named[NAMED_COUNT];
    const char *word_delimiter;  // the model-specific special token
    const char *replace_char;
    bool do_lower_case, clean_up;
    const cJSON *added_decoder;  // tokenizer_config.json's added_tokens_decoder, or NULL
    const cJSON *extra;          // extra_special_tokens / additional_special_tokens list, or NULL
} settings;

// An added token while building: the decoder (id -> token) and the encoder (content -> id) are
// kept apart because transformers updates them separately.
typedef struct dec_entry {
    int32_t id;
    size_t enc;  // index of its content in the encoder list
    bool lstrip, rstrip;
} dec_entry;

typedef struct builder {
    ds_ctc_tokenizer *tok;
    ds_ctc_vocab_entry *file_order;  // (tok->vocab_count) vocab.json entries in file order (not owned)
    char **enc_content;              // (enc_n) owned until moved into tok->added
    int32_t *enc_id;
    size_t enc_n, enc_cap;
    dec_entry *dec;
    size_t dec_n, dec_cap;
} builder;

void ds_ctc_ids_free(ds_ctc_ids *ids) {
    free(ids->v);
    *ids = (ds_ctc_ids){0};
}

static int by_token(const void *a, const void *b) {
    return strcmp(((const ds_ctc_vocab_entry *)a)->token, ((const ds_ctc_vocab_entry *)b)->token);
}

int32_t ds_ctc_vocab_lookup(const ds_ctc_tokenizer *tok, const char *token) {
    const ds_ctc_vocab_entry key = {.token = (char *)token};
    const ds_ctc_vocab_entry *e = bsearch(&key, tok->vocab, tok->vocab_count, sizeof key, by_token);
    return e ? e->id : -1;
}

int32_t ds_ctc_added_lookup(const ds_ctc_tokenizer *tok, const char *token) {
    for (size_t i = 0; i < tok->added_count; i++)
        if (strcmp(tok->added[i].content, token) == 0) return tok->added[i].id;
    return -1;
}

int32_t ds_ctc_token_id(const ds_ctc_tokenizer *tok, const char *token) {
    const int32_t id = ds_ctc_added_lookup(tok, token);
    return id >= 0 ? id : ds_ctc_vocab_lookup(tok, token);
}

// ---- reading the JSON ------------------------------------------------------------------------

// A token setting: a string, an AddedToken object {"content": ...}, or null (*out = NULL).
static ds_status token_value(const cJSON *v, const char *file, const char *key, const char **out, ds_err *err) {
    if (cJSON_IsNull(v)) {
        *out = NULL;
        return DS_OK;
    }
    if (cJSON_IsString(v)) {
        *out = v->valuestring;
        return DS_OK;
    }
    const cJSON *c = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "content") : NULL;
    DS_REQUIRE(err, cJSON_IsString(c), DS_ERR_FORMAT,
               "%s: \"%s\" must be a string, null or an object with \"content\"", file, key);
    *out = c->valuestring;
    return DS_OK;
}

static ds_status get_bool(const cJSON *root, const char *file, const char *key, bool *out, ds_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (v == NULL || cJSON_IsNull(v)) return DS_OK;
    DS_REQUIRE(err, cJSON_IsBool(v), DS_ERR_FORMAT, "%s: \"%s\" must be true or false", file, key);
    *out = cJSON_IsTrue(v);
    return DS_OK;
}

// The special-token keys of one file (tokenizer_config.json, or special_tokens_map.json over it).
static ds_status read_special_keys(const cJSON *root, const char *file, settings *s, ds_err *err) {
    for (int i = 0; i < NAMED_COUNT; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k_named_keys[i]);
        if (v) DS_TRY(token_value(v, file, k_named_keys[i], &s->named[i], err));
    }
    const cJSON *wd = cJSON_GetObjectItemCaseSensitive(root, "word_delimiter_token");
    if (wd) DS_TRY(token_value(wd, file, "word_delimiter_token", &s->word_delimiter, err));
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(root, "model_specific_special_tokens");
    if (ms && !cJSON_IsNull(ms)) {
        DS_REQUIRE(err, cJSON_IsObject(ms), DS_ERR_FORMAT, "%s: \"model_specific_special_tokens\" must be an object",
                   file);
        for (const cJSON *e = ms->child; e; e = e->next) {
            DS_REQUIRE(err, strcmp(e->string, "word_delimiter_token") == 0, DS_ERR_UNSUPPORTED,
                       "%s: model-specific special token \"%s\" is not supported (only word_delimiter_token)", file,
                       e->string);
            DS_TRY(token_value(e, file, e->string, &s->word_delimiter, err));
        }
    }
    // additional_special_tokens is transformers 4's name of extra_special_tokens.
    static const char *const k_extra_keys[2] = {"extra_special_tokens", "additional_special_tokens"};
    for (int k = 0; k < 2; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k_extra_keys[k]);
        if (v == NULL || cJSON_IsNull(v)) continue;
        DS_REQUIRE(err, cJSON_IsArray(v), DS_ERR_FORMAT, "%s: \"%s\" must be a list", file, k_extra_keys[k]);
        if (s->extra == NULL || cJSON_GetArraySize(s->extra) == 0) s->extra = v;
    }
    return DS_OK;
}

static ds_status read_settings(const ds_ctc_tokenizer_json *f, settings *s, ds_err *err) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < NAMED_COUNT; i++) s->named[i] = k_named_defaults[i];
    s->word_delimiter = "|";
    s->replace_char = " ";
    const cJSON *cfg = f->config;
    if (cfg) {
        DS_REQUIRE(err, cJSON_IsObject(cfg), DS_ERR_FORMAT, "%s: expected a JSON object", f->config_name);
        DS_TRY(read_special_keys(cfg, f->config_name, s, err));
        DS_TRY(get_bool(cfg, f->config_name, "do_lower_case", &s->do_lower_case, err));
        DS_TRY(get_bool(cfg, f->config_name, "clean_up_tokenization_spaces", &s->clean_up, err));
        const cJSON *rc = cJSON_GetObjectItemCaseSensitive(cfg, "replace_word_delimiter_char");
        if (rc && !cJSON_IsNull(rc)) {
            DS_REQUIRE(err, cJSON_IsString(rc), DS_ERR_FORMAT, "%s: \"replace_word_delimiter_char\" must be a string",
                       f->config_name);
            s->replace_char = rc->valuestring;
        }
        const cJSON *tl = cJSON_GetObjectItemCaseSensitive(cfg, "target_lang");
        DS_REQUIRE(err, tl == NULL || cJSON_IsNull(tl), DS_ERR_UNSUPPORTED,
                   "%s: \"target_lang\" (a multi-language vocabulary) is not supported", f->config_name);
        const cJSON *ss = cJSON_GetObjectItemCaseSensitive(cfg, "split_special_tokens");
        DS_REQUIRE(err, ss == NULL || cJSON_IsNull(ss) || cJSON_IsFalse(ss), DS_ERR_UNSUPPORTED,
                   "%s: \"split_special_tokens\": true is not supported", f->config_name);
        const cJSON *ad = cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder");
        if (ad && !cJSON_IsNull(ad)) {
            DS_REQUIRE(err, cJSON_IsObject(ad), DS_ERR_FORMAT, "%s: \"added_tokens_decoder\" must be an object",
                       f->config_name);
            s->added_decoder = ad;
        }
    }
    // The legacy special_tokens_map.json counts only without added_tokens_decoder (transformers 5).
    if (f->special_tokens_map && s->added_decoder == NULL) {
        DS_REQUIRE(err, cJSON_IsObject(f->special_tokens_map), DS_ERR_FORMAT, "%s: expected a JSON object",
                   f->special_tokens_map_name);
        DS_TRY(read_special_keys(f->special_tokens_map, f->special_tokens_map_name, s, err));
    }
    return DS_OK;
}

// vocab.json: {token: id}. Entries are kept in file order in *file_order and sorted in tok->vocab.
static ds_status read_vocab(const cJSON *v, const char *file, ds_ctc_tokenizer *tok, ds_ctc_vocab_entry **file_order,
                            ds_err *err) {
    DS_REQUIRE(err, cJSON_IsObject(v), DS_ERR_FORMAT, "%s: expected a JSON object {token: id}", file);
    const int n = cJSON_GetArraySize(v);
    DS_REQUIRE(err, n > 0, DS_ERR_FORMAT, "%s: the vocabulary is empty", file);
    tok->vocab = calloc((size_t)n, sizeof *tok->vocab);
    *file_order = calloc((size_t)n, sizeof **file_order);
    if (tok->vocab == NULL || *file_order == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", file);
    for (const cJSON *e = v->child; e; e = e->next) {
        DS_REQUIRE(err, !cJSON_IsObject(e), DS_ERR_UNSUPPORTED,
                   "%s: \"%s\" holds a nested vocabulary (a multi-language tokenizer with target_lang): not supported",
                   file, e->string);
        DS_REQUIRE(err, cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < 2147483647.0 &&
                            e->valuedouble == (double)(int32_t)e->valuedouble,
                   DS_ERR_FORMAT, "%s: the id of \"%s\" must be a non-negative integer", file, e->string);
        // A key listed twice: json.load keeps the last value, at the first key's position.
        size_t at = tok->vocab_count;
        for (size_t i = 0; i < tok->vocab_count; i++)
            if (strcmp((*file_order)[i].token, e->string) == 0) at = i;
        if (at == tok->vocab_count) {
            char *copy = strdup(e->string);
            if (copy == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", file);
            (*file_order)[at].token = copy;
            tok->vocab_count++;
        }
        (*file_order)[at].id = (int32_t)e->valuedouble;
    }
    memcpy(tok->vocab, *file_order, tok->vocab_count * sizeof *tok->vocab);
    qsort(tok->vocab, tok->vocab_count, sizeof *tok->vocab, by_token);
    return DS_OK;
}

// ---- building the added tokens ---------------------------------------------------------------

static ds_status grow(void **p, size_t *cap, size_t need, size_t elem, ds_err *err) {
    if (need <= *cap) return DS_OK;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (q == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory for added tokens");
    *p = q;
    *cap = c;
    return DS_OK;
}

static ssize_t enc_find(const builder *b, const char *content) {
    for (size_t i = 0; i < b->enc_n; i++)
        if (strcmp(b->enc_content[i], content) == 0) return (ssize_t)i;
    return -1;
}

// get_vocab()[content]: dict(encoder) updated with the added encoder, so an added id wins.
static int32_t current_id(const builder *b, const char *content) {
    const ssize_t e = enc_find(b, content);
    return e >= 0 ? b->enc_id[e] : ds_ctc_vocab_lookup(b->tok, content);
}

// len(get_vocab()): the distinct strings of vocab.json and the added encoder.
static size_t current_count(const builder *b) {
    size_t n = b->tok->vocab_count;
    for (size_t i = 0; i < b->enc_n; i++) n += ds_ctc_vocab_lookup(b->tok, b->enc_content[i]) < 0;
    return n;
}

// _added_tokens_decoder[id] = token; _added_tokens_encoder[content] = id.
static ds_status put_added(builder *b, const char *content, int32_t id, bool lstrip, bool rstrip, ds_err *err) {
    ssize_t e = enc_find(b, content);
    if (e < 0) {
        DS_TRY(grow((void **)&b->enc_content, &b->enc_cap, b->enc_n + 1, sizeof *b->enc_content, err));
        size_t cap = b->enc_cap;  // both arrays share one capacity
        int32_t *ids = realloc(b->enc_id, cap * sizeof *ids);
        if (ids == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory for added tokens");
        b->enc_id = ids;
        char *copy = strdup(content);
        if (copy == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory for added tokens");
        e = (ssize_t)b->enc_n++;
        b->enc_content[e] = copy;
    }
    b->enc_id[e] = id;
    size_t d = 0;
    while (d < b->dec_n && b->dec[d].id != id) d++;
    if (d == b->dec_n) {
        DS_TRY(grow((void **)&b->dec, &b->dec_cap, b->dec_n + 1, sizeof *b->dec, err));
        b->dec_n++;
    }
    b->dec[d] = (dec_entry){.id = id, .enc = (size_t)e, .lstrip = lstrip, .rstrip = rstrip};
    return DS_OK;
}

static bool flag(const cJSON *obj, const char *key) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key)); }

// Step 2: the added tokens the files list.
static ds_status added_from_files(builder *b, const ds_ctc_tokenizer_json *f, const settings *s, ds_err *err) {
    if (s->added_decoder) {
        for (const cJSON *e = s->added_decoder->child; e; e = e->next) {
            char *end = NULL;
            const long id = strtol(e->string, &end, 10);
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
            DS_REQUIRE(err, end != e->string && *end == '\0' && id >= 0 && id < 2147483647L && cJSON_IsString(c),
                       DS_ERR_FORMAT, "%s: added_tokens_decoder entry \"%s\" needs an integer id and a \"content\"",
                       f->config_name, e->string);
            DS_REQUIRE(err, !flag(e, "single_word"), DS_ERR_UNSUPPORTED,
                       "%s: added token \"%s\" has single_word set: not supported", f->config_name, c->valuestring);
            DS_TRY(put_added(b, c->valuestring, (int32_t)id, flag(e, "lstrip"), flag(e, "rstrip"), err));
        }
        return DS_OK;
    }
    if (f->added_tokens) {  // legacy added_tokens.json: {token: id}, no stripping
        DS_REQUIRE(err, cJSON_IsObject(f->added_tokens), DS_ERR_FORMAT, "%s: expected a JSON object {token: id}",
                   f->added_tokens_name);
        for (const cJSON *e = f->added_tokens->child; e; e = e->next) {
            DS_REQUIRE(err, cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < 2147483647.0, DS_ERR_FORMAT,
                       "%s: the id of \"%s\" must be a non-negative integer", f->added_tokens_name, e->string);
            DS_TRY(put_added(b, e->string, (int32_t)e->valuedouble, false, false, err));
        }
    }
    return DS_OK;
}

// all_special_tokens: the named tokens, the word delimiter, then the extra ones; unique, in order.
static ds_status special_list(const settings *s, const char *file, const char **out, size_t *n, size_t cap,
                              ds_err *err) {
    *n = 0;
    const char *cand[NAMED_COUNT + 1];
    for (int i = 0; i < NAMED_COUNT; i++) cand[i] = s->named[i];
    cand[NAMED_COUNT] = s->word_delimiter;
    const int extra = s->extra ? cJSON_GetArraySize(s->extra) : 0;
    for (int i = 0; i < NAMED_COUNT + 1 + extra; i++) {
        const char *t = NULL;
        if (i <= NAMED_COUNT) {
            t = cand[i];
        } else {
            DS_TRY(token_value(cJSON_GetArrayItem(s->extra, i - NAMED_COUNT - 1), file, "extra_special_tokens", &t, err));
        }
        if (t == NULL) continue;
        bool seen = false;
        for (size_t k = 0; k < *n; k++) seen |= strcmp(out[k], t) == 0;
        if (!seen) {
            DS_REQUIRE(err, *n < cap, DS_ERR_UNSUPPORTED, "%s: more than %zu special tokens", file, cap);
            out[(*n)++] = t;
        }
    }
    return DS_OK;
}

// Step 3: special tokens not yet added get their vocab.json id, or new ids past the vocabulary.
static ds_status add_special(builder *b, const char *const *special, size_t n, ds_err *err) {
    const size_t new_idx = current_count(b);
    int32_t added = 0;
    for (size_t i = 0; i < n; i++) {
        if (special[i][0] == '\0' || enc_find(b, special[i]) >= 0) continue;
        int32_t id = current_id(b, special[i]);
        if (id < 0) id = (int32_t)new_idx + added++;
        DS_TRY(put_added(b, special[i], id, false, false, err));
    }
    return DS_OK;
}

// Step 4: vocab.json tokens of more than one character are never split (lstrip = rstrip = true).
static ds_status add_multichar(builder *b, ds_err *err) {
    ds_cps cps = {0};
    ds_status s = DS_OK;
    for (size_t i = 0; i < b->tok->vocab_count && s == DS_OK; i++) {
        const char *t = b->file_order[i].token;
        s = ds_utf8_to_cps(t, strlen(t), "vocab.json token", &cps, err);
        if (s == DS_OK && cps.n > 1) s = put_added(b, t, current_id(b, t), true, true, err);
    }
    ds_cps_free(&cps);
    return s;
}

// Moves the builder's tokens into tok: added (encoder view with the decoder's flags) and the
// id -> token table. `where` names the files for messages (an added token comes from
// tokenizer_config.json, special_tokens_map.json or added_tokens.json).
static ds_status finish(builder *b, const char *where, ds_err *err) {
    ds_ctc_tokenizer *tok = b->tok;
    tok->count = (int32_t)current_count(b);  // before the encoder's strings move into tok
    tok->added = calloc(b->enc_n ? b->enc_n : 1, sizeof *tok->added);
    if (tok->added == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory");
    for (size_t i = 0; i < b->enc_n; i++) {
        ds_ctc_added_token *a = &tok->added[tok->added_count++];
        a->content = b->enc_content[i];
        b->enc_content[i] = NULL;
        a->id = b->enc_id[i];
        for (size_t d = 0; d < b->dec_n; d++)
            if (b->dec[d].id == a->id) {
                a->lstrip = b->dec[d].lstrip;
                a->rstrip = b->dec[d].rstrip;
            }
        ds_cps cps = {0};
        char what[4200];
        snprintf(what, sizeof what, "%s: added token", where);
        const ds_status st = ds_utf8_to_cps(a->content, strlen(a->content), what, &cps, err);
        if (st != DS_OK) {  // invalid UTF-8 after some characters: free what was decoded
            ds_cps_free(&cps);
            return st;
        }
        a->cps = cps.v;
        a->cp_count = cps.n;
    }
    int32_t size = 0;
    for (size_t i = 0; i < tok->vocab_count; i++) size = tok->vocab[i].id + 1 > size ? tok->vocab[i].id + 1 : size;
    for (size_t d = 0; d < b->dec_n; d++) size = b->dec[d].id + 1 > size ? b->dec[d].id + 1 : size;
    tok->size = size;
    tok->id_to_token = calloc((size_t)size, sizeof *tok->id_to_token);
    if (tok->id_to_token == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory for %d ids", size);
    for (size_t d = 0; d < b->dec_n; d++) tok->id_to_token[b->dec[d].id] = tok->added[b->dec[d].enc].content;
    // vocab.json first (convert_ids_to_tokens looks there before the added tokens); for a repeated
    // id the last token of the file wins.
    for (size_t i = 0; i < tok->vocab_count; i++) tok->id_to_token[b->file_order[i].id] = b->file_order[i].token;
    return DS_OK;
}

static ds_status dup_or_null(const char *s, char **out, ds_err *err) {
    *out = NULL;
    if (s == NULL) return DS_OK;
    *out = strdup(s);
    if (*out == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory");
    return DS_OK;
}

// convert_tokens_to_ids for a special token: added id, vocab id, else the unk id (-1 for NULL).
static int32_t special_id(const ds_ctc_tokenizer *tok, const char *t) {
    if (t == NULL) return -1;
    const int32_t id = ds_ctc_token_id(tok, t);
    return id >= 0 ? id : tok->unk_id;
}

static ds_status set_specials(ds_ctc_tokenizer *tok, const settings *s, const char *file, ds_err *err) {
    DS_TRY(dup_or_null(s->named[NAMED_BOS], &tok->bos_token, err));
    DS_TRY(dup_or_null(s->named[NAMED_EOS], &tok->eos_token, err));
    DS_TRY(dup_or_null(s->named[NAMED_UNK], &tok->unk_token, err));
    DS_TRY(dup_or_null(s->named[NAMED_PAD], &tok->pad_token, err));
    DS_TRY(dup_or_null(s->word_delimiter, &tok->word_delimiter_token, err));
    DS_TRY(dup_or_null(s->replace_char, &tok->replace_word_delimiter_char, err));
    tok->do_lower_case = s->do_lower_case;
    tok->clean_up_tokenization_spaces = s->clean_up;
    // _convert_token_to_id falls back to vocab.json's unk id; HF fails when there is none, here the
    // added unk id serves (and no unk at all is refused).
    DS_REQUIRE(err, tok->unk_token != NULL, DS_ERR_UNSUPPORTED, "%s: the tokenizer has no unk_token", file);
    tok->unk_id = ds_ctc_vocab_lookup(tok, tok->unk_token);
    if (tok->unk_id < 0) tok->unk_id = ds_ctc_added_lookup(tok, tok->unk_token);
    tok->bos_id = special_id(tok, tok->bos_token);
    tok->eos_id = special_id(tok, tok->eos_token);
    tok->pad_id = special_id(tok, tok->pad_token);
    tok->word_delimiter_id = special_id(tok, tok->word_delimiter_token);
    DS_REQUIRE(err, tok->pad_token != NULL, DS_ERR_UNSUPPORTED,
               "%s: the tokenizer has no pad_token (the CTC blank)", file);
    return DS_OK;
}

static ds_status copy_extra(ds_ctc_tokenizer *tok, const char *const *special, size_t n, const settings *s,
                            ds_err *err) {
    tok->extra_special = calloc(n ? n : 1, sizeof *tok->extra_special);
    if (tok->extra_special == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory");
    for (size_t i = 0; i < n; i++) {
        bool named = s->word_delimiter && strcmp(special[i], s->word_delimiter) == 0;
        for (int k = 0; k < NAMED_COUNT; k++) named |= s->named[k] && strcmp(special[i], s->named[k]) == 0;
        if (!named) DS_TRY(dup_or_null(special[i], &tok->extra_special[tok->extra_special_count++], err));
    }
    return DS_OK;
}

ds_status ds_ctc_tokenizer_from_json(const ds_ctc_tokenizer_json *f, ds_ctc_tokenizer *tok, ds_err *err) {
    memset(tok, 0, sizeof *tok);
    settings s;
    builder b = {.tok = tok};
    enum { MAX_SPECIAL = 256 };
    const char *special[MAX_SPECIAL];
    size_t n_special = 0;
    const char *cfg_name = f->config_name ? f->config_name : "tokenizer_config.json";
    ds_status st = read_settings(f, &s, err);
    if (st == DS_OK) st = read_vocab(f->vocab, f->vocab_name ? f->vocab_name : "vocab.json", tok, &b.file_order, err);
    if (st == DS_OK) st = added_from_files(&b, f, &s, err);
    if (st == DS_OK) st = special_list(&s, cfg_name, special, &n_special, MAX_SPECIAL, err);
    if (st == DS_OK) st = add_special(&b, special, n_special, err);
    if (st == DS_OK) st = add_multichar(&b, err);
    if (st == DS_OK) st = finish(&b, cfg_name, err);
    if (st == DS_OK) st = set_specials(tok, &s, cfg_name, err);
    if (st == DS_OK) st = copy_extra(tok, special, n_special, &s, err);
    for (size_t i = 0; i < b.enc_n; i++) free(b.enc_content[i]);
    free(b.enc_content);
    free(b.enc_id);
    free(b.dec);
    if (st != DS_OK) {
        // file_order owns the vocab strings (tok->vocab holds copies of the pointers).
        if (b.file_order) {
            for (size_t i = 0; i < tok->vocab_count; i++) free(b.file_order[i].token);
            tok->vocab_count = 0;
        }
        free(b.file_order);
        ds_ctc_tokenizer_free(tok);
        return st;
    }
    free(b.file_order);
    return DS_OK;
}

ds_status ds_ctc_tokenizer_load(const char *dir, ds_ctc_tokenizer *tok, ds_err *err) {
    memset(tok, 0, sizeof *tok);
    char names[4][4096];
    cJSON *vocab = NULL, *config = NULL, *map = NULL, *added = NULL;
    ds_status s = ds_json_file_read(dir, "vocab.json", false, &vocab, names[0], sizeof names[0], err);
    if (s == DS_OK) s = ds_json_file_read(dir, "tokenizer_config.json", true, &config, names[1], sizeof names[1], err);
    if (s == DS_OK) s = ds_json_file_read(dir, "special_tokens_map.json", true, &map, names[2], sizeof names[2], err);
    if (s == DS_OK) s = ds_json_file_read(dir, "added_tokens.json", true, &added, names[3], sizeof names[3], err);
    if (s == DS_OK) {
        const ds_ctc_tokenizer_json files = {vocab, names[0], config, names[1], map, names[2], added, names[3]};
        s = ds_ctc_tokenizer_from_json(&files, tok, err);
    }
    cJSON_Delete(vocab);
    cJSON_Delete(config);
    cJSON_Delete(map);
    cJSON_Delete(added);
    return s;
}

void ds_ctc_tokenizer_free(ds_ctc_tokenizer *tok) {
    for (size_t i = 0; i < tok->vocab_count; i++) free(tok->vocab[i].token);
    free(tok->vocab);
    for (size_t i = 0; i < tok->added_count; i++) {
        free(tok->added[i].content);
        free(tok->added[i].cps);
    }
    free(tok->added);
    free(tok->id_to_token);
    free(tok->bos_token);
    free(tok->eos_token);
    free(tok->unk_token);
    free(tok->pad_token);
    free(tok->word_delimiter_token);
    free(tok->replace_word_delimiter_char);
    for (size_t i = 0; i < tok->extra_special_count; i++) free(tok->extra_special[i]);
    free(tok->extra_special);
    memset(tok, 0, sizeof *tok);
}
