#include "registry.h"

#include <stdio.h>
#include <string.h>

#include "../base/check.h"
#include "segmentation/seg_family.h"
#include "speech/speech_family.h"
#include "text/text_family.h"

// The registry: one line per family; the first is task.type's default.
static const ds_task_family *const k_families[] = {
    &ds_text_task_family,
    &ds_seg_task_family,
    &ds_speech_task_family,
};
#define FAMILY_COUNT ((int)(sizeof k_families / sizeof k_families[0]))

const ds_task_family *const *ds_task_families(int *count) {
    *count = FAMILY_COUNT;
    return k_families;
}

const ds_task_family *ds_task_family_find(const char *name) {
    for (int i = 0; i < FAMILY_COUNT; i++)
        if (strcmp(k_families[i]->name, name) == 0) return k_families[i];
    return NULL;
}

ds_status ds_task_family_of_config(const ds_config *cfg, const ds_task_family **out, ds_err *err) {
    const char *name = ds_config_str(cfg, "task.type");
    *out = ds_task_family_find(name);
    if (*out) return DS_OK;
    char known[512] = "";
    size_t n = 0;
    for (int i = 0; i < FAMILY_COUNT && n < sizeof known; i++)
        n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", k_families[i]->name);
    return ds_err_set(err, DS_ERR_CONFIG, "task.type '%s' is not a model family downstream knows: %s", name, known);
}

const ds_task_family *ds_task_family_for_model(const char *path) {
    for (int i = 0; i < FAMILY_COUNT; i++)
        if (k_families[i]->recognizes && k_families[i]->recognizes(path)) return k_families[i];
    return NULL;
}

int ds_task_config_tables(ds_config_key_table *out, int cap) {
    int n = 0;
    if (n < cap) {
        out[n].title = "";
        out[n].keys = ds_config_keys(&out[n].count);
        n++;
    }
    for (int i = 0; i < FAMILY_COUNT && n < cap; i++) {
        int count = 0;
        const ds_config_key *keys = k_families[i]->config_keys ? k_families[i]->config_keys(&count) : NULL;
        if (!keys || count == 0) continue;
        out[n].title = k_families[i]->name;
        out[n].keys = keys;
        out[n].count = count;
        n++;
    }
    return n;
}
