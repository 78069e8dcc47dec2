// Deterministic column reductions for parameter gradients (linear db, layer-norm dgamma/dbeta):
//   out_k[j] (+)= sum_{r < n} term(r, j)[k]   for every column j < c and k < K (K = 1 or 2),
// with no atomics, in a fixed order that depends only on (n, c, K), so results are identical
// run to run. Sums are taken in double (as the CPU reference does) and rounded to the F32
// output once: out = (float)((accumulate ? out : 0) + sum).
//
// PLAIN: one thread per column walks the rows in order.
// FAST:  blocks of 32 columns x 8 row lanes each sum one chunk of rows; the 8 lanes are added
//        in lane order; with more than one chunk the per-chunk sums (double, K x chunks x c) go
//        to ctx->cuda->scratch and a second kernel adds them in chunk order. The chunk count is
//        capped so that the partials fit the scratch (1 MiB = 131072 doubles): chunks <=
//        131072 / (K c); when even one chunk per column does not fit (K c > 131072) the first
//        kernel writes the outputs directly, so there is no size limit, only less parallelism.
//
// A Term is a small struct passed by value with
//   __device__ void operator()(int64_t r, int64_t j, float (&t)[K]) const
// reading device memory through pointers it holds.
#ifndef DS_COLUMN_SUMS_CUH
#define DS_COLUMN_SUMS_CUH

#include "cuda_state.cuh"

template <int K, class Term>
__global__ void ds_colsum_plain_kernel(Term term, int64_t n, int64_t c, float *out0, float *out1, bool accumulate) {
    const int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) return;
    double acc[K];
#pragma unroll
    for (int k = 0; k < K; k++) acc[k] = 0;
    for (int64_t r = 0; r < n; r++) {
        float t[K];
        term(r, j, t);
#pragma unroll
        for (int k = 0; k < K; k++) acc[k] += (double)t[k];
    }
    float *out[2] = {out0, out1};
#pragma unroll
    for (int k = 0; k < K; k++) out[k][j] = (float)((accumulate ? (double)out[k][j] : 0.0) + acc[k]);
}

enum { DS_COLSUM_COLS = 32, DS_COLSUM_LANES = 8, DS_COLSUM_MIN_ROWS = 64 };

// Block (32, 8), grid (ceil(c / 32), chunks). Chunk y covers rows [y * rows_per_chunk, ...).
// partial: (K, chunks, c) doubles, device; unused when chunks == 1.
template <int K, class Term>
__global__ void ds_colsum_chunk_kernel(Term term, int64_t n, int64_t c, int64_t rows_per_chunk, int chunks,
                                       double *partial, float *out0, float *out1, bool accumulate) {
    __shared__ double lane_sums[K][DS_COLSUM_LANES][DS_COLSUM_COLS];
    const int64_t j = (int64_t)blockIdx.x * DS_COLSUM_COLS + threadIdx.x;
    const int64_t chunk = blockIdx.y;
    const int64_t r0 = chunk * rows_per_chunk;
    const int64_t r1 = r0 + rows_per_chunk < n ? r0 + rows_per_chunk : n;
    double acc[K];
#pragma unroll
    for (int k = 0; k < K; k++) acc[k] = 0;
    if (j < c) {
        for (int64_t r = r0 + threadIdx.y; r < r1; r += DS_COLSUM_LANES) {
            float t[K];
            term(r, j, t);
#pragma unroll
            for (int k = 0; k < K; k++) acc[k] += (double)t[k];
        }
    }
#pragma unroll
    for (int k = 0; k < K; k++) lane_sums[k][threadIdx.y][threadIdx.x] = acc[k];
    __syncthreads();
    if (threadIdx.y != 0 || j >= c) return;
    float *out[2] = {out0, out1};
#pragma unroll
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (int l = 0; l < DS_COLSUM_LANES; l++) s += lane_sums[k][l][threadIdx.x];
        if (chunks == 1)
            out[k][j] = (float)((accumulate ? (double)out[k][j] : 0.0) + s);
        else
            partial[((int64_t)k * chunks + chunk) * c + j] = s;
    }
}

// One thread per column: adds the chunks' partial sums in chunk order.
template <int K>
__global__ void ds_colsum_finish_kernel(const double *partial, int chunks, int64_t c, float *out0, float *out1,
                                        bool accumulate) {
    const int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) return;
    float *out[2] = {out0, out1};
#pragma unroll
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (int ch = 0; ch < chunks; ch++) s += partial[((int64_t)k * chunks + ch) * c + j];
        out[k][j] = (float)((accumulate ? (double)out[k][j] : 0.0) + s);
    }
}

// Runs the reduction on ctx's stream with the context's kernel variant. out0 (c) and, for
// K == 2, out1 (c) are F32 device arrays; out1 is ignored for K == 1.
template <int K, class Term>
static ds_status ds_column_sums(ds_context *ctx, Term term, int64_t n, int64_t c, float *out0, float *out1,
                                bool accumulate) {
    static_assert(K == 1 || K == 2, "one or two outputs");
    ds_cuda_state *cu = ctx->cuda;
    if (c == 0) return DS_OK;
    if (cu->opt.kernels == DS_KERNELS_PLAIN) {
        const unsigned threads = 256;
        const int64_t blocks = (c + threads - 1) / threads;
        ds_colsum_plain_kernel<K, Term><<<(unsigned)blocks, threads, 0, cu->stream>>>(term, n, c, out0, out1, accumulate);
        DS_CUDA_CHECK_LAUNCH(&ctx->err);
        return DS_OK;
    }
    const int64_t fit = (int64_t)(cu->scratch_bytes / sizeof(double)) / ((int64_t)K * c);
    int64_t chunks = (n + DS_COLSUM_MIN_ROWS - 1) / DS_COLSUM_MIN_ROWS;
    if (chunks > fit) chunks = fit;
    if (chunks > 1024) chunks = 1024;  // enough blocks to fill a GPU; keeps the finish loop short
    if (chunks < 1) chunks = 1;
    const int64_t rows_per_chunk = (n + chunks - 1) / chunks;
    const dim3 grid((unsigned)((c + DS_COLSUM_COLS - 1) / DS_COLSUM_COLS), (unsigned)chunks);
    const dim3 block(DS_COLSUM_COLS, DS_COLSUM_LANES);
    double *partial = (double *)cu->scratch;  // (K, chunks, c), only read when chunks > 1
    ds_colsum_chunk_kernel<K, Term><<<grid, block, 0, cu->stream>>>(term, n, c, rows_per_chunk, (int)chunks, partial,
                                                                     out0, out1, accumulate);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    if (chunks > 1) {
        const unsigned threads = 256;
        const int64_t blocks = (c + threads - 1) / threads;
        ds_colsum_finish_kernel<K><<<(unsigned)blocks, threads, 0, cu->stream>>>(partial, (int)chunks, c, out0, out1,
                                                                                 accumulate);
        DS_CUDA_CHECK_LAUNCH(&ctx->err);
    }
    return DS_OK;
}

#endif
