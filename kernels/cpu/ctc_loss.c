// CTC loss (torch.nn.functional.ctc_loss semantics) on the CPU: forward (per-utterance losses,
// the reduction, and the saved alpha) and backward (w.r.t. the log-probabilities or, fused with
// log_softmax, the logits). See kernels/ops.h for the layout and the exact conventions, and
// docs/speech_model.md for the numerics.
//
// Speed and precision: the recursions run on extended-range probabilities (below), in double for
// both dtypes, over contiguous arrays of blank and label states that the compiler vectorises; one
// utterance per thread.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

// The helpers of the recursions' inner loops must inline into them, or the loops cannot
// vectorise.
#define DS_CTC_INLINE static inline __attribute__((always_inline))

// ---- extended-range numbers ----
// The recursions run on probabilities, not logs: a value is v 2^e with v in [0.5, 1) and e an
// integer held in a double, or 0 as v = 0, e = CTC_ZERO_E. A sum of such numbers scales each term
// by an exact power of 2 to the largest exponent; a product multiplies the mantissas and adds the
// exponents; the result is split back into (v, e) by reading the double's bits. Every step is one
// double rounding: no exp or log per state (the log-space recursion of torch needs both), and no
// underflow whatever the magnitudes (a term 2^-1023 below the largest of its own sum is dropped:
// that is below double precision). Only the inputs need exps, one per log-prob used.
#define CTC_ZERO_E (-1e300)
#define CTC_TWO52 4503599627370496.0  // 2^52: adding it leaves an integer j < 2^52 in the low mantissa bits

typedef union {
    double d;
    uint64_t u;
} ctc_bits;

// 2^k for an integer-valued k, exactly; 0 for k < -1022, clamped at 2^1023.
DS_CTC_INLINE double ctc_pow2(double k) {
    double kc = k < -1023.0 ? -1023.0 : k;
    kc = kc > 1023.0 ? 1023.0 : kc;
    ctc_bits b = {.d = kc + (1023.0 + CTC_TWO52)};  // low mantissa bits: j = k + 1023 in [0, 2046]
    b.u = (b.u - 0x4330000000000000ull) << 52;       // exponent field j: 2^(j - 1023), or +0 for j = 0
    return b.d;
}

// x >= 0 (normal or 0) as (v, e): x = v 2^e, v in [0.5, 1). NaN stays NaN (in v), so that a NaN
// log-prob spreads through the recursion to the loss, as in torch.
DS_CTC_INLINE void ctc_split(double x, double *v, double *e) {
    const ctc_bits b = {.d = x};
    const ctc_bits m = {.u = (b.u & 0x000fffffffffffffull) | 0x3fe0000000000000ull};
    const ctc_bits eb = {.u = 0x4330000000000000ull | ((b.u >> 52) & 0x7ffull)};
    const double ee = (eb.d - CTC_TWO52) - 1022.0;
    const double mv = x != x ? x : m.d;
    *v = x == 0.0 ? 0.0 : mv;
    *e = x == 0.0 ? CTC_ZERO_E : ee;
}

// (a + b + c) y, each in (v, e) form (c may be 0 for a two-term sum); zeros must be (0, CTC_ZERO_E).
DS_CTC_INLINE void ctc_sum3_mul(double av, double ae, double bv, double be, double cv, double ce, double yv,
                                double ye, double *ov, double *oe) {
    double m = ae > be ? ae : be;
    m = ce > m ? ce : m;
    const double s = av * ctc_pow2(ae - m) + bv * ctc_pow2(be - m) + cv * ctc_pow2(ce - m);
    double v, e;
    ctc_split(s * yv, &v, &e);  // s in [0.5, 3) and yv in [0.5, 1): normal, or exactly 0
    *ov = v;
    *oe = v == 0.0 ? CTC_ZERO_E : e + m + ye;
}

// exp(x) as (v, e) for x <= 0 or -inf (log-probabilities; x < -1e15 counts as -inf): x = k ln2 + r
// with k rounded to nearest (the 1.5 * 2^52 trick) and |r| <= ln2/2, the Cody-Waite split of ln2
// (fdlibm's constants), and exp(r) by its Taylor series to degree 13 (remainder < 1e-17).
DS_CTC_INLINE void ctc_exp_split(double x, double *v, double *e) {
    const bool zero = x < -1e15;
    const double xc = zero ? 0.0 : x, magic = 6755399441055744.0;  // 1.5 * 2^52
    const double k = (xc * 1.44269504088896338700 + magic) - magic;
    const double r = xc - k * 6.93147180369123816490e-01 - k * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;  // 1/13!
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    double pv, pe;
    ctc_split(p, &pv, &pe);  // NaN x: NaN p, kept by ctc_split
    *v = zero ? 0.0 : pv;
    *e = zero ? CTC_ZERO_E : pe + k;
}

// log(v 2^e) in double.
static double ctc_log(double v, double e) { return v == 0.0 ? -INFINITY : log(v) + e * 0.69314718055994530942; }

#define DS_REAL_F64 0
#include "ctc_loss_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "ctc_loss_impl.inc"
#undef DS_REAL_F64

typedef struct ctc_dims {
    int64_t N, T, C, S;
} ctc_dims;

// The checks shared by forward and backward: shapes, blank, lengths in range, every used
// label in [0, C) and not the blank. Nothing is written before they pass.
static ds_status check_common(ds_err *err, const char *op, const ds_tensor *lp, const ds_tensor *targets,
                              const ds_tensor *il, const ds_tensor *tl, const ds_tensor *alpha,
                              const ds_tensor *alpha_exp, int blank, ds_dtype *dt, ctc_dims *d) {
    DS_TRY(ds_cpu_check_float(err, op, "log_probs", lp, dt));
    DS_TRY(ds_cpu_check(err, op, "log_probs", lp, *dt, 3, NULL));
    d->N = lp->shape[0], d->T = lp->shape[1], d->C = lp->shape[2];
    DS_TRY(ds_cpu_check(err, op, "targets", targets, DS_I32, 2, (const int64_t[]){d->N, -1}));
    d->S = targets->shape[1];
    DS_TRY(ds_cpu_check(err, op, "input_lengths", il, DS_I32, 1, (const int64_t[]){d->N}));
    DS_TRY(ds_cpu_check(err, op, "target_lengths", tl, DS_I32, 1, (const int64_t[]){d->N}));
    DS_TRY(ds_cpu_check(err, op, "alpha", alpha, DS_F64, 3, (const int64_t[]){d->N, d->T, 2 * d->S + 1}));
    DS_TRY(ds_cpu_check(err, op, "alpha_exp", alpha_exp, DS_I32, 3, (const int64_t[]){d->N, d->T, 2 * d->S + 1}));
    DS_REQUIRE(err, blank >= 0 && blank < d->C, DS_ERR_INVALID_ARG, "%s: blank = %d is not a class of [0, %lld)", op,
               blank, (long long)d->C);
    const int32_t *ilp = il->data, *tlp = tl->data, *tg = targets->data;
    for (int64_t n = 0; n < d->N; n++) {
        DS_REQUIRE(err, ilp[n] >= 0 && ilp[n] <= d->T, DS_ERR_INVALID_ARG,
                   "%s: input_lengths[%lld] = %d must lie in [0, T = %lld]", op, (long long)n, (int)ilp[n],
                   (long long)d->T);
        DS_REQUIRE(err, tlp[n] >= 0 && tlp[n] <= d->S, DS_ERR_INVALID_ARG,
                   "%s: target_lengths[%lld] = %d must lie in [0, S = %lld]", op, (long long)n, (int)tlp[n],
                   (long long)d->S);
        for (int64_t j = 0; j < tlp[n]; j++) {
            const int32_t v = tg[n * d->S + j];
            DS_REQUIRE(err, v >= 0 && v < d->C && v != blank, DS_ERR_INVALID_ARG,
                       "%s: targets[%lld, %lld] = %d must be a class of [0, %lld) other than the blank %d", op,
                       (long long)n, (long long)j, (int)v, (long long)d->C, blank);
        }
    }
    return DS_OK;
}

// One allocation holding every utterance's scratch (offsets[n] into it), made before anything is
// written so that running out of memory leaves the outputs untouched.
static ds_status scratch_alloc(ds_err *err, const char *op, ds_dtype dt, const ctc_dims *d, const int32_t *tl,
                               double **mem, size_t **offsets) {
    *offsets = malloc(sizeof(size_t) * (size_t)(d->N + 1));
    DS_REQUIRE(err, *offsets != NULL, DS_ERR_OOM, "%s: out of memory", op);
    size_t total = 0;
    for (int64_t n = 0; n < d->N; n++) {
        (*offsets)[n] = total;
        total += dt == DS_F32 ? ctc_work_doubles_f32(tl[n], d->C) : ctc_work_doubles_f64(tl[n], d->C);
    }
    *mem = malloc(sizeof(double) * (total > 0 ? total : 1));
    if (*mem == NULL) {
        free(*offsets);
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for %zu bytes of scratch", op, total * sizeof(double));
    }
    return DS_OK;
}

ds_status ds_cpu_ctc_loss_forward(ds_context *ctx, const void *args) {
    const ds_ctc_loss_fwd_args *a = args;
    const char *op = "ctc_loss_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    ctc_dims d;
    DS_TRY(check_common(err, op, &a->log_probs, &a->targets, &a->input_lengths, &a->target_lengths, &a->alpha,
                        &a->alpha_exp, a->blank, &dt, &d));
    DS_TRY(ds_cpu_check(err, op, "losses", &a->losses, dt, 1, (const int64_t[]){d.N}));
    DS_TRY(ds_cpu_check_numel(err, op, "loss", &a->loss, dt, 1));
    DS_REQUIRE(err, a->reduction == DS_CTC_MEAN || a->reduction == DS_CTC_SUM, DS_ERR_INVALID_ARG,
               "%s: reduction %d is neither mean nor sum", op, (int)a->reduction);
    const int32_t *il = a->input_lengths.data, *tl = a->target_lengths.data, *tg = a->targets.data;
    const int64_t W = 2 * d.S + 1;
    double *alpha = a->alpha.data;        // (N, T, 2S+1) F64 host
    int32_t *alpha_exp = a->alpha_exp.data;  // (N, T, 2S+1) I32 host
    double *nll = malloc(sizeof(double) * (size_t)(d.N > 0 ? d.N : 1));
    DS_REQUIRE(err, nll != NULL, DS_ERR_OOM, "%s: out of memory", op);
    double *mem;
    size_t *off;
    const ds_status st = scratch_alloc(err, op, dt, &d, tl, &mem, &off);
    if (st != DS_OK) {
        free(nll);
        return st;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t n = 0; n < d.N; n++) {
        if (dt == DS_F32) {
            ctc_work_f32 w;
            ctc_work_init_f32(&w, mem + off[n], tl[n], d.C);
            nll[n] = ctc_forward_one_f32((const float *)a->log_probs.data + n * d.T * d.C, tg + n * d.S, il[n], tl[n],
                                         d.C, d.S, a->blank, alpha + n * d.T * W,
                                         alpha_exp + n * d.T * W, &w);
        } else {
            ctc_work_f64 w;
            ctc_work_init_f64(&w, mem + off[n], tl[n], d.C);
            nll[n] = ctc_forward_one_f64((const double *)a->log_probs.data + n * d.T * d.C, tg + n * d.S, il[n],
                                         tl[n], d.C, d.S, a->blank, alpha + n * d.T * W,
                                         alpha_exp + n * d.T * W, &w);
        }
    }
    free(mem);
    free(off);
    // The reduction in double, in utterance order (thread-count independent).
    double total = 0;
    for (int64_t n = 0; n < d.N; n++) {
        double l = nll[n];
        if (a->zero_infinity && l == INFINITY) l = 0;
        if (dt == DS_F32) ((float *)a->losses.data)[n] = (float)l;
        else ((double *)a->losses.data)[n] = l;
        total += a->reduction == DS_CTC_MEAN ? l / (double)(tl[n] > 1 ? tl[n] : 1) : l;
    }
    if (a->reduction == DS_CTC_MEAN) total /= (double)d.N;  // N = 0 gives NaN, as torch's mean of nothing
    if (dt == DS_F32) *(float *)a->loss.data = (float)total;
    else *(double *)a->loss.data = total;
    free(nll);
    return DS_OK;
}

ds_status ds_cpu_ctc_loss_backward(ds_context *ctx, const void *args) {
    const ds_ctc_loss_bwd_args *a = args;
    const char *op = "ctc_loss_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    ctc_dims d;
    DS_TRY(check_common(err, op, &a->log_probs, &a->targets, &a->input_lengths, &a->target_lengths, &a->alpha,
                        &a->alpha_exp, a->blank, &dt, &d));
    DS_TRY(ds_cpu_check(err, op, "grad", &a->grad, dt, 3, a->log_probs.shape));
    DS_REQUIRE(err, a->reduction == DS_CTC_MEAN || a->reduction == DS_CTC_SUM, DS_ERR_INVALID_ARG,
               "%s: reduction %d is neither mean nor sum", op, (int)a->reduction);
    DS_REQUIRE(err, a->wrt == DS_CTC_GRAD_LOG_PROBS || a->wrt == DS_CTC_GRAD_LOGITS, DS_ERR_INVALID_ARG,
               "%s: wrt %d is neither log_probs nor logits", op, (int)a->wrt);
    const int32_t *il = a->input_lengths.data, *tl = a->target_lengths.data, *tg = a->targets.data;
    const int64_t W = 2 * d.S + 1;
    const double *alpha = a->alpha.data;        // (N, T, 2S+1) F64 host
    const int32_t *alpha_exp = a->alpha_exp.data;  // (N, T, 2S+1) I32 host
    const bool logits = a->wrt == DS_CTC_GRAD_LOGITS;
    double *mem;
    size_t *off;
    DS_TRY(scratch_alloc(err, op, dt, &d, tl, &mem, &off));
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t n = 0; n < d.N; n++) {
        const double w = a->reduction == DS_CTC_MEAN ? a->dloss / ((double)(tl[n] > 1 ? tl[n] : 1) * (double)d.N)
                                                     : a->dloss;
        if (dt == DS_F32) {
            ctc_work_f32 wk;
            ctc_work_init_f32(&wk, mem + off[n], tl[n], d.C);
            ctc_backward_one_f32((const float *)a->log_probs.data + n * d.T * d.C, tg + n * d.S, il[n], d.T, tl[n],
                                 d.C, d.S, a->blank, alpha + n * d.T * W, alpha_exp + n * d.T * W,
                                 w, a->zero_infinity, logits, (float *)a->grad.data + n * d.T * d.C, &wk);
        } else {
            ctc_work_f64 wk;
            ctc_work_init_f64(&wk, mem + off[n], tl[n], d.C);
            ctc_backward_one_f64((const double *)a->log_probs.data + n * d.T * d.C, tg + n * d.S, il[n], d.T, tl[n],
                                 d.C, d.S, a->blank, alpha + n * d.T * W,
                                 alpha_exp + n * d.T * W, w, a->zero_infinity, logits, (double *)a->grad.data + n * d.T * d.C,
                                 &wk);
        }
    }
    free(mem);
    free(off);
    return DS_OK;
}
