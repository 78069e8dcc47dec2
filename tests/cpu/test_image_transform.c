// The segmentation transforms against torchvision (scripts/fixtures/image_data.py runs the
// reference's RandomResize / RandomHorizontalFlip / RandomCrop(pad_if_smaller) / PILToTensor /
// ConvertImageDtype / Normalize through torchvision's functional ops with FIXED parameters, and
// the eval preset): same normalised image and same mask for each case; the eval frame's padding;
// the Philox draws' ranges, distribution and determinism; bad arguments.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/image/image_decode.h"
#include "../../data/image/seg_transform.h"
#include "../image_fixture.h"

// The pipeline is exact integer work up to the normalisation (decode and resize are bit-exact
// with PIL, flip/pad/crop are copies), and the normalisation does torch's three float32
// operations in torch's order (x / 255, - mean, / std), so the tensors are expected identical.
#define IMAGE_TOL 0.0

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d;
    }
    return m;
}

static int mask_mismatches(const int32_t *a, const int32_t *b, size_t n) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += a[i] != b[i];
    return bad;
}

static ds_seg_transform_options options_from(const cJSON *cfg) {
    ds_seg_transform_options o = ds_seg_transform_defaults();
    o.crop_size = cJSON_GetObjectItem(cfg, "crop")->valueint;
    for (int c = 0; c < 3; c++) {
        o.mean[c] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "mean"), c)->valuedouble;
        o.std[c] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "std"), c)->valuedouble;
    }
    return o;
}

static void check_fixed(ds_test *t, const cJSON *cfg, const ds_st_file *f, const ds_image *img, const ds_image *mask) {
    ds_seg_transform_options o = options_from(cfg);
    const int32_t crop = o.crop_size;
    float *im_out = malloc(sizeof(float) * 3 * 64 * 64 * 4);
    int32_t *m_out = malloc(sizeof(int32_t) * 64 * 64 * 4);
    double worst = 0;
    int k = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(cfg, "train")) {
        const ds_seg_aug aug = {cJSON_GetObjectItem(c, "size")->valueint,
                                cJSON_IsTrue(cJSON_GetObjectItem(c, "flip")), cJSON_GetObjectItem(c, "top")->valueint,
                                cJSON_GetObjectItem(c, "left")->valueint};
        char key[64];
        snprintf(key, sizeof key, "train%d.image", k);
        ds_tensor wi = ds_img_fixture_get(t, f, key, DS_F32);
        snprintf(key, sizeof key, "train%d.mask", k);
        ds_tensor wm = ds_img_fixture_get(t, f, key, DS_I32);
        int64_t valid = -1;
        ds_err err = {0};
        if (wi.data && wm.data &&
            ds_test_check(t, ds_seg_apply_train(&o, img, mask, &aug, im_out, m_out, &valid, &err) == DS_OK,
                          "train case %d: %s", k, err.msg)) {
            const size_t n = (size_t)crop * crop;
            const double d = max_abs_diff(im_out, wi.data, 3 * n);
            if (d > worst) worst = d;
            ds_test_check(t, wi.shape[1] == crop && d <= IMAGE_TOL, "train case %d (size %d flip %d crop at %d,%d): "
                          "image max |diff| %g", k, aug.size, aug.flip, aug.top, aug.left, d);
            const int bad = mask_mismatches(m_out, wm.data, n);
            int64_t want_valid = 0;
            for (size_t i = 0; i < n; i++) want_valid += ((const int32_t *)wm.data)[i] != 255;
            ds_test_check(t, bad == 0 && valid == want_valid, "train case %d: %d mask entries differ, valid %lld vs %lld",
                          k, bad, (long long)valid, (long long)want_valid);
        }
        k++;
    }
    ds_test_check(t, k >= 6, "transform.json: only %d training cases", k);
    k = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(cfg, "eval_base")) {
        o.base_size = c->valueint;
        char key[64];
        snprintf(key, sizeof key, "eval%d.image", k);
        ds_tensor wi = ds_img_fixture_get(t, f, key, DS_F32);
        snprintf(key, sizeof key, "eval%d.mask", k);
        ds_tensor wm = ds_img_fixture_get(t, f, key, DS_I32);
        int32_t oh, ow;
        ds_seg_eval_size(&o, img->height, img->width, &oh, &ow);
        int64_t valid = -1;
        ds_err err = {0};
        if (wi.data && wm.data && ds_test_check(t, wi.shape[1] == oh && wi.shape[2] == ow, "eval %d: size %dx%d, "
                                                "torchvision %lldx%lld", o.base_size, oh, ow,
                                                (long long)wi.shape[1], (long long)wi.shape[2]) &&
            ds_test_check(t, ds_seg_apply_eval(&o, img, mask, oh, ow, im_out, m_out, &valid, &err) == DS_OK,
                          "eval %d: %s", o.base_size, err.msg)) {
            const size_t n = (size_t)oh * ow;
            const double d = max_abs_diff(im_out, wi.data, 3 * n);
            if (d > worst) worst = d;
            ds_test_check(t, d <= IMAGE_TOL, "eval base %d: image max |diff| %g", o.base_size, d);
            ds_test_check(t, mask_mismatches(m_out, wm.data, n) == 0, "eval base %d: masks differ", o.base_size);
            // The same in a frame 3 rows and 5 columns larger: content top left, padding around.
            const int32_t fh = oh + 3, fw = ow + 5;
            int64_t valid2 = -1;
            if (ds_test_check(t, ds_seg_apply_eval(&o, img, mask, fh, fw, im_out, m_out, &valid2, &err) == DS_OK,
                              "eval frame: %s", err.msg)) {
                int bad = 0;
                for (int ch = 0; ch < 3; ch++)
                    for (int32_t y = 0; y < fh; y++)
                        for (int32_t x = 0; x < fw; x++) {
                            const float got = im_out[((size_t)ch * fh + y) * fw + x];
                            const float want = y < oh && x < ow ? ((const float *)wi.data)[((size_t)ch * oh + y) * ow + x]
                                                                : (0.0f - o.mean[ch]) / o.std[ch];
                            bad += got != want;
                            if (ch == 0) {
                                const int32_t mg = m_out[(size_t)y * fw + x];
                                const int32_t mw = y < oh && x < ow ? ((const int32_t *)wm.data)[(size_t)y * ow + x] : 255;
                                bad += mg != mw;
                            }
                        }
                ds_test_check(t, bad == 0 && valid2 == valid, "eval in a larger frame: %d values wrong", bad);
            }
        }
        k++;
    }
    printf("transform vs torchvision: worst image |diff| %g over %d eval and the training cases\n", worst, k);
    free(im_out);
    free(m_out);
}

// Philox draws: in range, every size reachable, uniform, flips at the rate asked, deterministic.
static void check_draws(ds_test *t) {
    const ds_seg_transform_options o = ds_seg_transform_defaults();
    int32_t lo, hi;
    ds_seg_train_size_range(&o, &lo, &hi);
    ds_test_check(t, lo == 260 && hi == 1040, "size range [%d, %d], torchvision [260, 1040]", lo, hi);
    const int N = 200000;
    const int32_t H = 375, W = 500;  // a VOC photo
    const int span = hi - lo + 1;
    int *hist = calloc((size_t)span, sizeof *hist);
    int64_t flips = 0, out_of_range = 0;
    double sum_top_frac = 0;
    int top_zero = 0, top_max = 0, with_range = 0;
    for (int i = 0; i < N; i++) {
        const ds_seg_aug a = ds_seg_draw_train(&o, 1234, 7, (uint64_t)i, H, W);
        int32_t rh, rw, ph, pw;
        ds_seg_train_geometry(&o, H, W, a.size, &rh, &rw, &ph, &pw);
        if (a.size < lo || a.size > hi || a.top < 0 || a.top > ph - o.crop_size || a.left < 0 ||
            a.left > pw - o.crop_size) {
            out_of_range++;
            continue;
        }
        hist[a.size - lo]++;
        flips += a.flip;
        const int range = ph - o.crop_size;
        if (range > 0) {
            with_range++;
            sum_top_frac += (double)a.top / range;
            top_zero += a.top == 0;
            top_max += a.top == range;
        }
    }
    ds_test_check(t, out_of_range == 0, "%lld draws out of range", (long long)out_of_range);
    // Each of the 781 sizes expects N / 781 = 256 draws (sd 16): every bin within 6 sd.
    int worst_bin = 0, empty = 0;
    for (int s = 0; s < span; s++) {
        const int dev = abs(hist[s] - N / span);
        if (dev > worst_bin) worst_bin = dev;
        empty += hist[s] == 0;
    }
    ds_test_check(t, empty == 0 && worst_bin <= 96, "size histogram: %d empty bins, worst deviation %d (6 sd = 96)",
                  empty, worst_bin);
    // Flip rate 0.5: sd of the count sqrt(N/4) = 224; 6 sd.
    ds_test_check(t, llabs(flips - N / 2) <= 1342, "flips %lld of %d", (long long)flips, N);
    // The crop origin, as a fraction of its range (where it has one), is uniform: mean 1/2 (sd
    // of the mean ~0.0008 for the ~130000 draws whose resized height exceeds the crop).
    const double mean_frac = with_range ? sum_top_frac / with_range : -1;
    ds_test_check(t, fabs(mean_frac - 0.5) < 0.005 && top_zero > 0 && top_max > 0,
                  "crop top: mean fraction %.4f, ends hit %d / %d times", mean_frac, top_zero, top_max);
    printf("draws: %d examples, worst size-bin deviation %d, flips %.4f, crop-top mean fraction %.4f\n", N, worst_bin,
           (double)flips / N, mean_frac);
    free(hist);
    // Determinism and independence of (seed, epoch, example).
    const ds_seg_aug a = ds_seg_draw_train(&o, 1, 2, 3, H, W), b = ds_seg_draw_train(&o, 1, 2, 3, H, W);
    ds_test_check(t, memcmp(&a, &b, sizeof a) == 0, "same key, different draws");
    int same_epoch = 0, same_example = 0, same_seed = 0;
    for (int i = 0; i < 100; i++) {
        const ds_seg_aug x = ds_seg_draw_train(&o, 1, 2, (uint64_t)i, H, W);
        const ds_seg_aug y = ds_seg_draw_train(&o, 1, 3, (uint64_t)i, H, W);
        const ds_seg_aug z = ds_seg_draw_train(&o, 1, 2, (uint64_t)i + 100, H, W);
        const ds_seg_aug s = ds_seg_draw_train(&o, 2, 2, (uint64_t)i, H, W);
        same_epoch += x.size == y.size;
        same_example += x.size == z.size;
        same_seed += x.size == s.size;
    }
    ds_test_check(t, same_epoch < 5 && same_example < 5 && same_seed < 5,
                  "draws not independent: %d/%d/%d of 100 sizes repeat across epoch/example/seed", same_epoch,
                  same_example, same_seed);
    // hflip_prob 0 and 1.
    ds_seg_transform_options never = o, always = o;
    never.hflip_prob = 0.0f;
    always.hflip_prob = 1.0f;
    int nf = 0, af = 0;
    for (int i = 0; i < 1000; i++) {
        nf += ds_seg_draw_train(&never, 5, 0, (uint64_t)i, H, W).flip;
        af += ds_seg_draw_train(&always, 5, 0, (uint64_t)i, H, W).flip;
    }
    ds_test_check(t, nf == 0 && af == 1000, "hflip_prob 0 / 1: %d / %d flips of 1000", nf, af);
    // data.min_scale / data.max_scale: the range is [int(min * base), int(max * base)] and the
    // draws stay inside it and reach both ends.
    ds_seg_transform_options narrow = o;
    narrow.base_size = 128;
    narrow.min_scale = 0.75;
    narrow.max_scale = 1.25;
    ds_seg_train_size_range(&narrow, &lo, &hi);
    ds_test_check(t, lo == 96 && hi == 160, "scale [0.75, 1.25] x 128: range [%d, %d], want [96, 160]", lo, hi);
    int below = 0, above = 0, at_lo = 0, at_hi = 0;
    for (int i = 0; i < 20000; i++) {
        const int32_t size = ds_seg_draw_train(&narrow, 9, 1, (uint64_t)i, 128, 128).size;
        below += size < lo;
        above += size > hi;
        at_lo += size == lo;
        at_hi += size == hi;
    }
    // 65 sizes, 20000 draws: each end expects ~308 hits; 0 would be ~17 sd away.
    ds_test_check(t, below == 0 && above == 0 && at_lo > 0 && at_hi > 0,
                  "scale [0.75, 1.25]: %d below, %d above, ends hit %d / %d times", below, above, at_lo, at_hi);
    narrow.min_scale = narrow.max_scale = 1.0;
    ds_seg_train_size_range(&narrow, &lo, &hi);
    ds_test_check(t, lo == 128 && hi == 128, "scale [1, 1] x 128: range [%d, %d]", lo, hi);
}

static void check_bad(ds_test *t, const ds_image *img, const ds_image *mask) {
    ds_seg_transform_options o = ds_seg_transform_defaults();
    o.crop_size = 24;
    float im_out[3 * 24 * 24];
    int32_t m_out[24 * 24];
    int64_t valid;
    ds_err err = {0};
    ds_seg_aug aug = {30, false, 0, 100};
    ds_status s = ds_seg_apply_train(&o, img, mask, &aug, im_out, m_out, &valid, &err);
    ds_test_error_has(t, "crop origin out of range", s, &err, DS_ERR_INVALID_ARG, "crop origin", NULL);
    ds_err_clear(&err);
    ds_image half = *mask;
    half.width = mask->width / 2;
    aug.left = 0;
    s = ds_seg_apply_train(&o, img, &half, &aug, im_out, m_out, &valid, &err);
    ds_test_error_has(t, "size mismatch", s, &err, DS_ERR_INVALID_ARG, "differ", NULL);
    ds_err_clear(&err);
    o.std[1] = 0.0f;
    s = ds_seg_transform_check(&o, &err);
    ds_test_error_has(t, "std 0", s, &err, DS_ERR_CONFIG, "std[1]", NULL);
    ds_err_clear(&err);
    o = ds_seg_transform_defaults();
    o.hflip_prob = 1.5f;
    s = ds_seg_transform_check(&o, &err);
    ds_test_error_has(t, "hflip_prob 1.5", s, &err, DS_ERR_CONFIG, "hflip_prob", NULL);
    ds_err_clear(&err);
    o = ds_seg_transform_defaults();
    o.min_scale = 1.5;
    o.max_scale = 1.0;
    s = ds_seg_transform_check(&o, &err);
    ds_test_error_has(t, "min_scale > max_scale", s, &err, DS_ERR_CONFIG, "min_scale <= max_scale", NULL);
    ds_err_clear(&err);
    o.min_scale = 0.0;
    s = ds_seg_transform_check(&o, &err);
    ds_test_error_has(t, "min_scale 0", s, &err, DS_ERR_CONFIG, "scale range", NULL);
}

int main(void) {
    ds_test t = ds_test_begin("image_transform");
    cJSON *cfg = ds_img_fixture_json(&t, "transform.json");
    ds_st_file f = {0};
    ds_image img = {0}, mask = {0};
    char p1[600], p2[600];
    ds_err err = {0};
    if (cfg && ds_img_fixture_open(&t, "transform.safetensors", &f) &&
        ds_test_check(&t,
                      ds_image_load_rgb(ds_img_fixture(cJSON_GetObjectItem(cfg, "image")->valuestring, p1, sizeof p1),
                                        &img, &err) == DS_OK &&
                          ds_mask_load(ds_img_fixture(cJSON_GetObjectItem(cfg, "mask")->valuestring, p2, sizeof p2),
                                       &mask, &err) == DS_OK,
                      "%s", err.msg)) {
        check_fixed(&t, cfg, &f, &img, &mask);
        check_bad(&t, &img, &mask);
    }
    check_draws(&t);
    ds_image_free(&img);
    ds_image_free(&mask);
    ds_st_close(&f);
    cJSON_Delete(cfg);
    return ds_test_finish(&t);
}
