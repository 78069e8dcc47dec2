// The .pth reader against torch itself: every checkpoint scripts/fixtures/pth_files.py saved with
// torch 2.15 (zip and legacy formats, zip64, big-endian, shared storages, strided views,
// parameters, nested dicts, training checkpoints) must give exactly the tensors torch.load gives,
// which the script wrote to safetensors: same names in the same order, dtypes, shapes and bytes
// (bit-exact: the reader copies bytes, it computes nothing, so no tolerance applies).
// Also: contiguous aligned tensors are views of the file (no copy), strided ones are copies;
// ds_pth_open_memory on an unaligned buffer; the tensor source over both formats; lookups.
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/pth.h"
#include "../../runtime/io/safetensors.h"
#include "../../runtime/io/tensor_source.h"
#include "../test_util.h"

static bool same_tensor(const char *name, ds_dtype dtype, int ndim, const int64_t *shape, const void *data,
                        size_t nbytes, const ds_st_tensor *want, char *why, size_t cap) {
    if (want == NULL) return snprintf(why, cap, "'%s' is not in the expected file", name), false;
    if (dtype != want->dtype)
        return snprintf(why, cap, "'%s': dtype %s, want %s", name, ds_dtype_name(dtype), ds_dtype_name(want->dtype)),
               false;
    if (ndim != want->ndim || memcmp(shape, want->shape, sizeof(int64_t) * (size_t)ndim) != 0)
        return snprintf(why, cap, "'%s': shape differs", name), false;
    if (nbytes != want->end - want->begin) return snprintf(why, cap, "'%s': %zu bytes", name, nbytes), false;
    if (nbytes > 0 && memcmp(data, want->data, nbytes) != 0)
        return snprintf(why, cap, "'%s': bytes differ from torch's", name), false;
    return true;
}

// Every tensor of f equals the expected file's, in the order `names` gives.
static void compare(ds_test *t, const char *file, const ds_pth_file *f, const ds_st_file *want, const cJSON *names) {
    ds_test_check(t, f->count == cJSON_GetArraySize(names) && f->count == want->count,
                  "%s: %d tensors, want %d", file, f->count, cJSON_GetArraySize(names));
    int i = 0, bad = 0;
    char why[256] = "";
    for (const cJSON *n = names->child; n != NULL && i < f->count; n = n->next, i++) {
        const ds_pth_tensor *x = &f->tensors[i];
        if (strcmp(x->name, n->valuestring) != 0) {
            snprintf(why, sizeof why, "tensor #%d is '%s', want '%s' (file order)", i, x->name, n->valuestring);
            bad++;
            continue;
        }
        if (!same_tensor(x->name, x->dtype, x->ndim, x->shape, x->data, x->nbytes, ds_st_find(want, x->name), why,
                         sizeof why))
            bad++;
    }
    ds_test_check(t, bad == 0, "%s: %d tensors differ from torch.load's; e.g. %s", file, bad, why);
}

static void check_file(ds_test *t, const char *file, const cJSON *e) {
    char path[1024], rel[256];
    snprintf(rel, sizeof rel, "pth/%s", file);
    ds_test_fixture(rel, path, sizeof path);
    ds_pth_file f;
    ds_err err = {0};
    if (!ds_test_check(t, ds_pth_open(path, &f, &err) == DS_OK, "%s: %s", file, err.msg)) return;
    const char *fmt = cJSON_GetObjectItem(e, "format")->valuestring;
    ds_test_check(t, strcmp(ds_pth_format_name(f.format), fmt) == 0, "%s: format %s, want %s", file,
                  ds_pth_format_name(f.format), fmt);
    const char *key = cJSON_GetObjectItem(e, "state_dict_key")->valuestring;
    ds_test_check(t, strcmp(f.state_dict_key, key) == 0, "%s: state dict key '%s', want '%s'", file,
                  f.state_dict_key, key);
    const cJSON *ignored = cJSON_GetObjectItem(e, "ignored_globals");
    bool same = f.ignored_count == cJSON_GetArraySize(ignored);
    for (int i = 0; same && i < f.ignored_count; i++)
        same = strcmp(f.ignored_globals[i], cJSON_GetArrayItem(ignored, i)->valuestring) == 0;
    ds_test_check(t, same, "%s: %d ignored globals (%s...), want %d", file, f.ignored_count,
                  f.ignored_count ? f.ignored_globals[0] : "", cJSON_GetArraySize(ignored));
    snprintf(rel, sizeof rel, "pth/%s", cJSON_GetObjectItem(e, "tensors")->valuestring);
    ds_test_fixture(rel, path, sizeof path);
    ds_st_file want;
    if (ds_test_check(t, ds_st_open(path, &want, &err) == DS_OK, "%s", err.msg)) {
        compare(t, file, &f, &want, cJSON_GetObjectItem(e, "names"));
        ds_st_close(&want);
    }
    ds_pth_close(&f);
}

// In the zip file, contiguous tensors point into the mapping; views with other strides are copies.
static void check_views(ds_test *t) {
    char path[1024];
    ds_pth_file f;
    ds_err err = {0};
    if (!ds_test_check(t, ds_pth_open(ds_test_fixture("pth/values_zip.pth", path, sizeof path), &f, &err) == DS_OK,
                       "%s", err.msg))
        return;
    const char *views[] = {"f32.matrix", "f64.vector", "bf16.vector", "i64.num_batches_tracked", "shared.base",
                           "shared.row", "i64.window"};
    const char *copies[] = {"shared.transposed", "shared.step", "shared.block", "shared.expanded", "bf16.transposed"};
    const uint8_t *lo = f.map, *hi = lo + f.map_size;
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        const ds_pth_tensor *x = ds_pth_find(&f, views[i]);
        ds_test_check(t, x != NULL && x->owned == NULL && (const uint8_t *)x->data >= lo &&
                             (const uint8_t *)x->data + x->nbytes <= hi,
                      "values_zip.pth: '%s' should be a view of the file", views[i]);
    }
    for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++) {
        const ds_pth_tensor *x = ds_pth_find(&f, copies[i]);
        ds_test_check(t, x != NULL && x->owned != NULL && x->data == x->owned,
                      "values_zip.pth: strided '%s' should be a contiguous copy", copies[i]);
    }
    // What the file said about one of them (torch's strides of base.t(), offset of base[1:3, 2:5]).
    const ds_pth_tensor *tr = ds_pth_find(&f, "shared.transposed"), *blk = ds_pth_find(&f, "shared.block"),
                        *base = ds_pth_find(&f, "shared.base");
    ds_test_check(t, tr && tr->stride[0] == 1 && tr->stride[1] == 6 && blk && blk->storage_offset == 8 && base &&
                         strcmp(tr->storage_key, base->storage_key) == 0,
                  "values_zip.pth: strides/offset/storage key as saved");
    // ds_pth_view: dtype checked, names the file and tensor.
    ds_tensor v;
    ds_test_check(t, ds_pth_view(&f, "f32.matrix", DS_F32, &v, &err) == DS_OK && v.ndim == 2 && v.shape[0] == 3 &&
                         v.shape[1] == 4 && ds_tensor_is_contiguous(&v),
                  "ds_pth_view f32.matrix: %s", err.msg);
    ds_err e2 = {0};
    ds_test_check(t, ds_pth_view(&f, "f32.matrix", DS_BF16, &v, &e2) == DS_ERR_FORMAT &&
                         strstr(e2.msg, "values_zip.pth") && strstr(e2.msg, "'f32.matrix' is F32 (3, 4)"),
                  "ds_pth_view with the wrong dtype: '%s'", e2.msg);
    ds_err e3 = {0};
    ds_test_check(t, ds_pth_view(&f, "nope", DS_F32, &v, &e3) == DS_ERR_FORMAT && strstr(e3.msg, "'nope'") &&
                         ds_pth_find(&f, "nope") == NULL,
                  "missing tensor: '%s'", e3.msg);
    ds_pth_close(&f);
    ds_pth_close(&f);  // closing twice is harmless
}

// Bytes in memory at an odd address: every multi-byte tensor must be copied (aligned), and still
// equal torch's.
static void check_memory(ds_test *t, const char *file) {
    char path[1024], rel[128];
    snprintf(rel, sizeof rel, "pth/%s", file);
    size_t n = 0;
    char *bytes = ds_test_read_file(ds_test_fixture(rel, path, sizeof path), &n);
    uint8_t *odd = malloc(n + 1);
    if (!ds_test_check(t, bytes != NULL && odd != NULL, "cannot read %s", path)) {
        free(bytes);
        free(odd);
        return;
    }
    memcpy(odd + 1, bytes, n);
    ds_pth_file f, g;
    ds_err err = {0};
    if (ds_test_check(t, ds_pth_open_memory(odd + 1, n, file, &f, &err) == DS_OK, "%s", err.msg) &&
        ds_test_check(t, ds_pth_open(path, &g, &err) == DS_OK, "%s", err.msg)) {
        int bad = 0;
        for (int i = 0; i < f.count; i++) {
            const ds_pth_tensor *a = &f.tensors[i], *b = &g.tensors[i];
            bad += strcmp(a->name, b->name) != 0 || a->nbytes != b->nbytes ||
                   (a->nbytes && memcmp(a->data, b->data, a->nbytes) != 0) ||
                   (uintptr_t)a->data % ds_dtype_size(a->dtype) != 0;
        }
        ds_test_check(t, f.count == g.count && bad == 0 && f.map == NULL,
                      "%s from an unaligned buffer: %d tensors differ or are misaligned", file, bad);
        ds_pth_close(&g);
    }
    ds_pth_close(&f);
    free(odd);
    free(bytes);
}

// The tensor source opens both formats by content and gives the same tensors.
static void check_source(ds_test *t) {
    char a[1024], b[1024];
    ds_tensor_source pth, st;
    ds_err err = {0};
    ds_test_fixture("pth/model_legacy.pth", a, sizeof a);
    ds_test_fixture("pth/model.safetensors", b, sizeof b);
    if (!ds_test_check(t, ds_tensor_source_open(a, &pth, &err) == DS_OK, "%s", err.msg)) return;
    if (!ds_test_check(t, ds_tensor_source_open(b, &st, &err) == DS_OK, "%s", err.msg)) {
        ds_tensor_source_close(&pth);
        return;
    }
    ds_test_check(t, strcmp(ds_tensor_source_format(&pth), "pth (legacy)") == 0 &&
                         strcmp(ds_tensor_source_format(&st), "safetensors") == 0 &&
                         strcmp(ds_tensor_source_path(&pth), a) == 0,
                  "source formats: %s, %s", ds_tensor_source_format(&pth), ds_tensor_source_format(&st));
    int bad = 0;
    for (int i = 0; i < ds_tensor_source_count(&pth); i++) {
        const ds_named_tensor x = ds_tensor_source_at(&pth, i);
        const int j = ds_tensor_source_find(&st, x.name);
        if (j < 0) {
            bad++;
            continue;
        }
        const ds_named_tensor y = ds_tensor_source_at(&st, j);
        bad += x.tensor.dtype != y.tensor.dtype || ds_tensor_nbytes(&x.tensor) != ds_tensor_nbytes(&y.tensor) ||
               memcmp(x.tensor.data, y.tensor.data, ds_tensor_nbytes(&x.tensor)) != 0 ||
               !ds_tensor_is_contiguous(&x.tensor);
    }
    ds_test_check(t, ds_tensor_source_count(&pth) == ds_tensor_source_count(&st) && bad == 0,
                  "tensor source: .pth and safetensors differ in %d tensors", bad);
    ds_tensor v;
    ds_test_check(t, ds_tensor_source_view(&pth, "bn1.num_batches_tracked", DS_I64, &v, &err) == DS_OK &&
                         v.ndim == 0 && *(const int64_t *)v.data == 1,
                  "bn1.num_batches_tracked after one training step: %s", err.msg);
    ds_test_check(t, ds_tensor_source_find(&pth, "fc.weight") >= 0 && ds_tensor_source_find(&pth, "fc") < 0,
                  "ds_tensor_source_find");
    ds_tensor_source_close(&pth);
    ds_tensor_source_close(&st);
    ds_err e2 = {0};
    ds_test_fixture("pth/expected.json", a, sizeof a);
    ds_test_check(t, ds_tensor_source_open(a, &pth, &e2) == DS_ERR_FORMAT && strstr(e2.msg, "expected.json") &&
                         strstr(e2.msg, "neither a safetensors file nor a PyTorch checkpoint"),
                  "a JSON file: '%s'", e2.msg);
    ds_tensor_source_close(&pth);
}

int main(void) {
    ds_test t = ds_test_begin("test_pth_read");
    char path[1024];
    size_t n = 0;
    char *json = ds_test_read_file(ds_test_fixture("pth/expected.json", path, sizeof path), &n);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    if (ds_test_check(&t, root != NULL, "cannot read %s", path)) {
        for (const cJSON *e = root->child; e != NULL; e = e->next) check_file(&t, e->string, e);
        ds_test_check(&t, cJSON_GetArraySize(root) >= 10, "expected.json lists %d files", cJSON_GetArraySize(root));
    }
    cJSON_Delete(root);
    free(json);
    check_views(&t);
    check_memory(&t, "values_zip.pth");
    check_memory(&t, "values_legacy.pth");
    check_source(&t);
    return ds_test_finish(&t);
}
