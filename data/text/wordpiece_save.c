// A loaded tokenizer written back out as the files of a Hugging Face BERT directory: vocab.txt
// (transformers 4 and the slow tokenizer), tokenizer.json (tokenizers' serialization, what
// transformers prefers and what transformers 5 writes) and tokenizer_config.json (the settings
// BertTokenizer rebuilds its pipeline from). Each describes the same pipeline, so whichever file
// a reader takes gives the ids this tokenizer gives.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wordpiece_internal.h"

// The text of token `id`: an added token's, else the vocabulary's; NULL when neither has it.
static const char *token_text(const ds_wp_tokenizer *tok, int32_t id) {
    for (int i = 0; i < tok->added_count; i++)
        if (tok->added[i].id == id) return tok->added[i].content;
    if (id >= 0 && id < tok->vocab.count) return tok->vocab.strings + tok->vocab.offsets[id];
    return NULL;
}

ds_status ds_wp_vocab_text(const ds_wp_tokenizer *tok, char **out, size_t *len, ds_err *err) {
    const ds_wp_vocab *v = &tok->vocab;
    size_t total = 0;
    for (int32_t i = 0; i < v->count; i++) {
        const char *s = v->strings + v->offsets[i];
        // One token a line: a token holding a line break cannot be written there.
        DS_REQUIRE(err, memchr(s, '\n', v->lengths[i]) == NULL && memchr(s, '\r', v->lengths[i]) == NULL,
                   DS_ERR_UNSUPPORTED, "vocab.txt: token %d holds a line break", (int)i);
        total += v->lengths[i] + 1;
    }
    char *text = malloc(total + 1);
    DS_REQUIRE(err, text != NULL, DS_ERR_OOM, "vocab.txt: out of memory");
    size_t at = 0;
    for (int32_t i = 0; i < v->count; i++) {
        memcpy(text + at, v->strings + v->offsets[i], v->lengths[i]);
        at += v->lengths[i];
        text[at++] = '\n';
    }
    text[at] = 0;
    *out = text;
    *len = at;
    return DS_OK;
}

static int by_id(const void *a, const void *b) {
    const ds_wp_added_token *x = *(const ds_wp_added_token *const *)a, *y = *(const ds_wp_added_token *const *)b;
    return (x->id > y->id) - (x->id < y->id);
}

static cJSON *added_tokens_json(const ds_wp_tokenizer *tok) {
    const ds_wp_added_token **sorted = calloc((size_t)tok->added_count + 1, sizeof *sorted);
    cJSON *list = cJSON_CreateArray();
    if (!sorted || !list) {
        free(sorted);
        cJSON_Delete(list);
        return NULL;
    }
    for (int i = 0; i < tok->added_count; i++) sorted[i] = &tok->added[i];
    qsort(sorted, (size_t)tok->added_count, sizeof *sorted, by_id);
    for (int i = 0; i < tok->added_count; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", sorted[i]->id);
        cJSON_AddStringToObject(e, "content", sorted[i]->content);
        cJSON_AddBoolToObject(e, "single_word", false);
        cJSON_AddBoolToObject(e, "lstrip", false);
        cJSON_AddBoolToObject(e, "rstrip", false);
        cJSON_AddBoolToObject(e, "normalized", false);
        cJSON_AddBoolToObject(e, "special", true);  // matched in the raw text, never split
        cJSON_AddItemToArray(list, e);
    }
    free(sorted);
    return list;
}

// {"type": "SpecialToken"|"Sequence", ...}: one piece of a TemplateProcessing template.
static cJSON *piece(const char *kind, const char *id, int type_id) {
    cJSON *outer = cJSON_CreateObject(), *inner = cJSON_CreateObject();
    cJSON_AddStringToObject(inner, "id", id);
    cJSON_AddNumberToObject(inner, "type_id", type_id);
    cJSON_AddItemToObject(outer, kind, inner);
    return outer;
}

static cJSON *special_entry(const char *name, int32_t id) {
    cJSON *e = cJSON_CreateObject(), *ids = cJSON_CreateArray(), *toks = cJSON_CreateArray();
    cJSON_AddStringToObject(e, "id", name);
    cJSON_AddItemToArray(ids, cJSON_CreateNumber(id));
    cJSON_AddItemToArray(toks, cJSON_CreateString(name));
    cJSON_AddItemToObject(e, "ids", ids);
    cJSON_AddItemToObject(e, "tokens", toks);
    return e;
}

static cJSON *template_json(const char *cls, int32_t cls_id, const char *sep, int32_t sep_id) {
    cJSON *post = cJSON_CreateObject(), *single = cJSON_CreateArray(), *pair = cJSON_CreateArray();
    cJSON_AddStringToObject(post, "type", "TemplateProcessing");
    cJSON_AddItemToArray(single, piece("SpecialToken", cls, 0));
    cJSON_AddItemToArray(single, piece("Sequence", "A", 0));
    cJSON_AddItemToArray(single, piece("SpecialToken", sep, 0));
    cJSON_AddItemToArray(pair, piece("SpecialToken", cls, 0));
    cJSON_AddItemToArray(pair, piece("Sequence", "A", 0));
    cJSON_AddItemToArray(pair, piece("SpecialToken", sep, 0));
    cJSON_AddItemToArray(pair, piece("Sequence", "B", 1));
    cJSON_AddItemToArray(pair, piece("SpecialToken", sep, 1));
    cJSON_AddItemToObject(post, "single", single);
    cJSON_AddItemToObject(post, "pair", pair);
    cJSON *specials = cJSON_CreateObject();
    cJSON_AddItemToObject(specials, cls, special_entry(cls, cls_id));
    if (strcmp(cls, sep) != 0) cJSON_AddItemToObject(specials, sep, special_entry(sep, sep_id));
    cJSON_AddItemToObject(post, "special_tokens", specials);
    return post;
}

ds_status ds_wp_tokenizer_json_text(const ds_wp_tokenizer *tok, char **out, ds_err *err) {
    const char *unk = token_text(tok, tok->unk_id), *cls = token_text(tok, tok->cls_id),
               *sep = token_text(tok, tok->sep_id);
    DS_REQUIRE(err, unk && cls && sep, DS_ERR_INTERNAL, "tokenizer.json: a special token has no text");
    cJSON *root = cJSON_CreateObject();
    DS_REQUIRE(err, root != NULL, DS_ERR_OOM, "tokenizer.json: out of memory");
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON_AddItemToObject(root, "added_tokens", added_tokens_json(tok));
    cJSON *norm = cJSON_AddObjectToObject(root, "normalizer");
    cJSON_AddStringToObject(norm, "type", "BertNormalizer");
    cJSON_AddBoolToObject(norm, "clean_text", true);
    cJSON_AddBoolToObject(norm, "handle_chinese_chars", tok->settings.chinese_chars);
    cJSON_AddBoolToObject(norm, "strip_accents", tok->settings.strip_accents);
    cJSON_AddBoolToObject(norm, "lowercase", tok->settings.lowercase);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "pre_tokenizer"), "type", "BertPreTokenizer");
    cJSON_AddItemToObject(root, "post_processor", template_json(cls, tok->cls_id, sep, tok->sep_id));
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "WordPiece");
    cJSON_AddStringToObject(dec, "prefix", tok->subword_prefix);
    cJSON_AddBoolToObject(dec, "cleanup", true);
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "WordPiece");
    cJSON_AddStringToObject(model, "unk_token", unk);
    cJSON_AddStringToObject(model, "continuing_subword_prefix", tok->subword_prefix);
    cJSON_AddNumberToObject(model, "max_input_chars_per_word", tok->max_input_chars_per_word);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int32_t i = 0; vocab && i < tok->vocab.count; i++) {
        const char *s = tok->vocab.strings + tok->vocab.offsets[i];
        // A token repeated in vocab.txt keeps its last id (tokenizers' HashMap): write it once.
        if (ds_wp_vocab_lookup(&tok->vocab, s, tok->vocab.lengths[i]) == i)
            cJSON_AddItemToObject(vocab, s, cJSON_CreateNumber(i));
    }
    *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    DS_REQUIRE(err, *out != NULL, DS_ERR_OOM, "tokenizer.json: out of memory");
    return DS_OK;
}

static void set_item(cJSON *obj, const char *key, cJSON *value) {
    if (cJSON_HasObjectItem(obj, key))
        cJSON_ReplaceItemInObject(obj, key, value);
    else
        cJSON_AddItemToObject(obj, key, value);
}

ds_status ds_wp_tokenizer_config_text(const ds_wp_tokenizer *tok, const char *source, char **out, ds_err *err) {
    cJSON *root = source ? cJSON_Parse(source) : cJSON_CreateObject();
    if (root && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = cJSON_CreateObject();
    }
    DS_REQUIRE(err, root != NULL, DS_ERR_OOM, "tokenizer_config.json: out of memory");
    // The pipeline as this tokenizer runs it, explicitly: BertTokenizer rebuilds it from these.
    set_item(root, "do_lower_case", cJSON_CreateBool(tok->settings.lowercase));
    set_item(root, "strip_accents", cJSON_CreateBool(tok->settings.strip_accents));
    set_item(root, "tokenize_chinese_chars", cJSON_CreateBool(tok->settings.chinese_chars));
    const char *const keys[5] = {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
    const int32_t ids[5] = {tok->unk_id, tok->sep_id, tok->pad_id, tok->cls_id, tok->mask_id};
    for (int i = 0; i < 5; i++) {
        const char *text = token_text(tok, ids[i]);
        if (text) set_item(root, keys[i], cJSON_CreateString(text));
    }
    // BertTokenizer always builds "##" and 100 characters per word; another WordPiece model is left to
    // tokenizer.json alone (a class that does not rebuild the pipeline).
    const bool bert_model = strcmp(tok->subword_prefix, "##") == 0 && tok->max_input_chars_per_word == 100;
    const char *cls = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "tokenizer_class"));
    if (!bert_model)
        set_item(root, "tokenizer_class", cJSON_CreateString("PreTrainedTokenizerFast"));
    else if (!cls || !strstr(cls, "Bert"))
        set_item(root, "tokenizer_class", cJSON_CreateString("BertTokenizer"));
    if (tok->settings.model_max_length > 0 && !cJSON_HasObjectItem(root, "model_max_length"))
        set_item(root, "model_max_length", cJSON_CreateNumber((double)tok->settings.model_max_length));
    // tokenizer.json lists the added tokens with their ids; a stale decoder would only disagree.
    cJSON_DeleteItemFromObjectCaseSensitive(root, "added_tokens_decoder");
    *out = cJSON_Print(root);
    cJSON_Delete(root);
    DS_REQUIRE(err, *out != NULL, DS_ERR_OOM, "tokenizer_config.json: out of memory");
    return DS_OK;
}
