// tokenizer.json, the serialization of Hugging Face's tokenizers library (what transformers 5's
// save_pretrained writes for BERT instead of vocab.txt), read for a BERT WordPiece pipeline only:
//   model          {"type": "WordPiece", "unk_token", "continuing_subword_prefix",
//                   "max_input_chars_per_word", "vocab": {token: id}}
//   normalizer     BertNormalizer {clean_text, handle_chinese_chars, strip_accents, lowercase}, or a
//                  Sequence holding exactly one
//   pre_tokenizer  BertPreTokenizer, or a Sequence of WhitespaceSplit then Punctuation with the
//                  "Isolated" behaviour (the same split: on White_Space, every punctuation
//                  character alone), or a Sequence holding one BertPreTokenizer
//   post_processor TemplateProcessing [CLS]:0 $A:0 [SEP]:0 / ... $B:1 [SEP]:1, or BertProcessing
//   added_tokens   [{id, content, single_word, lstrip, rstrip, normalized, special}]
// What is not one of these is refused (DS_ERR_UNSUPPORTED) naming the part, rather than
// tokenized differently from transformers.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wordpiece_internal.h"

static const char *type_of(const cJSON *o) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type"));
}

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

// BertNormalizer's switches; strip_accents null follows lowercase, as in tokenizers.
static ds_status read_normalizer(const char *path, const cJSON *n, ds_wp_settings *st, ds_err *err) {
    DS_REQUIRE(err, n != NULL && !cJSON_IsNull(n), DS_ERR_UNSUPPORTED,
               "%s: no normalizer: a BERT tokenizer has a BertNormalizer", path);
    const char *type = type_of(n);
    if (type && strcmp(type, "Sequence") == 0) {
        const cJSON *list = member(n, "normalizers");
        DS_REQUIRE(err, cJSON_IsArray(list) && cJSON_GetArraySize(list) == 1, DS_ERR_UNSUPPORTED,
                   "%s: normalizer: a Sequence is read only when it holds one BertNormalizer", path);
        return read_normalizer(path, cJSON_GetArrayItem(list, 0), st, err);
    }
    DS_REQUIRE(err, type && strcmp(type, "BertNormalizer") == 0, DS_ERR_UNSUPPORTED,
               "%s: normalizer \"%s\" is not a BertNormalizer: not a BERT WordPiece tokenizer", path,
               type ? type : "?");
    const cJSON *clean = member(n, "clean_text"), *chinese = member(n, "handle_chinese_chars"),
                *strip = member(n, "strip_accents"), *lower = member(n, "lowercase");
    DS_REQUIRE(err, cJSON_IsBool(clean) && cJSON_IsBool(chinese) && cJSON_IsBool(lower) &&
                        (strip == NULL || cJSON_IsNull(strip) || cJSON_IsBool(strip)),
               DS_ERR_FORMAT, "%s: BertNormalizer needs clean_text, handle_chinese_chars and lowercase as booleans",
               path);
    DS_REQUIRE(err, cJSON_IsTrue(clean), DS_ERR_UNSUPPORTED,
               "%s: BertNormalizer with clean_text false is not supported (BERT tokenizers clean text)", path);
    st->lowercase = cJSON_IsTrue(lower);
    st->chinese_chars = cJSON_IsTrue(chinese);
    st->strip_accents = cJSON_IsBool(strip) ? cJSON_IsTrue(strip) : st->lowercase;
    st->model_max_length = 0;
    return DS_OK;
}

static bool is_type(const cJSON *o, const char *type) {
    const char *t = type_of(o);
    return t && strcmp(t, type) == 0;
}

static ds_status read_pre_tokenizer(const char *path, const cJSON *p, ds_err *err) {
    if (is_type(p, "BertPreTokenizer")) return DS_OK;
    if (is_type(p, "Sequence")) {
        const cJSON *list = member(p, "pretokenizers");
        const int n = cJSON_GetArraySize(list);
        if (n == 1 && is_type(cJSON_GetArrayItem(list, 0), "BertPreTokenizer")) return DS_OK;
        if (n == 2 && is_type(cJSON_GetArrayItem(list, 0), "WhitespaceSplit") &&
            is_type(cJSON_GetArrayItem(list, 1), "Punctuation")) {
            const char *behavior = cJSON_GetStringValue(member(cJSON_GetArrayItem(list, 1), "behavior"));
            if (behavior == NULL || strcmp(behavior, "Isolated") == 0) return DS_OK;
        }
    }
    const char *t = type_of(p);
    return ds_err_set(err, DS_ERR_UNSUPPORTED,
                      "%s: pre_tokenizer \"%s\" is not supported: a BERT tokenizer splits with BertPreTokenizer (or "
                      "WhitespaceSplit + Punctuation; the regex Whitespace pre-tokenizer splits differently)",
                      path, t ? t : "none");
}

// One SpecialToken or Sequence piece of a template: its id ("[CLS]", "A", ...) and type id.
static bool template_piece(const cJSON *piece, const char *kind, const char **id, int *type_id) {
    const cJSON *inner = member(piece, kind);
    const cJSON *i = member(inner, "id"), *t = member(inner, "type_id");
    if (!cJSON_IsString(i) || !cJSON_IsNumber(t)) return false;
    *id = i->valuestring;
    *type_id = t->valueint;
    return true;
}

// The template's special_tokens entry for `name`: its one id.
static bool template_special_id(const cJSON *post, const char *name, int32_t *id) {
    const cJSON *ids = member(member(member(post, "special_tokens"), name), "ids");
    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) != 1 || !cJSON_IsNumber(cJSON_GetArrayItem(ids, 0)))
        return false;
    *id = (int32_t)cJSON_GetArrayItem(ids, 0)->valuedouble;
    return true;
}

// TemplateProcessing exactly [CLS]:0 $A:0 [SEP]:0 and [CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1.
static bool read_template(const cJSON *post, ds_wp_json *j) {
    const cJSON *single = member(post, "single"), *pair = member(post, "pair");
    if (cJSON_GetArraySize(single) != 3 || cJSON_GetArraySize(pair) != 5) return false;
    const char *id[5];
    int type[5];
    const char *const kinds[5] = {"SpecialToken", "Sequence", "SpecialToken", "Sequence", "SpecialToken"};
    static const int want_type[5] = {0, 0, 0, 1, 1};
    for (int i = 0; i < 5; i++) {
        if (!template_piece(cJSON_GetArrayItem(pair, i), kinds[i], &id[i], &type[i]) || type[i] != want_type[i])
            return false;
        if (i < 3) {
            const char *sid;
            int stype;
            if (!template_piece(cJSON_GetArrayItem(single, i), kinds[i], &sid, &stype) || stype != 0 ||
                strcmp(sid, id[i]) != 0)
                return false;
        }
    }
    if (strcmp(id[1], "A") != 0 || strcmp(id[3], "B") != 0 || strcmp(id[2], id[4]) != 0) return false;
    j->cls = id[0];
    j->sep = id[2];
    return template_special_id(post, j->cls, &j->cls_id) && template_special_id(post, j->sep, &j->sep_id);
}

// BertProcessing: {"sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}.
static bool read_bert_processing(const cJSON *post, ds_wp_json *j) {
    const cJSON *sep = member(post, "sep"), *cls = member(post, "cls");
    if (cJSON_GetArraySize(sep) != 2 || cJSON_GetArraySize(cls) != 2) return false;
    const cJSON *sn = cJSON_GetArrayItem(sep, 0), *si = cJSON_GetArrayItem(sep, 1);
    const cJSON *cn = cJSON_GetArrayItem(cls, 0), *ci = cJSON_GetArrayItem(cls, 1);
    if (!cJSON_IsString(sn) || !cJSON_IsNumber(si) || !cJSON_IsString(cn) || !cJSON_IsNumber(ci)) return false;
    j->sep = sn->valuestring, j->sep_id = (int32_t)si->valuedouble;
    j->cls = cn->valuestring, j->cls_id = (int32_t)ci->valuedouble;
    return true;
}

static ds_status read_post_processor(const char *path, const cJSON *post, ds_wp_json *j, ds_err *err) {
    if (is_type(post, "TemplateProcessing") && read_template(post, j)) return DS_OK;
    if (is_type(post, "BertProcessing") && read_bert_processing(post, j)) return DS_OK;
    const char *t = type_of(post);
    return ds_err_set(err, DS_ERR_UNSUPPORTED,
                      "%s: post_processor \"%s\" is not BERT's [CLS] A [SEP] (B [SEP]) template with type ids 0 and 1",
                      path, t ? t : "none");
}

static ds_status read_model(const char *path, const cJSON *m, ds_wp_json *j, ds_err *err) {
    const char *type = type_of(m);
    DS_REQUIRE(err, type && strcmp(type, "WordPiece") == 0, DS_ERR_UNSUPPORTED,
               "%s: the model is %s, not WordPiece: downstream reads BERT WordPiece tokenizers only", path,
               type ? type : "of no type");
    j->vocab = member(m, "vocab");
    DS_REQUIRE(err, cJSON_IsObject(j->vocab), DS_ERR_FORMAT, "%s: model.vocab must be an object {token: id}", path);
    j->unk = cJSON_GetStringValue(member(m, "unk_token"));
    DS_REQUIRE(err, j->unk && j->unk[0], DS_ERR_FORMAT, "%s: model.unk_token must be a non-empty string", path);
    const char *prefix = cJSON_GetStringValue(member(m, "continuing_subword_prefix"));
    if (prefix == NULL) prefix = "##";
    DS_REQUIRE(err, strlen(prefix) < sizeof j->prefix, DS_ERR_UNSUPPORTED,
               "%s: model.continuing_subword_prefix \"%s\" is longer than %zu bytes", path, prefix,
               sizeof j->prefix - 1);
    snprintf(j->prefix, sizeof j->prefix, "%s", prefix);
    const cJSON *max = member(m, "max_input_chars_per_word");
    j->max_chars = 100;
    if (max != NULL && !cJSON_IsNull(max)) {
        DS_REQUIRE(err, cJSON_IsNumber(max) && max->valuedouble >= 0 && max->valuedouble <= 1e9, DS_ERR_FORMAT,
                   "%s: model.max_input_chars_per_word must be a non-negative integer", path);
        j->max_chars = (int)max->valuedouble;
    }
    return DS_OK;
}

static ds_status read_parts(const char *path, ds_wp_json *j, ds_err *err) {
    const cJSON *root = j->root;
    DS_REQUIRE(err, cJSON_IsObject(root), DS_ERR_FORMAT, "%s: expected a JSON object", path);
    DS_TRY(read_model(path, member(root, "model"), j, err));
    DS_TRY(read_normalizer(path, member(root, "normalizer"), &j->settings, err));
    DS_TRY(read_pre_tokenizer(path, member(root, "pre_tokenizer"), err));
    DS_TRY(read_post_processor(path, member(root, "post_processor"), j, err));
    const cJSON *added = member(root, "added_tokens");
    if (added != NULL && !cJSON_IsNull(added)) {
        DS_REQUIRE(err, cJSON_IsArray(added), DS_ERR_FORMAT, "%s: added_tokens must be a list", path);
        for (const cJSON *e = added->child; e; e = e->next) {
            const char *content = cJSON_GetStringValue(member(e, "content"));
            const cJSON *id = member(e, "id");
            DS_REQUIRE(err, content && content[0] && cJSON_IsNumber(id) && id->valuedouble >= 0, DS_ERR_FORMAT,
                       "%s: added_tokens entries need a non-empty \"content\" and an \"id\"", path);
            // Tokens matched after normalization, or only as whole words, change ids in ways this
            // tokenizer does not reproduce: refuse them rather than tokenize differently.
            DS_REQUIRE(err, !cJSON_IsTrue(member(e, "normalized")) && !cJSON_IsTrue(member(e, "single_word")),
                       DS_ERR_UNSUPPORTED,
                       "%s: added token \"%s\" has normalized or single_word set, which this tokenizer does not "
                       "support",
                       path, content);
        }
        j->added = added;
    }
    const cJSON *padding = member(root, "padding");
    if (cJSON_IsObject(padding)) j->pad = cJSON_GetStringValue(member(padding, "pad_token"));
    return DS_OK;
}

ds_status ds_wp_json_read(const char *path, ds_wp_json *j, ds_err *err) {
    memset(j, 0, sizeof *j);
    char *text = NULL;
    size_t size = 0;
    DS_TRY(ds_wp_read_file(path, &text, &size, err));
    const char *end = NULL;
    j->root = cJSON_ParseWithLengthOpts(text, size, &end, false);
    ds_status s = DS_OK;
    if (j->root == NULL) {
        int line = 1;
        for (const char *p = text; end && p < end && *p; p++) line += *p == '\n';
        s = ds_err_set(err, DS_ERR_FORMAT, "%s:%d: invalid JSON", path, line);
    }
    free(text);
    if (s == DS_OK) s = read_parts(path, j, err);
    if (s != DS_OK) ds_wp_json_free(j);
    return s;
}

ds_status ds_wp_json_vocab(const ds_wp_json *j, const char *path, ds_wp_vocab *vocab, ds_err *err) {
    const int n = cJSON_GetArraySize(j->vocab);
    DS_REQUIRE(err, n > 0, DS_ERR_FORMAT, "%s: model.vocab is empty", path);
    const char **tokens = calloc((size_t)n, sizeof *tokens);
    DS_REQUIRE(err, tokens != NULL, DS_ERR_OOM, "%s: out of memory for %d tokens", path, n);
    ds_status s = DS_OK;
    for (const cJSON *e = j->vocab->child; e && s == DS_OK; e = e->next) {
        const double id = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (id < 0 || id >= n || id != (double)(int)id || tokens[(int)id] != NULL)
            s = ds_err_set(err, DS_ERR_FORMAT,
                           "%s: model.vocab: token \"%s\" has id %g; the ids must be 0..%d, each once", path,
                           e->string, id, n - 1);
        else
            tokens[(int)id] = e->string;
    }
    if (s == DS_OK) s = ds_wp_vocab_from_tokens(tokens, (int32_t)n, path, vocab, err);
    free(tokens);
    return s;
}

void ds_wp_json_free(ds_wp_json *j) {
    if (j == NULL) return;
    cJSON_Delete(j->root);
    memset(j, 0, sizeof *j);
}
