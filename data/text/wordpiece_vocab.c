// vocab.txt: one token per line, its id the line number. Lookup is an open-addressing hash
// table (FNV-1a, linear probing) over the token bytes.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "wordpiece_internal.h"

ds_status ds_wp_read_file(const char *path, char **data, size_t *size, ds_err *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return ds_err_set(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *p = realloc(buf, cap * 2);
        if (p == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    const int failed = ferror(f);
    fclose(f);
    if (buf == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory reading the file", path);
    if (failed) {
        free(buf);
        return ds_err_set(err, DS_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return DS_OK;
}

static uint32_t fnv1a(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int32_t ds_wp_vocab_lookup(const ds_wp_vocab *v, const char *token, size_t len) {
    if (v->slot_count == 0) return -1;
    const uint32_t mask = v->slot_count - 1;
    for (uint32_t i = fnv1a(token, len) & mask;; i = (i + 1) & mask) {
        const int32_t id = v->slots[i];
        if (id < 0) return -1;
        if (v->lengths[id] == len && memcmp(v->strings + v->offsets[id], token, len) == 0) return id;
    }
}

// Later lines win, as in tokenizers (its HashMap insert overwrites).
static void insert(ds_wp_vocab *v, int32_t id) {
    const uint32_t mask = v->slot_count - 1;
    const char *s = v->strings + v->offsets[id];
    const uint32_t len = v->lengths[id];
    for (uint32_t i = fnv1a(s, len) & mask;; i = (i + 1) & mask) {
        const int32_t old = v->slots[i];
        if (old < 0 || (v->lengths[old] == len && memcmp(v->strings + v->offsets[old], s, len) == 0)) {
            v->slots[i] = id;
            return;
        }
    }
}

// Length of line[0..len) without trailing White_Space (Rust's str::trim_end); fails on
// invalid UTF-8.
static bool trimmed_length(const char *line, size_t len, size_t *out) {
    size_t i = 0, keep = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        const utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)line + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) return false;
        i += (size_t)k;
        if (!ds_wp_cp_is_whitespace(cp)) keep = i;
    }
    *out = keep;
    return true;
}

// The hash table over tokens 0..count-1 (strings, offsets and lengths already set).
static ds_status index_tokens(ds_wp_vocab *v, const char *what, ds_err *err) {
    v->slot_count = 1;
    while (v->slot_count < 2 * (uint32_t)v->count) v->slot_count *= 2;
    v->slots = malloc(v->slot_count * sizeof *v->slots);
    if (v->slots == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for %d tokens", what, (int)v->count);
    memset(v->slots, 0xFF, v->slot_count * sizeof *v->slots);  // -1: empty
    for (int32_t id = 0; id < v->count; id++) {
        if (v->lengths[id] > v->max_token_bytes) v->max_token_bytes = v->lengths[id];
        insert(v, id);
    }
    return DS_OK;
}

ds_status ds_wp_vocab_from_tokens(const char *const *tokens, int32_t count, const char *what, ds_wp_vocab *v,
                                  ds_err *err) {
    *v = (ds_wp_vocab){0};
    DS_REQUIRE(err, count > 0, DS_ERR_FORMAT, "%s: the vocabulary is empty", what);
    size_t total = 0;
    for (int32_t i = 0; i < count; i++) total += strlen(tokens[i]) + 1;
    DS_REQUIRE(err, total < UINT32_MAX / 2, DS_ERR_FORMAT, "%s: %zu bytes is too large for a vocabulary", what, total);
    v->strings = malloc(total);
    v->offsets = malloc((size_t)count * sizeof *v->offsets);
    v->lengths = malloc((size_t)count * sizeof *v->lengths);
    if (v->strings == NULL || v->offsets == NULL || v->lengths == NULL) {
        ds_wp_vocab_free(v);
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for %d tokens", what, (int)count);
    }
    size_t at = 0;
    for (int32_t i = 0; i < count; i++) {
        const size_t len = strlen(tokens[i]);
        memcpy(v->strings + at, tokens[i], len + 1);
        v->offsets[i] = (uint32_t)at;
        v->lengths[i] = (uint32_t)len;
        at += len + 1;
    }
    v->count = count;
    const ds_status s = index_tokens(v, what, err);
    if (s != DS_OK) ds_wp_vocab_free(v);
    return s;
}

ds_status ds_wp_vocab_read(const char *path, ds_wp_vocab *v, ds_err *err) {
    *v = (ds_wp_vocab){0};
    char *data;
    size_t size;
    DS_TRY(ds_wp_read_file(path, &data, &size, err));
    if (size >= UINT32_MAX / 2) {
        free(data);
        return ds_err_set(err, DS_ERR_FORMAT, "%s: %zu bytes is too large for a vocabulary", path, size);
    }
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    if (size > 0 && data[size - 1] != '\n') lines++;  // a last line without its newline
    if (lines == 0) {
        free(data);
        return ds_err_set(err, DS_ERR_FORMAT, "%s: the vocabulary is empty", path);
    }
    v->offsets = malloc(lines * sizeof *v->offsets);
    v->lengths = malloc(lines * sizeof *v->lengths);
    if (v->offsets == NULL || v->lengths == NULL) {
        free(data);
        ds_wp_vocab_free(v);
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for %zu tokens", path, lines);
    }
    // The file buffer becomes the string pool: each line's end is overwritten with a NUL.
    v->strings = data;
    size_t start = 0;
    for (size_t id = 0; id < lines; id++) {
        const char *nl = memchr(data + start, '\n', size - start);
        const size_t end = nl ? (size_t)(nl - data) : size;
        size_t len;
        if (!trimmed_length(data + start, end - start, &len)) {
            const size_t line = id + 1;
            ds_wp_vocab_free(v);
            return ds_err_set(err, DS_ERR_FORMAT, "%s:%zu: the token is not valid UTF-8", path, line);
        }
        data[start + len] = '\0';
        v->offsets[id] = (uint32_t)start;
        v->lengths[id] = (uint32_t)len;
        start = end + 1;
    }
    v->count = (int32_t)lines;
    const ds_status s = index_tokens(v, path, err);
    if (s != DS_OK) ds_wp_vocab_free(v);
    return s;
}

void ds_wp_vocab_free(ds_wp_vocab *v) {
    if (v == NULL) return;
    free(v->strings);
    free(v->offsets);
    free(v->lengths);
    free(v->slots);
    *v = (ds_wp_vocab){0};
}
