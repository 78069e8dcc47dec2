// The containers around the pickle: every malformed zip archive (central directory, zip64
// records, local headers, compressed or encrypted entries, torch's layout inside it) and legacy
// stream (magic, protocol version, byte order, storage list and data section) is refused with
// DS_ERR_FORMAT and a message that names the file and the fault; valid variants (crafted zip64,
// legacy storage views) are read back. Also the fixtures torch wrote that must be refused, and
// I/O errors. Runs under ASan/UBSan too.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/io/pth.h"
#include "../pth_craft.h"
#include "../test_util.h"

static const float k_storage[6] = {1, 2, 3, 4, 5, 6};

static void put_u16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v) {
    put_u16(p, v & 0xffff);
    put_u16(p + 2, v >> 16);
}
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// {"w": a (2, 3) tensor over F32 storage "0"}.
static void good_pickle(craft_buf *b, bool legacy) {
    const int64_t shape[2] = {2, 3}, stride[2] = {3, 1};
    pk_dict_begin(b);
    pk_str(b, "w");
    pk_tensor(b, "FloatStorage", "0", 6, 0, 2, shape, stride, legacy);
    pk_dict_end(b);
}

static void good_zip(craft_buf *zip) {
    craft_buf b = {0};
    good_pickle(&b, false);
    const char *keys[] = {"0"};
    const void *data[] = {k_storage};
    const size_t sizes[] = {sizeof k_storage};
    craft_pth_zip(zip, &b, 1, keys, data, sizes);
    craft_free(&b);
}

static void good_legacy(craft_buf *out) {
    craft_buf b = {0};
    good_pickle(&b, true);
    const char *keys[] = {"0"};
    const void *data[] = {k_storage};
    const size_t sizes[] = {sizeof k_storage}, es[] = {4};
    craft_pth_legacy(out, &b, 1, keys, data, sizes, es);
    craft_free(&b);
}

static void expect(ds_test *t, const char *what, craft_buf *b, const char *e1, const char *e2) {
    ds_pth_file f;
    ds_err err = {0};
    const ds_status s = ds_pth_open_memory(b->p, b->len, "crafted.pth", &f, &err);
    const bool ok = s == DS_ERR_FORMAT && strstr(err.msg, "crafted.pth") && (!e1 || strstr(err.msg, e1)) &&
                    (!e2 || strstr(err.msg, e2));
    ds_test_check(t, ok, "%s: status %s, message '%s' (want '%s', '%s')", what, ds_status_name(s), err.msg,
                  e1 ? e1 : "", e2 ? e2 : "");
    ds_test_check(t, f.tensors == NULL && f.count == 0 && f.path == NULL, "%s: *f not left empty", what);
    if (getenv("DS_TEST_VERBOSE")) printf("%-40s %s\n", what, err.msg);
    ds_pth_close(&f);
    craft_free(b);
}

// Reads b and checks that tensor "w" holds `want` (n floats).
static void expect_w(ds_test *t, const char *what, craft_buf *b, const float *want, size_t n) {
    ds_pth_file f;
    ds_err err = {0};
    if (ds_test_check(t, ds_pth_open_memory(b->p, b->len, "crafted.pth", &f, &err) == DS_OK, "%s: %s", what,
                      err.msg)) {
        const ds_pth_tensor *w = ds_pth_find(&f, "w");
        ds_test_check(t, w && w->nbytes == n * sizeof(float) && memcmp(w->data, want, w->nbytes) == 0,
                      "%s: tensor w does not hold the expected values", what);
    }
    ds_pth_close(&f);
    craft_free(b);
}

// Offsets in a crafted (non-zip64) zip: the end record, the central directory and entry i in it.
static size_t end_at(const craft_buf *z) { return z->len - 22; }
static size_t cd_at(const craft_buf *z) { return get_u32(z->p + end_at(z) + 16); }
static size_t central_entry(const craft_buf *z, int i) {
    size_t at = cd_at(z);
    for (; i > 0; i--) at += 46 + (z->p[at + 28] | z->p[at + 29] << 8) + (z->p[at + 30] | z->p[at + 31] << 8);
    return at;
}

static void check_zip(ds_test *t) {
    craft_buf z = {0};
    good_zip(&z);
    expect_w(t, "the crafted zip itself", &z, k_storage, 6);

    craft_bytes(&z, "hello, world", 12);
    expect(t, "not a checkpoint", &z, "not a PyTorch checkpoint", NULL);

    good_zip(&z);
    z.len -= 1;
    expect(t, "end record cut", &z, "no zip end-of-central-directory record", NULL);

    good_zip(&z);
    put_u32(z.p + end_at(&z) + 16, (uint32_t)z.len);
    expect(t, "directory offset out of bounds", &z, "central directory", "lies outside the archive");

    good_zip(&z);
    put_u16(z.p + end_at(&z) + 8, 0xfffe);
    put_u16(z.p + end_at(&z) + 10, 0xfffe);
    expect(t, "entry count too large", &z, "declares 65534 entries", "hold at most 4");

    good_zip(&z);
    z.p[cd_at(&z)] ^= 0xff;
    expect(t, "corrupt central directory", &z, "central directory entry 0", "missing or corrupt");

    good_zip(&z);
    put_u32(z.p + central_entry(&z, 0) + 42, 1);
    expect(t, "local header offset wrong", &z, "zip entry 'archive/data.pkl': no local header at offset 1", NULL);

    good_zip(&z);
    put_u32(z.p + central_entry(&z, 0) + 20, 0x7fffffff);
    put_u32(z.p + central_entry(&z, 0) + 24, 0x7fffffff);
    expect(t, "entry larger than the archive", &z, "'archive/data.pkl': its 2147483647 bytes",
           "run past the start of the central directory");

    good_zip(&z);
    put_u32(z.p + central_entry(&z, 2) + 20, 3);
    expect(t, "stored sizes differ", &z, "'archive/data/0' is stored uncompressed but its sizes differ", NULL);

    good_zip(&z);
    z.p[central_entry(&z, 0) + 8] |= 1;
    expect(t, "encrypted entry", &z, "'archive/data.pkl' is encrypted", NULL);

    good_zip(&z);
    put_u16(z.p + central_entry(&z, 0) + 10, 8);
    expect(t, "deflated entry", &z, "'archive/data.pkl' is compressed (method 8, deflate)", "zip -0");

    good_zip(&z);
    z.p[30] = 'X';  // first byte of the first local header's name
    expect(t, "local name differs", &z, "local header does not match the central directory", NULL);

    good_zip(&z);
    put_u16(z.p + end_at(&z) + 4, 1);
    expect(t, "multi-disk archive", &z, "multi-disk", NULL);

    good_zip(&z);
    put_u16(z.p + end_at(&z) + 8, 0xffff);
    put_u16(z.p + end_at(&z) + 10, 0xffff);
    expect(t, "saturated end record, no zip64", &z, "no zip64 locator", NULL);

    good_zip(&z);
    put_u32(z.p + central_entry(&z, 0) + 24, 0xffffffffu);
    expect(t, "saturated size, no zip64 extra", &z, "'archive/data.pkl' has 32-bit fields saturated", NULL);

    craft_buf dup = {0};
    const craft_entry two[] = {{"archive/data.pkl", "x", 1}, {"archive/data.pkl", "y", 1}};
    craft_zip(&dup, two, 2, false);
    expect(t, "duplicate entry names", &dup, "zip entry 'archive/data.pkl' appears twice", NULL);
}

static void check_zip64(ds_test *t) {
    craft_buf b = {0}, z = {0};
    good_pickle(&b, false);
    const craft_entry e[] = {{"archive/data.pkl", b.p, b.len}, {"archive/data/0", k_storage, sizeof k_storage}};
    craft_zip(&z, e, 2, true);
    expect_w(t, "crafted zip64", &z, k_storage, 6);

    craft_zip(&z, e, 2, true);
    put_u32(z.p + z.len - 22 - 20 + 8, 5);  // the locator's offset of the zip64 end record
    expect(t, "zip64 end record misplaced", &z, "zip64 end record at offset 5", NULL);
    craft_free(&b);
}

static void check_layout(ds_test *t) {
    craft_buf z = {0}, b = {0};
    good_pickle(&b, false);
    const craft_entry order[] = {{"archive/data.pkl", b.p, b.len},
                                 {"archive/byteorder", "middle", 6},
                                 {"archive/data/0", k_storage, sizeof k_storage}};
    craft_zip(&z, order, 3, false);
    expect(t, "byteorder 'middle'", &z, "byteorder record says 'middle'", NULL);

    const craft_entry flat[] = {{"data.pkl", b.p, b.len}};
    craft_zip(&z, flat, 1, false);
    expect(t, "entry outside a folder", &z, "first entry 'data.pkl' is not inside a folder", NULL);

    const craft_entry other[] = {{"archive/other", "x", 1}};
    craft_zip(&z, other, 1, false);
    expect(t, "no data.pkl", &z, "has no 'archive/data.pkl'", NULL);

    const craft_entry jit[] = {{"archive/constants.pkl", b.p, b.len}, {"archive/code/m.py", "x", 1}};
    craft_zip(&z, jit, 2, false);
    expect(t, "TorchScript archive", &z, "TorchScript archive (torch.jit.save)", NULL);

    craft_zip(&z, NULL, 0, false);
    expect(t, "empty zip", &z, "an empty zip archive", NULL);
    craft_free(&b);
}

static void check_legacy(ds_test *t) {
    craft_buf l = {0}, b = {0};
    good_legacy(&l);
    expect_w(t, "the crafted legacy file itself", &l, k_storage, 6);

    good_legacy(&l);
    put_u16(l.p + 18, 1000);  // the protocol-version pickle's BININT2
    expect(t, "protocol version 1000", &l, "legacy protocol version is not 1001", NULL);

    good_legacy(&l);
    uint8_t *le = memmem(l.p, l.len, "little_endian", 13);
    if (le != NULL) le[13] = 0x89;  // NEWTRUE -> NEWFALSE
    expect(t, "little_endian False", &l, "big-endian machine in the legacy format", NULL);

    good_legacy(&l);
    l.p[3] ^= 1;  // the magic number
    expect(t, "wrong magic", &l, "not a PyTorch checkpoint", NULL);

    good_legacy(&l);
    l.len -= 4;
    expect(t, "storage data cut", &l, "storage '0' (24 bytes at offset", "runs past the end of the file");

    good_pickle(&b, true);
    const void *data[] = {k_storage, k_storage};
    const size_t sizes[] = {sizeof k_storage, sizeof k_storage}, es4[] = {4, 4}, es8[] = {8};
    const char *seven[] = {"7"}, *twice[] = {"0", "0"}, *zero[] = {"0"};
    craft_pth_legacy(&l, &b, 1, seven, data, sizes, es4);
    expect(t, "unreferenced storage listed", &l, "storage '7' has data but the pickle never references it", NULL);
    craft_pth_legacy(&l, &b, 2, twice, data, sizes, es4);
    expect(t, "storage listed twice", &l, "storage '0' is listed twice", NULL);
    craft_pth_legacy(&l, &b, 1, zero, data, sizes, es8);
    expect(t, "element count mismatch", &l, "storage '0' is stored with 3 elements but the pickle says 6", NULL);
    craft_pth_legacy(&l, &b, 0, NULL, NULL, NULL, NULL);
    expect(t, "storage not listed", &l, "tensor 'w': its storage '0' has no data", NULL);
    craft_free(&b);

    good_pickle(&b, false);  // a zip-style 5-tuple persistent id in a legacy file
    craft_pth_legacy(&l, &b, 1, zero, data, sizes, es4);
    expect(t, "5-tuple persistent id in legacy", &l, "the main pickle", "must be a 6-tuple");
    craft_free(&b);

    pk_proto(&b);  // the main pickle never stops: the next pickles' bytes are read as its own
    pk_op(&b, '}');
    craft_pth_legacy(&l, &b, 1, zero, data, sizes, es4);
    expect(t, "main pickle without STOP", &l, "the main pickle", "STOP");
    craft_free(&b);

    craft_buf tar = {0};
    uint8_t block[512] = {0};
    memcpy(block, "archive/", 8);
    memcpy(block + 257, "ustar", 5);
    craft_bytes(&tar, block, sizeof block);
    expect(t, "tar format", &tar, "tar archive in the format of the earliest PyTorch releases", NULL);
}

// Legacy storage views: ('storage', type, key, location, numel, (view_key, offset, size)).
static void view_pickle(craft_buf *b, int64_t offset, int64_t size) {
    pk_dict_begin(b);
    pk_str(b, "w");
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    pk_op(b, '(');
    pk_op(b, '(');
    pk_str(b, "storage");
    pk_global(b, "torch", "FloatStorage");
    pk_str(b, "0");
    pk_str(b, "cpu");
    pk_int(b, 6);
    pk_str(b, "view");
    pk_int(b, offset);
    pk_int(b, size);
    pk_op(b, 0x87);
    pk_op(b, 't');
    pk_op(b, 'Q');
    pk_int(b, 0);
    pk_int(b, size);
    pk_op(b, 0x85);
    pk_int(b, 1);
    pk_op(b, 0x85);
    pk_op(b, 0x89);
    pk_global(b, "collections", "OrderedDict");
    pk_op(b, ')');
    pk_op(b, 'R');
    pk_op(b, 't');
    pk_op(b, 'R');
    pk_dict_end(b);
}

static void check_views(ds_test *t) {
    const char *zero[] = {"0"};
    const void *data[] = {k_storage};
    const size_t sizes[] = {sizeof k_storage}, es4[] = {4};
    craft_buf b = {0}, l = {0};
    view_pickle(&b, 2, 3);
    craft_pth_legacy(&l, &b, 1, zero, data, sizes, es4);
    expect_w(t, "legacy storage view [2, 5)", &l, k_storage + 2, 3);
    craft_free(&b);
    view_pickle(&b, 4, 3);
    craft_pth_legacy(&l, &b, 1, zero, data, sizes, es4);
    expect(t, "legacy storage view out of range", &l, "storage view [4, 4 + 3) runs past its storage of 6", NULL);
    craft_free(&b);
}

static void expect_fixture(ds_test *t, const char *file, const char *e1, const char *e2) {
    char path[1024], rel[128];
    snprintf(rel, sizeof rel, "pth/%s", file);
    ds_test_fixture(rel, path, sizeof path);
    ds_pth_file f;
    ds_err err = {0};
    const ds_status s = ds_pth_open(path, &f, &err);
    ds_test_check(t, s == DS_ERR_FORMAT && strstr(err.msg, path) && strstr(err.msg, e1) && (!e2 || strstr(err.msg, e2)),
                  "%s: status %s, message '%s'", file, ds_status_name(s), err.msg);
    if (getenv("DS_TEST_VERBOSE")) printf("%-40s %s\n", file, err.msg);
    ds_pth_close(&f);
}

static void check_fixtures(ds_test *t) {
    expect_fixture(t, "forbidden_system_zip.pth", "state dict entry 'payload' is an object made by posix.system",
                   "refused");
    expect_fixture(t, "forbidden_eval_legacy.pth", "the checkpoint is an object made by __builtin__.eval",
                   "not a state dict");
    expect_fixture(t, "module_zip.pth", "an object made by fixtures.pth_files.TinyResNet", "model.state_dict()");
    expect_fixture(t, "values_deflate_zip.pth", "zip entry 'values_zip/data.pkl' is compressed", NULL);

    ds_pth_file f;
    ds_err err = {0};
    char path[1024];
    ds_test_tmpfile("missing.pth", path, sizeof path);
    unlink(path);
    ds_test_check(t, ds_pth_open(path, &f, &err) == DS_ERR_IO && strstr(err.msg, "cannot open"), "missing file: %s",
                  err.msg);
    ds_err e2 = {0};
    ds_test_check(t, ds_pth_open(ds_test_fixture("pth", path, sizeof path), &f, &e2) == DS_ERR_IO &&
                         strstr(e2.msg, "not a regular file"),
                  "a folder: %s", e2.msg);
    craft_buf empty = {0};
    ds_test_tmpfile("empty.pth", path, sizeof path);
    craft_write(path, &empty);
    ds_err e3 = {0};
    ds_test_check(t, ds_pth_open(path, &f, &e3) == DS_ERR_FORMAT && strstr(e3.msg, "the file is empty"),
                  "an empty file: %s", e3.msg);
    ds_pth_close(&f);
}

int main(void) {
    ds_test t = ds_test_begin("test_pth_archive");
    check_zip(&t);
    check_zip64(&t);
    check_layout(&t);
    check_legacy(&t);
    check_views(&t);
    check_fixtures(&t);
    return ds_test_finish(&t);
}
