// What the attention op's CUDA files share (attention.cu dispatches; attention_plain.cu,
// attention_fast_fwd.cu, attention_fast_bwd.cu and attention_cudnn.cu hold the variants):
// the problem description every kernel receives by value, the dropout keep factor that must
// equal the CPU reference's decision element for element, and the launchers.
// Included by kernels/cuda/attention*.cu only. docs/attention.md describes the algorithms.
#ifndef DS_ATTENTION_INTERNAL_CUH
#define DS_ATTENTION_INTERNAL_CUH

#include "cuda_state.cuh"

#include "philox_dev.cuh"

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
// (kernels/cpu/attention_real.inc: attention_dropout_row), and the keep arithmetic is the CPU's
// (u >= p on the same 24-bit uniform; philox_dev.cuh's helpers give ds_philox_keep's bits), so
// both backends drop the same elements.
__device__ __forceinline__ float ds_attn_drop_factor(const ds_attn_problem &p, int64_t bh, int i, int j) {
    if (p.dropout_p <= 0.0f) return 1.0f;
    const uint64_t T = (uint64_t)p.T;
    const uint64_t idx = ((uint64_t)bh * T + (uint64_t)i) * T + (uint64_t)j;
    return ds_philox_keep_dev(p.seed, p.offset, idx, p.dropout_p) ? p.keep_scale : 0.0f;
}

// Dropout factors of one 16 x 8 C tile whose rows are queries and columns keys (the FAST forward
// and the dQ backward): lane (g, t) holds rows r0, r1 (g and g+8 of the warp's 16) and columns
// col0 + 2t + u, u = 0, 1; z[h][u] is the factor of (r_h, col0 + 2t + u). Every lane of the warp
// must call it (a shuffle), with col0 a multiple of 8.
// When T % 4 == 0 the element index ((bh T + i) T + j) is = j (mod 4), so the four columns
// col0 + 4q .. col0 + 4q + 3 (q = t >> 1) of a row are the four words of one Philox block: lane t
// draws the block of row r_(t & 1) (one call), keeps the two words of its own columns, and swaps
// the other two with lane t ^ 1, which drew the block of the other row for the same columns. One
// Philox call per lane per tile instead of four. Otherwise one call per element.
__device__ __forceinline__ void ds_attn_drop_tile(const ds_attn_problem &p, int64_t bh, int r0, int r1, int col0,
                                                  int t, float z[2][2]) {
    if (p.dropout_p <= 0.0f) {
        z[0][0] = z[0][1] = z[1][0] = z[1][1] = 1.0f;
        return;
    }
    if ((p.T & 3) != 0) {
        z[0][0] = ds_attn_drop_factor(p, bh, r0, col0 + 2 * t);
        z[0][1] = ds_attn_drop_factor(p, bh, r0, col0 + 2 * t + 1);
        z[1][0] = ds_attn_drop_factor(p, bh, r1, col0 + 2 * t);
        z[1][1] = ds_attn_drop_factor(p, bh, r1, col0 + 2 * t + 1);
        return;
    }
    const uint32_t hr = (uint32_t)t & 1u;  // the row this lane draws: r0 (even t) or r1 (odd t)
    const uint64_t T = (uint64_t)p.T, row = (uint64_t)(hr ? r1 : r0);
    const uint64_t first = (((uint64_t)bh * T + row) * T + (uint64_t)(col0 + 4 * (t >> 1))) >> 2;
    const uint32_t k = ds_philox_keep4_dev(p.seed, p.offset, first, p.dropout_p);  // bits: columns 4q..4q+3
    const uint32_t own = (k >> (2u * hr)) & 3u;                                    // columns 2t, 2t+1 of row hr
    const uint32_t other = __shfl_xor_sync(0xffffffffu, (k >> (2u * (hr ^ 1u))) & 3u, 1);  // of the other row
    const uint32_t k0 = hr ? other : own, k1 = hr ? own : other;                   // rows r0, r1
    z[0][0] = (k0 & 1u) ? p.keep_scale : 0.0f;
    z[0][1] = (k0 & 2u) ? p.keep_scale : 0.0f;
    z[1][0] = (k1 & 1u) ? p.keep_scale : 0.0f;
    z[1][1] = (k1 & 2u) ? p.keep_scale : 0.0f;
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
