// Finite-difference gradient checks in double precision, for the CPU reference ops run on F64
// tensors. The caller supplies a function that runs the forward op on the current inputs and
// returns the scalar L = sum(output * R) for a fixed random R; the analytic gradient of L with
// respect to an input is then the op's backward applied to dy = R.
#ifndef DS_GRADCHECK_H
#define DS_GRADCHECK_H

#include <stddef.h>

#include "test_util.h"

// Returns L for the current contents of the inputs (which the checker perturbs in place).
typedef double (*ds_gradcheck_loss_fn)(void *user);

// Central differences with step h on up to `max_probes` elements of x (n doubles, host),
// spread evenly, compared with `analytic` (n doubles). The check passes when
// |fd - analytic| <= tol * max(1, max|analytic|) for every probed element; this scale keeps
// the test meaningful for gradients that are tiny in places (central differences in double
// with h = 1e-6 have an error near 1e-9 relative, so tol = 1e-6 leaves a wide margin while
// any wrong formula misses by orders of magnitude).
void ds_gradcheck(ds_test *t, const char *what, double *x, const double *analytic, size_t n,
                  size_t max_probes, ds_gradcheck_loss_fn loss, void *user, double h, double tol);

// Fills a[0..n) with deterministic pseudo-random values in [-1, 1) from `seed` (a Philox stream).
void ds_fill_uniform_f64(double *a, size_t n, unsigned long long seed);
void ds_fill_uniform_f32(float *a, size_t n, unsigned long long seed);

#endif
