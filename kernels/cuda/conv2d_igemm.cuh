// The FAST convolution: an implicit GEMM on bf16 tensor cores (mma.sync m16n8k16, fp32
// accumulation; attention_mma.cuh has the instruction and its fragment layouts), one kernel
// template for the three passes (conv2d_internal.cuh lists their GEMMs). NCHW in and out: the
// operands are gathered from the tensors as they are, never transposed into a copy.
// scripts/conv_implicit_gemm_sim.py replays this kernel lane by lane (every index formula below,
// the shared-memory layout, the fragment loads, the mma and the epilogue) against a plain conv;
// keep the two in step.
//
// Tiles. A block computes a BM x BN tile of the GEMM D (M x NG) = A (M x KG) B (KG x NG) of one
// group (forward, dgrad) or of one group and one split of the reduction (wgrad: blockIdx.z =
// g * splits + split); grid (ceil(NG / BN), ceil(M / BM), G [* splits]). The reduction runs in
// steps of BK = 32. WM x WN warps each own a (BM / WM) x (BN / WN) sub-tile: MT x NT mma tiles of
// 16 x 8, fp32 accumulators in registers (c0, c1 at row g, columns 2t, 2t+1; c2, c3 at row g+8).
// Configurations (conv2d_fast.cu picks by shape): 128 x 128 with 2 x 4 warps (256 threads, warp
// tile 64 x 32) and 64 x 64 with 2 x 2 warps (128 threads, warp tile 32 x 32).
//
// Shared memory: A tile As[BM][BK + 8] and B tile Bs[BN][BK + 8], both row-major with the
// reduction index k contiguous (B stored transposed, [n][k]), double-buffered; a row stride of 40
// bf16 = 20 words makes the fragment loads conflict-free (attention_mma.cuh). 41 KB for 128 x 128.
//
// Loads. Each thread moves PAIRS = rows * 16 / threads pairs of consecutive k of each operand per
// step (global -> registers -> one 32-bit shared store), by one of two maps of (slot i) ->
// (row, pair kp):
//   K_FAST   (operand contiguous along k: weights in forward, dy and x in wgrad):
//            row = tid / 16 + i * threads / 16, kp = tid % 16 (one kp, PAIRS rows per thread)
//   ROW_FAST (operand contiguous along its rows: the im2col / dy gathers of forward and dgrad,
//            whose rows are output or input pixels; the 1x1 weights of dgrad):
//            row = tid % rows, kp = tid / rows + i * threads / rows (one row, PAIRS kps)
// so that the 32 lanes of a warp read 32 consecutive addresses where the tensor allows it. The
// index arithmetic of a row (pixel -> image, row, column) is done once per thread; that of k
// (-> channel, r, s) once per block and step: the first BK threads fill a table of BK entries in
// shared memory (forward, dgrad). A pair is one aligned 32-bit load when both of its elements
// are in range and the operand's row length allows it (pair_a), else two 16-bit loads; every
// element outside the tensor (GEMM tails, padding, dilation holes, dgrad's stride holes) reads 0.
//
// Pipeline: the loads of step k+1 are issued into registers before the mma of step k and stored
// to the other shared buffer after it; two barriers per step (one makes the k table visible).
//
// Epilogue: each accumulator goes to its element of y / dx (rounded once to bf16; forward adds
// the F32 bias first) or, in wgrad, of dw (F32, += when accumulating) or of the split's F32
// partial (summed in split order by conv2d_fast.cu's reduction kernel: deterministic).
#ifndef DS_CUDA_CONV2D_IGEMM_CUH
#define DS_CUDA_CONV2D_IGEMM_CUH

#include <cuda_bf16.h>
#include <stdint.h>

#include "attention_mma.cuh"

namespace ds_conv_igemm {

typedef __nv_bfloat16 bf16;

constexpr int BK = 32;
constexpr int LDS = BK + 8;  // shared row stride, bf16 elements

enum Mode { FWD = 0, DGRAD = 1, WGRAD = 2 };
enum Map { K_FAST = 0, ROW_FAST = 1 };

// Everything fits int32 (ds_conv_fast_fits); addresses are formed in int64.
struct Params {
    int N, C, H, W, K, R, S, P, Q, Cg, Kg, sh, sw, ph, pw, dil_h, dil_w;
    int RS, HW, PQ, CRS;
    int M, NG, KG;       // GEMM rows, columns and reduction length (per group)
    int splits, ksplit;  // wgrad: split s reduces [s ksplit, min((s + 1) ksplit, KG)); others 1, KG
    bool pair_a;         // A's pairs may be one aligned 32-bit load (forward: CRS even; wgrad: PQ even)
    const bf16 *x, *w, *dy;  // (N, C, H, W), (K, Cg, R, S), (N, K, P, Q) device
    bf16 *out;               // forward: y (N, K, P, Q); dgrad: dx (N, C, H, W)
    float *dw;               // wgrad: (K, Cg, R, S) F32
    float *partial;          // wgrad with splits > 1: (G, splits, Kg, CRS) F32
    const float *bias;       // forward: (K) F32 or NULL
    bool accumulate;         // wgrad with one split: dw += instead of =
};

// One reduction index's decomposition, shared by the block: o1 < 0 marks k >= KG.
//   forward: o1 = c H W (x channel offset), rr = r dil_h, ss = s dil_w
//   dgrad:   o1 = ko Cg R S + r S + s (weight offset), o2 = ko P Q (dy channel offset), rr, ss
struct KEntry {
    int o1, o2, rr, ss;
};

template <int MODE>
__device__ __forceinline__ KEntry k_entry(const Params &p, int k) {
    KEntry e;
    if (k >= p.KG) {
        e.o1 = e.o2 = -1;
        e.rr = e.ss = 0;
        return e;
    }
    const int a = k / p.RS, rs = k - a * p.RS, r = rs / p.S, s = rs - r * p.S;
    if (MODE == FWD) {
        e.o1 = a * p.HW;  // a = c
        e.o2 = 0;
    } else {
        e.o1 = a * p.Cg * p.RS + rs;  // a = ko
        e.o2 = a * p.PQ;
    }
    e.rr = r * p.dil_h;
    e.ss = s * p.dil_w;
    return e;
}

template <int MAP, int ROWS, int THREADS>
__device__ __forceinline__ int slot_row(int tid, int i) {
    return MAP == K_FAST ? tid / 16 + i * (THREADS / 16) : tid % ROWS;
}
template <int MAP, int ROWS, int THREADS>
__device__ __forceinline__ int slot_kp(int tid, int i) {
    return MAP == K_FAST ? tid % 16 : tid / ROWS + i * (THREADS / ROWS);
}

__device__ __forceinline__ uint32_t pack2(bf16 lo, bf16 hi) {
    return (uint32_t)__bfloat16_as_ushort(lo) | ((uint32_t)__bfloat16_as_ushort(hi) << 16);
}

__device__ __forceinline__ bf16 zero_bf16() { return __ushort_as_bfloat16((unsigned short)0); }

// dgrad's dy element for input pixel (th0 - rr, tw0 - ss) = (p sh, q sw), or 0 in a hole.
__device__ __forceinline__ bf16 dgrad_dy(const Params &p, int64_t base, const KEntry &e, int th0, int tw0) {
    if (e.o1 < 0) return zero_bf16();
    const int th = th0 - e.rr, tw = tw0 - e.ss;
    if (th < 0 || tw < 0) return zero_bf16();
    int pp = th, qq = tw;
    if (p.sh > 1) {
        if (th % p.sh != 0) return zero_bf16();
        pp = th / p.sh;
    }
    if (p.sw > 1) {
        if (tw % p.sw != 0) return zero_bf16();
        qq = tw / p.sw;
    }
    if (pp >= p.P || qq >= p.Q) return zero_bf16();
    return p.dy[base + e.o2 + (int64_t)pp * p.Q + qq];
}

// forward's x element at (h0 + rr, w0 + ss) of channel offset o1, or 0 in the padding.
__device__ __forceinline__ bf16 fwd_x(const Params &p, int64_t base, const KEntry &e, int h0, int w0) {
    if (e.o1 < 0) return zero_bf16();
    const int h = h0 + e.rr, w = w0 + e.ss;
    if ((unsigned)h >= (unsigned)p.H || (unsigned)w >= (unsigned)p.W) return zero_bf16();
    return p.x[base + e.o1 + (int64_t)h * p.W + w];
}

// MODE FWD: A = w (K_FAST), B = im2col(x) (ROW_FAST). DGRAD: A = w arranged (MAPA: ROW_FAST for
// 1x1 kernels, where the channel is contiguous, else K_FAST), B = gathered dy (ROW_FAST). WGRAD:
// A = dy (K_FAST), B = im2col(x)^T (K_FAST).
template <int MODE, int BM, int BN, int WM, int WN, int MAPA>
__global__ void __launch_bounds__(32 * WM * WN) igemm(Params p) {
    constexpr int THREADS = 32 * WM * WN;
    constexpr int WTM = BM / WM, WTN = BN / WN, MT = WTM / 16, NT = WTN / 8;
    constexpr int PA = BM * (BK / 2) / THREADS, PB = BN * (BK / 2) / THREADS;
    constexpr int MAPB = MODE == WGRAD ? K_FAST : ROW_FAST;
    constexpr bool TABLE = MODE != WGRAD;
    static_assert(MODE != FWD || MAPA == K_FAST, "forward reads w along k");
    static_assert(MODE != WGRAD || MAPA == K_FAST, "wgrad reads dy along k");
    static_assert(PA * THREADS == BM * (BK / 2) && PB * THREADS == BN * (BK / 2), "pairs split evenly");
    static_assert(THREADS % BM == 0 && THREADS % BN == 0 && WTM % 16 == 0 && WTN % 8 == 0, "tile shapes");

    __shared__ __align__(16) bf16 As[2][BM * LDS];
    __shared__ __align__(16) bf16 Bs[2][BN * LDS];
    __shared__ KEntry tab[BK];

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int wm = warp / WN, wn = warp % WN;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int g = MODE == WGRAD ? (int)blockIdx.z / p.splits : (int)blockIdx.z;
    const int split = MODE == WGRAD ? (int)blockIdx.z % p.splits : 0;
    const int kbeg = split * p.ksplit;
    const int kend = kbeg + p.ksplit < p.KG ? kbeg + p.ksplit : p.KG;
    const int steps = (kend - kbeg + BK - 1) / BK;

    // ---- per-thread rows (fixed for the whole reduction) ----
    int a_row[PA], a_kp[PA];
    bool a_ok[PA];
    int64_t a_base[PA];  // FWD: w row start; DGRAD: w offset of channel c; WGRAD: dy offset of (g, ko) in image 0
#pragma unroll
    for (int i = 0; i < PA; i++) {
        a_row[i] = slot_row<MAPA, BM, THREADS>(tid, i);
        a_kp[i] = slot_kp<MAPA, BM, THREADS>(tid, i);
        const int m = m0 + a_row[i];
        a_ok[i] = m < p.M;
        if (MODE == FWD) a_base[i] = ((int64_t)g * p.Kg + m) * p.CRS;
        else if (MODE == DGRAD) a_base[i] = (int64_t)g * p.Kg * p.Cg * p.RS + (int64_t)m * p.RS;
        else a_base[i] = ((int64_t)g * p.Kg + m) * p.PQ;
    }
    int b_row[PB], b_kp[PB];
#pragma unroll
    for (int i = 0; i < PB; i++) {
        b_row[i] = slot_row<MAPB, BN, THREADS>(tid, i);
        b_kp[i] = slot_kp<MAPB, BN, THREADS>(tid, i);
    }
    // ROW_FAST B (forward, dgrad): one pixel per thread.
    bool pix_ok = false;
    int64_t pix_base = 0;  // FWD: x offset of (img, group's first channel); DGRAD: dy offset of (img, g's first ko)
    int pix_h = 0, pix_w = 0;  // FWD: p sh - ph, q sw - pw; DGRAD: h + ph, w + pw
    if (MODE != WGRAD) {
        const int n = n0 + b_row[0];
        pix_ok = n < p.NG;
        if (pix_ok) {
            if (MODE == FWD) {
                const int img = n / p.PQ, pq = n - img * p.PQ, pp = pq / p.Q, qq = pq - pp * p.Q;
                pix_base = ((int64_t)img * p.C + (int64_t)g * p.Cg) * p.HW;
                pix_h = pp * p.sh - p.ph;
                pix_w = qq * p.sw - p.pw;
            } else {
                const int img = n / p.HW, hw = n - img * p.HW, h = hw / p.W, w = hw - h * p.W;
                pix_base = ((int64_t)img * p.K + (int64_t)g * p.Kg) * p.PQ;
                pix_h = h + p.ph;
                pix_w = w + p.pw;
            }
        }
    }
    // K_FAST B (wgrad): one (c, r, s) per slot.
    bool crs_ok[MODE == WGRAD ? PB : 1];
    int64_t crs_off[MODE == WGRAD ? PB : 1];
    int crs_rr[MODE == WGRAD ? PB : 1], crs_ss[MODE == WGRAD ? PB : 1];
    if (MODE == WGRAD) {
#pragma unroll
        for (int i = 0; i < PB; i++) {
            const int n = n0 + b_row[i];
            crs_ok[i] = n < p.NG;
            const int c = n / p.RS, rs = n - c * p.RS, r = rs / p.S, s = rs - r * p.S;
            crs_off[i] = ((int64_t)g * p.Cg + c) * p.HW;
            crs_rr[i] = r * p.dil_h;
            crs_ss[i] = s * p.dil_w;
        }
    }

    uint32_t ra[PA], rb[PB];  // the next step's pairs, in flight

    // Global -> registers for the step starting at k0 (the table holds its entries when TABLE).
    auto load = [&](int k0) {
        if (MODE == FWD) {
#pragma unroll
            for (int i = 0; i < PA; i++) {
                const int k = k0 + 2 * a_kp[i];
                const bf16 *src = p.w + a_base[i] + k;
                if (!a_ok[i]) ra[i] = 0u;
                else if (p.pair_a && k + 1 < p.KG) ra[i] = *reinterpret_cast<const uint32_t *>(src);
                else ra[i] = pack2(k < p.KG ? src[0] : zero_bf16(), k + 1 < p.KG ? src[1] : zero_bf16());
            }
#pragma unroll
            for (int i = 0; i < PB; i++) {
                const int kl = 2 * b_kp[i];
                rb[i] = pix_ok ? pack2(fwd_x(p, pix_base, tab[kl], pix_h, pix_w),
                                       fwd_x(p, pix_base, tab[kl + 1], pix_h, pix_w))
                               : 0u;
            }
        } else if (MODE == DGRAD) {
#pragma unroll
            for (int i = 0; i < PA; i++) {
                const int kl = 2 * a_kp[i];
                const KEntry e0 = tab[kl], e1 = tab[kl + 1];
                ra[i] = a_ok[i] ? pack2(e0.o1 >= 0 ? p.w[a_base[i] + e0.o1] : zero_bf16(),
                                        e1.o1 >= 0 ? p.w[a_base[i] + e1.o1] : zero_bf16())
                                : 0u;
            }
#pragma unroll
            for (int i = 0; i < PB; i++) {
                const int kl = 2 * b_kp[i];
                rb[i] = pix_ok ? pack2(dgrad_dy(p, pix_base, tab[kl], pix_h, pix_w),
                                       dgrad_dy(p, pix_base, tab[kl + 1], pix_h, pix_w))
                               : 0u;
            }
        } else {
            // The two output pixels j, j + 1 of this thread's pair (every slot shares the kp).
            const int j = k0 + 2 * a_kp[0];
            int img[2], pq[2], hb[2], wb[2];
            bool ok[2];
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int jj = j + e;
                ok[e] = jj < kend;
                img[e] = jj / p.PQ;
                pq[e] = jj - img[e] * p.PQ;
                const int pp = pq[e] / p.Q, qq = pq[e] - pp * p.Q;
                hb[e] = pp * p.sh - p.ph;
                wb[e] = qq * p.sw - p.pw;
            }
#pragma unroll
            for (int i = 0; i < PA; i++) {
                const bf16 *src = p.dy + (int64_t)img[0] * p.K * p.PQ + a_base[i] + pq[0];
                if (!a_ok[i] || !ok[0]) ra[i] = 0u;
                else if (p.pair_a && ok[1]) ra[i] = *reinterpret_cast<const uint32_t *>(src);
                else {
                    const bf16 hi = ok[1] ? p.dy[(int64_t)img[1] * p.K * p.PQ + a_base[i] + pq[1]] : zero_bf16();
                    ra[i] = pack2(src[0], hi);
                }
            }
#pragma unroll
            for (int i = 0; i < PB; i++) {
                bf16 v[2];
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int h = hb[e] + crs_rr[i], w = wb[e] + crs_ss[i];
                    v[e] = crs_ok[i] && ok[e] && (unsigned)h < (unsigned)p.H && (unsigned)w < (unsigned)p.W
                               ? p.x[(int64_t)img[e] * p.C * p.HW + crs_off[i] + (int64_t)h * p.W + w]
                               : zero_bf16();
                }
                rb[i] = pack2(v[0], v[1]);
            }
        }
    };
    auto store = [&](int buf) {
#pragma unroll
        for (int i = 0; i < PA; i++) *reinterpret_cast<uint32_t *>(&As[buf][a_row[i] * LDS + 2 * a_kp[i]]) = ra[i];
#pragma unroll
        for (int i = 0; i < PB; i++) *reinterpret_cast<uint32_t *>(&Bs[buf][b_row[i] * LDS + 2 * b_kp[i]]) = rb[i];
    };

    float acc[MT][NT][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int nt = 0; nt < NT; nt++) acc[mt][nt][0] = acc[mt][nt][1] = acc[mt][nt][2] = acc[mt][nt][3] = 0.0f;

    if (steps > 0) {
        if (TABLE && tid < BK) tab[tid] = k_entry<MODE>(p, kbeg + tid);
        __syncthreads();
        load(kbeg);
        store(0);
        __syncthreads();
    }
    for (int kt = 0; kt < steps; kt++) {
        const bool more = kt + 1 < steps;
        const int knext = kbeg + (kt + 1) * BK;
        if (TABLE) {
            if (more && tid < BK) tab[tid] = k_entry<MODE>(p, knext + tid);
            __syncthreads();
        }
        if (more) load(knext);
        const bf16 *as = As[kt & 1], *bs = Bs[kt & 1];
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            uint32_t af[MT][4], bfr[NT][2];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) ds_attn_mma::load_a(af[mt], as, LDS, wm * WTM + mt * 16, kk, lane);
#pragma unroll
            for (int nt = 0; nt < NT; nt++) ds_attn_mma::load_b(bfr[nt], bs, LDS, wn * WTN + nt * 8, kk, lane);
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int nt = 0; nt < NT; nt++) ds_attn_mma::mma16816(acc[mt][nt], af[mt], bfr[nt]);
        }
        if (more) store((kt + 1) & 1);
        __syncthreads();
    }

    // ---- epilogue ----
    const int gq = lane >> 2, tq = lane & 3;
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int c = 0; c < 4; c++) {
                const int m = m0 + wm * WTM + mt * 16 + gq + (c >= 2 ? 8 : 0);
                const int n = n0 + wn * WTN + nt * 8 + 2 * tq + (c & 1);
                if (m >= p.M || n >= p.NG) continue;
                const float v = acc[mt][nt][c];
                if (MODE == FWD) {
                    const int img = n / p.PQ, pq = n - img * p.PQ;
                    const int ko = g * p.Kg + m;
                    const float b = p.bias != NULL ? p.bias[ko] : 0.0f;
                    p.out[((int64_t)img * p.K + ko) * p.PQ + pq] = __float2bfloat16_rn(v + b);
                } else if (MODE == DGRAD) {
                    const int img = n / p.HW, hw = n - img * p.HW;
                    p.out[((int64_t)img * p.C + (int64_t)g * p.Cg + m) * p.HW + hw] = __float2bfloat16_rn(v);
                } else if (p.splits == 1) {
                    const int64_t o = ((int64_t)g * p.Kg + m) * p.CRS + n;
                    p.dw[o] = p.accumulate ? p.dw[o] + v : v;
                } else {
                    p.partial[(((int64_t)g * p.splits + split) * p.Kg + m) * p.CRS + n] = v;
                }
            }
}

}  // namespace ds_conv_igemm

#endif
