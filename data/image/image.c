#include "image.h"

#include <stdlib.h>
#include <string.h>

ds_status ds_image_alloc(ds_image *im, int64_t h, int64_t w, int32_t c, const char *what, ds_err *err) {
    memset(im, 0, sizeof *im);
    if (h < 1 || w < 1)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: image has zero size (%lld x %lld pixels)", what, (long long)w,
                          (long long)h);
    if (h > DS_IMAGE_MAX_PIXELS / w)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: image of %lld x %lld pixels is larger than the %lld-pixel limit (corrupt header?)",
                          what, (long long)w, (long long)h, (long long)DS_IMAGE_MAX_PIXELS);
    if (c < 1 || c > 4)
        return ds_err_set(err, DS_ERR_INTERNAL, "%s: %d channels per pixel (1..4 expected)", what, (int)c);
    im->pixels = malloc((size_t)(h * w * c));
    if (im->pixels == NULL)
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for a %lld x %lld image", what, (long long)w,
                          (long long)h);
    im->height = (int32_t)h;
    im->width = (int32_t)w;
    im->channels = c;
    return DS_OK;
}

void ds_image_free(ds_image *im) {
    if (im == NULL) return;
    free(im->pixels);
    memset(im, 0, sizeof *im);
}

int64_t ds_image_row_bytes(const ds_image *im) { return (int64_t)im->width * im->channels; }

int64_t ds_image_bytes(const ds_image *im) { return (int64_t)im->height * ds_image_row_bytes(im); }
