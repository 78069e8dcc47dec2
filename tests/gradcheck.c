#include "gradcheck.h"

#include <math.h>
#include <stdio.h>

#include "../runtime/base/philox.h"

void ds_gradcheck(ds_test *t, const char *what, double *x, const double *analytic, size_t n,
                  size_t max_probes, ds_gradcheck_loss_fn loss, void *user, double h, double tol) {
    double scale = 1.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(analytic[i]) > scale) scale = fabs(analytic[i]);
    const size_t probes = n < max_probes ? n : max_probes;
    double worst = 0;
    size_t worst_i = 0;
    for (size_t p = 0; p < probes; p++) {
        const size_t i = probes == n ? p : (p * n) / probes;
        const double keep = x[i];
        x[i] = keep + h;
        const double up = loss(user);
        x[i] = keep - h;
        const double down = loss(user);
        x[i] = keep;
        const double fd = (up - down) / (2 * h);
        const double err = fabs(fd - analytic[i]) / scale;
        if (err > worst || isnan(err)) {
            worst = isnan(err) ? INFINITY : err;
            worst_i = i;
        }
    }
    t->checks++;
    const int ok = worst <= tol;
    if (!ok) t->failures++;
    printf("%s gradcheck %-32s max err %.3e (tol %.1e, %zu of %zu probed, worst at %zu)\n",
           ok ? "ok  " : "FAIL:", what, worst, tol, probes, n, worst_i);
}

void ds_fill_uniform_f64(double *a, size_t n, unsigned long long seed) {
    for (size_t i = 0; i < n; i++) a[i] = 2.0 * ds_philox_uniform(seed, 0xF111, i) - 1.0;
}

void ds_fill_uniform_f32(float *a, size_t n, unsigned long long seed) {
    for (size_t i = 0; i < n; i++) a[i] = 2.0f * ds_philox_uniform(seed, 0xF111, i) - 1.0f;
}
