// The attention op on CUDA (kernels/ops.h states the contract): argument checks, then the
// implementation the context asks for:
//   opt.attention == DS_ATTENTION_CUDNN -> cuDNN's fused SDPA (attention_cudnn.cu);
//   otherwise opt.kernels FAST -> the flash-attention kernels (attention_fast_*.cu) when the
//   call qualifies (BF16, D in {32, 64, 128}, 16-byte aligned), else PLAIN (attention_plain.cu)
//   without a message; PLAIN -> attention_plain.cu.
// docs/attention.md describes the algorithms, the memory they use and their limits.
#include <math.h>
#include <stdio.h>

#include "attention_internal.cuh"

extern "C" {
#include "cuda_ops.h"
}


namespace {

bool same_shape(const ds_tensor *a, const ds_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

// `t` must be a CUDA tensor of q's dtype and shape.
ds_status expect_like_q(const ds_tensor *t, const char *op, const char *name, const ds_tensor *q, ds_err *err) {
    char what[96], d0[96], d1[96];
    snprintf(what, sizeof what, "%s: %s", op, name);
    DS_TRY(ds_tensor_expect(t, what, q->dtype, DS_DEVICE_CUDA, q->ndim, err));
    DS_REQUIRE(err, same_shape(t, q), DS_ERR_INVALID_ARG, "%s is %s but q is %s", what,
               ds_tensor_describe(t, d0, sizeof d0), ds_tensor_describe(q, d1, sizeof d1));
    return DS_OK;
}

// q sets the dtype (F32 or BF16) and the (B, H, T, D) shape; lse is (B, H, T) F32; key_mask, when
// present, is (B, T) I32 (its values are not read back to the host: nonzero attends, 0 pads,
// which is the CPU's reading of the 0/1 values it requires). Fills the problem description.
ds_status check_common(const char *op, const ds_context *ctx, const ds_tensor *q, const ds_tensor *k,
                       const ds_tensor *v, const ds_tensor *key_mask, const ds_tensor *lse, double scale,
                       float dropout_p, uint64_t dropout_offset, ds_attn_problem *p, ds_err *err) {
    char what[96], d[96];
    snprintf(what, sizeof what, "%s: q", op);
    DS_TRY(ds_tensor_expect(q, what, DS_DTYPE_COUNT, DS_DEVICE_CUDA, 4, err));
    DS_REQUIRE(err, q->dtype == DS_F32 || q->dtype == DS_BF16, DS_ERR_INVALID_ARG,
               "%s: q must be F32 or BF16 on CUDA, got %s", op, ds_tensor_describe(q, d, sizeof d));
    DS_TRY(expect_like_q(k, op, "k", q, err));
    DS_TRY(expect_like_q(v, op, "v", q, err));
    snprintf(what, sizeof what, "%s: lse", op);
    DS_TRY(ds_tensor_expect(lse, what, DS_F32, DS_DEVICE_CUDA, 3, err));
    DS_REQUIRE(err, lse->shape[0] == q->shape[0] && lse->shape[1] == q->shape[1] && lse->shape[2] == q->shape[2],
               DS_ERR_INVALID_ARG, "%s: lse must be (B, H, T) of q %s, got %s", op,
               ds_tensor_describe(q, what, sizeof what), ds_tensor_describe(lse, d, sizeof d));
    if (key_mask->data != NULL) {
        snprintf(what, sizeof what, "%s: key_mask", op);
        DS_TRY(ds_tensor_expect(key_mask, what, DS_I32, DS_DEVICE_CUDA, 2, err));
        DS_REQUIRE(err, key_mask->shape[0] == q->shape[0] && key_mask->shape[1] == q->shape[2],
                   DS_ERR_INVALID_ARG, "%s: key_mask must be (B, T) of q %s, got %s", op,
                   ds_tensor_describe(q, what, sizeof what), ds_tensor_describe(key_mask, d, sizeof d));
    }
    DS_REQUIRE(err, isfinite(scale), DS_ERR_INVALID_ARG, "%s: scale must be finite, got %g", op, scale);
    DS_REQUIRE(err, dropout_p >= 0.0f && dropout_p < 1.0f, DS_ERR_INVALID_ARG,
               "%s: dropout_p must be in [0, 1), got %g", op, (double)dropout_p);
    const int64_t B = q->shape[0], H = q->shape[1], T = q->shape[2], D = q->shape[3];
    // Grid limits: (B*H) is a grid's y dimension; T and D index with int.
    DS_REQUIRE(err, B * H <= 65535 && T <= (int64_t)1 << 30, DS_ERR_UNSUPPORTED,
               "%s: q %s: B*H must be <= 65535 and T <= 2^30 on CUDA", op, ds_tensor_describe(q, d, sizeof d));
    DS_REQUIRE(err, D <= DS_ATTN_PLAIN_MAX_D, DS_ERR_UNSUPPORTED, "%s: q %s: head dim above %d is not supported on CUDA",
               op, ds_tensor_describe(q, d, sizeof d), DS_ATTN_PLAIN_MAX_D);
    p->B = (int)B;
    p->H = (int)H;
    p->T = (int)T;
    p->D = (int)D;
    p->scale = (float)scale;
    p->dropout_p = dropout_p;
    // 1 - p is exact in double for a float p; rounded once, as the CPU reference does.
    p->keep_scale = dropout_p > 0.0f ? (float)(1.0 / (1.0 - (double)dropout_p)) : 1.0f;
    p->seed = ctx->seed;
    p->offset = dropout_offset;
    p->mask = (const int32_t *)key_mask->data;
    return DS_OK;
}

bool use_fast(const ds_cuda_state *s, const ds_attn_problem &p, bool bf16, const void *const *ptrs, int n) {
    return s->opt.kernels == DS_KERNELS_FAST && ds_attn_fast_supported(p, bf16, ptrs, n);
}

}  // namespace

extern "C" ds_status ds_cuda_attention_forward(ds_context *ctx, const void *args) {
    const ds_attention_fwd_args *a = (const ds_attention_fwd_args *)args;
    const char *op = "attention_forward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    // Token-major q/k/v are the CPU backend's permute-free path; CUDA's kernels take (B, H, T, D).
    DS_REQUIRE(&ctx->err, a->token_major_heads == 0, DS_ERR_UNSUPPORTED,
               "%s: token_major_heads (q, k, v as (B, T, H*D)) is a CPU path; on CUDA pass (B, H, T, D)", op);
    ds_attn_problem p;
    DS_TRY(check_common(op, ctx, &a->q, &a->k, &a->v, &a->key_mask, &a->lse, a->scale, a->dropout_p,
                        a->dropout_offset, &p, &ctx->err));
    DS_TRY(expect_like_q(&a->out, op, "out", &a->q, &ctx->err));
    if ((int64_t)p.B * p.H * p.T == 0) return DS_OK;  // nothing to compute (and no empty grid)
    if (s->opt.attention == DS_ATTENTION_CUDNN) {
        const ds_status cs = ds_attn_cudnn_forward(ctx, s, a, p);
        if (cs != DS_ERR_UNSUPPORTED) return cs;
        // cuDNN does not take this problem (attention dropout, F32, a mask that is not right
        // padding, no engine): the own kernels run it, so that BERT training (attention dropout
        // 0.1) goes on under run.attention=cudnn instead of stopping at its first forward. The
        // refused call wrote nothing.
        ds_err_clear(&ctx->err);
        s->attn_cudnn_fallbacks++;
    }

    const ds_attn_fwd_ptrs ptrs = {a->q.data, a->k.data, a->v.data, a->out.data, (float *)a->lse.data,
                                   a->q.dtype == DS_BF16};
    const void *all[] = {a->q.data, a->k.data, a->v.data, a->out.data};
    if (use_fast(s, p, ptrs.bf16, all, 4)) return ds_attn_fast_forward(s, &ctx->err, p, ptrs);
    return ds_attn_plain_forward(s, &ctx->err, p, ptrs);
}

extern "C" ds_status ds_cuda_attention_backward(ds_context *ctx, const void *args) {
    const ds_attention_bwd_args *a = (const ds_attention_bwd_args *)args;
    const char *op = "attention_backward";
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    // Token-major q/k/v are the CPU backend's permute-free path; CUDA's kernels take (B, H, T, D).
    DS_REQUIRE(&ctx->err, a->token_major_heads == 0, DS_ERR_UNSUPPORTED,
               "%s: token_major_heads (q, k, v as (B, T, H*D)) is a CPU path; on CUDA pass (B, H, T, D)", op);
    ds_attn_problem p;
    DS_TRY(check_common(op, ctx, &a->q, &a->k, &a->v, &a->key_mask, &a->lse, a->scale, a->dropout_p,
                        a->dropout_offset, &p, &ctx->err));
    DS_TRY(expect_like_q(&a->out, op, "out", &a->q, &ctx->err));
    DS_TRY(expect_like_q(&a->dout, op, "dout", &a->q, &ctx->err));
    DS_TRY(expect_like_q(&a->dq, op, "dq", &a->q, &ctx->err));
    DS_TRY(expect_like_q(&a->dk, op, "dk", &a->q, &ctx->err));
    DS_TRY(expect_like_q(&a->dv, op, "dv", &a->q, &ctx->err));
    const int64_t rows = (int64_t)p.B * p.H * p.T;
    if (rows == 0) return DS_OK;
    if (s->opt.attention == DS_ATTENTION_CUDNN) {
        const ds_status cs = ds_attn_cudnn_backward(ctx, s, a, p, NULL);
        if (cs != DS_ERR_UNSUPPORTED) return cs;
        // cuDNN has no backward engine for this problem (or this build has none): the own kernels
        // compute the same gradients from the same natural-log lse the forward saved, so training
        // goes on instead of stopping. Nothing was written by the refused call.
        ds_err_clear(&ctx->err);
        s->attn_cudnn_fallbacks++;
    }

    // D_i = dO_i . out_i (B, H, T) fp32: in the context's scratch when it fits, else a
    // stream-ordered allocation freed on the stream after the kernels that read it.
    const size_t rt_bytes = sizeof(float) * (size_t)rows;
    float *rowterm = (float *)s->scratch;
    const bool own = rt_bytes > s->scratch_bytes;
    if (own) DS_CUDA_CHECK(&ctx->err, cudaMallocAsync((void **)&rowterm, rt_bytes, s->stream));
    const bool bf16 = a->q.dtype == DS_BF16;
    ds_status st = ds_attn_rowterm(s, &ctx->err, p, a->out.data, a->dout.data, bf16, rowterm);
    if (st == DS_OK) {
        const ds_attn_bwd_ptrs ptrs = {a->q.data,         a->k.data, a->v.data,  a->out.data, a->dout.data,
                                       (const float *)a->lse.data, rowterm,  a->dq.data, a->dk.data,
                                       a->dv.data,        bf16};
        const void *all[] = {a->q.data, a->k.data, a->v.data, a->out.data, a->dout.data,
                             a->dq.data, a->dk.data, a->dv.data};
        st = use_fast(s, p, bf16, all, 8) ? ds_attn_fast_backward(s, &ctx->err, p, ptrs)
                                          : ds_attn_plain_backward(s, &ctx->err, p, ptrs);
    }
    if (own) {
        const cudaError_t e = cudaFreeAsync(rowterm, s->stream);
        if (st == DS_OK && e != cudaSuccess)
            return ds_err_set(&ctx->err, DS_ERR_CUDA, "%s: cudaFreeAsync of the row-term buffer failed: %s", op,
                              cudaGetErrorString(e));
    }
    return st;
}
