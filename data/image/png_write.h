// Writing PNGs: masks as 8-bit palette PNGs in PASCAL VOC's colours (the class id is the palette
// index, so the file reads back as the same ids here, in PIL and in VOC's own tools), and RGB
// images (e.g. overlays of a prediction on its photo). Files are written atomically: a temporary
// file in the same folder, flushed and fsync'ed, then renamed over `path`; on any failure the
// temporary is removed and `path` is left as it was.
#ifndef DS_PNG_WRITE_H
#define DS_PNG_WRITE_H

#include <stdint.h>

#include "../../runtime/base/status.h"
#include "image.h"

// The 256-entry PASCAL VOC colour map (VOCdevkit's labelcolormap): for class i, bits 0, 1, 2 of
// i, i >> 3, i >> 6 fill R, G, B from the top bit down. Class 0 is black, 1 (128, 0, 0), 2
// (0, 128, 0), ..., 255 (the ignore label) (224, 224, 192).
void ds_voc_palette(uint8_t palette[256][3]);

// mask: (H, W, 1) class ids. An 8-bit palette PNG with the VOC colour map (all 256 entries).
ds_status ds_png_write_mask(const char *path, const ds_image *mask, ds_err *err);

// rgb: (H, W, 3). An 8-bit RGB PNG.
ds_status ds_png_write_rgb(const char *path, const ds_image *rgb, ds_err *err);

#endif
