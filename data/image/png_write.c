// PNG writing with libpng into a temporary file that is renamed over the target. libpng reports
// errors by longjmp: the only setjmp is in png_write_run(), whose state lives in a png_wjob the
// caller owns, and ds_png_write_*() clean up on every path.
#include "png_write.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/base/check.h"

void ds_voc_palette(uint8_t palette[256][3]) {
    for (int i = 0; i < 256; i++) {
        int r = 0, g = 0, b = 0, c = i;
        for (int j = 0; j < 8; j++) {
            r |= (c & 1) << (7 - j);
            g |= ((c >> 1) & 1) << (7 - j);
            b |= ((c >> 2) & 1) << (7 - j);
            c >>= 3;
        }
        palette[i][0] = (uint8_t)r;
        palette[i][1] = (uint8_t)g;
        palette[i][2] = (uint8_t)b;
    }
}

typedef struct png_wjob {
    FILE *file;
    const ds_image *im;
    int palette;  // 1: mask with the VOC palette; 0: RGB
    png_structp png;
    png_infop info;
    char msg[512];
} png_wjob;

static void on_write_error(png_structp png, png_const_charp msg) {
    png_wjob *j = png_get_error_ptr(png);
    snprintf(j->msg, sizeof j->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_write_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

// All libpng calls. Returns 0 on success, -1 with j->msg set. The only setjmp.
static int png_write_run(png_wjob *j) {
    if (setjmp(png_jmpbuf(j->png))) return -1;
    png_init_io(j->png, j->file);
    const ds_image *im = j->im;
    png_set_IHDR(j->png, j->info, (png_uint_32)im->width, (png_uint_32)im->height, 8,
                 j->palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (j->palette) {
        uint8_t pal[256][3];
        ds_voc_palette(pal);
        png_color colors[256];
        for (int i = 0; i < 256; i++) colors[i] = (png_color){pal[i][0], pal[i][1], pal[i][2]};
        png_set_PLTE(j->png, j->info, colors, 256);
    }
    png_write_info(j->png, j->info);
    const size_t row = (size_t)im->width * im->channels;
    for (int32_t y = 0; y < im->height; y++) png_write_row(j->png, im->pixels + (size_t)y * row);
    png_write_end(j->png, j->info);
    return 0;
}

static ds_status write_png(const char *path, const ds_image *im, int palette, ds_err *err) {
    const int want_c = palette ? 1 : 3;
    DS_REQUIRE(err, im->pixels != NULL && im->height >= 1 && im->width >= 1 && im->channels == want_c,
               DS_ERR_INVALID_ARG, "%s: cannot write a %s PNG from a %d x %d image with %d channels", path,
               palette ? "mask" : "RGB", (int)im->width, (int)im->height, (int)im->channels);
    const size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (tmp == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        const int e = errno;
        free(tmp);
        return ds_err_set(err, DS_ERR_IO, "%s: cannot create a temporary file next to it: %s", path, strerror(e));
    }
    png_wjob j = {.im = im, .palette = palette};
    j.file = fdopen(fd, "wb");
    ds_status st = DS_OK;
    if (j.file == NULL) {
        close(fd);
        st = ds_err_set(err, DS_ERR_IO, "%s: cannot open the temporary file: %s", path, strerror(errno));
    } else {
        j.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &j, on_write_error, on_write_warning);
        if (j.png) j.info = png_create_info_struct(j.png);
        if (j.png == NULL || j.info == NULL)
            st = ds_err_set(err, DS_ERR_OOM, "%s: out of memory for the PNG encoder", path);
        else if (png_write_run(&j) != 0)
            st = ds_err_set(err, DS_ERR_IO, "%s: PNG write failed: %s", path, j.msg);
        if (j.png) png_destroy_write_struct(&j.png, j.info ? &j.info : NULL);
        if (st == DS_OK && (fflush(j.file) != 0 || fsync(fileno(j.file)) != 0))
            st = ds_err_set(err, DS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        if (fclose(j.file) != 0 && st == DS_OK)
            st = ds_err_set(err, DS_ERR_IO, "%s: cannot close: %s", path, strerror(errno));
    }
    if (st == DS_OK && rename(tmp, path) != 0)
        st = ds_err_set(err, DS_ERR_IO, "%s: cannot rename the temporary file into place: %s", path, strerror(errno));
    if (st != DS_OK) unlink(tmp);
    free(tmp);
    return st;
}

ds_status ds_png_write_mask(const char *path, const ds_image *mask, ds_err *err) {
    return write_png(path, mask, 1, err);
}

ds_status ds_png_write_rgb(const char *path, const ds_image *rgb, ds_err *err) { return write_png(path, rgb, 0, err); }
