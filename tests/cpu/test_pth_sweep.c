// Sweeps over real checkpoints (written by torch): every truncation of each file must be refused
// with DS_ERR_FORMAT and a message naming it, and every single-byte corruption must be refused
// cleanly or read into tensors that lie inside the buffer. Each variant sits in a heap block of
// exactly its size, so that under ASan (scripts/test.sh runs this test there) any read outside
// it, any leak and any undefined behaviour fails the run; here it must simply not crash.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/pth.h"
#include "../test_util.h"

typedef struct tally {
    long accepted, refused, bad;  // bad: a refusal without the file's name, or *f not left empty
} tally;

static void open_one(const uint8_t *bytes, size_t n, tally *tl, unsigned *sink) {
    uint8_t *copy = malloc(n > 0 ? n : 1);  // exactly n bytes: ASan sees any read past them
    if (copy == NULL) return;
    if (n > 0) memcpy(copy, bytes, n);
    ds_pth_file f;
    ds_err err = {0};
    const ds_status s = ds_pth_open_memory(copy, n, "swept.pth", &f, &err);
    if (s == DS_OK) {
        tl->accepted++;
        for (int i = 0; i < f.count; i++)  // touch every byte the reader hands out
            for (size_t k = 0; k < f.tensors[i].nbytes; k++) *sink += ((const uint8_t *)f.tensors[i].data)[k];
    } else {
        tl->refused++;
        if (strstr(err.msg, "swept.pth") == NULL || f.tensors != NULL || f.count != 0 || f.path != NULL) {
            if (tl->bad == 0) printf("first bad refusal: status %s, '%s'\n", ds_status_name(s), err.msg);
            tl->bad++;
        }
    }
    ds_pth_close(&f);
    free(copy);
}

static uint8_t *fixture(ds_test *t, const char *file, size_t *n) {
    char path[1024], rel[128];
    snprintf(rel, sizeof rel, "pth/%s", file);
    uint8_t *bytes = (uint8_t *)ds_test_read_file(ds_test_fixture(rel, path, sizeof path), n);
    ds_test_check(t, bytes != NULL, "cannot read %s", path);
    return bytes;
}

static void truncations(ds_test *t, const char *file, unsigned *sink) {
    size_t n = 0;
    uint8_t *bytes = fixture(t, file, &n);
    if (bytes == NULL) return;
    tally tl = {0};
    for (size_t len = 0; len < n; len++) open_one(bytes, len, &tl, sink);
    ds_test_check(t, tl.accepted == 0 && tl.bad == 0 && tl.refused == (long)n,
                  "%s: of %zu truncations %ld were accepted and %ld refused badly", file, n, tl.accepted, tl.bad);
    tally whole = {0};
    open_one(bytes, n, &whole, sink);
    ds_test_check(t, whole.accepted == 1, "%s: the whole file is refused", file);
    free(bytes);
}

static void corruptions(ds_test *t, const char *file, unsigned *sink) {
    size_t n = 0;
    uint8_t *bytes = fixture(t, file, &n);
    if (bytes == NULL) return;
    const uint8_t values[] = {0x00, 0x80, 0xff};
    tally tl = {0};
    for (size_t i = 0; i < n; i++) {
        const uint8_t keep = bytes[i];
        for (size_t v = 0; v < sizeof values; v++) {
            bytes[i] = values[v] == keep ? (uint8_t)(keep ^ 0x55) : values[v];
            open_one(bytes, n, &tl, sink);
        }
        bytes[i] = keep;
    }
    ds_test_check(t, tl.bad == 0, "%s: %ld refusals without the file's name or with *f not empty", file, tl.bad);
    printf("%s: %zu corruptions: %ld accepted (the byte was data, padding or a name), %ld refused\n", file, 3 * n, tl.accepted, tl.refused);
    free(bytes);
}

int main(void) {
    ds_test t = ds_test_begin("test_pth_sweep");
    unsigned sink = 0;
    const char *truncated[] = {"values_zip.pth", "values_legacy.pth", "values_zip64.pth", "values_bigendian_zip.pth",
                               "model_zip.pth", "train_ckpt_legacy.pth", "misc_zip.pth", "v1_legacy.pth"};
    for (size_t i = 0; i < sizeof truncated / sizeof truncated[0]; i++) truncations(&t, truncated[i], &sink);
    const char *corrupted[] = {"values_zip.pth", "values_legacy.pth", "misc_zip.pth", "v1_legacy.pth",
                               "forbidden_eval_legacy.pth"};
    for (size_t i = 0; i < sizeof corrupted / sizeof corrupted[0]; i++) corruptions(&t, corrupted[i], &sink);
    printf("(checksum of every byte read: %u)\n", sink);
    return ds_test_finish(&t);
}
