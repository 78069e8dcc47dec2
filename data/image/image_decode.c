#include "image_decode.h"

#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/file_read.h"
#include "image_codec_internal.h"

ds_image_format ds_image_sniff(const uint8_t *data, size_t size) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size >= 8 && memcmp(data, png_sig, 8) == 0) return DS_IMAGE_FORMAT_PNG;
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return DS_IMAGE_FORMAT_JPEG;
    return DS_IMAGE_FORMAT_UNKNOWN;
}

static ds_status unknown_format(const uint8_t *data, size_t size, const char *name, ds_err *err) {
    if (size == 0) return ds_err_set(err, DS_ERR_FORMAT, "%s: empty file, not an image", name);
    return ds_err_set(err, DS_ERR_FORMAT, "%s: not a PNG or JPEG file (first bytes %02x %02x %02x %02x)", name,
                      data[0], size > 1 ? data[1] : 0, size > 2 ? data[2] : 0, size > 3 ? data[3] : 0);
}

ds_status ds_image_decode_rgb(const uint8_t *data, size_t size, const char *name, ds_image *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    switch (ds_image_sniff(data, size)) {
        case DS_IMAGE_FORMAT_PNG: return ds_png_decode(data, size, name, DS_DECODE_RGB, out, err);
        case DS_IMAGE_FORMAT_JPEG: return ds_jpeg_decode_rgb(data, size, name, out, err);
        default: return unknown_format(data, size, name, err);
    }
}

ds_status ds_mask_decode(const uint8_t *data, size_t size, const char *name, ds_image *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    switch (ds_image_sniff(data, size)) {
        case DS_IMAGE_FORMAT_PNG: return ds_png_decode(data, size, name, DS_DECODE_MASK, out, err);
        case DS_IMAGE_FORMAT_JPEG:
            return ds_err_set(err, DS_ERR_UNSUPPORTED,
                              "%s: a mask must be a lossless palette or grayscale PNG, this is a JPEG (lossy "
                              "compression changes class ids at every edge)",
                              name);
        default: return unknown_format(data, size, name, err);
    }
}

typedef ds_status (*decode_fn)(const uint8_t *, size_t, const char *, ds_image *, ds_err *);

static ds_status load_with(const char *path, decode_fn decode, ds_image *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    char *data = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &data, &size, err));
    const ds_status st = decode((const uint8_t *)data, size, path, out, err);
    free(data);
    return st;
}

ds_status ds_image_load_rgb(const char *path, ds_image *out, ds_err *err) {
    return load_with(path, ds_image_decode_rgb, out, err);
}

ds_status ds_mask_load(const char *path, ds_image *out, ds_err *err) { return load_with(path, ds_mask_decode, out, err); }

ds_status ds_image_probe(const char *path, int32_t *height, int32_t *width, ds_err *err) {
    // A whole-file read keeps this simple; a JPEG's frame header can sit behind ~64 KB of EXIF.
    char *data = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &data, &size, err));
    const uint8_t *d = (const uint8_t *)data;
    ds_status st;
    switch (ds_image_sniff(d, size)) {
        case DS_IMAGE_FORMAT_PNG: st = ds_png_probe(d, size, path, height, width, err); break;
        case DS_IMAGE_FORMAT_JPEG: st = ds_jpeg_probe(d, size, path, height, width, err); break;
        default: st = unknown_format(d, size, path, err); break;
    }
    free(data);
    return st;
}
