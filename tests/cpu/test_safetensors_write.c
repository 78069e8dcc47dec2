// ds_st_write against the Python library: rewriting the tensors and metadata of every fixture
// (written by safetensors.torch.save_file) must give the identical bytes, whatever the order the
// entries are passed in. Then a round trip through ds_st_open, the atomic-write guarantees
// (no temporary left behind, the old file intact on failure) and argument checks.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

static const ds_device k_cpu = {DS_DEVICE_CPU, 0};

// Rewrites fixture `name` from what ds_st_open read and compares the bytes.
static void check_identical(ds_test *t, const char *name) {
    char rel[256], path[1024], out[1024];
    snprintf(rel, sizeof rel, "safetensors/%s", name);
    ds_test_fixture(rel, path, sizeof path);
    ds_test_tmpfile(name, out, sizeof out);
    ds_st_file f;
    ds_err err = {0};
    if (!ds_test_check(t, ds_st_open(path, &f, &err) == DS_OK, "open %s: %s", path, err.msg)) return;
    // Entries in reverse header order, so that the writer has to sort them itself.
    ds_st_entry *e = calloc((size_t)f.count + 1, sizeof *e);
    for (int i = 0; i < f.count; i++) {
        const ds_st_tensor *s = &f.tensors[f.count - 1 - i];
        e[i].name = s->name;
        e[i].tensor = ds_tensor_make((void *)s->data, s->dtype, k_cpu, s->ndim, s->shape);
    }
    if (ds_test_check(t, ds_st_write(out, e, f.count, f.meta, f.meta_count, &err) == DS_OK, "write %s: %s", out,
                      err.msg)) {
        size_t n_want = 0, n_got = 0;
        unsigned char *want = (unsigned char *)ds_test_read_file(path, &n_want), *got = (unsigned char *)ds_test_read_file(out, &n_got);
        size_t first = 0;
        while (want && got && first < n_want && first < n_got && want[first] == got[first]) first++;
        ds_test_check(t, want && got && n_want == n_got && first == n_want,
                      "%s: bytes differ from the Python-written file (sizes %zu vs %zu, first difference at %zu)",
                      name, n_got, n_want, first);
        free(want);
        free(got);
    }
    unlink(out);
    free(e);
    ds_st_close(&f);
}

// No "<file>.tmp.*" may stay next to `out` after a write, successful or not.
static int count_temps(const char *out) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : out;
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    if (slash) *slash = 0;
    DIR *d = opendir(slash ? dir : ".");
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return n;
}

static void check_round_trip(ds_test *t) {
    char out[1024];
    ds_test_tmpfile("round_trip.safetensors", out, sizeof out);
    float w[2][3] = {{1.5f, -2.0f, 3.25f}, {0.0f, 1e-30f, -7.0f}};                    // (2, 3) host
    int64_t ids[4] = {0, -1, (int64_t)1 << 62, 5};                                        // (4) host
    unsigned short h[5] = {0x3f80, 0xbf80, 0x0000, 0x7f80, 0x4049};                       // (5) bf16 host
    unsigned char mask[3] = {1, 0, 1};                                                    // (3) host
    double s = 2.5;                                                                       // () host
    float nothing[1];                                                                     // (0) host
    const int64_t no_dims[1] = {0};
    ds_st_entry e[] = {
        {"w", ds_tensor_cpu2(w, DS_F32, 2, 3)},
        {"ids", ds_tensor_cpu1(ids, DS_I64, 4)},
        {"h", ds_tensor_cpu1(h, DS_BF16, 5)},
        {"mask", ds_tensor_cpu1(mask, DS_BOOL, 3)},
        {"s", ds_tensor_make(&s, DS_F64, k_cpu, 0, no_dims)},
        {"nothing", ds_tensor_cpu1(nothing, DS_F32, 0)},
    };
    const int n = (int)(sizeof e / sizeof e[0]);
    const ds_st_meta meta[] = {{"format", "pt"}, {"z", "last"}, {"a", "q\"uote\n"}};
    ds_err err = {0};
    // Written twice: the second write replaces the first atomically.
    for (int rep = 0; rep < 2; rep++)
        ds_test_check(t, ds_st_write(out, e, n, meta, 3, &err) == DS_OK, "write: %s", err.msg);
    ds_test_check(t, count_temps(out) == 0, "a temporary file was left behind");
    ds_st_file f;
    if (!ds_test_check(t, ds_st_open(out, &f, &err) == DS_OK, "read back: %s", err.msg)) return;
    ds_test_check(t, f.count == n && f.meta_count == 3, "read back %d tensors, %d metadata", f.count, f.meta_count);
    // The writer's order: by dtype rank (I64 > F64 > F32 > BF16 > BOOL), then by name.
    const char *order[] = {"ids", "s", "nothing", "w", "h", "mask"};
    for (int i = 0; i < f.count && i < n; i++)
        ds_test_check(t, strcmp(f.tensors[i].name, order[i]) == 0, "position %d: '%s', expected '%s'", i,
                      f.tensors[i].name, order[i]);
    for (int i = 0; i < n; i++) {
        const ds_st_tensor *r = ds_st_find(&f, e[i].name);
        if (!ds_test_check(t, r != NULL, "'%s' missing", e[i].name)) continue;
        bool same = r->dtype == e[i].tensor.dtype && r->ndim == e[i].tensor.ndim &&
                    r->end - r->begin == ds_tensor_nbytes(&e[i].tensor);
        for (int d = 0; same && d < r->ndim; d++) same = r->shape[d] == e[i].tensor.shape[d];
        same = same && memcmp(r->data, e[i].tensor.data, r->end - r->begin) == 0;
        ds_test_check(t, same, "'%s' differs after the round trip", e[i].name);
    }
    for (int i = 0; i < 3; i++) {
        const char *v = ds_st_meta_get(&f, meta[i].key);
        ds_test_check(t, v && strcmp(v, meta[i].value) == 0, "metadata '%s' lost", meta[i].key);
        ds_test_check(t, strcmp(f.meta[i].key, meta[i].key) == 0, "metadata order: %s", f.meta[i].key);
    }
    ds_st_close(&f);
    size_t before_n = 0;
    unsigned char *before = (unsigned char *)ds_test_read_file(out, &before_n);

    // Failures leave the old file untouched and no temporary behind.
    ds_err_clear(&err);
    ds_st_entry dup[] = {e[0], e[0]};
    ds_test_check(t, ds_st_write(out, dup, 2, NULL, 0, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "'w'"),
                  "duplicate names: '%s'", err.msg);
    ds_err_clear(&err);
    ds_st_entry bad_utf8[] = {{"bad\xff", e[0].tensor}};
    ds_test_check(t, ds_st_write(out, bad_utf8, 1, NULL, 0, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "UTF-8"),
                  "invalid UTF-8 name: '%s'", err.msg);
    ds_err_clear(&err);
    ds_st_entry strided[] = {{"t", e[0].tensor}};
    strided[0].tensor.stride[1] = 2;
    ds_test_check(t, ds_st_write(out, strided, 1, NULL, 0, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "'t'"),
                  "non-contiguous: '%s'", err.msg);
    ds_err_clear(&err);
    const ds_st_meta dup_meta[] = {{"k", "1"}, {"k", "2"}};
    ds_test_check(t, ds_st_write(out, e, 1, dup_meta, 2, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "'k'"),
                  "duplicate metadata keys: '%s'", err.msg);
    size_t after_n = 0;
    unsigned char *after = (unsigned char *)ds_test_read_file(out, &after_n);
    ds_test_check(t, before && after && before_n == after_n && memcmp(before, after, after_n) == 0,
                  "a failed write changed the existing file");
    ds_test_check(t, count_temps(out) == 0, "a failed write left a temporary file");
    free(before);
    free(after);
    unlink(out);

    ds_err_clear(&err);
    const char *nodir = "/nonexistent-dir-for-downstream/x.safetensors";
    ds_test_check(t, ds_st_write(nodir, e, n, NULL, 0, &err) == DS_ERR_IO && strstr(err.msg, nodir),
                  "unwritable folder: '%s'", err.msg);

    // No tensors but metadata: valid JSON that reads back (Python 0.8 writes invalid JSON here).
    ds_err_clear(&err);
    if (ds_test_check(t, ds_st_write(out, NULL, 0, meta, 1, &err) == DS_OK, "write meta only: %s", err.msg) &&
        ds_test_check(t, ds_st_open(out, &f, &err) == DS_OK, "read meta only: %s", err.msg)) {
        ds_test_check(t, f.count == 0 && f.meta_count == 1, "meta only: %d tensors, %d metadata", f.count,
                      f.meta_count);
        ds_st_close(&f);
    }
    unlink(out);
}

int main(void) {
    ds_test t = ds_test_begin("safetensors_write");
    const char *fixtures[] = {"values.safetensors", "layout.safetensors", "no_metadata.safetensors",
                              "empty_metadata.safetensors", "empty.safetensors"};
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) check_identical(&t, fixtures[i]);
    check_round_trip(&t);
    return ds_test_finish(&t);
}
