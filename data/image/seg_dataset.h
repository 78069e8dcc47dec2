// A segmentation dataset: a list of (image, mask) file pairs and its classes, from
//   (a) a PASCAL-VOC tree: root/JPEGImages/<id>.jpg, root/SegmentationClass/<id>.png, the ids of
//       a split in root/ImageSets/Segmentation/<split>.txt (one per line; blank lines and CR
//       line ends are fine), or
//   (b) a list file of pairs: CSV or TSV with a header naming the image and mask columns ("image"
//       and "mask" by default; without a header, columns 0 and 1), or JSON Lines with those keys
//       ({"image": "...", "mask": "..."}). Relative paths resolve against the list file's folder.
// The classes are K = num_classes ids 0..K-1, optionally named (names from the caller or from a
// class-names file, one per line). Class id 255 is "ignore" (VOC's object borders), never a class.
// Nothing is decoded when the dataset opens (each file is only checked to exist);
// ds_seg_load_example decodes one pair and checks it: equal sizes, every id < K or 255.
// Reading a dataset is thread-safe (loader workers call ds_seg_load_example concurrently).
#ifndef DS_SEG_DATASET_H
#define DS_SEG_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "../common/label_map.h"
#include "image.h"

#define DS_SEG_IGNORE 255     // the mask value that marks pixels out of the loss and the metrics
#define DS_SEG_MAX_CLASSES 255  // ids 0..254: 255 is the ignore label

typedef struct ds_seg_dataset_options {
    // The classes: K names (class_names[id], K = num_classes), or NULL for unnamed ids 0..K-1.
    const char *const *class_names;
    int32_t num_classes;       // K, 1..255
    // List files: the image and mask columns (CSV/TSV header names) or keys (JSON Lines).
    const char *image_field;   // "image"
    const char *mask_field;    // "mask"
    bool has_header;           // CSV/TSV: the first row names the columns (true); false: columns 0, 1
    bool check_files;          // every file must exist when the dataset opens (true)
    // VOC trees: the file name endings.
    const char *image_ext;     // ".jpg"
    const char *mask_ext;      // ".png"
} ds_seg_dataset_options;

// The defaults above, with no classes (the caller sets num_classes or class_names).
ds_seg_dataset_options ds_seg_dataset_default_options(void);

typedef struct ds_seg_dataset {
    char *source;         // the VOC root + split, or the list file, for messages (owned)
    size_t count;         // examples
    char **images;        // (count) image paths as opened (owned)
    char **masks;         // (count) mask paths (owned)
    char **ids;           // (count) a name per example: the VOC id, else the image's file name
                          // without its folder and extension (owned)
    int32_t num_classes;  // K
    ds_label_map classes; // K names, or empty when none were given
} ds_seg_dataset;

// Opens split `split` ("train", "val", ...) of the VOC tree at `root`.
ds_status ds_seg_dataset_open_voc(const char *root, const char *split, const ds_seg_dataset_options *o,
                                  ds_seg_dataset *d, ds_err *err);

// Opens a list file; the format follows its extension: .csv, .tsv, .jsonl (or .ndjson).
ds_status ds_seg_dataset_open_list(const char *path, const ds_seg_dataset_options *o, ds_seg_dataset *d,
                                   ds_err *err);

void ds_seg_dataset_free(ds_seg_dataset *d);

// Decodes example i: the image as RGB (H, W, 3), the mask as class ids (H, W, 1). Fails (both
// left empty) when either file cannot be decoded, when their sizes differ (the message names both
// files and sizes) or when a mask value is neither < K nor 255 (the message names the mask file,
// the value, its first position and K).
ds_status ds_seg_load_example(const ds_seg_dataset *d, size_t i, ds_image *image, ds_image *mask, ds_err *err);

// Reads a class-names file: one name per line (surrounding blanks trimmed, blank lines skipped),
// line n naming class n - 1 (counting only non-blank lines); a repeated name is an error.
ds_status ds_seg_read_class_names(const char *path, ds_label_map *names, ds_err *err);

// The largest size, over every example, of the evaluation transform's output for shorter side
// `base_size` (what a slot must hold to batch evaluation): reads only the images' headers.
ds_status ds_seg_dataset_eval_extent(const ds_seg_dataset *d, int32_t base_size, int32_t *max_h, int32_t *max_w,
                                     ds_err *err);

#endif
