// AdamW on CUDA: one fused pass over a flat block of n parameters that reads param, grad, m, v
// (and the decay mask when present) and writes param, m, v and the BF16 working copy (when
// present). Bit-identical to the CPU reference (kernels/cpu/adamw.c) in fp32, by construction:
//
// - The per-step scalars are the CPU op's own floats: ds_adamw_scalars_of (kernels/cpu/adamw.c,
//   host C) computes them once and they are passed to the kernel by value.
// - Each element goes through the CPU loop body's operations in the same order, each one
//   rounded once to fp32 with round-to-nearest-even, as the CPU does: add, sub, mul, div and sqrt
//   are IEEE-754 correctly rounded on both sides (x86-64 SSE / AArch64 scalar float; CUDA's
//   __fadd_rn, __fsub_rn, __fmul_rn, __fdiv_rn, __fsqrt_rn), and the CPU's two fmaf calls are
//   __fmaf_rn here (one rounding on both sides).
// - nvcc contracts a*b + c into one FMA by default (--fmad=true), which would round once where
//   the CPU rounds twice (GCC does not contract in ISO C mode, -ffp-contract=off). The explicit
//   _rn intrinsics are never contracted (CUDA C Programming Guide, "Intrinsic Functions"; they
//   become PTX mul.rn/add.rn, which the PTX ISA says the optimizer treats conservatively and does
//   not fuse), so every multiply and add below is spelled with one; a plain `*` or `+` on floats
//   must not appear in the arithmetic of an element. (Checked in the PTX: every f32 op of both
//   kernels is add/sub/mul/div/sqrt.rn, and fma.rn appears exactly where the CPU calls fmaf.)
// - Denormals are kept on both sides (no --use_fast_math / -ftz=true in this build; the CPU
//   does not set FTZ/DAZ), and no reduction or ordering is involved: every element is independent.
// - BF16 rounding is the same bit manipulation as ds_f32_to_bf16 (round to nearest even, NaN kept
//   a quiet NaN with its high payload), not __float2bfloat16_rn, whose NaN output is canonical.
//
// Two kernels, chosen by ctx->cuda->opt.kernels:
// - PLAIN: one element per thread, grid-stride loop.
// - FAST: float4 loads/stores of param/grad/m/v (uint32 of 4 mask bytes, 8-byte stores of 4 bf16),
//   FAST_VECS float4s per thread per iteration, loads issued before any arithmetic, streaming
//   cache hints (each byte is touched once per step). Needs 16-byte aligned F32 tensors (8 for
//   param_bf16, 4 for decay_mask): the parameter block aligns every tensor to 256 bytes, and
//   cudaMalloc to 256; a view that is not aligned runs the PLAIN kernel (same bits). The n % 4
//   tail elements go through the scalar path in the same kernel.
#include "cuda_state.cuh"

extern "C" {
#include "../adamw_scalars.h"
#include "cuda_ops.h"
}

// torch's CPU lerp as kernels/cpu/adamw.c computes it: for |w| < 0.5 fma(w, end - self, self),
// otherwise fma(w - 1, end - self, end).
__device__ __forceinline__ float adamw_lerp(float self, float end, float w) {
    const float d = __fsub_rn(end, self);
    return fabsf(w) < 0.5f ? __fmaf_rn(w, d, self) : __fmaf_rn(__fsub_rn(w, 1.0f), d, end);
}

// ds_f32_to_bf16 (runtime/base/dtype.c) on the device: round to nearest, ties to even.
__device__ __forceinline__ unsigned short adamw_bf16_bits(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return (unsigned short)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

struct adamw_elem {
    float p, m, v;
};

// One element: the CPU loop body of ds_cpu_adamw, operation for operation (see the top).
__device__ __forceinline__ adamw_elem adamw_update(const ds_adamw_scalars &s, float p, float grad, float m, float v,
                                                   bool decay_here) {
    const float g = s.scaled ? __fmul_rn(grad, s.grad_scale) : grad;
    if (s.decay && decay_here) p = __fmul_rn(p, s.decay_factor);
    const float mi = adamw_lerp(m, g, s.w1);
    const float vi = __fmaf_rn(__fmul_rn(s.w2, g), g, __fmul_rn(v, s.beta2));  // fmaf(w2 * g, g, v * beta2)
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.bc2_sqrt), s.eps);  // sqrtf(vi) / bc2_sqrt + eps
    p = __fadd_rn(p, __fdiv_rn(__fmul_rn(s.neg_step_size, mi), denom));         // p + (nss * mi) / denom
    return adamw_elem{p, mi, vi};
}

// Element i through the scalar path (PLAIN, and FAST's tail). All pointers (n) device; mask
// and bf16 may be NULL.
__device__ __forceinline__ void adamw_one(const ds_adamw_scalars &s, int64_t i, float *__restrict__ param,
                                          const float *__restrict__ grad, float *__restrict__ m,
                                          float *__restrict__ v, const unsigned char *__restrict__ mask,
                                          unsigned short *__restrict__ bf16) {
    const adamw_elem r = adamw_update(s, param[i], grad[i], m[i], v[i], mask == NULL || mask[i] != 0);
    param[i] = r.p;
    m[i] = r.m;
    v[i] = r.v;
    if (bf16 != NULL) bf16[i] = adamw_bf16_bits(r.p);
}

#define PLAIN_THREADS 256

// PLAIN: element i per thread, grid-stride. param, m, v: (n) F32 device, in place; grad (n) F32;
// mask (n) U8 or NULL; bf16 (n) BF16 bits or NULL.
__global__ void adamw_plain(ds_adamw_scalars s, int64_t n, float *__restrict__ param, const float *__restrict__ grad,
                            float *__restrict__ m, float *__restrict__ v, const unsigned char *__restrict__ mask,
                            unsigned short *__restrict__ bf16) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        adamw_one(s, i, param, grad, m, v, mask, bf16);
}

#define FAST_THREADS 256
#define FAST_VECS 2  // float4s per thread per iteration: 8 elements, 8 independent 16-byte loads in flight

__device__ __forceinline__ float f4_get(const float4 &x, int k) {
    return k == 0 ? x.x : k == 1 ? x.y : k == 2 ? x.z : x.w;
}
__device__ __forceinline__ void f4_set(float4 &x, int k, float val) {
    if (k == 0) x.x = val;
    else if (k == 1) x.y = val;
    else if (k == 2) x.z = val;
    else x.w = val;
}

// FAST: vector j covers elements 4j..4j+3, j < n / 4; an iteration of a block covers
// FAST_THREADS * FAST_VECS consecutive vectors, thread t taking vectors t, t + FAST_THREADS, ...
// (coalesced). The last n % 4 elements are done by block 0's first threads. Same pointers as
// adamw_plain; param/grad/m/v 16-byte aligned, bf16 8-byte, mask 4-byte (checked by the host).
__global__ void __launch_bounds__(FAST_THREADS)
    adamw_fast(ds_adamw_scalars s, int64_t n, float *__restrict__ param, const float *__restrict__ grad,
               float *__restrict__ m, float *__restrict__ v, const unsigned char *__restrict__ mask,
               unsigned short *__restrict__ bf16) {
    const int64_t nvec = n / 4;
    float4 *p4 = reinterpret_cast<float4 *>(param);
    const float4 *g4 = reinterpret_cast<const float4 *>(grad);
    float4 *m4 = reinterpret_cast<float4 *>(m);
    float4 *v4 = reinterpret_cast<float4 *>(v);
    const unsigned int *mask4 = reinterpret_cast<const unsigned int *>(mask);  // 4 mask bytes, element 4j+k in byte k
    uint2 *bf4 = reinterpret_cast<uint2 *>(bf16);                               // 4 bf16, element 4j+k in half k
    const int64_t tile = (int64_t)FAST_THREADS * FAST_VECS;
    for (int64_t base = (int64_t)blockIdx.x * tile; base < nvec; base += (int64_t)gridDim.x * tile) {
        const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        float4 pv[FAST_VECS], gv[FAST_VECS], mv[FAST_VECS], vv[FAST_VECS];
        unsigned int mk[FAST_VECS];
#pragma unroll
        for (int u = 0; u < FAST_VECS; u++) pv[u] = gv[u] = mv[u] = vv[u] = zero, mk[u] = 0;
#pragma unroll
        for (int u = 0; u < FAST_VECS; u++) {
            const int64_t j = base + (int64_t)u * FAST_THREADS + threadIdx.x;
            if (j < nvec) {
                pv[u] = __ldcs(p4 + j);
                gv[u] = __ldcs(g4 + j);
                mv[u] = __ldcs(m4 + j);
                vv[u] = __ldcs(v4 + j);
                mk[u] = mask4 != NULL ? __ldcs(mask4 + j) : 0x01010101u;
            }
        }
#pragma unroll
        for (int u = 0; u < FAST_VECS; u++) {
            const int64_t j = base + (int64_t)u * FAST_THREADS + threadIdx.x;
            if (j >= nvec) continue;
            float4 po = zero, mo = zero, vo = zero;
            unsigned int lo = 0, hi = 0;
#pragma unroll
            for (int k = 0; k < 4; k++) {
                const adamw_elem r = adamw_update(s, f4_get(pv[u], k), f4_get(gv[u], k), f4_get(mv[u], k),
                                                  f4_get(vv[u], k), ((mk[u] >> (8 * k)) & 0xffu) != 0);
                f4_set(po, k, r.p);
                f4_set(mo, k, r.m);
                f4_set(vo, k, r.v);
                const unsigned int h = adamw_bf16_bits(r.p);
                if (k < 2) lo |= h << (16 * k);
                else hi |= h << (16 * (k - 2));
            }
            __stcs(p4 + j, po);
            __stcs(m4 + j, mo);
            __stcs(v4 + j, vo);
            if (bf4 != NULL) __stcs(bf4 + j, make_uint2(lo, hi));
        }
    }
    if (blockIdx.x == 0 && (int64_t)threadIdx.x < n - 4 * nvec)
        adamw_one(s, 4 * nvec + threadIdx.x, param, grad, m, v, mask, bf16);
}

static bool aligned_to(const void *p, uintptr_t bytes) { return p == NULL || ((uintptr_t)p % bytes) == 0; }

extern "C" ds_status ds_cuda_adamw(ds_context *ctx, const void *args) {
    const ds_adamw_args *a = (const ds_adamw_args *)args;
    ds_cuda_state *st = NULL;
    DS_TRY(ds_cuda_state_of(ctx, "adamw", &st));
    DS_TRY(ds_adamw_check_args(a, DS_DEVICE_CUDA, &ctx->err));
    const int64_t n = ds_tensor_numel(&a->param);
    if (n == 0) return DS_OK;
    const ds_adamw_scalars s = ds_adamw_scalars_of(a);
    float *param = (float *)a->param.data;                             // (n) device, in place
    const float *grad = (const float *)a->grad.data;                   // (n) device
    float *m = (float *)a->m.data;                                     // (n) device, in place
    float *v = (float *)a->v.data;                                     // (n) device, in place
    const unsigned char *mask = (const unsigned char *)a->decay_mask.data;  // (n) device or NULL
    unsigned short *bf16 = (unsigned short *)a->param_bf16.data;       // (n) device or NULL

    const bool vector_ok = aligned_to(param, 16) && aligned_to(grad, 16) && aligned_to(m, 16) && aligned_to(v, 16) &&
                           aligned_to(bf16, 8) && aligned_to(mask, 4);
    if (st->opt.kernels == DS_KERNELS_FAST && vector_ok) {
        const int64_t vec_threads = (n / 4 + FAST_VECS - 1) / FAST_VECS;  // threads that each take FAST_VECS vectors
        adamw_fast<<<ds_cuda_blocks(vec_threads, FAST_THREADS), FAST_THREADS, 0, st->stream>>>(s, n, param, grad, m, v,
                                                                                                 mask, bf16);
    } else {
        adamw_plain<<<ds_cuda_blocks(n, PLAIN_THREADS), PLAIN_THREADS, 0, st->stream>>>(s, n, param, grad, m, v, mask,
                                                                                          bf16);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
