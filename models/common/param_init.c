#include "param_init.h"

#include <math.h>

#include "../../runtime/base/philox.h"

void ds_init_normal(float *x, int64_t n, double std, uint64_t seed, uint64_t offset) {
    for (int64_t k = 0; 2 * k < n; k++) {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        const double u0 = 1.0 - (double)ds_philox_uniform(seed, offset, (uint64_t)(2 * k));
        const double u1 = (double)ds_philox_uniform(seed, offset, (uint64_t)(2 * k + 1));
        const double r = sqrt(-2.0 * log(u0)), angle = 2.0 * M_PI * u1;
        x[2 * k] = (float)(std * r * cos(angle));
        if (2 * k + 1 < n) x[2 * k + 1] = (float)(std * r * sin(angle));
    }
}

void ds_init_uniform(float *x, int64_t n, double lo, double hi, uint64_t seed, uint64_t offset) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * (double)ds_philox_uniform(seed, offset, (uint64_t)i));
}

void ds_init_fill(float *x, int64_t n, float v) {
    for (int64_t i = 0; i < n; i++) x[i] = v;
}
