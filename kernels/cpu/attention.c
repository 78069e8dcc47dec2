// Scaled dot-product attention with a key padding mask and dropout on the probabilities: the
// CPU reference (kernels/ops.h states the contract). F32 runs the tiled attention of
// attention_tiled.c (GEMMs per tile, online softmax, vectorised exp and dropout masks); F64, for
// the finite-difference checks, runs the row-by-row body attention_real.inc, which states the
// formulas both follow.
//
// Work is split over (b, h) pairs with OpenMP; each pair is computed by one thread in a fixed
// order, so results do not depend on the thread count. The F64 loops are plain C in axpy form
// (the inner loop runs over independent outputs), which the compiler vectorises without
// reordering any sum.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../../runtime/base/check.h"
#include "../../runtime/base/philox.h"
#include "attention_tiled.h"
#include "cpu_ops.h"

typedef struct ds_attention_dims {
    int64_t B, H, T, D;
} ds_attention_dims;

// Dropout on the probabilities: stream (seed, offset); p == 0 disables it.
typedef struct ds_attention_dropout {
    uint64_t seed, offset;
    float p;
} ds_attention_dropout;

// Scratch pieces are rounded up to 64 bytes so that each one starts aligned.
static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

// The keep decisions of one row of dropout: keep[j] for element index base + j, j < n.
// Philox yields 4 draws per call; each call is made once per aligned group of 4 indices.
static void attention_keep_row(uint64_t seed, uint64_t offset, uint64_t base, int64_t n, float p,
                               unsigned char *keep /* (n) host */) {
    for (int64_t j = 0; j < n;) {
        const uint64_t idx = base + (uint64_t)j;
        const uint64_t idx4 = idx >> 2;
        const ds_philox4 c = {{(uint32_t)idx4, (uint32_t)(idx4 >> 32), (uint32_t)offset, (uint32_t)(offset >> 32)}};
        const ds_philox4 r = ds_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
        for (unsigned lane = (unsigned)(idx & 3); lane < 4 && j < n; lane++, j++) {
            // Same arithmetic as ds_philox_uniform / ds_philox_keep, on the lane already drawn.
            const float u = (float)(r.v[lane] >> 8) * (1.0f / 16777216.0f);
            keep[j] = u >= p;
        }
    }
}

#define real double
#define SFX f64
#define R_EXP exp
#define R_LOG log
#include "attention_real.inc"
#undef real
#undef SFX
#undef R_EXP
#undef R_LOG

// ---- argument checks (before anything is written) ----

static bool same_shape(const ds_tensor *a, const ds_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

// `t` must be a CPU tensor of ref's dtype and shape.
static ds_status expect_like(const ds_tensor *t, const char *op, const char *name, const ds_tensor *ref,
                             const char *ref_name, ds_err *err) {
    char what[96], d0[96], d1[96];
    snprintf(what, sizeof what, "%s: %s", op, name);
    DS_TRY(ds_tensor_expect(t, what, ref->dtype, DS_DEVICE_CPU, ref->ndim, err));
    DS_REQUIRE(err, same_shape(t, ref), DS_ERR_INVALID_ARG, "%s is %s but %s is %s", what,
               ds_tensor_describe(t, d0, sizeof d0), ref_name, ds_tensor_describe(ref, d1, sizeof d1));
    return DS_OK;
}

// q sets the dtype (F32 or F64) and the shape: (B, H, T, D), or (B, T, H*D) with heads = H > 0
// (token-major); *dims gets (B, H, T, D). lse is (B, H, T) of the same dtype; key_mask, when
// present, is (B, T) I32 holding only 0 and 1.
static ds_status check_common(const char *op, const ds_tensor *q, const ds_tensor *k, const ds_tensor *v,
                              const ds_tensor *key_mask, const ds_tensor *lse, double scale, float dropout_p,
                              int heads, ds_attention_dims *dims, ds_err *err) {
    char what[96], d[96];
    snprintf(what, sizeof what, "%s: q", op);
    DS_REQUIRE(err, heads >= 0, DS_ERR_INVALID_ARG, "%s: token_major_heads must be 0 or a head count, got %d", op,
               heads);
    DS_TRY(ds_tensor_expect(q, what, DS_DTYPE_COUNT, DS_DEVICE_CPU, heads > 0 ? 3 : 4, err));
    DS_REQUIRE(err, q->dtype == DS_F32 || q->dtype == DS_F64, DS_ERR_INVALID_ARG,
               "%s: q must be F32 or F64 on the CPU, got %s", op, ds_tensor_describe(q, d, sizeof d));
    if (heads > 0) {
        DS_REQUIRE(err, q->shape[2] % heads == 0, DS_ERR_INVALID_ARG,
                   "%s: q %s: its last dim is not a multiple of token_major_heads = %d", op,
                   ds_tensor_describe(q, d, sizeof d), heads);
        *dims = (ds_attention_dims){q->shape[0], heads, q->shape[1], q->shape[2] / heads};
    } else {
        *dims = (ds_attention_dims){q->shape[0], q->shape[1], q->shape[2], q->shape[3]};
    }
    DS_TRY(expect_like(k, op, "k", q, "q", err));
    DS_TRY(expect_like(v, op, "v", q, "q", err));
    snprintf(what, sizeof what, "%s: lse", op);
    DS_TRY(ds_tensor_expect(lse, what, q->dtype, DS_DEVICE_CPU, 3, err));
    DS_REQUIRE(err, lse->shape[0] == dims->B && lse->shape[1] == dims->H && lse->shape[2] == dims->T,
               DS_ERR_INVALID_ARG, "%s: lse must be (B, H, T) of q %s, got %s", op,
               ds_tensor_describe(q, what, sizeof what), ds_tensor_describe(lse, d, sizeof d));
    if (key_mask->data != NULL) {
        snprintf(what, sizeof what, "%s: key_mask", op);
        DS_TRY(ds_tensor_expect(key_mask, what, DS_I32, DS_DEVICE_CPU, 2, err));
        DS_REQUIRE(err, key_mask->shape[0] == dims->B && key_mask->shape[1] == dims->T,
                   DS_ERR_INVALID_ARG, "%s: key_mask must be (B, T) of q %s, got %s", op,
                   ds_tensor_describe(q, what, sizeof what), ds_tensor_describe(key_mask, d, sizeof d));
        const int32_t *m = key_mask->data;  // (B, T) host
        const int64_t n = ds_tensor_numel(key_mask);
        for (int64_t i = 0; i < n; i++)
            DS_REQUIRE(err, m[i] == 0 || m[i] == 1, DS_ERR_INVALID_ARG,
                       "%s: key_mask[%lld, %lld] is %d; it must be 1 (attend) or 0 (padding)", op,
                       (long long)(i / key_mask->shape[1]), (long long)(i % key_mask->shape[1]), (int)m[i]);
    }
    DS_REQUIRE(err, isfinite(scale), DS_ERR_INVALID_ARG, "%s: scale must be finite, got %g", op, scale);
    DS_REQUIRE(err, dropout_p >= 0.0f && dropout_p < 1.0f, DS_ERR_INVALID_ARG,
               "%s: dropout_p must be in [0, 1), got %g", op, (double)dropout_p);
    return DS_OK;
}

// Scratch for `threads` workers of `per_thread` bytes each, allocated before anything is written
// so that running out of memory leaves the outputs untouched.
static ds_status alloc_scratch(const char *op, size_t per_thread, int threads, unsigned char **out, ds_err *err) {
    *out = malloc(per_thread * (size_t)threads);
    DS_REQUIRE(err, *out != NULL, DS_ERR_OOM, "%s: cannot allocate %zu bytes of scratch", op,
               per_thread * (size_t)threads);
    return DS_OK;
}

// Bytes of per-thread scratch: `mats` (D, T) matrices and `rows` (T) rows of `elem` bytes, plus
// one row of keep flags, each piece rounded up by round64().
static size_t scratch_bytes(int64_t T, int64_t D, int mats, int rows, size_t elem) {
    return (size_t)mats * round64((size_t)(T * D) * elem) + (size_t)rows * round64((size_t)T * elem) +
           round64((size_t)T);
}

// F64 with token-major tensors: (B, T, H, D) <-> (B, H, T, D) copies around the row-by-row body
// (the finite-difference checks only; F32 reads token-major rows in place).
static void heads_copy_f64(const ds_attention_dims *d, const double *src, double *dst, bool to_heads) {
    for (int64_t b = 0; b < d->B; b++)
        for (int64_t h = 0; h < d->H; h++)
            for (int64_t t = 0; t < d->T; t++) {
                const int64_t tm = ((b * d->T + t) * d->H + h) * d->D, hm = ((b * d->H + h) * d->T + t) * d->D;
                memcpy(dst + (to_heads ? hm : tm), src + (to_heads ? tm : hm), (size_t)d->D * sizeof(double));
            }
}

ds_status ds_cpu_attention_forward(ds_context *ctx, const void *args) {
    const ds_attention_fwd_args *a = args;
    const char *op = "attention_forward";
    ds_attention_dims dims;
    DS_TRY(check_common(op, &a->q, &a->k, &a->v, &a->key_mask, &a->lse, a->scale, a->dropout_p,
                        a->token_major_heads, &dims, &ctx->err));
    DS_TRY(expect_like(&a->out, op, "out", &a->q, "q", &ctx->err));
    const int threads = omp_get_max_threads();
    const int32_t *mask = a->key_mask.data;  // (B, T) host or NULL
    if (a->q.dtype == DS_F32) {
        const ds_att_problem pb = {dims.B, dims.H, dims.T, dims.D, a->q.data, a->k.data, a->v.data, mask,
                                   (float)a->scale, a->dropout_p, ctx->seed, a->dropout_offset,
                                   a->token_major_heads > 0};
        const size_t per_thread = ds_att_scratch_bytes(&pb, 0);
        unsigned char *scratch = NULL;
        DS_TRY(alloc_scratch(op, per_thread, threads, &scratch, &ctx->err));
        ds_att_forward_f32(ds_cpu_isa_select(), &pb, a->out.data, a->lse.data, scratch, per_thread);
        free(scratch);
        return DS_OK;
    }
    const size_t elem = ds_dtype_size(a->q.dtype);
    const size_t per_thread = scratch_bytes(dims.T, dims.D, 1, 2, elem);
    unsigned char *scratch = NULL;
    DS_TRY(alloc_scratch(op, per_thread, threads, &scratch, &ctx->err));

    const ds_attention_dropout drop = {ctx->seed, a->dropout_offset, a->dropout_p};
    if (a->token_major_heads == 0) {
        attention_forward_f64(&dims, a->q.data, a->k.data, a->v.data, mask, a->out.data, a->lse.data, a->scale,
                              &drop, scratch, per_thread);
        free(scratch);
        return DS_OK;
    }
    const size_t n = (size_t)ds_tensor_numel(&a->q);
    double *h = malloc(4 * n * sizeof(double));  // q, k, v, out as (B, H, T, D)
    if (h == NULL) {
        free(scratch);
        return ds_err_set(&ctx->err, DS_ERR_OOM, "%s: cannot allocate the head-major copies", op);
    }
    heads_copy_f64(&dims, a->q.data, h, true);
    heads_copy_f64(&dims, a->k.data, h + n, true);
    heads_copy_f64(&dims, a->v.data, h + 2 * n, true);
    attention_forward_f64(&dims, h, h + n, h + 2 * n, mask, h + 3 * n, a->lse.data, a->scale, &drop, scratch,
                          per_thread);
    heads_copy_f64(&dims, h + 3 * n, a->out.data, false);
    free(h);
    free(scratch);
    return DS_OK;
}

ds_status ds_cpu_attention_backward(ds_context *ctx, const void *args) {
    const ds_attention_bwd_args *a = args;
    const char *op = "attention_backward";
    ds_attention_dims dims;
    DS_TRY(check_common(op, &a->q, &a->k, &a->v, &a->key_mask, &a->lse, a->scale, a->dropout_p,
                        a->token_major_heads, &dims, &ctx->err));
    DS_TRY(expect_like(&a->out, op, "out", &a->q, "q", &ctx->err));
    DS_TRY(expect_like(&a->dout, op, "dout", &a->q, "q", &ctx->err));
    DS_TRY(expect_like(&a->dq, op, "dq", &a->q, "q", &ctx->err));
    DS_TRY(expect_like(&a->dk, op, "dk", &a->q, "q", &ctx->err));
    DS_TRY(expect_like(&a->dv, op, "dv", &a->q, "q", &ctx->err));
    const int threads = omp_get_max_threads();
    const int32_t *mask = a->key_mask.data;  // (B, T) host or NULL
    if (a->q.dtype == DS_F32) {
        const ds_att_problem pb = {dims.B, dims.H, dims.T, dims.D, a->q.data, a->k.data, a->v.data, mask,
                                   (float)a->scale, a->dropout_p, ctx->seed, a->dropout_offset,
                                   a->token_major_heads > 0};
        const size_t per_thread = ds_att_scratch_bytes(&pb, 1);
        unsigned char *scratch = NULL;
        DS_TRY(alloc_scratch(op, per_thread, threads, &scratch, &ctx->err));
        ds_att_backward_f32(ds_cpu_isa_select(), &pb, a->out.data, a->lse.data, a->dout.data, a->dq.data, a->dk.data,
                            a->dv.data, scratch, per_thread);
        free(scratch);
        return DS_OK;
    }
    const size_t elem = ds_dtype_size(a->q.dtype);
    const size_t per_thread = scratch_bytes(dims.T, dims.D, 2, 3, elem);
    unsigned char *scratch = NULL;
    DS_TRY(alloc_scratch(op, per_thread, threads, &scratch, &ctx->err));

    const ds_attention_dropout drop = {ctx->seed, a->dropout_offset, a->dropout_p};
    if (a->token_major_heads == 0) {
        attention_backward_f64(&dims, a->q.data, a->k.data, a->v.data, mask, a->out.data, a->lse.data, a->dout.data,
                               a->dq.data, a->dk.data, a->dv.data, a->scale, &drop, scratch, per_thread);
        free(scratch);
        return DS_OK;
    }
    const size_t n = (size_t)ds_tensor_numel(&a->q);
    double *h = malloc(8 * n * sizeof(double));  // q, k, v, out, dout, dq, dk, dv as (B, H, T, D)
    if (h == NULL) {
        free(scratch);
        return ds_err_set(&ctx->err, DS_ERR_OOM, "%s: cannot allocate the head-major copies", op);
    }
    const ds_tensor *in[5] = {&a->q, &a->k, &a->v, &a->out, &a->dout};
    for (int i = 0; i < 5; i++) heads_copy_f64(&dims, in[i]->data, h + (size_t)i * n, true);
    attention_backward_f64(&dims, h, h + n, h + 2 * n, mask, h + 3 * n, a->lse.data, h + 4 * n, h + 5 * n, h + 6 * n,
                           h + 7 * n, a->scale, &drop, scratch, per_thread);
    const ds_tensor *outs[3] = {&a->dq, &a->dk, &a->dv};
    for (int i = 0; i < 3; i++) heads_copy_f64(&dims, h + (size_t)(5 + i) * n, outs[i]->data, false);
    free(h);
    free(scratch);
    return DS_OK;
}
