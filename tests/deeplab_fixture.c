#include "deeplab_fixture.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/base/philox.h"
#include "test_util.h"

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void ds_test_deeplab_fill(ds_deeplab_model *m, uint64_t seed, uint64_t offset) {
    for (int i = 0; i < m->params.count; i++) {
        const ds_param_spec *s = &m->params.specs[i];
        const ds_tensor p = ds_param_block_param(&m->params, i);
        const int64_t n = ds_tensor_numel(&p);
        if (s->dtype == DS_I64) {
            memset(p.data, 0, (size_t)n * sizeof(int64_t));
            continue;
        }
        float *x = p.data;  // (n) F32 host
        const double bound = s->ndim == 4 ? sqrt(3.0 / (double)(s->shape[1] * s->shape[2] * s->shape[3])) : 0;
        for (int64_t j = 0; j < n; j++) {
            const double u = ds_philox_uniform(seed, offset + (uint64_t)i, (uint64_t)j);
            double v;
            if (s->ndim == 4) v = (2 * u - 1) * bound;
            else if (ends_with(s->name, "bn3.weight")) v = (0.5 + u) * 0.05;
            else if (ends_with(s->name, ".weight") || ends_with(s->name, "running_var")) v = 0.5 + u;
            else v = (2 * u - 1) * 0.2;
            x[j] = (float)v;
        }
    }
}

void ds_test_deeplab_image(float *x, int64_t n, uint64_t seed, uint64_t offset) {
    for (int64_t j = 0; j < n; j++) x[j] = (float)(2.0 * ds_philox_uniform(seed, offset, (uint64_t)j) - 1.0);
}

void *ds_test_deeplab_settings(void) {
    char path[1024];
    char *text = ds_test_read_file(ds_test_fixture("deeplab/deeplab.json", path, sizeof path), NULL);
    if (!text) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

void ds_test_deeplab_settings_free(void *settings) { cJSON_Delete(settings); }

double ds_test_deeplab_number(const void *settings, const char *key, const char *sub) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, key);
    if (sub) v = cJSON_GetObjectItemCaseSensitive(v, sub);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

bool ds_test_deeplab_name(const void *settings, const char *list, int i, const char **name, int *ndim, int64_t *shape) {
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(settings, list), i);
    const cJSON *n = cJSON_GetArrayItem(row, 0), *sh = cJSON_GetArrayItem(row, 1);
    if (!cJSON_IsString(n) || !cJSON_IsArray(sh)) return false;
    *name = n->valuestring;
    *ndim = cJSON_GetArraySize(sh);
    for (int d = 0; d < *ndim && d < DS_MAX_DIMS; d++) shape[d] = (int64_t)cJSON_GetArrayItem(sh, d)->valuedouble;
    return true;
}
