// Loading a tokenizer from a model directory: tokenizer.json or vocab.txt, plus the settings and
// special tokens of tokenizer_config.json, resolved the way transformers' BertTokenizer (v5)
// resolves them (which file wins for what: data/text/wordpiece.h).
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wordpiece_internal.h"

enum { SPECIAL_UNK, SPECIAL_SEP, SPECIAL_PAD, SPECIAL_CLS, SPECIAL_MASK, SPECIAL_COUNT };
static const char *const k_special_keys[SPECIAL_COUNT] = {"unk_token", "sep_token", "pad_token", "cls_token",
                                                          "mask_token"};
static const char *const k_special_defaults[SPECIAL_COUNT] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};

// What tokenizer_config.json says; strings point into the parsed JSON.
typedef struct wp_config {
    ds_wp_settings settings;
    const char *special[SPECIAL_COUNT];
    const cJSON *added_tokens_decoder;       // object "id" -> {content, normalized, ...}, or NULL
    const cJSON *additional_special_tokens;  // array, or NULL (v5 names it extra_special_tokens)
    bool bert_class;                         // tokenizer_class absent or a BERT class: the file rules
} wp_config;

static wp_config default_config(void) {
    wp_config c = {.settings = {.lowercase = true, .strip_accents = true, .chinese_chars = true}, .bert_class = true};
    for (int i = 0; i < SPECIAL_COUNT; i++) c.special[i] = k_special_defaults[i];
    return c;
}

static ds_status get_bool(const char *path, const cJSON *root, const char *key, bool *out, bool *present, ds_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (present) *present = false;
    if (v == NULL || (present && cJSON_IsNull(v))) return DS_OK;
    if (!cJSON_IsBool(v)) return ds_err_set(err, DS_ERR_FORMAT, "%s: \"%s\" must be true or false", path, key);
    *out = cJSON_IsTrue(v);
    if (present) *present = true;
    return DS_OK;
}

// A token setting is a string or, in older files, an AddedToken object with "content".
static const char *token_content(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c)) return c->valuestring;
    }
    return NULL;
}

static ds_status parse_config(const char *path, const cJSON *root, wp_config *c, ds_err *err) {
    DS_REQUIRE(err, cJSON_IsObject(root), DS_ERR_FORMAT, "%s: expected a JSON object", path);
    DS_TRY(get_bool(path, root, "do_lower_case", &c->settings.lowercase, NULL, err));
    DS_TRY(get_bool(path, root, "tokenize_chinese_chars", &c->settings.chinese_chars, NULL, err));
    bool strip = false, strip_set = false;
    DS_TRY(get_bool(path, root, "strip_accents", &strip, &strip_set, err));
    // BertNormalizer: strip_accents follows lowercase unless set.
    c->settings.strip_accents = strip_set ? strip : c->settings.lowercase;

    const cJSON *len = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
    if (len != NULL && !cJSON_IsNull(len)) {
        DS_REQUIRE(err, cJSON_IsNumber(len) && len->valuedouble >= 0, DS_ERR_FORMAT,
                   "%s: \"model_max_length\" must be a non-negative number", path);
        // transformers writes int(1e30) for "no limit"; anything beyond any real model is that.
        c->settings.model_max_length = len->valuedouble >= 1e12 ? 0 : (int64_t)len->valuedouble;
    }
    for (int i = 0; i < SPECIAL_COUNT; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k_special_keys[i]);
        if (v == NULL || cJSON_IsNull(v)) continue;
        c->special[i] = token_content(v);
        DS_REQUIRE(err, c->special[i] != NULL && c->special[i][0] != '\0', DS_ERR_FORMAT,
                   "%s: \"%s\" must be a non-empty string or an object with \"content\"", path, k_special_keys[i]);
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens_decoder");
    if (added != NULL && !cJSON_IsNull(added)) {
        DS_REQUIRE(err, cJSON_IsObject(added), DS_ERR_FORMAT, "%s: \"added_tokens_decoder\" must be an object", path);
        c->added_tokens_decoder = added;
    }
    const char *const extra_keys[2] = {"additional_special_tokens", "extra_special_tokens"};
    for (int i = 0; i < 2; i++) {
        const cJSON *extra = cJSON_GetObjectItemCaseSensitive(root, extra_keys[i]);
        if (extra == NULL || cJSON_IsNull(extra) || c->additional_special_tokens) continue;
        DS_REQUIRE(err, cJSON_IsArray(extra), DS_ERR_FORMAT, "%s: \"%s\" must be a list", path, extra_keys[i]);
        c->additional_special_tokens = extra;
    }
    // transformers rebuilds the pipeline from this file only for BERT's own classes (BertTokenizer,
    // BertTokenizerFast, DistilBertTokenizer, ...); PreTrainedTokenizerFast and the like take
    // tokenizer.json as it is.
    const char *cls = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "tokenizer_class"));
    c->bert_class = cls == NULL || strstr(cls, "Bert") != NULL;
    return DS_OK;
}

// 1-based line of a byte offset, for parse errors.
static int line_of(const char *text, size_t offset) {
    int line = 1;
    for (size_t i = 0; i < offset && text[i]; i++) line += text[i] == '\n';
    return line;
}

static ds_status add_token(ds_wp_tokenizer *tok, const char *content, int32_t id, ds_err *err) {
    for (int i = 0; i < tok->added_count; i++)
        if (strcmp(tok->added[i].content, content) == 0) return DS_OK;  // listed twice: first wins
    ds_wp_added_token *p = realloc(tok->added, (size_t)(tok->added_count + 1) * sizeof *p);
    if (p == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory for added tokens");
    tok->added = p;
    char *copy = strdup(content);
    if (copy == NULL) return ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory for added tokens");
    tok->added[tok->added_count++] = (ds_wp_added_token){.content = copy, .len = strlen(copy), .id = id};
    return DS_OK;
}

static int longest_first(const void *a, const void *b) {
    const ds_wp_added_token *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return strcmp(x->content, y->content);
}

typedef struct decoder_entry {
    long key;             // the id tokenizer_config.json gives
    const char *content;  // into the parsed JSON
} decoder_entry;

static int by_key(const void *a, const void *b) {
    const decoder_entry *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

// The id tokenizers gives a token it adds: its vocabulary id, else the next free id past the
// vocabulary (*next_id, advanced), whatever id the file wrote.
static int32_t id_for_added(const ds_wp_tokenizer *tok, const char *content, int32_t *next_id) {
    const int32_t id = ds_wp_vocab_lookup(&tok->vocab, content, strlen(content));
    return id >= 0 ? id : (*next_id)++;
}

// added_tokens_decoder, in the order of its ids (as transformers adds them).
static ds_status added_from_decoder(ds_wp_tokenizer *tok, const char *config_path, const cJSON *decoder,
                                    int32_t *next_id, ds_err *err) {
    const int n = decoder ? cJSON_GetArraySize(decoder) : 0;
    if (n == 0) return DS_OK;
    decoder_entry *entries = calloc((size_t)n, sizeof *entries);
    if (entries == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for added tokens", config_path);
    int k = 0;
    ds_status s = DS_OK;
    for (const cJSON *e = decoder->child; e != NULL && s == DS_OK; e = e->next, k++) {
        char *end = NULL;
        const long key = strtol(e->string, &end, 10);
        const char *content = token_content(e);
        if (end == e->string || *end != '\0' || key < 0 || content == NULL || content[0] == '\0') {
            s = ds_err_set(err, DS_ERR_FORMAT,
                           "%s: added_tokens_decoder entry \"%s\" needs an integer id and a "
                           "\"content\"",
                           config_path, e->string);
            break;
        }
        // Tokens matched after normalization, or only as whole words, change ids in ways this
        // tokenizer does not reproduce: refuse them rather than tokenize differently.
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "normalized")) ||
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "single_word")))
            s = ds_err_set(err, DS_ERR_UNSUPPORTED,
                           "%s: added token \"%s\" has normalized or single_word set, which "
                           "this tokenizer does not support",
                           config_path, content);
        entries[k] = (decoder_entry){.key = key, .content = content};
    }
    if (s == DS_OK) qsort(entries, (size_t)n, sizeof *entries, by_key);
    for (int i = 0; i < n && s == DS_OK; i++) {
        bool known = false;
        for (int j = 0; j < tok->added_count && !known; j++)
            known = strcmp(tok->added[j].content, entries[i].content) == 0;
        if (!known) s = add_token(tok, entries[i].content, id_for_added(tok, entries[i].content, next_id), err);
    }
    free(entries);
    return s;
}

static int32_t added_id(const ds_wp_tokenizer *tok, const char *content) {
    for (int j = 0; j < tok->added_count; j++)
        if (strcmp(tok->added[j].content, content) == 0) return tok->added[j].id;
    return -1;
}

// tokenizer.json's added tokens, with the ids it gives them.
static ds_status added_from_json(ds_wp_tokenizer *tok, const ds_wp_json *j, int32_t *next_id, ds_err *err) {
    for (const cJSON *e = j->added ? j->added->child : NULL; e; e = e->next) {
        const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "content"));
        const int32_t id = (int32_t)cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
        DS_TRY(add_token(tok, content, id, err));
        if (id >= *next_id) *next_id = id + 1;
    }
    return DS_OK;
}

// The pipeline tokenizer.json describes, for a directory without a BERT tokenizer_config.json.
static void json_pipeline(const ds_wp_json *j, ds_wp_tokenizer *tok, wp_config *c) {
    c->settings = j->settings;
    c->special[SPECIAL_UNK] = j->unk;
    c->special[SPECIAL_CLS] = j->cls;
    c->special[SPECIAL_SEP] = j->sep;
    if (j->pad) c->special[SPECIAL_PAD] = j->pad;
    tok->max_input_chars_per_word = j->max_chars;
    snprintf(tok->subword_prefix, sizeof tok->subword_prefix, "%s", j->prefix);
    tok->subword_prefix_len = (int)strlen(tok->subword_prefix);
}

// vocab_path is vocab.txt, or tokenizer.json when j is given (read already).
static ds_status build(ds_wp_tokenizer *tok, const char *vocab_path, const ds_wp_json *j, const char *config_path,
                       const wp_config *config, ds_err *err) {
    wp_config c = *config;
    tok->max_input_chars_per_word = 100;  // what BertTokenizer builds, whatever a tokenizer.json says
    snprintf(tok->subword_prefix, sizeof tok->subword_prefix, "##");
    tok->subword_prefix_len = 2;
    const bool from_json_alone = j && (!config_path || !c.bert_class);
    if (from_json_alone) {
        const int64_t max_len = c.settings.model_max_length;
        json_pipeline(j, tok, &c);
        c.settings.model_max_length = max_len;
    }
    tok->settings = c.settings;
    int32_t next_id = 0;
    if (j) {
        DS_TRY(ds_wp_json_vocab(j, vocab_path, &tok->vocab, err));
        next_id = tok->vocab.count;
        DS_TRY(added_from_json(tok, j, &next_id, err));
    } else {
        DS_TRY(ds_wp_vocab_read(vocab_path, &tok->vocab, err));
        next_id = tok->vocab.count;
    }
    DS_TRY(added_from_decoder(tok, config_path, c.added_tokens_decoder, &next_id, err));
    int32_t *ids[SPECIAL_COUNT] = {&tok->unk_id, &tok->sep_id, &tok->pad_id, &tok->cls_id, &tok->mask_id};
    for (int i = 0; i < SPECIAL_COUNT; i++) {
        const char *name = c.special[i];
        // tokenizers' token_to_id: the added tokens first, then the vocabulary.
        *ids[i] = added_id(tok, name);
        if (*ids[i] < 0) *ids[i] = ds_wp_vocab_lookup(&tok->vocab, name, strlen(name));
        if (*ids[i] < 0 && i == SPECIAL_MASK) {
            *ids[i] = from_json_alone ? next_id : next_id++;  // BertTokenizer appends a missing mask token
        } else if (*ids[i] < 0) {
            return ds_err_set(err, DS_ERR_FORMAT, "%s: the vocabulary has no %s \"%s\" (%s%s)", vocab_path,
                              k_special_keys[i], name, from_json_alone ? "named in " : config_path ? "named in " : "the default",
                              from_json_alone ? vocab_path : config_path ? config_path : "");
        }
        // tokenizers matches in the raw text only the tokens tokenizer.json lists as added; BertTokenizer
        // adds its special tokens (and a missing mask token) itself.
        if (!from_json_alone) DS_TRY(add_token(tok, name, *ids[i], err));
    }
    // The template's own ids must be the tokens' (a template pointing elsewhere is not BERT's).
    DS_REQUIRE(err, !from_json_alone || (tok->cls_id == j->cls_id && tok->sep_id == j->sep_id), DS_ERR_UNSUPPORTED,
               "%s: the post-processor gives %s id %d and %s id %d, the vocabulary %d and %d", vocab_path, j->cls,
               (int)j->cls_id, j->sep, (int)j->sep_id, (int)tok->cls_id, (int)tok->sep_id);
    for (const cJSON *e = c.additional_special_tokens ? c.additional_special_tokens->child : NULL; e; e = e->next) {
        const char *content = token_content(e);
        DS_REQUIRE(err, content != NULL && content[0] != '\0', DS_ERR_FORMAT,
                   "%s: \"additional_special_tokens\" entries must be strings", config_path);
        if (added_id(tok, content) < 0) DS_TRY(add_token(tok, content, id_for_added(tok, content, &next_id), err));
    }
    qsort(tok->added, (size_t)tok->added_count, sizeof *tok->added, longest_first);
    return DS_OK;
}

static bool file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

ds_status ds_wp_tokenizer_load(const char *model_dir, ds_wp_tokenizer *tok, ds_err *err) {
    *tok = (ds_wp_tokenizer){0};
    char vocab_path[4096], config_path[4096], json_path[4096];
    DS_REQUIRE(
        err,
        snprintf(vocab_path, sizeof vocab_path, "%s/vocab.txt", model_dir) < (int)sizeof vocab_path &&
            snprintf(config_path, sizeof config_path, "%s/tokenizer_config.json", model_dir) < (int)sizeof config_path &&
            snprintf(json_path, sizeof json_path, "%s/tokenizer.json", model_dir) < (int)sizeof json_path,
        DS_ERR_INVALID_ARG, "tokenizer: model directory path too long: %s", model_dir);
    // transformers prefers tokenizer.json to vocab.txt.
    const bool have_json = file_exists(json_path);
    if (!have_json && !file_exists(vocab_path) && errno == ENOENT)
        return ds_err_set(err, DS_ERR_IO,
                          "%s: no tokenizer: neither %s nor tokenizer.json exists (a Hugging Face BERT directory has "
                          "one of them)",
                          model_dir, vocab_path);
    wp_config c = default_config();
    cJSON *root = NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *probe = fopen(config_path, "rb");
    const bool have_config = probe != NULL;
    if (probe) fclose(probe);
    ds_status s = DS_OK;
    if (have_config) {
        s = ds_wp_read_file(config_path, &text, &size, err);
        if (s == DS_OK) {
            const char *end = NULL;
            root = cJSON_ParseWithLengthOpts(text, size, &end, false);
            if (root == NULL)
                s = ds_err_set(err, DS_ERR_FORMAT, "%s:%d: invalid JSON", config_path,
                               line_of(text, end ? (size_t)(end - text) : 0));
        }
        if (s == DS_OK) s = parse_config(config_path, root, &c, err);
    } else if (errno != ENOENT) {
        s = ds_err_set(err, DS_ERR_IO, "%s: cannot open: %s", config_path, strerror(errno));
    }
    ds_wp_json j = {0};
    if (s == DS_OK && have_json) s = ds_wp_json_read(json_path, &j, err);
    if (s == DS_OK)
        s = build(tok, have_json ? json_path : vocab_path, have_json ? &j : NULL, have_config ? config_path : NULL, &c,
                  err);
    ds_wp_json_free(&j);
    cJSON_Delete(root);
    free(text);
    if (s != DS_OK) ds_wp_tokenizer_free(tok);
    return s;
}

ds_status ds_wp_tokenizer_load_vocab(const char *vocab_path, const ds_wp_settings *settings, ds_wp_tokenizer *tok,
                                     ds_err *err) {
    *tok = (ds_wp_tokenizer){0};
    wp_config c = default_config();
    c.settings = *settings;
    const ds_status s = build(tok, vocab_path, NULL, NULL, &c, err);
    if (s != DS_OK) ds_wp_tokenizer_free(tok);
    return s;
}

void ds_wp_tokenizer_free(ds_wp_tokenizer *tok) {
    if (tok == NULL) return;
    ds_wp_vocab_free(&tok->vocab);
    for (int i = 0; i < tok->added_count; i++) free(tok->added[i].content);
    free(tok->added);
    *tok = (ds_wp_tokenizer){0};
}
