// Segmentation datasets on the fixture tree (scripts/fixtures/image_data.py): the VOC layout
// (split files with LF and CRLF ends and blank lines), CSV / TSV / JSON Lines / headerless list
// files resolving relative paths against their folder, class-names files, example loading with
// its checks (mask size mismatch naming both files, class id >= K naming the file, the id and K),
// the evaluation extent, and every user error naming its file.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/image/seg_dataset.h"
#include "../image_fixture.h"

// Same file? (realpath of both: list files reach the tree through "lists/../voc/...").
static bool same_file(const char *a, const char *b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

static ds_seg_dataset_options options(int32_t k) {
    ds_seg_dataset_options o = ds_seg_dataset_default_options();
    o.num_classes = k;
    return o;
}

// The dataset holds exactly the examples of `want` (a JSON list of {"image", "mask"} relative
// to tests/fixtures/images/).
static void check_examples(ds_test *t, const char *what, const ds_seg_dataset *d, const cJSON *want) {
    if (!ds_test_check(t, (int)d->count == cJSON_GetArraySize(want), "%s: %zu examples, want %d", what, d->count,
                       cJSON_GetArraySize(want)))
        return;
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, want) {
        char wi[600], wm[600];
        ds_img_fixture(cJSON_GetObjectItem(e, "image")->valuestring, wi, sizeof wi);
        ds_img_fixture(cJSON_GetObjectItem(e, "mask")->valuestring, wm, sizeof wm);
        ds_test_check(t, same_file(d->images[i], wi) && same_file(d->masks[i], wm), "%s: example %zu is %s, %s", what,
                      i, d->images[i], d->masks[i]);
        i++;
    }
}

static void check_voc(ds_test *t, const cJSON *expected) {
    char root[600];
    ds_img_fixture("voc", root, sizeof root);
    const ds_seg_dataset_options o = options(5);
    const char *splits[] = {"train", "val"};
    for (int s = 0; s < 2; s++) {
        ds_seg_dataset d;
        ds_err err = {0};
        if (!ds_test_check(t, ds_seg_dataset_open_voc(root, splits[s], &o, &d, &err) == DS_OK, "voc %s: %s", splits[s],
                           err.msg))
            continue;
        check_examples(t, splits[s], &d, cJSON_GetObjectItem(cJSON_GetObjectItem(expected, "voc"), splits[s]));
        for (size_t i = 0; i < d.count; i++) {
            ds_image im, m;
            const cJSON *size = cJSON_GetObjectItem(
                cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(expected, "voc"), splits[s]), (int)i),
                "size");
            if (ds_test_check(t, ds_seg_load_example(&d, i, &im, &m, &err) == DS_OK, "voc %s[%zu]: %s", splits[s], i,
                              err.msg))
                ds_test_check(t, im.height == cJSON_GetArrayItem(size, 0)->valueint &&
                                     im.width == cJSON_GetArrayItem(size, 1)->valueint && im.channels == 3 &&
                                     m.channels == 1,
                              "voc %s[%zu]: decoded %d x %d", splits[s], i, im.width, im.height);
            ds_image_free(&im);
            ds_image_free(&m);
        }
        if (s == 0) {
            ds_test_check(t, strcmp(d.ids[0], "a") == 0 && strcmp(d.ids[1], "b") == 0, "voc ids %s %s", d.ids[0],
                          d.ids[1]);
            int32_t mh = 0, mw = 0;
            ds_test_check(t, ds_seg_dataset_eval_extent(&d, 24, &mh, &mw, &err) == DS_OK && mh == 24 && mw == 32,
                          "eval extent for base 24: %d x %d (want 24 x 32) %s", mh, mw, err.msg);
        }
        ds_seg_dataset_free(&d);
    }
}

// Loading example 0 of split `split` fails with `status` and a message holding both needles.
static void expect_load_error(ds_test *t, const char *split, int32_t k, ds_status status, const char *n1,
                              const char *n2) {
    char root[600];
    ds_img_fixture("voc", root, sizeof root);
    const ds_seg_dataset_options o = options(k);
    ds_seg_dataset d;
    ds_err err = {0};
    if (!ds_test_check(t, ds_seg_dataset_open_voc(root, split, &o, &d, &err) == DS_OK, "voc %s: %s", split, err.msg))
        return;
    ds_image im, m;
    const ds_status s = ds_seg_load_example(&d, 0, &im, &m, &err);
    ds_test_error_has(t, split, s, &err, status, n1, n2);
    ds_test_check(t, im.pixels == NULL && m.pixels == NULL, "%s: a failed load left images behind", split);
    ds_seg_dataset_free(&d);
}

static void check_lists(ds_test *t, const cJSON *expected) {
    const char *files[] = {"pairs.csv", "pairs.tsv", "pairs.jsonl", "headerless.csv"};
    const cJSON *paths = cJSON_GetObjectItem(expected, "list_paths");
    for (int f = 0; f < 4; f++) {
        char rel[64], path[600];
        snprintf(rel, sizeof rel, "lists/%s", files[f]);
        ds_img_fixture(rel, path, sizeof path);
        ds_seg_dataset_options o = options(5);
        o.has_header = f != 3;
        ds_seg_dataset d;
        ds_err err = {0};
        if (!ds_test_check(t, ds_seg_dataset_open_list(path, &o, &d, &err) == DS_OK, "%s: %s", files[f], err.msg))
            continue;
        const int want_n = cJSON_GetObjectItem(cJSON_GetObjectItem(expected, "lists"), files[f])->valueint;
        cJSON *want = cJSON_CreateArray();
        for (int i = 0; i < want_n; i++) cJSON_AddItemReferenceToArray(want, cJSON_GetArrayItem(paths, i));
        check_examples(t, files[f], &d, want);
        cJSON_Delete(want);
        ds_test_check(t, d.count > 0 && strcmp(d.ids[0], "a") == 0, "%s: id of the first example '%s'", files[f],
                      d.count ? d.ids[0] : "");
        ds_seg_dataset_free(&d);
    }
}

static void expect_open_error(ds_test *t, const char *list, const ds_seg_dataset_options *o, ds_status status,
                              const char *n1, const char *n2) {
    char rel[128], path[600];
    snprintf(rel, sizeof rel, "lists/%s", list);
    ds_img_fixture(rel, path, sizeof path);
    ds_seg_dataset d;
    ds_err err = {0};
    const ds_status s = ds_seg_dataset_open_list(path, o, &d, &err);
    ds_test_error_has(t, list, s, &err, status, n1, n2);
    ds_test_check(t, d.count == 0 && d.images == NULL, "%s: a failed open left examples behind", list);
    ds_seg_dataset_free(&d);
}

static void check_errors(ds_test *t) {
    expect_load_error(t, "mismatch", 5, DS_ERR_FORMAT, "JPEGImages/d.jpg is 44 x 30", "SegmentationClass/d.png is 46 x 30");
    expect_load_error(t, "bad_class", 5, DS_ERR_FORMAT, "SegmentationClass/e.png: class id 9", "5 classes");
    // K = 3: the fixture masks hold ids up to 4.
    expect_load_error(t, "train", 3, DS_ERR_FORMAT, "SegmentationClass/a.png: class id", "3 classes");
    const ds_seg_dataset_options o = options(5);
    expect_open_error(t, "missing_file.csv", &o, DS_ERR_IO, "missing_file.csv:2", "zz.jpg");
    expect_open_error(t, "no_mask_column.csv", &o, DS_ERR_FORMAT, "no_mask_column.csv:1", "'mask'");
    expect_open_error(t, "../voc/class_names.txt", &o, DS_ERR_INVALID_ARG, "class_names.txt", ".jsonl");
    ds_seg_dataset_options zero = options(0);
    expect_open_error(t, "pairs.csv", &zero, DS_ERR_INVALID_ARG, "pairs.csv", "0 classes");
    const char *two_names[] = {"bg", "bg"};
    ds_seg_dataset_options dup = options(2);
    dup.class_names = two_names;
    expect_open_error(t, "pairs.csv", &dup, DS_ERR_INVALID_ARG, "bg", NULL);
    char root[600];
    ds_img_fixture("voc", root, sizeof root);
    ds_seg_dataset d;
    ds_err err = {0};
    ds_status s = ds_seg_dataset_open_voc(root, "test", &o, &d, &err);
    ds_test_error_has(t, "missing split", s, &err, DS_ERR_IO, "ImageSets/Segmentation/test.txt", NULL);
    ds_err_clear(&err);
    s = ds_seg_dataset_open_voc(root, "../x", &o, &d, &err);
    ds_test_error_has(t, "bad split name", s, &err, DS_ERR_INVALID_ARG, "../x", NULL);
}

static void check_class_names(ds_test *t, const cJSON *expected) {
    char path[600];
    ds_img_fixture("voc/class_names.txt", path, sizeof path);
    ds_label_map m;
    ds_err err = {0};
    if (!ds_test_check(t, ds_seg_read_class_names(path, &m, &err) == DS_OK, "class names: %s", err.msg)) return;
    const cJSON *want = cJSON_GetObjectItem(expected, "classes");
    int bad = m.count != cJSON_GetArraySize(want);
    for (int i = 0; !bad && i < m.count; i++) bad += strcmp(m.names[i], cJSON_GetArrayItem(want, i)->valuestring) != 0;
    ds_test_check(t, bad == 0, "class names differ from datasets.json");
    // Names given to a dataset become its label map.
    ds_seg_dataset_options o = options(m.count);
    o.class_names = (const char *const *)m.names;
    char root[600];
    ds_img_fixture("voc", root, sizeof root);
    ds_seg_dataset d;
    if (ds_test_check(t, ds_seg_dataset_open_voc(root, "val", &o, &d, &err) == DS_OK, "voc with names: %s", err.msg))
        ds_test_check(t, d.classes.count == 5 && strcmp(d.classes.names[1], "disc") == 0, "dataset class names");
    ds_seg_dataset_free(&d);
    ds_label_map_free(&m);
    ds_img_fixture("bad/empty.png", path, sizeof path);
    const ds_status s = ds_seg_read_class_names(path, &m, &err);
    ds_test_error_has(t, "empty names file", s, &err, DS_ERR_FORMAT, "empty.png", "no class names");
}

int main(void) {
    ds_test t = ds_test_begin("image_dataset");
    cJSON *expected = ds_img_fixture_json(&t, "datasets.json");
    if (expected) {
        check_voc(&t, expected);
        check_lists(&t, expected);
        check_class_names(&t, expected);
    }
    check_errors(&t);
    cJSON_Delete(expected);
    return ds_test_finish(&t);
}
