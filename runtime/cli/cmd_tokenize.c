// `downstream tokenize`: lines of text on stdin to BERT model inputs on stdout, one JSON object
// per line, with the ids of Hugging Face's BertTokenizerFast. A line holding a TAB is a sentence
// pair (text<TAB>text_pair, split at the first TAB).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/text/wordpiece.h"
#include "commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: downstream tokenize --model DIR [--max-length N] [--pad] [--no-truncation]\n"
            "\n"
            "Reads lines of UTF-8 text on stdin (text, or text<TAB>text_pair for a sentence pair) and\n"
            "writes one JSON object per line: {\"input_ids\": [...], \"token_type_ids\": [...],\n"
            "\"attention_mask\": [...]}, as transformers' BertTokenizerFast would encode it.\n"
            "\n"
            "  --model DIR       a BERT directory: tokenizer.json or vocab.txt, and tokenizer_config.json when present\n"
            "  --max-length N    longest encoding, special tokens included (default: the config's\n"
            "                    model_max_length; none when it has none)\n"
            "  --pad             pad every line with [PAD] to the max length (attention_mask 0)\n"
            "  --no-truncation   keep lines longer than the max length whole (default: truncate,\n"
            "                    \"longest_first\" for pairs)\n");
}

static void print_list(FILE *out, const char *key, const int32_t *v, size_t n, bool last) {
    fprintf(out, "\"%s\": [", key);
    for (size_t i = 0; i < n; i++) fprintf(out, i ? ", %d" : "%d", v[i]);
    fputs(last ? "]}\n" : "], ", out);
}

static int tokenize_stream(const ds_wp_tokenizer *tok, const ds_wp_encode_opts *opts, FILE *in, FILE *out) {
    ds_wp_scratch scratch = {0};
    ds_wp_encoding enc = {0};
    ds_err err = {0};
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t n = (size_t)len;
        if (n > 0 && line[n - 1] == '\n') n--;
        const char *tab = memchr(line, '\t', n);
        const size_t text_len = tab ? (size_t)(tab - line) : n;
        if (ds_wp_encode(tok, line, text_len, tab ? tab + 1 : NULL, tab ? n - text_len - 1 : 0, opts, &scratch, &enc,
                         &err) != DS_OK) {
            fprintf(stderr, "downstream tokenize: stdin line %zu: %s\n", lineno, err.msg);
            rc = 1;
            break;
        }
        fputc('{', out);
        print_list(out, "input_ids", enc.input_ids, enc.len, false);
        print_list(out, "token_type_ids", enc.token_type_ids, enc.len, false);
        print_list(out, "attention_mask", enc.attention_mask, enc.len, true);
    }
    if (rc == 0 && ferror(in)) {
        fprintf(stderr, "downstream tokenize: reading stdin: %s\n", strerror(errno));
        rc = 1;
    }
    if (rc == 0 && fflush(out) != 0) {
        fprintf(stderr, "downstream tokenize: writing stdout: %s\n", strerror(errno));
        rc = 1;
    }
    free(line);
    ds_wp_encoding_free(&enc);
    ds_wp_scratch_free(&scratch);
    return rc;
}

int ds_cmd_tokenize(int argc, char **argv) {
    const char *model = NULL;
    long long max_length = -1;  // -1: the config's model_max_length
    bool pad = false, truncate = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--max-length") == 0 && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            max_length = strtoll(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end != '\0' || max_length < 1) {
                fprintf(stderr, "downstream tokenize: --max-length needs a positive integer, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--pad") == 0) {
            pad = true;
        } else if (strcmp(argv[i], "--no-truncation") == 0) {
            truncate = false;
        } else {
            fprintf(stderr, "downstream tokenize: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (model == NULL) {
        fprintf(stderr, "downstream tokenize: --model DIR is required\n");
        usage(stderr);
        return 2;
    }
    ds_wp_tokenizer tok;
    ds_err err = {0};
    if (ds_wp_tokenizer_load(model, &tok, &err) != DS_OK) {
        fprintf(stderr, "downstream tokenize: %s\n", err.msg);
        return 1;
    }
    const size_t length = max_length > 0 ? (size_t)max_length : (size_t)tok.settings.model_max_length;
    if (pad && length == 0) {
        fprintf(stderr,
                "downstream tokenize: --pad needs --max-length (%s/tokenizer_config.json gives no "
                "model_max_length)\n",
                model);
        ds_wp_tokenizer_free(&tok);
        return 2;
    }
    const ds_wp_encode_opts opts = {.max_length = length, .truncate = truncate, .pad = pad};
    const int rc = tokenize_stream(&tok, &opts, stdin, stdout);
    ds_wp_tokenizer_free(&tok);
    return rc;
}
