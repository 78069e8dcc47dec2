// PNG and JPEG decoding against PIL (scripts/fixtures/image_data.py): every colour type, bit
// depth and interlacing of PNG as photos (PIL's convert("RGB")) and, where valid, as masks
// (np.array(Image.open(f)), the palette index or gray value); JPEGs of every subsampling,
// progressive, gray and CMYK; header probing; and every bad input of bad.json failing with its
// status and a message naming the file.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/image/image_decode.h"
#include "../image_fixture.h"

// PNG decoding is lossless and both sides unpack the same samples: equal, pixel for pixel.
#define PNG_TOL 0
// JPEG: PIL's wheel bundles libjpeg-turbo 3.x, Debian has 2.1.5; both run the same ISLOW
// inverse DCT, fancy upsampling and YCbCr->RGB tables with PIL's default settings, so the
// pixels are expected equal too. (Measured: 0 on every fixture JPEG, see docs/image_data.md.)
#define JPEG_TOL 0

static void check_case(ds_test *t, const cJSON *c, const ds_st_file *want) {
    const char *file = cJSON_GetObjectItem(c, "file")->valuestring;
    const bool is_jpeg = strcmp(cJSON_GetObjectItem(c, "format")->valuestring, "JPEG") == 0;
    const bool maskable = cJSON_IsTrue(cJSON_GetObjectItem(c, "mask"));
    char rel[256], path[600], key[300];
    snprintf(rel, sizeof rel, "decode/%s", file);
    ds_img_fixture(rel, path, sizeof path);

    ds_image im = {0};
    ds_err err = {0};
    if (ds_test_check(t, ds_image_load_rgb(path, &im, &err) == DS_OK, "%s: %s", file, err.msg)) {
        snprintf(key, sizeof key, "%s.rgb", file);
        ds_tensor w = ds_img_fixture_get(t, want, key, DS_U8);
        ds_test_image_close(t, key, &im, &w, is_jpeg ? JPEG_TOL : PNG_TOL);
        int32_t ph = 0, pw = 0;
        ds_err e2 = {0};
        ds_test_check(t, ds_image_probe(path, &ph, &pw, &e2) == DS_OK && ph == im.height && pw == im.width,
                      "%s: probe says %d x %d (%s), decode %d x %d", file, pw, ph, e2.msg, im.width, im.height);
    }
    ds_image_free(&im);

    ds_err merr = {0};
    const ds_status ms = ds_mask_load(path, &im, &merr);
    if (maskable) {
        if (ds_test_check(t, ms == DS_OK, "%s as a mask: %s", file, merr.msg)) {
            snprintf(key, sizeof key, "%s.mask", file);
            ds_tensor w = ds_img_fixture_get(t, want, key, DS_U8);
            ds_test_image_close(t, key, &im, &w, 0);
        }
    } else {
        // RGB(A), gray+alpha, JPEG: refused; a 16-bit gray photo: values above 255.
        ds_test_check(t, ms != DS_OK && strstr(merr.msg, path) != NULL && im.pixels == NULL,
                      "%s as a mask: should fail naming the file, got %s \"%s\"", file, ds_status_name(ms), merr.msg);
    }
    ds_image_free(&im);
}

static ds_status status_of(const char *s) {
    return strcmp(s, "format") == 0 ? DS_ERR_FORMAT : strcmp(s, "unsupported") == 0 ? DS_ERR_UNSUPPORTED : DS_ERR_IO;
}

static void check_bad(ds_test *t, const cJSON *c) {
    const char *file = cJSON_GetObjectItem(c, "file")->valuestring;
    const bool as_mask = strcmp(cJSON_GetObjectItem(c, "as")->valuestring, "mask") == 0;
    const ds_status want = status_of(cJSON_GetObjectItem(c, "status")->valuestring);
    const char *needle = cJSON_GetObjectItem(c, "needle")->valuestring;
    char rel[256], path[600];
    snprintf(rel, sizeof rel, "bad/%s", file);
    ds_img_fixture(rel, path, sizeof path);
    ds_image im = {0};
    ds_err err = {0};
    const ds_status s = as_mask ? ds_mask_load(path, &im, &err) : ds_image_load_rgb(path, &im, &err);
    ds_test_error_has(t, file, s, &err, want, path, needle);
    ds_test_check(t, im.pixels == NULL && im.width == 0, "%s: a failed decode left an image behind", file);
    ds_image_free(&im);
    if (getenv("DS_TEST_VERBOSE")) printf("  %-22s -> %s\n", file, err.msg);
}

// A missing file is an I/O error naming it; decoding from memory names the caller's name.
static void check_misc(ds_test *t) {
    ds_image im = {0};
    ds_err err = {0};
    ds_status s = ds_image_load_rgb("/nonexistent/x.png", &im, &err);
    ds_test_error_has(t, "missing file", s, &err, DS_ERR_IO, "/nonexistent/x.png", NULL);
    ds_err_clear(&err);
    const uint8_t junk[5] = {0x89, 'P', 'N', 'G', '\r'};
    s = ds_image_decode_rgb(junk, sizeof junk, "buffer-name", &im, &err);
    ds_test_error_has(t, "short signature", s, &err, DS_ERR_FORMAT, "buffer-name", NULL);
    ds_err_clear(&err);
    const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    s = ds_mask_decode(sig, sizeof sig, "sig-only", &im, &err);
    ds_test_error_has(t, "signature only", s, &err, DS_ERR_FORMAT, "sig-only", "truncated");
    ds_test_check(t, ds_image_sniff(sig, 8) == DS_IMAGE_FORMAT_PNG && ds_image_sniff(sig, 7) == DS_IMAGE_FORMAT_UNKNOWN,
                  "sniff: PNG signature");
}

int main(void) {
    ds_test t = ds_test_begin("image_decode");
    cJSON *cases = ds_img_fixture_json(&t, "decode.json");
    cJSON *bad = ds_img_fixture_json(&t, "bad.json");
    ds_st_file want = {0};
    if (cases && bad && ds_img_fixture_open(&t, "decode.safetensors", &want)) {
        int n = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(cases, "cases")) {
            check_case(&t, c, &want);
            n++;
        }
        ds_test_check(&t, n >= 25, "decode.json: only %d cases", n);
        n = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(bad, "cases")) {
            check_bad(&t, c);
            n++;
        }
        ds_test_check(&t, n >= 12, "bad.json: only %d cases", n);
    }
    check_misc(&t);
    ds_st_close(&want);
    cJSON_Delete(cases);
    cJSON_Delete(bad);
    return ds_test_finish(&t);
}
