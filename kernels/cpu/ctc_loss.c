// CTC loss (torch.nn.functional.ctc_loss semantics) on the CPU: forward (per-utterance losses,
// the reduction, and the saved alpha) and backward (w.r.t. the log-probabilities or, fused with
// log_softmax, the logits). See kernels/ops.h for the layout and the exact conventions, and
// docs/speech_model.md for the numerics.
//
// Speed: log-space recursions over contiguous arrays of blank and label states, one utterance per
// thread. In F32 the log-sum-exps use the branch-free exp/log below, which the compiler
// vectorises (libm's expf/logf are calls it cannot); F64 (the gradient checks) uses libm.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

// The helpers of the recursions' inner loops must inline into them (and into each clone below),
// or the loops cannot vectorise.
#define DS_CTC_INLINE static inline __attribute__((always_inline))

// exp(x) in float, for the recursions' arguments: differences from a maximum and
// log-occupancies (<= 0 up to rounding), -inf included; never NaN (an utterance with a NaN
// log-prob is detected and reported as NaN before its values are used). x = n ln2 + r with n
// rounded to nearest by the 1.5 * 2^23 trick (whose bits also give 2^n), |r| <= ln2/2, and the
// Cephes degree-6 polynomial for exp(r): within 2 ulp of expf for x in [-87, 88]. Below -87 the
// result is 0 (exp(x) < 1.7e-38 is nothing next to the 1 it is added to); above 88 it is clamped.
// Branch-free, no float-to-int conversion, so loops over it vectorise.
DS_CTC_INLINE float ctc_fast_exp(float x) {
    const float lo = -87.0f, hi = 88.0f, magic = 12582912.0f;  // 1.5 * 2^23
    float xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    const float t = xc * 1.44269504088896341f + magic;
    const float n = t - magic;
    const float r = xc - n * 0.693359375f - n * -2.12194440e-4f;
    const float z = r * r;
    const float p =
        (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
          1.6666665459e-1f) * r + 5.0000001201e-1f) * z + r + 1.0f;
    union {
        float f;
        int32_t i;
    } u = {.f = t};
    u.i = (u.i - 0x4B400000 + 127) << 23;  // t's low mantissa bits hold n (two's complement)
    const float res = p * u.f;
    return x < lo ? 0.0f : res;
}

// log(x) in float for x in [1, 4), the only arguments the recursions give it (a 1 plus up to
// three exps of non-positive numbers): x = m 2^e with m in [sqrt(1/2), sqrt(2)) and the Cephes
// degree-9 polynomial for log(m): within 2 ulp of logf there. Branch-free.
DS_CTC_INLINE float ctc_fast_log(float x) {
    union {
        float f;
        int32_t i;
    } u = {.f = x};
    const int32_t e = ((u.i >> 23) & 0xff) - 126;  // x = m 2^e, m in [0.5, 1)
    u.i = (u.i & 0x007fffff) | 0x3f000000;
    const float m = u.f;
    const bool low = m < 0.707106781186547524f;
    const float ef = (float)(low ? e - 1 : e);
    const float f_low = m + m - 1.0f, f_high = m - 1.0f;
    const float f = low ? f_low : f_high;
    const float z = f * f;
    float y = ((((((((7.0376836292e-2f * f - 1.1514610310e-1f) * f + 1.1676998740e-1f) * f - 1.2420140846e-1f) * f +
                   1.4249322787e-1f) * f - 1.6668057665e-1f) * f + 2.0000714765e-1f) * f - 2.4999993993e-1f) * f +
               3.3333331174e-1f) * f * z;
    y += -2.12194440e-4f * ef;
    y += -0.5f * z;
    return f + y + 0.693359375f * ef;
}

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
                              const ds_tensor *ascale, int blank, ds_dtype *dt, ctc_dims *d) {
    DS_TRY(ds_cpu_check_float(err, op, "log_probs", lp, dt));
    DS_TRY(ds_cpu_check(err, op, "log_probs", lp, *dt, 3, NULL));
    d->N = lp->shape[0], d->T = lp->shape[1], d->C = lp->shape[2];
    DS_TRY(ds_cpu_check(err, op, "targets", targets, DS_I32, 2, (const int64_t[]){d->N, -1}));
    d->S = targets->shape[1];
    DS_TRY(ds_cpu_check(err, op, "input_lengths", il, DS_I32, 1, (const int64_t[]){d->N}));
    DS_TRY(ds_cpu_check(err, op, "target_lengths", tl, DS_I32, 1, (const int64_t[]){d->N}));
    DS_TRY(ds_cpu_check(err, op, "log_alpha", alpha, DS_F64, 3, (const int64_t[]){d->N, d->T, 2 * d->S + 1}));
    DS_TRY(ds_cpu_check(err, op, "log_alpha_scale", ascale, DS_F64, 2, (const int64_t[]){d->N, d->T}));
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
                               char **mem, size_t **offsets) {
    *offsets = malloc(sizeof(size_t) * (size_t)(d->N + 1));
    DS_REQUIRE(err, *offsets != NULL, DS_ERR_OOM, "%s: out of memory", op);
    size_t total = 0;
    for (int64_t n = 0; n < d->N; n++) {
        (*offsets)[n] = total;
        total += dt == DS_F32 ? ctc_work_bytes_f32(tl[n], d->C) : ctc_work_bytes_f64(tl[n], d->C);
    }
    *mem = malloc(total > 0 ? total : 1);
    if (*mem == NULL) {
        free(*offsets);
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for %zu bytes of scratch", op, total);
    }
    return DS_OK;
}

ds_status ds_cpu_ctc_loss_forward(ds_context *ctx, const void *args) {
    const ds_ctc_loss_fwd_args *a = args;
    const char *op = "ctc_loss_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    ctc_dims d;
    DS_TRY(check_common(err, op, &a->log_probs, &a->targets, &a->input_lengths, &a->target_lengths, &a->log_alpha,
                        &a->log_alpha_scale, a->blank, &dt, &d));
    DS_TRY(ds_cpu_check(err, op, "losses", &a->losses, dt, 1, (const int64_t[]){d.N}));
    DS_TRY(ds_cpu_check_numel(err, op, "loss", &a->loss, dt, 1));
    DS_REQUIRE(err, a->reduction == DS_CTC_MEAN || a->reduction == DS_CTC_SUM, DS_ERR_INVALID_ARG,
               "%s: reduction %d is neither mean nor sum", op, (int)a->reduction);
    const int32_t *il = a->input_lengths.data, *tl = a->target_lengths.data, *tg = a->targets.data;
    const int64_t W = 2 * d.S + 1;
    double *scale = a->log_alpha_scale.data;  // (N, T) F64 host
    double *nll = malloc(sizeof(double) * (size_t)(d.N > 0 ? d.N : 1));
    DS_REQUIRE(err, nll != NULL, DS_ERR_OOM, "%s: out of memory", op);
    char *mem;
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
                                         d.C, d.S, a->blank, (double *)a->log_alpha.data + n * d.T * W,
                                         scale + n * d.T, &w);
        } else {
            ctc_work_f64 w;
            ctc_work_init_f64(&w, mem + off[n], tl[n], d.C);
            nll[n] = ctc_forward_one_f64((const double *)a->log_probs.data + n * d.T * d.C, tg + n * d.S, il[n],
                                         tl[n], d.C, d.S, a->blank, (double *)a->log_alpha.data + n * d.T * W,
                                         scale + n * d.T, &w);
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
    DS_TRY(check_common(err, op, &a->log_probs, &a->targets, &a->input_lengths, &a->target_lengths, &a->log_alpha,
                        &a->log_alpha_scale, a->blank, &dt, &d));
    DS_TRY(ds_cpu_check(err, op, "grad", &a->grad, dt, 3, a->log_probs.shape));
    DS_REQUIRE(err, a->reduction == DS_CTC_MEAN || a->reduction == DS_CTC_SUM, DS_ERR_INVALID_ARG,
               "%s: reduction %d is neither mean nor sum", op, (int)a->reduction);
    DS_REQUIRE(err, a->wrt == DS_CTC_GRAD_LOG_PROBS || a->wrt == DS_CTC_GRAD_LOGITS, DS_ERR_INVALID_ARG,
               "%s: wrt %d is neither log_probs nor logits", op, (int)a->wrt);
    const int32_t *il = a->input_lengths.data, *tl = a->target_lengths.data, *tg = a->targets.data;
    const int64_t W = 2 * d.S + 1;
    const double *scale = a->log_alpha_scale.data;  // (N, T) F64 host
    const bool logits = a->wrt == DS_CTC_GRAD_LOGITS;
    char *mem;
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
                                 d.C, d.S, a->blank, (const double *)a->log_alpha.data + n * d.T * W, scale + n * d.T,
                                 w, a->zero_infinity, logits, (float *)a->grad.data + n * d.T * d.C, &wk);
        } else {
            ctc_work_f64 wk;
            ctc_work_init_f64(&wk, mem + off[n], tl[n], d.C);
            ctc_backward_one_f64((const double *)a->log_probs.data + n * d.T * d.C, tg + n * d.S, il[n], d.T, tl[n],
                                 d.C, d.S, a->blank, (const double *)a->log_alpha.data + n * d.T * W,
                                 scale + n * d.T, w, a->zero_infinity, logits, (double *)a->grad.data + n * d.T * d.C,
                                 &wk);
        }
    }
    free(mem);
    free(off);
    return DS_OK;
}
