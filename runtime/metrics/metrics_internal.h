// Helpers shared by runtime/metrics_*.c.
#ifndef DS_METRICS_INTERNAL_H
#define DS_METRICS_INTERNAL_H

#include <stdint.h>

#include "metrics.h"

// num / den, or 0 when den is 0 (sklearn's zero_division=0).
double ds_metric_ratio(int64_t num, int64_t den);
// 2 tp / (2 tp + fp + fn), or 0 when that denominator is 0.
double ds_metric_f1(int64_t tp, int64_t fp, int64_t fn);
void ds_metric_value_set(ds_metric_value *v, const char *prefix, const char *name, double value);

#endif
