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

// The entries of a checkpoint, in the order they are built (which is the order of the
// "checksums" metadata): "param/<name>" for every parameter (trainable and frozen, F32), then
// "<state>/<name>" of every trainable tensor for each optimizer state (AdamW's adam_m, adam_v; SGD's
// sgd_momentum), then "buffer/<name>" for every buffer in its own dtype. A block of trainable
// tensors saved with AdamW has param, adam_m and adam_v entries, as before these kinds existed.
#define STATE_PREFIXES 3
static const char *const k_state_names[STATE_PREFIXES] = {"adam_m", "adam_v", "sgd_momentum"};

// Entries of one checkpoint: names and views into the blocks.
typedef struct ckpt_entries {
    ds_st_entry *e;  // [n]
    char (*names)[sizeof(((ds_param_spec *)0)->name) + 16];  // [n] "<prefix>/<spec name>"
    int n;
} ckpt_entries;

static void entries_free(ckpt_entries *c) {
    free(c->e);
    free(c->names);
    memset(c, 0, sizeof *c);
}

static void add_entry(ckpt_entries *c, const char *prefix, const char *name, ds_tensor view) {
    snprintf(c->names[c->n], sizeof c->names[c->n], "%s/%s", prefix, name);
    c->e[c->n].name = c->names[c->n];
    c->e[c->n].tensor = view;
    c->n++;
}

static ds_status entries_build(const ds_param_block *pb, const ds_optim *o, const char *path, ckpt_entries *c,
                               ds_err *err) {
    const int cap = pb->count * (1 + (o ? o->nstates : 0));
    c->n = 0;
    c->e = calloc((size_t)(cap ? cap : 1), sizeof *c->e);
    c->names = calloc((size_t)(cap ? cap : 1), sizeof *c->names);
    if (!c->e || !c->names) {
        entries_free(c);
        return ds_err_set(err, DS_ERR_OOM, "checkpoint %s: out of memory for %d entries", path, cap);
    }
    for (int i = 0; i < pb->count; i++)
        if (!ds_param_is_buffer(pb, i)) add_entry(c, "param", pb->specs[i].name, ds_param_block_param(pb, i));
    for (int k = 0; o && k < o->nstates; k++)
        for (int i = 0; i < pb->count; i++)
            if (ds_param_is_trainable(pb, i))
                add_entry(c, ds_optim_state_name(o, k), pb->specs[i].name, ds_optim_state_view(o, pb, k, i));
    for (int i = 0; i < pb->count; i++)
        if (ds_param_is_buffer(pb, i)) add_entry(c, "buffer", pb->specs[i].name, ds_param_block_param(pb, i));
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
    DS_REQUIRE(err, optim == NULL || (optim->begin == pb->train_begin && optim->total == pb->train_end - pb->train_begin),
               DS_ERR_INVALID_ARG, "checkpoint %s: the optimizer's state is not laid out for this parameter block", path);
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

// The optimizer state prefix a file tensor's name starts with ("adam_m/..."), or -1.
static int state_prefix_of(const char *name) {
    for (int k = 0; k < STATE_PREFIXES; k++) {
        const size_t n = strlen(k_state_names[k]);
        if (strncmp(name, k_state_names[k], n) == 0 && name[n] == '/') return k;
    }
    return -1;
}

// Checks that the file holds exactly what `expect` lists (the entries ds_checkpoint_save would
// write for pb and optim) with their shapes and dtypes, and no parameter or buffer pb lacks; a
// weights-only load (optim NULL) ignores the file's optimizer state. found[j] gets the file's
// tensor for expect's entry j.
static ds_status match_tensors(const ds_st_file *f, const ds_param_block *pb, const ds_optim *optim,
                               const ckpt_entries *expect, const ds_st_tensor **found, ds_err *err) {
    name_list missing = {0}, unexpected = {0};
    char shape_msg[300] = "";
    for (int j = 0; j < expect->n; j++) {
        const ds_st_tensor *t = ds_st_find(f, expect->e[j].name);
        const ds_tensor *want = &expect->e[j].tensor;
        found[j] = t;
        if (t == NULL) {
            name_list_add(&missing, expect->e[j].name);
            continue;
        }
        ds_param_spec as_spec = {0};
        as_spec.ndim = want->ndim;
        for (int d = 0; d < want->ndim; d++) as_spec.shape[d] = want->shape[d];
        if (shape_msg[0] == 0 && (t->dtype != want->dtype || !same_shape(t, &as_spec))) {
            char a[96], b[96];
            snprintf(shape_msg, sizeof shape_msg, "; '%s' is %s %s but the model's is %s %s", expect->e[j].name,
                     ds_dtype_name(t->dtype), ds_st_shape_str(t->shape, t->ndim, a, sizeof a),
                     ds_dtype_name(want->dtype), ds_st_shape_str(want->shape, want->ndim, b, sizeof b));
        }
    }
    const char *file_state = NULL;  // the optimizer whose state the file holds, for the message
    for (int j = 0; j < f->count; j++) {
        const char *n = f->tensors[j].name;
        bool known = false;
        for (int q = 0; q < expect->n && !known; q++) known = strcmp(n, expect->e[q].name) == 0;
        const int sp = state_prefix_of(n);
        if (sp >= 0) file_state = sp == 2 ? "sgd" : "adamw";
        // A weights-only load skips the optimizer state of the model's own trainable tensors.
        if (!known && !optim && sp >= 0) {
            const int i = ds_param_block_find(pb, n + strlen(k_state_names[sp]) + 1);
            known = i >= 0 && ds_param_is_trainable(pb, i);
        }
        if (!known) name_list_add(&unexpected, n);
    }
    if (missing.count == 0 && unexpected.count == 0 && shape_msg[0] == 0) return DS_OK;
    if (optim && file_state && strcmp(file_state, ds_optim_kind_name(optim->options.kind)) != 0)
        return ds_err_set(err, DS_ERR_INVALID_ARG,
                          "checkpoint %s holds the state of the %s optimizer but this run uses %s (train.optimizer): "
                          "resume with the optimizer it was trained with", f->path, file_state,
                          ds_optim_kind_name(optim->options.kind));
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
        DS_REQUIRE(err, optim->begin == pb->train_begin && optim->total == pb->train_end - pb->train_begin,
                   DS_ERR_INVALID_ARG, "checkpoint %s: the optimizer passed in is not laid out for this parameter block",
                   f->path);
    }
    ckpt_entries expect = {0};
    DS_TRY(entries_build(pb, optim, f->path, &expect, err));
    const ds_st_tensor **found = calloc((size_t)(expect.n + 1), sizeof *found);
    if (!found) {
        entries_free(&expect);
        return ds_err_set(err, DS_ERR_OOM, "checkpoint %s: out of memory", f->path);
    }
    ds_status st = match_tensors(f, pb, optim, &expect, found, err);
    if (st == DS_OK) st = verify_checksums(f, err);
    const char *user = ds_st_meta_get(f, "user");
    char *user_copy = NULL;
    if (st == DS_OK && user_json && user && (user_copy = strdup(user)) == NULL)
        st = ds_err_set(err, DS_ERR_OOM, "checkpoint %s: out of memory", f->path);
    if (st == DS_OK) {  // everything checked: now modify the caller's state (the views point into it)
        for (int j = 0; j < expect.n; j++)
            memcpy(expect.e[j].tensor.data, found[j]->data, (size_t)(found[j]->end - found[j]->begin));
        if (optim) optim->step = cs.optimizer_step;
        if (state) *state = cs.train;
        if (user_json) *user_json = user_copy;
    }
    free(found);
    entries_free(&expect);
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

ds_status ds_checkpoint_peek_state(const char *path, ds_train_state *state, ds_err *err) {
    ds_st_file f = {0};
    DS_TRY(ds_st_open(path, &f, err));
    const char *format = ds_st_meta_get(&f, "format");
    const char *state_json = ds_st_meta_get(&f, "train_state");
    ds_status st = DS_OK;
    if (!format || strcmp(format, DS_CHECKPOINT_FORMAT) != 0 || !state_json)
        st = ds_err_set(err, DS_ERR_FORMAT, "%s is not a downstream checkpoint (metadata 'format' or 'train_state' "
                        "missing)", path);
    ds_ckpt_state cs;
    if (st == DS_OK) st = ds_ckpt_state_decode(state_json, path, &cs, err);
    if (st == DS_OK) *state = cs.train;
    ds_st_close(&f);
    return st;
}
