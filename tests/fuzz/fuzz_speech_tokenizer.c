// Fuzz target: the Wav2Vec2 processor's files (data/audio/w2v2_processor.h, ctc_tokenizer.h):
// vocab.json, tokenizer_config.json, special_tokens_map.json, added_tokens.json and
// preprocessor_config.json, then encoding and decoding a transcript with the tokenizer they
// define. The input's parts, separated by NUL bytes, are those five files (an empty part: no such
// file) and a transcript. Seeds: tests/fixtures/wav2vec2 and the recipe vocabularies.
#include "../../data/audio/w2v2_processor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[6];
    size_t len[6] = {0};
    const int n = fuzz_split(data, size, part, len, 6);
    static const char *const names[5] = {"vocab.json", "tokenizer_config.json", "special_tokens_map.json",
                                         "added_tokens.json", "preprocessor_config.json"};
    char dir[512], path[1024];
    if (fuzz_dir_make(dir, sizeof dir, "speech_tok") != 0) return 0;
    for (int i = 0; i < 5 && i < n; i++)
        if (len[i] > 0 && fuzz_write(dir, names[i], part[i], len[i], path, sizeof path) != 0) goto out;
    ds_err err = {0};
    ds_ctc_tokenizer own;
    ds_w2v2_processor proc;
    const ds_ctc_tokenizer *tok = NULL;
    const bool with_features = n > 4 && len[4] > 0;
    const ds_status st = with_features ? ds_w2v2_processor_load(dir, &proc, &err) : ds_ctc_tokenizer_load(dir, &own, &err);
    fuzz_note(st, &err);
    if (st == DS_OK) tok = with_features ? &proc.tokenizer : &own;
    if (tok) {
        const char *text = n > 5 ? (const char *)part[5] : "HELLO WORLD";
        const size_t tlen = n > 5 ? len[5] : 11;
        ds_ctc_ids ids = {0};
        ds_str out = {0};
        if (ds_ctc_encode(tok, text, tlen, DS_CTC_OOV_UNK, "fuzz", &ids, NULL, &err) == DS_OK) {
            ds_ctc_decode_options o = ds_ctc_decode_defaults();
            ds_ctc_decode(tok, ids.v, ids.n, &o, &out, &err);
            o.group_tokens = false;
            o.skip_special_tokens = true;
            ds_ctc_decode(tok, ids.v, ids.n, &o, &out, &err);
        }
        // Ids from the text's bytes: out-of-range and negative ids decode too (to unk, as HF).
        int32_t raw[16];
        size_t nraw = 0;
        for (; nraw < 16 && nraw * 4 + 4 <= tlen; nraw++)
            raw[nraw] = (int32_t)((uint32_t)(uint8_t)text[nraw * 4] | (uint32_t)(uint8_t)text[nraw * 4 + 1] << 8 |
                                  (uint32_t)(uint8_t)text[nraw * 4 + 2] << 16 | (uint32_t)(uint8_t)text[nraw * 4 + 3] << 24);
        const ds_ctc_decode_options d = ds_ctc_decode_defaults();
        ds_ctc_decode(tok, raw, nraw, &d, &out, &err);
        ds_str_free(&out);
        ds_ctc_ids_free(&ids);
        if (with_features)
            ds_w2v2_processor_free(&proc);
        else
            ds_ctc_tokenizer_free(&own);
    }
out:
    fuzz_dir_remove(dir);
    return 0;
}
