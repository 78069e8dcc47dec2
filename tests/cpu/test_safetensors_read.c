// Reads files written by Python's safetensors.torch.save_file and checks every tensor's name,
// dtype, shape and every value against values.json (written by the same fixture module from the
// tensors torch saved). Values are compared exactly: the file holds the bits torch stored, and
// every one of them converts exactly to the double printed in the JSON.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

// IEEE half -> double, exact (every f16 value is a double).
static double f16_to_f64(uint16_t h) {
    const int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    double v;
    if (exp == 0)
        v = ldexp(man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexp(man + 1024, exp - 25);
    return sign ? -v : v;
}

// Element i of tensor t as a double (integers below 2^53 are exact).
static double element(const ds_st_tensor *t, int64_t i) {
    const unsigned char *p = t->data;  // (end - begin) bytes host
    switch (t->dtype) {
    case DS_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case DS_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case DS_BF16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return ds_bf16_to_f32(v); }
    case DS_F16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return f16_to_f64(v); }
    case DS_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case DS_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case DS_U8: case DS_BOOL: return p[i];
    default: return NAN;
    }
}

static void check_values_file(ds_test *t) {
    char path[1024], jpath[1024];
    ds_test_fixture("safetensors/values.safetensors", path, sizeof path);
    ds_test_fixture("safetensors/values.json", jpath, sizeof jpath);
    char *text = ds_test_read_file(jpath, NULL);
    cJSON *want = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!ds_test_check(t, want != NULL, "cannot read %s", jpath)) return;

    ds_st_file f;
    ds_err err = {0};
    if (!ds_test_check(t, ds_st_open(path, &f, &err) == DS_OK, "open %s: %s", path, err.msg)) {
        cJSON_Delete(want);
        return;
    }
    ds_test_check(t, f.count == cJSON_GetArraySize(want), "%d tensors, expected %d", f.count,
                  cJSON_GetArraySize(want));
    const char *fmt = ds_st_meta_get(&f, "format");
    ds_test_check(t, f.meta_count == 1 && fmt && strcmp(fmt, "pt") == 0, "metadata format=pt missing");
    ds_test_check(t, ds_st_meta_get(&f, "nope") == NULL, "metadata 'nope' should be absent");

    for (const cJSON *w = want->child; w; w = w->next) {
        const ds_st_tensor *st = ds_st_find(&f, w->string);
        if (!ds_test_check(t, st != NULL, "tensor '%s' missing", w->string)) continue;
        ds_dtype dt;
        const char *dname = cJSON_GetObjectItem(w, "dtype")->valuestring;
        ds_test_check(t, ds_dtype_parse(dname, &dt) == 0 && st->dtype == dt, "'%s': dtype %s, expected %s",
                      w->string, ds_dtype_name(st->dtype), dname);
        const cJSON *shape = cJSON_GetObjectItem(w, "shape");
        bool same = st->ndim == cJSON_GetArraySize(shape);
        int64_t numel = 1;
        for (int i = 0; same && i < st->ndim; i++) {
            same = st->shape[i] == (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble;
            numel *= st->shape[i];
        }
        if (!ds_test_check(t, same, "'%s': shape differs", w->string)) continue;
        ds_test_check(t, st->end - st->begin == (uint64_t)numel * ds_dtype_size(st->dtype), "'%s': byte size",
                      w->string);
        const cJSON *values = cJSON_GetObjectItem(w, "values");
        int bad = 0, i = 0;
        for (const cJSON *v = values->child; v; v = v->next, i++) bad += element(st, i) != v->valuedouble;
        ds_test_check(t, bad == 0 && i == numel, "'%s': %d of %d values differ", w->string, bad, i);

        // A typed view: right dtype succeeds with the same shape and data; a wrong one names both.
        ds_tensor view;
        ds_err verr = {0};
        ds_test_check(t, ds_st_view(&f, w->string, dt, &view, &verr) == DS_OK && view.data == st->data &&
                             view.ndim == st->ndim && ds_tensor_numel(&view) == numel &&
                             view.device.kind == DS_DEVICE_CPU,
                      "'%s': view: %s", w->string, verr.msg);
        ds_err_clear(&verr);
        const ds_dtype other = dt == DS_F64 ? DS_F32 : DS_F64;
        ds_test_check(t, ds_st_view(&f, w->string, other, &view, &verr) == DS_ERR_FORMAT &&
                             strstr(verr.msg, w->string) && strstr(verr.msg, "values.safetensors"),
                      "'%s': view with the wrong dtype: '%s'", w->string, verr.msg);
    }
    // Typed access as a model would do it: the F32 matrix through its view.
    ds_tensor m;
    ds_err_clear(&err);
    if (ds_test_check(t, ds_st_view(&f, "f32.matrix", DS_F32, &m, &err) == DS_OK, "view: %s", err.msg)) {
        const cJSON *vals = cJSON_GetObjectItem(cJSON_GetObjectItem(want, "f32.matrix"), "values");
        ds_test_check(t, ((const float *)m.data)[5] == (float)cJSON_GetArrayItem(vals, 5)->valuedouble &&
                             m.shape[0] == 2 && m.shape[1] == 3 && m.stride[0] == 3,
                      "f32.matrix view");
    }
    ds_err_clear(&err);
    ds_test_check(t, ds_st_view(&f, "missing.tensor", DS_F32, &m, &err) != DS_OK && strstr(err.msg, "missing.tensor"),
                  "view of a missing tensor: '%s'", err.msg);
    ds_st_close(&f);
    ds_test_check(t, f.tensors == NULL && f.map == NULL && f.count == 0, "close leaves the file empty");
    ds_st_close(&f);  // closing twice is harmless
    cJSON_Delete(want);
}

static void check_other_files(ds_test *t) {
    char path[1024];
    ds_st_file f;
    ds_err err = {0};

    ds_test_fixture("safetensors/layout.safetensors", path, sizeof path);
    if (ds_test_check(t, ds_st_open(path, &f, &err) == DS_OK, "open %s: %s", path, err.msg)) {
        ds_test_check(t, f.count == 10, "layout: %d tensors", f.count);
        ds_test_check(t, ds_st_find(&f, "q\"uo\\te\n\x01/") != NULL, "layout: escaped name not decoded");
        ds_test_check(t, ds_st_find(&f, "\xc3\xa9t\xc3\xa9") != NULL, "layout: UTF-8 name not found");
        const char *v = ds_st_meta_get(&f, "k\xc3\xa9y\"\t");
        ds_test_check(t, v && strcmp(v, "v\\al\x1fue") == 0, "layout: escaped metadata");
        // Header order is the writer's order: the U64/I64/F64 rank first, then by name.
        ds_test_check(t, strcmp(f.tensors[0].name, "a") == 0 && strcmp(f.tensors[1].name, "z") == 0,
                      "layout: header order %s, %s", f.tensors[0].name, f.tensors[1].name);
        ds_st_close(&f);
    }
    ds_err_clear(&err);
    ds_test_fixture("safetensors/no_metadata.safetensors", path, sizeof path);
    if (ds_test_check(t, ds_st_open(path, &f, &err) == DS_OK, "open %s: %s", path, err.msg)) {
        ds_test_check(t, f.count == 1 && f.meta_count == 0 && f.meta == NULL, "no_metadata: no metadata object");
        const ds_st_tensor *o = ds_st_find(&f, "only");
        ds_test_check(t, o && o->ndim == 2 && ((const float *)o->data)[5] == 5.0f, "no_metadata: values");
        ds_st_close(&f);
    }
    ds_err_clear(&err);
    ds_test_fixture("safetensors/empty.safetensors", path, sizeof path);
    if (ds_test_check(t, ds_st_open(path, &f, &err) == DS_OK, "open %s: %s", path, err.msg)) {
        ds_test_check(t, f.count == 0 && f.meta_count == 0 && f.meta == NULL, "empty: no tensors, no metadata");
        ds_test_check(t, ds_st_find(&f, "x") == NULL, "empty: find returns NULL");
        ds_st_close(&f);
    }
    ds_err_clear(&err);
    ds_test_fixture("safetensors/empty_metadata.safetensors", path, sizeof path);
    if (ds_test_check(t, ds_st_open(path, &f, &err) == DS_OK, "open %s: %s", path, err.msg)) {
        // An empty "__metadata__" object reads as meta != NULL with meta_count 0, so that passing
        // meta/meta_count to ds_st_write reproduces it.
        ds_test_check(t, f.count == 1 && f.meta_count == 0 && f.meta != NULL, "empty_metadata: {} metadata");
        const ds_st_tensor *o = ds_st_find(&f, "only");
        ds_test_check(t, o && o->dtype == DS_I32 && ((const int32_t *)o->data)[1] == -7, "empty_metadata: values");
        ds_st_close(&f);
    }
    ds_err_clear(&err);
    ds_test_check(t, ds_st_open("/nonexistent/dir/x.safetensors", &f, &err) == DS_ERR_IO &&
                         strstr(err.msg, "/nonexistent/dir/x.safetensors"),
                  "missing file: '%s'", err.msg);
}

int main(void) {
    ds_test t = ds_test_begin("safetensors_read");
    check_values_file(&t);
    check_other_files(&t);
    return ds_test_finish(&t);
}
