// The segmentation batch packer on the fixture VOC tree: a training batch holds, per example,
// exactly the transform of that example with its own Philox draws (so reordering a batch only
// moves examples) and counts the valid pixels; slots filled through the generic batch loader with
// 0 and 2 workers are byte-identical; evaluation batches pad to the largest example; errors name
// the files.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/common/batch_loader.h"
#include "../../data/image/seg_batch.h"
#include "../image_fixture.h"

typedef struct fixture {
    ds_seg_dataset data;
    ds_seg_transform_options tf;
    ds_seg_slot_layout layout;
    ds_seg_pack_args args;
} fixture;

static bool open_fixture(ds_test *t, fixture *f, const char *split, ds_seg_mode mode) {
    memset(f, 0, sizeof *f);
    char root[600];
    ds_img_fixture("voc", root, sizeof root);
    ds_seg_dataset_options o = ds_seg_dataset_default_options();
    o.num_classes = 5;
    ds_err err = {0};
    if (!ds_test_check(t, ds_seg_dataset_open_voc(root, split, &o, &f->data, &err) == DS_OK, "%s", err.msg))
        return false;
    f->tf = ds_seg_transform_defaults();
    f->tf.base_size = 24;
    f->tf.crop_size = 20;
    int32_t mh = f->tf.crop_size, mw = f->tf.crop_size;
    if (mode == DS_SEG_MODE_EVAL &&
        !ds_test_check(t, ds_seg_dataset_eval_extent(&f->data, f->tf.base_size, &mh, &mw, &err) == DS_OK, "%s",
                       err.msg))
        return false;
    if (!ds_test_check(t, ds_seg_slot_layout_make(2, mh, mw, &f->layout, &err) == DS_OK, "%s", err.msg)) return false;
    f->args = (ds_seg_pack_args){&f->data, &f->tf, mode, 42, 3, &f->layout};
    return true;
}

static void check_train(ds_test *t) {
    fixture f;
    if (!open_fixture(t, &f, "train", DS_SEG_MODE_TRAIN)) return;
    void *slot = calloc(1, f.layout.bytes), *slot2 = calloc(1, f.layout.bytes);
    const int64_t order[2] = {0, 1}, reversed[2] = {1, 0};
    ds_err err = {0};
    if (ds_test_check(t, ds_seg_pack(&f.args, 7, order, 2, slot, &err) == DS_OK, "pack: %s", err.msg) &&
        ds_test_check(t, ds_seg_pack(&f.args, 8, reversed, 2, slot2, &err) == DS_OK, "pack: %s", err.msg)) {
        const ds_seg_batch b = ds_seg_batch_view(&f.layout, slot), r = ds_seg_batch_view(&f.layout, slot2);
        const int32_t c = f.tf.crop_size;
        const size_t px = (size_t)c * c;
        ds_test_check(t, b.header->batch_index == 7 && b.header->count == 2 && b.header->height == c &&
                             b.header->width == c && b.examples[1] == 1 && b.sizes[0] == c,
                      "train header: index %lld count %d %dx%d", (long long)b.header->batch_index, b.header->count,
                      b.header->height, b.header->width);
        int64_t valid = 0;
        for (int i = 0; i < 2; i++) {
            // The example by hand: decode, draw with its key, transform.
            ds_image im, m;
            float want_im[3 * 20 * 20];
            int32_t want_m[20 * 20];
            int64_t v = 0;
            if (!ds_test_check(t, ds_seg_load_example(&f.data, (size_t)i, &im, &m, &err) == DS_OK, "%s", err.msg))
                break;
            const ds_seg_aug aug = ds_seg_draw_train(&f.tf, 42, 3, (uint64_t)i, im.height, im.width);
            ds_test_check(t, ds_seg_apply_train(&f.tf, &im, &m, &aug, want_im, want_m, &v, &err) == DS_OK, "%s",
                          err.msg);
            valid += v;
            ds_test_check(t, memcmp(b.image + (size_t)i * 3 * px, want_im, sizeof want_im) == 0 &&
                                 memcmp(b.mask + (size_t)i * px, want_m, sizeof want_m) == 0,
                          "train example %d differs from its own transform", i);
            ds_test_check(t, memcmp(r.image + (size_t)(1 - i) * 3 * px, want_im, sizeof want_im) == 0 &&
                                 memcmp(r.mask + (size_t)(1 - i) * px, want_m, sizeof want_m) == 0,
                          "train example %d changed when the batch order changed", i);
            ds_image_free(&im);
            ds_image_free(&m);
        }
        ds_test_check(t, b.header->valid_pixels == valid && r.header->valid_pixels == valid && valid > 0,
                      "valid pixels %lld, by hand %lld", (long long)b.header->valid_pixels, (long long)valid);
        ds_tensor ti, tm;
        ds_seg_batch_tensors(&b, &ti, &tm);
        ds_test_check(t, ti.ndim == 4 && ti.shape[0] == 2 && ti.shape[1] == 3 && ti.shape[3] == c && tm.ndim == 3 &&
                             tm.dtype == DS_I32 && tm.data == b.mask,
                      "batch tensors");
        // Another epoch draws other augmentations.
        ds_seg_pack_args next = f.args;
        next.epoch = 4;
        ds_test_check(t, ds_seg_pack(&next, 7, order, 2, slot2, &err) == DS_OK &&
                             memcmp(ds_seg_batch_view(&f.layout, slot2).image, b.image, 2 * 3 * px * sizeof(float)) != 0,
                      "epoch 4 packs the same images as epoch 3");
    }
    free(slot);
    free(slot2);
    ds_seg_dataset_free(&f.data);
}

// produce() for the generic loader: batch b holds examples (2b, 2b+1) mod count, in the
// segmentation packer's layout; this is what a task's produce body does.
static ds_status produce(void *user, int64_t b, void *slot, ds_err *err) {
    const fixture *f = user;
    const int64_t ex[2] = {(2 * b) % (int64_t)f->data.count, (2 * b + 1) % (int64_t)f->data.count};
    return ds_seg_pack(&f->args, b, ex, 2, slot, err);
}

static void check_loader(ds_test *t) {
    fixture f;
    if (!open_fixture(t, &f, "train", DS_SEG_MODE_TRAIN)) return;
    enum { BATCHES = 5 };
    uint8_t *seen[2][BATCHES] = {{0}};
    const int workers[2] = {0, 2};
    for (int w = 0; w < 2; w++) {
        const ds_batch_loader_options o = {.num_workers = workers[w], .slots = 2, .slot_bytes = f.layout.bytes,
                                           .produce = produce, .produce_user = &f};
        ds_batch_loader *l = NULL;
        ds_err err = {0};
        if (!ds_test_check(t, ds_batch_loader_create(&o, &l, &err) == DS_OK && 
                              ds_batch_loader_start(l, 0, BATCHES, &err) == DS_OK, "loader: %s", err.msg))
            break;
        for (int b = 0; b < BATCHES; b++) {
            ds_loaded_batch lb;
            if (!ds_test_check(t, ds_batch_loader_next(l, &lb, &err) == DS_OK, "next: %s", err.msg)) break;
            seen[w][b] = malloc(f.layout.bytes);
            memcpy(seen[w][b], lb.data, f.layout.bytes);
            ds_batch_loader_release(l, &lb);
        }
        ds_batch_loader_destroy(l);
    }
    // What a slot holds (its header and the used part of each array; the rest of the slot is
    // whatever the memory held before) is identical.
    int same = 0;
    for (int b = 0; b < BATCHES; b++) {
        if (!seen[0][b] || !seen[1][b]) continue;
        const ds_seg_batch x = ds_seg_batch_view(&f.layout, seen[0][b]), y = ds_seg_batch_view(&f.layout, seen[1][b]);
        const size_t n = (size_t)x.header->count, px = (size_t)x.header->height * x.header->width;
        same += memcmp(x.header, y.header, sizeof *x.header) == 0 &&
                memcmp(x.image, y.image, n * 3 * px * sizeof(float)) == 0 &&
                memcmp(x.mask, y.mask, n * px * sizeof(int32_t)) == 0 &&
                memcmp(x.sizes, y.sizes, n * 2 * sizeof(int32_t)) == 0 &&
                memcmp(x.examples, y.examples, n * sizeof(int64_t)) == 0 && x.header->batch_index == b;
        free(seen[0][b]);
        free(seen[1][b]);
    }
    ds_test_check(t, same == BATCHES, "0 and 2 workers: %d of %d batches identical", same, BATCHES);
    ds_seg_dataset_free(&f.data);
}

static void check_eval(ds_test *t) {
    fixture f;
    if (!open_fixture(t, &f, "train", DS_SEG_MODE_EVAL)) return;
    void *slot = calloc(1, f.layout.bytes);
    const int64_t ex[2] = {1, 0};  // b (40x40 -> 24x24) first, then a (48x64 -> 24x32)
    ds_err err = {0};
    if (ds_test_check(t, ds_seg_pack(&f.args, 0, ex, 2, slot, &err) == DS_OK, "eval pack: %s", err.msg)) {
        const ds_seg_batch b = ds_seg_batch_view(&f.layout, slot);
        const int32_t H = b.header->height, W = b.header->width;
        ds_test_check(t, H == 24 && W == 32 && b.sizes[0] == 24 && b.sizes[1] == 24 && b.sizes[2] == 24 &&
                             b.sizes[3] == 32,
                      "eval batch %d x %d, sizes (%d, %d) (%d, %d)", H, W, b.sizes[0], b.sizes[1], b.sizes[2],
                      b.sizes[3]);
        int64_t valid = 0;
        for (int i = 0; i < 2; i++) {
            ds_image im, m;
            float *want_im = malloc(sizeof(float) * 3 * (size_t)H * W);
            int32_t *want_m = malloc(sizeof(int32_t) * (size_t)H * W);
            int64_t v = 0;
            if (ds_seg_load_example(&f.data, (size_t)ex[i], &im, &m, &err) == DS_OK &&
                ds_seg_apply_eval(&f.tf, &im, &m, H, W, want_im, want_m, &v, &err) == DS_OK)
                ds_test_check(t, memcmp(b.image + (size_t)i * 3 * H * W, want_im, sizeof(float) * 3 * H * W) == 0 &&
                                     memcmp(b.mask + (size_t)i * H * W, want_m, sizeof(int32_t) * H * W) == 0,
                              "eval example %d differs from its transform in the batch frame", i);
            valid += v;
            if (i == 0) ds_test_check(t, want_m[24] == 255 && want_m[H * W - 1] == 255, "eval padding is not 255");
            ds_image_free(&im);
            ds_image_free(&m);
            free(want_im);
            free(want_m);
        }
        ds_test_check(t, b.header->valid_pixels == valid, "eval valid %lld vs %lld", (long long)b.header->valid_pixels,
                      (long long)valid);
    }
    // A slot too small for the examples.
    ds_seg_slot_layout small;
    ds_seg_slot_layout_make(2, 24, 24, &small, &err);
    ds_seg_pack_args a = f.args;
    a.layout = &small;
    const ds_status s = ds_seg_pack(&a, 0, ex, 2, slot, &err);
    ds_test_error_has(t, "eval slot too small", s, &err, DS_ERR_INVALID_ARG, "a.jpg", "eval_extent");
    free(slot);
    ds_seg_dataset_free(&f.data);
}

static void check_errors(ds_test *t) {
    fixture f;
    if (!open_fixture(t, &f, "mismatch", DS_SEG_MODE_TRAIN)) return;
    void *slot = calloc(1, f.layout.bytes);
    const int64_t ex[3] = {0, 0, 0};
    ds_err err = {0};
    ds_status s = ds_seg_pack(&f.args, 0, ex, 1, slot, &err);
    ds_test_error_has(t, "mismatched example", s, &err, DS_ERR_FORMAT, "d.jpg", "d.png");
    ds_err_clear(&err);
    s = ds_seg_pack(&f.args, 0, ex, 3, slot, &err);
    ds_test_error_has(t, "too many examples", s, &err, DS_ERR_INVALID_ARG, "3 examples", NULL);
    ds_err_clear(&err);
    const int64_t out_of_range = 5;
    s = ds_seg_pack(&f.args, 0, &out_of_range, 1, slot, &err);
    ds_test_error_has(t, "example out of range", s, &err, DS_ERR_INVALID_ARG, "example 5", NULL);
    free(slot);
    ds_seg_dataset_free(&f.data);
}

int main(void) {
    ds_test t = ds_test_begin("image_batch");
    check_train(&t);
    check_loader(&t);
    check_eval(&t);
    check_errors(&t);
    return ds_test_finish(&t);
}
