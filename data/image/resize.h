// Resizing as torchvision's segmentation references do it on PIL images:
//   F.resize(image, size)                                  -> PIL Image.resize(BILINEAR)
//   F.resize(target, size, interpolation=NEAREST)          -> PIL Image.resize(NEAREST)
// with an int `size` meaning "the shorter side becomes size" (ds_resize_shorter_side).
//
// Bilinear is PIL's Resample.c algorithm, reimplemented: a separable convolution with the
// triangle filter's support widened by the downscale factor (so shrinking averages every source
// pixel under the output pixel: PIL's antialiasing), coefficients normalised in double and
// rounded to 22-bit fixed point, each pass rounded to 8 bits (2^21 added, shift by 22,
// clamped). The pass order is Pillow 13's: vertical first when the height shrinks by more than
// twice as many pixels as the width, else horizontal first (Pillow <= 12: always horizontal
// first; the rounding between passes makes the two orders differ by 1 on some pixels). Nearest is PIL's affine scaling: source index
// floor((i + 0.5) * in / out), the position accumulated in double from one output pixel to the
// next as PIL accumulates it. Both are bit-exact with Pillow on every fixture (docs/image_data.md).
//
// A window of the output can be computed alone, bit-identical to the same pixels of the whole
// resize: the training transform resizes only the part its crop keeps (a 480x480 crop out of a
// ~1040x1386 upscale costs a fifth of the whole resize).
#ifndef DS_RESIZE_H
#define DS_RESIZE_H

#include <stdint.h>

#include "../../runtime/base/status.h"
#include "image.h"

// torchvision's output size for F.resize(img, size) with an int size: the shorter side becomes
// `size`, the longer int(size * long / short) (truncated); a square stays square.
void ds_resize_shorter_side(int32_t h, int32_t w, int32_t size, int32_t *out_h, int32_t *out_w);

// Rows [top, top + height) and columns [left, left + width) of a resized image.
typedef struct ds_resize_window {
    int32_t top, left, height, width;
} ds_resize_window;

// Writes `win` of PIL's Image.resize((out_w, out_h), BILINEAR) of src (any channel count) to
// dst: (win.height, win.width, src->channels) u8 host, rows packed. The window must lie inside
// (out_h, out_w). Allocates scratch (freed before returning).
ds_status ds_resize_bilinear_window(const ds_image *src, int32_t out_h, int32_t out_w, ds_resize_window win,
                                    uint8_t *dst, ds_err *err);

// Same for PIL's Image.resize((out_w, out_h), NEAREST).
ds_status ds_resize_nearest_window(const ds_image *src, int32_t out_h, int32_t out_w, ds_resize_window win,
                                   uint8_t *dst, ds_err *err);

// Whole-image forms: *dst is allocated (ds_image_free it); equal sizes copy.
ds_status ds_resize_bilinear(const ds_image *src, int32_t out_h, int32_t out_w, ds_image *dst, ds_err *err);
ds_status ds_resize_nearest(const ds_image *src, int32_t out_h, int32_t out_w, ds_image *dst, ds_err *err);

#endif
