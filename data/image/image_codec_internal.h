// The two codecs behind image_decode.h. Each contains libpng's / libjpeg's longjmp error
// handling inside one function of its own file: nothing outside it ever sees a longjmp.
#ifndef DS_IMAGE_CODEC_INTERNAL_H
#define DS_IMAGE_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "image.h"

typedef enum ds_decode_target {
    DS_DECODE_RGB,   // a photo: 3 channels
    DS_DECODE_MASK,  // class ids: 1 channel
} ds_decode_target;

// Decodes a whole PNG held in data[0, size) (host). *out is left empty on failure.
ds_status ds_png_decode(const uint8_t *data, size_t size, const char *name, ds_decode_target target, ds_image *out,
                        ds_err *err);
// Decodes a whole JPEG (photos only).
ds_status ds_jpeg_decode_rgb(const uint8_t *data, size_t size, const char *name, ds_image *out, ds_err *err);

// Width and height from the first bytes of a file (a PNG's first 33 bytes; a JPEG's markers up
// to its SOF), without decoding.
ds_status ds_png_probe(const uint8_t *data, size_t size, const char *name, int32_t *h, int32_t *w, ds_err *err);
ds_status ds_jpeg_probe(const uint8_t *data, size_t size, const char *name, int32_t *h, int32_t *w, ds_err *err);

#endif
