// FAST attention forward: FlashAttention-2 (Dao, 2023) with bf16 tensor cores (mma.sync
// m16n8k16, attention_mma.cuh), fp32 accumulation, online softmax in registers.
//
// One block of 4 warps per (64-query tile, b*H + h). The block keeps its Q tile in shared memory
// and walks the K/V tiles of 64 keys: S = Q K^T (each warp its own 16 query rows x 64 keys, in
// C fragments: 8 tiles of 16 x 8, 32 floats per thread), scale and mask, online softmax
// (running row max m and partial row sum l per thread; the 4 lanes of a group own the same two
// rows and combine with two shuffles), dropout on P, then O += P' V with P' taken straight from
// the C fragments as A fragments (rounded to bf16). At the end out = O / l and
// lse = m + log(l); a row that saw no unmasked key has l = 0: zero output, lse = -inf.
//
// Shared memory per block (bf16): Q [64][D+8], K [64][D+8], V^T [D][64+8]
//   D = 32: 14.5 KiB, 64: 27 KiB, 128: 52 KiB (above 48 KiB: opted in per launch).
// Registers per thread: O 16 x D / 32 floats (D/2: 64 for D = 128) + S 32 floats + row state.
//
// The tile loads are plain synchronous 16-byte loads (no cp.async double buffering): two
// __syncthreads per K/V tile keep the loop simple to check.
#include "attention_internal.cuh"
#include "attention_mma.cuh"

using namespace ds_attn_mma;

namespace {

constexpr int kBr = 64;  // query rows per block (16 per warp)
constexpr int kBc = 64;  // keys per K/V tile
constexpr int kThreads = 128;

template <int D>
struct FwdSmem {
    static constexpr int ldq = D + kPad, ldk = D + kPad, ldvt = kBc + kPad;
    static constexpr int q_elems = kBr * ldq, k_elems = kBc * ldk, vt_elems = D * ldvt;
    static constexpr size_t bytes = sizeof(bf16) * (size_t)(q_elems + k_elems + vt_elems);
};

static_assert(FwdSmem<32>::bytes == 14848 && FwdSmem<64>::bytes == 27648 && FwdSmem<128>::bytes == 53248,
              "shared-memory sizes quoted above and in docs/attention.md");

// grid (ceil(T / 64), B*H), block 128.
template <int D>
__global__ void __launch_bounds__(kThreads)
    fast_forward(ds_attn_problem p, const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out, float *lse) {
    typedef FwdSmem<D> SM;
    extern __shared__ __align__(16) unsigned char smem[];
    bf16 *Qs = reinterpret_cast<bf16 *>(smem);  // [kBr][D+8]
    bf16 *Ks = Qs + SM::q_elems;                 // [kBc][D+8]
    bf16 *Vt = Ks + SM::k_elems;                 // [D][kBc+8], V transposed (B operand of P V)

    const int T = p.T;
    const int64_t bh = blockIdx.y;
    const int b = (int)(bh / p.H);
    const int q0 = blockIdx.x * kBr;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const bf16 *qg = q + bh * T * D, *kg = k + bh * T * D, *vg = v + bh * T * D;  // (T, D) slices
    const int32_t *mask_b = p.mask ? p.mask + (int64_t)b * T : NULL;             // (T) or NULL
    // The two query rows this thread holds in every C fragment: [0] row g, [1] row g + 8 of the warp's 16.
    const int rows[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};

    load_tile<kBr, D, kThreads>(Qs, NULL, qg, q0, T, NULL);  // visible after the loop's first barrier

    float m[2] = {-INFINITY, -INFINITY};  // running max of the scaled scores of each row
    float l[2] = {0.0f, 0.0f};            // this thread's part of the row sum of exp(s - m)
    float o[D / 8][4];                    // O: 16 rows x D, as D/8 C tiles of 16 x 8
    #pragma unroll
    for (int dt = 0; dt < D / 8; dt++) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;

    for (int kv0 = 0; kv0 < T; kv0 += kBc) {
        __syncthreads();  // every warp is done reading the previous K/V tile
        load_tile<kBc, D, kThreads>(Ks, NULL, kg, kv0, T, mask_b);
        load_tile<kBc, D, kThreads>(NULL, Vt, vg, kv0, T, mask_b);  // masked keys: zero rows of V
        __syncthreads();  // tiles complete

        // S = Q K^T for this warp's 16 rows: A = Q (rows, k = d), B = K^T, stored [key][d] = Ks.
        float s[kBc / 8][4];
        #pragma unroll
        for (int nt = 0; nt < kBc / 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
        #pragma unroll
        for (int kk = 0; kk < D; kk += 16) {
            uint32_t a[4];
            load_a(a, Qs, SM::ldq, warp * 16, kk, lane);
            #pragma unroll
            for (int nt = 0; nt < kBc / 8; nt++) {
                uint32_t bb[2];
                load_b(bb, Ks, SM::ldk, nt * 8, kk, lane);
                mma16816(s[nt], a, bb);
            }
        }

        // Scale and mask (key column beyond T or padded: -inf), and the tile's row max.
        float mx[2] = {m[0], m[1]};
        #pragma unroll
        for (int nt = 0; nt < kBc / 8; nt++) {
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                const int col = kv0 + nt * 8 + 2 * t + (e & 1);  // C layout: c0,c1 row g; c2,c3 row g+8
                const bool on = col < T && (mask_b == NULL || mask_b[col] != 0);
                s[nt][e] = on ? s[nt][e] * p.scale : -INFINITY;
                mx[e >> 1] = fmaxf(mx[e >> 1], s[nt][e]);
            }
        }
        float mu[2];  // the max subtracted: 0 while a row has seen only masked keys (avoids -inf - -inf)
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));  // the 4 lanes of group g
            mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
            mu[h] = mx[h] == -INFINITY ? 0.0f : mx[h];
            const float alpha = expf(m[h] - mu[h]);  // rescales the old state; 0 when m was -inf
            m[h] = mx[h];
            l[h] *= alpha;
            #pragma unroll
            for (int dt = 0; dt < D / 8; dt++) {
                o[dt][2 * h] *= alpha;
                o[dt][2 * h + 1] *= alpha;
            }
        }

        // P = exp(s - m) (into s); l sums P before dropout (softmax normalisation); P' = P z.
        #pragma unroll
        for (int nt = 0; nt < kBc / 8; nt++) {
            float z[2][2];  // dropout factors of this thread's 2 x 2 elements of the tile (all lanes draw)
            ds_attn_drop_tile(p, bh, rows[0], rows[1], kv0 + nt * 8, t, z);
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                const int h = e >> 1;
                float pe = expf(s[nt][e] - mu[h]);  // masked: exp(-inf) = 0
                l[h] += pe;
                if (p.dropout_p > 0.0f && pe != 0.0f && rows[h] < T) pe *= z[h][e & 1];
                s[nt][e] = pe;
            }
        }

        // O += P' V: A = P' (16 rows x 16 keys, from two C tiles), B = V (k = key, n = d) stored
        // transposed [d][key] = Vt.
        #pragma unroll
        for (int kc = 0; kc < kBc / 16; kc++) {
            uint32_t a[4];
            c_to_a(a, s[2 * kc], s[2 * kc + 1]);
            #pragma unroll
            for (int dt = 0; dt < D / 8; dt++) {
                uint32_t bb[2];
                load_b(bb, Vt, SM::ldvt, dt * 8, kc * 16, lane);
                mma16816(o[dt], a, bb);
            }
        }
    }

    // Finish: combine the 4 partial row sums of each group; out = O / l, lse = m + log l.
    #pragma unroll
    for (int h = 0; h < 2; h++) {
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
        const int row = rows[h];
        if (row >= T) continue;
        const bool any = l[h] > 0.0f;  // false only when every key of the row is masked
        const float inv = any ? 1.0f / l[h] : 0.0f;
        bf16 *orow = out + (bh * T + row) * D;
        #pragma unroll
        for (int dt = 0; dt < D / 8; dt++) {
            const uint32_t pair = pack_bf16(o[dt][2 * h] * inv, o[dt][2 * h + 1] * inv);
            *reinterpret_cast<uint32_t *>(orow + dt * 8 + 2 * t) = pair;  // columns 2t, 2t+1 of tile dt (4-byte aligned)
        }
        if (t == 0) lse[bh * T + row] = any ? m[h] + logf(l[h]) : -INFINITY;
    }
}

template <int D>
ds_status launch(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_fwd_ptrs &a) {
    const size_t smem = FwdSmem<D>::bytes;
    DS_CUDA_CHECK(err, cudaFuncSetAttribute(fast_forward<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    const dim3 grid((unsigned)((p.T + kBr - 1) / kBr), (unsigned)(p.B * p.H));
    fast_forward<D><<<grid, kThreads, smem, s->stream>>>(p, (const bf16 *)a.q, (const bf16 *)a.k, (const bf16 *)a.v,
                                                        (bf16 *)a.out, a.lse);
    DS_CUDA_CHECK_LAUNCH(err);
    return DS_OK;
}

}  // namespace

bool ds_attn_fast_supported(const ds_attn_problem &p, bool bf16, const void *const *ptrs, int nptrs) {
    if (!bf16 || !(p.D == 32 || p.D == 64 || p.D == 128)) return false;
    for (int i = 0; i < nptrs; i++)
        if (((uintptr_t)ptrs[i] & 15u) != 0) return false;  // 16-byte vector loads/stores of rows
    return true;
}

ds_status ds_attn_fast_forward(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_fwd_ptrs &a) {
    switch (p.D) {
        case 32: return launch<32>(s, err, p, a);
        case 64: return launch<64>(s, err, p, a);
        case 128: return launch<128>(s, err, p, a);
        default:
            return ds_err_set(err, DS_ERR_UNSUPPORTED, "attention_forward: FAST has no kernel for head dim %d", p.D);
    }
}
