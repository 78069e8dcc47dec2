// CUDA CTC loss (kernels/cuda/ctc.cu) against the CPU op (kernels/cpu/ctc_loss.c) on fresh random
// inputs: ragged input and target lengths, repeated labels (the skip rule), the blank first, last
// and in the middle, an utterance with no frames, one with no labels, one with no alignment
// (zero_infinity off: NaN gradient; on: 0), mean and sum, the gradient w.r.t. log-probs and w.r.t.
// logits, F32 and F64, targets of 1,100 labels (shared memory, beyond 1,024) and of 2,900 labels
// (the backward's work area no longer fits shared memory on sm_90 and goes to the scratch).
// Outputs start poisoned; each op runs twice and must give identical bits; bad lengths and labels
// are errors with the CPU op's messages. With DS_TEST_SMALL set (scripts/gpu_check.sh under
// compute-sanitizer) the two long cases are left out.
// cuDNN's CTC (run.ctc = cudnn, kernels/cuda/ctc_cudnn.cu) on the cases it takes (F32, blank 0,
// S <= 255) plus one of B=8, T=200, S=40, C=32, against the same CPU op: ds_gpu_ctc_cudnn_calls
// must count its forward and backward (so the own kernels did not stand in), two runs identical
// (its deterministic algorithm), the no-alignment and no-frame utterances as the own op.
//
// Tolerances:
// - alpha / alpha_exp: bit-identical. Both backends run the same IEEE double adds and multiplies in
//   the same order without FMA (ctc_math.cuh), and the same bit operations.
// - losses, loss: the only difference is log() (CUDA's within 1 ulp of glibc's) on the same p:
//   1e-13 relative in F64; F32 outputs are one rounding of nearly equal doubles: 2e-7 relative.
// - grad: the occupancies are sums of the same products in another order (fixed-order block sum vs
//   the CPU's vectorised sum): ~1e-15 relative; F64 1e-12, F32 outputs one rounding: 1e-6,
//   tensor-relative (ds_test_close's measure).
// - cuDNN: its recursion is in fp32 log space, so a log-likelihood of |l| nats carries ~T x 6e-8
//   x |l| of rounding at worst (a few 1e-6 relative here). Losses 1e-4 tensor-relative. Its
//   gradient exp(x) - gamma takes gamma = exp(log alpha + log beta - l - x), whose absolute error
//   in nats becomes a relative one: ~1e-3 of the gradient at T = 400 (kernels/ops.h), so 1e-2 at
//   T <= 200. Not yet measured on a GPU: the first run tells how much of this margin is used.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

typedef struct ctc_case {
    int64_t N, T, C, S;
    int blank;  // -1: C - 1
} ctc_case;

static const ctc_case k_cases[] = {
    {5, 30, 7, 6, 0}, {4, 57, 29, 13, -1}, {3, 40, 12, 9, 5}, {2, 1, 3, 1, 0}, {1, 2400, 40, 1100, 0},
};
static const ctc_case k_long = {1, 4000, 33, 2900, 0};  // ~25% repeats: 2,900 + ~725 frames needed
static const ctc_case k_cudnn_extra = {8, 200, 32, 40, 0};  // the speech model's vocabulary size

// A device tensor of `dtype` holding host data (or poisoned with 0xff bytes when host is NULL).
static ds_tensor dev(ds_test *t, ds_context *ctx, ds_dtype dt, int nd, const int64_t *shape, const void *host) {
    ds_tensor h = ds_tensor_make(NULL, dt, (ds_device){DS_DEVICE_CPU, 0}, nd, shape);
    size_t bytes = ds_tensor_nbytes(&h);
    void *p = NULL;
    ds_test_check(t, ds_gpu_alloc(ctx, bytes ? bytes : 8, &p) == DS_OK, "alloc: %s", ctx->err.msg);
    if (host && bytes) ds_gpu_upload(ctx, p, host, bytes);
    else ds_gpu_memset(ctx, p, 0xff, bytes ? bytes : 8);
    return ds_tensor_make(p, dt, (ds_device){DS_DEVICE_CUDA, 0}, nd, shape);
}

static void *down(ds_context *ctx, const ds_tensor *d) {
    size_t bytes = ds_tensor_nbytes(d);
    void *h = calloc(1, bytes ? bytes : 8);
    ds_gpu_download(ctx, h, d->data, bytes);
    ds_gpu_sync(ctx);
    return h;
}

static void dev_free(ds_context *ctx, ds_tensor *d) {
    size_t b = ds_tensor_nbytes(d);
    ds_gpu_free(ctx, d->data, b ? b : 8);
}

// Element i of an F32/F64 host array as double.
static double at(const void *p, ds_dtype dt, int64_t i) {
    return dt == DS_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

// NaN and infinities must match exactly; the finite values within tol of max|want| (tensor-relative).
static void expect_close(ds_test *t, const char *what, const void *got, const void *want, ds_dtype dt, int64_t n,
                         double tol) {
    double mx = 1e-30, err = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(at(want, dt, i)) && fabs(at(want, dt, i)) > mx) mx = fabs(at(want, dt, i));
    for (int64_t i = 0; i < n; i++) {
        const double g = at(got, dt, i), w = at(want, dt, i);
        if (isnan(w) || isnan(g) || isinf(w) || isinf(g)) {
            const bool same = (isnan(w) && isnan(g)) || g == w;
            if (!ds_test_check(t, same, "%s: element %lld is %g, want %g", what, (long long)i, g, w)) return;
            continue;
        }
        if (fabs(g - w) / mx > err) err = fabs(g - w) / mx;
    }
    ds_test_check(t, err <= tol, "%s: error %.3g > %.3g", what, err, tol);
}

// log_softmax of uniform [-3, 3) logits, in double, stored as dt (N, T, C).
static void *make_log_probs(const ctc_case *c, ds_dtype dt, uint64_t seed) {
    const int64_t shape[3] = {c->N, c->T, c->C};
    ds_tensor x = ds_gpu_test_random(3, shape, seed, -3, 3);
    void *out = malloc((size_t)(c->N * c->T * c->C) * (dt == DS_F32 ? 4 : 8));
    const float *xv = x.data;
    for (int64_t r = 0; r < c->N * c->T; r++) {
        double mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < c->C; k++) mx = fmax(mx, xv[r * c->C + k]);
        for (int64_t k = 0; k < c->C; k++) s += exp(xv[r * c->C + k] - mx);
        const double lse = mx + log(s);
        for (int64_t k = 0; k < c->C; k++) {
            const double v = xv[r * c->C + k] - lse;
            if (dt == DS_F32) ((float *)out)[r * c->C + k] = (float)v;
            else ((double *)out)[r * c->C + k] = v;
        }
    }
    free(x.data);
    return out;
}

static void check_case(ds_test *t, ds_context *ctx, ctc_case c, ds_dtype dt, ds_ctc_reduction red, bool zinf,
                       ds_ctc_grad_wrt wrt, bool cudnn, uint64_t seed) {
    const int blank = c.blank < 0 ? (int)c.C - 1 : c.blank;
    const int64_t N = c.N, W = 2 * c.S + 1;
    void *lp = make_log_probs(&c, dt, seed);
    int32_t *tg = calloc((size_t)(N * c.S), sizeof(int32_t)), *il = calloc((size_t)N, 4), *tl = calloc((size_t)N, 4);
    uint64_t s = seed * 7 + 1;
    for (int64_t n = 0; n < N; n++) {
        // Ragged: lengths drawn at random; utterance 1 without labels, the last one (N > 2) without
        // frames, utterance 2 (N > 3) with more labels than frames (no alignment).
        tl[n] = (int32_t)(ds_gpu_test_splitmix64(&s) % (uint64_t)(c.S + 1));
        if (n == 0) tl[n] = (int32_t)c.S;
        if (n == 1) tl[n] = 0;
        for (int64_t j = 0; j < tl[n]; j++) {
            const uint64_t r = ds_gpu_test_splitmix64(&s);
            int32_t v = j > 0 && r % 4 == 0 ? tg[n * c.S + j - 1] : (int32_t)(r / 4 % (uint64_t)(c.C - 1));
            if (!(j > 0 && r % 4 == 0) && v >= blank) v++;  // skip the blank
            tg[n * c.S + j] = v;
        }
        for (int64_t j = tl[n]; j < c.S; j++) tg[n * c.S + j] = -7;  // padding is never read
        int64_t need = tl[n];
        for (int64_t j = 1; j < tl[n]; j++) need += tg[n * c.S + j] == tg[n * c.S + j - 1];
        const int64_t lo = need < c.T ? need : c.T;
        il[n] = (int32_t)(lo + (int64_t)(ds_gpu_test_splitmix64(&s) % (uint64_t)(c.T - lo + 1)));
        if (n == 0) il[n] = (int32_t)c.T;
        if (N > 2 && n == N - 1) il[n] = 0;
        if (N > 3 && n == 2) il[n] = need > 0 ? (int32_t)(need - 1) : 0;
    }
    const int64_t lps[3] = {N, c.T, c.C}, ts[2] = {N, c.S}, ns[1] = {N}, as[3] = {N, c.T, W}, one[1] = {1};
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    const size_t es = dt == DS_F32 ? 4 : 8, an = (size_t)(N * c.T * W);
    double *alpha = calloc(an ? an : 1, 8);
    int32_t *alpha_exp = calloc(an ? an : 1, 4);
    void *losses = calloc((size_t)N + 1, es), *loss = calloc(1, es), *grad = calloc((size_t)(N * c.T * c.C), es);
    ds_ctc_loss_fwd_args cf = {.log_probs = ds_tensor_make(lp, dt, cpu, 3, lps), .targets = ds_tensor_make(tg, DS_I32, cpu, 2, ts),
                               .input_lengths = ds_tensor_make(il, DS_I32, cpu, 1, ns),
                               .target_lengths = ds_tensor_make(tl, DS_I32, cpu, 1, ns),
                               .losses = ds_tensor_make(losses, dt, cpu, 1, ns), .loss = ds_tensor_make(loss, dt, cpu, 1, one),
                               .alpha = ds_tensor_make(alpha, DS_F64, cpu, 3, as),
                               .alpha_exp = ds_tensor_make(alpha_exp, DS_I32, cpu, 3, as), .blank = blank,
                               .reduction = red, .zero_infinity = zinf};
    ds_test_check(t, ds_ctc_loss_forward(ctx, &cf) == DS_OK, "cpu ctc forward: %s", ctx->err.msg);
    ds_ctc_loss_bwd_args cb = {.log_probs = cf.log_probs, .targets = cf.targets, .input_lengths = cf.input_lengths,
                               .target_lengths = cf.target_lengths, .alpha = cf.alpha, .alpha_exp = cf.alpha_exp,
                               .grad = ds_tensor_make(grad, dt, cpu, 3, lps), .dloss = 0.75, .blank = blank,
                               .reduction = red, .zero_infinity = zinf, .wrt = wrt};
    ds_test_check(t, ds_ctc_loss_backward(ctx, &cb) == DS_OK, "cpu ctc backward: %s", ctx->err.msg);

    char what[200], w2[260];
    snprintf(what, sizeof what, "%sctc N%lld T%lld C%lld S%lld blank %d %s %s%s %s", cudnn ? "cuDNN " : "",
             (long long)N, (long long)c.T, (long long)c.C, (long long)c.S, blank, ds_dtype_name(dt),
             red == DS_CTC_MEAN ? "mean" : "sum", zinf ? " zero_infinity" : "",
             wrt == DS_CTC_GRAD_LOGITS ? "wrt logits" : "wrt log_probs");
    ds_gpu_set_ctc(ctx, cudnn ? DS_CTC_CUDNN : DS_CTC_OWN);
    const uint64_t cudnn_calls = ds_gpu_ctc_cudnn_calls(ctx);
    ds_tensor glp = dev(t, ctx, dt, 3, lps, lp), gtg = dev(t, ctx, DS_I32, 2, ts, tg);
    ds_tensor gil = dev(t, ctx, DS_I32, 1, ns, il), gtl = dev(t, ctx, DS_I32, 1, ns, tl);
    ds_tensor gal[2], gae[2], gls[2], gl[2], gg[2];
    void *h[2][5];
    for (int run = 0; run < 2; run++) {
        gal[run] = dev(t, ctx, DS_F64, 3, as, NULL), gae[run] = dev(t, ctx, DS_I32, 3, as, NULL);
        gls[run] = dev(t, ctx, dt, 1, ns, NULL), gl[run] = dev(t, ctx, dt, 1, one, NULL);
        gg[run] = dev(t, ctx, dt, 3, lps, NULL);
        ds_ctc_loss_fwd_args f = cf;
        f.log_probs = glp, f.targets = gtg, f.input_lengths = gil, f.target_lengths = gtl;
        f.losses = gls[run], f.loss = gl[run], f.alpha = gal[run], f.alpha_exp = gae[run];
        ds_test_check(t, ds_ctc_loss_forward(ctx, &f) == DS_OK, "%s forward: %s", what, ctx->err.msg);
        ds_ctc_loss_bwd_args b = cb;
        b.log_probs = glp, b.targets = gtg, b.input_lengths = gil, b.target_lengths = gtl;
        b.alpha = gal[run], b.alpha_exp = gae[run], b.grad = gg[run];
        ds_test_check(t, ds_ctc_loss_backward(ctx, &b) == DS_OK, "%s backward: %s", what, ctx->err.msg);
        h[run][0] = down(ctx, &gal[run]), h[run][1] = down(ctx, &gae[run]), h[run][2] = down(ctx, &gls[run]);
        h[run][3] = down(ctx, &gl[run]), h[run][4] = down(ctx, &gg[run]);
    }
    ds_gpu_set_ctc(ctx, DS_CTC_OWN);
    ds_test_check(t, ds_gpu_ctc_cudnn_calls(ctx) - cudnn_calls == (cudnn ? 4u : 0u),
                  "%s: %llu calls ran cuDNN, want %d", what, (unsigned long long)(ds_gpu_ctc_cudnn_calls(ctx) - cudnn_calls),
                  cudnn ? 4 : 0);
    // alpha: the written entries (frames < T_n; blank states [0, L_n], label states [S+1, S+L_n]);
    // the cuDNN path writes none.
    int64_t bad = -1;
    const double *ga = h[0][0];
    const int32_t *ge = h[0][1];
    for (int64_t n = 0; n < N && bad < 0 && !cudnn; n++)
        for (int64_t tt = 0; tt < il[n] && bad < 0; tt++)
            for (int64_t k = 0; k < W && bad < 0; k++) {
                if (!(k <= tl[n] || (k > c.S && k <= c.S + tl[n]))) continue;
                const int64_t i = (n * c.T + tt) * W + k;
                if (memcmp(&ga[i], &alpha[i], 8) != 0 || ge[i] != alpha_exp[i]) bad = i;
            }
    ds_test_check(t, bad < 0, "%s: alpha[%lld] = %.17g * 2^%d, cpu %.17g * 2^%d", what, (long long)bad,
                  bad >= 0 ? ga[bad] : 0.0, bad >= 0 ? ge[bad] : 0, bad >= 0 ? alpha[bad] : 0.0,
                  bad >= 0 ? alpha_exp[bad] : 0);
    snprintf(w2, sizeof w2, "%s losses", what);
    const double loss_tol = cudnn ? 1e-4 : dt == DS_F32 ? 2e-7 : 1e-13;
    const double grad_tol = cudnn ? 1e-2 : dt == DS_F32 ? 1e-6 : 1e-12;
    expect_close(t, w2, h[0][2], losses, dt, N, loss_tol);
    snprintf(w2, sizeof w2, "%s loss", what);
    expect_close(t, w2, h[0][3], loss, dt, 1, loss_tol);
    snprintf(w2, sizeof w2, "%s grad", what);
    expect_close(t, w2, h[0][4], grad, dt, N * c.T * c.C, grad_tol);
    const size_t sizes[5] = {an * 8, an * 4, (size_t)N * es, es, (size_t)(N * c.T * c.C) * es};
    static const char *names[5] = {"alpha", "alpha_exp", "losses", "loss", "grad"};
    for (int k = 0; k < 5; k++) {
        if (k < 2) continue;  // alpha's unwritten entries hold the poison of each run; compared above
        ds_test_check(t, memcmp(h[0][k], h[1][k], sizes[k]) == 0, "%s %s: two runs differ", what, names[k]);
    }
    for (int run = 0; run < 2; run++) {
        dev_free(ctx, &gal[run]), dev_free(ctx, &gae[run]), dev_free(ctx, &gls[run]), dev_free(ctx, &gl[run]);
        dev_free(ctx, &gg[run]);
        for (int k = 0; k < 5; k++) free(h[run][k]);
    }
    dev_free(ctx, &glp), dev_free(ctx, &gtg), dev_free(ctx, &gil), dev_free(ctx, &gtl);
    free(lp), free(tg), free(il), free(tl), free(alpha), free(alpha_exp), free(losses), free(loss), free(grad);
}

// A label equal to the blank, a label out of range and an input length beyond T: the CPU op's
// messages, nothing written (the poisoned loss stays poisoned).
static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t lps[3] = {2, 4, 5}, ts[2] = {2, 3}, ns[1] = {2}, as[3] = {2, 4, 7}, one[1] = {1};
    ctc_case c = {2, 4, 5, 3, 0};
    void *lp = make_log_probs(&c, DS_F32, 5);
    int32_t tg[6] = {1, 2, 3, 4, 0, 2}, il[2] = {4, 4}, tl[2] = {3, 2};
    ds_tensor glp = dev(t, ctx, DS_F32, 3, lps, lp), gtg = dev(t, ctx, DS_I32, 2, ts, tg);
    ds_tensor gil = dev(t, ctx, DS_I32, 1, ns, il), gtl = dev(t, ctx, DS_I32, 1, ns, tl);
    ds_tensor gal = dev(t, ctx, DS_F64, 3, as, NULL), gae = dev(t, ctx, DS_I32, 3, as, NULL);
    ds_tensor gls = dev(t, ctx, DS_F32, 1, ns, NULL), gl = dev(t, ctx, DS_F32, 1, one, NULL);
    ds_ctc_loss_fwd_args f = {.log_probs = glp, .targets = gtg, .input_lengths = gil, .target_lengths = gtl,
                              .losses = gls, .loss = gl, .alpha = gal, .alpha_exp = gae, .blank = 0};
    ds_err_clear(&ctx->err);
    ds_status s = ds_ctc_loss_forward(ctx, &f);
    ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "targets[1, 1] = 0 must be a class of [0, 5) "
                                                                     "other than the blank 0") != NULL,
                  "the blank as a label must be named: %s", ctx->err.msg);
    uint32_t lbits = 0;
    ds_gpu_download(ctx, &lbits, gl.data, 4);
    ds_gpu_sync(ctx);
    ds_test_check(t, lbits == 0xffffffffu, "a failed ctc forward must write nothing");
    ds_err_clear(&ctx->err);
    il[1] = 5;
    ds_tensor gil2 = dev(t, ctx, DS_I32, 1, ns, il);
    f.input_lengths = gil2;
    s = ds_ctc_loss_forward(ctx, &f);
    ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "input_lengths[1] = 5 must lie in [0, T = 4]"),
                  "a bad input length must be named: %s", ctx->err.msg);
    ds_err_clear(&ctx->err);
    f.input_lengths = gil;
    f.blank = 5;
    ds_gpu_test_expect_invalid_arg(t, ctx, ds_ctc_loss_forward(ctx, &f), "ctc_loss_forward", "blank out of range");
    dev_free(ctx, &glp), dev_free(ctx, &gtg), dev_free(ctx, &gil), dev_free(ctx, &gil2), dev_free(ctx, &gtl);
    dev_free(ctx, &gal), dev_free(ctx, &gae), dev_free(ctx, &gls), dev_free(ctx, &gl);
    free(lp);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_ctc")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_ctc");
    uint64_t seed = 1400;
    const bool small = getenv("DS_TEST_SMALL") != NULL;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++)
        for (int di = 0; di < 2; di++)
            for (int ri = 0; ri < 2; ri++)
                for (int zi = 0; zi < 2; zi++)
                    for (int wi = 0; wi < 2; wi++) {
                        if (k_cases[i].S > 1000 && (di || zi || small)) continue;  // long: F32, a few variants
                        check_case(&t, &ctx, k_cases[i], di ? DS_F64 : DS_F32, ri ? DS_CTC_SUM : DS_CTC_MEAN, zi,
                                   wi ? DS_CTC_GRAD_LOGITS : DS_CTC_GRAD_LOG_PROBS, false, seed += 10);
                    }
    if (!small) check_case(&t, &ctx, k_long, DS_F32, DS_CTC_MEAN, false, DS_CTC_GRAD_LOGITS, false, seed += 10);
    // cuDNN: every case it takes, in every variant.
    for (size_t i = 0; i <= sizeof k_cases / sizeof k_cases[0]; i++) {
        const ctc_case c = i < sizeof k_cases / sizeof k_cases[0] ? k_cases[i] : k_cudnn_extra;
        if (c.blank != 0 || c.S > 255) continue;
        for (int ri = 0; ri < 2; ri++)
            for (int zi = 0; zi < 2; zi++)
                for (int wi = 0; wi < 2; wi++)
                    check_case(&t, &ctx, c, DS_F32, ri ? DS_CTC_SUM : DS_CTC_MEAN, zi,
                               wi ? DS_CTC_GRAD_LOGITS : DS_CTC_GRAD_LOG_PROBS, true, seed += 10);
    }
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
