#include "seg_transform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../../runtime/base/philox.h"
#include "resize.h"

#define IGNORE_ID 255

ds_seg_transform_options ds_seg_transform_defaults(void) {
    ds_seg_transform_options o = {520, 480, 0.5f, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, 0.5, 2.0};
    return o;
}

ds_status ds_seg_transform_check(const ds_seg_transform_options *o, ds_err *err) {
    DS_REQUIRE(err, o->base_size >= 1 && o->base_size <= 65536, DS_ERR_CONFIG, "base_size %d out of range (1..65536)",
               (int)o->base_size);
    DS_REQUIRE(err, o->crop_size >= 1 && o->crop_size <= 65536, DS_ERR_CONFIG, "crop_size %d out of range (1..65536)",
               (int)o->crop_size);
    DS_REQUIRE(err, o->hflip_prob >= 0.0f && o->hflip_prob <= 1.0f, DS_ERR_CONFIG, "hflip_prob %g outside [0, 1]",
               (double)o->hflip_prob);
    // An upper bound keeps int(max_scale * base) far from int32 overflow (base <= 65536).
    DS_REQUIRE(err, isfinite(o->min_scale) && isfinite(o->max_scale) && o->min_scale > 0.0 &&
                        o->min_scale <= o->max_scale && o->max_scale <= 16.0,
               DS_ERR_CONFIG, "scale range [%g, %g] must satisfy 0 < min_scale <= max_scale <= 16",
               o->min_scale, o->max_scale);
    for (int c = 0; c < 3; c++) {
        DS_REQUIRE(err, isfinite(o->mean[c]), DS_ERR_CONFIG, "mean[%d] is not finite", c);
        DS_REQUIRE(err, isfinite(o->std[c]) && o->std[c] > 0.0f, DS_ERR_CONFIG, "std[%d] = %g must be > 0", c,
                   (double)o->std[c]);
    }
    return DS_OK;
}

void ds_seg_train_size_range(const ds_seg_transform_options *o, int32_t *lo, int32_t *hi) {
    // presets.py: min_size = int(0.5 * base_size), max_size = int(2.0 * base_size).
    *lo = (int32_t)(o->min_scale * o->base_size);
    *hi = (int32_t)(o->max_scale * o->base_size);
    if (*lo < 1) *lo = 1;
    if (*hi < *lo) *hi = *lo;
}

// Uniform integer in [lo, hi] from 32 random bits (multiply-shift: bias below 2^-20 for the
// ranges used here, a few thousand values).
static int32_t uniform_int(uint32_t bits, int32_t lo, int32_t hi) {
    const uint64_t span = (uint64_t)((int64_t)hi - lo + 1);
    return lo + (int32_t)(((uint64_t)bits * span) >> 32);
}

void ds_seg_train_geometry(const ds_seg_transform_options *o, int32_t h, int32_t w, int32_t size, int32_t *resized_h,
                           int32_t *resized_w, int32_t *padded_h, int32_t *padded_w) {
    ds_resize_shorter_side(h, w, size, resized_h, resized_w);
    *padded_h = *resized_h > o->crop_size ? *resized_h : o->crop_size;
    *padded_w = *resized_w > o->crop_size ? *resized_w : o->crop_size;
}

ds_seg_aug ds_seg_draw_train(const ds_seg_transform_options *o, uint64_t seed, uint64_t epoch, uint64_t example,
                             int32_t h, int32_t w) {
    const uint64_t stream = DS_SEG_AUG_STREAM + epoch, base = 4 * example;
    int32_t lo, hi, rh, rw, ph, pw;
    ds_seg_train_size_range(o, &lo, &hi);
    ds_seg_aug a;
    a.size = uniform_int(ds_philox_u32(seed, stream, base + 0), lo, hi);
    a.flip = ds_philox_uniform(seed, stream, base + 1) < o->hflip_prob;
    ds_seg_train_geometry(o, h, w, a.size, &rh, &rw, &ph, &pw);
    a.top = uniform_int(ds_philox_u32(seed, stream, base + 2), 0, ph - o->crop_size);
    a.left = uniform_int(ds_philox_u32(seed, stream, base + 3), 0, pw - o->crop_size);
    return a;
}

void ds_seg_eval_size(const ds_seg_transform_options *o, int32_t h, int32_t w, int32_t *out_h, int32_t *out_w) {
    ds_resize_shorter_side(h, w, o->base_size, out_h, out_w);
}

static ds_status check_pair(const ds_image *image, const ds_image *mask, ds_err *err) {
    DS_REQUIRE(err, image->pixels && image->channels == 3 && mask->pixels && mask->channels == 1, DS_ERR_INVALID_ARG,
               "segmentation transform: needs an RGB image and a one-channel mask (got %d and %d channels)",
               (int)image->channels, (int)mask->channels);
    DS_REQUIRE(err, image->height == mask->height && image->width == mask->width, DS_ERR_INVALID_ARG,
               "segmentation transform: image %d x %d and mask %d x %d (width x height) differ", (int)image->width,
               (int)image->height, (int)mask->width, (int)mask->height);
    return DS_OK;
}

// x / 255 then (x - mean) / std, each step a float32 operation as torch does them.
static float normalise(uint8_t p, float mean, float std) { return ((float)p / 255.0f - mean) / std; }

ds_status ds_seg_apply_train(const ds_seg_transform_options *o, const ds_image *image, const ds_image *mask,
                             const ds_seg_aug *aug, float *image_out, int32_t *mask_out, int64_t *valid, ds_err *err) {
    DS_TRY(check_pair(image, mask, err));
    const int32_t crop = o->crop_size;
    int32_t rh, rw, ph, pw;
    DS_REQUIRE(err, aug->size >= 1 && aug->size <= 65536, DS_ERR_INVALID_ARG, "segmentation transform: size %d",
               (int)aug->size);
    ds_seg_train_geometry(o, image->height, image->width, aug->size, &rh, &rw, &ph, &pw);
    DS_REQUIRE(err, rh >= 1 && rw >= 1, DS_ERR_INVALID_ARG,
               "segmentation transform: resizing %d x %d to shorter side %d leaves no pixels", (int)image->width,
               (int)image->height, (int)aug->size);
    DS_REQUIRE(err, aug->top >= 0 && aug->top <= ph - crop && aug->left >= 0 && aug->left <= pw - crop,
               DS_ERR_INVALID_ARG, "segmentation transform: crop origin (%d, %d) outside [0, %d] x [0, %d]",
               (int)aug->top, (int)aug->left, (int)(ph - crop), (int)(pw - crop));
    // The crop's rows and (flipped) columns that fall on the resized image, not the padding.
    const int32_t rows = (aug->top + crop < rh ? aug->top + crop : rh) - aug->top;
    const int32_t cols = (aug->left + crop < rw ? aug->left + crop : rw) - aug->left;
    // In the unflipped resized image, flipped columns [left, left + cols) are [rw - left - cols, rw - left).
    const int32_t col0 = aug->flip ? rw - aug->left - cols : aug->left;
    const ds_resize_window win = {aug->top, col0, rows, cols};
    uint8_t *px = malloc((size_t)rows * cols * 3), *ids = malloc((size_t)rows * cols);
    ds_status st = DS_OK;
    if (px == NULL || ids == NULL) st = ds_err_set(err, DS_ERR_OOM, "segmentation transform: out of memory");
    if (st == DS_OK) st = ds_resize_bilinear_window(image, rh, rw, win, px, err);
    if (st == DS_OK) st = ds_resize_nearest_window(mask, rh, rw, win, ids, err);
    if (st == DS_OK) {
        const size_t plane = (size_t)crop * crop;
        int64_t n_valid = 0;
        for (int32_t y = 0; y < crop; y++)
            for (int32_t x = 0; x < crop; x++) {
                const size_t o_at = (size_t)y * crop + x;
                int32_t id = IGNORE_ID;
                uint8_t rgb[3] = {0, 0, 0};  // pad_if_smaller's fill for the image
                if (y < rows && x < cols) {
                    const int32_t sx = aug->flip ? cols - 1 - x : x;
                    const size_t at = (size_t)y * cols + sx;
                    memcpy(rgb, px + 3 * at, 3);
                    id = ids[at];
                }
                for (int c = 0; c < 3; c++) image_out[c * plane + o_at] = normalise(rgb[c], o->mean[c], o->std[c]);
                mask_out[o_at] = id;
                n_valid += id != IGNORE_ID;
            }
        *valid = n_valid;
    }
    free(px);
    free(ids);
    return st;
}

ds_status ds_seg_apply_eval(const ds_seg_transform_options *o, const ds_image *image, const ds_image *mask,
                            int32_t frame_h, int32_t frame_w, float *image_out, int32_t *mask_out, int64_t *valid,
                            ds_err *err) {
    DS_TRY(check_pair(image, mask, err));
    int32_t oh, ow;
    ds_seg_eval_size(o, image->height, image->width, &oh, &ow);
    DS_REQUIRE(err, oh >= 1 && ow >= 1, DS_ERR_INVALID_ARG,
               "segmentation transform: resizing %d x %d to shorter side %d leaves no pixels", (int)image->width,
               (int)image->height, (int)o->base_size);
    DS_REQUIRE(err, frame_h >= oh && frame_w >= ow, DS_ERR_INVALID_ARG,
               "segmentation transform: frame %d x %d smaller than the resized %d x %d (width x height)", (int)frame_w,
               (int)frame_h, (int)ow, (int)oh);
    uint8_t *px = malloc((size_t)oh * ow * 3), *ids = malloc((size_t)oh * ow);
    ds_status st = DS_OK;
    if (px == NULL || ids == NULL) st = ds_err_set(err, DS_ERR_OOM, "segmentation transform: out of memory");
    const ds_resize_window all = {0, 0, oh, ow};
    if (st == DS_OK) st = ds_resize_bilinear_window(image, oh, ow, all, px, err);
    if (st == DS_OK) st = ds_resize_nearest_window(mask, oh, ow, all, ids, err);
    if (st == DS_OK) {
        const size_t plane = (size_t)frame_h * frame_w;
        int64_t n_valid = 0;
        for (int32_t y = 0; y < frame_h; y++)
            for (int32_t x = 0; x < frame_w; x++) {
                const size_t o_at = (size_t)y * frame_w + x;
                const int inside = y < oh && x < ow;
                const size_t at = (size_t)y * ow + x;
                for (int c = 0; c < 3; c++)
                    image_out[c * plane + o_at] = normalise(inside ? px[3 * at + c] : 0, o->mean[c], o->std[c]);
                const int32_t id = inside ? ids[at] : IGNORE_ID;
                mask_out[o_at] = id;
                n_valid += id != IGNORE_ID;
            }
        *valid = n_valid;
    }
    free(px);
    free(ids);
    return st;
}
