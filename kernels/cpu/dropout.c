// Dropout, the CPU reference: y = x * keep / (1 - p), keep = ds_philox_keep(ctx->seed, offset, i, p)
// for element i (linear index). Backward regenerates the same keep decisions from the counter,
// so no mask is ever stored. A dropped element is multiplied by 0 (not set to 0), so NaN and inf
// propagate as in torch's `input * mask`. p == 0 is the identity. F32 and F64.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../../runtime/base/philox.h"
#include "cpu_ops.h"
#include "dropout_mask.h"

// Elements per chunk of the F32 path: 4 KiB of factors on the stack.
#define DS_DROPOUT_CHUNK 1024

// The keep decisions of elements 4g .. 4g+3 as bits 0..3: one Philox call serves the group, with
// the arithmetic of ds_philox_keep on each lane.
static unsigned keep_bits4(uint64_t seed, uint64_t offset, uint64_t g, float p) {
    const ds_philox4 c = {{(uint32_t)g, (uint32_t)(g >> 32), (uint32_t)offset, (uint32_t)(offset >> 32)}};
    const ds_philox4 r = ds_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    unsigned bits = 0;
    for (unsigned lane = 0; lane < 4; lane++)
        bits |= (unsigned)((float)(r.v[lane] >> 8) * (1.0f / 16777216.0f) >= p) << lane;
    return bits;
}

// x and y: CPU, contiguous, F32 or F64, same dtype and numel; p in [0, 1).
static ds_status check_args(const char *op, const char *xname, const ds_tensor *x, const char *yname,
                            const ds_tensor *y, float p, ds_err *err) {
    char what[96], d0[96], d1[96];
    snprintf(what, sizeof what, "%s: %s", op, xname);
    DS_TRY(ds_tensor_expect(x, what, DS_DTYPE_COUNT, DS_DEVICE_CPU, x->ndim, err));
    DS_REQUIRE(err, x->dtype == DS_F32 || x->dtype == DS_F64, DS_ERR_INVALID_ARG,
               "%s must be F32 or F64 on the CPU, got %s", what, ds_tensor_describe(x, d0, sizeof d0));
    snprintf(what, sizeof what, "%s: %s", op, yname);
    DS_TRY(ds_tensor_expect(y, what, x->dtype, DS_DEVICE_CPU, y->ndim, err));
    DS_REQUIRE(err, ds_tensor_numel(x) == ds_tensor_numel(y), DS_ERR_INVALID_ARG, "%s is %s but %s is %s", what,
               ds_tensor_describe(y, d0, sizeof d0), xname, ds_tensor_describe(x, d1, sizeof d1));
    DS_REQUIRE(err, p >= 0.0f && p < 1.0f, DS_ERR_INVALID_ARG, "%s: p must be in [0, 1), got %g", op, (double)p);
    return DS_OK;
}

static void apply(const ds_tensor *in, ds_tensor *out, uint64_t seed, uint64_t offset, float p) {
    const int64_t n = ds_tensor_numel(in);
    if (p == 0.0f) {  // identity (memmove: in and out may be the same buffer)
        if (out->data != in->data) memmove(out->data, in->data, ds_tensor_nbytes(in));
        return;
    }
    // 1/(1-p) rounded once to the tensor's type: 1 - p is exact in double for a float p.
    const double keep_scale = 1.0 / (1.0 - (double)p);
    const int64_t groups = (n + 3) / 4;
    // Groups of 4 are independent, so splitting them over threads changes no result.
    if (in->dtype == DS_F32) {
        const float *x = in->data;  // (n) host
        float *y = out->data;       // (n) host
        const float f = (float)keep_scale;
        const ds_cpu_isa isa = ds_cpu_isa_select();
        // Chunks of DS_DROPOUT_CHUNK elements (a multiple of 4): the factors of a chunk come from
        // the vectorised Philox (dropout_mask.c, equal to ds_philox_keep element by element).
        const int64_t chunks = (n + DS_DROPOUT_CHUNK - 1) / DS_DROPOUT_CHUNK;
#pragma omp parallel for schedule(static) if (chunks > 1)
        for (int64_t c = 0; c < chunks; c++) {
            float z[DS_DROPOUT_CHUNK];
            const int64_t i0 = c * DS_DROPOUT_CHUNK, m = n - i0 < DS_DROPOUT_CHUNK ? n - i0 : DS_DROPOUT_CHUNK;
            ds_dropout_scale_f32(isa, seed, offset, (uint64_t)i0, m, p, f, z);
            for (int64_t j = 0; j < m; j++) y[i0 + j] = x[i0 + j] * z[j];
        }
    } else {
        const double *x = in->data;  // (n) host
        double *y = out->data;       // (n) host
#pragma omp parallel for schedule(static)
        for (int64_t g = 0; g < groups; g++) {
            const unsigned bits = keep_bits4(seed, offset, (uint64_t)g, p);
            for (int64_t i = 4 * g, lane = 0; lane < 4 && i < n; i++, lane++)
                y[i] = x[i] * (((bits >> lane) & 1u) ? keep_scale : 0.0);
        }
    }
}

ds_status ds_cpu_dropout_forward(ds_context *ctx, const void *args) {
    const ds_dropout_fwd_args *a = args;
    DS_TRY(check_args("dropout_forward", "x", &a->x, "y", &a->y, a->p, &ctx->err));
    ds_tensor y = a->y;
    apply(&a->x, &y, ctx->seed, a->offset, a->p);
    return DS_OK;
}

ds_status ds_cpu_dropout_backward(ds_context *ctx, const void *args) {
    const ds_dropout_bwd_args *a = args;
    DS_TRY(check_args("dropout_backward", "dy", &a->dy, "dx", &a->dx, a->p, &ctx->err));
    ds_tensor dx = a->dx;
    apply(&a->dy, &dx, ctx->seed, a->offset, a->p);
    return DS_OK;
}
