// Shared pieces of the metrics: the all-reduce buffer sum and the sklearn-convention ratios.
#include <stdio.h>

#include "../base/check.h"
#include "metrics.h"
#include "metrics_internal.h"

ds_status ds_metric_buffer_add(ds_metric_buffer dst, ds_metric_buffer src, ds_err *err) {
    DS_REQUIRE(err, dst.dtype == src.dtype && dst.count == src.count && (dst.dtype == DS_I64 || dst.dtype == DS_F64),
               DS_ERR_INVALID_ARG, "metrics: cannot add a buffer of %lld %s to one of %lld %s", (long long)src.count,
               ds_dtype_name(src.dtype), (long long)dst.count, ds_dtype_name(dst.dtype));
    if (dst.dtype == DS_I64) {
        int64_t *d = dst.data;
        const int64_t *s = src.data;
        for (int64_t i = 0; i < dst.count; i++) d[i] += s[i];
    } else {
        double *d = dst.data;
        const double *s = src.data;
        for (int64_t i = 0; i < dst.count; i++) d[i] += s[i];
    }
    return DS_OK;
}

double ds_metric_ratio(int64_t num, int64_t den) { return den > 0 ? (double)num / (double)den : 0.0; }

double ds_metric_f1(int64_t tp, int64_t fp, int64_t fn) { return ds_metric_ratio(2 * tp, 2 * tp + fp + fn); }

void ds_metric_value_set(ds_metric_value *v, const char *prefix, const char *name, double value) {
    snprintf(v->name, sizeof v->name, "%s%s", prefix ? prefix : "", name);
    v->value = value;
}
