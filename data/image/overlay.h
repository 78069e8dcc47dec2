// A picture of a segmentation for people: the photo with each class's VOC colour blended over
// it, for writing with ds_png_write_rgb.
#ifndef DS_OVERLAY_H
#define DS_OVERLAY_H

#include "../../runtime/base/status.h"
#include "image.h"

// out (allocated, (H, W, 3)) = photo where the mask is 0 (background) or 255 (ignore), else
// round((1 - alpha) * photo + alpha * colour) per channel, colour = ds_voc_palette()[class].
// photo: (H, W, 3); mask: (H, W, 1) of the same size; alpha in [0, 1] (0.5 is usual).
ds_status ds_image_overlay_mask(const ds_image *photo, const ds_image *mask, float alpha, ds_image *out, ds_err *err);

#endif
