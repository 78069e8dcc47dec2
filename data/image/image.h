// The host image every part of data/image/ passes around: 8-bit samples, rows top to bottom,
// channels interleaved. Photos are RGB (3 channels, as PIL's convert("RGB") gives them);
// segmentation masks are one channel of class ids (255 = ignore).
#ifndef DS_IMAGE_H
#define DS_IMAGE_H

#include <stdint.h>

#include "../../runtime/base/status.h"

// Largest image accepted anywhere (2^28 pixels, e.g. 16384 x 16384): a header claiming more is
// treated as corrupt or hostile rather than allocated. VOC photos are ~2^18 pixels.
#define DS_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

typedef struct ds_image {
    int32_t height, width;
    int32_t channels;  // 3: RGB photo; 1: mask of class ids (or a gray plane)
    uint8_t *pixels;   // (height, width, channels) u8 host, row-major, owned (malloc)
} ds_image;

// Allocates im->pixels for (h, w, c) (contents undefined). Refuses h or w < 1, more than
// DS_IMAGE_MAX_PIXELS pixels, and c outside 1..4; `what` names the image in messages
// (usually its file). *im is left empty on failure.
ds_status ds_image_alloc(ds_image *im, int64_t h, int64_t w, int32_t c, const char *what, ds_err *err);

// Frees the pixels and empties *im. NULL-safe, idempotent.
void ds_image_free(ds_image *im);

// Bytes of one row / of the whole image.
int64_t ds_image_row_bytes(const ds_image *im);
int64_t ds_image_bytes(const ds_image *im);

#endif
