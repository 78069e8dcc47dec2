// Every class of malformed safetensors file must be refused with DS_ERR_FORMAT (or DS_ERR_IO)
// and a message that names the file, the tensor at fault where there is one, and what is wrong;
// never a crash or a leak (this test also runs under ASan/UBSan). Then a sweep: every truncation
// of a valid file and many corruptions of its header byte by byte must be refused, or accepted
// only when still valid, without a crash.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

// Writes [u64 LE hlen][json][data_bytes zero bytes] to path; hlen = strlen(json) when hlen < 0.
static void write_raw(const char *path, const char *json, long long hlen, size_t data_bytes) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    const unsigned long long n = hlen < 0 ? strlen(json) : (unsigned long long)hlen;
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
    fwrite(len, 1, 8, fp);
    fwrite(json, 1, strlen(json), fp);
    for (size_t i = 0; i < data_bytes; i++) fputc(0, fp);
    fclose(fp);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    fwrite(p, 1, n, fp);
    fclose(fp);
}

typedef struct bad_case {
    const char *what;
    const char *json;
    long long hlen;     // header length field; -1: the JSON's length
    size_t data_bytes;  // zero bytes after the header
    const char *expect[3];  // substrings the message must hold (besides the file name)
} bad_case;

#define F32_1(name, b, e) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" #b "," #e "]}"

static const bad_case k_cases[] = {
    {"header length past the end", "{}", 1000, 0, {"header length 1000", "past the end"}},
    {"absurd header length", "{}", 1LL << 62, 0, {"100 MB limit"}},
    {"invalid JSON", "{\"w\": {\"dtype\": ", -1, 0, {"not valid JSON"}},
    {"JSON not an object", "[1, 2]", -1, 0, {"start with '{'"}},
    {"trailing garbage after the JSON", "{} x", -1, 0, {"trailing bytes"}},
    {"invalid UTF-8", "{\"w\xff\":1}", -1, 0, {"UTF-8"}},
    {"entry not an object", "{\"w\": 5}", -1, 0, {"'w'", "must be an object"}},
    {"missing dtype", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, {"'w'", "missing \"dtype\""}},
    {"dtype not a string", "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, {"'w'", "string"}},
    {"unknown dtype", "{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4,
     {"'w'", "unknown dtype \"F33\""}},
    {"missing shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", -1, 4, {"'w'", "missing \"shape\""}},
    {"shape not an array", "{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", -1, 4,
     {"'w'", "\"shape\" must be an array"}},
    {"negative dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", -1, 4,
     {"'w'", "shape[1]", "non-negative integer"}},
    {"non-integer dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", -1, 4,
     {"'w'", "shape[0]", "non-negative integer"}},
    {"string dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", -1, 4,
     {"'w'", "shape[0]"}},
    {"too many dims", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1],\"data_offsets\":[0,4]}}", -1, 4,
     {"'w'", "6 dims", "at most 5"}},
    {"missing data_offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", -1, 4, {"'w'", "missing \"data_offsets\""}},
    {"one offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", -1, 4, {"'w'", "[begin, end]"}},
    {"negative offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", -1, 4,
     {"'w'", "[begin, end]"}},
    {"offset as a string", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", -1, 4,
     {"'w'", "[begin, end]"}},
    {"offsets reversed", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", -1, 4,
     {"'w'", "[4, 0]", "end before"}},
    {"offsets past the data", "{" F32_1("w", 0, 4) "," F32_1("v", 4, 8) "}", -1, 6,
     {"'v'", "[4, 8]", "past the data section (6 bytes"}},
    {"size mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,8]}}", -1, 8,
     {"tensor 'w': data_offsets [0, 8] hold 8 bytes but shape (3, 2) of F32 needs 24"}},
    {"shape overflow", "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]}}", -1,
     8, {"'w'", "more than 2^64 bytes"}},
    {"overlapping tensors", "{" F32_1("a", 0, 4) ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]}}",
     -1, 10, {"'b'", "overlap tensor 'a'"}},
    {"identical offsets", "{" F32_1("a", 0, 4) "," F32_1("b", 0, 4) "}", -1, 4, {"overlap tensor"}},
    {"gap between tensors", "{" F32_1("a", 0, 4) "," F32_1("b", 8, 12) "}", -1, 12, {"'b'", "bytes [4, 8)"}},
    {"trailing data bytes", "{" F32_1("a", 0, 4) "}", -1, 12, {"holds 12 bytes", "end at byte 4"}},
    {"duplicate tensor name", "{" F32_1("a", 0, 4) "," F32_1("a", 4, 8) "}", -1, 8, {"'a'", "twice"}},
    {"metadata not an object", "{\"__metadata__\":[\"x\"]," F32_1("a", 0, 4) "}", -1, 4,
     {"__metadata__", "object of string to string"}},
    {"metadata value not a string", "{\"__metadata__\":{\"ok\":\"1\",\"epoch\":3}," F32_1("a", 0, 4) "}", -1, 4,
     {"__metadata__", "'epoch'", "must be a string"}},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", -1, 0, {"__metadata__", "twice"}},
};

// Refused with `want`, a message that names the file and holds every expected substring, and
// *f left empty.
static void expect_refused(ds_test *t, const char *what, const char *path, ds_status want, const char *const *expect,
                           int n_expect) {
    ds_st_file f;
    ds_err err = {0};
    const ds_status s = ds_st_open(path, &f, &err);
    bool ok = s == want && strstr(err.msg, path) != NULL;
    for (int i = 0; i < n_expect && expect[i]; i++) ok = ok && strstr(err.msg, expect[i]) != NULL;
    ds_test_check(t, ok, "%s: status %s, message '%s'", what, ds_status_name(s), err.msg);
    if (getenv("DS_TEST_VERBOSE")) printf("%-32s %s\n", what, err.msg);
    ds_test_check(t, f.tensors == NULL && f.map == NULL && f.meta == NULL && f.path == NULL && f.count == 0,
                  "%s: the file struct is not left empty", what);
    ds_st_close(&f);  // frees an accepted file; harmless on a refused (empty) one
}

static void check_cases(ds_test *t) {
    char path[1024];
    ds_test_tmpfile("malformed.safetensors", path, sizeof path);
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const bad_case *c = &k_cases[i];
        write_raw(path, c->json, c->hlen, c->data_bytes);
        expect_refused(t, c->what, path, DS_ERR_FORMAT, c->expect, 3);
    }
    const char *short_msg[] = {"shorter than the 8-byte header length"};
    write_bytes(path, "", 0);
    expect_refused(t, "empty file", path, DS_ERR_FORMAT, short_msg, 1);
    write_bytes(path, "\x02\x00\x00", 3);
    expect_refused(t, "3-byte file", path, DS_ERR_FORMAT, short_msg, 1);
    unlink(path);
    const char *missing[] = {"cannot open"};
    expect_refused(t, "missing file", path, DS_ERR_IO, missing, 1);
    char dir[1024];
    ds_test_fixture("safetensors", dir, sizeof dir);
    const char *not_file[] = {"not a regular file"};
    expect_refused(t, "a folder", dir, DS_ERR_IO, not_file, 1);
}

// Valid files the reader must accept: unknown keys in an entry (Python ignores them), an empty
// tensor at the end, and tensors not aligned to their element size (other writers' files).
static void check_accepted(ds_test *t) {
    char path[1024];
    ds_test_tmpfile("unusual.safetensors", path, sizeof path);
    ds_st_file f;
    ds_err err = {0};
    write_raw(path,
              "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"note\":[1,{}]},"
              "\"e\":{\"dtype\":\"I64\",\"shape\":[3,0],\"data_offsets\":[4,4]}}",
              -1, 4);
    if (ds_test_check(t, ds_st_open(path, &f, &err) == DS_OK, "extra key and empty tensor: %s", err.msg)) {
        ds_test_check(t, f.count == 2 && ds_st_find(&f, "e")->ndim == 2, "extra key and empty tensor: contents");
        ds_st_close(&f);
    }
    // A U8 first puts the F32 and the I64 one byte past an 8-aligned data section (the header is
    // padded to 8 bytes), so both are misaligned in the mapping; the reader copies them.
    char json[256];
    snprintf(json, sizeof json, "%-200s",
             "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
             "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]},"
             "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[9,17]}}");
    const size_t hl = strlen(json);  // 200: a multiple of 8
    unsigned char *file = calloc(8 + hl + 17, 1);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((unsigned long long)hl >> (8 * i));
    memcpy(file + 8, json, hl);
    const float w[2] = {1.5f, -3.0f};
    const long long iv = -123456789012LL;
    file[8 + hl] = 7;
    memcpy(file + 8 + hl + 1, w, sizeof w);
    memcpy(file + 8 + hl + 9, &iv, sizeof iv);
    write_bytes(path, file, 8 + hl + 17);
    free(file);
    ds_err_clear(&err);
    if (ds_test_check(t, ds_st_open(path, &f, &err) == DS_OK, "unaligned: %s", err.msg)) {
        ds_tensor tw, ti;
        ds_err_clear(&err);
        const bool views = ds_st_view(&f, "w", DS_F32, &tw, &err) == DS_OK &&
                           ds_st_view(&f, "i", DS_I64, &ti, &err) == DS_OK;
        ds_test_check(t, f.map_is_heap, "unaligned: the file was not copied");
        ds_test_check(t, views && (uintptr_t)tw.data % 4 == 0 && (uintptr_t)ti.data % 8 == 0,
                      "unaligned: views not aligned: %s", err.msg);
        if (views)
            ds_test_check(t, ((const float *)tw.data)[1] == -3.0f && *(const long long *)ti.data == iv &&
                                 *(const unsigned char *)ds_st_find(&f, "b")->data == 7,
                          "unaligned: values changed by the copy");
        ds_st_close(&f);
    }
    unlink(path);
}

// Truncating a valid file anywhere, or corrupting any byte of its header, must not crash: the
// result is refused, or, if still a valid file, accepted with every tensor inside the file.
static void sweep(ds_test *t) {
    char src[1024], path[1024];
    ds_test_fixture("safetensors/values.safetensors", src, sizeof src);
    ds_test_tmpfile("sweep.safetensors", path, sizeof path);
    FILE *fp = fopen(src, "rb");
    if (!ds_test_check(t, fp != NULL, "cannot open %s", src)) return;
    unsigned char buf[4096];  // the fixture is ~1 KB
    const size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    size_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | buf[i];
    int accepted_truncations = 0, bad_accepts = 0, refused = 0, runs = 0;
    ds_st_file f;
    ds_err err;
    for (size_t len = 0; len < n; len++) {
        write_bytes(path, buf, len);
        ds_err_clear(&err);
        const ds_status s = ds_st_open(path, &f, &err);
        if (s == DS_OK) accepted_truncations++, ds_st_close(&f);
        else bad_accepts += strstr(err.msg, path) == NULL;  // every refusal names the file
    }
    ds_test_check(t, accepted_truncations == 0 && bad_accepts == 0,
                  "truncations: %d accepted, %d messages without the file name", accepted_truncations, bad_accepts);
    const unsigned char subs[] = {0x00, 0xff, '"', '{', '}', '[', ']', ',', ':', '9', '-', '.', 'e', ' ', '\\'};
    bad_accepts = 0;
    for (size_t pos = 0; pos < 8 + hl && pos < n; pos++) {
        for (size_t k = 0; k < sizeof subs; k++) {
            if (buf[pos] == subs[k]) continue;
            unsigned char copy[4096];
            memcpy(copy, buf, n);
            copy[pos] = subs[k];
            write_bytes(path, copy, n);
            ds_err_clear(&err);
            runs++;
            if (ds_st_open(path, &f, &err) != DS_OK) {
                refused++;
                bad_accepts += strstr(err.msg, path) == NULL;
                continue;
            }
            // Accepted: every byte of every tensor must lie inside the data section (or the copy).
            size_t hl_now = 0;  // the corruption may have changed the header length
            for (int i = 7; i >= 0; i--) hl_now = (hl_now << 8) | copy[i];
            const char *lo = (const char *)f.map + (f.map_is_heap ? 0 : 8 + hl_now);
            const char *hi = (const char *)f.map + f.map_size;
            for (int i = 0; i < f.count; i++) {
                const char *d = f.tensors[i].data;
                bad_accepts += d < lo || d + (f.tensors[i].end - f.tensors[i].begin) > hi;
            }
            ds_st_close(&f);
        }
    }
    ds_test_check(t, bad_accepts == 0 && refused > runs / 2,
                  "header corruption: %d of %d refused, %d bad results", refused, runs, bad_accepts);
    unlink(path);
}

int main(void) {
    ds_test t = ds_test_begin("safetensors_malformed");
    check_cases(&t);
    check_accepted(&t);
    sweep(&t);
    return ds_test_finish(&t);
}
