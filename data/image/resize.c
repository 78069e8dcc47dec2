#include "resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"

// PIL's fixed point: 32 bits minus 8 for the value minus 2 headroom bits for filters with
// negative lobes (bilinear has none, but the rounding must be PIL's).
#define PRECISION_BITS 22

void ds_resize_shorter_side(int32_t h, int32_t w, int32_t size, int32_t *out_h, int32_t *out_w) {
    const int32_t shorter = w <= h ? w : h, longer = w <= h ? h : w;
    // Python's int(size * long / short): the integer product, a correctly rounded true division
    // (IEEE division of two exactly representable doubles is the same), then truncation.
    const double exact = (double)((int64_t)size * longer) / (double)shorter;
    // Clamped so that absurd aspect ratios stay defined; the resize itself then refuses the size.
    const int32_t new_long = exact >= (double)INT32_MAX ? INT32_MAX : (int32_t)exact;
    if (w <= h) {
        *out_w = size;
        *out_h = new_long;
    } else {
        *out_h = size;
        *out_w = new_long;
    }
}

static double triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

// PIL's precompute_coeffs + normalize_coeffs_8bpc for output pixels [first, first + n) of an
// axis of in_size -> out_size: for each, the first source index, the tap count and `ksize`
// fixed-point weights.
typedef struct axis_taps {
    int ksize;
    int32_t *start;   // (n) first source index
    int32_t *count;   // (n) taps used (<= ksize)
    int32_t *weight;  // (n, ksize) fixed point, PRECISION_BITS fraction bits
} axis_taps;

static void axis_taps_free(axis_taps *a) {
    free(a->start);
    free(a->count);
    free(a->weight);
    memset(a, 0, sizeof *a);
}

static ds_status axis_taps_make(int32_t in_size, int32_t out_size, int32_t first, int32_t n, axis_taps *a,
                                ds_err *err) {
    memset(a, 0, sizeof *a);
    // PIL computes with a float box (0, in_size): (double)(in1 - in0) / outSize.
    const float in0 = 0.0f, in1 = (float)in_size;
    const double scale = (double)(in1 - in0) / out_size;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 1.0 * filterscale;  // the triangle's support is 1
    a->ksize = (int)ceil(support) * 2 + 1;
    a->start = malloc(sizeof *a->start * (size_t)n);
    a->count = malloc(sizeof *a->count * (size_t)n);
    a->weight = malloc(sizeof *a->weight * (size_t)n * a->ksize);
    double *w = malloc(sizeof *w * (size_t)a->ksize);
    if (!a->start || !a->count || !a->weight || !w) {
        free(w);
        axis_taps_free(a);
        return ds_err_set(err, DS_ERR_OOM, "resize: out of memory for %d x %d coefficients", (int)n, a->ksize);
    }
    const double ss = 1.0 / filterscale;
    for (int32_t i = 0; i < n; i++) {
        const int32_t xx = first + i;
        const double center = in0 + (xx + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);  // C truncation, as PIL's "round"
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = triangle((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = a->weight + (size_t)i * a->ksize;
        for (int x = 0; x < a->ksize; x++) {
            double v = x < xmax ? w[x] : 0.0;
            if (x < xmax && ww != 0.0) v /= ww;
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS)) : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        a->start[i] = xmin;
        a->count[i] = xmax;
    }
    free(w);
    return DS_OK;
}

static uint8_t clip8(int32_t acc) {
    const int32_t v = acc >> PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static ds_status check_window(const ds_image *src, int32_t out_h, int32_t out_w, ds_resize_window win, const char *op,
                              ds_err *err) {
    DS_REQUIRE(err, src->pixels != NULL && src->height >= 1 && src->width >= 1, DS_ERR_INVALID_ARG,
               "%s: empty source image", op);
    DS_REQUIRE(err, out_h >= 1 && out_w >= 1 && (int64_t)out_h * out_w <= DS_IMAGE_MAX_PIXELS, DS_ERR_INVALID_ARG,
               "%s: output size %d x %d (width x height) out of range", op, (int)out_w, (int)out_h);
    DS_REQUIRE(err,
               win.top >= 0 && win.left >= 0 && win.height >= 1 && win.width >= 1 &&
                   (int64_t)win.top + win.height <= out_h && (int64_t)win.left + win.width <= out_w,
               DS_ERR_INVALID_ARG, "%s: window rows %d+%d, columns %d+%d outside the %d x %d output", op,
               (int)win.top, (int)win.height, (int)win.left, (int)win.width, (int)out_h, (int)out_w);
    return DS_OK;
}

// One horizontal pass: dst[r][i] = clip8(sum_x src[r][start[i] - col0 + x] * k[x]) per channel,
// for `rows` rows of src (stride src_stride bytes) whose first column is source column col0.
static void pass_horizontal(const uint8_t *src, size_t src_stride, int32_t col0, int32_t rows, const axis_taps *t,
                            int32_t n, int C, uint8_t *dst, size_t dst_stride) {
    for (int32_t r = 0; r < rows; r++) {
        const uint8_t *in = src + (size_t)r * src_stride;
        uint8_t *o = dst + (size_t)r * dst_stride;
        for (int32_t i = 0; i < n; i++) {
            const int32_t *k = t->weight + (size_t)i * t->ksize;
            const uint8_t *p = in + (size_t)(t->start[i] - col0) * C;
            for (int c = 0; c < C; c++) {
                int32_t acc = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < t->count[i]; x++) acc += p[(size_t)x * C + c] * k[x];
                o[(size_t)i * C + c] = clip8(acc);
            }
        }
    }
}

// One vertical pass: dst[j][e] = clip8(sum_y src[start[j] - row0 + y][e] * k[y]) for the
// row_bytes samples of a row; src's first row is source row row0.
static void pass_vertical(const uint8_t *src, size_t src_stride, int32_t row0, const axis_taps *t, int32_t n,
                          size_t row_bytes, uint8_t *dst, size_t dst_stride) {
    for (int32_t j = 0; j < n; j++) {
        const int32_t *k = t->weight + (size_t)j * t->ksize;
        const uint8_t *base = src + (size_t)(t->start[j] - row0) * src_stride;
        uint8_t *o = dst + (size_t)j * dst_stride;
        for (size_t e = 0; e < row_bytes; e++) {
            int32_t acc = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < t->count[j]; y++) acc += base[(size_t)y * src_stride + e] * k[y];
            o[e] = clip8(acc);
        }
    }
}

// Copies rows [row0, row0 + rows) x columns [col0, col0 + cols) of a packed image.
static void copy_block(const uint8_t *src, size_t src_stride, int32_t row0, int32_t col0, int32_t rows, int32_t cols,
                       int C, uint8_t *dst, size_t dst_stride) {
    for (int32_t r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * dst_stride, src + (size_t)(row0 + r) * src_stride + (size_t)col0 * C,
               (size_t)cols * C);
}

ds_status ds_resize_bilinear_window(const ds_image *src, int32_t out_h, int32_t out_w, ds_resize_window win,
                                    uint8_t *dst, ds_err *err) {
    DS_TRY(check_window(src, out_h, out_w, win, "bilinear resize", err));
    const int C = src->channels;
    const int32_t in_h = src->height, in_w = src->width;
    const size_t src_stride = (size_t)in_w * C, dst_stride = (size_t)win.width * C;
    const int need_h = out_w != in_w, need_v = out_h != in_h;
    // Pillow 13's order: the vertical pass first when the height shrinks by more than twice
    // as many pixels as the width does (fewer rows for the horizontal pass); otherwise the
    // horizontal pass first, as every Pillow before 13 always did. The 8-bit rounding between
    // the passes makes the order visible (+-1 on some pixels), so it must be Pillow's.
    const int horizontal_first = !((in_h - out_h) > 0 && (in_h - out_h) > (in_w - out_w) * 2);
    axis_taps ht = {0}, vt = {0};
    uint8_t *tmp = NULL;
    ds_status st = DS_OK;
    if (need_v && (st = axis_taps_make(in_h, out_h, win.top, win.height, &vt, err)) != DS_OK) goto done;
    if (need_h && (st = axis_taps_make(in_w, out_w, win.left, win.width, &ht, err)) != DS_OK) goto done;
    if (!need_h && !need_v) {
        copy_block(src->pixels, src_stride, win.top, win.left, win.height, win.width, C, dst, dst_stride);
    } else if (!need_v) {
        pass_horizontal(src->pixels + (size_t)win.top * src_stride, src_stride, 0, win.height, &ht, win.width, C, dst,
                        dst_stride);
    } else if (!need_h) {
        pass_vertical(src->pixels + (size_t)win.left * C, src_stride, 0, &vt, win.height, dst_stride, dst, dst_stride);
    } else if (horizontal_first) {
        // Source rows the vertical pass reads: the union of the window rows' taps.
        const int32_t row0 = vt.start[0], rows = vt.start[win.height - 1] + vt.count[win.height - 1] - row0;
        tmp = malloc(dst_stride * (size_t)rows);  // (rows, win.width, C): Pillow's 8-bit intermediate
        if (tmp == NULL) {
            st = ds_err_set(err, DS_ERR_OOM, "bilinear resize: out of memory");
            goto done;
        }
        pass_horizontal(src->pixels + (size_t)row0 * src_stride, src_stride, 0, rows, &ht, win.width, C, tmp,
                        dst_stride);
        pass_vertical(tmp, dst_stride, row0, &vt, win.height, dst_stride, dst, dst_stride);
    } else {
        // Source columns the horizontal pass reads: the union of the window columns' taps.
        const int32_t col0 = ht.start[0], cols = ht.start[win.width - 1] + ht.count[win.width - 1] - col0;
        const size_t tmp_stride = (size_t)cols * C;
        tmp = malloc(tmp_stride * (size_t)win.height);  // (win.height, cols, C)
        if (tmp == NULL) {
            st = ds_err_set(err, DS_ERR_OOM, "bilinear resize: out of memory");
            goto done;
        }
        pass_vertical(src->pixels + (size_t)col0 * C, src_stride, 0, &vt, win.height, tmp_stride, tmp, tmp_stride);
        pass_horizontal(tmp, tmp_stride, col0, win.height, &ht, win.width, C, dst, dst_stride);
    }
done:
    free(tmp);
    axis_taps_free(&ht);
    axis_taps_free(&vt);
    return st;
}

// PIL's ImagingScaleAffine index table for output pixels [first, first + n): the source index
// of each, or -1 where PIL leaves its fill (0). The position starts at half a step and grows
// by one step per pixel, accumulated in double exactly as PIL does (not recomputed per pixel,
// which could round differently).
static void nearest_table(int32_t in_size, int32_t out_size, int32_t first, int32_t n, int32_t *idx) {
    const float in0 = 0.0f, in1 = (float)in_size;
    const double a = (double)(in1 - in0) / out_size;
    double pos = in0 + a * 0.5;
    for (int32_t x = 0; x < first + n; x++) {
        const int v = pos < 0.0 ? -1 : (int)pos;
        if (x >= first) idx[x - first] = v >= 0 && v < in_size ? v : -1;
        pos += a;
    }
}

ds_status ds_resize_nearest_window(const ds_image *src, int32_t out_h, int32_t out_w, ds_resize_window win,
                                   uint8_t *dst, ds_err *err) {
    DS_TRY(check_window(src, out_h, out_w, win, "nearest resize", err));
    int32_t *cols = malloc(sizeof *cols * (size_t)win.width), *rows = malloc(sizeof *rows * (size_t)win.height);
    if (cols == NULL || rows == NULL) {
        free(cols);
        free(rows);
        return ds_err_set(err, DS_ERR_OOM, "nearest resize: out of memory");
    }
    const int C = src->channels;
    if (out_w == src->width && out_h == src->height) {  // PIL copies (and the tables are the identity)
        for (int32_t i = 0; i < win.width; i++) cols[i] = win.left + i;
        for (int32_t j = 0; j < win.height; j++) rows[j] = win.top + j;
    } else {
        nearest_table(src->width, out_w, win.left, win.width, cols);
        nearest_table(src->height, out_h, win.top, win.height, rows);
    }
    for (int32_t j = 0; j < win.height; j++) {
        uint8_t *o = dst + (size_t)j * win.width * C;
        if (rows[j] < 0) {
            memset(o, 0, (size_t)win.width * C);
            continue;
        }
        const uint8_t *in = src->pixels + (size_t)rows[j] * src->width * C;
        for (int32_t i = 0; i < win.width; i++)
            for (int c = 0; c < C; c++) o[(size_t)i * C + c] = cols[i] < 0 ? 0 : in[(size_t)cols[i] * C + c];
    }
    free(cols);
    free(rows);
    return DS_OK;
}

typedef ds_status (*window_fn)(const ds_image *, int32_t, int32_t, ds_resize_window, uint8_t *, ds_err *);

static ds_status resize_whole(const ds_image *src, int32_t out_h, int32_t out_w, ds_image *dst, window_fn fn,
                              ds_err *err) {
    memset(dst, 0, sizeof *dst);
    DS_REQUIRE(err, src->pixels != NULL && src->channels >= 1, DS_ERR_INVALID_ARG, "resize: empty source image");
    DS_TRY(ds_image_alloc(dst, out_h, out_w, src->channels, "resize output", err));
    const ds_resize_window all = {0, 0, out_h, out_w};
    const ds_status st = fn(src, out_h, out_w, all, dst->pixels, err);
    if (st != DS_OK) ds_image_free(dst);
    return st;
}

ds_status ds_resize_bilinear(const ds_image *src, int32_t out_h, int32_t out_w, ds_image *dst, ds_err *err) {
    return resize_whole(src, out_h, out_w, dst, ds_resize_bilinear_window, err);
}

ds_status ds_resize_nearest(const ds_image *src, int32_t out_h, int32_t out_w, ds_image *dst, ds_err *err) {
    return resize_whole(src, out_h, out_w, dst, ds_resize_nearest_window, err);
}
