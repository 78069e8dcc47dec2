// Building a ds_seg_dataset: shared by the VOC and list-file readers.
#ifndef DS_SEG_DATASET_INTERNAL_H
#define DS_SEG_DATASET_INTERNAL_H

#include "seg_dataset.h"

typedef struct ds_seg_builder {
    ds_seg_dataset *d;
    const ds_seg_dataset_options *o;
    size_t cap;
} ds_seg_builder;

// Empties *d, checks the options and sets the classes and the source name.
ds_status ds_seg_builder_begin(ds_seg_builder *b, ds_seg_dataset *d, const ds_seg_dataset_options *o,
                               const char *source, ds_err *err);

// Adds one example (copies the strings); `where` ("list.csv:7") names its origin in messages
// about missing files.
ds_status ds_seg_builder_add(ds_seg_builder *b, const char *image, const char *mask, const char *id, const char *where,
                             ds_err *err);

// "<folder of list_path>/<rel>" into a new string, or a copy of rel when it is absolute.
char *ds_seg_resolve_path(const char *list_path, const char *rel);

#endif
