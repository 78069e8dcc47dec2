// Deterministic per-channel sums over an NCHW tensor: for every channel c < C,
//   sums_k[c] = sum over n < N, i < HW of term(n, c, i)[k]      (k < K, K = 1 or 2)
// taken in double, in an order that depends only on (N, C, HW) and the variant, never on timing:
// identical results run to run, no atomics. BatchNorm's statistics and its backward reduction
// and the convolution's bias gradient are such sums; a Finish functor turns each channel's sums
// into the op's outputs.
//
// Order. The N*HW values of a channel are numbered j = n*HW + i and cut into `chunks` equal
// ranges; block (c, chunk) of 256 threads sums its range (thread t takes j = start + t, + 256,
// ... in double), then ds_block_sum adds the threads in a fixed tree. With one chunk the block
// finishes the channel itself; with more, the chunk sums go to ctx->cuda->scratch (K x chunks x C
// doubles) and one thread per channel adds them in chunk order.
//   PLAIN: one chunk per channel (C blocks; simple, slow for few channels).
//   FAST:  chunks = ceil(N*HW / 8192), at most 1024 and at most what fits the scratch
//          (131072 / (K C) doubles; C > 65536 / K leaves one chunk).
//
// Term:   __device__ void operator()(int64_t n, int64_t c, int64_t i, double (&t)[K]) const
// Finish: __device__ void operator()(int64_t c, const double (&s)[K]) const
// Both are small structs passed by value holding device pointers.
#ifndef DS_CUDA_CHANNEL_SUMS_CUH
#define DS_CUDA_CHANNEL_SUMS_CUH

#include "block_reduce.cuh"
#include "cuda_state.cuh"

enum { DS_CHSUM_THREADS = 256, DS_CHSUM_VALUES_PER_CHUNK = 8192, DS_CHSUM_MAX_CHUNKS = 1024 };

// grid (C, chunks), block DS_CHSUM_THREADS. partial: (K, chunks, C) device doubles, used when chunks > 1.
template <int K, class Term, class Finish>
__global__ void __launch_bounds__(DS_CHSUM_THREADS)
    ds_chsum_chunk_kernel(Term term, Finish finish, int64_t N, int64_t C, int64_t HW, int64_t per_chunk, int chunks,
                          double *partial) {
    __shared__ double sh[33];
    const int64_t c = blockIdx.x, chunk = blockIdx.y, total = N * HW;
    const int64_t j0 = chunk * per_chunk, j1 = j0 + per_chunk < total ? j0 + per_chunk : total;
    double acc[K];
#pragma unroll
    for (int k = 0; k < K; k++) acc[k] = 0.0;
    for (int64_t j = j0 + threadIdx.x; j < j1; j += DS_CHSUM_THREADS) {
        const int64_t n = j / HW, i = j - n * HW;
        double t[K];
        term(n, c, i, t);
#pragma unroll
        for (int k = 0; k < K; k++) acc[k] += t[k];
    }
    double s[K];
#pragma unroll
    for (int k = 0; k < K; k++) s[k] = ds_block_sum(acc[k], sh);
    if (threadIdx.x != 0) return;
    if (chunks == 1) {
        finish(c, s);
        return;
    }
#pragma unroll
    for (int k = 0; k < K; k++) partial[((int64_t)k * chunks + chunk) * C + c] = s[k];
}

// One thread per channel: the chunk sums added in chunk order, then finish.
template <int K, class Finish>
__global__ void ds_chsum_finish_kernel(Finish finish, const double *partial, int chunks, int64_t C) {
    const int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s[K];
#pragma unroll
    for (int k = 0; k < K; k++) {
        double a = 0.0;
        for (int ch = 0; ch < chunks; ch++) a += partial[((int64_t)k * chunks + ch) * C + c];
        s[k] = a;
    }
    finish(c, s);
}

// The chunk count the variant uses for (N, C, HW); see the top.
static inline int ds_chsum_chunks(const ds_cuda_state *cu, int K, int64_t N, int64_t C, int64_t HW) {
    if (cu->opt.kernels != DS_KERNELS_FAST) return 1;
    const int64_t total = N * HW;
    int64_t chunks = (total + DS_CHSUM_VALUES_PER_CHUNK - 1) / DS_CHSUM_VALUES_PER_CHUNK;
    const int64_t fit = (int64_t)(cu->scratch_bytes / sizeof(double)) / ((int64_t)K * C);
    if (chunks > fit) chunks = fit;
    if (chunks > DS_CHSUM_MAX_CHUNKS) chunks = DS_CHSUM_MAX_CHUNKS;
    return chunks < 1 ? 1 : (int)chunks;
}

// Runs the sums on ctx's stream (C >= 1; N*HW may be 0: every sum is then 0).
template <int K, class Term, class Finish>
static ds_status ds_channel_sums(ds_context *ctx, Term term, Finish finish, int64_t N, int64_t C, int64_t HW) {
    static_assert(K == 1 || K == 2, "one or two sums per channel");
    ds_cuda_state *cu = ctx->cuda;
    DS_REQUIRE(&ctx->err, C >= 1 && C <= INT32_MAX, DS_ERR_INVALID_ARG, "channel sums: %lld channels", (long long)C);
    const int chunks = ds_chsum_chunks(cu, K, N, C, HW);
    const int64_t total = N * HW, per_chunk = (total + chunks - 1) / chunks;
    double *partial = (double *)cu->scratch;  // (K, chunks, C), read only when chunks > 1
    ds_chsum_chunk_kernel<K, Term, Finish><<<dim3((unsigned)C, (unsigned)chunks), DS_CHSUM_THREADS, 0, cu->stream>>>(
        term, finish, N, C, HW, per_chunk > 0 ? per_chunk : 1, chunks, partial);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    if (chunks > 1) {
        ds_chsum_finish_kernel<K, Finish><<<(unsigned)((C + 255) / 256), 256, 0, cu->stream>>>(finish, partial, chunks,
                                                                                              C);
        DS_CUDA_CHECK_LAUNCH(&ctx->err);
    }
    return DS_OK;
}

#endif
