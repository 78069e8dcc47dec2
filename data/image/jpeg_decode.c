// JPEG decoding with libjpeg-turbo from a memory buffer. libjpeg reports errors through
// error_exit, which must not return: it longjmps back into jpeg_run(), the only setjmp, and
// ds_jpeg_decode_rgb() frees what jpeg_job recorded on every path.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "../../runtime/base/check.h"
#include "image_codec_internal.h"

typedef struct jpeg_job {
    struct jpeg_error_mgr mgr;  // first member: libjpeg hands error callbacks a pointer to it
    jmp_buf jump;
    // input
    const uint8_t *data;  // (size) host: the whole file
    size_t size;
    const char *name;
    // resources
    struct jpeg_decompress_struct cinfo;
    int created;          // cinfo needs jpeg_destroy_decompress
    uint8_t *row;         // (width * components) host: one scanline as libjpeg delivers it
    ds_image out;
    // outcome
    ds_status status;
    char msg[1024];
    int msg_named;        // msg already starts with the file's name
} jpeg_job;

static void jpeg_job_fail(jpeg_job *j, ds_status s, const char *what) {
    if (j->status != DS_OK) return;
    j->status = s;
    snprintf(j->msg, sizeof j->msg, "%s", what);
}

static void on_jpeg_error(j_common_ptr c) {
    jpeg_job *j = (jpeg_job *)c->err;
    char m[JMSG_LENGTH_MAX];
    c->err->format_message(c, m);
    jpeg_job_fail(j, DS_ERR_FORMAT, m);
    longjmp(j->jump, 1);
}

// level -1: a warning. Running out of data is one for libjpeg (it pads the image with gray);
// PIL refuses such a file ("image file is truncated"), and so do we. Other warnings (corrupt
// entropy data libjpeg resynchronises past, extraneous bytes) let PIL load the file, so they
// pass here too. Trace messages (level >= 0) are ignored.
static void on_jpeg_message(j_common_ptr c, int level) {
    if (level != -1) return;
    c->err->num_warnings++;
    if (c->err->msg_code == JWRN_JPEG_EOF) {
        jpeg_job *j = (jpeg_job *)c->err;
        jpeg_job_fail(j, DS_ERR_FORMAT, "unexpected end of data (truncated file)");
        longjmp(j->jump, 1);
    }
}

// PIL's CMYK -> RGB: it reads CMYK JPEGs as Adobe's inverted CMYK (rawmode "CMYK;I"), then
// r = (255 - k) - (255 - c)(255 - k) / 255 with its MULDIV255 rounding (Convert.c cmyk2rgb).
static uint8_t cmyk_channel(uint8_t stored_c, uint8_t stored_k) {
    const int nk = stored_k;                  // 255 - k, k = 255 - stored_k
    const int tmp = (255 - stored_c) * nk + 128;
    const int v = nk - (((tmp >> 8) + tmp) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void convert_row(const uint8_t *in, int components, uint32_t w, uint8_t *o) {
    for (uint32_t x = 0; x < w; x++, o += 3) {
        const uint8_t *p = in + (size_t)x * components;
        if (components == 1) {
            o[0] = o[1] = o[2] = p[0];
        } else if (components == 3) {
            o[0] = p[0], o[1] = p[1], o[2] = p[2];
        } else {
            o[0] = cmyk_channel(p[0], p[3]);
            o[1] = cmyk_channel(p[1], p[3]);
            o[2] = cmyk_channel(p[2], p[3]);
        }
    }
}

// All libjpeg calls. Returns 0 on success, -1 with j->status/msg set. The only setjmp.
static int jpeg_run(jpeg_job *j) {
    if (setjmp(j->jump)) return -1;
    jpeg_create_decompress(&j->cinfo);
    j->created = 1;
    jpeg_mem_src(&j->cinfo, j->data, (unsigned long)j->size);
    jpeg_read_header(&j->cinfo, TRUE);
    switch (j->cinfo.jpeg_color_space) {
        case JCS_GRAYSCALE: j->cinfo.out_color_space = JCS_GRAYSCALE; break;
        case JCS_YCbCr:
        case JCS_RGB: j->cinfo.out_color_space = JCS_RGB; break;
        case JCS_CMYK:
        case JCS_YCCK: j->cinfo.out_color_space = JCS_CMYK; break;
        default: {
            char m[128];
            snprintf(m, sizeof m, "unsupported colour space with %d components (gray, YCbCr, RGB, CMYK, YCCK are read)",
                     j->cinfo.num_components);
            jpeg_job_fail(j, DS_ERR_UNSUPPORTED, m);
            return -1;
        }
    }
    // libjpeg's defaults are PIL's: JDCT_ISLOW, fancy upsampling, block smoothing; no scaling.
    ds_err e = {0};
    if (ds_image_alloc(&j->out, j->cinfo.image_height, j->cinfo.image_width, 3, j->name, &e) != DS_OK) {
        jpeg_job_fail(j, e.status, e.msg);
        j->msg_named = 1;
        return -1;
    }
    jpeg_start_decompress(&j->cinfo);
    const int comps = j->cinfo.output_components;
    const uint32_t w = j->cinfo.output_width, h = j->cinfo.output_height;
    if ((comps != 1 && comps != 3 && comps != 4) || w != (uint32_t)j->out.width || h != (uint32_t)j->out.height) {
        jpeg_job_fail(j, DS_ERR_INTERNAL, "libjpeg delivered an unexpected output layout");
        return -1;
    }
    j->row = malloc((size_t)w * comps);
    if (j->row == NULL) {
        jpeg_job_fail(j, DS_ERR_OOM, "out of memory for a scanline");
        return -1;
    }
    while (j->cinfo.output_scanline < h) {
        const uint32_t y = j->cinfo.output_scanline;
        JSAMPROW rows[1] = {j->row};
        if (jpeg_read_scanlines(&j->cinfo, rows, 1) != 1) {
            jpeg_job_fail(j, DS_ERR_FORMAT, "decoder stopped before the last scanline");
            return -1;
        }
        convert_row(j->row, comps, w, j->out.pixels + (size_t)y * w * 3);
    }
    jpeg_finish_decompress(&j->cinfo);
    return 0;
}

ds_status ds_jpeg_decode_rgb(const uint8_t *data, size_t size, const char *name, ds_image *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    jpeg_job *j = calloc(1, sizeof *j);  // on the heap: jmp_buf and libjpeg's struct are large
    if (j == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for the JPEG decoder", name);
    j->data = data;
    j->size = size;
    j->name = name;
    j->cinfo.err = jpeg_std_error(&j->mgr);
    j->mgr.error_exit = on_jpeg_error;
    j->mgr.emit_message = on_jpeg_message;
    const int failed = jpeg_run(j);
    if (j->created) jpeg_destroy_decompress(&j->cinfo);
    free(j->row);
    ds_status st = DS_OK;
    if (failed) {
        ds_image_free(&j->out);
        st = j->msg_named ? ds_err_set(err, j->status, "%s", j->msg)
                          : ds_err_set(err, j->status, "%s: JPEG: %s", name, j->msg);
    } else {
        *out = j->out;
    }
    free(j);
    return st;
}

// Walks the marker segments from SOI to the first SOFn, whose payload holds the dimensions.
ds_status ds_jpeg_probe(const uint8_t *data, size_t size, const char *name, int32_t *h, int32_t *w, ds_err *err) {
    size_t p = 2;  // after SOI
    for (;;) {
        while (p < size && data[p] == 0xFF) p++;  // fill bytes before a marker code
        DS_REQUIRE(err, p + 3 <= size && p >= 3 && data[p - 1] == 0xFF, DS_ERR_FORMAT,
                   "%s: JPEG: no frame header (SOF) found (truncated or corrupt file)", name);
        const uint8_t marker = data[p];
        const size_t len = (size_t)data[p + 1] << 8 | data[p + 2];
        const int is_sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        DS_REQUIRE(err, marker != 0xDA && marker != 0xD9 && len >= 2, DS_ERR_FORMAT,
                   "%s: JPEG: no frame header (SOF) before the image data", name);
        if (is_sof) {
            DS_REQUIRE(err, len >= 7 && p + 8 <= size, DS_ERR_FORMAT, "%s: JPEG: truncated frame header", name);
            const uint32_t ph = (uint32_t)data[p + 4] << 8 | data[p + 5], pw = (uint32_t)data[p + 6] << 8 | data[p + 7];
            DS_REQUIRE(err, pw >= 1 && ph >= 1, DS_ERR_FORMAT, "%s: image has zero size (%u x %u pixels)", name, pw,
                       ph);
            DS_REQUIRE(err, (int64_t)pw * ph <= DS_IMAGE_MAX_PIXELS, DS_ERR_FORMAT,
                       "%s: image of %u x %u pixels is larger than the %lld-pixel limit (corrupt header?)", name, pw,
                       ph, (long long)DS_IMAGE_MAX_PIXELS);
            *h = (int32_t)ph;
            *w = (int32_t)pw;
            return DS_OK;
        }
        p += 1 + len;  // the marker code, then the segment (its length counts itself)
        DS_REQUIRE(err, p < size, DS_ERR_FORMAT, "%s: JPEG: no frame header (SOF) found (truncated file)", name);
        DS_REQUIRE(err, data[p] == 0xFF, DS_ERR_FORMAT, "%s: JPEG: marker expected at byte %zu", name, p);
    }
}
