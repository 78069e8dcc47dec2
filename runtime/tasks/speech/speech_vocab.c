// The CTC vocabulary of a speech run: a tokenizer directory's (the model's, or data.vocab), or one
// built from the transcripts as run_speech_recognition_ctc.py's create_vocabulary_from_data does.
// The files' texts are kept so that the export writes the very tokenizer the run used.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../data/audio/json_file.h"
#include "../../base/check.h"
#include "speech_internal.h"

// The text of dir/name, or NULL (absent: fine when optional).
static ds_status read_text(const char *dir, const char *name, bool optional, char **out, ds_err *err) {
    *out = NULL;
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (optional) return DS_OK;
        return ds_err_set(err, DS_ERR_IO, "cannot open %s", path);
    }
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    const bool ok = text && fread(text, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!ok) {
        free(text);
        return ds_err_set(err, DS_ERR_IO, "cannot read %s", path);
    }
    text[n] = '\0';
    *out = text;
    return DS_OK;
}

ds_status ds_speech_vocab_load(const char *dir, speech_vocab *v, ds_err *err) {
    memset(v, 0, sizeof *v);
    ds_status st = ds_ctc_tokenizer_load(dir, &v->tok, err);
    v->loaded = st == DS_OK;
    if (st == DS_OK) st = read_text(dir, "vocab.json", false, &v->vocab_json, err);
    if (st == DS_OK) st = read_text(dir, "tokenizer_config.json", true, &v->tokenizer_config_json, err);
    if (st == DS_OK) st = read_text(dir, "special_tokens_map.json", true, &v->special_tokens_json, err);
    if (st == DS_OK) st = read_text(dir, "added_tokens.json", true, &v->added_tokens_json, err);
    if (st == DS_OK && !v->tokenizer_config_json) {
        // A bare vocab.json: Wav2Vec2CTCTokenizer's defaults; say so for the export.
        v->tokenizer_config_json = strdup("{\"tokenizer_class\": \"Wav2Vec2CTCTokenizer\"}\n");
        if (!v->tokenizer_config_json) st = ds_err_set(err, DS_ERR_OOM, "tokenizer: out of memory");
    }
    if (st == DS_OK && v->tok.pad_id < 0)
        st = ds_err_set(err, DS_ERR_FORMAT, "%s: the tokenizer has no pad token, which CTC needs as its blank", dir);
    if (st != DS_OK) {
        ds_speech_vocab_free(v);
        return st;
    }
    snprintf(v->source, sizeof v->source, "%s", dir);
    return DS_OK;
}

ds_status ds_speech_vocab_build(const ds_speech_dataset *const *sets, int n, const ds_ctc_text_norm *norm,
                                speech_vocab *v, ds_err *err) {
    memset(v, 0, sizeof *v);
    ds_ctc_vocab_builder b;
    memset(&b, 0, sizeof b);
    ds_status st = DS_OK;
    for (int k = 0; k < n && st == DS_OK; k++) st = ds_speech_dataset_add_to_vocab(sets[k], norm, &b, err);
    if (st == DS_OK && b.texts == 0)
        st = ds_err_set(err, DS_ERR_INVALID_ARG, "no transcripts to build the CTC vocabulary from");
    const ds_ctc_vocab_spec spec = ds_ctc_vocab_spec_recipe();
    ds_str vocab = {0}, config = {0};
    if (st == DS_OK) st = ds_ctc_vocab_json(&b, &spec, &vocab, err);
    if (st == DS_OK) st = ds_ctc_tokenizer_config_json(&spec, &config, err);
    cJSON *jv = st == DS_OK ? cJSON_Parse(vocab.v) : NULL, *jc = st == DS_OK ? cJSON_Parse(config.v) : NULL;
    if (st == DS_OK && (!jv || !jc)) st = ds_err_set(err, DS_ERR_INTERNAL, "the built vocabulary is not JSON");
    if (st == DS_OK) {
        const ds_ctc_tokenizer_json files = {.vocab = jv, .vocab_name = "vocab.json (built)", .config = jc,
                                             .config_name = "tokenizer_config.json (built)"};
        st = ds_ctc_tokenizer_from_json(&files, &v->tok, err);
        v->loaded = st == DS_OK;
    }
    cJSON_Delete(jv);
    cJSON_Delete(jc);
    if (st == DS_OK) {
        v->vocab_json = vocab.v, v->tokenizer_config_json = config.v;
        vocab.v = config.v = NULL;
        snprintf(v->source, sizeof v->source, "built from %zu transcripts (%zu characters)", b.texts, b.n);
    }
    ds_str_free(&vocab);
    ds_str_free(&config);
    ds_ctc_vocab_builder_free(&b);
    if (st != DS_OK) ds_speech_vocab_free(v);
    return st;
}

ds_status ds_speech_vocab_write(const speech_vocab *v, const char *dir, ds_err *err) {
    DS_TRY(ds_text_file_write(dir, "vocab.json", v->vocab_json, strlen(v->vocab_json), err));
    DS_TRY(ds_text_file_write(dir, "tokenizer_config.json", v->tokenizer_config_json, strlen(v->tokenizer_config_json),
                              err));
    if (v->special_tokens_json)
        DS_TRY(ds_text_file_write(dir, "special_tokens_map.json", v->special_tokens_json, strlen(v->special_tokens_json),
                                  err));
    if (v->added_tokens_json)
        DS_TRY(ds_text_file_write(dir, "added_tokens.json", v->added_tokens_json, strlen(v->added_tokens_json), err));
    return DS_OK;
}

void ds_speech_vocab_free(speech_vocab *v) {
    if (v->loaded) ds_ctc_tokenizer_free(&v->tok);
    free(v->vocab_json);
    free(v->tokenizer_config_json);
    free(v->special_tokens_json);
    free(v->added_tokens_json);
    memset(v, 0, sizeof *v);
}
