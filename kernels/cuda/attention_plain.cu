// PLAIN attention on CUDA cores: simple indexing, fp32 math, F32 or BF16 storage, any head
// dim up to DS_ATTN_PLAIN_MAX_D. Each kernel mirrors one loop of the CPU reference
// (kernels/cpu/attention_real.inc) so that it is easy to check by reading:
//   forward:  one block per (query row i, bh); pass 1 finds the row's max and sum of exp (each
//             thread over keys j = tid mod 128, then combined), pass 2 forms p_j = exp(s_j - lse)
//             times the dropout factor, 128 keys at a time, and accumulates out_i = sum p'_j v_j.
//   backward: ds_attn_rowterm writes D_i = dO_i . out_i; then one block per query row i
//             computes dq_i = scale sum_j ds_ij k_j, and one block per key row j computes
//             dv_j = sum_i p'_ij dO_i and dk_j = scale sum_i ds_ij q_i, with p recomputed from
//             q, k and lse. Each output element is summed by one thread in index order: no
//             atomics, the result is identical run to run.
#include "attention_internal.cuh"

namespace {

constexpr int kThreads = 128;  // 4 warps; one key (or query) per thread per step
constexpr int kWarps = kThreads / 32;

// Sum (kMax false) or max (kMax true) of v over the block; every thread gets the result, combined
// in the same fixed order in each thread. red: (kWarps) shared floats.
template <bool kMax>
__device__ float block_reduce(float v, float *red) {
    for (int o = 16; o > 0; o >>= 1) {
        const float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = kMax ? fmaxf(v, w) : v + w;
    }
    __syncthreads();  // red may still be read by the previous call
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    float r = red[0];
    for (int w = 1; w < kWarps; w++) r = kMax ? fmaxf(r, red[w]) : r + red[w];
    return r;
}

// scale * (x . row) with x in shared memory (fp32) and row in global memory; sum in d order,
// then scaled, as the CPU reference does.
template <typename S>
__device__ float dot_scaled(const float *x /* (D) shared */, const S *row /* (D) global */, int D, float scale) {
    float acc = 0.0f;
    for (int d = 0; d < D; d++) acc += x[d] * ds_ld(row, d);
    return scale * acc;
}

// grid (T, B*H), block kThreads. Shared: qs (D) | os (D) | ps (kThreads) | red (kWarps), fp32.
template <typename S>
__global__ void __launch_bounds__(kThreads)
    plain_forward(ds_attn_problem p, const S *q, const S *k, const S *v, S *out, float *lse) {
    extern __shared__ float sm[];
    const int D = p.D, T = p.T, tid = threadIdx.x;
    const int i = blockIdx.x;
    const int64_t bh = blockIdx.y;
    const int b = (int)(bh / p.H);
    float *qs = sm, *os = sm + D, *ps = sm + 2 * D, *red = ps + kThreads;
    const int64_t row = bh * T + i;                  // this query row in (B*H*T)
    const S *kbh = k + bh * T * D, *vbh = v + bh * T * D;  // (T, D) slices

    for (int d = tid; d < D; d += kThreads) {
        qs[d] = ds_ld(q, row * D + d);
        os[d] = 0.0f;
    }
    __syncthreads();

    // Pass 1: running (max, sum of exp) of this thread's keys, then combined over the block.
    float m = -INFINITY, l = 0.0f;
    for (int j = tid; j < T; j += kThreads) {
        if (!ds_attn_key_on(p, b, j)) continue;
        const float s = dot_scaled(qs, kbh + (int64_t)j * D, D, p.scale);
        if (s > m) {
            l = l * expf(m - s) + 1.0f;  // m = -inf at first: l = 0 * 0 + 1
            m = s;
        } else {
            l += expf(s - m);
        }
    }
    const float M = block_reduce<true>(m, red);
    if (M == -INFINITY) {  // every key masked (block-uniform): zero output, lse = -inf
        for (int d = tid; d < D; d += kThreads) ds_st(out, row * D + d, 0.0f);
        if (tid == 0) lse[row] = -INFINITY;
        return;
    }
    const float L = block_reduce<false>(m == -INFINITY ? 0.0f : l * expf(m - M), red);
    const float lse_i = M + logf(L);

    // Pass 2: p'_j = exp(s_j - lse) z_j for 128 keys at a time, then os += sum_j p'_j v_j with
    // each d owned by one thread (os[d] is touched by that thread only).
    for (int j0 = 0; j0 < T; j0 += kThreads) {
        const int j = j0 + tid;
        float pj = 0.0f;
        if (j < T && ds_attn_key_on(p, b, j))
            pj = expf(dot_scaled(qs, kbh + (int64_t)j * D, D, p.scale) - lse_i) * ds_attn_drop_factor(p, bh, i, j);
        ps[tid] = pj;
        __syncthreads();  // ps complete
        const int n = min(kThreads, T - j0);
        for (int d = tid; d < D; d += kThreads) {
            float acc = os[d];
            for (int t = 0; t < n; t++)
                if (ps[t] != 0.0f) acc += ps[t] * ds_ld(vbh, (int64_t)(j0 + t) * D + d);  // masked/dropped keys add nothing
            os[d] = acc;
        }
        __syncthreads();  // ps is rewritten next step
    }
    for (int d = tid; d < D; d += kThreads) ds_st(out, row * D + d, os[d]);
    if (tid == 0) lse[row] = lse_i;
}

// D_i = dO_i . out_i, one warp per row (B*H*T rows), fp32.
template <typename S>
__global__ void __launch_bounds__(kThreads)
    rowterm_kernel(int64_t rows, int D, const S *out, const S *dout, float *rowterm) {
    const int64_t row = (int64_t)blockIdx.x * kWarps + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= rows) return;  // warp-uniform
    float acc = 0.0f;
    for (int d = lane; d < D; d += 32) acc += ds_ld(dout, row * D + d) * ds_ld(out, row * D + d);
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (lane == 0) rowterm[row] = acc;
}

// dq. grid (T, B*H). Shared: qs (D) | dos (D) | dqs (D) | gs (kThreads), fp32.
template <typename S>
__global__ void __launch_bounds__(kThreads)
    plain_backward_dq(ds_attn_problem p, const S *q, const S *k, const S *v, const float *lse,
                      const float *rowterm, const S *dout, S *dq) {
    extern __shared__ float sm[];
    const int D = p.D, T = p.T, tid = threadIdx.x;
    const int i = blockIdx.x;
    const int64_t bh = blockIdx.y;
    const int b = (int)(bh / p.H);
    float *qs = sm, *dos = sm + D, *dqs = sm + 2 * D, *gs = sm + 3 * D;
    const int64_t row = bh * T + i;
    const S *kbh = k + bh * T * D, *vbh = v + bh * T * D;
    const float lse_i = lse[row], Di = rowterm[row];

    for (int d = tid; d < D; d += kThreads) {
        qs[d] = ds_ld(q, row * D + d);
        dos[d] = ds_ld(dout, row * D + d);
        dqs[d] = 0.0f;
    }
    __syncthreads();
    if (lse_i != -INFINITY) {  // a fully masked row had zero output: no gradient (block-uniform)
        for (int j0 = 0; j0 < T; j0 += kThreads) {
            const int j = j0 + tid;
            float g = 0.0f;  // scale * ds_ij
            if (j < T && ds_attn_key_on(p, b, j)) {
                const float pij = expf(dot_scaled(qs, kbh + (int64_t)j * D, D, p.scale) - lse_i);
                const float dpij = dot_scaled(dos, vbh + (int64_t)j * D, D, 1.0f);  // dO_i . v_j
                g = p.scale * (pij * (ds_attn_drop_factor(p, bh, i, j) * dpij - Di));
            }
            gs[tid] = g;
            __syncthreads();
            const int n = min(kThreads, T - j0);
            for (int d = tid; d < D; d += kThreads) {
                float acc = dqs[d];
                for (int t = 0; t < n; t++)
                    if (gs[t] != 0.0f) acc += gs[t] * ds_ld(kbh, (int64_t)(j0 + t) * D + d);
                dqs[d] = acc;
            }
            __syncthreads();
        }
    }
    for (int d = tid; d < D; d += kThreads) ds_st(dq, row * D + d, dqs[d]);
}

// dk and dv of key row j. grid (T, B*H). Shared: ks (D) | vs (D) | dks (D) | dvs (D) |
// ps (kThreads) | gs (kThreads), fp32.
template <typename S>
__global__ void __launch_bounds__(kThreads)
    plain_backward_dkdv(ds_attn_problem p, const S *q, const S *k, const S *v, const float *lse,
                        const float *rowterm, const S *dout, S *dk, S *dv) {
    extern __shared__ float sm[];
    const int D = p.D, T = p.T, tid = threadIdx.x;
    const int j = blockIdx.x;
    const int64_t bh = blockIdx.y;
    const int b = (int)(bh / p.H);
    float *ks = sm, *vs = sm + D, *dks = sm + 2 * D, *dvs = sm + 3 * D;
    float *ps = sm + 4 * D, *gs = ps + kThreads;
    const int64_t row = bh * T + j;
    const S *qbh = q + bh * T * D, *dobh = dout + bh * T * D;

    for (int d = tid; d < D; d += kThreads) {
        ks[d] = ds_ld(k, row * D + d);
        vs[d] = ds_ld(v, row * D + d);
        dks[d] = dvs[d] = 0.0f;
    }
    __syncthreads();
    if (ds_attn_key_on(p, b, j)) {  // a masked key has p = 0 in every row: zero gradients (block-uniform)
        for (int i0 = 0; i0 < T; i0 += kThreads) {
            const int i = i0 + tid;
            float pz = 0.0f, g = 0.0f;  // p'_ij and scale * ds_ij
            if (i < T) {
                const float lse_i = lse[bh * T + i];
                if (lse_i != -INFINITY) {
                    const float pij = expf(dot_scaled(ks, qbh + (int64_t)i * D, D, p.scale) - lse_i);
                    const float dpij = dot_scaled(vs, dobh + (int64_t)i * D, D, 1.0f);  // dO_i . v_j
                    const float z = ds_attn_drop_factor(p, bh, i, j);
                    pz = pij * z;
                    g = p.scale * (pij * (z * dpij - rowterm[bh * T + i]));
                }
            }
            ps[tid] = pz;
            gs[tid] = g;
            __syncthreads();
            const int n = min(kThreads, T - i0);
            for (int d = tid; d < D; d += kThreads) {
                float av = dvs[d], ak = dks[d];
                for (int t = 0; t < n; t++) {
                    const int64_t e = (int64_t)(i0 + t) * D + d;
                    if (ps[t] != 0.0f) av += ps[t] * ds_ld(dobh, e);
                    if (gs[t] != 0.0f) ak += gs[t] * ds_ld(qbh, e);
                }
                dvs[d] = av;
                dks[d] = ak;
            }
            __syncthreads();
        }
    }
    for (int d = tid; d < D; d += kThreads) {
        ds_st(dk, row * D + d, dks[d]);
        ds_st(dv, row * D + d, dvs[d]);
    }
}

template <typename S>
ds_status forward_t(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_fwd_ptrs &a) {
    const dim3 grid((unsigned)p.T, (unsigned)(p.B * p.H));
    const size_t smem = sizeof(float) * (size_t)(2 * p.D + kThreads + kWarps);
    DS_CUDA_CHECK(err, cudaFuncSetAttribute(plain_forward<S>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    plain_forward<S><<<grid, kThreads, smem, s->stream>>>(p, (const S *)a.q, (const S *)a.k, (const S *)a.v,
                                                          (S *)a.out, a.lse);
    DS_CUDA_CHECK_LAUNCH(err);
    return DS_OK;
}

template <typename S>
ds_status backward_t(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_bwd_ptrs &a) {
    const dim3 grid((unsigned)p.T, (unsigned)(p.B * p.H));
    const size_t smem_dq = sizeof(float) * (size_t)(3 * p.D + kThreads);
    const size_t smem_kv = sizeof(float) * (size_t)(4 * p.D + 2 * kThreads);
    DS_CUDA_CHECK(err, cudaFuncSetAttribute(plain_backward_dq<S>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            (int)smem_dq));
    DS_CUDA_CHECK(err, cudaFuncSetAttribute(plain_backward_dkdv<S>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            (int)smem_kv));
    plain_backward_dq<S><<<grid, kThreads, smem_dq, s->stream>>>(p, (const S *)a.q, (const S *)a.k, (const S *)a.v,
                                                                 a.lse, a.rowterm, (const S *)a.dout, (S *)a.dq);
    DS_CUDA_CHECK_LAUNCH(err);
    plain_backward_dkdv<S><<<grid, kThreads, smem_kv, s->stream>>>(p, (const S *)a.q, (const S *)a.k,
                                                                   (const S *)a.v, a.lse, a.rowterm,
                                                                   (const S *)a.dout, (S *)a.dk, (S *)a.dv);
    DS_CUDA_CHECK_LAUNCH(err);
    return DS_OK;
}

}  // namespace

ds_status ds_attn_plain_forward(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_fwd_ptrs &a) {
    return a.bf16 ? forward_t<__nv_bfloat16>(s, err, p, a) : forward_t<float>(s, err, p, a);
}

ds_status ds_attn_plain_backward(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_bwd_ptrs &a) {
    return a.bf16 ? backward_t<__nv_bfloat16>(s, err, p, a) : backward_t<float>(s, err, p, a);
}

ds_status ds_attn_rowterm(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const void *out,
                          const void *dout, bool bf16, float *rowterm) {
    const int64_t rows = (int64_t)p.B * p.H * p.T;
    const unsigned blocks = (unsigned)((rows + kWarps - 1) / kWarps);
    if (bf16)
        rowterm_kernel<__nv_bfloat16><<<blocks, kThreads, 0, s->stream>>>(
            rows, p.D, (const __nv_bfloat16 *)out, (const __nv_bfloat16 *)dout, rowterm);
    else
        rowterm_kernel<float><<<blocks, kThreads, 0, s->stream>>>(rows, p.D, (const float *)out,
                                                                  (const float *)dout, rowterm);
    DS_CUDA_CHECK_LAUNCH(err);
    return DS_OK;
}
