// The mapping between class labels (strings as they appear in the data) and class ids 0..K-1.
//
// The mapping a model was trained with is part of the model: save the training set's map next
// to the checkpoint (ds_label_map_to_json gives the "id2label"/"label2id" pair of HF's
// config.json) and load dev/test/predict data with that same map (its names as the explicit
// label list of ds_text_dataset_options), never with one discovered from those files, whose
// order of first appearance may differ.
#ifndef DS_LABEL_MAP_H
#define DS_LABEL_MAP_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"

typedef struct ds_label_map {
    int32_t count;   // K
    char **names;    // (K) NUL-terminated UTF-8, owned; names[id] is the label of class id
    int32_t *slots;  // (slot_count) open-addressing hash index: a class id, or -1 when empty
    size_t slot_count;
} ds_label_map;

// An empty map (no allocation).
void ds_label_map_init(ds_label_map *m);
void ds_label_map_free(ds_label_map *m);

// The id of name[0, len), or -1 when the map lacks it.
int32_t ds_label_map_find(const ds_label_map *m, const char *name, size_t len);

// The id of name[0, len), adding it as id K when new (*added = 1 then; added may be NULL).
ds_status ds_label_map_intern(ds_label_map *m, const char *name, size_t len, int32_t *id, int *added, ds_err *err);

// A map from an explicit list: names[i] gets id i. A repeated or empty name is an error
// (DS_ERR_INVALID_ARG) whose message starts with `what` (NULL: "label list").
ds_status ds_label_map_from_names(ds_label_map *m, const char *const *names, int32_t count, const char *what,
                                  ds_err *err);

// *dst = a deep copy of *src.
ds_status ds_label_map_copy(ds_label_map *dst, const ds_label_map *src, ds_err *err);

// {"id2label": {"0": "neg", "1": "pos"}, "label2id": {"neg": 0, "pos": 1}}, HF config.json style
// (JSON object keys are strings, so ids appear as decimal strings in id2label). The caller
// owns *out (cJSON_Delete).
ds_status ds_label_map_to_json(const ds_label_map *m, cJSON **out, ds_err *err);

// Reads the object above (e.g. a checkpoint's config.json). id2label is required and must name
// every id 0..K-1 exactly once with distinct, non-empty names; label2id, when present, must be
// its exact inverse. `what` names the source in messages. *m is initialised here.
ds_status ds_label_map_from_json(const cJSON *obj, const char *what, ds_label_map *m, ds_err *err);

#endif
