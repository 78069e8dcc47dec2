// Packing segmentation examples into one contiguous batch slot: the body of a batch loader's
// produce() (data/common/batch_loader.h) for a segmentation task. A slot holds a header, then
// the image tensor (n, 3, H, W) F32, the mask tensor (n, H, W) I32 (255 = ignore), each
// example's size before padding and its dataset index, each array 64-byte aligned.
//
// Training: every example goes through the training transform with its own Philox draws keyed
// by (seed, epoch, dataset index), so a batch's bytes depend only on which examples it holds,
// never on the worker that packs it; H = W = crop_size.
// Evaluation: the eval transform (shorter side to base_size); H, W = the largest resized size in
// the batch, smaller examples padded right and bottom (image 0 before normalisation, mask 255).
// With one example per batch this is torchvision's evaluation exactly; with more, the padding
// is only ignored pixels for the metrics, but a model sees it at the borders.
#ifndef DS_SEG_BATCH_H
#define DS_SEG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"
#include "../../runtime/base/tensor.h"
#include "seg_dataset.h"
#include "seg_transform.h"

typedef enum ds_seg_mode { DS_SEG_MODE_TRAIN = 0, DS_SEG_MODE_EVAL = 1 } ds_seg_mode;

// Where the arrays sit in a slot with room for `batch` examples of up to max_h x max_w.
typedef struct ds_seg_slot_layout {
    int32_t batch;           // N: examples a slot holds at most
    int32_t max_h, max_w;    // per example: train crop x crop; eval ds_seg_dataset_eval_extent()
    size_t off_image;        // (N, 3, max_h, max_w) F32 room; the batch uses (n, 3, H, W) of it, packed
    size_t off_mask;         // (N, max_h, max_w) I32 room; the batch uses (n, H, W), packed
    size_t off_sizes;        // (N, 2) I32: each example's (h, w) before padding
    size_t off_examples;     // (N) I64: each example's dataset index
    size_t bytes;            // the slot size (ds_batch_loader_options.slot_bytes)
} ds_seg_slot_layout;

ds_status ds_seg_slot_layout_make(int32_t batch, int32_t max_h, int32_t max_w, ds_seg_slot_layout *l, ds_err *err);

// The slot's first bytes.
typedef struct ds_seg_batch_header {
    int64_t batch_index;    // as given to ds_seg_pack
    int64_t valid_pixels;   // mask entries != 255 in the whole batch: the loss's weight
    int32_t count;          // n examples
    int32_t height, width;  // H, W of this batch's tensors
} ds_seg_batch_header;

// Views of a packed slot (pointers into it).
typedef struct ds_seg_batch {
    const ds_seg_batch_header *header;
    float *image;        // (n, 3, H, W) F32 host, normalised
    int32_t *mask;       // (n, H, W) I32 host, class ids, 255 = ignore
    int32_t *sizes;      // (n, 2) I32: (h, w) of each example before padding (train: crop, crop)
    int64_t *examples;   // (n) dataset indices
} ds_seg_batch;

ds_seg_batch ds_seg_batch_view(const ds_seg_slot_layout *l, void *slot);

// CPU tensor descriptors of a packed batch: image (n, 3, H, W) F32, mask (n, H, W) I32.
void ds_seg_batch_tensors(const ds_seg_batch *b, ds_tensor *image, ds_tensor *mask);

typedef struct ds_seg_pack_args {
    const ds_seg_dataset *data;
    const ds_seg_transform_options *transform;
    ds_seg_mode mode;
    uint64_t seed;   // training: the Philox key of the augmentation
    uint64_t epoch;  // training: selects the epoch's stream
    const ds_seg_slot_layout *layout;
} ds_seg_pack_args;

// Packs the dataset examples examples[0, n) (1 <= n <= layout batch) into `slot` (layout->bytes,
// host) as batch `batch_index`. Thread-safe: reads the dataset and options only. A decode or
// check failure names the example's files; an eval batch larger than the layout's extent is
// DS_ERR_INVALID_ARG.
ds_status ds_seg_pack(const ds_seg_pack_args *a, int64_t batch_index, const int64_t *examples, int32_t n, void *slot,
                      ds_err *err);

#endif
