// Shared by the DeepLabV3 tests: the weight and image formula of scripts/fixtures/deeplab.py
// (recomputed bit for bit from the Philox stream), and its settings file.
#ifndef DS_TEST_DEEPLAB_FIXTURE_H
#define DS_TEST_DEEPLAB_FIXTURE_H

#include <stdint.h>

#include "../models/deeplab/deeplab.h"

// Tensor i of the block (spec order = torchvision's state_dict order) from
// u = ds_philox_uniform(seed, offset + i, j): 4-d conv weights (2u - 1) sqrt(3 / fan_in),
// "bn3.weight" (0.5 + u) 0.05 (small residual branches: see scripts/fixtures/deeplab.py), other 1-d
// ".weight" and "running_var" 0.5 + u, other F32 tensors (biases, running_mean) (2u - 1) 0.2,
// num_batches_tracked 0; in double, rounded once to float.
void ds_test_deeplab_fill(ds_deeplab_model *m, uint64_t seed, uint64_t offset);

// x (n) F32 = 2u - 1 with u = ds_philox_uniform(seed, offset, j).
void ds_test_deeplab_image(float *x, int64_t n, uint64_t seed, uint64_t offset);

// tests/fixtures/deeplab/deeplab.json parsed (cJSON *, as void * so that users need not include
// cJSON); NULL when unreadable. Free with ds_test_deeplab_settings_free.
void *ds_test_deeplab_settings(void);
void ds_test_deeplab_settings_free(void *settings);
// A number at a path of object keys ("small", "width"); NaN when missing.
double ds_test_deeplab_number(const void *settings, const char *key, const char *sub);
// The i-th [name, shape] of list "full_names" or "small_names": returns false past the end.
bool ds_test_deeplab_name(const void *settings, const char *list, int i, const char **name, int *ndim, int64_t *shape);

#endif
