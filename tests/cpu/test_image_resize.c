// Resizing against Pillow (scripts/fixtures/image_data.py): bilinear as Image.resize(BILINEAR)
// (antialiased when shrinking) and nearest as Image.resize(NEAREST) on a 41x57 picture and mask
// to shrinking, one-axis, single-pixel and enlarging sizes; windows of a resize equal the same
// pixels of the whole resize; torchvision's shorter-side output sizes; bad arguments.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/image/resize.h"
#include "../image_fixture.h"

// Our bilinear is Pillow's algorithm step for step (same double-precision coefficients, same
// fixed-point rounding per pass), so the pixels are expected identical: tolerance 0. Nearest
// picks source pixels by the same accumulated position: identical too.
#define BILINEAR_TOL 0
#define NEAREST_TOL 0

static ds_image view_of(const ds_tensor *t) {
    ds_image im = {(int32_t)t->shape[0], (int32_t)t->shape[1], t->ndim == 3 ? (int32_t)t->shape[2] : 1, t->data};
    return im;
}

// Every window of a few shapes and positions equals the matching pixels of the whole output.
static void check_windows(ds_test *t, const ds_image *src, const ds_image *whole, int bilinear, const char *what) {
    const int32_t H = whole->height, W = whole->width, C = whole->channels;
    const int32_t tops[] = {0, H / 3, H - 1}, lefts[] = {0, W / 2, W - 1};
    int bad = 0, n = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            ds_resize_window win = {tops[a], lefts[b], H - tops[a] < 5 ? H - tops[a] : 5,
                                    W - lefts[b] < 7 ? W - lefts[b] : 7};
            uint8_t out[5 * 7 * 4];
            ds_err err = {0};
            const ds_status s = bilinear ? ds_resize_bilinear_window(src, H, W, win, out, &err)
                                         : ds_resize_nearest_window(src, H, W, win, out, &err);
            if (!ds_test_check(t, s == DS_OK, "%s window: %s", what, err.msg)) return;
            for (int32_t y = 0; y < win.height; y++)
                bad += memcmp(out + (size_t)y * win.width * C,
                              whole->pixels + ((size_t)(win.top + y) * W + win.left) * C, (size_t)win.width * C) != 0;
            n++;
        }
    ds_test_check(t, bad == 0, "%s: %d window rows differ from the whole resize", what, bad);
}

static void check_sizes(ds_test *t, const cJSON *cfg, const ds_st_file *f) {
    ds_tensor in_rgb = ds_img_fixture_get(t, f, "input.rgb", DS_U8);
    ds_tensor in_mask = ds_img_fixture_get(t, f, "input.mask", DS_U8);
    if (!in_rgb.data || !in_mask.data) return;
    const ds_image src = view_of(&in_rgb), msrc = view_of(&in_mask);
    int cases = 0, worst_b = 0, worst_n = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(cfg, "outputs")) {
        const int32_t oh = cJSON_GetArrayItem(o, 0)->valueint, ow = cJSON_GetArrayItem(o, 1)->valueint;
        char key[64];
        ds_err err = {0};
        ds_image got = {0};
        snprintf(key, sizeof key, "bilinear.%dx%d", oh, ow);
        ds_tensor want = ds_img_fixture_get(t, f, key, DS_U8);
        if (ds_test_check(t, ds_resize_bilinear(&src, oh, ow, &got, &err) == DS_OK, "%s: %s", key, err.msg)) {
            const ds_u8_diff d = ds_test_image_close(t, key, &got, &want, BILINEAR_TOL);
            if (d.max > worst_b) worst_b = d.max;
            check_windows(t, &src, &got, 1, key);
        }
        ds_image_free(&got);
        snprintf(key, sizeof key, "nearest.%dx%d", oh, ow);
        want = ds_img_fixture_get(t, f, key, DS_U8);
        if (ds_test_check(t, ds_resize_nearest(&msrc, oh, ow, &got, &err) == DS_OK, "%s: %s", key, err.msg)) {
            const ds_u8_diff d = ds_test_image_close(t, key, &got, &want, NEAREST_TOL);
            if (d.max > worst_n) worst_n = d.max;
            check_windows(t, &msrc, &got, 0, key);
        }
        ds_image_free(&got);
        cases++;
    }
    ds_test_check(t, cases >= 10, "resize.json: only %d sizes", cases);
    printf("resize vs Pillow: %d sizes, worst bilinear |diff| %d, worst nearest |diff| %d\n", cases, worst_b, worst_n);
}

static void check_shorter_side(ds_test *t, const cJSON *cfg) {
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(cfg, "shorter_side")) {
        const cJSON *in = cJSON_GetObjectItem(c, "in"), *out = cJSON_GetObjectItem(c, "out");
        const int32_t h = cJSON_GetArrayItem(in, 0)->valueint, w = cJSON_GetArrayItem(in, 1)->valueint;
        const int32_t size = cJSON_GetObjectItem(c, "size")->valueint;
        int32_t oh = 0, ow = 0;
        ds_resize_shorter_side(h, w, size, &oh, &ow);
        ds_test_check(t, oh == cJSON_GetArrayItem(out, 0)->valueint && ow == cJSON_GetArrayItem(out, 1)->valueint,
                      "shorter side %d of %dx%d: got %dx%d, torchvision %dx%d", size, h, w, oh, ow,
                      cJSON_GetArrayItem(out, 0)->valueint, cJSON_GetArrayItem(out, 1)->valueint);
        n++;
    }
    ds_test_check(t, n >= 8, "only %d shorter-side cases", n);
}

static void check_bad_args(ds_test *t) {
    uint8_t px[12] = {0};
    ds_image src = {2, 2, 3, px};
    uint8_t out[64];
    ds_err err = {0};
    ds_status s = ds_resize_bilinear_window(&src, 4, 4, (ds_resize_window){3, 0, 2, 4}, out, &err);
    ds_test_error_has(t, "window below the output", s, &err, DS_ERR_INVALID_ARG, "window", NULL);
    ds_err_clear(&err);
    s = ds_resize_nearest_window(&src, 0, 4, (ds_resize_window){0, 0, 1, 1}, out, &err);
    ds_test_error_has(t, "zero output", s, &err, DS_ERR_INVALID_ARG, "output size", NULL);
    ds_err_clear(&err);
    ds_image empty = {0};
    ds_image dst = {0};
    s = ds_resize_bilinear(&empty, 2, 2, &dst, &err);
    ds_test_error_has(t, "empty source", s, &err, DS_ERR_INVALID_ARG, "empty", NULL);
}

int main(void) {
    ds_test t = ds_test_begin("image_resize");
    cJSON *cfg = ds_img_fixture_json(&t, "resize.json");
    ds_st_file f = {0};
    if (cfg && ds_img_fixture_open(&t, "resize.safetensors", &f)) {
        check_sizes(&t, cfg, &f);
        check_shorter_side(&t, cfg);
    }
    check_bad_args(&t);
    ds_st_close(&f);
    cJSON_Delete(cfg);
    return ds_test_finish(&t);
}
