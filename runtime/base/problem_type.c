#include "problem_type.h"

#include <string.h>

static const char *const k_names[] = {
    [DS_PROBLEM_SINGLE_LABEL] = "single_label_classification",
    [DS_PROBLEM_MULTI_LABEL] = "multi_label_classification",
    [DS_PROBLEM_REGRESSION] = "regression",
};
_Static_assert(sizeof k_names / sizeof k_names[0] == DS_PROBLEM_COUNT, "problem type names out of step");

const char *ds_problem_type_name(ds_problem_type p) {
    return (int)p >= 0 && p < DS_PROBLEM_COUNT ? k_names[p] : "?";
}

ds_status ds_problem_type_parse(const char *s, ds_problem_type *out, ds_err *err) {
    for (int i = 0; s != NULL && i < DS_PROBLEM_COUNT; i++)
        if (strcmp(s, k_names[i]) == 0) {
            *out = (ds_problem_type)i;
            return DS_OK;
        }
    return ds_err_set(err, DS_ERR_CONFIG,
                      "unknown problem_type '%s'; choose single_label_classification, multi_label_classification "
                      "or regression",
                      s ? s : "(null)");
}
