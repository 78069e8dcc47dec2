// PNG writing: the VOC palette equals the standard recipe (palette.json, computed in Python);
// a mask written as a palette PNG reads back as the same class ids, and as a photo shows the VOC
// colours; RGB PNGs round-trip; writes replace files atomically and leave nothing behind on
// failure; the overlay blends class colours and leaves background and ignore pixels alone.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/image/image_decode.h"
#include "../../data/image/overlay.h"
#include "../../data/image/png_write.h"
#include "../image_fixture.h"

static void check_palette(ds_test *t) {
    cJSON *j = ds_img_fixture_json(t, "palette.json");
    if (!j) return;
    uint8_t pal[256][3];
    ds_voc_palette(pal);
    const cJSON *voc = cJSON_GetObjectItem(j, "voc");
    int bad = 0;
    for (int i = 0; i < 256; i++)
        for (int c = 0; c < 3; c++) bad += pal[i][c] != cJSON_GetArrayItem(cJSON_GetArrayItem(voc, i), c)->valueint;
    ds_test_check(t, cJSON_GetArraySize(voc) == 256 && bad == 0, "VOC palette: %d entries differ from palette.json", bad);
    ds_test_check(t, pal[1][0] == 128 && pal[1][1] == 0 && pal[15][0] == 192 && pal[255][0] == 224 && pal[255][2] == 192,
                  "VOC palette: known entries");
    cJSON_Delete(j);
}

// Files in the test's scratch folder whose names start with `prefix`.
static int count_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void check_mask_round_trip(ds_test *t) {
    // Every class id 0..255 once, in a 16 x 16 mask (then a second, smaller mask over the file).
    ds_image m = {0}, back = {0}, rgb = {0};
    ds_err err = {0};
    if (ds_image_alloc(&m, 16, 16, 1, "mask", &err) != DS_OK) return;
    for (int i = 0; i < 256; i++) m.pixels[i] = (uint8_t)(255 - i);
    char path[512];
    ds_test_tmpfile("written_mask.png", path, sizeof path);
    ds_test_check(t, ds_png_write_mask(path, &m, &err) == DS_OK, "write mask: %s", err.msg);
    ds_test_check(t, ds_mask_load(path, &back, &err) == DS_OK && back.height == 16 && back.width == 16 &&
                         memcmp(back.pixels, m.pixels, 256) == 0,
                  "mask read back: %s", err.msg);
    uint8_t pal[256][3];
    ds_voc_palette(pal);
    if (ds_test_check(t, ds_image_load_rgb(path, &rgb, &err) == DS_OK, "mask as a photo: %s", err.msg)) {
        int bad = 0;
        for (int i = 0; i < 256; i++) bad += memcmp(rgb.pixels + 3 * i, pal[m.pixels[i]], 3) != 0;
        ds_test_check(t, bad == 0, "mask as a photo: %d pixels not in the VOC colour of their class", bad);
    }
    ds_image_free(&back);
    ds_image_free(&rgb);
    // Overwrite with a 3 x 2 mask: the file is replaced whole.
    m.height = 2;
    m.width = 3;
    ds_test_check(t, ds_png_write_mask(path, &m, &err) == DS_OK, "overwrite mask: %s", err.msg);
    ds_test_check(t, ds_mask_load(path, &back, &err) == DS_OK && back.height == 2 && back.width == 3 &&
                         memcmp(back.pixels, m.pixels, 6) == 0,
                  "overwritten mask read back: %s", err.msg);
    ds_image_free(&back);
    remove(path);
    ds_image_free(&m);
}

static void check_rgb_round_trip(ds_test *t) {
    ds_image im = {0}, back = {0};
    ds_err err = {0};
    if (ds_image_alloc(&im, 7, 11, 3, "rgb", &err) != DS_OK) return;
    for (int i = 0; i < 7 * 11 * 3; i++) im.pixels[i] = (uint8_t)(i * 37 + 11);
    char path[512];
    ds_test_tmpfile("written_rgb.png", path, sizeof path);
    ds_test_check(t, ds_png_write_rgb(path, &im, &err) == DS_OK, "write rgb: %s", err.msg);
    ds_test_check(t, ds_image_load_rgb(path, &back, &err) == DS_OK && back.height == 7 && back.width == 11 &&
                         memcmp(back.pixels, im.pixels, 7 * 11 * 3) == 0,
                  "rgb read back: %s", err.msg);
    ds_image_free(&back);
    remove(path);
    // Wrong channel counts are refused; a missing folder is an I/O error naming the path and
    // leaves no temporary file.
    ds_status s = ds_png_write_mask(path, &im, &err);
    ds_test_error_has(t, "rgb as mask", s, &err, DS_ERR_INVALID_ARG, path, "channels");
    ds_err_clear(&err);
    s = ds_png_write_rgb("/nonexistent-folder/x.png", &im, &err);
    ds_test_error_has(t, "missing folder", s, &err, DS_ERR_IO, "/nonexistent-folder/x.png", NULL);
    char dir[512];
    ds_test_tmpfile("", dir, sizeof dir);
    char *slash = strrchr(dir, '/');
    const char *prefix = slash + 1;
    char prefix_copy[256];
    snprintf(prefix_copy, sizeof prefix_copy, "%swritten_", prefix);
    *slash = '\0';
    ds_test_check(t, count_files(dir, prefix_copy) == 0, "temporary files left behind in %s", dir);
    ds_image_free(&im);
}

static void check_overlay(ds_test *t) {
    uint8_t photo_px[4 * 3] = {100, 100, 100, 100, 100, 100, 10, 20, 30, 200, 200, 200};
    uint8_t mask_px[4] = {0, 255, 1, 15};
    ds_image photo = {2, 2, 3, photo_px}, mask = {2, 2, 1, mask_px}, out = {0};
    ds_err err = {0};
    if (!ds_test_check(t, ds_image_overlay_mask(&photo, &mask, 0.5f, &out, &err) == DS_OK, "overlay: %s", err.msg))
        return;
    // class 1 = (128, 0, 0), class 15 = (192, 128, 128); halves round to even (lrintf).
    const uint8_t want[12] = {100, 100, 100, 100, 100, 100, 69, 10, 15, 196, 164, 164};
    ds_test_check(t, memcmp(out.pixels, want, 12) == 0, "overlay pixels: (%d %d %d) (%d %d %d)", out.pixels[6],
                  out.pixels[7], out.pixels[8], out.pixels[9], out.pixels[10], out.pixels[11]);
    ds_image_free(&out);
    ds_image small = {1, 2, 1, mask_px};
    const ds_status s = ds_image_overlay_mask(&photo, &small, 0.5f, &out, &err);
    ds_test_error_has(t, "overlay size mismatch", s, &err, DS_ERR_INVALID_ARG, "differ", NULL);
}

int main(void) {
    ds_test t = ds_test_begin("image_write");
    check_palette(&t);
    check_mask_round_trip(&t);
    check_rgb_round_trip(&t);
    check_overlay(&t);
    return ds_test_finish(&t);
}
