// The segmentation transforms of torchvision's references/segmentation/presets.py, on decoded
// images, with their random draws made from Philox keyed by (seed, epoch, example index): the
// same example gets the same augmentation whatever the worker count, batch composition or
// resume point.
//
// Training (SegmentationPresetTrain(base_size, crop_size, hflip_prob, mean, std)):
//   RandomResize(int(0.5 * base), int(2.0 * base))  the shorter side to a size drawn uniformly
//                                                   (0.5 and 2.0: min_scale, max_scale)
//                                                   from [min, max], both ends included
//                                                   (random.randint); image bilinear, mask nearest
//   RandomHorizontalFlip(hflip_prob)                both flipped when a uniform [0, 1) < prob
//   RandomCrop(crop)                                pad_if_smaller: right and bottom padded to at
//                                                   least crop (image with 0, mask with 255), then
//                                                   a crop whose origin is uniform over the
//                                                   padded image (T.RandomCrop.get_params)
//   PILToTensor, ConvertImageDtype(float), Normalize(mean, std)
//                                                   x / 255 then (x - mean) / std, in float32
//   -> image (3, crop, crop) F32 CHW, mask (crop, crop) I32 with 255 = ignore.
// Evaluation (SegmentationPresetEval(base_size)): RandomResize(base, base), i.e. the shorter side
//   to base, then the same tensor conversion; the output size depends on the photo's shape.
//
// Only the part of the resized image that the crop keeps is computed (ds_resize_*_window), bit
// for bit equal to resizing everything and cropping.
#ifndef DS_SEG_TRANSFORM_H
#define DS_SEG_TRANSFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "image.h"

typedef struct ds_seg_transform_options {
    int32_t base_size;  // 520: training sizes int(min_scale * base) .. int(max_scale * base); eval shorter side
    int32_t crop_size;  // 480
    float hflip_prob;   // 0.5
    float mean[3];      // (0.485, 0.456, 0.406)
    float std[3];       // (0.229, 0.224, 0.225)
    double min_scale;   // 0.5: training sizes from int(min_scale * base) (presets.py's 0.5) ...
    double max_scale;   // 2.0: ... to int(max_scale * base) (presets.py's 2.0)
} ds_seg_transform_options;

// torchvision's defaults above (train.py's for VOC / COCO: base 520, crop 480).
ds_seg_transform_options ds_seg_transform_defaults(void);

// Checks base_size >= 1, crop_size >= 1, hflip_prob in [0, 1], 0 < min_scale <= max_scale <= 16,
// std > 0 and everything finite;
// the message names the option.
ds_status ds_seg_transform_check(const ds_seg_transform_options *o, ds_err *err);

// RandomResize's range for training: [int(min_scale * base), int(max_scale * base)] (at least 1;
// torchvision's recipe: 0.5 and 2.0).
void ds_seg_train_size_range(const ds_seg_transform_options *o, int32_t *lo, int32_t *hi);

// One example's training draws.
typedef struct ds_seg_aug {
    int32_t size;       // the shorter side after RandomResize
    bool flip;          // RandomHorizontalFlip fired
    int32_t top, left;  // crop origin in the resized, flipped and padded image
} ds_seg_aug;

// The Philox stream of these draws: counter's high word (see runtime/base/philox.h) is
// DS_SEG_AUG_STREAM + epoch; element indices 4 * example + {0: size, 1: flip, 2: top, 3: left},
// so one Philox block per example. h, w: the example's decoded size (the crop range depends on
// the resized size).
#define DS_SEG_AUG_STREAM ((uint64_t)0x5345474d << 32)  // "SEGM"
ds_seg_aug ds_seg_draw_train(const ds_seg_transform_options *o, uint64_t seed, uint64_t epoch, uint64_t example,
                             int32_t h, int32_t w);

// The size (resized_h, resized_w) of the image after RandomResize to `size`, and after padding
// (padded_h, padded_w) to the crop: what the crop origin ranges over.
void ds_seg_train_geometry(const ds_seg_transform_options *o, int32_t h, int32_t w, int32_t size, int32_t *resized_h,
                           int32_t *resized_w, int32_t *padded_h, int32_t *padded_w);

// Applies the training transform with the given draws: image (H, W, 3) and mask (H, W, 1) of
// equal size -> image_out (3, crop, crop) F32 host, mask_out (crop, crop) I32 host. *valid gets
// the number of mask_out entries != 255. DS_ERR_INVALID_ARG for mismatched inputs or draws
// outside their ranges.
ds_status ds_seg_apply_train(const ds_seg_transform_options *o, const ds_image *image, const ds_image *mask,
                             const ds_seg_aug *aug, float *image_out, int32_t *mask_out, int64_t *valid, ds_err *err);

// The evaluation output size: the shorter side resized to base_size.
void ds_seg_eval_size(const ds_seg_transform_options *o, int32_t h, int32_t w, int32_t *out_h, int32_t *out_w);

// Applies the evaluation transform into a frame of (frame_h, frame_w) >= ds_seg_eval_size():
// image_out (3, frame_h, frame_w) F32, mask_out (frame_h, frame_w) I32, the example in the top
// left corner and the rest padded as the training crop pads (image pixel 0 before
// normalisation, mask 255), so batches of differently shaped photos can share one tensor. With
// a frame of exactly the output size this is torchvision's eval transform. *valid as above.
ds_status ds_seg_apply_eval(const ds_seg_transform_options *o, const ds_image *image, const ds_image *mask,
                            int32_t frame_h, int32_t frame_w, float *image_out, int32_t *mask_out, int64_t *valid,
                            ds_err *err);

#endif
