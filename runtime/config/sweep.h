// Hyperparameter sweeps, one run per index (a Slurm job array: SLURM_ARRAY_TASK_ID): a sweep
// file names config values, and run i gets the i-th combination as --set overrides.
//
// The file is one JSON object, either
//   {"grid": {"train.lr": [1e-4, 3e-4], "train.batch_size": [16, 32]}}
// (every combination, the LAST key varying fastest: index = ((i_0 * n_1) + i_1) * n_2 + ...), or
//   {"runs": [{"train.lr": 1e-4}, {"train.lr": 3e-4, "train.epochs": 5}]}
// (the listed points in order). Values are JSON numbers, strings or booleans, written as --set
// takes them; the keys are checked by the config like any --set.
#ifndef DS_SWEEP_H
#define DS_SWEEP_H

#include "../base/status.h"

typedef struct ds_sweep_point {
    int index, count;   // this point and how many the file holds
    char **sets;        // (nsets) "key=value", heap
    int nsets;
    char *json;         // {"index": i, "count": n, "values": {key: value, ...}}, heap
} ds_sweep_point;

// Reads point `index` of the sweep file at `path`. DS_ERR_CONFIG names the file and what is wrong
// (not an object, an empty list, an index out of range, a value of another type).
ds_status ds_sweep_point_load(const char *path, int index, ds_sweep_point *p, ds_err *err);
void ds_sweep_point_free(ds_sweep_point *p);

#endif
