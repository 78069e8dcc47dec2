// The per-utterance and per-element rules around cuDNN's CTC call (ctc_cudnn.cu), written once as
// plain C that nvcc compiles for the device and the C compiler for the host, so that
// tests/cpu/test_ctc_cudnn_glue.c runs this very code on the CPU with the CPU CTC op standing in
// for cuDNN, and compares the outcome with the CPU op on the original inputs.
#ifndef DS_CTC_CUDNN_GLUE_H
#define DS_CTC_CUDNN_GLUE_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __CUDACC__
#define DS_CTC_GLUE_FN static __host__ __device__ inline
#else
#define DS_CTC_GLUE_FN static inline
#endif

// What cuDNN sees of an utterance and what replaces its result.
enum {
    DS_CTC_GLUE_CUDNN = 0,         // as it is
    DS_CTC_GLUE_NO_ALIGNMENT = 1,  // L + repeats > frames: +inf, NaN gradient (0 with zero_infinity)
    DS_CTC_GLUE_EMPTY = 2          // no frames and no labels: loss 0, no gradient
};

// The status of an utterance with labels tg[0, L) and Tn frames, and the lengths cuDNN is given:
// its own for DS_CTC_GLUE_CUDNN, else 1 frame and 0 labels (a harmless call whose result is
// replaced; torch keeps L > frames away from cuDNN after illegal memory accesses).
DS_CTC_GLUE_FN int32_t ds_ctc_glue_status(const int32_t *tg, int32_t L, int32_t Tn, int32_t *il2, int32_t *tl2) {
    int32_t need = L;
    for (int32_t j = 1; j < L; j++) need += tg[j] == tg[j - 1];
    int32_t st = DS_CTC_GLUE_CUDNN;
    if (Tn == 0 && L == 0) st = DS_CTC_GLUE_EMPTY;
    else if (need > Tn) st = DS_CTC_GLUE_NO_ALIGNMENT;
    *il2 = st == DS_CTC_GLUE_CUDNN ? Tn : 1;
    *tl2 = st == DS_CTC_GLUE_CUDNN ? L : 0;
    return st;
}

// -log p of an utterance from cuDNN's cost: the own forward's values where cuDNN did not see it.
DS_CTC_GLUE_FN double ds_ctc_glue_nll(float cost, int32_t status) {
    return status == DS_CTC_GLUE_NO_ALIGNMENT ? (double)INFINITY : status == DS_CTC_GLUE_EMPTY ? 0.0 : (double)cost;
}

// Index of (n, t, c) in a (T, N, C) array (cuDNN's layout).
DS_CTC_GLUE_FN int64_t ds_ctc_glue_tnc(int64_t n, int64_t t, int64_t c, int64_t N, int64_t C) {
    return (t * N + n) * C + c;
}

// The op's gradient at (n, t, c) from cuDNN's gradient g = exp(x) - gamma there (for a unit
// upstream gradient of its cost), x the log-prob: 0 past the utterance's frames Tn; NaN (0 with
// zero_infinity) without alignment; else w (g) w.r.t. logits or w (g - exp(x)) w.r.t. log-probs,
// w = dloss (sum) or dloss / (N max(L, 1)) (mean), as the own backward kernel weighs.
DS_CTC_GLUE_FN float ds_ctc_glue_grad(float g, float x, int32_t status, int64_t t, int32_t Tn, int32_t L, int64_t N,
                                      double dloss, bool mean, bool zero_infinity, bool wrt_logits) {
    if (t >= Tn) return 0.0f;
    if (status == DS_CTC_GLUE_NO_ALIGNMENT) return zero_infinity ? 0.0f : (float)NAN;
    const double w = mean ? dloss / ((double)(L > 1 ? L : 1) * (double)N) : dloss;
    return (float)(w * (wrt_logits ? (double)g : (double)g - exp((double)x)));
}

#endif
