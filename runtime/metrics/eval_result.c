#include "eval_result.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double ds_eval_value(const ds_eval_result *r, const char *name) {
    for (int i = 0; i < r->count; i++)
        if (strcmp(r->values[i].name, name) == 0) return r->values[i].value;
    return NAN;
}

void ds_eval_result_free(ds_eval_result *r) {
    free(r->report);
    free(r->details);
    memset(r, 0, sizeof *r);
}

void ds_eval_result_add(ds_eval_result *r, const char *prefix, const char *name, double value) {
    if (r->count >= DS_EVAL_MAX_VALUES) return;
    snprintf(r->values[r->count].name, sizeof r->values[r->count].name, "%s%s", prefix, name);
    r->values[r->count].value = value;
    r->count++;
}
