// The PASCAL-VOC layout: ids from root/ImageSets/Segmentation/<split>.txt, files
// root/JPEGImages/<id><image_ext> and root/SegmentationClass/<id><mask_ext>.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/file_read.h"
#include "seg_dataset_internal.h"

static char *join3(const char *a, const char *b, const char *c, const char *d) {
    const size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s%s", a, b, c, d);
    return p;
}

static ds_status add_ids(ds_seg_builder *b, const char *root, const char *list_path, char *text, size_t size,
                         ds_err *err) {
    const ds_seg_dataset_options *o = b->o;
    long line_no = 0;
    for (char *line = text; line < text + size;) {
        char *end = memchr(line, '\n', (size_t)(text + size - line));
        if (end == NULL) end = text + size;
        char *next = end + 1;
        line_no++;
        while (line < end && isspace((unsigned char)*line)) line++;
        while (end > line && isspace((unsigned char)end[-1])) end--;  // CR of CRLF too
        if (end > line) {
            *end = '\0';
            for (const char *c = line; *c; c++)
                DS_REQUIRE(err, !isspace((unsigned char)*c) && *c != '/', DS_ERR_FORMAT,
                           "%s:%ld: '%s' is not an image id (one id per line, no blanks or slashes)", list_path,
                           line_no, line);
            char where[700];
            snprintf(where, sizeof where, "%s:%ld", list_path, line_no);
            char *image = join3(root, "/JPEGImages/", line, o->image_ext);
            char *mask = join3(root, "/SegmentationClass/", line, o->mask_ext);
            ds_status st = image && mask ? ds_seg_builder_add(b, image, mask, line, where, err)
                                         : ds_err_set(err, DS_ERR_OOM, "%s: out of memory", list_path);
            free(image);
            free(mask);
            DS_TRY(st);
        }
        line = next;
    }
    DS_REQUIRE(err, b->d->count > 0, DS_ERR_FORMAT, "%s: no image ids in the split file", list_path);
    return DS_OK;
}

ds_status ds_seg_dataset_open_voc(const char *root, const char *split, const ds_seg_dataset_options *o,
                                  ds_seg_dataset *d, ds_err *err) {
    memset(d, 0, sizeof *d);
    DS_REQUIRE(err, split[0] && !strchr(split, '/'), DS_ERR_INVALID_ARG,
               "%s: VOC split name '%s' must be a plain name such as train or val", root, split);
    char *list_path = join3(root, "/ImageSets/Segmentation/", split, ".txt");
    if (list_path == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", root);
    ds_seg_builder b;
    ds_status st = ds_seg_builder_begin(&b, d, o, list_path, err);
    char *text = NULL;
    size_t size = 0;
    if (st == DS_OK) st = ds_read_whole_file(list_path, &text, &size, err);
    if (st == DS_OK) st = add_ids(&b, root, list_path, text, size, err);
    free(text);
    free(list_path);
    if (st != DS_OK) ds_seg_dataset_free(d);
    return st;
}
