// Regression metrics from sums. Pearson's r from raw sums loses digits when the mean is large
// against the spread (relative error ~ 1e-16 * mean^2 / variance): negligible for the targets of
// fine-tuning tasks (STS-B: 0..5), and the price of sums that all-reduce.
#include <math.h>
#include <string.h>

#include "metrics.h"
#include "metrics_internal.h"

// Relative size below which n * variance = sum x^2 - (sum x)^2 / n is rounding noise of sums in
// double (each sum is within ~n * 2^-53 of exact; 1e-12 covers n up to ~10^4 worst case and far
// more in practice).
static const double k_flat = 1e-12;

enum { N = 0, SP, ST, SPP, STT, SPT, SSE, SAE };

void ds_reg_counts_reset(ds_reg_counts *c) { memset(c, 0, sizeof *c); }

ds_metric_buffer ds_reg_counts_buffer(ds_reg_counts *c) {
    ds_metric_buffer b = {c->sums, DS_F64, 8};
    return b;
}

void ds_reg_counts_add(ds_reg_counts *c, const float *pred, const float *target, int64_t n) {
    double *s = c->sums;
    for (int64_t i = 0; i < n; i++) {
        const double p = pred[i], t = target[i], d = p - t;
        s[N] += 1, s[SP] += p, s[ST] += t, s[SPP] += p * p, s[STT] += t * t, s[SPT] += p * t;
        s[SSE] += d * d, s[SAE] += fabs(d);
    }
}

void ds_reg_report_compute(const ds_reg_counts *c, ds_reg_report *r) {
    const double *s = c->sums, n = s[N];
    r->count = (int64_t)n;
    if (n == 0) {
        r->mse = r->mae = r->pearson = NAN;
        return;
    }
    r->mse = s[SSE] / n;
    r->mae = s[SAE] / n;
    const double cov = s[SPT] - s[SP] * s[ST] / n;  // n * covariance
    const double vp = s[SPP] - s[SP] * s[SP] / n, vt = s[STT] - s[ST] * s[ST] / n;
    // A variance within the rounding noise of the raw sums (constant predictions, say) is zero:
    // r is then undefined, not the ratio of two noises.
    const bool flat = vp <= k_flat * s[SPP] || vt <= k_flat * s[STT];
    r->pearson = flat ? NAN : cov / sqrt(vp * vt);
}

int ds_reg_report_values(const ds_reg_report *r, const char *prefix, ds_metric_value *out) {
    ds_metric_value_set(&out[0], prefix, "mse", r->mse);
    ds_metric_value_set(&out[1], prefix, "mae", r->mae);
    ds_metric_value_set(&out[2], prefix, "pearson", r->pearson);
    return 3;
}
