// Tensor-core building blocks of the FAST (flash) attention kernels: the bf16 mma.sync
// m16n8k16 instruction with fp32 accumulation, loads of its fragments from shared memory, and
// tile copies global -> shared. Works on sm_80 and later (sm_90 runs mma.sync as well).
//
// Fragment layouts of mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (PTX ISA, "Matrix
// Fragments for mma.m16n8k16 with floating point type"), per lane with g = lane / 4 (group) and
// t = lane % 4 (thread in group); each .b32 register holds two bf16, the lower column/row index
// in the low 16 bits:
//   A (16 x 16, row-major, M x K):  a0 = A[g][2t, 2t+1]      a1 = A[g+8][2t, 2t+1]
//                                   a2 = A[g][2t+8, 2t+9]    a3 = A[g+8][2t+8, 2t+9]
//   B (16 x 8,  K x N, "col"):      b0 = B[2t, 2t+1][g]      b1 = B[2t+8, 2t+9][g]
//   C/D (16 x 8 fp32, M x N):       c0, c1 = C[g][2t, 2t+1]  c2, c3 = C[g+8][2t, 2t+1]
// So a B fragment is two consecutive K-elements of column g: contiguous when B is stored as
// B^T row-major ([n][k]), which is how every B operand is kept in shared memory below.
// And the C fragments of two adjacent 8-column tiles are exactly an A fragment of the 16 x 16
// block they form (c of tile 2c -> a0/a1, of tile 2c+1 -> a2/a3), so softmax probabilities
// computed in C layout feed the next product without going through shared memory.
//
// Shared-memory tiles are row-major bf16 with a row stride of (columns + 8) elements, i.e.
// s = 20, 36, 68 words for 32, 64, 128 columns and 20, 36 words for the 32- and 64-column
// transposed tiles. In a fragment load lane (g, t) reads word g*s + t (+ a constant), and
// g*s mod 32 is a distinct multiple of 4 for g = 0..7 for each of these s (s = 4 or 20 mod 32),
// so the 32 lanes hit 32 distinct banks.
#ifndef DS_ATTENTION_MMA_CUH
#define DS_ATTENTION_MMA_CUH

#include <cuda_bf16.h>
#include <stdint.h>
#include <string.h>

namespace ds_attn_mma {

typedef __nv_bfloat16 bf16;

constexpr int kPad = 8;  // bf16 elements of padding per shared-memory row (16 bytes)

// d += a * b on one 16 x 8 tile (fp32 accumulate).
__device__ __forceinline__ void mma16816(float d[4], const uint32_t a[4], const uint32_t b[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Two floats as a bf16 pair (round to nearest even): lo in the low 16 bits.
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    uint32_t r;
    memcpy(&r, &v, sizeof r);
    return r;
}

__device__ __forceinline__ uint32_t ld_u32(const bf16 *p /* shared, 4-byte aligned */) {
    return *reinterpret_cast<const uint32_t *>(p);
}

// A fragment of the 16 x 16 block at (row0, k0) of a row-major shared matrix [row][k] with row
// stride ld (elements). Offsets are even, so every 32-bit load is aligned.
__device__ __forceinline__ void load_a(uint32_t a[4], const bf16 *sm, int ld, int row0, int k0, int lane) {
    const int g = lane >> 2, t = lane & 3;
    const bf16 *p = sm + (row0 + g) * ld + k0 + 2 * t;
    a[0] = ld_u32(p);               // row g,   k 2t..2t+1
    a[1] = ld_u32(p + 8 * ld);      // row g+8, k 2t..2t+1
    a[2] = ld_u32(p + 8);           // row g,   k 2t+8..2t+9
    a[3] = ld_u32(p + 8 * ld + 8);  // row g+8, k 2t+8..2t+9
}

// B fragment (16 x 8 block at (k0, n0)) of a matrix stored transposed, [n][k] row-major with row
// stride ld: b0 = B[k0+2t..][n0+g] = sm[n0+g][k0+2t..], contiguous.
__device__ __forceinline__ void load_b(uint32_t b[2], const bf16 *sm, int ld, int n0, int k0, int lane) {
    const int g = lane >> 2, t = lane & 3;
    const bf16 *p = sm + (n0 + g) * ld + k0 + 2 * t;
    b[0] = ld_u32(p);      // k 2t..2t+1,   column g
    b[1] = ld_u32(p + 8);  // k 2t+8..2t+9, column g
}

// The A fragment (16 x 16) formed by two adjacent 16 x 8 C tiles lo (columns 0-7) and hi (8-15),
// rounded to bf16.
__device__ __forceinline__ void c_to_a(uint32_t a[4], const float lo[4], const float hi[4]) {
    a[0] = pack_bf16(lo[0], lo[1]);  // row g,   k 2t..
    a[1] = pack_bf16(lo[2], lo[3]);  // row g+8, k 2t..
    a[2] = pack_bf16(hi[0], hi[1]);  // row g,   k 8+2t..
    a[3] = pack_bf16(hi[2], hi[3]);  // row g+8, k 8+2t..
}

// bf16 element u (0..7) of a 16-byte chunk, as raw bits, by selects (no run-time array index).
__device__ __forceinline__ unsigned short chunk_elem(const uint4 &v, int u) {
    const uint32_t w = (u & 4) ? ((u & 2) ? v.w : v.z) : ((u & 2) ? v.y : v.x);
    return (unsigned short)((u & 1) ? (w >> 16) : (w & 0xffffu));
}

// 16-byte global -> shared copy through cp.async (sm_80+), zero-filled when !valid (src-size 0:
// nothing is read). dst: shared, 16-byte aligned; src: global, 16-byte aligned (any valid address
// when !valid).
__device__ __forceinline__ void cp_async16(void *dst, const void *src, bool valid) {
    const unsigned saddr = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(saddr), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_wait_all() {
    asm volatile("cp.async.commit_group;\n" ::);
    asm volatile("cp.async.wait_group 0;\n" ::: "memory");
}

// Copies rows [r0, r0 + ROWS) of a (T, D) bf16 slice `g` (global, 16-byte aligned rows) into
// shared tiles, in 16-byte chunks spread over the block's NT threads (thread c: row c / (D/8),
// chunk c % (D/8), so a warp reads whole rows: coalesced). A row at or beyond T, or whose key is
// masked (mask_b != NULL and mask_b[row] == 0), is stored as zeros, so that tile tails and
// padding never bring NaN or garbage into a product.
//   rows (optional): [ROWS][D + kPad], row-major
//   cols (optional): [D][ROWS + kPad], the transpose (for operands used as B with K = row)
// Only `rows` wanted: each chunk goes by cp.async straight to shared memory (no register
// staging); the copies are waited for before returning (no double buffering yet), and the
// caller's barrier makes them visible, as before.
// `cols` wanted: the chunk is read into registers and its 8 elements stored down a column. The
// threads of one row (same r, chunks cc) would all hit the same bank at element u (column stride
// (ROWS + 8) / 2 words, = 4 mod 32 for ROWS = 64 and 20 for 32, times 8 cc: = 0 mod 32), so
// thread cc stores its elements in the rotated order u = (k + cc) mod 8: at step k the threads of
// a row hit banks 4u + r/2 (ROWS = 64) or 20u + r/2 (ROWS = 32), distinct for the 8 values of u,
// and the other rows of the warp shift by r/2 (a different word, or the other half of the same
// one). Conflict-free for D = 32 and 64 (8-way before at D = 64), 2-way for D = 128 (16 threads
// per row share 8 banks; 16-way before). scripts/attention_fast_sim.py counts these banks.
template <int ROWS, int D, int NT>
__device__ __forceinline__ void load_tile(bf16 *rows, bf16 *cols, const bf16 *g, int r0, int T,
                                          const int32_t *mask_b) {
    constexpr int kChunks = D / 8;  // 16-byte chunks per row
    if (rows != NULL && cols == NULL) {
        for (int c = threadIdx.x; c < ROWS * kChunks; c += NT) {
            const int r = c / kChunks, cc = c % kChunks;
            const int row = r0 + r;
            const bool valid = row < T && (mask_b == NULL || mask_b[row] != 0);
            cp_async16(rows + r * (D + kPad) + cc * 8, valid ? g + (int64_t)row * D + cc * 8 : g, valid);
        }
        cp_async_wait_all();
        return;
    }
    unsigned short *cbits = reinterpret_cast<unsigned short *>(cols);  // bf16 storage as raw bits
    for (int c = threadIdx.x; c < ROWS * kChunks; c += NT) {
        const int r = c / kChunks, cc = c % kChunks;
        const int row = r0 + r;
        uint4 val = make_uint4(0u, 0u, 0u, 0u);
        if (row < T && (mask_b == NULL || mask_b[row] != 0))
            val = *reinterpret_cast<const uint4 *>(g + (int64_t)row * D + cc * 8);
        if (rows != NULL) *reinterpret_cast<uint4 *>(rows + r * (D + kPad) + cc * 8) = val;
        #pragma unroll
        for (int k = 0; k < 8; k++) {
            const int u = (k + cc) & 7;
            cbits[(cc * 8 + u) * (ROWS + kPad) + r] = chunk_elem(val, u);
        }
    }
}

}  // namespace ds_attn_mma

#endif
