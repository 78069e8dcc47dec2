// DeepLabV3's batch: checks of what a user's data can get wrong, and staging into the arena.
#ifndef DS_DEEPLAB_BATCH_H
#define DS_DEEPLAB_BATCH_H

#include "deeplab.h"

// Sizes, images present, mask values in [0, K) or ignore_index, finite non-negative class weights.
ds_status ds_deeplab_check_batch(ds_err *err, const ds_deeplab_config *cfg, const ds_deeplab_batch *b);

// Carves images (N, 3, H, W) of dtype act, masks (N, H, W) I32 and class weights (K) F32 from the
// arena (masks and class weights always, so that the plan covers a batch with them) and copies the
// batch in. With act BF16 (a CUDA model) the F32 images are uploaded into an F32 arena temporary
// straight from the batch (a pinned loader slot: an asynchronous copy) and rounded to bf16 on the
// device, as torch's autocast rounds them.
ds_status ds_deeplab_stage_batch(ds_context *ctx, const ds_deeplab_config *cfg, const ds_deeplab_batch *b,
                                 ds_dtype act, ds_arena *arena, ds_deeplab_saved *s);

#endif
