// SHA-256 (runtime/io/sha256.c), which the hub checks downloads with: FIPS 180-4's test vectors,
// the same digest however the input is split into updates, and a file's digest.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/sha256.h"
#include "../test_util.h"

static void digest(const void *data, size_t n, size_t chunk, char hex[65]) {
    ds_sha256 s;
    ds_sha256_init(&s);
    for (size_t at = 0; at < n; at += chunk) ds_sha256_update(&s, (const char *)data + at, n - at < chunk ? n - at : chunk);
    ds_sha256_final_hex(&s, hex);
}

int main(void) {
    ds_test t = ds_test_begin("sha256");
    char hex[65];
    digest("", 0, 1, hex);
    ds_test_check(&t, strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0, "'': %s", hex);
    digest("abc", 3, 3, hex);
    ds_test_check(&t, strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "abc: %s", hex);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  // 448 bits: padding spills a block
    digest(two, strlen(two), 7, hex);
    ds_test_check(&t, strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0, "two blocks: %s",
                  hex);
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    const size_t chunks[] = {1, 63, 64, 65, 4096, 1000000};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        digest(million, 1000000, chunks[i], hex);
        ds_test_check(&t, strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
                      "a million 'a' in chunks of %zu: %s", chunks[i], hex);
    }
    char path[512];
    ds_test_tmpfile("sha256_million", path, sizeof path);
    FILE *f = fopen(path, "wb");
    if (f) fwrite(million, 1, 1000000, f), fclose(f);
    ds_err err = {0};
    ds_test_check(&t, ds_sha256_file(path, hex, &err) == DS_OK &&
                          strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
                  "file: %s %s", hex, err.msg);
    ds_test_check(&t, ds_sha256_file("/nonexistent/file", hex, &err) == DS_ERR_IO && strstr(err.msg, "/nonexistent/file"),
                  "missing file: %s", err.msg);
    free(million);
    return ds_test_finish(&t);
}
