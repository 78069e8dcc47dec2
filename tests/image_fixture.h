// Helpers shared by tests/cpu/test_image_*.c: the fixtures of scripts/fixtures/image_data.py
// under tests/fixtures/images/ (JSON settings, safetensors of PIL/torchvision outputs) and
// pixel comparisons that report how far apart two u8 images are.
#ifndef DS_TEST_IMAGE_FIXTURE_H
#define DS_TEST_IMAGE_FIXTURE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "../data/image/image.h"
#include "../runtime/io/safetensors.h"
#include "test_util.h"

// "<source>/tests/fixtures/images/<rel>" into buf; returns buf.
const char *ds_img_fixture(const char *rel, char *buf, size_t cap);

// Parses tests/fixtures/images/<rel>; NULL (and a failed check) when unreadable. cJSON_Delete it.
cJSON *ds_img_fixture_json(ds_test *t, const char *rel);

// Opens tests/fixtures/images/<rel> (a safetensors file); false (and a failed check) on failure.
bool ds_img_fixture_open(ds_test *t, const char *rel, ds_st_file *f);

// The tensor `name` of dtype `dtype`; .data NULL (and a failed check) when missing or mistyped.
ds_tensor ds_img_fixture_get(ds_test *t, const ds_st_file *f, const char *name, ds_dtype dtype);

// How two u8 buffers of n bytes differ.
typedef struct ds_u8_diff {
    int max;          // max |a - b|
    double mean;      // mean |a - b|
    int64_t differ;   // elements that are not equal
    int64_t n;
} ds_u8_diff;
ds_u8_diff ds_u8_compare(const uint8_t *a, const uint8_t *b, int64_t n);

// Checks that image `got` has the shape of `want` ((H, W, C) or (H, W) U8) and differs from it
// by at most `max_tol` per sample; prints the difference. Returns the difference.
ds_u8_diff ds_test_image_close(ds_test *t, const char *what, const ds_image *got, const ds_tensor *want, int max_tol);

// Checks that an error happened with `status` and that its message holds every non-NULL needle.
bool ds_test_error_has(ds_test *t, const char *what, ds_status got, const ds_err *err, ds_status want,
                       const char *needle1, const char *needle2);

#endif
