// The segmentation family's export: a directory that torchvision loads and this family reads back.
//   model.safetensors  every tensor of the block under torchvision's state_dict names, BatchNorm
//                      buffers included (num_batches_tracked a 0-d I64, as torch saves it):
//                      deeplabv3_resnet50(num_classes=K, aux_loss=aux).load_state_dict(..., strict=True)
//   config.json        {"model_type": "deeplabv3", "architecture", "depth", "width", "num_classes",
//                      "aux", "class_names", "base_size", "crop_size", "mean", "std", "ignore_index"}
//   class_names.txt    one name per line (class i on line i + 1)
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/check.h"
#include "../../io/fs.h"
#include "../../io/safetensors.h"
#include "seg_internal.h"

static ds_status write_config(const ds_deeplab_model *m, const ds_label_map *classes,
                              const ds_seg_transform_options *tf, const char *dir, ds_err *err) {
    const ds_deeplab_config *c = &m->cfg;
    cJSON *root = cJSON_CreateObject();
    DS_REQUIRE(err, root != NULL, DS_ERR_OOM, "config.json: out of memory");
    char arch[64];
    snprintf(arch, sizeof arch, "deeplabv3_resnet%d", c->depth);
    cJSON_AddStringToObject(root, "model_type", "deeplabv3");
    cJSON_AddStringToObject(root, "architecture", arch);
    cJSON_AddStringToObject(root, "framework", "torchvision");
    cJSON_AddNumberToObject(root, "depth", c->depth);
    cJSON_AddNumberToObject(root, "width", (double)c->width);
    cJSON_AddNumberToObject(root, "num_classes", (double)c->num_classes);
    cJSON_AddBoolToObject(root, "aux", c->aux);
    cJSON *names = cJSON_AddArrayToObject(root, "class_names");
    for (int32_t k = 0; names && k < classes->count; k++) cJSON_AddItemToArray(names, cJSON_CreateString(classes->names[k]));
    cJSON_AddNumberToObject(root, "base_size", tf->base_size);
    cJSON_AddNumberToObject(root, "crop_size", tf->crop_size);
    cJSON *mean = cJSON_AddArrayToObject(root, "mean"), *std = cJSON_AddArrayToObject(root, "std");
    for (int i = 0; mean && std && i < 3; i++) {
        // float32 values printed as the decimals they were given as (0.485, not 0.48500001430511475)
        cJSON_AddItemToArray(mean, cJSON_CreateNumber(round((double)tf->mean[i] * 1e7) / 1e7));
        cJSON_AddItemToArray(std, cJSON_CreateNumber(round((double)tf->std[i] * 1e7) / 1e7));
    }
    cJSON_AddNumberToObject(root, "ignore_index", DS_SEG_IGNORE);
    cJSON_AddBoolToObject(root, "frozen_bn", c->frozen_bn);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    DS_REQUIRE(err, text != NULL, DS_ERR_OOM, "config.json: out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    const size_t len = strlen(text);
    char *with_newline = malloc(len + 2);
    ds_status st = with_newline ? DS_OK : ds_err_set(err, DS_ERR_OOM, "config.json: out of memory");
    if (st == DS_OK) {
        memcpy(with_newline, text, len);
        with_newline[len] = '\n';
        st = ds_write_file_atomic(path, with_newline, len + 1, err);
    }
    free(with_newline);
    free(text);
    return st;
}

static ds_status write_names(const ds_label_map *classes, const char *dir, ds_err *err) {
    size_t len = 0;
    for (int32_t k = 0; k < classes->count; k++) len += strlen(classes->names[k]) + 1;
    char *text = malloc(len + 1);
    DS_REQUIRE(err, text != NULL, DS_ERR_OOM, "class_names.txt: out of memory");
    size_t at = 0;
    for (int32_t k = 0; k < classes->count; k++) at += (size_t)sprintf(text + at, "%s\n", classes->names[k]);
    char path[4200];
    snprintf(path, sizeof path, "%s/class_names.txt", dir);
    const ds_status st = ds_write_file_atomic(path, text, at, err);
    free(text);
    return st;
}

ds_status ds_seg_export(const ds_deeplab_model *m, const ds_label_map *classes, const ds_seg_transform_options *tf,
                        const char *dir, ds_err *err) {
    DS_TRY(ds_mkdirs(dir, err));
    const ds_param_block *pb = &m->params;
    ds_st_entry *entries = calloc((size_t)pb->count, sizeof *entries);
    DS_REQUIRE(err, entries != NULL, DS_ERR_OOM, "export: out of memory");
    for (int i = 0; i < pb->count; i++) {
        entries[i].name = pb->specs[i].name;
        entries[i].tensor = ds_param_block_param(pb, i);  // host; num_batches_tracked is 0-d I64 already
    }
    const ds_st_meta meta = {.key = "format", .value = "pt"};
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ds_status st = ds_st_write(path, entries, pb->count, &meta, 1, err);
    free(entries);
    if (st == DS_OK) st = write_config(m, classes, tf, dir, err);
    if (st == DS_OK) st = write_names(classes, dir, err);
    return st;
}
