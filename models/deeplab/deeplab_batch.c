#include "deeplab_batch.h"

#include <math.h>

#include "../../runtime/base/check.h"
#include "../../kernels/gpu_convert.h"
#include "../common/device_memory.h"

ds_status ds_deeplab_check_batch(ds_err *err, const ds_deeplab_config *cfg, const ds_deeplab_batch *b) {
    DS_REQUIRE(err, b->N >= 1 && b->H >= 1 && b->W >= 1, DS_ERR_INVALID_ARG,
               "deeplab batch: shape (%lld, 3, %lld, %lld) is empty", (long long)b->N, (long long)b->H, (long long)b->W);
    DS_REQUIRE(err, b->images != NULL, DS_ERR_INVALID_ARG, "deeplab batch: images missing");
    const int64_t K = cfg->num_classes;
    if (b->masks) {
        const int64_t hw = b->H * b->W;
        for (int64_t i = 0; i < b->N * hw; i++) {
            const int32_t v = b->masks[i];
            DS_REQUIRE(err, v == cfg->ignore_index || (v >= 0 && v < K), DS_ERR_INVALID_ARG,
                       "deeplab batch: mask value %d at image %lld, row %lld, column %lld is neither a class in "
                       "[0, %lld) nor ignore_index (%d)",
                       (int)v, (long long)(i / hw), (long long)(i % hw / b->W), (long long)(i % b->W), (long long)K,
                       cfg->ignore_index);
        }
    }
    for (int64_t k = 0; b->class_weights && k < K; k++)
        DS_REQUIRE(err, isfinite(b->class_weights[k]) && b->class_weights[k] >= 0, DS_ERR_INVALID_ARG,
                   "deeplab batch: class weight %lld = %g must be finite and >= 0", (long long)k,
                   (double)b->class_weights[k]);
    return DS_OK;
}

ds_status ds_deeplab_stage_batch(ds_context *ctx, const ds_deeplab_config *cfg, const ds_deeplab_batch *b,
                                 ds_dtype act, ds_arena *arena, ds_deeplab_saved *s) {
    ds_err *err = &ctx->err;
    const int64_t img[] = {b->N, 3, b->H, b->W}, msk[] = {b->N, b->H, b->W};
    DS_TRY(ds_arena_tensor(arena, act, 4, img, &s->images, err));
    ds_tensor images_f32 = s->images;  // (N, 3, H, W) F32: the upload's target
    if (act != DS_F32) DS_TRY(ds_arena_tensor(arena, DS_F32, 4, img, &images_f32, err));
    DS_TRY(ds_arena_tensor(arena, DS_I32, 3, msk, &s->masks, err));
    DS_TRY(ds_arena_tensor(arena, DS_F32, 1, &cfg->num_classes, &s->class_weights, err));
    s->N = b->N, s->H = b->H, s->W = b->W;
    s->has_loss = b->masks != NULL;
    if (arena->measuring) return DS_OK;
    DS_TRY(ds_tensor_from_host(ctx, &images_f32, b->images));
    if (act != DS_F32)  // round to nearest even, as ds_f32_to_bf16 and torch's .to(bfloat16)
        DS_TRY(ds_gpu_convert(ctx, s->images.data, act, images_f32.data, DS_F32, (size_t)ds_tensor_numel(&s->images)));
    if (b->masks) DS_TRY(ds_tensor_from_host(ctx, &s->masks, b->masks));
    if (b->class_weights) DS_TRY(ds_tensor_from_host(ctx, &s->class_weights, b->class_weights));
    else s->class_weights = (ds_tensor){0};
    return DS_OK;
}
