// Per-pixel cross-entropy over NCHW logits with ignore_index and optional class weights, mean
// over the valid pixels' weights (torch.nn.functional.cross_entropy on (N, K, H, W) logits).
// The forward also reports the denominator, the loss's weight for cross-rank averaging.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

enum { PIX = 256 };  // pixels per block of the logsumexp pass

#define DS_REAL_F64 0
#include "pixel_cross_entropy_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "pixel_cross_entropy_impl.inc"
#undef DS_REAL_F64

// Checks logits (N, K, H, W), targets (N, H, W) I32 and their values, class weights (K).
static ds_status check_common(ds_err *err, const char *op, const ds_tensor *logits, const ds_tensor *targets,
                              const ds_tensor *cw, int ignore_index, ds_dtype *dt) {
    DS_TRY(ds_cpu_check_float(err, op, "logits", logits, dt));
    DS_TRY(ds_cpu_check(err, op, "logits", logits, *dt, 4, NULL));
    const int64_t N = logits->shape[0], K = logits->shape[1], H = logits->shape[2], W = logits->shape[3];
    DS_TRY(ds_cpu_check(err, op, "targets", targets, DS_I32, 3, (const int64_t[]){N, H, W}));
    if (ds_cpu_present(cw)) DS_TRY(ds_cpu_check(err, op, "class_weights", cw, *dt, 1, (const int64_t[]){K}));
    const int32_t *t = targets->data;
    for (int64_t i = 0; i < N * H * W; i++)
        DS_REQUIRE(err, t[i] == ignore_index || (t[i] >= 0 && t[i] < K), DS_ERR_INVALID_ARG,
                   "%s: target %d at image %lld, row %lld, column %lld is neither a class in [0, %lld) nor "
                   "ignore_index (%d)",
                   op, (int)t[i], (long long)(i / (H * W)), (long long)(i / W % H), (long long)(i % W), (long long)K,
                   ignore_index);
    return DS_OK;
}

ds_status ds_cpu_pixel_ce_forward(ds_context *ctx, const void *args) {
    const ds_pixel_ce_fwd_args *a = args;
    const char *op = "pixel_cross_entropy_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(check_common(err, op, &a->logits, &a->targets, &a->class_weights, a->ignore_index, &dt));
    const int64_t N = a->logits.shape[0], K = a->logits.shape[1], HW = a->logits.shape[2] * a->logits.shape[3];
    DS_TRY(ds_cpu_check_numel(err, op, "loss", &a->loss, dt, 1));
    DS_TRY(ds_cpu_check_numel(err, op, "weight_sum", &a->weight_sum, dt, 1));
    DS_TRY(ds_cpu_check(err, op, "lse", &a->lse, dt, 3, a->targets.shape));
    const void *cw = ds_cpu_present(&a->class_weights) ? a->class_weights.data : NULL;
    double num, den;
    if (dt == DS_F32) {
        pce_lse_f32(a->logits.data, a->lse.data, N, K, HW);
        pce_sums_f32(a->logits.data, a->targets.data, cw, a->lse.data, N, K, HW, a->ignore_index, &num, &den);
        *(float *)a->loss.data = (float)(num / den);
        *(float *)a->weight_sum.data = (float)den;
    } else {
        pce_lse_f64(a->logits.data, a->lse.data, N, K, HW);
        pce_sums_f64(a->logits.data, a->targets.data, cw, a->lse.data, N, K, HW, a->ignore_index, &num, &den);
        *(double *)a->loss.data = num / den;
        *(double *)a->weight_sum.data = den;
    }
    return DS_OK;
}

ds_status ds_cpu_pixel_ce_backward(ds_context *ctx, const void *args) {
    const ds_pixel_ce_bwd_args *a = args;
    const char *op = "pixel_cross_entropy_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(check_common(err, op, &a->logits, &a->targets, &a->class_weights, a->ignore_index, &dt));
    const int64_t N = a->logits.shape[0], K = a->logits.shape[1], HW = a->logits.shape[2] * a->logits.shape[3];
    DS_TRY(ds_cpu_check(err, op, "lse", &a->lse, dt, 3, a->targets.shape));
    DS_TRY(ds_cpu_check_numel(err, op, "weight_sum", &a->weight_sum, dt, 1));
    DS_TRY(ds_cpu_check(err, op, "dlogits", &a->dlogits, dt, 4, a->logits.shape));
    const void *cw = ds_cpu_present(&a->class_weights) ? a->class_weights.data : NULL;
    if (dt == DS_F32)
        pce_bwd_f32(a->logits.data, a->targets.data, cw, a->lse.data, *(const float *)a->weight_sum.data,
                    a->dlogits.data, N, K, HW, a->ignore_index, a->dloss);
    else
        pce_bwd_f64(a->logits.data, a->targets.data, cw, a->lse.data, *(const double *)a->weight_sum.data,
                    a->dlogits.data, N, K, HW, a->ignore_index, a->dloss);
    return DS_OK;
}
