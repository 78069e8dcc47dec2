#include "seg_batch.h"

#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "image.h"

#define SLOT_ALIGN ((size_t)64)

static size_t align_up(size_t x) { return (x + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN; }

ds_status ds_seg_slot_layout_make(int32_t batch, int32_t max_h, int32_t max_w, ds_seg_slot_layout *l, ds_err *err) {
    memset(l, 0, sizeof *l);
    DS_REQUIRE(err, batch >= 1 && max_h >= 1 && max_w >= 1 && (int64_t)max_h * max_w <= DS_IMAGE_MAX_PIXELS,
               DS_ERR_INVALID_ARG, "segmentation batch: %d examples of %d x %d pixels", (int)batch, (int)max_w,
               (int)max_h);
    const size_t px = (size_t)max_h * max_w;
    l->batch = batch;
    l->max_h = max_h;
    l->max_w = max_w;
    l->off_image = align_up(sizeof(ds_seg_batch_header));
    l->off_mask = l->off_image + align_up((size_t)batch * 3 * px * sizeof(float));
    l->off_sizes = l->off_mask + align_up((size_t)batch * px * sizeof(int32_t));
    l->off_examples = l->off_sizes + align_up((size_t)batch * 2 * sizeof(int32_t));
    l->bytes = l->off_examples + align_up((size_t)batch * sizeof(int64_t));
    return DS_OK;
}

ds_seg_batch ds_seg_batch_view(const ds_seg_slot_layout *l, void *slot) {
    char *base = slot;
    ds_seg_batch b = {(const ds_seg_batch_header *)base, (float *)(base + l->off_image),
                      (int32_t *)(base + l->off_mask), (int32_t *)(base + l->off_sizes),
                      (int64_t *)(base + l->off_examples)};
    return b;
}

void ds_seg_batch_tensors(const ds_seg_batch *b, ds_tensor *image, ds_tensor *mask) {
    const ds_seg_batch_header *h = b->header;
    *image = ds_tensor_cpu4(b->image, DS_F32, h->count, 3, h->height, h->width);
    *mask = ds_tensor_cpu3(b->mask, DS_I32, h->count, h->height, h->width);
}

static ds_status pack_train(const ds_seg_pack_args *a, const int64_t *examples, int32_t n, ds_seg_batch *b,
                            ds_seg_batch_header *h, ds_err *err) {
    const int32_t crop = a->transform->crop_size;
    DS_REQUIRE(err, crop <= a->layout->max_h && crop <= a->layout->max_w, DS_ERR_INVALID_ARG,
               "segmentation batch: crop %d does not fit the slot's %d x %d", (int)crop, (int)a->layout->max_w,
               (int)a->layout->max_h);
    h->height = h->width = crop;
    const size_t px = (size_t)crop * crop;
    for (int32_t i = 0; i < n; i++) {
        ds_image im, m;
        DS_TRY(ds_seg_load_example(a->data, (size_t)examples[i], &im, &m, err));
        const ds_seg_aug aug = ds_seg_draw_train(a->transform, a->seed, a->epoch, (uint64_t)examples[i], im.height,
                                                 im.width);
        int32_t rh, rw, ph, pw;
        ds_seg_train_geometry(a->transform, im.height, im.width, aug.size, &rh, &rw, &ph, &pw);
        if ((int64_t)rh * rw > DS_IMAGE_MAX_PIXELS) {
            ds_image_free(&im);
            ds_image_free(&m);
            return ds_err_set(err, DS_ERR_INVALID_ARG,
                              "%s: %d x %d resized to shorter side %d exceeds the %lld-pixel limit (aspect ratio too "
                              "extreme)",
                              a->data->images[examples[i]], (int)im.width, (int)im.height, (int)aug.size,
                              (long long)DS_IMAGE_MAX_PIXELS);
        }
        int64_t valid = 0;
        const ds_status st =
            ds_seg_apply_train(a->transform, &im, &m, &aug, b->image + (size_t)i * 3 * px, b->mask + (size_t)i * px,
                               &valid, err);
        ds_image_free(&im);
        ds_image_free(&m);
        DS_TRY(st);
        h->valid_pixels += valid;
        b->sizes[2 * i] = crop;
        b->sizes[2 * i + 1] = crop;
    }
    return DS_OK;
}

static ds_status pack_eval(const ds_seg_pack_args *a, const int64_t *examples, int32_t n, ds_seg_batch *b,
                           ds_seg_batch_header *h, ds_err *err) {
    // Every example is decoded first: the batch's frame is the largest resized size among them.
    ds_image *ims = calloc((size_t)n, sizeof *ims), *ms = calloc((size_t)n, sizeof *ms);
    ds_status st = ims && ms ? DS_OK : ds_err_set(err, DS_ERR_OOM, "segmentation batch: out of memory");
    for (int32_t i = 0; i < n && st == DS_OK; i++) {
        st = ds_seg_load_example(a->data, (size_t)examples[i], &ims[i], &ms[i], err);
        if (st != DS_OK) break;
        int32_t oh, ow;
        ds_seg_eval_size(a->transform, ims[i].height, ims[i].width, &oh, &ow);
        if (oh > a->layout->max_h || ow > a->layout->max_w)  // also catches absurd aspect ratios
            st = ds_err_set(err, DS_ERR_INVALID_ARG,
                            "%s: resized for evaluation to %d x %d, larger than the batch slot's %d x %d (width x "
                            "height); size slots with ds_seg_dataset_eval_extent",
                            a->data->images[examples[i]], (int)ow, (int)oh, (int)a->layout->max_w,
                            (int)a->layout->max_h);
        b->sizes[2 * i] = oh;
        b->sizes[2 * i + 1] = ow;
        if (oh > h->height) h->height = oh;
        if (ow > h->width) h->width = ow;
    }
    const size_t px = (size_t)h->height * h->width;
    for (int32_t i = 0; i < n && st == DS_OK; i++) {
        int64_t valid = 0;
        st = ds_seg_apply_eval(a->transform, &ims[i], &ms[i], h->height, h->width, b->image + (size_t)i * 3 * px,
                               b->mask + (size_t)i * px, &valid, err);
        h->valid_pixels += valid;
    }
    for (int32_t i = 0; ims && ms && i < n; i++) {
        ds_image_free(&ims[i]);
        ds_image_free(&ms[i]);
    }
    free(ims);
    free(ms);
    return st;
}

ds_status ds_seg_pack(const ds_seg_pack_args *a, int64_t batch_index, const int64_t *examples, int32_t n, void *slot,
                      ds_err *err) {
    DS_REQUIRE(err, n >= 1 && n <= a->layout->batch, DS_ERR_INVALID_ARG,
               "segmentation batch: %d examples for a slot of %d", (int)n, (int)a->layout->batch);
    for (int32_t i = 0; i < n; i++)
        DS_REQUIRE(err, examples[i] >= 0 && (size_t)examples[i] < a->data->count, DS_ERR_INVALID_ARG,
                   "%s: example %lld of %zu", a->data->source, (long long)examples[i], a->data->count);
    ds_seg_batch b = ds_seg_batch_view(a->layout, slot);
    ds_seg_batch_header h;
    memset(&h, 0, sizeof h);  // its padding too: a slot's header bytes depend only on the batch
    h.batch_index = batch_index;
    h.count = n;
    memcpy(b.examples, examples, (size_t)n * sizeof *examples);
    const ds_status st = a->mode == DS_SEG_MODE_TRAIN ? pack_train(a, examples, n, &b, &h, err)
                                                      : pack_eval(a, examples, n, &b, &h, err);
    memcpy(slot, &h, sizeof h);
    return st;
}
