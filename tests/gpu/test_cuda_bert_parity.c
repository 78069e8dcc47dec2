// BertForSequenceClassification on CUDA against the CPU (the reference, itself checked against
// transformers in tests/cpu/test_bert_parity.c), on the same fixtures (tests/fixtures/bert/<case>):
//   - fp32 (TF32 off): logits, loss and every parameter gradient of the padded and the pair batch,
//     in eval mode, for the single-label, multi-label and regression models;
//   - bf16 mixed precision: the same, looser (see the tolerances);
//   - 10 optimizer steps (ds_optim_step: the device path's one reduction and one flat AdamW) in
//     fp32 and bf16 against the CPU's loss trace;
//   - resume on the GPU is bit-exact in deterministic mode: 6 steps with dropout on equal 3 steps,
//     parameters and moments brought to the host (as a checkpoint does), a fresh model and
//     optimizer built from them, and 3 more steps.
// Skipped (77) without a usable CUDA device.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../models/bert/bert.h"
#include "../../runtime/tasks/text/hf_bert.h"
#include "../../runtime/train/optim.h"
#include "../../runtime/io/safetensors.h"
#include "../gpu_test_util.h"
#include "../test_util.h"

// fp32 on the GPU (TF32 off) computes the same fp32 arithmetic as the CPU; only the order of
// summation differs (cuBLAS's kernels and the ops' block reductions against OpenBLAS and loops),
// which moves results by rounding: ~1e-6 tensor-relative, as between the CPU and torch (measured
// there <= 2e-6). 1e-4 is the bound the task sets and leaves that margin, while a wrong term (a
// mask, a position id, a missing gradient, a wrong scale) errs by 1e-2 or more.
#define TOL_FP32 1e-4
// The key bias's true gradient is 0 (softmax ignores a constant added to a row's scores): both
// devices hold rounding noise only; checked absolutely, as on the CPU.
#define KEY_BIAS_ABS 1e-6
// bf16 keeps 8 significant bits (unit roundoff 2^-9 ~ 2e-3). Every activation is rounded once per
// op over ~25 chained ops and the weights once, with LayerNorm's 1/std amplifying: errors of a
// few 1e-3 that add up to ~1e-2 tensor-relative, the usual gap between torch.autocast(bf16) and
// fp32. 5e-2 bounds that; this check is for the bf16 plumbing (an operand in the wrong dtype or a
// missing bf16 copy gives O(1) errors), while the fp32 check above holds the arithmetic to 1e-4.
// The key bias's noise is not meaningful at this precision and is not compared.
#define TOL_BF16 5e-2
// The 10-step trace: gradients that agree to ~1e-6 move the parameters by ~1e-6 lr per step, and
// the global norm (one double reduction on the device, per-tensor fp32 norms on the CPU) changes
// the clip factor by at most an fp32 ulp (~6e-8); after 10 steps the losses agree to ~1e-6
// relative. 2e-5 leaves a 20x margin; weight decay on the wrong tensors errs by ~1e-5 per step
// and compounds, a schedule off by a step by ~3e-2.
#define TRACE_TOL_FP32 2e-5
#define TRACE_TOL_BF16 5e-2  // bf16 as above

static const char *const k_cases[] = {"single_label", "multi_label", "regression"};
static const char *const k_batches[] = {"padded", "pair"};

static ds_tensor get(ds_test *t, const ds_st_file *f, const char *batch, const char *what, ds_dtype dt) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s", batch, what);
    ds_tensor v = {0};
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, ds_st_view(f, name, dt, &v, &err) == DS_OK, "expected tensor: %s", err.msg))
        memset(&v, 0, sizeof v);
    return v;
}

static bool has(const ds_st_file *f, const char *batch, const char *what) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s", batch, what);
    return ds_st_find(f, name) != NULL;
}

static ds_bert_batch make_batch(ds_test *t, const ds_st_file *f, const char *b) {
    const ds_tensor ids = get(t, f, b, "input_ids", DS_I32), mask = get(t, f, b, "attention_mask", DS_I32);
    ds_bert_batch batch = {.B = ids.shape[0], .T = ids.shape[1], .input_ids = ids.data, .attention_mask = mask.data};
    if (has(f, b, "token_type_ids")) batch.token_type_ids = get(t, f, b, "token_type_ids", DS_I32).data;
    if (has(f, b, "labels")) batch.labels = get(t, f, b, "labels", DS_I32).data;
    else batch.label_values = get(t, f, b, "label_values", DS_F32).data;
    return batch;
}

static double max_abs(const ds_tensor *x) {
    double m = 0;
    for (int64_t i = 0; i < ds_tensor_numel(x); i++) m = fmax(m, fabs(((const float *)x->data)[i]));
    return m;
}

// One model on one context, with its arena (sized for the larger fixture batch, 3 x 11).
typedef struct runner {
    ds_context *ctx;
    ds_bert_model m;
    ds_arena arena;
    bool ok;
} runner;

// Loads the fixture model on the host; `params` (host, the block's total), when given, replaces its
// parameters before they move to the device (a resume from a checkpoint does the same).
static bool runner_open_from(ds_test *t, runner *r, ds_context *ctx, const char *cname, ds_dtype act,
                             const float *params) {
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    char dir[512], rel[256];
    snprintf(rel, sizeof rel, "bert/%s", cname);
    ds_test_fixture(rel, dir, sizeof dir);
    size_t bytes = 0;
    r->ok = ds_hf_bert_load(ctx, dir, NULL, &r->m, NULL) == DS_OK;
    const bool loaded = r->ok;
    if (loaded && params) memcpy(r->m.params.params, params, r->m.params.total * sizeof(float));
    r->ok = r->ok && ds_bert_to_device(ctx, &r->m, act) == DS_OK &&
            ds_bert_arena_bytes(ctx, &r->m, 3, 11, true, &bytes) == DS_OK &&
            ds_arena_init_for(ctx, &r->arena, bytes) == DS_OK;
    if (!ds_test_check(t, r->ok, "%s (%s): open: %s", cname, ds_dtype_name(act), ctx->err.msg)) {
        ds_arena_free(&r->arena);
        if (loaded) ds_bert_free(&r->m);
        return false;
    }
    return true;
}

static bool runner_open(ds_test *t, runner *r, ds_context *ctx, const char *cname, ds_dtype act) {
    return runner_open_from(t, r, ctx, cname, act, NULL);
}

static void runner_close(runner *r) {
    ds_arena_free(&r->arena);
    ds_bert_free(&r->m);
}

// Forward (eval) and backward of `batch` with zeroed gradients; logits (B*C) and loss to the host,
// gradients downloaded into the block's host array.
static bool run_batch(runner *r, const ds_bert_batch *batch, float *logits, float *loss) {
    ds_bert_output out;
    if (ds_bert_zero_grads(&r->m) != DS_OK || ds_bert_forward(r->ctx, &r->m, batch, false, 0, &r->arena, &out) != DS_OK ||
        ds_bert_backward(r->ctx, &r->m, 1.0, &r->arena) != DS_OK ||
        ds_param_block_download_grads(r->ctx, &r->m.params) != DS_OK)
        return false;
    memcpy(logits, out.logits.data, (size_t)ds_tensor_numel(&out.logits) * sizeof(float));
    *loss = out.loss;
    return true;
}

static void compare_batch(ds_test *t, const char *cname, const char *b, runner *cpu, runner *gpu, const ds_bert_batch *batch,
                          double tol) {
    const int64_t nl = batch->B * cpu->m.cfg.num_labels;
    float lc[64], lg[64], loss_c = 0, loss_g = 0;
    if (!ds_test_check(t, nl <= 64, "fixture too large")) return;
    const char *prec = tol == TOL_FP32 ? "fp32" : "bf16";
    if (!ds_test_check(t, run_batch(cpu, batch, lc, &loss_c), "%s %s cpu: %s", cname, b, cpu->ctx->err.msg)) return;
    if (!ds_test_check(t, run_batch(gpu, batch, lg, &loss_g), "%s %s cuda %s: %s", cname, b, prec, gpu->ctx->err.msg))
        return;
    char what[256];
    snprintf(what, sizeof what, "%s %s %s logits", cname, b, prec);
    const ds_tensor tg = ds_tensor_cpu1(lg, DS_F32, nl), tc = ds_tensor_cpu1(lc, DS_F32, nl);
    ds_test_close(t, what, &tg, &tc, tol);
    snprintf(what, sizeof what, "%s %s %s loss", cname, b, prec);
    const ds_tensor sg = ds_tensor_cpu1(&loss_g, DS_F32, 1), sc = ds_tensor_cpu1(&loss_c, DS_F32, 1);
    ds_test_close(t, what, &sg, &sc, tol);
    const ds_param_block *pc = &cpu->m.params, *pg = &gpu->m.params;
    for (int i = 0; i < pc->count; i++) {
        const ds_tensor gc = ds_param_block_grad(pc, i), gg = ds_param_block_grad(pg, i);
        snprintf(what, sizeof what, "%s %s %s grad.%s", cname, b, prec, pc->specs[i].name);
        if (strstr(pc->specs[i].name, "attention.self.key.bias")) {
            if (tol == TOL_FP32)
                ds_test_check(t, max_abs(&gg) <= KEY_BIAS_ABS, "%s: |grad| %.3e where the true gradient is 0", what,
                              max_abs(&gg));
            continue;
        }
        ds_test_close(t, what, &gg, &gc, tol);
    }
}

// HF's linear schedule with warm-up, as the CPU parity test.
static double schedule_lr(double lr, int step, int warmup, int total) {
    if (step < warmup) return lr * ((double)step / (double)(warmup > 1 ? warmup : 1));
    const double rest = (double)(total - step) / (double)(total - warmup > 1 ? total - warmup : 1);
    return lr * (rest > 0 ? rest : 0);
}

enum { STEPS = 10, WARMUP = 3 };

// STEPS optimizer steps through ds_optim (clipping at 1.0, weight decay 0.01 on the decay tensors).
static bool trace(runner *r, const ds_bert_batch batches[2], double *losses) {
    ds_optim o;
    ds_optim_options oo = ds_optim_options_default();
    oo.weight_decay = 0.01;
    bool ok = ds_optim_init(&o, &r->m.params, &oo, &r->ctx->err) == DS_OK &&
              ds_optim_to_device(r->ctx, &o, &r->m.params) == DS_OK;
    for (int step = 0; step < STEPS && ok; step++) {
        ds_bert_output out;
        ok = ds_bert_zero_grads(&r->m) == DS_OK &&
             ds_bert_forward(r->ctx, &r->m, &batches[step % 2], false, (uint64_t)step, &r->arena, &out) == DS_OK &&
             ds_bert_backward(r->ctx, &r->m, 1.0, &r->arena) == DS_OK &&
             ds_optim_step(r->ctx, &o, &r->m.params, schedule_lr(1e-3, step, WARMUP, STEPS), 1.0, NULL) == DS_OK;
        losses[step] = out.loss;
    }
    ds_optim_free(&o);
    return ok;
}

static void compare_trace(ds_test *t, const char *cname, runner *cpu, runner *gpu, const ds_bert_batch batches[2],
                          double tol) {
    double lc[STEPS], lg[STEPS];
    const char *prec = tol == TRACE_TOL_FP32 ? "fp32" : "bf16";
    if (!ds_test_check(t, trace(cpu, batches, lc), "%s cpu trace: %s", cname, cpu->ctx->err.msg) ||
        !ds_test_check(t, trace(gpu, batches, lg), "%s cuda %s trace: %s", cname, prec, gpu->ctx->err.msg))
        return;
    char what[128];
    snprintf(what, sizeof what, "%s %s 10-step loss trace (cuda vs cpu)", cname, prec);
    ds_test_close_f64(t, what, lg, lc, STEPS, tol);
    ds_test_check(t, fabs(lg[STEPS - 1] - lg[STEPS - 3]) > 1e-3 || fabs(lg[STEPS - 2] - lg[STEPS - 4]) > 1e-3,
                  "%s: the loss did not move, so the trace tests nothing", what);
}

// Steps [from, to) with dropout on (rng_step = step) through model r and optimizer o.
static bool train_steps(runner *r, ds_optim *o, const ds_bert_batch batches[2], int from, int to) {
    for (int step = from; step < to; step++) {
        ds_bert_output out;
        if (ds_bert_zero_grads(&r->m) != DS_OK ||
            ds_bert_forward(r->ctx, &r->m, &batches[step % 2], true, (uint64_t)step, &r->arena, &out) != DS_OK ||
            ds_bert_backward(r->ctx, &r->m, 1.0, &r->arena) != DS_OK ||
            ds_optim_step(r->ctx, o, &r->m.params, schedule_lr(1e-3, step, 2, 6), 1.0, NULL) != DS_OK)
            return false;
    }
    return true;
}

static bool new_optim(runner *r, ds_optim *o) {
    ds_optim_options oo = ds_optim_options_default();
    oo.weight_decay = 0.01;
    return ds_optim_init(o, &r->m.params, &oo, &r->ctx->err) == DS_OK;
}

// 6 steps straight vs 3 + "checkpoint" (host copies) + fresh model and optimizer + 3, bf16 with
// dropout on: parameters and moments must be equal bit for bit.
static void check_resume(ds_test *t, ds_context *gpu, const ds_bert_batch batches[2]) {
    runner a, b, c;
    ds_optim oa, ob, oc;
    memset(&oa, 0, sizeof oa), memset(&ob, 0, sizeof ob), memset(&oc, 0, sizeof oc);
    if (!runner_open(t, &a, gpu, "single_label", DS_BF16)) return;
    bool ok = new_optim(&a, &oa) && ds_optim_to_device(gpu, &oa, &a.m.params) == DS_OK &&
              train_steps(&a, &oa, batches, 0, 6) && ds_param_block_download(gpu, &a.m.params) == DS_OK &&
              ds_optim_download(gpu, &oa) == DS_OK;
    if (!ds_test_check(t, ok, "resume: straight run: %s", gpu->err.msg) || !runner_open(t, &b, gpu, "single_label", DS_BF16)) {
        ds_optim_free(&oa);
        runner_close(&a);
        return;
    }
    ok = new_optim(&b, &ob) && ds_optim_to_device(gpu, &ob, &b.m.params) == DS_OK && train_steps(&b, &ob, batches, 0, 3) &&
         ds_param_block_download(gpu, &b.m.params) == DS_OK && ds_optim_download(gpu, &ob) == DS_OK;
    // c: the fixture loaded on the host with the "checkpoint" over its parameters, then moved (the
    // bf16 copy made again from the fp32 masters), and an optimizer from the saved moments and step.
    if (ok && runner_open_from(t, &c, gpu, "single_label", DS_BF16, b.m.params.params)) {
        ok = new_optim(&c, &oc);
        if (ok) {
            memcpy(oc.m, ob.m, ob.total * sizeof(float));
            memcpy(oc.v, ob.v, ob.total * sizeof(float));
            oc.step = ob.step;
            ok = ds_optim_to_device(gpu, &oc, &c.m.params) == DS_OK && train_steps(&c, &oc, batches, 3, 6) &&
                 ds_param_block_download(gpu, &c.m.params) == DS_OK && ds_optim_download(gpu, &oc) == DS_OK;
        }
        if (ds_test_check(t, ok, "resume: resumed run: %s", gpu->err.msg)) {
            const size_t n = a.m.params.total * sizeof(float);
            ds_test_check(t, memcmp(a.m.params.params, c.m.params.params, n) == 0,
                          "resume on cuda (bf16, deterministic): parameters differ from the straight run");
            ds_test_check(t, memcmp(oa.m, oc.m, n) == 0 && memcmp(oa.v, oc.v, n) == 0,
                          "resume on cuda (bf16, deterministic): AdamW moments differ from the straight run");
            ds_test_check(t, memcmp(a.m.params.params, b.m.params.params, n) != 0,
                          "resume: 3 and 6 steps give the same parameters, so the check tests nothing");
        }
        ds_optim_free(&oc);
        runner_close(&c);
    }
    ds_test_check(t, ok, "resume: %s", gpu->err.msg);
    ds_optim_free(&oa), ds_optim_free(&ob);
    runner_close(&a), runner_close(&b);
}

int main(void) {
    ds_context gpu = ds_context_cpu();
    gpu.log.level = DS_LOG_WARN;
    if (!ds_gpu_test_open(&gpu, "cuda_bert_parity")) return DS_TEST_SKIP;
    gpu.deterministic = true;
    ds_test t = ds_test_begin("cuda_bert_parity");
    ds_context cpu = ds_context_cpu();
    cpu.log.level = DS_LOG_WARN;
    for (size_t c = 0; c < sizeof k_cases / sizeof k_cases[0]; c++) {
        char dir[512], rel[256], path[600];
        snprintf(rel, sizeof rel, "bert/%s", k_cases[c]);
        ds_test_fixture(rel, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/expected.safetensors", dir);
        ds_st_file f;
        if (!ds_test_check(&t, ds_st_open(path, &f, &cpu.err) == DS_OK, "%s", cpu.err.msg)) continue;
        const ds_bert_batch batches[2] = {make_batch(&t, &f, k_batches[0]), make_batch(&t, &f, k_batches[1])};
        const ds_dtype acts[2] = {DS_F32, DS_BF16};
        for (int p = 0; p < 2; p++) {
            runner rc, rg;
            if (!runner_open(&t, &rc, &cpu, k_cases[c], DS_F32)) continue;
            if (!runner_open(&t, &rg, &gpu, k_cases[c], acts[p])) {
                runner_close(&rc);
                continue;
            }
            for (size_t b = 0; b < 2; b++)
                compare_batch(&t, k_cases[c], k_batches[b], &rc, &rg, &batches[b], p == 0 ? TOL_FP32 : TOL_BF16);
            compare_trace(&t, k_cases[c], &rc, &rg, batches, p == 0 ? TRACE_TOL_FP32 : TRACE_TOL_BF16);
            runner_close(&rc);
            runner_close(&rg);
        }
        if (c == 0) check_resume(&t, &gpu, batches);
        ds_st_close(&f);
    }
    const int rc = ds_test_finish(&t);
    ds_gpu_close(&gpu);
    return rc;
}
