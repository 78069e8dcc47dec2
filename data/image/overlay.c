#include "overlay.h"

#include <math.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "png_write.h"

ds_status ds_image_overlay_mask(const ds_image *photo, const ds_image *mask, float alpha, ds_image *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    DS_REQUIRE(err, photo->pixels && photo->channels == 3 && mask->pixels && mask->channels == 1, DS_ERR_INVALID_ARG,
               "overlay: needs an RGB photo and a one-channel mask (got %d and %d channels)", (int)photo->channels,
               (int)mask->channels);
    DS_REQUIRE(err, photo->height == mask->height && photo->width == mask->width, DS_ERR_INVALID_ARG,
               "overlay: photo %d x %d and mask %d x %d (width x height) differ", (int)photo->width,
               (int)photo->height, (int)mask->width, (int)mask->height);
    DS_REQUIRE(err, alpha >= 0.0f && alpha <= 1.0f, DS_ERR_INVALID_ARG, "overlay: alpha %g outside [0, 1]",
               (double)alpha);
    DS_TRY(ds_image_alloc(out, photo->height, photo->width, 3, "overlay", err));
    uint8_t pal[256][3];
    ds_voc_palette(pal);
    const int64_t n = (int64_t)photo->height * photo->width;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t id = mask->pixels[i];
        for (int c = 0; c < 3; c++) {
            const uint8_t p = photo->pixels[3 * i + c];
            out->pixels[3 * i + c] =
                id == 0 || id == 255 ? p : (uint8_t)lrintf((1.0f - alpha) * p + alpha * pal[id][c]);
        }
    }
    return DS_OK;
}
