// FAST attention backward: FlashAttention-2 (Dao, 2023) with bf16 tensor cores (mma.sync
// m16n8k16, attention_mma.cuh) and fp32 accumulation. P is recomputed from q, k and the saved
// lse; no (T, T) tensor is stored. D_i = dO_i . out_i (fp32) comes precomputed (ds_attn_rowterm).
// With z the dropout factor of (i, j) (keep_scale or 0; 1 without dropout):
//   P = exp(scale q k^T - lse),  P' = P z,  dP' = dO V^T,  dS = P (z dP' - D)
//   dV = P'^T dO,  dK = scale dS^T Q,  dQ = scale dS K
// Two kernels, neither with atomics, so results are identical run to run (and ctx->deterministic
// holds without a second code path):
//   dkdv: one block of 4 warps per (64-key tile, bh); each warp owns 16 keys and walks the query
//         tiles of 32 rows, computing S^T = K Q^T and dP'^T = V dO^T directly in the transposed
//         orientation (keys as the M dimension), so that P'^T and dS^T come out as C fragments
//         and feed dV += P'^T dO and dK += dS^T Q as A fragments without a trip through shared
//         memory. dO and Q are kept both row-major (B operand of the S^T/dP'^T products, K = d)
//         and transposed (B operand of the dV/dK products, K = query).
//   dq:   one block of 4 warps per (64-query tile, bh); each warp owns 16 query rows and walks the
//         key tiles of 32, computing S = Q K^T, dP' = dO V^T, dS, and dQ += dS K (K transposed
//         in shared memory as that product's B operand).
// Shared memory (bf16, rows padded by 8 elements):
//   dkdv: K, V [64][D+8]; Q, dO [32][D+8]; Q^T, dO^T [D][40]; lse, D [32] fp32
//         D = 32: 20.25 KiB, 64: 37.25 KiB, 128: 71.25 KiB
//   dq:   Q, dO [64][D+8]; K, V [32][D+8]; K^T [D][40]
//         D = 32: 17.5 KiB, 64: 32 KiB, 128: 61 KiB
// Registers per thread: dkdv holds dK and dV (2 x D/2 floats) plus S^T and dP'^T (16 each);
// dq holds dQ (D/2) plus S and dP' (16 each).
#include "attention_internal.cuh"
#include "attention_mma.cuh"

using namespace ds_attn_mma;

namespace {

constexpr int kThreads = 128;
constexpr int kKeysKV = 64;    // dkdv: keys per block (16 per warp)
constexpr int kQueriesKV = 32;  // dkdv: query rows per inner tile
constexpr int kQueriesQ = 64;   // dq: query rows per block (16 per warp)
constexpr int kKeysQ = 32;      // dq: keys per inner tile

template <int D>
struct KVSmem {
    static constexpr int ld = D + kPad, ldt = kQueriesKV + kPad;
    static constexpr int k_elems = kKeysKV * ld, q_elems = kQueriesKV * ld, qt_elems = D * ldt;
    static constexpr size_t bf16_bytes = sizeof(bf16) * (size_t)(2 * k_elems + 2 * q_elems + 2 * qt_elems);
    static constexpr size_t bytes = bf16_bytes + sizeof(float) * 2 * kQueriesKV;
};

template <int D>
struct QSmem {
    static constexpr int ld = D + kPad, ldt = kKeysQ + kPad;
    static constexpr int q_elems = kQueriesQ * ld, k_elems = kKeysQ * ld, kt_elems = D * ldt;
    static constexpr size_t bytes = sizeof(bf16) * (size_t)(2 * q_elems + 2 * k_elems + kt_elems);
};

static_assert(KVSmem<32>::bytes == 20736 && KVSmem<64>::bytes == 38144 && KVSmem<128>::bytes == 72960,
              "shared-memory sizes quoted above and in docs/attention.md");
static_assert(QSmem<32>::bytes == 17920 && QSmem<64>::bytes == 32768 && QSmem<128>::bytes == 62464,
              "shared-memory sizes quoted above and in docs/attention.md");

// Stores rows g and g+8 of a warp's 16-row C-fragment accumulator acc[D/8][4] (row-major
// (T, D) slice `dst`, global), rounded to bf16, skipping rows at or beyond T. rows[h] are the
// global row indices of fragment halves h = 0 (c0, c1) and 1 (c2, c3).
template <int D>
__device__ __forceinline__ void store_rows(bf16 *dst, const float (*acc)[4], const int rows[2], int T, float mul,
                                           int t) {
    #pragma unroll
    for (int h = 0; h < 2; h++) {
        if (rows[h] >= T) continue;
        bf16 *r = dst + (int64_t)rows[h] * D;
        #pragma unroll
        for (int dt = 0; dt < D / 8; dt++) {
            const uint32_t pair = pack_bf16(acc[dt][2 * h] * mul, acc[dt][2 * h + 1] * mul);
            *reinterpret_cast<uint32_t *>(r + dt * 8 + 2 * t) = pair;  // 4-byte aligned: D and 2t even
        }
    }
}

// grid (ceil(T / 64), B*H), block 128.
template <int D>
__global__ void __launch_bounds__(kThreads)
    fast_backward_dkdv(ds_attn_problem p, const bf16 *q, const bf16 *k, const bf16 *v, const float *lse,
                       const float *rowterm, const bf16 *dout, bf16 *dk, bf16 *dv) {
    typedef KVSmem<D> SM;
    extern __shared__ __align__(16) unsigned char smem[];
    bf16 *Ks = reinterpret_cast<bf16 *>(smem);  // [64][D+8]   A of S^T = K Q^T
    bf16 *Vs = Ks + SM::k_elems;                 // [64][D+8]   A of dP'^T = V dO^T
    bf16 *Qs = Vs + SM::k_elems;                 // [32][D+8]   B of S^T (stored [query][d])
    bf16 *Os = Qs + SM::q_elems;                 // [32][D+8]   dO, B of dP'^T
    bf16 *Qt = Os + SM::q_elems;                 // [D][32+8]   B of dK += dS^T Q (stored [d][query])
    bf16 *Ot = Qt + SM::qt_elems;                // [D][32+8]   dO^T, B of dV += P'^T dO
    float *lse_s = reinterpret_cast<float *>(smem + SM::bf16_bytes);  // [32] lse of the query tile
    float *rt_s = lse_s + kQueriesKV;                                 // [32] D_i of the query tile

    const int T = p.T;
    const int64_t bh = blockIdx.y;
    const int b = (int)(bh / p.H);
    const int k0 = blockIdx.x * kKeysKV;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int64_t slice = bh * T * D;  // start of the (T, D) slice of every (B, H, T, D) tensor
    const int32_t *mask_b = p.mask ? p.mask + (int64_t)b * T : NULL;
    // The two keys this thread holds in every C fragment (fragment rows g and g+8 of the warp's 16).
    const int keys[2] = {k0 + warp * 16 + g, k0 + warp * 16 + g + 8};
    bool key_on[2];
    #pragma unroll
    for (int h = 0; h < 2; h++) key_on[h] = keys[h] < T && (mask_b == NULL || mask_b[keys[h]] != 0);

    // K and V rows of masked keys are zeros; their P is forced to 0 below anyway.
    load_tile<kKeysKV, D, kThreads>(Ks, NULL, k + slice, k0, T, mask_b);
    load_tile<kKeysKV, D, kThreads>(Vs, NULL, v + slice, k0, T, mask_b);

    float dkacc[D / 8][4], dvacc[D / 8][4];
    #pragma unroll
    for (int dt = 0; dt < D / 8; dt++) {
        #pragma unroll
        for (int e = 0; e < 4; e++) dkacc[dt][e] = dvacc[dt][e] = 0.0f;
    }

    for (int i0 = 0; i0 < T; i0 += kQueriesKV) {
        __syncthreads();  // the previous query tile is no longer read
        load_tile<kQueriesKV, D, kThreads>(Qs, Qt, q + slice, i0, T, NULL);
        load_tile<kQueriesKV, D, kThreads>(Os, Ot, dout + slice, i0, T, NULL);
        if (threadIdx.x < kQueriesKV) {
            const int i = i0 + threadIdx.x;
            lse_s[threadIdx.x] = i < T ? lse[bh * T + i] : -INFINITY;  // -inf: the row takes no part
            rt_s[threadIdx.x] = i < T ? rowterm[bh * T + i] : 0.0f;
        }
        __syncthreads();  // tiles complete (and, on the first pass, K and V)

        // S^T = K Q^T and dP'^T = V dO^T for this warp's 16 keys x 32 queries.
        float st[kQueriesKV / 8][4], dpt[kQueriesKV / 8][4];
        #pragma unroll
        for (int nt = 0; nt < kQueriesKV / 8; nt++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) st[nt][e] = dpt[nt][e] = 0.0f;
        }
        #pragma unroll
        for (int kk = 0; kk < D; kk += 16) {
            uint32_t ak[4], av[4];
            load_a(ak, Ks, SM::ld, warp * 16, kk, lane);
            load_a(av, Vs, SM::ld, warp * 16, kk, lane);
            #pragma unroll
            for (int nt = 0; nt < kQueriesKV / 8; nt++) {
                uint32_t bq[2], bo[2];
                load_b(bq, Qs, SM::ld, nt * 8, kk, lane);
                load_b(bo, Os, SM::ld, nt * 8, kk, lane);
                mma16816(st[nt], ak, bq);
                mma16816(dpt[nt], av, bo);
            }
        }

        // Element (key = keys[e >> 1], query column c): P, P' = P z (into st), scale dS (into dpt).
        #pragma unroll
        for (int nt = 0; nt < kQueriesKV / 8; nt++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                const int h = e >> 1;
                const int c = nt * 8 + 2 * t + (e & 1);  // query within the tile
                const float l = lse_s[c];
                float pe = 0.0f, ds = 0.0f;
                if (key_on[h] && l != -INFINITY) {  // query beyond T or fully masked row: l = -inf
                    pe = expf(st[nt][e] * p.scale - l);
                    const float z = ds_attn_drop_factor(p, bh, i0 + c, keys[h]);
                    ds = p.scale * (pe * (z * dpt[nt][e] - rt_s[c]));
                    pe *= z;
                }
                st[nt][e] = pe;
                dpt[nt][e] = ds;
            }
        }

        // dV += P'^T dO and dK += (scale dS^T) Q, 16 queries (the K dimension) at a time.
        #pragma unroll
        for (int kc = 0; kc < kQueriesKV / 16; kc++) {
            uint32_t ap[4], ads[4];
            c_to_a(ap, st[2 * kc], st[2 * kc + 1]);
            c_to_a(ads, dpt[2 * kc], dpt[2 * kc + 1]);
            #pragma unroll
            for (int dt = 0; dt < D / 8; dt++) {
                uint32_t bo[2], bq[2];
                load_b(bo, Ot, SM::ldt, dt * 8, kc * 16, lane);
                load_b(bq, Qt, SM::ldt, dt * 8, kc * 16, lane);
                mma16816(dvacc[dt], ap, bo);
                mma16816(dkacc[dt], ads, bq);
            }
        }
    }
    store_rows<D>(dv + slice, dvacc, keys, T, 1.0f, t);
    store_rows<D>(dk + slice, dkacc, keys, T, 1.0f, t);
}

// grid (ceil(T / 64), B*H), block 128.
template <int D>
__global__ void __launch_bounds__(kThreads)
    fast_backward_dq(ds_attn_problem p, const bf16 *q, const bf16 *k, const bf16 *v, const float *lse,
                     const float *rowterm, const bf16 *dout, bf16 *dq) {
    typedef QSmem<D> SM;
    extern __shared__ __align__(16) unsigned char smem[];
    bf16 *Qs = reinterpret_cast<bf16 *>(smem);  // [64][D+8]  A of S = Q K^T
    bf16 *Os = Qs + SM::q_elems;                 // [64][D+8]  dO, A of dP' = dO V^T
    bf16 *Ks = Os + SM::q_elems;                 // [32][D+8]  B of S (stored [key][d])
    bf16 *Vs = Ks + SM::k_elems;                 // [32][D+8]  B of dP' (stored [key][d])
    bf16 *Kt = Vs + SM::k_elems;                 // [D][32+8]  B of dQ += dS K (stored [d][key])

    const int T = p.T;
    const int64_t bh = blockIdx.y;
    const int b = (int)(bh / p.H);
    const int q0 = blockIdx.x * kQueriesQ;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int64_t slice = bh * T * D;
    const int32_t *mask_b = p.mask ? p.mask + (int64_t)b * T : NULL;
    const int rows[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
    float l[2], rt[2];  // lse and D_i of the two rows; lse = -inf makes a row take no part
    #pragma unroll
    for (int h = 0; h < 2; h++) {
        l[h] = rows[h] < T ? lse[bh * T + rows[h]] : -INFINITY;
        rt[h] = rows[h] < T ? rowterm[bh * T + rows[h]] : 0.0f;
    }

    load_tile<kQueriesQ, D, kThreads>(Qs, NULL, q + slice, q0, T, NULL);
    load_tile<kQueriesQ, D, kThreads>(Os, NULL, dout + slice, q0, T, NULL);

    float dqacc[D / 8][4];
    #pragma unroll
    for (int dt = 0; dt < D / 8; dt++) dqacc[dt][0] = dqacc[dt][1] = dqacc[dt][2] = dqacc[dt][3] = 0.0f;

    for (int j0 = 0; j0 < T; j0 += kKeysQ) {
        __syncthreads();  // the previous key tile is no longer read
        load_tile<kKeysQ, D, kThreads>(Ks, Kt, k + slice, j0, T, mask_b);
        load_tile<kKeysQ, D, kThreads>(Vs, NULL, v + slice, j0, T, mask_b);
        __syncthreads();  // tiles complete (and, on the first pass, Q and dO)

        float s[kKeysQ / 8][4], dp[kKeysQ / 8][4];
        #pragma unroll
        for (int nt = 0; nt < kKeysQ / 8; nt++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) s[nt][e] = dp[nt][e] = 0.0f;
        }
        #pragma unroll
        for (int kk = 0; kk < D; kk += 16) {
            uint32_t aq[4], ao[4];
            load_a(aq, Qs, SM::ld, warp * 16, kk, lane);
            load_a(ao, Os, SM::ld, warp * 16, kk, lane);
            #pragma unroll
            for (int nt = 0; nt < kKeysQ / 8; nt++) {
                uint32_t bk[2], bv[2];
                load_b(bk, Ks, SM::ld, nt * 8, kk, lane);
                load_b(bv, Vs, SM::ld, nt * 8, kk, lane);
                mma16816(s[nt], aq, bk);
                mma16816(dp[nt], ao, bv);
            }
        }

        // Element (row = rows[e >> 1], key = j0 + column): scale dS (into s).
        #pragma unroll
        for (int nt = 0; nt < kKeysQ / 8; nt++) {
            float zt[2][2];  // dropout factors of this thread's 2 x 2 elements of the tile (all lanes draw)
            ds_attn_drop_tile(p, bh, rows[0], rows[1], j0 + nt * 8, t, zt);
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                const int h = e >> 1;
                const int j = j0 + nt * 8 + 2 * t + (e & 1);
                float ds = 0.0f;
                if (l[h] != -INFINITY && j < T && (mask_b == NULL || mask_b[j] != 0)) {
                    const float pe = expf(s[nt][e] * p.scale - l[h]);
                    const float z = zt[h][e & 1];
                    ds = p.scale * (pe * (z * dp[nt][e] - rt[h]));
                }
                s[nt][e] = ds;
            }
        }

        // dQ += (scale dS) K: A = dS (16 rows x 16 keys), B = K (k = key, n = d) stored [d][key] = Kt.
        #pragma unroll
        for (int kc = 0; kc < kKeysQ / 16; kc++) {
            uint32_t a[4];
            c_to_a(a, s[2 * kc], s[2 * kc + 1]);
            #pragma unroll
            for (int dt = 0; dt < D / 8; dt++) {
                uint32_t bb[2];
                load_b(bb, Kt, SM::ldt, dt * 8, kc * 16, lane);
                mma16816(dqacc[dt], a, bb);
            }
        }
    }
    store_rows<D>(dq + slice, dqacc, rows, T, 1.0f, t);
}

template <int D>
ds_status launch(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_bwd_ptrs &a) {
    const size_t smem_kv = KVSmem<D>::bytes, smem_q = QSmem<D>::bytes;
    DS_CUDA_CHECK(err, cudaFuncSetAttribute(fast_backward_dkdv<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            (int)smem_kv));
    DS_CUDA_CHECK(err, cudaFuncSetAttribute(fast_backward_dq<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            (int)smem_q));
    const unsigned bh = (unsigned)(p.B * p.H);
    const dim3 grid_kv((unsigned)((p.T + kKeysKV - 1) / kKeysKV), bh);
    fast_backward_dkdv<D><<<grid_kv, kThreads, smem_kv, s->stream>>>(
        p, (const bf16 *)a.q, (const bf16 *)a.k, (const bf16 *)a.v, a.lse, a.rowterm, (const bf16 *)a.dout,
        (bf16 *)a.dk, (bf16 *)a.dv);
    DS_CUDA_CHECK_LAUNCH(err);
    const dim3 grid_q((unsigned)((p.T + kQueriesQ - 1) / kQueriesQ), bh);
    fast_backward_dq<D><<<grid_q, kThreads, smem_q, s->stream>>>(p, (const bf16 *)a.q, (const bf16 *)a.k,
                                                                 (const bf16 *)a.v, a.lse, a.rowterm,
                                                                 (const bf16 *)a.dout, (bf16 *)a.dq);
    DS_CUDA_CHECK_LAUNCH(err);
    return DS_OK;
}

}  // namespace

ds_status ds_attn_fast_backward(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_bwd_ptrs &a) {
    switch (p.D) {
        case 32: return launch<32>(s, err, p, a);
        case 64: return launch<64>(s, err, p, a);
        case 128: return launch<128>(s, err, p, a);
        default:
            return ds_err_set(err, DS_ERR_UNSUPPORTED, "attention_backward: FAST has no kernel for head dim %d", p.D);
    }
}
