// Fuzz target: PNG and JPEG decoding (data/image/image_decode.h) through libpng and
// libjpeg-turbo. The first input byte picks the call: 0 a photo as RGB, 1 a class mask (palette
// or grey), 2 the header probe (from a file, as the segmentation datasets read sizes); the rest
// is the file. Every pixel decoded is read. Seeds: tests/fixtures/images (good and bad).
#include "../../data/image/image_decode.h"
#include "fuzz_util.h"

static void read_pixels(const ds_image *im) {
    volatile unsigned sink = 0;
    const size_t n = (size_t)im->height * (size_t)im->width * (size_t)im->channels;
    for (size_t i = 0; i < n; i++) sink += im->pixels[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const int mode = data[0] % 3;
    ds_err err = {0};
    ds_image im = {0};
    if (mode == 0 && ds_image_decode_rgb(data + 1, size - 1, "fuzz.img", &im, &err) == DS_OK) read_pixels(&im);
    if (mode == 1 && ds_mask_decode(data + 1, size - 1, "fuzz.png", &im, &err) == DS_OK) read_pixels(&im);
    ds_image_free(&im);
    if (mode == 2) {
        char dir[512], path[1024];
        if (fuzz_dir_make(dir, sizeof dir, "image") != 0) return 0;
        int32_t h = 0, w = 0;
        if (fuzz_write(dir, "probe.img", data + 1, size - 1, path, sizeof path) == 0) ds_image_probe(path, &h, &w, &err);
        fuzz_dir_remove(dir);
    }
    return 0;
}
