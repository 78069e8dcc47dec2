// The rules around cuDNN's CTC call (kernels/cuda/ctc_cudnn_glue.h: which utterances cuDNN may
// see and with which lengths, what replaces their results, the (T, N, C) layout, the op's weights
// and zeros) run on the CPU with the CPU CTC op standing in for cuDNN: a cost and a unit gradient
// with respect to the softmax input per utterance, on the lengths the glue gives it, and garbage
// (NaN) in cuDNN's gradient past each utterance's frames. The outcome must equal the CPU op on the
// original inputs: utterances without alignment, without frames, without labels, with repeated
// labels; mean and sum; zero_infinity off and on; gradients w.r.t. logits and log-probs. No GPU is
// needed: this is the part of run.ctc = cudnn that is ours (cuDNN itself runs in
// tests/gpu/test_cuda_ctc.c).
//
// Tolerances: losses of the utterances cuDNN sees are the stand-in's own F32 values, so per
// utterance they are equal (0 difference); the reduction is one double sum in another order:
// 1e-6 relative. Gradients: the glue weighs the stand-in's F32 unit gradient in double and rounds
// again, where the op weighs before its one rounding: two roundings, and w.r.t. log-probs
// (exp(x) - gamma) - exp(x) cancels to the F32 ulp of exp(x) <= 1: 1e-6 tensor-relative.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/cuda/ctc_cudnn_glue.h"
#include "../../kernels/ops.h"
#include "../test_util.h"

enum { N = 7, T = 12, C = 6, S = 5 };

static ds_tensor cpu(void *p, ds_dtype dt, int nd, const int64_t *shape) {
    return ds_tensor_make(p, dt, (ds_device){DS_DEVICE_CPU, 0}, nd, shape);
}

// The CPU op: losses (N), loss, grad (N, T, C) for these lengths.
static bool cpu_ctc(ds_context *ctx, const float *lp, const int32_t *tg, const int32_t *il, const int32_t *tl,
                    ds_ctc_reduction red, bool zinf, ds_ctc_grad_wrt wrt, double dloss, float *losses, float *loss,
                    float *grad) {
    static const int64_t lps[3] = {N, T, C}, ts[2] = {N, S}, ns[1] = {N}, as[3] = {N, T, 2 * S + 1}, one[1] = {1};
    double *alpha = calloc((size_t)(N * T * (2 * S + 1)), sizeof *alpha);
    int32_t *alpha_exp = calloc((size_t)(N * T * (2 * S + 1)), sizeof *alpha_exp);
    const ds_ctc_loss_fwd_args f = {
        .log_probs = cpu((void *)lp, DS_F32, 3, lps), .targets = cpu((void *)tg, DS_I32, 2, ts),
        .input_lengths = cpu((void *)il, DS_I32, 1, ns), .target_lengths = cpu((void *)tl, DS_I32, 1, ns),
        .losses = cpu(losses, DS_F32, 1, ns), .loss = cpu(loss, DS_F32, 1, one), .alpha = cpu(alpha, DS_F64, 3, as),
        .alpha_exp = cpu(alpha_exp, DS_I32, 3, as), .blank = 0, .reduction = red, .zero_infinity = zinf};
    const ds_ctc_loss_bwd_args b = {.log_probs = f.log_probs, .targets = f.targets, .input_lengths = f.input_lengths,
                                    .target_lengths = f.target_lengths, .alpha = f.alpha, .alpha_exp = f.alpha_exp,
                                    .grad = cpu(grad, DS_F32, 3, lps), .dloss = dloss, .blank = 0, .reduction = red,
                                    .zero_infinity = zinf, .wrt = wrt};
    const bool ok = ds_ctc_loss_forward(ctx, &f) == DS_OK && ds_ctc_loss_backward(ctx, &b) == DS_OK;
    free(alpha), free(alpha_exp);
    return ok;
}

// NaN where the reference has NaN, infinities equal, else within tol of max |want|.
static void expect(ds_test *t, const char *what, const float *got, const float *want, int n, double tol) {
    double mx = 1e-30, err = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(want[i]) && fabs(want[i]) > mx) mx = fabs(want[i]);
    for (int i = 0; i < n; i++) {
        if (!isfinite(want[i]) || !isfinite(got[i])) {
            const bool same = (isnan(want[i]) && isnan(got[i])) || got[i] == want[i];
            if (!ds_test_check(t, same, "%s: element %d is %g, want %g", what, i, got[i], want[i])) return;
            continue;
        }
        if (fabs(got[i] - want[i]) / mx > err) err = fabs(got[i] - want[i]) / mx;
    }
    ds_test_check(t, err <= tol, "%s: error %.3g > %.3g", what, err, tol);
}

int main(void) {
    ds_test t = ds_test_begin("ctc_cudnn_glue");
    ds_context ctx = ds_context_cpu();
    // log_softmax of pseudo-random logits (N, T, C).
    float lp[N * T * C];
    uint64_t s = 99;
    for (int r = 0; r < N * T; r++) {
        double z[C], mx = -INFINITY, sum = 0;
        for (int c = 0; c < C; c++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            z[c] = 6.0 * (double)(s >> 11) / 9007199254740992.0 - 3.0;
            mx = fmax(mx, z[c]);
        }
        for (int c = 0; c < C; c++) sum += exp(z[c] - mx);
        for (int c = 0; c < C; c++) lp[r * C + c] = (float)(z[c] - mx - log(sum));
    }
    // Utterances: 0 plain; 1 repeats (needs 5 + 2 frames, has 7: just aligns); 2 repeats without
    // alignment (needs 7, has 6); 3 no labels; 4 no frames, no labels (empty); 5 no frames with
    // labels (no alignment); 6 more labels than frames.
    const int32_t tg[N * S] = {1, 2, 3, 4, 5, 2, 2, 3, 3, 1, 2, 2, 3, 3, 1, -7, -7, -7, -7, -7,
                               -7, -7, -7, -7, -7, 4, 4, -7, -7, -7, 1, 2, 3, 4, 5};
    const int32_t il[N] = {12, 7, 6, 9, 0, 0, 3}, tl[N] = {5, 5, 5, 0, 0, 2, 5};
    int32_t status[N], il2[N], tl2[N];
    for (int n = 0; n < N; n++) status[n] = ds_ctc_glue_status(tg + n * S, tl[n], il[n], &il2[n], &tl2[n]);
    const int32_t want_status[N] = {DS_CTC_GLUE_CUDNN,        DS_CTC_GLUE_CUDNN, DS_CTC_GLUE_NO_ALIGNMENT,
                                    DS_CTC_GLUE_CUDNN,        DS_CTC_GLUE_EMPTY, DS_CTC_GLUE_NO_ALIGNMENT,
                                    DS_CTC_GLUE_NO_ALIGNMENT};
    for (int n = 0; n < N; n++)
        ds_test_check(&t, status[n] == want_status[n] && il2[n] >= 1 && tl2[n] <= il2[n],
                      "utterance %d: status %d (want %d), cuDNN sees %d frames and %d labels", n, status[n],
                      want_status[n], il2[n], tl2[n]);

    // The stand-in for cuDNN: per-utterance costs and unit gradients w.r.t. the softmax input, on
    // the glue's lengths, in cuDNN's (T, N, C) layout with NaN past each utterance's frames.
    float costs[N], unused, g_ntc[N * T * C], g_tnc[N * T * C];
    ds_test_check(&t, cpu_ctc(&ctx, lp, tg, il2, tl2, DS_CTC_SUM, false, DS_CTC_GRAD_LOGITS, 1.0, costs, &unused, g_ntc),
                  "stand-in: %s", ctx.err.msg);
    for (int n = 0; n < N; n++)
        for (int tt = 0; tt < T; tt++)
            for (int c = 0; c < C; c++)
                g_tnc[ds_ctc_glue_tnc(n, tt, c, N, C)] = tt < il2[n] ? g_ntc[(n * T + tt) * C + c] : NAN;

    for (int v = 0; v < 8; v++) {
        const bool mean = v & 1, zinf = v & 2, logits = v & 4;
        const double dloss = 0.75;
        char what[160];
        snprintf(what, sizeof what, "%s%s w.r.t. %s", mean ? "mean" : "sum", zinf ? " zero_infinity" : "",
                 logits ? "logits" : "log_probs");
        float losses_ref[N], loss_ref, grad_ref[N * T * C];
        if (!ds_test_check(&t, cpu_ctc(&ctx, lp, tg, il, tl, mean ? DS_CTC_MEAN : DS_CTC_SUM, zinf,
                                       logits ? DS_CTC_GRAD_LOGITS : DS_CTC_GRAD_LOG_PROBS, dloss, losses_ref,
                                       &loss_ref, grad_ref),
                           "%s: cpu op: %s", what, ctx.err.msg))
            continue;
        // The forward: nll from the glue, then ctc.cu's finish (losses, reduction in utterance order).
        float losses[N], loss;
        double total = 0;
        for (int n = 0; n < N; n++) {
            double l = ds_ctc_glue_nll(costs[n], status[n]);
            if (zinf && l == INFINITY) l = 0;
            losses[n] = (float)l;
            total += mean ? l / (double)(tl[n] > 1 ? tl[n] : 1) : l;
        }
        loss = (float)(mean ? total / N : total);
        char w2[200];
        snprintf(w2, sizeof w2, "%s losses", what);
        expect(&t, w2, losses, losses_ref, N, 0.0);
        snprintf(w2, sizeof w2, "%s loss", what);
        expect(&t, w2, &loss, &loss_ref, 1, 1e-6);
        // The backward.
        float grad[N * T * C];
        for (int n = 0; n < N; n++)
            for (int tt = 0; tt < T; tt++)
                for (int c = 0; c < C; c++) {
                    const int i = (n * T + tt) * C + c;
                    grad[i] = ds_ctc_glue_grad(g_tnc[ds_ctc_glue_tnc(n, tt, c, N, C)], lp[i], status[n], tt, il[n],
                                               tl[n], N, dloss, mean, zinf, logits);
                }
        snprintf(w2, sizeof w2, "%s grad", what);
        expect(&t, w2, grad, grad_ref, N * T * C, 1e-6);
    }
    return ds_test_finish(&t);
}
