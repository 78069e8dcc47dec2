// Decoding PNG (libpng) and JPEG (libjpeg-turbo) files into ds_image, with the conversions of
// torchvision's segmentation references: photos as PIL's Image.open(path).convert("RGB"), masks
// as np.array(Image.open(path)) (VOCSegmentation keeps the target unconverted). The format is
// recognised by the file's first bytes, never by its name.
//
// Photos (3 channels, RGB u8), PNG:
//   gray 1/2/4/8-bit      replicated to R = G = B (low depths scaled to 0..255: x255, x85, x17)
//   gray 16-bit           the high byte, replicated. DIFFERS FROM PIL, which opens it as "I;16"
//                         and clips every value above 255 to 255 in convert("RGB") (a 16-bit
//                         photo would come out nearly all white); the high byte is what PIL
//                         itself takes for every other 16-bit PNG, so all 16-bit PNGs follow one rule
//   gray + alpha          gray replicated, alpha dropped (PIL: LA -> RGB)
//   RGB 8/16-bit          as stored (16-bit: the high byte, as PIL's "RGB;16B" unpacker)
//   RGBA 8/16-bit         alpha dropped, not composited (PIL: RGBA -> RGB)
//   palette 1/2/4/8-bit   the palette's colours; tRNS transparency ignored (PIL: P -> RGB)
//   interlaced (Adam7)    any of the above
//   Gamma, sRGB and ICC chunks are ignored, as PIL ignores them.
// Photos, JPEG: baseline, extended and progressive, with libjpeg's defaults as PIL keeps them
//   (JDCT_ISLOW inverse DCT, fancy upsampling, block smoothing): YCbCr and RGB as libjpeg
//   converts them, gray replicated, CMYK and YCCK converted as PIL does (PIL assumes Adobe's
//   inverted CMYK and computes r = (255-k) - (255-c)(255-k)/255 with its rounding). 12-bit and
//   arithmetic-coded files decode where the system's libjpeg does. A JPEG that ends early is an
//   error (PIL: "image file is truncated"); libjpeg's other warnings (corrupt entropy data that
//   it resynchronises past) are not, as PIL does not stop for them either.
//
// Masks (1 channel, class ids u8):
//   palette PNG (any depth)    the palette INDEX is the class id (PASCAL VOC's SegmentationClass);
//                              the palette's colours are not looked at
//   gray 8-bit PNG             the value
//   gray 1-bit PNG             0 / 1 (PIL's mode "1" reads as booleans)
//   gray 2/4-bit PNG           scaled as PIL scales them (x85, x17): almost never what a mask
//                              means, but it is what the reference pipeline would read
//   gray 16-bit PNG            the value, which must be <= 255 (else an error naming it)
//   RGB, RGBA, gray + alpha PNG and every JPEG are refused: colour-coded masks must first be
//   converted to class ids, and lossy masks are wrong at every edge.
//
// Errors name the file (the `name` given to the memory variants): not an image, corrupt or
// truncated data, an unsupported variant, zero size, more than DS_IMAGE_MAX_PIXELS pixels.
// Every call is thread-safe (no shared state): loader workers decode concurrently.
#ifndef DS_IMAGE_DECODE_H
#define DS_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "image.h"

typedef enum ds_image_format {
    DS_IMAGE_FORMAT_UNKNOWN = 0,
    DS_IMAGE_FORMAT_PNG,
    DS_IMAGE_FORMAT_JPEG,
} ds_image_format;

// The format that data[0, size) starts like (PNG signature, JPEG SOI marker), or UNKNOWN.
ds_image_format ds_image_sniff(const uint8_t *data, size_t size);

// A photo as RGB (3 channels), from memory (`name` in messages) or from a file.
ds_status ds_image_decode_rgb(const uint8_t *data, size_t size, const char *name, ds_image *out, ds_err *err);
ds_status ds_image_load_rgb(const char *path, ds_image *out, ds_err *err);

// A mask as class ids (1 channel), from memory or from a file.
ds_status ds_mask_decode(const uint8_t *data, size_t size, const char *name, ds_image *out, ds_err *err);
ds_status ds_mask_load(const char *path, ds_image *out, ds_err *err);

// The dimensions in a file's header without decoding its pixels (PNG's IHDR, JPEG's SOF), with
// the same zero-size and pixel-limit checks as decoding.
ds_status ds_image_probe(const char *path, int32_t *height, int32_t *width, ds_err *err);

#endif
