// Fuzz target: BERT tokenizer files (data/text/wordpiece.h): vocab.txt, tokenizer_config.json and
// tokenizer.json, and encoding with what they define. The input's parts, separated by NUL bytes:
// vocab.txt, tokenizer_config.json, tokenizer.json, a text, a second text; an empty part means
// no such file. A tokenizer that loads encodes the texts as a pair, truncated and padded to 24.
// Seeds: tests/fixtures/tokenizer/* (small vocabularies) and the trainer fixtures' model.
#include "../../data/text/wordpiece.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[5];
    size_t len[5] = {0};
    const int n = fuzz_split(data, size, part, len, 5);
    static const char *const names[3] = {"vocab.txt", "tokenizer_config.json", "tokenizer.json"};
    char dir[512], path[1024];
    if (fuzz_dir_make(dir, sizeof dir, "wordpiece") != 0) return 0;
    for (int i = 0; i < 3 && i < n; i++)
        if (len[i] > 0 && fuzz_write(dir, names[i], part[i], len[i], path, sizeof path) != 0) goto out;
    ds_wp_tokenizer tok;
    ds_err err = {0};
    const ds_status st = ds_wp_tokenizer_load(dir, &tok, &err);
    fuzz_note(st, &err);
    if (st == DS_OK) {
        ds_wp_scratch scratch = {0};
        ds_wp_encoding enc = {0};
        const ds_wp_encode_opts opts = {.max_length = 24, .truncate = true, .pad = true};
        const char *a = n > 3 ? (const char *)part[3] : "Hello, world!";
        const size_t alen = n > 3 ? len[3] : 13;
        const char *b = n > 4 ? (const char *)part[4] : NULL;
        ds_wp_encode(&tok, a, alen, b, n > 4 ? len[4] : 0, &opts, &scratch, &enc, &err);
        ds_wp_encode(&tok, a, alen, NULL, 0, NULL, &scratch, &enc, &err);
        ds_wp_encoding_free(&enc);
        ds_wp_scratch_free(&scratch);
        ds_wp_tokenizer_free(&tok);
    }
out:
    fuzz_dir_remove(dir);
    return 0;
}
