// The restricted unpickler refuses every crafted pickle that is not a plain state dict of
// tensors with DS_ERR_FORMAT and a message naming the file and what is wrong (the forbidden
// global, the opcode, the tensor or key, the byte offset), never calling anything, and never
// crashing or leaking (this test also runs under ASan/UBSan: scripts/test.sh). Each case wraps a
// hand-written pickle into a torch-style zip with one 24-byte F32 storage "0" (6 elements).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/pth.h"
#include "../pth_craft.h"
#include "../test_util.h"

static const float k_storage[6] = {1, 2, 3, 4, 5, 6};
static const int64_t k_shape23[2] = {2, 3}, k_stride23[2] = {3, 1};

// Opens the zip checkpoint built around `pickle`; returns the status, message in err.
static ds_status open_zip(const craft_buf *pickle, ds_pth_file *f, ds_err *err) {
    craft_buf zip = {0};
    const char *keys[] = {"0"};
    const void *data[] = {k_storage};
    const size_t sizes[] = {sizeof k_storage};
    craft_pth_zip(&zip, pickle, 1, keys, data, sizes);
    const ds_status s = ds_pth_open_memory(zip.p, zip.len, "crafted.pth", f, err);
    // f's views point into zip: compare what is needed before freeing it.
    if (s == DS_OK) {
        for (int i = 0; i < f->count; i++)
            if (f->tensors[i].owned == NULL) f->tensors[i].data = NULL;  // dangling after the free below
    }
    craft_free(&zip);
    return s;
}

static void expect(ds_test *t, const char *what, craft_buf *pickle, const char *e1, const char *e2) {
    ds_pth_file f;
    ds_err err = {0};
    const ds_status s = open_zip(pickle, &f, &err);
    const bool ok = s == DS_ERR_FORMAT && strstr(err.msg, "crafted.pth") && (!e1 || strstr(err.msg, e1)) &&
                    (!e2 || strstr(err.msg, e2));
    ds_test_check(t, ok, "%s: status %s, message '%s' (want '%s', '%s')", what, ds_status_name(s), err.msg,
                  e1 ? e1 : "", e2 ? e2 : "");
    ds_test_check(t, f.tensors == NULL && f.count == 0 && f.path == NULL, "%s: *f not left empty", what);
    if (getenv("DS_TEST_VERBOSE")) printf("%-40s %s\n", what, err.msg);
    ds_pth_close(&f);
    craft_free(pickle);
}

// A tensor over storage "0": shape/stride as given.
static void tensor(craft_buf *b, int64_t offset, int ndim, const int64_t *shape, const int64_t *stride) {
    pk_tensor(b, "FloatStorage", "0", 6, offset, ndim, shape, stride, false);
}

static void good_entry(craft_buf *b, const char *key) {
    pk_str(b, key);
    tensor(b, 0, 2, k_shape23, k_stride23);
}

// The crafting itself is right: a plain state dict is accepted and read back.
static void check_baseline(ds_test *t) {
    craft_buf b = {0};
    pk_dict_begin(&b);
    good_entry(&b, "w");
    pk_str(&b, "row");
    const int64_t s1[1] = {3}, st1[1] = {1};
    tensor(&b, 3, 1, s1, st1);
    pk_str(&b, "cuda");  // old GPU-saved files name torch.cuda.<X>Storage
    pk_tensor(&b, "cuda.FloatStorage", "0", 6, 0, 1, s1, st1, false);
    pk_dict_end(&b);
    craft_buf zip = {0};
    const char *keys[] = {"0"};
    const void *data[] = {k_storage};
    const size_t sizes[] = {sizeof k_storage};
    craft_pth_zip(&zip, &b, 1, keys, data, sizes);
    ds_pth_file f;
    ds_err err = {0};
    if (ds_test_check(t, ds_pth_open_memory(zip.p, zip.len, "crafted.pth", &f, &err) == DS_OK, "baseline: %s",
                      err.msg)) {
        const ds_pth_tensor *w = ds_pth_find(&f, "w"), *row = ds_pth_find(&f, "row");
        const ds_pth_tensor *cuda = ds_pth_find(&f, "cuda");
        ds_test_check(t, cuda && cuda->dtype == DS_F32 && cuda->nbytes == 12, "torch.cuda.FloatStorage reads as F32");
        ds_test_check(t, f.count == 3 && w && w->dtype == DS_F32 && w->nbytes == 24 &&
                             memcmp(w->data, k_storage, 24) == 0 && row && row->nbytes == 12 &&
                             ((const float *)row->data)[0] == 4.0f,
                      "baseline: the crafted state dict reads back");
    }
    ds_pth_close(&f);
    craft_free(&zip);
    craft_free(&b);
}

static void check_opcodes(ds_test *t) {
    craft_buf b = {0};
    pk_dict_begin(&b);
    pk_str(&b, "w");
    pk_op(&b, 0xff);
    expect(t, "unknown opcode", &b, "byte 0xff is not a pickle opcode", "archive/data.pkl, byte 36");

    const unsigned refused[][2] = {{0x93, 0}, {'i', 0}, {0x95, 0}, {0x8c, 0}, {0x94, 0}, {'P', 0}, {0x82, 0}};
    const char *names[] = {"STACK_GLOBAL", "INST", "FRAME", "SHORT_BINUNICODE", "MEMOIZE", "PERSID", "EXT1"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        pk_dict_begin(&b);
        pk_op(&b, refused[i][0]);
        char what[64];
        snprintf(what, sizeof what, "refused opcode %s", names[i]);
        expect(t, what, &b, names[i], "refused");
    }
    pk_proto(&b);
    b.p[1] = 6;
    pk_op(&b, '.');
    expect(t, "pickle protocol 6", &b, "protocol 6", NULL);
}

static void check_globals(ds_test *t) {
    craft_buf b = {0};
    pk_dict_begin(&b);  // a state dict entry made by os.system("...")
    good_entry(&b, "w");
    pk_str(&b, "payload");
    pk_global(&b, "os", "system");
    pk_str(&b, "echo never");
    pk_op(&b, 0x85);
    pk_op(&b, 'R');
    pk_dict_end(&b);
    expect(t, "os.system in the state dict", &b, "'payload' is an object made by os.system", "refused");

    pk_proto(&b);  // the whole checkpoint is subprocess.Popen(...)
    pk_global(&b, "subprocess", "Popen");
    pk_str(&b, "ls");
    pk_op(&b, 0x85);
    pk_op(&b, 'R');
    pk_op(&b, '.');
    expect(t, "subprocess.Popen at the top", &b, "an object made by subprocess.Popen", "not a state dict");

    pk_dict_begin(&b);  // a bare global as a value
    pk_str(&b, "hook");
    pk_global(&b, "torch.serialization", "load");
    pk_dict_end(&b);
    expect(t, "a global as a state dict value", &b, "'hook' is the global torch.serialization.load", NULL);

    pk_dict_begin(&b);  // builtins.eval, NEWOBJ'd, then BUILT: still only a name
    pk_str(&b, "x");
    pk_global(&b, "builtins", "eval");
    pk_op(&b, ')');
    pk_op(&b, 0x81);
    pk_op(&b, '}');
    pk_op(&b, 'b');
    pk_dict_end(&b);
    expect(t, "builtins.eval via NEWOBJ", &b, "'x' is an object made by builtins.eval", NULL);

    pk_proto(&b);  // {"model": <a pickled module>}
    pk_op(&b, '}');
    pk_str(&b, "model");
    pk_global(&b, "torchvision.models.resnet", "ResNet");
    pk_op(&b, ')');
    pk_op(&b, 0x81);
    pk_op(&b, 's');
    pk_op(&b, '.');
    expect(t, "a whole module under 'model'", &b, "'model' is an object made by torchvision.models.resnet.ResNet",
           "state_dict()");

    pk_dict_begin(&b);
    pk_str(&b, "x");
    pk_global(&b, "torch", "FloatStorage");
    pk_op(&b, ')');
    pk_op(&b, 'R');
    pk_dict_end(&b);
    expect(t, "calling a storage type", &b, "torch.FloatStorage is a storage type", "not be called");

    pk_dict_begin(&b);
    pk_str(&b, "x");
    pk_str(&b, "not callable");
    pk_op(&b, ')');
    pk_op(&b, 'R');
    pk_dict_end(&b);
    expect(t, "REDUCE of a string", &b, "REDUCE calls a string", NULL);

    pk_dict_begin(&b);
    pk_str(&b, "x");
    pk_global(&b, "collections", "OrderedDict");
    pk_op(&b, ')');
    pk_op(&b, 0x81);
    pk_dict_end(&b);
    expect(t, "NEWOBJ of an allowed class", &b, "NEWOBJ instantiates the global collections.OrderedDict", NULL);

    pk_dict_begin(&b);
    pk_str(&b, "x");
    pk_global(&b, "collections", "OrderedDict");
    pk_op(&b, ']');
    pk_op(&b, 0x85);
    pk_op(&b, 'R');
    pk_dict_end(&b);
    expect(t, "OrderedDict with arguments", &b, "called with arguments", NULL);

    pk_dict_begin(&b);
    pk_str(&b, "x");
    pk_op(&b, 'c');
    craft_bytes(&b, "os\x01\nsystem\n", 11);
    pk_dict_end(&b);
    expect(t, "GLOBAL with a control byte", &b, "not a printable character", NULL);
}

// A _rebuild_tensor_v2 call whose arguments are each given by the caller.
static void tensor_call(craft_buf *b, const char *storage_class, const char *key, int64_t numel, int64_t offset,
                        int ndim, const int64_t *shape, const int64_t *stride, bool hooks, bool metadata) {
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    pk_op(b, '(');
    pk_storage(b, storage_class, key, numel, false);
    pk_int(b, offset);
    pk_op(b, '(');
    for (int i = 0; i < ndim; i++) pk_int(b, shape[i]);
    pk_op(b, 't');
    pk_op(b, '(');
    for (int i = 0; i < ndim; i++) pk_int(b, stride[i]);
    pk_op(b, 't');
    pk_op(b, 0x89);
    pk_global(b, "collections", "OrderedDict");
    pk_op(b, ')');
    pk_op(b, 'R');
    if (hooks) {
        pk_op(b, '(');
        pk_int(b, 0);
        pk_global(b, "mymodule", "hook");
        pk_op(b, 'u');
    }
    if (metadata) {
        pk_op(b, '}');
        pk_str(b, "neg");
        pk_op(b, 0x88);
        pk_op(b, 's');
    }
    pk_op(b, 't');
    pk_op(b, 'R');
}

static void one_tensor(ds_test *t, const char *what, const char *storage_class, const char *key, int64_t numel,
                       int64_t offset, int ndim, const int64_t *shape, const int64_t *stride, bool hooks,
                       bool metadata, const char *e1, const char *e2) {
    craft_buf b = {0};
    pk_dict_begin(&b);
    pk_str(&b, "w");
    tensor_call(&b, storage_class, key, numel, offset, ndim, shape, stride, hooks, metadata);
    pk_dict_end(&b);
    expect(t, what, &b, e1, e2);
}

static void check_tensors(ds_test *t) {
    const int64_t s33[2] = {3, 3}, st33[2] = {3, 1}, s1[1] = {1}, st1[1] = {1}, neg[1] = {-1};
    const int64_t huge_stride[1] = {(int64_t)1 << 62}, two[1] = {2};
    const int64_t s6[6] = {1, 1, 1, 1, 1, 1}, st6[6] = {1, 1, 1, 1, 1, 1};
    const int64_t big[2] = {(int64_t)1 << 20, 1 << 10}, zero_stride[2] = {0, 0};
    one_tensor(t, "shape past the storage", "FloatStorage", "0", 6, 0, 2, s33, st33, false, false,
               "tensor 'w': size (3, 3), stride (3, 1) and storage offset 0 reach element 8 of its storage '0', "
               "which holds 6", NULL);
    one_tensor(t, "offset past the storage", "FloatStorage", "0", 6, 6, 1, s1, st1, false, false, "tensor 'w'",
               "storage offset 6 reach element 6");
    one_tensor(t, "stride overflow", "FloatStorage", "0", 6, 0, 1, two, huge_stride, false, false, "tensor 'w'",
               "reach beyond element 2^62");
    one_tensor(t, "storage larger than its entry", "FloatStorage", "0", 100, 0, 1, s1, st1, false, false,
               "storage '0' holds 24 bytes but its persistent id says 400", "tensor 'w'");
    one_tensor(t, "storage entry missing", "FloatStorage", "9", 6, 0, 1, s1, st1, false, false,
               "tensor 'w': its storage '9' has no data", NULL);
    one_tensor(t, "unsupported storage type", "ComplexFloatStorage", "0", 3, 0, 1, s1, st1, false, false,
               "storage type the global torch.ComplexFloatStorage is not supported", NULL);
    one_tensor(t, "negative size", "FloatStorage", "0", 6, 0, 1, neg, st1, false, false, "tensor size[0]",
               "non-negative");
    one_tensor(t, "six dims", "FloatStorage", "0", 6, 0, 6, s6, st6, false, false, "tensor 'w' has 6 dims",
               "at most 5");
    one_tensor(t, "backward hooks", "FloatStorage", "0", 6, 0, 1, s1, st1, true, false, "backward_hooks",
               "hooks are not loaded");
    one_tensor(t, "tensor metadata", "FloatStorage", "0", 6, 0, 1, s1, st1, false, true,
               "tensor 'w' was saved with tensor metadata", NULL);
    one_tensor(t, "expanded past the copy budget", "FloatStorage", "0", 6, 0, 2, big, zero_stride, false, false,
               "tensor 'w': its contiguous copy (4294967296 bytes)", "crafted");

    craft_buf b = {0};  // wrong argument count
    pk_dict_begin(&b);
    pk_str(&b, "w");
    pk_global(&b, "torch._utils", "_rebuild_tensor_v2");
    pk_op(&b, '(');
    pk_storage(&b, "FloatStorage", "0", 6, false);
    pk_op(&b, 't');
    pk_op(&b, 'R');
    pk_dict_end(&b);
    expect(t, "rebuild with one argument", &b, "_rebuild_tensor_v2 takes 6 or 7 arguments, got 1", NULL);

    pk_dict_begin(&b);  // one storage key with two sizes
    good_entry(&b, "a");
    pk_str(&b, "b");
    pk_tensor(&b, "FloatStorage", "0", 3, 0, 1, s1, st1, false);
    pk_dict_end(&b);
    expect(t, "a storage with two sizes", &b, "storage '0' is referenced as 24 bytes and as 12 bytes", NULL);

    pk_dict_begin(&b);  // a persistent id that is not a storage
    pk_str(&b, "w");
    pk_op(&b, '(');
    pk_str(&b, "module");
    pk_str(&b, "x");
    pk_str(&b, "y");
    pk_str(&b, "z");
    pk_int(&b, 1);
    pk_op(&b, 't');
    pk_op(&b, 'Q');
    pk_dict_end(&b);
    expect(t, "persistent id of type module", &b, "persistent id of type 'module'", "'storage'");
}

static void check_structure(ds_test *t) {
    craft_buf b = {0};
    pk_dict_begin(&b);
    good_entry(&b, "w");
    pk_str(&b, "epoch");
    pk_int(&b, 3);
    pk_dict_end(&b);
    expect(t, "an int in the state dict", &b, "state dict entry 'epoch' is an int, not a tensor", NULL);

    pk_dict_begin(&b);
    pk_int(&b, 7);
    tensor(&b, 0, 2, k_shape23, k_stride23);
    pk_dict_end(&b);
    expect(t, "a non-string key", &b, "state dict key #0 is an int, not a string", NULL);

    pk_dict_begin(&b);
    good_entry(&b, "a.b");
    pk_str(&b, "a");
    pk_op(&b, '}');
    good_entry(&b, "b");
    pk_op(&b, 's');
    pk_dict_end(&b);
    expect(t, "duplicate flattened names", &b, "tensor name 'a.b' appears twice", NULL);

    pk_dict_begin(&b);
    pk_op(&b, 'X');
    craft_u32(&b, 3);
    craft_bytes(&b, "a\0b", 3);
    tensor(&b, 0, 2, k_shape23, k_stride23);
    pk_dict_end(&b);
    expect(t, "a NUL byte in a key", &b, "key 'a\\x00b' holds a NUL byte", NULL);

    pk_dict_begin(&b);
    pk_op(&b, 'X');
    craft_u32(&b, 2);
    craft_bytes(&b, "\xc3\x28", 2);
    pk_dict_end(&b);
    expect(t, "invalid UTF-8", &b, "not valid UTF-8", NULL);

    pk_dict_begin(&b);  // a dict that holds itself
    b.len -= 1;         // drop the MARK to insert a BINPUT
    pk_op(&b, 'q');
    pk_op(&b, 0);
    pk_op(&b, '(');
    pk_str(&b, "self");
    pk_op(&b, 'h');
    pk_op(&b, 0);
    pk_dict_end(&b);
    expect(t, "a dict holding itself", &b, "the dict at 'self' appears in the state dict a second time", NULL);

    pk_proto(&b);  // dicts nested 40 deep
    for (int i = 0; i < 40; i++) {
        pk_op(&b, '}');
        pk_str(&b, "k");
    }
    pk_op(&b, '}');
    for (int i = 0; i < 40; i++) pk_op(&b, 's');
    pk_op(&b, '.');
    expect(t, "dicts nested 40 deep", &b, "nests dicts more than 32 deep", NULL);

    // Names that nesting makes huge: one 200 KB key repeated 30 levels deep (6 MB per name).
    pk_proto(&b);
    pk_op(&b, '}');
    char *key = malloc(200001);
    if (key != NULL) {
        memset(key, 'k', 200000);
        key[200000] = '\0';
        pk_str(&b, key);
        free(key);
    }
    pk_op(&b, 'q');
    pk_op(&b, 1);
    for (int i = 0; i < 29; i++) {
        pk_op(&b, '}');
        pk_op(&b, 'h');
        pk_op(&b, 1);
    }
    pk_op(&b, '}');
    good_entry(&b, "w");
    pk_op(&b, 's');
    for (int i = 0; i < 30; i++) pk_op(&b, 's');
    pk_op(&b, '.');
    expect(t, "names grown by nesting", &b, "flattened names grow beyond any real model's", NULL);
}

static void check_stack(ds_test *t) {
    craft_buf b = {0};
    pk_proto(&b);
    pk_op(&b, 's');
    expect(t, "SETITEM on an empty stack", &b, "SETITEM needs 3 items", NULL);

    pk_proto(&b);
    pk_op(&b, 't');
    expect(t, "TUPLE without MARK", &b, "TUPLE without a MARK", NULL);

    pk_proto(&b);
    pk_op(&b, 'N');
    pk_op(&b, '(');
    pk_op(&b, 0x85);
    expect(t, "TUPLE1 reaching below a MARK", &b, "TUPLE1 needs 1 items", NULL);

    pk_proto(&b);
    pk_op(&b, 'N');
    pk_op(&b, 'N');
    pk_op(&b, '.');
    expect(t, "STOP with two items", &b, "STOP with 2 items", NULL);

    pk_proto(&b);
    for (int i = 0; i < 100000; i++) pk_op(&b, '(');
    pk_op(&b, '}');
    pk_op(&b, '.');
    expect(t, "100000 open MARKs", &b, "100000 open MARKs", NULL);

    pk_proto(&b);
    pk_op(&b, '}');
    expect(t, "no STOP", &b, "without a STOP opcode", NULL);

    pk_proto(&b);
    pk_op(&b, '}');
    pk_op(&b, 'N');
    pk_op(&b, 'a');
    expect(t, "APPEND to a dict", &b, "APPEND on a dict", NULL);

    pk_proto(&b);
    pk_op(&b, ']');
    pk_op(&b, '}');
    pk_op(&b, 'b');
    expect(t, "BUILD on a list", &b, "BUILD sets the state of a list", NULL);

    pk_proto(&b);
    pk_op(&b, 'X');
    craft_u32(&b, 0xfffffff0u);
    expect(t, "a 4 GB string", &b, "BINUNICODE needs 4294967280 bytes", "truncated");

    pk_proto(&b);
    pk_op(&b, 0x8a);
    pk_op(&b, 255);
    expect(t, "a 255-byte LONG1 cut short", &b, "LONG1 needs 255 bytes", NULL);

    pk_proto(&b);
    pk_op(&b, 'N');
    pk_op(&b, 'r');
    craft_u32(&b, 0xffffffffu);
    expect(t, "memo index 2^32-1", &b, "memo index 4294967295", NULL);

    pk_proto(&b);
    pk_op(&b, 'j');
    craft_u32(&b, 7);
    expect(t, "BINGET of an unset index", &b, "memo index 7, which was never set", NULL);
}

// Structures the state dict does not reach are not limited by the walk: a list nested 200000
// deep next to the model (the unpickler is iterative) is fine; inside the state dict it is not a
// tensor.
static void check_deep_outside(ds_test *t) {
    craft_buf b = {0};
    pk_proto(&b);
    pk_op(&b, '}');
    pk_op(&b, '(');
    pk_str(&b, "deep");
    for (int i = 0; i < 200000; i++) pk_op(&b, ']');
    for (int i = 0; i < 199999; i++) pk_op(&b, 'a');
    pk_str(&b, "model");
    pk_global(&b, "collections", "OrderedDict");
    pk_op(&b, ')');
    pk_op(&b, 'R');
    pk_op(&b, '(');
    good_entry(&b, "w");
    pk_op(&b, 'u');
    pk_str(&b, "args");
    pk_global(&b, "argparse", "Namespace");
    pk_op(&b, ')');
    pk_op(&b, 0x81);
    pk_op(&b, 'u');
    pk_op(&b, '.');
    ds_pth_file f;
    ds_err err = {0};
    if (ds_test_check(t, open_zip(&b, &f, &err) == DS_OK, "deep list beside the model: %s", err.msg))
        ds_test_check(t, f.count == 1 && strcmp(f.tensors[0].name, "w") == 0 && strcmp(f.state_dict_key, "model") == 0 &&
                             f.ignored_count == 1 && strcmp(f.ignored_globals[0], "argparse.Namespace") == 0,
                      "deep list beside the model: 1 tensor from 'model', argparse.Namespace ignored");
    ds_pth_close(&f);
    craft_free(&b);

    pk_dict_begin(&b);
    pk_str(&b, "deep");
    for (int i = 0; i < 1000; i++) pk_op(&b, ']');
    for (int i = 0; i < 999; i++) pk_op(&b, 'a');
    pk_dict_end(&b);
    expect(t, "a deep list in the state dict", &b, "state dict entry 'deep' is a list, not a tensor", NULL);
}

int main(void) {
    ds_test t = ds_test_begin("test_pth_pickle");
    check_baseline(&t);
    check_opcodes(&t);
    check_globals(&t);
    check_tensors(&t);
    check_structure(&t);
    check_stack(&t);
    check_deep_outside(&t);
    return ds_test_finish(&t);
}
