#include "seg_dataset.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/base/check.h"
#include "../common/file_read.h"
#include "image_decode.h"
#include "resize.h"
#include "seg_dataset_internal.h"

ds_seg_dataset_options ds_seg_dataset_default_options(void) {
    ds_seg_dataset_options o = {NULL, 0, "image", "mask", true, true, ".jpg", ".png"};
    return o;
}

void ds_seg_dataset_free(ds_seg_dataset *d) {
    if (d == NULL) return;
    for (size_t i = 0; i < d->count; i++) {
        free(d->images[i]);
        free(d->masks[i]);
        free(d->ids[i]);
    }
    free(d->images);
    free(d->masks);
    free(d->ids);
    free(d->source);
    ds_label_map_free(&d->classes);
    memset(d, 0, sizeof *d);
    ds_label_map_init(&d->classes);
}

ds_status ds_seg_builder_begin(ds_seg_builder *b, ds_seg_dataset *d, const ds_seg_dataset_options *o,
                               const char *source, ds_err *err) {
    memset(d, 0, sizeof *d);
    ds_label_map_init(&d->classes);
    b->d = d;
    b->o = o;
    b->cap = 0;
    DS_REQUIRE(err, o->num_classes >= 1 && o->num_classes <= DS_SEG_MAX_CLASSES, DS_ERR_INVALID_ARG,
               "%s: %d classes; a segmentation dataset has 1..%d (255 is the ignore label)", source,
               (int)o->num_classes, DS_SEG_MAX_CLASSES);
    d->num_classes = o->num_classes;
    if (o->class_names) DS_TRY(ds_label_map_from_names(&d->classes, o->class_names, o->num_classes, "class names", err));
    d->source = strdup(source);
    DS_REQUIRE(err, d->source != NULL, DS_ERR_OOM, "%s: out of memory", source);
    return DS_OK;
}

// The file name of `path` without folder and extension ("a/b/2007_000032.jpg" -> "2007_000032").
static char *stem_of(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    const size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return strndup(base, n);
}

ds_status ds_seg_builder_add(ds_seg_builder *b, const char *image, const char *mask, const char *id, const char *where,
                             ds_err *err) {
    ds_seg_dataset *d = b->d;
    if (b->o->check_files) {
        DS_REQUIRE(err, access(image, R_OK) == 0, DS_ERR_IO, "%s: image file %s cannot be read", where, image);
        DS_REQUIRE(err, access(mask, R_OK) == 0, DS_ERR_IO, "%s: mask file %s cannot be read", where, mask);
    }
    if (d->count == b->cap) {
        const size_t cap = b->cap ? 2 * b->cap : 64;
        char **im = realloc(d->images, cap * sizeof *im);
        if (im) d->images = im;
        char **ma = realloc(d->masks, cap * sizeof *ma);
        if (ma) d->masks = ma;
        char **ids = realloc(d->ids, cap * sizeof *ids);
        if (ids) d->ids = ids;
        DS_REQUIRE(err, im && ma && ids, DS_ERR_OOM, "%s: out of memory", d->source);
        b->cap = cap;
    }
    char *a = strdup(image), *m = strdup(mask), *i = id ? strdup(id) : stem_of(image);
    if (!a || !m || !i) {
        free(a);
        free(m);
        free(i);
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", d->source);
    }
    d->images[d->count] = a;
    d->masks[d->count] = m;
    d->ids[d->count] = i;
    d->count++;
    return DS_OK;
}

char *ds_seg_resolve_path(const char *list_path, const char *rel) {
    if (rel[0] == '/') return strdup(rel);
    const char *slash = strrchr(list_path, '/');
    if (slash == NULL) return strdup(rel);
    const size_t dir = (size_t)(slash - list_path) + 1;  // keeps the slash
    char *p = malloc(dir + strlen(rel) + 1);
    if (p == NULL) return NULL;
    memcpy(p, list_path, dir);
    strcpy(p + dir, rel);
    return p;
}

ds_status ds_seg_load_example(const ds_seg_dataset *d, size_t i, ds_image *image, ds_image *mask, ds_err *err) {
    memset(image, 0, sizeof *image);
    memset(mask, 0, sizeof *mask);
    DS_REQUIRE(err, i < d->count, DS_ERR_INVALID_ARG, "%s: example %zu of %zu", d->source, i, d->count);
    DS_TRY(ds_image_load_rgb(d->images[i], image, err));
    ds_status st = ds_mask_load(d->masks[i], mask, err);
    if (st == DS_OK && (image->height != mask->height || image->width != mask->width))
        st = ds_err_set(err, DS_ERR_FORMAT, "image %s is %d x %d but its mask %s is %d x %d (width x height)",
                        d->images[i], (int)image->width, (int)image->height, d->masks[i], (int)mask->width,
                        (int)mask->height);
    if (st == DS_OK) {
        const int64_t n = (int64_t)mask->height * mask->width;
        for (int64_t p = 0; p < n; p++) {
            const uint8_t v = mask->pixels[p];
            if (v < d->num_classes || v == DS_SEG_IGNORE) continue;
            st = ds_err_set(err, DS_ERR_FORMAT,
                            "%s: class id %d at (row %lld, column %lld) is not below the %d classes (0..%d) nor the "
                            "ignore label 255",
                            d->masks[i], v, (long long)(p / mask->width), (long long)(p % mask->width),
                            (int)d->num_classes, (int)d->num_classes - 1);
            break;
        }
    }
    if (st != DS_OK) {
        ds_image_free(image);
        ds_image_free(mask);
    }
    return st;
}

ds_status ds_seg_read_class_names(const char *path, ds_label_map *names, ds_err *err) {
    ds_label_map_init(names);
    char *text = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &text, &size, err));
    char **list = NULL;
    int32_t count = 0, cap = 0;
    ds_status st = DS_OK;
    char *start = size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? text + 3 : text;  // a UTF-8 BOM
    for (char *line = start; st == DS_OK && line < text + size;) {
        char *end = memchr(line, '\n', (size_t)(text + size - line));
        if (end == NULL) end = text + size;
        char *next = end + 1;
        while (line < end && isspace((unsigned char)*line)) line++;
        while (end > line && isspace((unsigned char)end[-1])) end--;
        if (end > line) {
            if (count == cap) {
                cap = cap ? 2 * cap : 32;
                char **l = realloc(list, (size_t)cap * sizeof *l);
                if (l == NULL) {
                    st = ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
                    break;
                }
                list = l;
            }
            *end = '\0';
            list[count++] = line;
        }
        line = next;
    }
    if (st == DS_OK && count == 0) st = ds_err_set(err, DS_ERR_FORMAT, "%s: no class names in the file", path);
    if (st == DS_OK) {
        char what[600];
        snprintf(what, sizeof what, "%s", path);
        st = ds_label_map_from_names(names, (const char *const *)list, count, what, err);
    }
    free(list);
    free(text);
    return st;
}

ds_status ds_seg_dataset_eval_extent(const ds_seg_dataset *d, int32_t base_size, int32_t *max_h, int32_t *max_w,
                                     ds_err *err) {
    *max_h = *max_w = 0;
    for (size_t i = 0; i < d->count; i++) {
        int32_t h, w, oh, ow;
        DS_TRY(ds_image_probe(d->images[i], &h, &w, err));
        ds_resize_shorter_side(h, w, base_size, &oh, &ow);
        if (oh > *max_h) *max_h = oh;
        if (ow > *max_w) *max_w = ow;
    }
    return DS_OK;
}
