// The CTC tokenizer and processor directories (data/audio/ctc_tokenizer.h, w2v2_processor.h)
// against transformers 5.24 (scripts/fixtures/audio_data.py): three processor directories (the
// hub layout of wav2vec2-base-960h, the same with do_lower_case / clean-up / an extra special
// token, and the transformers 5 layout saved by Wav2Vec2Processor.save_pretrained around the
// recipe's tokenizer); for each, the vocabulary facts (len, special ids, feature extractor
// settings), ~190 transcripts' ids and unknown-character counts (tokenizer(text).input_ids), and
// 360 id sequences decoded by batch_decode (default, group_tokens=False, skip_special_tokens).
// Then the out-of-vocabulary error mode, greedy argmax, and bad directories.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../data/audio/ctc_tokenizer.h"
#include "../../data/audio/w2v2_processor.h"
#include "../test_util.h"

#define DIRS 3
static const char *const k_dirs[DIRS] = {"hub", "hub_lower", "recipe_v5"};

static const char *audio_fixture(const char *name, char *buf, size_t cap) {
    char rel[256];
    snprintf(rel, sizeof rel, "audio/%s", name);
    return ds_test_fixture(rel, buf, cap);
}

static int dir_index(const char *name) {
    for (int i = 0; i < DIRS; i++)
        if (strcmp(k_dirs[i], name) == 0) return i;
    return -1;
}

static bool json_bool(const cJSON *o, const char *k) { return cJSON_IsTrue(cJSON_GetObjectItem(o, k)); }

static int32_t json_id(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? (int32_t)v->valueint : -1;
}

static void check_facts(ds_test *t, const char *name, const ds_w2v2_processor *p, const cJSON *f) {
    const ds_ctc_tokenizer *tok = &p->tokenizer;
    ds_test_check(t, tok->count == json_id(f, "len") && tok->size == json_id(f, "len"),
                  "%s: len(tokenizer) %d (size %d), transformers %d", name, tok->count, tok->size, json_id(f, "len"));
    ds_test_check(t, tok->unk_id == json_id(f, "unk_id") && tok->pad_id == json_id(f, "pad_id") &&
                         tok->bos_id == json_id(f, "bos_id") && tok->eos_id == json_id(f, "eos_id") &&
                         tok->word_delimiter_id == json_id(f, "word_delimiter_id"),
                  "%s: special ids unk %d pad %d bos %d eos %d | %d", name, tok->unk_id, tok->pad_id, tok->bos_id,
                  tok->eos_id, tok->word_delimiter_id);
    ds_test_check(t, tok->do_lower_case == json_bool(f, "do_lower_case") &&
                         tok->clean_up_tokenization_spaces == json_bool(f, "clean_up"),
                  "%s: do_lower_case / clean_up_tokenization_spaces", name);
    // all_special_tokens: the named ones, the word delimiter, then the extra ones.
    const cJSON *special = cJSON_GetObjectItem(f, "special");
    size_t named = 0;
    for (const cJSON *s = special->child; s; s = s->next) {
        const char *v = s->valuestring;
        bool found = false;
        const char *n[] = {tok->bos_token, tok->eos_token, tok->unk_token, tok->pad_token, tok->word_delimiter_token};
        for (size_t i = 0; i < 5; i++) found |= n[i] && strcmp(n[i], v) == 0;
        for (size_t i = 0; i < tok->extra_special_count; i++) found |= strcmp(tok->extra_special[i], v) == 0;
        ds_test_check(t, found, "%s: special token %s missing", name, v);
        named++;
    }
    ds_test_check(t, named == (size_t)cJSON_GetArraySize(special), "%s: special token count", name);
    const cJSON *fe = cJSON_GetObjectItem(f, "features");
    ds_test_check(t, p->features.sampling_rate == json_id(fe, "sampling_rate") &&
                         p->features.do_normalize == json_bool(fe, "do_normalize") &&
                         p->features.return_attention_mask == json_bool(fe, "return_attention_mask") &&
                         p->features.padding_value == (float)cJSON_GetObjectItem(fe, "padding_value")->valuedouble &&
                         p->features.feature_size == 1,
                  "%s: feature extractor settings (from %s)", name, p->features_file);
}

static void print_ids(const char *label, const int32_t *ids, size_t n) {
    printf("    %s:", label);
    for (size_t i = 0; i < n; i++) printf(" %d", ids[i]);
    printf("\n");
}

static void check_encode(ds_test *t, const ds_w2v2_processor *procs, const cJSON *cases) {
    int counts[DIRS] = {0}, with_unknown = 0;
    ds_ctc_ids ids = {0};
    ds_err err = {0};
    for (const cJSON *c = cases->child; c; c = c->next) {
        const int d = dir_index(cJSON_GetObjectItem(c, "dir")->valuestring);
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(c, "ids");
        const int unknown_want = cJSON_GetObjectItem(c, "unknown")->valueint;
        const ds_ctc_tokenizer *tok = &procs[d].tokenizer;
        size_t unknown = 0;
        counts[d]++;
        if (!ds_test_check(t, ds_ctc_encode(tok, text, strlen(text), DS_CTC_OOV_UNK, "case", &ids, &unknown, &err) ==
                                  DS_OK,
                           "%s: \"%s\": %s", k_dirs[d], text, err.msg))
            continue;
        bool same = ids.n == (size_t)cJSON_GetArraySize(want);
        for (size_t i = 0; same && i < ids.n; i++) same = ids.v[i] == cJSON_GetArrayItem(want, (int)i)->valueint;
        if (!ds_test_check(t, same, "%s: ids of \"%s\" differ from transformers'", k_dirs[d], text)) {
            print_ids("ours", ids.v, ids.n);
            char *w = cJSON_PrintUnformatted(want);
            printf("    transformers: %s\n", w);
            free(w);
        }
        ds_test_check(t, unknown == (size_t)unknown_want, "%s: \"%s\": %zu unknown characters, transformers %d",
                      k_dirs[d], text, unknown, unknown_want);
        // The error mode fails exactly when some character is not in the vocabulary, naming it.
        ds_ctc_ids strict = {0};
        ds_err_clear(&err);
        const ds_status s = ds_ctc_encode(tok, text, strlen(text), DS_CTC_OOV_ERROR, "train.csv:7", &strict, NULL, &err);
        if (unknown_want > 0) {
            with_unknown++;
            ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(err.msg, "train.csv:7") && strstr(err.msg, "U+"),
                          "%s: \"%s\" with OOV_ERROR: %s", k_dirs[d], text, err.msg);
        } else {
            ds_test_check(t, s == DS_OK && strict.n == ids.n, "%s: \"%s\" with OOV_ERROR: %s", k_dirs[d], text, err.msg);
        }
        ds_ctc_ids_free(&strict);
        ds_err_clear(&err);
    }
    ds_ctc_ids_free(&ids);
    printf("  encode: %d / %d / %d transcripts (%d with unknown characters)\n", counts[0], counts[1], counts[2],
           with_unknown);
    ds_test_check(t, counts[0] > 150 && counts[1] > 150 && counts[2] > 150 && with_unknown > 50,
                  "the fixture's encode cases");
}

static void check_decode(ds_test *t, const ds_w2v2_processor *procs, const cJSON *cases) {
    int n = 0;
    ds_str out = {0};
    ds_err err = {0};
    int32_t ids[64];
    for (const cJSON *c = cases->child; c; c = c->next, n++) {
        const int d = dir_index(cJSON_GetObjectItem(c, "dir")->valuestring);
        const cJSON *jids = cJSON_GetObjectItem(c, "ids");
        const int len = cJSON_GetArraySize(jids);
        for (int i = 0; i < len && i < 64; i++) ids[i] = cJSON_GetArrayItem(jids, i)->valueint;
        ds_ctc_decode_options o = ds_ctc_decode_defaults();
        o.group_tokens = json_bool(c, "group");
        o.skip_special_tokens = json_bool(c, "skip");
        const char *want = cJSON_GetObjectItem(c, "text")->valuestring;
        if (!ds_test_check(t, ds_ctc_decode(&procs[d].tokenizer, ids, (size_t)len, &o, &out, &err) == DS_OK, "%s",
                           err.msg))
            continue;
        if (!ds_test_check(t, strcmp(out.v, want) == 0, "%s: decode (group %d, skip %d) \"%s\", transformers \"%s\"",
                           k_dirs[d], o.group_tokens, o.skip_special_tokens, out.v, want))
            print_ids("ids", ids, (size_t)len);
    }
    ds_str_free(&out);
    printf("  decode: %d id sequences\n", n);
    ds_test_check(t, n == 3 * 120 * DIRS, "the fixture's decode cases: %d", n);
}

static void check_argmax(ds_test *t) {
    const float logits[4 * 3] = {0, 2, 1, 5, 5, 1, NAN, 0, -1, -1, -1, -1};  // (T=4, V=3)
    int32_t ids[4];
    ds_ctc_argmax(logits, 4, 3, ids);
    ds_test_check(t, ids[0] == 1 && ids[1] == 0 && ids[2] == 1 && ids[3] == 0,
                  "argmax: first maximum, NaN never wins: %d %d %d %d", ids[0], ids[1], ids[2], ids[3]);
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

// A scratch directory with the given vocab.json and tokenizer_config.json (NULL: absent).
static const char *scratch_dir(const char *name, const char *vocab, const char *config, char *buf, size_t cap) {
    ds_test_tmpfile(name, buf, cap);
    mkdir(buf, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/vocab.json", buf);
    remove(path);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", buf);
    remove(path);
    if (vocab) write_file(buf, "vocab.json", vocab);
    if (config) write_file(buf, "tokenizer_config.json", config);
    return buf;
}

static void expect_load_error(ds_test *t, const char *name, const char *vocab, const char *config, ds_status status,
                              const char *phrase) {
    char dir[512];
    scratch_dir(name, vocab, config, dir, sizeof dir);
    ds_ctc_tokenizer tok;
    ds_err err = {0};
    const ds_status s = ds_ctc_tokenizer_load(dir, &tok, &err);
    ds_test_check(t, s == status && strstr(err.msg, phrase), "%s: status %s \"%s\", expected %s with \"%s\"", name,
                  ds_status_name(s), err.msg, ds_status_name(status), phrase);
    if (s == DS_OK) ds_ctc_tokenizer_free(&tok);
    printf("  %-22s -> %s\n", name, err.msg);
}

static void check_bad_dirs(ds_test *t) {
    const char *v = "{\"<pad>\": 0, \"<unk>\": 1, \"|\": 2, \"A\": 3}";
    expect_load_error(t, "tok_no_vocab", NULL, NULL, DS_ERR_IO, "vocab.json");
    expect_load_error(t, "tok_bad_json", "{\"a\": 0,", NULL, DS_ERR_FORMAT, "vocab.json:1: not valid JSON");
    expect_load_error(t, "tok_bad_id", "{\"a\": -1}", NULL, DS_ERR_FORMAT, "non-negative integer");
    expect_load_error(t, "tok_nested", "{\"en\": {\"a\": 0}}", NULL, DS_ERR_UNSUPPORTED, "nested vocabulary");
    expect_load_error(t, "tok_target_lang", v, "{\"target_lang\": \"en\"}", DS_ERR_UNSUPPORTED, "target_lang");
    expect_load_error(t, "tok_bad_bool", v, "{\"do_lower_case\": \"yes\"}", DS_ERR_FORMAT, "do_lower_case");
    expect_load_error(t, "tok_no_pad", v, "{\"pad_token\": null}", DS_ERR_UNSUPPORTED, "pad_token");
    expect_load_error(t, "tok_single_word", v,
                      "{\"added_tokens_decoder\": {\"9\": {\"content\": \"<x>\", \"single_word\": true}}}",
                      DS_ERR_UNSUPPORTED, "single_word");
    expect_load_error(t, "tok_ok", v, NULL, DS_OK, "");
    char dir[512];
    ds_w2v2_processor p;
    ds_err err = {0};
    scratch_dir("proc_no_features", v, NULL, dir, sizeof dir);
    ds_test_check(t, ds_w2v2_processor_load(dir, &p, &err) == DS_ERR_IO && strstr(err.msg, "preprocessor_config.json"),
                  "a processor directory without feature-extractor settings: %s", err.msg);
    write_file(dir, "preprocessor_config.json", "{\"feature_size\": 80}");
    ds_err_clear(&err);
    ds_test_check(t, ds_w2v2_processor_load(dir, &p, &err) == DS_ERR_UNSUPPORTED && strstr(err.msg, "feature_size"),
                  "a spectrogram feature extractor is refused: %s", err.msg);
    write_file(dir, "preprocessor_config.json", "{\"sampling_rate\": 8000}");
    // processor_config.json's nested settings win over preprocessor_config.json, as in HF.
    write_file(dir, "processor_config.json", "{\"feature_extractor\": {\"sampling_rate\": 22050}}");
    ds_err_clear(&err);
    if (ds_test_check(t, ds_w2v2_processor_load(dir, &p, &err) == DS_OK, "%s", err.msg)) {
        ds_test_check(t, p.features.sampling_rate == 22050 && strcmp(p.features_file, "processor_config.json") == 0,
                      "processor_config.json's feature_extractor wins: %d Hz from %s", p.features.sampling_rate,
                      p.features_file);
        ds_w2v2_processor_free(&p);
    }
}

int main(void) {
    ds_test t = ds_test_begin("ctc_tokenizer");
    char path[512];
    char *text = ds_test_read_file(audio_fixture("tokenizer.json", path, sizeof path), NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    ds_w2v2_processor procs[DIRS];
    memset(procs, 0, sizeof procs);
    bool loaded = ds_test_check(&t, j != NULL, "%s: cannot read", path);
    for (int d = 0; d < DIRS && loaded; d++) {
        ds_err err = {0};
        loaded = ds_test_check(&t, ds_w2v2_processor_load(audio_fixture(k_dirs[d], path, sizeof path), &procs[d], &err) ==
                                       DS_OK,
                               "%s: %s", k_dirs[d], err.msg);
        if (loaded) check_facts(&t, k_dirs[d], &procs[d], cJSON_GetObjectItem(cJSON_GetObjectItem(j, "dirs"), k_dirs[d]));
    }
    if (loaded) {
        ds_test_check(&t, strcmp(procs[0].features_file, "preprocessor_config.json") == 0 &&
                              strcmp(procs[2].features_file, "processor_config.json") == 0,
                      "layouts: hub from %s, transformers 5 from %s", procs[0].features_file, procs[2].features_file);
        check_encode(&t, procs, cJSON_GetObjectItem(j, "encode"));
        check_decode(&t, procs, cJSON_GetObjectItem(j, "decode"));
    }
    for (int d = 0; d < DIRS; d++) ds_w2v2_processor_free(&procs[d]);
    cJSON_Delete(j);
    check_argmax(&t);
    check_bad_dirs(&t);
    return ds_test_finish(&t);
}
