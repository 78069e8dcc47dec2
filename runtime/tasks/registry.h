// The model families downstream knows (runtime/tasks/task.h), and the config keys of all of them.
// Adding a family is one line in registry.c (and its folders: models/<family>/, data/<kind>/,
// runtime/tasks/<family>/).
#ifndef DS_TASK_REGISTRY_H
#define DS_TASK_REGISTRY_H

#include "../config/config.h"
#include "task.h"

// The families, in registry order (the first is task.type's default).
const ds_task_family *const *ds_task_families(int *count);

// The family called `name`, or NULL.
const ds_task_family *ds_task_family_find(const char *name);

// The family of task.type; an unknown name is a DS_ERR_CONFIG naming the known ones.
ds_status ds_task_family_of_config(const ds_config *cfg, const ds_task_family **out, ds_err *err);

// The first family whose `recognizes` accepts the model at `path`, or NULL.
const ds_task_family *ds_task_family_for_model(const char *path);

// Every config key table: the drivers' (runtime/config/config_keys.c) first, then each family's
// that has keys of its own; returns how many (<= cap).
int ds_task_config_tables(ds_config_key_table *out, int cap);

#endif
