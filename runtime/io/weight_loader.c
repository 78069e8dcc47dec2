#include "weight_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "../base/dtype.h"
#include "../base/log.h"

enum { LIST_CAP = 600 };  // characters of tensor names quoted in one log line or message

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

// Appends `name` to a comma-separated list of at most LIST_CAP characters; the count goes on.
static void list_add(char *list, int *count, const char *name) {
    const size_t n = strlen(list);
    if (n + strlen(name) + 8 < LIST_CAP) snprintf(list + n, LIST_CAP - n, "%s%s", n ? ", " : "", name);
    else if (n + 5 < LIST_CAP && !ends_with(list, "...")) snprintf(list + n, LIST_CAP - n, ", ...");
    (*count)++;
}

static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, ")");
    return buf;
}

// Whether tensor t fits spec s: the same shape, or both hold one element (torchvision saves
// num_batches_tracked as a 0-d tensor; blocks hold it as shape (1)).
static bool same_shape(const ds_tensor *t, const ds_param_spec *s) {
    const int64_t n = ds_tensor_numel(t);
    if (n == 1 && ds_param_spec_numel(s) == 1 && t->ndim <= 1 && s->ndim <= 1) return true;
    if (t->ndim != s->ndim) return false;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] != s->shape[i]) return false;
    return true;
}

static bool is_int(ds_dtype d) { return d == DS_I64 || d == DS_I32 || d == DS_I16 || d == DS_I8 || d == DS_U8; }

static int64_t int_at(const void *p, ds_dtype d, int64_t i) {
    switch (d) {
    case DS_I64: return ((const int64_t *)p)[i];
    case DS_I32: return ((const int32_t *)p)[i];
    case DS_I16: return ((const int16_t *)p)[i];
    case DS_I8: return ((const int8_t *)p)[i];
    default: return ((const uint8_t *)p)[i];
    }
}

// Copies checkpoint tensor t into block tensor dst (host), converting F16/BF16 to F32 and integer
// types into each other; anything else is an error naming the file and the tensor.
static ds_status copy_converted(const char *path, const char *name, const ds_tensor *t, const ds_tensor *dst,
                                ds_err *err) {
    const int64_t n = ds_tensor_numel(dst);
    if (t->dtype == dst->dtype) {
        memcpy(dst->data, t->data, ds_tensor_nbytes(dst));
        return DS_OK;
    }
    if (dst->dtype == DS_F32 && (t->dtype == DS_F16 || t->dtype == DS_BF16)) {
        const unsigned char *src = t->data;  // (n) 2-byte floats, little-endian file and host
        float *out = dst->data;
        for (int64_t i = 0; i < n; i++) {
            unsigned short h;
            memcpy(&h, src + 2 * i, sizeof h);
            out[i] = t->dtype == DS_F16 ? ds_f16_to_f32(h) : ds_bf16_to_f32(h);
        }
        return DS_OK;
    }
    if (is_int(dst->dtype) && is_int(t->dtype)) {
        for (int64_t i = 0; i < n; i++) {
            const int64_t v = int_at(t->data, t->dtype, i);
            switch (dst->dtype) {
            case DS_I64: ((int64_t *)dst->data)[i] = v; break;
            case DS_I32: ((int32_t *)dst->data)[i] = (int32_t)v; break;
            default: return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s': integer buffers are I64 or I32", path, name);
            }
        }
        return DS_OK;
    }
    return ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s' has dtype %s where the model holds %s", path, name,
                      ds_dtype_name(t->dtype), ds_dtype_name(dst->dtype));
}

ds_status ds_weights_load(ds_context *ctx, const ds_tensor_source *src, ds_param_block *pb, const ds_weight_map *map,
                          ds_weight_report *report) {
    ds_err *err = &ctx->err;
    const char *path = ds_tensor_source_path(src);
    ds_weight_report local;
    ds_weight_report *r = report ? report : &local;
    memset(r, 0, sizeof *r);
    int *from = malloc((size_t)(pb->count > 0 ? pb->count : 1) * sizeof *from);  // -1 none, -2 reinit, else the source's
    DS_REQUIRE(err, from, DS_ERR_OOM, "%s: out of memory", path);
    for (int i = 0; i < pb->count; i++) from[i] = -1;
    char name[256], s0[96], s1[96];
    ds_status st = DS_OK;
    const int count = ds_tensor_source_count(src);
    for (int k = 0; k < count && st == DS_OK; k++) {
        const ds_named_tensor nt = ds_tensor_source_at(src, k);
        bool known = true;
        if (map && map->model_name) known = map->model_name(map->user, nt.name, name, sizeof name);
        else known = (size_t)snprintf(name, sizeof name, "%s", nt.name) < sizeof name;
        const int i = known ? ds_param_block_find(pb, name) : -1;
        if (i < 0) {
            DS_LOG_DEBUG(&ctx->log, "%s: ignoring tensor '%s' %s: the model has no '%s'", path, nt.name,
                         shape_str(nt.tensor.ndim, nt.tensor.shape, s0, sizeof s0), known ? name : nt.name);
            list_add(r->ignored_names, &r->ignored, nt.name);
            continue;
        }
        const ds_param_spec *s = &pb->specs[i];
        if (from[i] >= 0) {
            st = ds_err_set(err, DS_ERR_FORMAT, "%s: tensors '%s' and '%s' both hold the model's '%s'", path,
                            ds_tensor_source_at(src, from[i]).name, nt.name, s->name);
        } else if (!same_shape(&nt.tensor, s)) {
            const ds_weight_mismatch what =
                map && map->on_mismatch ? map->on_mismatch(map->user, i, &nt.tensor) : DS_WEIGHT_MISMATCH_ERROR;
            if (what == DS_WEIGHT_MISMATCH_REINIT) {
                DS_LOG_WARN(&ctx->log, "%s: '%s' is %s but the model's %s is %s: re-initialised", path, nt.name,
                            shape_str(nt.tensor.ndim, nt.tensor.shape, s0, sizeof s0), s->name,
                            shape_str(s->ndim, s->shape, s1, sizeof s1));
                from[i] = -2;
            } else {
                st = ds_err_set(err, DS_ERR_FORMAT, "%s: tensor '%s' has shape %s but the model's '%s' is %s%s%s", path,
                                nt.name, shape_str(nt.tensor.ndim, nt.tensor.shape, s0, sizeof s0), s->name,
                                shape_str(s->ndim, s->shape, s1, sizeof s1), map && map->hint ? "; " : "",
                                map && map->hint ? map->hint : "");
            }
        } else {
            const ds_tensor dst = ds_param_block_param(pb, i);
            st = copy_converted(path, nt.name, &nt.tensor, &dst, err);
            from[i] = k;
            r->loaded++;
        }
    }
    char missing[LIST_CAP] = "";
    int n_missing = 0;
    for (int i = 0; st == DS_OK && i < pb->count; i++) {
        if (from[i] >= 0) continue;
        if (map && map->init_missing && map->init_missing(map->user, i))
            list_add(r->initialised_names, &r->initialised, pb->specs[i].name);
        else
            list_add(missing, &n_missing, pb->specs[i].name);
    }
    free(from);
    if (st != DS_OK) return st;
    if (n_missing > 0)
        return ds_err_set(err, DS_ERR_FORMAT, "%s lacks %d of the model's tensors: %s%s%s", path, n_missing, missing,
                          map && map->hint ? "; " : "", map && map->hint ? map->hint : "");
    if (r->ignored > 0)
        DS_LOG_INFO(&ctx->log, "%s: %d tensors not used by the model (ignored): %s", path, r->ignored, r->ignored_names);
    DS_LOG_INFO(&ctx->log, "%s (%s): loaded %d tensors", path, ds_tensor_source_format(src), r->loaded);
    return DS_OK;
}
