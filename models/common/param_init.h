// Initial values for new parameters (a classifier head a checkpoint lacks, or a model trained
// from scratch): normal draws from the Philox stream, so that the same (seed, offset) gives the
// same weights on every machine and backend.
#ifndef DS_PARAM_INIT_H
#define DS_PARAM_INIT_H

#include <stdint.h>

// x[0..n) ~ Normal(0, std) by Box-Muller on the Philox stream (seed, offset): element 2k and
// 2k+1 come from the pair of uniforms at stream indices 2k and 2k+1 (r = sqrt(-2 ln(1 - u0)),
// angle 2 pi u1; r cos and r sin). Uniforms have 24 bits, so |x| <= 5.8 std: a tail cut that no
// initialisation notices. x: (n) F32 host.
void ds_init_normal(float *x, int64_t n, double std, uint64_t seed, uint64_t offset);

// x[0..n) ~ Uniform(lo, hi): x[i] = lo + (hi - lo) u_i with u_i the Philox uniform (24 bits, in
// [0, 1)) at stream index i of (seed, offset), computed in double and rounded once. x: (n) F32 host.
void ds_init_uniform(float *x, int64_t n, double lo, double hi, uint64_t seed, uint64_t offset);

// x[0..n) = v. x: (n) F32 host.
void ds_init_fill(float *x, int64_t n, float v);

#endif
