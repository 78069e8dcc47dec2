// Cross-entropy over class logits with ignore_index and mean reduction over the targets that
// are not ignored, as torch.nn.functional.cross_entropy(reduction="mean").
#include <math.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

#define DS_REAL_F64 0
#include "cross_entropy_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "cross_entropy_impl.inc"
#undef DS_REAL_F64

// Every target must be a class in [0, C) or ignore_index; the message names the first that is not.
static ds_status check_targets(ds_err *err, const char *op, const int32_t *targets, int64_t n, int64_t c,
                               int ignore_index) {
    for (int64_t i = 0; i < n; i++)
        DS_REQUIRE(err, targets[i] == ignore_index || (targets[i] >= 0 && targets[i] < c), DS_ERR_INVALID_ARG,
                   "%s: targets[%lld] = %d is neither a class in [0, %lld) nor ignore_index (%d)", op,
                   (long long)i, (int)targets[i], (long long)c, ignore_index);
    return DS_OK;
}

// Checks logits (N, C), targets (N) I32 and the targets' values; sets *dt, *n, *c.
static ds_status check_common(ds_err *err, const char *op, const ds_tensor *logits, const ds_tensor *targets,
                              int ignore_index, ds_dtype *dt, int64_t *n, int64_t *c) {
    DS_TRY(ds_cpu_check_float(err, op, "logits", logits, dt));
    DS_TRY(ds_cpu_check(err, op, "logits", logits, *dt, 2, NULL));
    *n = logits->shape[0];
    *c = logits->shape[1];
    DS_TRY(ds_cpu_check(err, op, "targets", targets, DS_I32, 1, (const int64_t[]){*n}));
    return check_targets(err, op, targets->data, *n, *c, ignore_index);
}

ds_status ds_cpu_cross_entropy_forward(ds_context *ctx, const void *args) {
    const ds_cross_entropy_fwd_args *a = args;
    const char *op = "cross_entropy_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    int64_t n, c;
    DS_TRY(check_common(err, op, &a->logits, &a->targets, a->ignore_index, &dt, &n, &c));
    DS_TRY(ds_cpu_check(err, op, "loss", &a->loss, dt, 1, (const int64_t[]){1}));
    DS_TRY(ds_cpu_check(err, op, "lse", &a->lse, dt, 1, (const int64_t[]){n}));
    if (dt == DS_F32)
        *(float *)a->loss.data = (float)cross_entropy_fwd_f32(a->logits.data, a->targets.data, a->lse.data, n, c,
                                                              a->ignore_index);
    else
        *(double *)a->loss.data = cross_entropy_fwd_f64(a->logits.data, a->targets.data, a->lse.data, n, c,
                                                        a->ignore_index);
    return DS_OK;
}

ds_status ds_cpu_cross_entropy_backward(ds_context *ctx, const void *args) {
    const ds_cross_entropy_bwd_args *a = args;
    const char *op = "cross_entropy_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    int64_t n, c;
    DS_TRY(check_common(err, op, &a->logits, &a->targets, a->ignore_index, &dt, &n, &c));
    DS_TRY(ds_cpu_check(err, op, "lse", &a->lse, dt, 1, (const int64_t[]){n}));
    DS_TRY(ds_cpu_check(err, op, "dlogits", &a->dlogits, dt, 2, (const int64_t[]){n, c}));
    if (dt == DS_F32)
        cross_entropy_bwd_f32(a->logits.data, a->targets.data, a->lse.data, a->dlogits.data, n, c, a->ignore_index,
                              a->dloss);
    else
        cross_entropy_bwd_f64(a->logits.data, a->targets.data, a->lse.data, a->dlogits.data, n, c, a->ignore_index,
                              a->dloss);
    return DS_OK;
}
