// SpecAugment's masking of hidden states (HF Wav2Vec2Model._mask_hidden_states): masked time
// steps take the learned vector masked_spec_embed, masked features become 0. The masks are drawn
// by the model (Philox); this op only applies them.
#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

#define DS_REAL_F64 0
#include "spec_augment_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "spec_augment_impl.inc"
#undef DS_REAL_F64

// The masks (each optional) must be (B, T) / (B, C) I32 of 0 and 1.
static ds_status check_masks(ds_err *err, const char *op, const ds_tensor *tm, const ds_tensor *fm, int64_t b,
                             int64_t t, int64_t c) {
    if (ds_cpu_present(tm)) {
        DS_TRY(ds_cpu_check(err, op, "time_mask", tm, DS_I32, 2, (const int64_t[]){b, t}));
        const int32_t *m = tm->data;
        for (int64_t i = 0; i < b * t; i++)
            DS_REQUIRE(err, m[i] == 0 || m[i] == 1, DS_ERR_INVALID_ARG, "%s: time_mask[%lld] = %d is not 0 or 1", op,
                       (long long)i, (int)m[i]);
    }
    if (ds_cpu_present(fm)) {
        DS_TRY(ds_cpu_check(err, op, "feature_mask", fm, DS_I32, 2, (const int64_t[]){b, c}));
        const int32_t *m = fm->data;
        for (int64_t i = 0; i < b * c; i++)
            DS_REQUIRE(err, m[i] == 0 || m[i] == 1, DS_ERR_INVALID_ARG, "%s: feature_mask[%lld] = %d is not 0 or 1",
                       op, (long long)i, (int)m[i]);
    }
    return DS_OK;
}

ds_status ds_cpu_spec_augment_forward(ds_context *ctx, const void *args) {
    const ds_spec_augment_fwd_args *a = args;
    const char *op = "spec_augment_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "x", &a->x, &dt));
    DS_TRY(ds_cpu_check(err, op, "x", &a->x, dt, 3, NULL));
    const int64_t b = a->x.shape[0], t = a->x.shape[1], c = a->x.shape[2];
    DS_TRY(ds_cpu_check(err, op, "y", &a->y, dt, 3, a->x.shape));
    DS_TRY(check_masks(err, op, &a->time_mask, &a->feature_mask, b, t, c));
    const bool has_tm = ds_cpu_present(&a->time_mask), has_fm = ds_cpu_present(&a->feature_mask);
    if (has_tm) DS_TRY(ds_cpu_check(err, op, "embed", &a->embed, dt, 1, (const int64_t[]){c}));
    const int32_t *tm = has_tm ? a->time_mask.data : NULL, *fm = has_fm ? a->feature_mask.data : NULL;
    if (dt == DS_F32) spec_augment_fwd_f32(a->x.data, tm, fm, has_tm ? a->embed.data : NULL, a->y.data, b, t, c);
    else spec_augment_fwd_f64(a->x.data, tm, fm, has_tm ? a->embed.data : NULL, a->y.data, b, t, c);
    return DS_OK;
}

ds_status ds_cpu_spec_augment_backward(ds_context *ctx, const void *args) {
    const ds_spec_augment_bwd_args *a = args;
    const char *op = "spec_augment_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dy", &a->dy, &dt));
    DS_TRY(ds_cpu_check(err, op, "dy", &a->dy, dt, 3, NULL));
    const int64_t b = a->dy.shape[0], t = a->dy.shape[1], c = a->dy.shape[2];
    DS_TRY(ds_cpu_check(err, op, "dx", &a->dx, dt, 3, a->dy.shape));
    DS_TRY(check_masks(err, op, &a->time_mask, &a->feature_mask, b, t, c));
    const bool has_de = ds_cpu_present(&a->dembed);
    if (has_de) DS_TRY(ds_cpu_check(err, op, "dembed", &a->dembed, dt, 1, (const int64_t[]){c}));
    const int32_t *tm = ds_cpu_present(&a->time_mask) ? a->time_mask.data : NULL;
    const int32_t *fm = ds_cpu_present(&a->feature_mask) ? a->feature_mask.data : NULL;
    if (dt == DS_F32)
        spec_augment_bwd_f32(a->dy.data, tm, fm, a->dx.data, has_de ? a->dembed.data : NULL, b, t, c, a->accumulate);
    else
        spec_augment_bwd_f64(a->dy.data, tm, fm, a->dx.data, has_de ? a->dembed.data : NULL, b, t, c, a->accumulate);
    return DS_OK;
}
