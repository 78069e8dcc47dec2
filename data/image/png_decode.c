// PNG decoding with libpng from a memory buffer. libpng reports errors by longjmp: the only
// setjmp is in png_run(), every resource it creates is recorded in a png_job (memory the caller
// owns, so its contents survive the longjmp), and ds_png_decode() frees them on every path.
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "image_codec_internal.h"

typedef struct png_job {
    // input
    const uint8_t *data;  // (size) host: the whole file
    size_t size, pos;
    const char *name;
    ds_decode_target target;
    // resources (freed by png_job_free)
    png_structp png;
    png_infop info;
    uint8_t *raw;       // (height, rowbytes) host: rows as libpng delivers them after its transforms
    png_bytep *rows;    // (height) pointers into raw
    ds_image out;
    // outcome
    ds_status status;   // set with msg when png_run fails
    char msg[1024];
    int msg_named;      // msg already starts with the file's name
} png_job;

static void png_job_fail(png_job *j, ds_status s, const char *what) {
    if (j->status != DS_OK) return;
    j->status = s;
    snprintf(j->msg, sizeof j->msg, "%s", what);
}

static void on_png_error(png_structp png, png_const_charp msg) {
    png_job *j = png_get_error_ptr(png);
    png_job_fail(j, DS_ERR_FORMAT, msg);
    png_longjmp(png, 1);
}

// Warnings (bad ancillary chunks, extra data after the image) do not stop PIL either.
static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void on_png_read(png_structp png, png_bytep dst, png_size_t n) {
    png_job *j = png_get_io_ptr(png);
    if (n > j->size - j->pos) png_error(png, "unexpected end of data (truncated file)");
    memcpy(dst, j->data + j->pos, n);
    j->pos += n;
}

static const char *color_type_name(int ct) {
    switch (ct) {
        case PNG_COLOR_TYPE_GRAY: return "gray";
        case PNG_COLOR_TYPE_GRAY_ALPHA: return "gray+alpha";
        case PNG_COLOR_TYPE_RGB: return "RGB";
        case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
        case PNG_COLOR_TYPE_PALETTE: return "palette";
        default: return "unknown";
    }
}

// Sets libpng's transforms for the target; returns 0 and fills j's status when the file's
// kind cannot be turned into that target.
static int choose_transforms(png_job *j, int color_type, int depth) {
    if (j->target == DS_DECODE_RGB) {
        // Palette -> RGB, low-depth gray -> 8-bit scaled, tRNS -> an alpha channel (dropped later).
        png_set_expand(j->png);
        if (depth == 16) png_set_strip_16(j->png);  // the high byte, as PIL's ";16B" unpackers
        return 1;
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE || (color_type == PNG_COLOR_TYPE_GRAY && depth < 8)) {
        png_set_packing(j->png);  // one byte per index / gray level, unscaled
        return 1;
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && depth == 8) return 1;
    if (color_type == PNG_COLOR_TYPE_GRAY && depth == 16) return 1;  // big-endian samples, read below
    char m[256];
    snprintf(m, sizeof m,
             "a mask must be a palette or grayscale PNG of class ids, this one is %s (%d-bit): convert "
             "colour-coded masks to class ids first",
             color_type_name(color_type), depth);
    png_job_fail(j, DS_ERR_UNSUPPORTED, m);
    return 0;
}

// Turns libpng's rows (after its transforms: `channels` samples of `depth` bits) into j->out.
static void convert_rows(png_job *j, int color_type, int depth, int channels, uint32_t h, uint32_t w) {
    uint8_t *o = j->out.pixels;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *r = j->rows[y];
        if (j->target == DS_DECODE_RGB) {
            for (uint32_t x = 0; x < w; x++, o += 3) {
                const uint8_t *p = r + (size_t)x * channels;
                if (channels >= 3) {  // RGB, RGBA: alpha dropped
                    o[0] = p[0], o[1] = p[1], o[2] = p[2];
                } else {  // gray, gray+alpha: replicated, alpha dropped
                    o[0] = o[1] = o[2] = p[0];
                }
            }
        } else if (depth == 16) {
            for (uint32_t x = 0; x < w; x++, o++) {
                const unsigned v = (unsigned)r[2 * (size_t)x] << 8 | r[2 * (size_t)x + 1];
                if (v > 255 && j->status == DS_OK) {
                    char m[200];
                    snprintf(m, sizeof m, "16-bit mask value %u at (row %u, column %u) does not fit a class id (0..255)",
                             v, y, x);
                    png_job_fail(j, DS_ERR_FORMAT, m);
                }
                *o = (uint8_t)v;
            }
        } else {
            // PIL: 1-bit gray is mode "1", read as booleans (0/1); 2- and 4-bit gray are mode "L"
            // scaled to 0..255; palette indices are kept as they are.
            const int scale = color_type == PNG_COLOR_TYPE_GRAY ? (depth == 2 ? 85 : depth == 4 ? 17 : 1) : 1;
            for (uint32_t x = 0; x < w; x++, o++) *o = (uint8_t)(r[x] * scale);
        }
    }
}

// All libpng calls. Returns 0 on success, -1 with j->status/msg set. The only setjmp.
static int png_run(png_job *j) {
    if (setjmp(png_jmpbuf(j->png))) return -1;
    png_set_read_fn(j->png, j, on_png_read);
    png_read_info(j->png, j->info);
    const uint32_t w = png_get_image_width(j->png, j->info), h = png_get_image_height(j->png, j->info);
    const int depth = png_get_bit_depth(j->png, j->info), color_type = png_get_color_type(j->png, j->info);
    ds_err e = {0};
    if (ds_image_alloc(&j->out, h, w, j->target == DS_DECODE_RGB ? 3 : 1, j->name, &e) != DS_OK) {
        png_job_fail(j, e.status, e.msg);
        j->msg_named = 1;
        return -1;
    }
    if (!choose_transforms(j, color_type, depth)) return -1;
    png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    const size_t rowbytes = png_get_rowbytes(j->png, j->info);
    const int channels = png_get_channels(j->png, j->info);
    const int out_depth = png_get_bit_depth(j->png, j->info);
    if ((j->target == DS_DECODE_RGB && out_depth != 8) || rowbytes < (size_t)w * channels * (out_depth / 8)) {
        png_job_fail(j, DS_ERR_INTERNAL, "libpng delivered an unexpected row layout");
        return -1;
    }
    j->raw = malloc(rowbytes * h);
    j->rows = malloc(sizeof *j->rows * h);
    if (j->raw == NULL || j->rows == NULL) {
        png_job_fail(j, DS_ERR_OOM, "out of memory for the decoded rows");
        return -1;
    }
    for (uint32_t y = 0; y < h; y++) j->rows[y] = j->raw + rowbytes * y;
    png_read_image(j->png, j->rows);
    convert_rows(j, color_type, depth, channels, h, w);
    return j->status == DS_OK ? 0 : -1;
}

static void png_job_free(png_job *j) {
    if (j->png) png_destroy_read_struct(&j->png, j->info ? &j->info : NULL, NULL);
    free(j->raw);
    free(j->rows);
    j->raw = NULL;
    j->rows = NULL;
}

ds_status ds_png_decode(const uint8_t *data, size_t size, const char *name, ds_decode_target target, ds_image *out,
                        ds_err *err) {
    memset(out, 0, sizeof *out);
    png_job j = {.data = data, .size = size, .name = name, .target = target, .status = DS_OK};
    j.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &j, on_png_error, on_png_warning);
    if (j.png) j.info = png_create_info_struct(j.png);
    if (j.png == NULL || j.info == NULL) {
        png_job_free(&j);
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for the PNG decoder", name);
    }
    const int failed = png_run(&j);
    png_job_free(&j);
    if (failed) {
        ds_image_free(&j.out);
        if (j.msg_named) return ds_err_set(err, j.status, "%s", j.msg);
        return ds_err_set(err, j.status, "%s: PNG: %s", name, j.msg);
    }
    *out = j.out;
    return DS_OK;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

ds_status ds_png_probe(const uint8_t *data, size_t size, const char *name, int32_t *h, int32_t *w, ds_err *err) {
    // Signature (8), IHDR length (4) and type (4), width (4), height (4).
    DS_REQUIRE(err, size >= 24 && memcmp(data + 12, "IHDR", 4) == 0, DS_ERR_FORMAT,
               "%s: PNG: no IHDR chunk at the start (truncated or corrupt file)", name);
    const uint32_t pw = be32(data + 16), ph = be32(data + 20);
    DS_REQUIRE(err, pw >= 1 && ph >= 1, DS_ERR_FORMAT, "%s: image has zero size (%u x %u pixels)", name, pw, ph);
    // The product in 64 unsigned bits: two 32-bit sides cannot overflow it (as int64_t they could).
    DS_REQUIRE(err, (uint64_t)pw * ph <= (uint64_t)DS_IMAGE_MAX_PIXELS, DS_ERR_FORMAT,
               "%s: image of %u x %u pixels is larger than the %lld-pixel limit (corrupt header?)", name, pw, ph,
               (long long)DS_IMAGE_MAX_PIXELS);
    *h = (int32_t)ph;
    *w = (int32_t)pw;
    return DS_OK;
}
