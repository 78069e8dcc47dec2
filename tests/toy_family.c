#include "toy_family.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/base/check.h"
#include "../runtime/base/philox.h"

// Tensors of the toy model, in spec order (kinds lay them out frozen, trainable, buffers).
enum { SCALE = 0, W, B, COUNT, MEAN, NSPECS };

typedef struct toy_state {
    ds_task base;
    ds_param_block pb;
    size_t n[DS_DATA_SPLITS];   // sequences per split
    int32_t *len[DS_DATA_SPLITS];  // (n) tokens of each sequence
    uint64_t seed;
    // The last training forward, for backward: residuals and inputs of its tokens.
    int64_t tokens;
    double *resid;              // (resid_cap) host: the residuals of the last training forward
    float *x;                   // (resid_cap, TOY_D) host: a copy of its inputs (the slot goes after forward)
    size_t resid_cap;
    double last_loss;           // eval
} toy_state;

// The packed batch: a header, then the tokens' features (T, D) and targets (T).
typedef struct toy_batch {
    int64_t n, tokens;
} toy_batch;

static float feature(uint64_t seed, int split, size_t seq, int64_t t, int d) {
    return 2.0f * ds_philox_uniform(seed, 7000 + (uint64_t)split, (seq * 64 + (uint64_t)t) * TOY_D + (uint64_t)d) - 1.0f;
}

static float target(uint64_t seed, int split, size_t seq, int64_t t) {
    float y = 0.3f;
    for (int d = 0; d < TOY_D; d++) y += (0.5f - 0.25f * (float)d) * feature(seed, split, seq, t, d);
    return y + 0.05f * (ds_philox_uniform(seed, 8000 + (uint64_t)split, seq * 64 + (uint64_t)t) - 0.5f);
}

static void toy_close(ds_task *t) {
    if (!t) return;
    toy_state *s = (toy_state *)t;
    ds_param_block_free(&s->pb);
    for (int k = 0; k < DS_DATA_SPLITS; k++) free(s->len[k]);
    free(s->resid);
    free(s->x);
    free(s);
}

static ds_status toy_open(ds_context *ctx, const ds_config *cfg, ds_task **out) {
    (void)cfg;
    ds_err *err = &ctx->err;
    toy_state *s = calloc(1, sizeof *s);
    DS_REQUIRE(err, s != NULL, DS_ERR_OOM, "toy: out of memory");
    s->base.family = &ds_toy_family;
    s->seed = 11;  // the data is fixed; ctx->seed drives the trainer's streams only
    const size_t sizes[DS_DATA_SPLITS] = {TOY_TRAIN, 10, 0};
    for (int k = 0; k < DS_DATA_SPLITS; k++) {
        s->n[k] = sizes[k];
        s->len[k] = calloc(sizes[k] ? sizes[k] : 1, sizeof(int32_t));
        for (size_t i = 0; i < sizes[k]; i++)  // 1 .. 9 tokens: token means weigh sequences unequally
            s->len[k][i] = 1 + (int32_t)(ds_philox_u32(s->seed, 9000 + (uint64_t)k, i) % 9);
    }
    ds_param_spec specs[NSPECS] = {0};
    const struct {
        const char *name;
        int64_t n;
        ds_param_kind kind;
        ds_dtype dtype;
        float lr_mult;
        bool decay;
    } def[NSPECS] = {{"frozen.scale", TOY_D, DS_PARAM_FROZEN, DS_F32, 1, false},
                     {"w", TOY_D, DS_PARAM_TRAINABLE, DS_F32, 1, true},
                     {"b", 1, DS_PARAM_TRAINABLE, DS_F32, 10, false},
                     {"stats.count", 1, DS_PARAM_BUFFER, DS_I64, 0, false},
                     {"stats.mean", 1, DS_PARAM_BUFFER, DS_F32, 0, false}};
    for (int i = 0; i < NSPECS; i++) {
        snprintf(specs[i].name, sizeof specs[i].name, "%s", def[i].name);
        specs[i].ndim = 1;
        specs[i].shape[0] = def[i].n;
        specs[i].kind = def[i].kind;
        specs[i].dtype = def[i].dtype;
        specs[i].lr_mult = def[i].lr_mult;
        specs[i].decay = def[i].decay;
    }
    ds_status st = ds_param_block_init(&s->pb, specs, NSPECS, err);
    if (st == DS_OK) {
        float *scale = ds_param_block_param(&s->pb, SCALE).data, *w = ds_param_block_param(&s->pb, W).data;
        for (int d = 0; d < TOY_D; d++) scale[d] = 1.0f + 0.1f * (float)d, w[d] = 0.1f;
    }
    if (st != DS_OK) {
        toy_close(&s->base);
        return st;
    }
    *out = &s->base;
    return DS_OK;
}

static ds_param_block *toy_params(ds_task *t) { return &((toy_state *)t)->pb; }

static ds_status toy_to_device(ds_context *ctx, ds_task *t, ds_dtype act) {
    (void)t;
    DS_REQUIRE(&ctx->err, ctx->device.kind == DS_DEVICE_CPU && act == DS_F32, DS_ERR_UNSUPPORTED, "toy: CPU only");
    return DS_OK;
}

static ds_status toy_arena_bytes(ds_context *ctx, ds_task *t, size_t batch, bool training, size_t *bytes) {
    (void)ctx, (void)t, (void)batch, (void)training;
    *bytes = 64;  // the toy keeps its few activations in its own state
    return DS_OK;
}

static size_t toy_count(const ds_task *t, ds_data_split s) { return ((const toy_state *)t)->n[s]; }

static size_t toy_batch_bytes(const ds_task *t, size_t batch) {
    (void)t;
    return sizeof(toy_batch) + batch * 9 * (TOY_D + 1) * sizeof(float);
}

static ds_status toy_pack(const ds_task *t, ds_data_split split, const size_t *idx, size_t n, int64_t epoch,
                          void *batch, ds_batch_info *info, ds_err *err) {
    (void)epoch, (void)err;
    const toy_state *s = (const toy_state *)t;
    toy_batch *h = batch;
    float *x = (float *)(h + 1);
    int64_t T = 0;
    for (size_t i = 0; i < n; i++) T += s->len[split][idx[i]];
    float *y = x + T * TOY_D;
    int64_t at = 0;
    for (size_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s->len[split][idx[i]]; k++, at++) {
            for (int d = 0; d < TOY_D; d++) x[at * TOY_D + d] = feature(s->seed, split, idx[i], k, d);
            y[at] = target(s->seed, split, idx[i], k);
        }
    h->n = (int64_t)n;
    h->tokens = T;
    *info = (ds_batch_info){.n = n, .weight = (double)T, .summed = false};  // a token mean
    return DS_OK;
}

static ds_status toy_forward(ds_context *ctx, ds_task *t, const void *batch, bool training, uint64_t rng_step,
                             const ds_collective *coll, ds_arena *arena, double *loss) {
    (void)rng_step, (void)arena;
    toy_state *s = (toy_state *)t;
    const toy_batch *h = batch;
    const float *x = (const float *)(h + 1), *y = x + h->tokens * TOY_D;
    const float *scale = ds_param_block_param(&s->pb, SCALE).data, *w = ds_param_block_param(&s->pb, W).data;
    const float b = *(const float *)ds_param_block_param(&s->pb, B).data;
    if ((size_t)h->tokens > s->resid_cap) {
        double *r = realloc(s->resid, (size_t)h->tokens * sizeof *r);
        if (r) s->resid = r;
        float *xs = r ? realloc(s->x, (size_t)h->tokens * TOY_D * sizeof *xs) : NULL;
        DS_REQUIRE(&ctx->err, r != NULL && xs != NULL, DS_ERR_OOM, "toy: out of memory");
        s->x = xs;
        s->resid_cap = (size_t)h->tokens;
    }
    memcpy(s->x, x, (size_t)h->tokens * TOY_D * sizeof *x);
    double sum = 0, pred_sum = 0;
    for (int64_t k = 0; k < h->tokens; k++) {
        double p = b;
        for (int d = 0; d < TOY_D; d++) p += (double)w[d] * scale[d] * x[k * TOY_D + d];
        s->resid[k] = p - y[k];
        sum += s->resid[k] * s->resid[k];
        pred_sum += p;
    }
    s->tokens = h->tokens;
    *loss = sum / (double)h->tokens;
    if (training) {
        // Running statistics over the GLOBAL micro-batch (as SyncBatchNorm): the mean prediction
        // of every rank's tokens, through the collective.
        double stats[2] = {pred_sum, (double)h->tokens};
        if (coll && coll->allreduce_sum) DS_TRY(coll->allreduce_sum(coll->user, stats, 2, DS_F64, &ctx->err));
        float *mean = ds_param_block_param(&s->pb, MEAN).data;
        *mean = 0.9f * *mean + 0.1f * (float)(stats[0] / stats[1]);
        int64_t *count = ds_param_block_param(&s->pb, COUNT).data;
        *count += 1;
    }
    return DS_OK;
}

static ds_status toy_backward(ds_context *ctx, ds_task *t, double dloss, ds_arena *arena, const ds_grad_hook *hook) {
    (void)arena;
    toy_state *s = (toy_state *)t;
    const float *scale = ds_param_block_param(&s->pb, SCALE).data;
    float *gw = ds_param_block_grad(&s->pb, W).data, *gb = ds_param_block_grad(&s->pb, B).data;
    double dw[TOY_D] = {0}, db = 0;
    for (int64_t k = 0; k < s->tokens; k++) {
        const double g = 2.0 * s->resid[k] / (double)s->tokens;
        for (int d = 0; d < TOY_D; d++) dw[d] += g * scale[d] * s->x[k * TOY_D + d];
        db += g;
    }
    for (int d = 0; d < TOY_D; d++) gw[d] += (float)(dloss * dw[d]);
    *gb += (float)(dloss * db);
    if (hook) DS_TRY(hook->ready(hook->user, s->pb.train_begin, &ctx->err));
    return DS_OK;
}

// Evaluation: the loss only (the evaluator keeps it); the family adds nothing.
struct ds_task_eval {
    int unused;
};

static ds_status toy_eval_open(ds_task *t, ds_task_eval **out, ds_err *err) {
    (void)t;
    *out = calloc(1, sizeof **out);
    return *out ? DS_OK : ds_err_set(err, DS_ERR_OOM, "toy: out of memory");
}
static ds_status toy_eval_add(ds_context *ctx, ds_task *t, ds_task_eval *e, const void *batch) {
    (void)ctx, (void)t, (void)e, (void)batch;
    return DS_OK;
}
static int toy_eval_buffers(ds_task_eval *e, ds_metric_buffer *out, int cap) {
    (void)e, (void)out, (void)cap;
    return 0;
}
static ds_status toy_eval_report(const ds_task *t, const ds_task_eval *e, const char *prefix, ds_eval_result *r,
                                 ds_err *err) {
    (void)t, (void)e, (void)prefix, (void)r, (void)err;
    return DS_OK;
}
static void toy_eval_close(ds_task_eval *e) { free(e); }

static ds_status toy_select_metric(const ds_task *t, const char *want, ds_metric_choice *out, ds_err *err) {
    (void)t;
    DS_REQUIRE(err, !want[0] || strcmp(want, "loss") == 0, DS_ERR_CONFIG, "toy: train.metric must be loss");
    snprintf(out->name, sizeof out->name, "loss");
    out->greater_is_better = false;
    return DS_OK;
}

static ds_status toy_meta(const ds_task *t, cJSON **out, ds_err *err) {
    (void)t;
    *out = cJSON_CreateObject();
    return *out ? DS_OK : ds_err_set(err, DS_ERR_OOM, "toy: out of memory");
}

static ds_status toy_export(ds_context *ctx, ds_task *t, const char *dir) {
    (void)ctx, (void)t, (void)dir;
    return DS_OK;  // nothing to export: the tests read the checkpoints
}

const ds_task_family ds_toy_family = {
    .name = "toy_token_regression",
    .summary = "tests only: a linear model with a token-mean loss over ragged sequences",
    .batch_statistics = true,
    .open_train = toy_open,
    .open_eval = toy_open,
    .close = toy_close,
    .params = toy_params,
    .to_device = toy_to_device,
    .arena_bytes = toy_arena_bytes,
    .forward = toy_forward,
    .backward = toy_backward,
    .count = toy_count,
    .batch_bytes = toy_batch_bytes,
    .pack = toy_pack,
    .eval_open = toy_eval_open,
    .eval_add = toy_eval_add,
    .eval_buffers = toy_eval_buffers,
    .eval_report = toy_eval_report,
    .eval_close = toy_eval_close,
    .select_metric = toy_select_metric,
    .checkpoint_meta = toy_meta,
    .export_model = toy_export,
};
