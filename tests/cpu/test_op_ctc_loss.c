// ctc_loss against torch (tests/fixtures/ops/ctc_loss.safetensors, scripts/fixtures/ops_speech.py):
// ragged batches (input and target lengths per utterance), repeated labels, an empty target, T
// just long enough, an input of length 0, impossible alignments with and without zero_infinity,
// targets longer than 1024, peaky log-probs, both reductions. Both dtypes, both gradient modes:
// DS_CTC_GRAD_LOGITS against what torch's ctc backward returns and against autograd from the
// logits; DS_CTC_GRAD_LOG_PROBS through the log_softmax backward op against the same logits
// gradient. Then finite differences in F64 (the LOG_PROBS mode is the true gradient; the LOGITS
// mode through log_softmax's forward), thread-count independence, and the error paths.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// The reference is torch in float64 on the same float32 log-probs.
// Losses, F64: both sides sum logs in double, ~1e-15 relative; 1e-9 leaves a wide margin.
// Gradients, F64: the stored references are rounded to float32 (6e-8 relative), and dlogits comes
// from the float64 logits while our log-probs are the float32 ones (~1e-7 apart per element, which
// a 2000-frame alignment can sum to a few 1e-7): 2e-6 bounds both.
// F32: the recursion is double with float log-sum-exp corrections (~1e-7 absolute per frame):
// measured worst 6e-8 relative on the losses and 1.8e-6 of the largest gradient (the 1850-frame
// case); 1e-6 and 2e-5 leave a 10x margin, while a wrong skip rule, length, reduction or scaling
// is off by >= 1e-2. (torch's own float32 CTC is off by ~1e-3 at T = 400.)
#define TOL_F64 1e-9
#define TOL_F64_GRAD 2e-6
#define TOL_F32_LOSS 1e-6
#define TOL_F32_GRAD 2e-5

typedef struct ctc_case {
    ds_tensor logits, lp, targets, il, tl, losses_want, loss_want, grad_want, dlogits_want;
    int blank, reduction, zero_inf;
    double dloss;
} ctc_case;

// A copy of a F32 tensor in dtype dt (calloc'd).
static ds_tensor as_dtype(const ds_tensor *src, ds_dtype dt) {
    ds_tensor d = ds_test_zeros_like(src, dt);
    const float *s = src->data;
    for (int64_t i = 0; i < ds_tensor_numel(src); i++) {
        if (dt == DS_F32) ((float *)d.data)[i] = s[i];
        else ((double *)d.data)[i] = s[i];
    }
    return d;
}

static double get(const ds_tensor *t, int64_t i) {
    return t->dtype == DS_F32 ? ((const float *)t->data)[i] : ((const double *)t->data)[i];
}

// Compares got and want elementwise where infinities must match exactly and the finite values
// within tol (tensor-relative over the finite ones). NaN matches NaN only.
static void close_with_inf(ds_test *t, const char *what, const ds_tensor *got, const ds_tensor *want, double tol) {
    const int64_t n = ds_tensor_numel(want);
    double *g = calloc((size_t)n + 1, sizeof(double)), *w = calloc((size_t)n + 1, sizeof(double));
    size_t m = 0;
    bool same_inf = ds_tensor_numel(got) == n;
    for (int64_t i = 0; i < n && same_inf; i++) {
        const double a = get(got, i), b = get(want, i);
        if (isinf(b) || isinf(a)) {
            same_inf &= a == b;
            continue;
        }
        g[m] = a, w[m] = b, m++;
    }
    if (ds_test_check(t, same_inf, "%s: infinities differ from torch's", what) && m > 0)
        ds_test_close_f64(t, what, g, w, m, tol);
    free(g), free(w);
}

static void run_dtype(ds_test *t, ds_context *ctx, const ctc_case *c, int k, ds_dtype dt) {
    const int64_t N = c->lp.shape[0], T = c->lp.shape[1], C = c->lp.shape[2], S = c->targets.shape[1];
    const double tl_loss = dt == DS_F64 ? TOL_F64 : TOL_F32_LOSS, tl_grad = dt == DS_F64 ? TOL_F64_GRAD : TOL_F32_GRAD;
    const char *dn = dt == DS_F64 ? "F64" : "F32";
    char what[128];
    ds_tensor lp = as_dtype(&c->lp, dt);
    const int64_t as[] = {N, T, 2 * S + 1};
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    ds_tensor alpha = ds_tensor_make(calloc((size_t)(N * T * (2 * S + 1)), sizeof(double)), DS_F64, cpu, 3, as);
    ds_tensor aexp = ds_tensor_make(calloc((size_t)(N * T * (2 * S + 1)), sizeof(int32_t)), DS_I32, cpu, 3, as);
    ds_tensor losses = ds_test_zeros_like(&c->losses_want, dt);
    double loss_buf = 0;
    ds_tensor loss = ds_tensor_cpu1(&loss_buf, dt, 1);
    ds_ctc_loss_fwd_args fa = {.log_probs = lp, .targets = c->targets, .input_lengths = c->il, .target_lengths = c->tl,
                               .losses = losses, .loss = loss, .alpha = alpha, .alpha_exp = aexp,
                               .blank = c->blank, .reduction = c->reduction ? DS_CTC_SUM : DS_CTC_MEAN,
                               .zero_infinity = c->zero_inf != 0};
    if (ds_test_check(t, ds_ctc_loss_forward(ctx, &fa) == DS_OK, "case%d %s forward: %s", k, dn, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d %s losses", k, dn);
        close_with_inf(t, what, &losses, &c->losses_want, tl_loss);
        snprintf(what, sizeof what, "case%d %s loss (%s)", k, dn, c->reduction ? "sum" : "mean");
        close_with_inf(t, what, &loss, &c->loss_want, tl_loss);
    }
    // LOGITS mode: torch's ctc backward output and the logits' gradient.
    ds_tensor grad = ds_test_zeros_like(&c->grad_want, dt);
    ds_test_fill_nan(&grad);  // frames past the input length must be written as 0
    ds_ctc_loss_bwd_args ba = {.log_probs = lp, .targets = c->targets, .input_lengths = c->il, .target_lengths = c->tl,
                               .alpha = alpha, .alpha_exp = aexp, .grad = grad, .dloss = c->dloss,
                               .blank = c->blank, .reduction = fa.reduction, .zero_infinity = fa.zero_infinity,
                               .wrt = DS_CTC_GRAD_LOGITS};
    if (ds_test_check(t, ds_ctc_loss_backward(ctx, &ba) == DS_OK, "case%d %s backward: %s", k, dn, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d %s grad (logits mode) vs torch ctc", k, dn);
        ds_test_close(t, what, &grad, &c->grad_want, tl_grad);
        snprintf(what, sizeof what, "case%d %s grad (logits mode) vs dlogits", k, dn);
        ds_test_close(t, what, &grad, &c->dlogits_want, tl_grad);
    }
    // LOG_PROBS mode, then the log_softmax backward op: the logits' gradient again.
    ds_tensor glp = ds_test_zeros_like(&c->grad_want, dt), dlogits = ds_test_zeros_like(&c->grad_want, dt);
    ba.grad = glp;
    ba.wrt = DS_CTC_GRAD_LOG_PROBS;
    if (ds_test_check(t, ds_ctc_loss_backward(ctx, &ba) == DS_OK, "case%d %s backward: %s", k, dn, ctx->err.msg)) {
        const int64_t s2[] = {N * T, C};
        ds_softmax_bwd_args lb = {.y = ds_tensor_make(lp.data, dt, cpu, 2, s2), .dy = ds_tensor_make(glp.data, dt, cpu, 2, s2),
                                  .dx = ds_tensor_make(dlogits.data, dt, cpu, 2, s2)};
        if (ds_test_check(t, ds_log_softmax_backward(ctx, &lb) == DS_OK, "log_softmax backward: %s", ctx->err.msg)) {
            snprintf(what, sizeof what, "case%d %s log_probs mode + log_softmax bwd", k, dn);
            ds_test_close(t, what, &dlogits, &c->dlogits_want, tl_grad);
        }
    }
    free(lp.data), free(alpha.data), free(aexp.data), free(losses.data), free(grad.data), free(glp.data),
        free(dlogits.data);
}

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    ctc_case c = {
        .logits = ds_op_fixture_get(t, f, k, "logits", DS_F32), .lp = ds_op_fixture_get(t, f, k, "log_probs", DS_F32),
        .targets = ds_op_fixture_get(t, f, k, "targets", DS_I32), .il = ds_op_fixture_get(t, f, k, "input_lengths", DS_I32),
        .tl = ds_op_fixture_get(t, f, k, "target_lengths", DS_I32),
        .losses_want = ds_op_fixture_get(t, f, k, "losses", DS_F64), .loss_want = ds_op_fixture_get(t, f, k, "loss", DS_F64),
        .grad_want = ds_op_fixture_get(t, f, k, "grad", DS_F32), .dlogits_want = ds_op_fixture_get(t, f, k, "dlogits", DS_F32),
        .blank = (int)ds_op_fixture_scalar(t, f, k, "blank"), .reduction = (int)ds_op_fixture_scalar(t, f, k, "reduction"),
        .zero_inf = (int)ds_op_fixture_scalar(t, f, k, "zero_infinity"), .dloss = ds_op_fixture_scalar(t, f, k, "dloss")};
    if (!c.lp.data || !c.targets.data || !c.il.data || !c.tl.data || !c.losses_want.data || !c.loss_want.data ||
        !c.grad_want.data || !c.dlogits_want.data)
        return;
    run_dtype(t, ctx, &c, k, DS_F64);
    run_dtype(t, ctx, &c, k, DS_F32);
}

// ---- finite differences in F64 ----
enum { FN = 3, FT = 7, FC = 5, FS = 4 };
typedef struct fd_case {
    ds_context *ctx;
    double *x;  // (FN, FT, FC): log-probs, or logits when through_softmax
    bool through_softmax;
    ds_ctc_reduction reduction;
} fd_case;
static const int32_t k_fd_targets[FN * FS] = {1, 2, 2, 3, 4, 4, 0, 0, 3, 1, 3, 2};
static const int32_t k_fd_il[FN] = {7, 5, 6}, k_fd_tl[FN] = {4, 2, 4};

static double fd_loss(void *user) {
    fd_case *c = user;
    double lpbuf[FN * FT * FC], alpha[FN * FT * (2 * FS + 1)], losses[FN], loss = NAN;
    int32_t aexp[FN * FT * (2 * FS + 1)];
    const double *lp = c->x;
    if (c->through_softmax) {
        ds_softmax_fwd_args s = {.x = ds_tensor_cpu2(c->x, DS_F64, FN * FT, FC), .y = ds_tensor_cpu2(lpbuf, DS_F64, FN * FT, FC)};
        if (ds_log_softmax_forward(c->ctx, &s) != DS_OK) return NAN;
        lp = lpbuf;
    }
    ds_ctc_loss_fwd_args a = {.log_probs = ds_tensor_cpu3((void *)lp, DS_F64, FN, FT, FC),
                              .targets = ds_tensor_cpu2((void *)k_fd_targets, DS_I32, FN, FS),
                              .input_lengths = ds_tensor_cpu1((void *)k_fd_il, DS_I32, FN),
                              .target_lengths = ds_tensor_cpu1((void *)k_fd_tl, DS_I32, FN),
                              .losses = ds_tensor_cpu1(losses, DS_F64, FN), .loss = ds_tensor_cpu1(&loss, DS_F64, 1),
                              .alpha = ds_tensor_cpu3(alpha, DS_F64, FN, FT, 2 * FS + 1),
                              .alpha_exp = ds_tensor_cpu3(aexp, DS_I32, FN, FT, 2 * FS + 1), .blank = 0,
                              .reduction = c->reduction};
    if (ds_ctc_loss_forward(c->ctx, &a) != DS_OK) return NAN;
    return loss;
}

// Finite differences of the loss against the LOG_PROBS mode (inputs: arbitrary log-probs, not
// normalised, so that the true gradient differs from torch's convention) and against the LOGITS
// mode (inputs: logits; the loss goes through the log_softmax op).
static void check_fd(ds_test *t, ds_context *ctx, bool through_softmax, ds_ctc_reduction red) {
    double x[FN * FT * FC], lp[FN * FT * FC], grad[FN * FT * FC], alpha[FN * FT * (2 * FS + 1)];
    int32_t aexp[FN * FT * (2 * FS + 1)];
    double losses[FN], loss;
    ds_fill_uniform_f64(x, FN * FT * FC, through_softmax ? 71 : 72);
    for (int i = 0; i < FN * FT * FC; i++) x[i] = through_softmax ? 3 * x[i] : -1.5 + x[i];  // log-probs < 0
    memcpy(lp, x, sizeof lp);
    if (through_softmax) {
        ds_softmax_fwd_args s = {.x = ds_tensor_cpu2(x, DS_F64, FN * FT, FC), .y = ds_tensor_cpu2(lp, DS_F64, FN * FT, FC)};
        ds_log_softmax_forward(ctx, &s);
    }
    ds_ctc_loss_fwd_args a = {.log_probs = ds_tensor_cpu3(lp, DS_F64, FN, FT, FC),
                              .targets = ds_tensor_cpu2((void *)k_fd_targets, DS_I32, FN, FS),
                              .input_lengths = ds_tensor_cpu1((void *)k_fd_il, DS_I32, FN),
                              .target_lengths = ds_tensor_cpu1((void *)k_fd_tl, DS_I32, FN),
                              .losses = ds_tensor_cpu1(losses, DS_F64, FN), .loss = ds_tensor_cpu1(&loss, DS_F64, 1),
                              .alpha = ds_tensor_cpu3(alpha, DS_F64, FN, FT, 2 * FS + 1),
                              .alpha_exp = ds_tensor_cpu3(aexp, DS_I32, FN, FT, 2 * FS + 1), .blank = 0, .reduction = red};
    ds_ctc_loss_bwd_args b = {.log_probs = a.log_probs, .targets = a.targets, .input_lengths = a.input_lengths,
                              .target_lengths = a.target_lengths, .alpha = a.alpha,
                              .alpha_exp = a.alpha_exp, .grad = ds_tensor_cpu3(grad, DS_F64, FN, FT, FC),
                              .dloss = 1, .blank = 0, .reduction = red,
                              .wrt = through_softmax ? DS_CTC_GRAD_LOGITS : DS_CTC_GRAD_LOG_PROBS};
    char what[96];
    snprintf(what, sizeof what, "ctc fd %s (%s)", through_softmax ? "d/dlogits" : "d/dlog_probs",
             red == DS_CTC_SUM ? "sum" : "mean");
    if (!ds_test_check(t, ds_ctc_loss_forward(ctx, &a) == DS_OK && ds_ctc_loss_backward(ctx, &b) == DS_OK,
                       "%s: %s", what, ctx->err.msg))
        return;
    fd_case c = {ctx, x, through_softmax, red};
    // Central differences in double with h = 1e-6: error ~1e-9 relative (gradcheck.h); 1e-6
    // leaves a wide margin while any wrong term misses by orders of magnitude.
    ds_gradcheck(t, what, x, grad, FN * FT * FC, FN * FT * FC, fd_loss, &c, 1e-6, 1e-6);
}

// Losses, alpha and gradients bit-identical for 1 and 3 threads (utterances are independent).
static void check_threads(ds_test *t, ds_context *ctx) {
    enum { N = 7, T = 50, C = 9, S = 12 };
    float *lp = malloc(sizeof(float) * N * T * C), *grad[2];
    double *alpha[2];
    int32_t *aexp[2];
    float losses[2][N], loss[2];
    int32_t targets[N * S], il[N], tl[N];
    ds_fill_uniform_f32(lp, N * T * C, 9);
    for (int i = 0; i < N * T * C; i++) lp[i] = -3.0f + lp[i];
    for (int n = 0; n < N; n++) {
        il[n] = T - 3 * n;
        tl[n] = S - n;
        for (int j = 0; j < S; j++) targets[n * S + j] = 1 + (n * 7 + j * 3) % (C - 1);
    }
    const int threads = omp_get_max_threads();
    bool ok = true;
    for (int r = 0; r < 2; r++) {
        omp_set_num_threads(r == 0 ? 1 : 3);
        grad[r] = malloc(sizeof(float) * N * T * C);
        alpha[r] = malloc(sizeof(double) * N * T * (2 * S + 1));
        aexp[r] = malloc(sizeof(int32_t) * N * T * (2 * S + 1));
        ds_ctc_loss_fwd_args a = {.log_probs = ds_tensor_cpu3(lp, DS_F32, N, T, C), .targets = ds_tensor_cpu2(targets, DS_I32, N, S),
                                  .input_lengths = ds_tensor_cpu1(il, DS_I32, N), .target_lengths = ds_tensor_cpu1(tl, DS_I32, N),
                                  .losses = ds_tensor_cpu1(losses[r], DS_F32, N), .loss = ds_tensor_cpu1(&loss[r], DS_F32, 1),
                                  .alpha = ds_tensor_cpu3(alpha[r], DS_F64, N, T, 2 * S + 1),
                                  .alpha_exp = ds_tensor_cpu3(aexp[r], DS_I32, N, T, 2 * S + 1), .blank = 0};
        ds_ctc_loss_bwd_args b = {.log_probs = a.log_probs, .targets = a.targets, .input_lengths = a.input_lengths,
                                  .target_lengths = a.target_lengths, .alpha = a.alpha,
                                  .alpha_exp = a.alpha_exp, .grad = ds_tensor_cpu3(grad[r], DS_F32, N, T, C),
                                  .dloss = 1, .blank = 0, .wrt = DS_CTC_GRAD_LOGITS};
        ok &= ds_ctc_loss_forward(ctx, &a) == DS_OK && ds_ctc_loss_backward(ctx, &b) == DS_OK;
    }
    omp_set_num_threads(threads);
    ds_test_check(t, ok && loss[0] == loss[1] && memcmp(losses[0], losses[1], sizeof losses[0]) == 0 &&
                         memcmp(grad[0], grad[1], sizeof(float) * N * T * C) == 0,
                  "ctc results differ between 1 and 3 threads (%s)", ctx->err.msg);
    free(lp);
    for (int r = 0; r < 2; r++) free(grad[r]), free(alpha[r]), free(aexp[r]);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    enum { N = 2, T = 4, C = 3, S = 2 };
    float lp[N * T * C] = {0}, losses[N] = {7, 7}, loss = 7;
    double alpha[N * T * (2 * S + 1)];
    int32_t aexp[N * T * (2 * S + 1)];
    int32_t targets[N * S] = {1, 2, 2, 0}, il[N] = {4, 3}, tl[N] = {2, 2};
    ds_ctc_loss_fwd_args a = {.log_probs = ds_tensor_cpu3(lp, DS_F32, N, T, C), .targets = ds_tensor_cpu2(targets, DS_I32, N, S),
                              .input_lengths = ds_tensor_cpu1(il, DS_I32, N), .target_lengths = ds_tensor_cpu1(tl, DS_I32, N),
                              .losses = ds_tensor_cpu1(losses, DS_F32, N), .loss = ds_tensor_cpu1(&loss, DS_F32, 1),
                              .alpha = ds_tensor_cpu3(alpha, DS_F64, N, T, 2 * S + 1),
                              .alpha_exp = ds_tensor_cpu3(aexp, DS_I32, N, T, 2 * S + 1), .blank = 0};
    ds_test_error(t, "target equal to the blank", &ctx->err, ds_ctc_loss_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "targets[1, 1] = 0");
    ds_test_check(t, loss == 7 && losses[0] == 7, "ctc_loss_forward wrote its outputs although a target was the blank");
    tl[1] = 1;
    il[1] = 5;
    ds_test_error(t, "input length > T", &ctx->err, ds_ctc_loss_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "input_lengths[1] = 5");
    il[1] = 3;
    tl[0] = 3;
    ds_test_error(t, "target length > S", &ctx->err, ds_ctc_loss_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "target_lengths[0] = 3");
    tl[0] = 2;
    targets[0] = 3;
    ds_test_error(t, "target out of range", &ctx->err, ds_ctc_loss_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "targets[0, 0] = 3");
    targets[0] = 1;
    a.blank = 3;
    ds_test_error(t, "blank out of range", &ctx->err, ds_ctc_loss_forward(ctx, &a), DS_ERR_INVALID_ARG, "blank = 3");
    a.blank = 0;
    a.alpha = ds_tensor_cpu3(alpha, DS_F64, N, T, 2 * S);
    ds_test_error(t, "alpha of the wrong width", &ctx->err, ds_ctc_loss_forward(ctx, &a), DS_ERR_INVALID_ARG,
                  "ctc_loss_forward: alpha");
    a.alpha = ds_tensor_cpu3(alpha, DS_F64, N, T, 2 * S + 1);
    ds_test_check(t, ds_ctc_loss_forward(ctx, &a) == DS_OK, "valid call after the errors: %s", ctx->err.msg);
}

// A NaN log-prob in a frame an utterance uses makes its loss and gradient NaN (as torch); the
// other utterance of the batch is unaffected.
static void check_nan(ds_test *t, ds_context *ctx) {
    enum { N = 2, T = 5, C = 4, S = 2 };
    float lp[N * T * C], losses[N], loss, grad[N * T * C];
    double alpha[N * T * (2 * S + 1)];
    int32_t aexp[N * T * (2 * S + 1)], targets[N * S] = {1, 2, 3, 3}, il[N] = {5, 5}, tl[N] = {2, 2};
    for (int i = 0; i < N * T * C; i++) lp[i] = -1.3862944f;  // log(1/4)
    for (int c = 0; c < C; c++) lp[2 * C + c] = NAN;        // utterance 0, frame 2: a NaN row
    ds_ctc_loss_fwd_args a = {.log_probs = ds_tensor_cpu3(lp, DS_F32, N, T, C), .targets = ds_tensor_cpu2(targets, DS_I32, N, S),
                              .input_lengths = ds_tensor_cpu1(il, DS_I32, N), .target_lengths = ds_tensor_cpu1(tl, DS_I32, N),
                              .losses = ds_tensor_cpu1(losses, DS_F32, N), .loss = ds_tensor_cpu1(&loss, DS_F32, 1),
                              .alpha = ds_tensor_cpu3(alpha, DS_F64, N, T, 2 * S + 1),
                              .alpha_exp = ds_tensor_cpu3(aexp, DS_I32, N, T, 2 * S + 1), .blank = 0,
                              .reduction = DS_CTC_SUM, .zero_infinity = true};
    ds_ctc_loss_bwd_args b = {.log_probs = a.log_probs, .targets = a.targets, .input_lengths = a.input_lengths,
                              .target_lengths = a.target_lengths, .alpha = a.alpha, .alpha_exp = a.alpha_exp,
                              .grad = ds_tensor_cpu3(grad, DS_F32, N, T, C), .dloss = 1, .blank = 0,
                              .reduction = DS_CTC_SUM, .zero_infinity = true, .wrt = DS_CTC_GRAD_LOGITS};
    if (!ds_test_check(t, ds_ctc_loss_forward(ctx, &a) == DS_OK && ds_ctc_loss_backward(ctx, &b) == DS_OK, "nan case: %s",
                       ctx->err.msg))
        return;
    bool grad_nan = true, grad_finite = true;
    for (int i = 0; i < T * C; i++) grad_nan &= isnan(grad[i]), grad_finite &= isfinite(grad[T * C + i]);
    ds_test_check(t, isnan(losses[0]) && isfinite(losses[1]) && isnan(loss) && grad_nan && grad_finite,
                  "NaN log-probs: losses %g %g, loss %g, gradient NaN %d / other finite %d (want NaN, finite, NaN, 1, 1; "
                  "zero_infinity must not hide a NaN)", (double)losses[0], (double)losses[1], (double)loss, grad_nan,
                  grad_finite);
}

int main(void) {
    ds_test t = ds_test_begin("op_ctc_loss");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "ctc_loss")) {
        const int cases = ds_op_fixture_cases(&f, "log_probs");
        ds_test_check(&t, cases >= 7, "ctc_loss fixture holds %d cases, expected at least 7", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    check_fd(&t, &ctx, false, DS_CTC_MEAN);
    check_fd(&t, &ctx, false, DS_CTC_SUM);
    check_fd(&t, &ctx, true, DS_CTC_MEAN);
    check_threads(&t, &ctx);
    check_nan(&t, &ctx);
    check_errors(&t, &ctx);
    return ds_test_finish(&t);
}
