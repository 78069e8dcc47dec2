// What the attention op's CUDA files share (attention.cu dispatches; attention_plain.cu,
// attention_fast_fwd.cu, attention_fast_bwd.cu and attention_cudnn.cu hold the variants):
// the problem description every kernel receives by value, the dropout keep factor that must
// equal the CPU reference's decision element for element, and the launchers.
// Included by kernels/cuda/attention*.cu only. docs/attention.md describes the algorithms.
#ifndef DS_ATTENTION_INTERNAL_CUH
#define DS_ATTENTION_INTERNAL_CUH

#include "cuda_state.cuh"

#include "../../runtime/base/philox.h"

// One attention call, after the argument checks (attention.cu). Passed to kernels by value.
struct ds_attn_problem {
    int B, H, T, D;
    float scale;           // s = scale * q.k, computed in fp32 as the CPU reference does
    float dropout_p;       // 0 disables dropout
    float keep_scale;      // 1/(1-p) rounded once from double, as the CPU reference; 1 without dropout
    uint64_t seed;         // ctx->seed (Philox key)
    uint64_t offset;       // dropout_offset (Philox counter high word)
    const int32_t *mask;   // (B, T) device, 1 = attend, 0 = padding; NULL = attend to every key
};

// The dropout factor of probability (bh, i, j): keep_scale when kept, 0 when dropped, 1
// without dropout. Element index ((b*H + h)*T + i)*T + j with bh = b*H + h, exactly the CPU's
// (kernels/cpu/attention_real.inc: attention_dropout_row), and ds_philox_keep is the CPU's keep
// arithmetic (u >= p on the same 24-bit uniform), so both backends drop the same elements.
__device__ __forceinline__ float ds_attn_drop_factor(const ds_attn_problem &p, int64_t bh, int i, int j) {
    if (p.dropout_p <= 0.0f) return 1.0f;
    const uint64_t T = (uint64_t)p.T;
    const uint64_t idx = ((uint64_t)bh * T + (uint64_t)i) * T + (uint64_t)j;
    return ds_philox_keep(p.seed, p.offset, idx, p.dropout_p) ? p.keep_scale : 0.0f;
}

// True when key j of batch row b takes part (no mask, or mask[b, j] != 0).
__device__ __forceinline__ bool ds_attn_key_on(const ds_attn_problem &p, int b, int j) {
    return p.mask == NULL || p.mask[(int64_t)b * p.T + j] != 0;
}

// Device pointers of one forward call; element type as `bf16` says (F32 otherwise).
struct ds_attn_fwd_ptrs {
    const void *q, *k, *v;  // (B, H, T, D)
    void *out;              // (B, H, T, D)
    float *lse;             // (B, H, T)
    bool bf16;
};

// Device pointers of one backward call.
struct ds_attn_bwd_ptrs {
    const void *q, *k, *v, *out, *dout;  // (B, H, T, D)
    const float *lse;                    // (B, H, T)
    const float *rowterm;                // (B, H, T) D_i = dO_i . out_i (fp32), ds_attn_rowterm's output
    void *dq, *dk, *dv;                  // (B, H, T, D)
    bool bf16;
};

// ---- launchers; each enqueues on s->stream and checks its launches ----
// attention_plain.cu: any D >= 0 up to DS_ATTN_PLAIN_MAX_D, F32 or BF16.
#define DS_ATTN_PLAIN_MAX_D 4096
ds_status ds_attn_plain_forward(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_fwd_ptrs &a);
ds_status ds_attn_plain_backward(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_bwd_ptrs &a);
// D_i = dO_i . out_i for every row (B*H*T rows) into rowterm (device fp32); used by both variants.
ds_status ds_attn_rowterm(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const void *out,
                          const void *dout, bool bf16, float *rowterm);

// attention_fast_fwd.cu / attention_fast_bwd.cu: BF16, D in {32, 64, 128}, 16-byte aligned
// pointers (ds_attn_fast_supported says whether a call qualifies).
bool ds_attn_fast_supported(const ds_attn_problem &p, bool bf16, const void *const *ptrs, int nptrs);
ds_status ds_attn_fast_forward(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_fwd_ptrs &a);
ds_status ds_attn_fast_backward(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_bwd_ptrs &a);


// attention_cudnn.cu: cuDNN's fused SDPA (BF16, no dropout, right-padded key masks); returns
// DS_ERR_UNSUPPORTED (with the reason) for anything it does not take or a build without cuDNN.
ds_status ds_attn_cudnn_forward(ds_context *ctx, ds_cuda_state *s, const ds_attention_fwd_args *a,
                                const ds_attn_problem &p);
ds_status ds_attn_cudnn_backward(ds_context *ctx, ds_cuda_state *s, const ds_attention_bwd_args *a,
                                 const ds_attn_problem &p, const float *rowterm);

#endif
