// Saving and restoring a checkpoint (the file layout is in checkpoint.h).
#include "checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../base/check.h"
#include "checkpoint_internal.h"
#include "checksum.h"
#include "safetensors.h"
#include "safetensors_internal.h"

// The tensor kinds of a checkpoint, in the order their entries are built.
enum { KIND_PARAM = 0, KIND_M, KIND_V, KIND_COUNT };
static const char *const k_prefix[KIND_COUNT] = {"param/", "adam_m/", "adam_v/"};

// Entries of one checkpoint: names and views into the blocks, in order kind-major.
typedef struct ckpt_entries {
    ds_st_entry *e;  // [n]
    char (*names)[sizeof(((ds_param_spec *)0)->name) + 8];  // [n] "<prefix><spec name>"
    int n;
} ckpt_entries;

static void entries_free(ckpt_entries *c) {
    free(c->e);
    free(c->names);
    memset(c, 0, sizeof *c);
}

static ds_tensor block_view(const ds_param_block *pb, float *base, int i) {
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    return ds_tensor_make(base + pb->offset[i], DS_F32, cpu, pb->specs[i].ndim, pb->specs[i].shape);
}

static ds_status entries_build(const ds_param_block *pb, const ds_optim *o, const char *path, ckpt_entries *c,
                               ds_err *err) {
    const int kinds = o ? KIND_COUNT : 1;
    c->n = pb->count * kinds;
    c->e = calloc((size_t)(c->n ? c->n : 1), sizeof *c->e);
    c->names = calloc((size_t)(c->n ? c->n : 1), sizeof *c->names);
    if (!c->e || !c->names) {
        entries_free(c);
        return ds_err_set(err, DS_ERR_OOM, "checkpoint %s: out of memory for %d entries", path, pb->count * kinds);
    }
    float *const base[KIND_COUNT] = {pb->params, o ? o->m : NULL, o ? o->v : NULL};
    for (int k = 0; k < kinds; k++)
        for (int i = 0; i < pb->count; i++) {
            const int j = k * pb->count + i;
            snprintf(c->names[j], sizeof c->names[j], "%s%s", k_prefix[k], pb->specs[i].name);
            c->e[j].name = c->names[j];
            c->e[j].tensor = block_view(pb, base[k], i);
        }
    return DS_OK;
}

// {"<tensor name>": "<16 hex digits>", ...} of every entry; checksums in parallel (they read
// the whole checkpoint once).
static char *checksums_json(const ckpt_entries *c) {
    uint64_t *sum = malloc((size_t)(c->n ? c->n : 1) * sizeof *sum);
    if (!sum) return NULL;
#pragma omp parallel for schedule(dynamic, 1)
    for (int j = 0; j < c->n; j++) sum[j] = ds_checksum64(c->e[j].tensor.data, ds_tensor_nbytes(&c->e[j].tensor));
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    char hex[17];
    for (int j = 0; ok && j < c->n; j++) ok = cJSON_AddStringToObject(o, c->e[j].name, ds_checksum_hex(sum[j], hex));
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    free(sum);
    return s;
}

ds_status ds_checkpoint_save(const char *path, const ds_param_block *pb, const ds_optim *optim,
                             const ds_train_state *state, const char *user_json, ds_err *err) {
    DS_REQUIRE(err, path != NULL && pb != NULL, DS_ERR_INVALID_ARG, "checkpoint save: path and block are required");
    DS_REQUIRE(err, optim == NULL || (optim->m && optim->v && optim->total == pb->total), DS_ERR_INVALID_ARG,
               "checkpoint %s: the optimizer's moments are not laid out for this parameter block", path);
    if (user_json) {
        cJSON *u = cJSON_Parse(user_json);
        const bool valid = u != NULL;
        cJSON_Delete(u);
        DS_REQUIRE(err, valid, DS_ERR_INVALID_ARG, "checkpoint %s: the user metadata is not valid JSON", path);
    }
    ds_ckpt_state cs = {.optimizer_step = optim ? optim->step : 0, .has_optimizer = optim != NULL};
    if (state) cs.train = *state;
    char *state_json = NULL;
    DS_TRY(ds_ckpt_state_encode(&cs, path, &state_json, err));
    ckpt_entries c = {0};
    ds_status st = entries_build(pb, optim, path, &c, err);
    if (st != DS_OK) {
        free(state_json);
        return st;
    }
    char *sums = checksums_json(&c);
    if (sums == NULL) {
        st = ds_err_set(err, DS_ERR_OOM, "checkpoint %s: out of memory computing checksums", path);
    } else {
        ds_st_meta meta[4] = {{"format", DS_CHECKPOINT_FORMAT}, {"train_state", state_json}, {"checksums", sums},
                              {"user", (char *)user_json}};
        st = ds_st_write(path, c.e, c.n, meta, user_json ? 4 : 3, err);  // atomic; fsyncs the folder
    }
    free(sums);
    free(state_json);
    entries_free(&c);
    return st;
}

// ---- load ----------------------------------------------------------------------------------

// A short list of names for a message: "a, b, c (+4 more)".
typedef struct name_list {
    char text[400];
    int count;
} name_list;

static void name_list_add(name_list *l, const char *name) {
    const size_t len = strlen(l->text);
    if (l->count < 4 && len + strlen(name) + 3 < sizeof l->text)
        snprintf(l->text + len, sizeof l->text - len, "%s%s", l->count ? ", " : "", name);
    l->count++;
}

static const char *name_list_more(const name_list *l, char *buf, size_t cap) {
    if (l->count > 4) snprintf(buf, cap, " (+%d more)", l->count - 4);
    else buf[0] = 0;
    return buf;
}

static bool same_shape(const ds_st_tensor *t, const ds_param_spec *s) {
    if (t->ndim != s->ndim) return false;
    for (int d = 0; d < s->ndim; d++)
        if (t->shape[d] != s->shape[d]) return false;
    return true;
}

// Checks that the file holds exactly the tensors of `pb` (kinds 0..kinds-1) with their shapes
// and F32, and no parameter pb lacks. Fills found[k * count + i] with the file's tensor.
static ds_status match_tensors(const ds_st_file *f, const ds_param_block *pb, int kinds, bool file_has_moments,
                               const ds_st_tensor **found, ds_err *err) {
    name_list missing = {0}, unexpected = {0};
    char shape_msg[300] = "";
    char name[sizeof(((ds_param_spec *)0)->name) + 8];
    for (int k = 0; k < kinds; k++)
        for (int i = 0; i < pb->count; i++) {
            snprintf(name, sizeof name, "%s%s", k_prefix[k], pb->specs[i].name);
            const ds_st_tensor *t = ds_st_find(f, name);
            found[k * pb->count + i] = t;
            if (t == NULL) {
                name_list_add(&missing, name);
            } else if (shape_msg[0] == 0 && (t->dtype != DS_F32 || !same_shape(t, &pb->specs[i]))) {
                char a[96], b[96];
                snprintf(shape_msg, sizeof shape_msg, "; '%s' is %s %s but the model's is F32 %s", name,
                         ds_dtype_name(t->dtype), ds_st_shape_str(t->shape, t->ndim, a, sizeof a),
                         ds_st_shape_str(pb->specs[i].shape, pb->specs[i].ndim, b, sizeof b));
            }
        }
    for (int j = 0; j < f->count; j++) {
        const char *n = f->tensors[j].name;
        int k = 0;
        while (k < KIND_COUNT && strncmp(n, k_prefix[k], strlen(k_prefix[k])) != 0) k++;
        const bool known = k < KIND_COUNT && (k == KIND_PARAM || file_has_moments) &&
                           ds_param_block_find(pb, n + strlen(k_prefix[k])) >= 0;
        if (!known) name_list_add(&unexpected, n);
    }
    if (missing.count == 0 && unexpected.count == 0 && shape_msg[0] == 0) return DS_OK;
    char m1[32], m2[32], part1[600] = "", part2[600] = "";
    if (missing.count)
        snprintf(part1, sizeof part1, "; the model has %d tensor(s) the file lacks: %s%s", missing.count, missing.text,
                 name_list_more(&missing, m1, sizeof m1));
    if (unexpected.count)
        snprintf(part2, sizeof part2, "; the file has %d tensor(s) the model lacks: %s%s", unexpected.count,
                 unexpected.text, name_list_more(&unexpected, m2, sizeof m2));
    return ds_err_set(err, DS_ERR_INVALID_ARG, "checkpoint %s does not match the model%s%s%s", f->path, part1, part2,
                      shape_msg);
}

// Verifies every tensor of the file against its recorded checksum.
static ds_status verify_checksums(const ds_st_file *f, ds_err *err) {
    const char *text = ds_st_meta_get(f, "checksums");
    cJSON *sums = text ? cJSON_Parse(text) : NULL;
    if (!cJSON_IsObject(sums)) {
        cJSON_Delete(sums);
        return ds_err_set(err, DS_ERR_FORMAT, "checkpoint %s: metadata 'checksums' is missing or not a JSON object",
                          f->path);
    }
    int bad = -1;  // the first tensor whose checksum is missing or wrong
#pragma omp parallel for schedule(dynamic, 1)
    for (int j = 0; j < f->count; j++) {
        const ds_st_tensor *t = &f->tensors[j];
        const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sums, t->name));
        char got[17];
        ds_checksum_hex(ds_checksum64(t->data, (size_t)(t->end - t->begin)), got);
        if (want == NULL || strcmp(want, got) != 0) {
#pragma omp critical(ds_ckpt_bad)
            if (bad < 0 || j < bad) bad = j;
        }
    }
    ds_status st = DS_OK;
    if (bad >= 0) {
        const bool listed = cJSON_GetObjectItemCaseSensitive(sums, f->tensors[bad].name) != NULL;
        st = ds_err_set(err, DS_ERR_FORMAT,
                        listed ? "checkpoint %s: tensor '%s' does not match its checksum: the file is corrupted"
                               : "checkpoint %s: tensor '%s' has no checksum: the file is corrupted",
                        f->path, f->tensors[bad].name);
    }
    cJSON_Delete(sums);
    return st;
}

static ds_status load_checked(const ds_st_file *f, ds_param_block *pb, ds_optim *optim, ds_train_state *state,
                              char **user_json, ds_err *err) {
    const char *format = ds_st_meta_get(f, "format");
    DS_REQUIRE(err, format && strcmp(format, DS_CHECKPOINT_FORMAT) == 0, DS_ERR_FORMAT,
               "%s is not a downstream checkpoint: metadata 'format' is %s%s%s (expected \"%s\")", f->path,
               format ? "\"" : "", format ? format : "missing", format ? "\"" : "", DS_CHECKPOINT_FORMAT);
    const char *state_json = ds_st_meta_get(f, "train_state");
    DS_REQUIRE(err, state_json != NULL, DS_ERR_FORMAT, "checkpoint %s: metadata 'train_state' is missing", f->path);
    ds_ckpt_state cs;
    DS_TRY(ds_ckpt_state_decode(state_json, f->path, &cs, err));
    if (optim) {
        DS_REQUIRE(err, cs.has_optimizer, DS_ERR_INVALID_ARG,
                   "checkpoint %s holds weights only (no optimizer state): it cannot resume training", f->path);
        DS_REQUIRE(err, optim->m && optim->total == pb->total, DS_ERR_INVALID_ARG,
                   "checkpoint %s: the optimizer passed in is not laid out for this parameter block", f->path);
    }
    const int kinds = optim ? KIND_COUNT : 1;
    const ds_st_tensor **found = calloc((size_t)(pb->count * kinds + 1), sizeof *found);
    if (!found) return ds_err_set(err, DS_ERR_OOM, "checkpoint %s: out of memory", f->path);
    ds_status st = match_tensors(f, pb, kinds, cs.has_optimizer, found, err);
    if (st == DS_OK) st = verify_checksums(f, err);
    const char *user = ds_st_meta_get(f, "user");
    char *user_copy = NULL;
    if (st == DS_OK && user_json && user && (user_copy = strdup(user)) == NULL)
        st = ds_err_set(err, DS_ERR_OOM, "checkpoint %s: out of memory", f->path);
    if (st == DS_OK) {  // everything checked: now modify the caller's state
        float *const base[KIND_COUNT] = {pb->params, optim ? optim->m : NULL, optim ? optim->v : NULL};
        for (int k = 0; k < kinds; k++)
            for (int i = 0; i < pb->count; i++) {
                const ds_st_tensor *t = found[k * pb->count + i];
                memcpy(base[k] + pb->offset[i], t->data, (size_t)(t->end - t->begin));
            }
        if (optim) optim->step = cs.optimizer_step;
        if (state) *state = cs.train;
        if (user_json) *user_json = user_copy;
    }
    free(found);
    return st;
}

ds_status ds_checkpoint_load(const char *path, ds_param_block *pb, ds_optim *optim, ds_train_state *state,
                             char **user_json, ds_err *err) {
    DS_REQUIRE(err, path != NULL && pb != NULL, DS_ERR_INVALID_ARG, "checkpoint load: path and block are required");
    ds_st_file f = {0};
    DS_TRY(ds_st_open(path, &f, err));
    const ds_status st = load_checked(&f, pb, optim, state, user_json, err);
    ds_st_close(&f);
    return st;
}
