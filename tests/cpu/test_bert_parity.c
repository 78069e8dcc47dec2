// BertForSequenceClassification against transformers' own class (tests/fixtures/bert/<case>/,
// written by scripts/fixtures/bert_cls.py): for a single-label, a multi-label and a regression
// model loaded through runtime/tasks/text/hf_bert.h, on a padded batch of unequal lengths and on a batch of
// sentence pairs with token_type_ids, in eval mode: logits, loss and every parameter's gradient;
// gradient accumulation; the memory plan; forward-only prediction; and the losses of 10 AdamW
// steps with HF Trainer's parameter groups and linear warmup schedule. Then, with dropout on
// (which torch cannot match: its RNG differs), that the masks depend on the step and that
// backward differentiates the same masks forward drew (a directional finite difference).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../models/bert/bert.h"
#include "../../runtime/tasks/text/hf_bert.h"
#include "../../runtime/io/safetensors.h"
#include "../gradcheck.h"
#include "../op_fixture.h"
#include "../test_util.h"

// Logits, loss and gradients: fp32 through ~25 chained ops (2 layers of the encoder layer's ~10,
// embeddings, pooler, classifier, loss) whose reductions run over <= 37 terms, with LayerNorm
// amplifying rounding by 1/std: ours and torch's orders of summation differ, so results agree to
// ~1e-6 tensor-relative (measured: <= 2e-6). 1e-4 leaves margin for other BLAS kernels and
// thread counts, while any wrong term (a missing padding mask, a wrong position id, the pad
// row's gradient, a loss scaled by the wrong count) errs by 1e-2 or more.
#define TOL 1e-4
// The key bias's true gradient is 0 (softmax ignores a constant added to a row's scores): both
// sides hold rounding noise only (measured <= 3e-9, against O(1e-1) for the other gradients).
// It is checked absolutely, at 1e-5 of the other gradients' scale.
#define KEY_BIAS_ABS 1e-6
// The 10-step loss trace: each step's parameter difference from torch is the previous
// difference plus lr times the difference of m / (sqrt(v) + eps); gradients that agree to ~1e-6
// relative move it by ~1e-6 lr per step, so after 10 steps the losses still agree to ~1e-7
// relative (measured: <= 2e-7). 2e-6 leaves a 20x margin and still catches the weakest
// mistake we know of: weight decay on every tensor instead of HF Trainer's groups (1.2e-5); a
// schedule off by one step errs by 3e-2.
#define TRACE_TOL 2e-6

static const char *const k_cases[] = {"single_label", "multi_label", "regression"};
static const char *const k_batches[] = {"padded", "pair"};

typedef struct expected {
    ds_st_file file;
    bool open;
} expected;

static ds_tensor get(ds_test *t, const expected *e, const char *batch, const char *what, ds_dtype dt) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s", batch, what);
    ds_tensor v = {0};
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, ds_st_view(&e->file, name, dt, &v, &err) == DS_OK, "expected tensor: %s", err.msg))
        memset(&v, 0, sizeof v);
    return v;
}

static bool has(const expected *e, const char *batch, const char *what) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s", batch, what);
    return ds_st_find(&e->file, name) != NULL;
}

static ds_bert_batch make_batch(ds_test *t, const expected *e, const char *b) {
    const ds_tensor ids = get(t, e, b, "input_ids", DS_I32), mask = get(t, e, b, "attention_mask", DS_I32);
    ds_bert_batch batch = {.B = ids.shape[0], .T = ids.shape[1], .input_ids = ids.data, .attention_mask = mask.data};
    if (has(e, b, "token_type_ids")) batch.token_type_ids = get(t, e, b, "token_type_ids", DS_I32).data;
    if (has(e, b, "labels")) batch.labels = get(t, e, b, "labels", DS_I32).data;
    else batch.label_values = get(t, e, b, "label_values", DS_F32).data;
    return batch;
}

static double max_abs(const ds_tensor *x) {
    double m = 0;
    for (int64_t i = 0; i < ds_tensor_numel(x); i++) m = fmax(m, fabs(((const float *)x->data)[i]));
    return m;
}

// Compares every parameter gradient with "<batch>.grad.<name>", scaled by `times`.
static void check_grads(ds_test *t, const char *cname, const ds_bert_model *m, const expected *e, const char *b,
                        float times) {
    char what[256];
    for (int i = 0; i < m->params.count; i++) {
        const char *name = m->params.specs[i].name;
        char key[200];
        snprintf(key, sizeof key, "grad.%s", name);
        ds_tensor want = get(t, e, b, key, DS_F32);
        if (!want.data) continue;
        const ds_tensor got = ds_param_block_grad(&m->params, i);
        snprintf(what, sizeof what, "%s %s %s%s", cname, b, key, times != 1 ? " (accumulated x2)" : "");
        if (strstr(name, "attention.self.key.bias")) {
            const double g = max_abs(&got);
            if (getenv("DS_TEST_VERBOSE")) printf("%s: max abs %.3e\n", what, g);
            ds_test_check(t, g <= times * KEY_BIAS_ABS, "%s: |grad| %.3e where the true gradient is 0", what, g);
            continue;
        }
        ds_tensor scaled = ds_test_scaled_copy(&want, times);
        ds_test_close(t, what, &got, &scaled, TOL);
        free(scaled.data);
    }
}

static void check_batch(ds_test *t, ds_context *ctx, const char *cname, ds_bert_model *m, const expected *e,
                        const char *b, ds_arena *arena) {
    char what[128];
    const ds_bert_batch batch = make_batch(t, e, b);
    ds_bert_zero_grads(m);
    ds_bert_output out;
    if (!ds_test_check(t, ds_bert_forward(ctx, m, &batch, false, 0, arena, &out) == DS_OK, "%s %s forward: %s", cname,
                       b, ctx->err.msg))
        return;
    const ds_tensor logits = get(t, e, b, "logits", DS_F32), loss = get(t, e, b, "loss", DS_F32);
    snprintf(what, sizeof what, "%s %s logits", cname, b);
    ds_test_close(t, what, &out.logits, &logits, TOL);
    const ds_tensor got_loss = ds_tensor_cpu1(&out.loss, DS_F32, 1);
    snprintf(what, sizeof what, "%s %s loss", cname, b);
    ds_test_check(t, out.has_loss, "%s: no loss although the batch has labels", what);
    ds_test_close(t, what, &got_loss, &loss, TOL);
    if (!ds_test_check(t, ds_bert_backward(ctx, m, 1.0, arena) == DS_OK, "%s %s backward: %s", cname, b, ctx->err.msg))
        return;
    check_grads(t, cname, m, e, b, 1);
    // Gradient accumulation: a second micro-batch adds, it does not overwrite.
    if (ds_test_check(t, ds_bert_forward(ctx, m, &batch, false, 1, arena, &out) == DS_OK &&
                             ds_bert_backward(ctx, m, 1.0, arena) == DS_OK,
                      "%s %s second pass: %s", cname, b, ctx->err.msg))
        check_grads(t, cname, m, e, b, 2);
}

// Forward only, without labels, in an arena sized for forward alone: the logits of the eval
// pass; no loss; backward refused.
static void check_predict(ds_test *t, ds_context *ctx, const char *cname, ds_bert_model *m, const expected *e) {
    ds_bert_batch batch = make_batch(t, e, "padded");
    batch.labels = NULL;
    batch.label_values = NULL;
    size_t fwd_bytes = 0, all_bytes = 0;
    ds_arena arena = {0};
    if (!ds_test_check(t, ds_bert_arena_bytes(ctx, m, batch.B, batch.T, false, &fwd_bytes) == DS_OK &&
                              ds_bert_arena_bytes(ctx, m, batch.B, batch.T, true, &all_bytes) == DS_OK &&
                              ds_arena_init_cpu(&arena, fwd_bytes, &ctx->err) == DS_OK,
                       "%s predict plan: %s", cname, ctx->err.msg))
        return;
    ds_test_check(t, fwd_bytes < all_bytes, "%s: forward-only plan %zu is not below the training plan %zu", cname,
                  fwd_bytes, all_bytes);
    ds_bert_output out;
    if (ds_test_check(t, ds_bert_forward(ctx, m, &batch, false, 0, &arena, &out) == DS_OK, "%s predict: %s", cname,
                      ctx->err.msg)) {
        char what[96];
        snprintf(what, sizeof what, "%s predict logits", cname);
        const ds_tensor want = get(t, e, "padded", "logits", DS_F32);
        ds_test_close(t, what, &out.logits, &want, TOL);
        ds_test_check(t, !out.has_loss && isnan(out.loss), "%s predict: a loss without labels", cname);
        // Without labels and dropout the loss and dropout buffers stay uncarved: within the plan.
        ds_test_check(t, arena.peak <= fwd_bytes, "%s predict: plan %zu < used %zu", cname, fwd_bytes, arena.peak);
        const ds_status s = ds_bert_backward(ctx, m, 1.0, &arena);
        ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "no labels"),
                      "%s: backward after a forward without labels: %s", cname, ctx->err.msg);
        ds_err_clear(&ctx->err);
    }
    ds_arena_free(&arena);
}

// HF's get_linear_schedule_with_warmup, evaluated as torch's LambdaLR does (python doubles).
static double schedule_lr(double lr, int step, int warmup, int total) {
    if (step < warmup) return lr * ((double)step / (double)(warmup > 1 ? warmup : 1));
    const double rest = (double)(total - step) / (double)(total - warmup > 1 ? total - warmup : 1);
    return lr * (rest > 0 ? rest : 0);
}

static void check_trace(ds_test *t, ds_context *ctx, const char *cname, ds_bert_model *m, const expected *e,
                        ds_arena *arena) {
    enum { STEPS = 10, WARMUP = 3 };
    const double lr = 1e-3, wd = 0.01;
    const ds_param_block *pb = &m->params;
    float *mom = calloc(pb->total, sizeof(float)), *var = calloc(pb->total, sizeof(float));
    double got[STEPS], want[STEPS];
    const ds_tensor trace = get(t, e, "trace", "loss", DS_F32);
    if (!trace.data || !ds_test_check(t, ds_tensor_numel(&trace) == STEPS, "trace length")) return;
    const ds_bert_batch batches[2] = {make_batch(t, e, "padded"), make_batch(t, e, "pair")};
    bool ok = true;
    for (int step = 0; step < STEPS && ok; step++) {
        ds_bert_zero_grads(m);
        ds_bert_output out;
        ok = ds_bert_forward(ctx, m, &batches[step % 2], false, (uint64_t)step, arena, &out) == DS_OK &&
             ds_bert_backward(ctx, m, 1.0, arena) == DS_OK;
        got[step] = out.loss;
        want[step] = ((const float *)trace.data)[step];
        const double step_lr = schedule_lr(lr, step, WARMUP, STEPS);
        for (int i = 0; i < pb->count && ok; i++) {
            const ds_tensor p = ds_param_block_param(pb, i);
            const int64_t n = ds_tensor_numel(&p);
            ds_adamw_args a = {.param = p, .grad = ds_param_block_grad(pb, i),
                               .m = ds_tensor_cpu1(mom + pb->offset[i], DS_F32, n),
                               .v = ds_tensor_cpu1(var + pb->offset[i], DS_F32, n), .lr = step_lr, .beta1 = 0.9,
                               .beta2 = 0.999, .eps = 1e-8, .weight_decay = pb->specs[i].decay ? wd : 0,
                               .grad_scale = 1, .step = step + 1};
            ok = ds_adamw_step(ctx, &a) == DS_OK;
        }
    }
    if (ds_test_check(t, ok, "%s trace: %s", cname, ctx->err.msg)) {
        char what[96];
        snprintf(what, sizeof what, "%s 10-step AdamW loss trace", cname);
        ds_test_close_f64(t, what, got, want, STEPS, TRACE_TOL);
        ds_test_check(t, fabs(got[STEPS - 1] - got[STEPS - 3]) > 1e-3 || fabs(got[STEPS - 2] - got[STEPS - 4]) > 1e-3,
                      "%s trace: the loss did not move, so the trace tests nothing", cname);
    }
    free(mom), free(var);
}

static bool load_case(ds_test *t, ds_context *ctx, const char *cname, ds_bert_model *m, expected *e) {
    char dir[512], rel[256];
    snprintf(rel, sizeof rel, "bert/%s", cname);
    ds_test_fixture(rel, dir, sizeof dir);
    ds_hf_bert_info info;
    if (!ds_test_check(t, ds_hf_bert_load(ctx, dir, NULL, m, &info) == DS_OK, "load %s: %s", dir, ctx->err.msg))
        return false;
    ds_test_check(t, info.loaded == m->params.count && info.initialised == 0 && info.ignored == 0,
                  "%s: loaded %d of %d tensors, initialised %d, ignored %d", cname, info.loaded, m->params.count,
                  info.initialised, info.ignored);
    ds_hf_bert_info_free(&info);
    char path[600];
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    e->open = ds_st_open(path, &e->file, &ctx->err) == DS_OK;
    if (!ds_test_check(t, e->open, "%s", ctx->err.msg)) {
        ds_bert_free(m);
        return false;
    }
    return true;
}

// Dropout on: the same rng_step reproduces the logits, another one changes them, and eval
// differs from both. Backward must use forward's masks: the directional derivative g.d of the
// loss along a random direction d over every parameter matches the central difference
// (L(p + h d) - L(p - h d)) / 2h with the same rng_step, d uniform in [-1, 1) per element. The
// quotient carries O(h^2) truncation (measured 5e-4 relative at h = 1e-3, so ~5e-5 at 3e-4) and
// fp32 rounding of the loss (~1e-7 of a loss near 1, divided by 2h: ~2e-4); 2e-3 covers both,
// while masks that differ between forward and backward miss by several percent or more.
#define DROPOUT_FD_TOL 2e-3
static void check_dropout(ds_test *t, ds_context *ctx, ds_bert_model *m, const expected *e) {
    const ds_bert_batch batch = make_batch(t, e, "pair");
    const int64_t nl = m->cfg.num_labels * batch.B;
    float a[64], b[64], c[64], ev[64];
    ds_bert_output out;
    // An arena of exactly the planned size for this shape: a training step with dropout carves
    // every buffer the plan counts, so plan and use must be equal.
    size_t bytes = 0;
    ds_arena arena_v = {0}, *arena = &arena_v;
    bool ok = nl <= 64 && ds_bert_arena_bytes(ctx, m, batch.B, batch.T, true, &bytes) == DS_OK &&
              ds_arena_init_cpu(arena, bytes, &ctx->err) == DS_OK;
    ok = ok && ds_bert_forward(ctx, m, &batch, true, 7, arena, &out) == DS_OK;
    if (ok) memcpy(a, out.logits.data, (size_t)nl * sizeof(float));
    ok = ok && ds_bert_forward(ctx, m, &batch, true, 7, arena, &out) == DS_OK;
    if (ok) memcpy(b, out.logits.data, (size_t)nl * sizeof(float));
    ok = ok && ds_bert_forward(ctx, m, &batch, true, 8, arena, &out) == DS_OK;
    if (ok) memcpy(c, out.logits.data, (size_t)nl * sizeof(float));
    ok = ok && ds_bert_forward(ctx, m, &batch, false, 7, arena, &out) == DS_OK;
    if (ok) memcpy(ev, out.logits.data, (size_t)nl * sizeof(float));
    if (!ds_test_check(t, ok, "dropout forwards: %s", ctx->err.msg)) return;
    ds_test_check(t, memcmp(a, b, (size_t)nl * sizeof(float)) == 0, "dropout: same rng_step, different logits");
    ds_test_check(t, memcmp(a, c, (size_t)nl * sizeof(float)) != 0, "dropout: rng_step 7 and 8 give the same logits");
    ds_test_check(t, memcmp(a, ev, (size_t)nl * sizeof(float)) != 0, "dropout: training and eval give the same logits");

    ds_param_block *pb = &m->params;
    float *dir = malloc(pb->total * sizeof(float)), *keep = malloc(pb->total * sizeof(float));
    ds_fill_uniform_f32(dir, pb->total, 77);
    memcpy(keep, pb->params, pb->total * sizeof(float));
    ds_bert_zero_grads(m);
    ok = ds_bert_forward(ctx, m, &batch, true, 7, arena, &out) == DS_OK && ds_bert_backward(ctx, m, 1.0, arena) == DS_OK;
    double analytic = 0;
    for (size_t i = 0; i < pb->total; i++) analytic += (double)pb->grads[i] * dir[i];
    const double h = 3e-4;
    double loss[2] = {0, 0};
    for (int s = 0; s < 2 && ok; s++) {
        for (size_t i = 0; i < pb->total; i++) pb->params[i] = keep[i] + (float)((s ? -h : h) * dir[i]);
        ok = ds_bert_forward(ctx, m, &batch, true, 7, arena, &out) == DS_OK;
        loss[s] = out.loss;
    }
    memcpy(pb->params, keep, pb->total * sizeof(float));
    ds_test_check(t, arena->peak == bytes, "dropout step: plan %zu bytes != used %zu", bytes, arena->peak);
    ds_arena_free(arena);
    const double fd = (loss[0] - loss[1]) / (2 * h);
    if (ds_test_check(t, ok, "dropout gradient check: %s", ctx->err.msg))
        ds_test_check(t, fabs(fd - analytic) <= DROPOUT_FD_TOL * fabs(analytic),
                      "dropout on: directional derivative %.6e, finite difference %.6e (rel %.2e)", analytic, fd,
                      fabs(fd - analytic) / fabs(analytic));
    printf("dropout on: directional derivative %.6e, finite difference %.6e\n", analytic, fd);
    free(dir), free(keep);
}

int main(void) {
    ds_test t = ds_test_begin("bert_parity");
    ds_context ctx = ds_context_cpu();
    ctx.log.level = DS_LOG_WARN;
    for (size_t c = 0; c < sizeof k_cases / sizeof k_cases[0]; c++) {
        ds_bert_model m;
        expected e;
        if (!load_case(&t, &ctx, k_cases[c], &m, &e)) continue;
        // One arena for the larger batch (3 x 11) serves the smaller (2 x 9) as well.
        size_t bytes = 0;
        ds_arena arena = {0};
        if (ds_test_check(&t, ds_bert_arena_bytes(&ctx, &m, 3, 11, true, &bytes) == DS_OK &&
                                  ds_arena_init_cpu(&arena, bytes, &ctx.err) == DS_OK,
                          "plan: %s", ctx.err.msg)) {
            for (size_t b = 0; b < 2; b++) {
                check_batch(&t, &ctx, k_cases[c], &m, &e, k_batches[b], &arena);
                // Eval carves no dropout buffer: within the plan (exactness: check_dropout).
                if (b == 0)
                    ds_test_check(&t, arena.peak <= bytes, "%s: plan %zu bytes < used %zu", k_cases[c], bytes,
                                  arena.peak);
            }
            check_predict(&t, &ctx, k_cases[c], &m, &e);
            if (c == 0) check_dropout(&t, &ctx, &m, &e);
            check_trace(&t, &ctx, k_cases[c], &m, &e, &arena);
        }
        ds_arena_free(&arena);
        ds_st_close(&e.file);
        ds_bert_free(&m);
    }
    return ds_test_finish(&t);
}
