// Linear (torch.nn.Linear layout) on CUDA through cuBLASLt: y = x w^T + b and its backward,
// plus linear + exact GELU for the BERT feed-forward (kernels/cuda_fused.h).
//
// Row-major tensors, column-major cuBLASLt. A row-major (r, c) matrix with leading dim c is,
// read column-major, its transpose: a (c x r) matrix with ld c. So every GEMM below is written
// for the transposes, D (m x n, ld m) = op(A) op(B) [+ beta D] [+ bias per row of D]:
//   forward  y (N,M) = x w^T     ->  y^T (M x N) = w^T[stored K x M, op T] * x^T[stored K x N, op N]
//                                    m = M, n = N, k = K; bias (M) is per row of y^T = per column of y.
//   dx (N,K) = dy w              ->  dx^T (K x N) = w^T[stored K x M, op N] * dy^T[stored M x N, op N]
//                                    m = K, n = N, k = M.
//   dw (M,K) (+)= dy^T x         ->  dw^T (K x M) = x^T[stored K x N, op N] * dy[stored M x N, op T]
//                                    m = K, n = M, k = N, beta = accumulate ? 1 : 0.
// (Check: y^T[i,j] = sum_k w[i,k] x[j,k] = y[j,i]; dx^T[i,j] = sum_k w[k,i] dy[j,k] = dx[j,i];
//  dw^T[i,j] = sum_k x[k,i] dy[k,j] = dw[j,i].)
//
// Dtypes (kernels/cuda/cuda_ops.h): x, w, y, dy, dx all F32 (compute CUBLAS_COMPUTE_32F, or
// CUBLAS_COMPUTE_32F_FAST_TF32 when opt.allow_tf32) or all BF16 (CUBLAS_COMPUTE_32F: fp32
// accumulation, one rounding on store). dw and db are always F32: for BF16 the dw GEMM runs with
// A/B BF16 and C/D F32, a combination cuBLASLt supports. b is F32, or with BF16 x also BF16.
//
// Bias: fused as CUBLASLT_EPILOGUE_BIAS. cuBLASLt wants the bias in the type of D (cublasLt.h,
// CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: "Bias vector elements are the same type as the elements of
// output matrix (Dtype)", exceptions only for int8/fp8 kernels). So with BF16 y an F32 bias is
// first rounded to BF16 into ctx->cuda->scratch (M <= 524288, always true for BERT; a larger M
// runs the GEMM without epilogue and adds the F32 bias in a separate kernel, which rounds y twice).
// A bias that is not 16-byte aligned is staged in the scratch the same way (M*4 <= 1 MiB for F32).
//
// db: a deterministic column sum of dy of our own (column_sums.cuh), not CUBLASLT_EPILOGUE_BGRADB:
// the epilogue overwrites its output (no accumulate), and its bias-gradient type follows the
// output type, while db is F32 with BF16 dy.
//
// Descriptors: the matmul descriptor, the three layouts, the preference and the heuristic's
// algorithm are built on a GEMM key's first use and cached in the context's device state
// (ctx->cuda->gemm_cache, keyed by shape, types, bias, workspace and pointer alignments; no global
// state); later calls only set the bias pointer and run. The same key gives the same algorithm,
// and cuBLASLt's algorithms (their split-K reductions included) are deterministic on one GPU
// model, so results are bit-identical run to run.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "column_sums.cuh"
#include "cuda_state.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "../cuda_fused.h"
#include "cuda_ops.h"
}

// ---- cuBLASLt GEMM ----

// One GEMM in column-major terms (see the file comment). Pointers are device memory.
struct lt_gemm {
    cublasOperation_t trans_a, trans_b;
    int64_t m, n, k;              // all > 0
    const void *a;                // stored (trans_a == N ? m x k : k x m), leading dim lda
    int64_t lda;
    const void *b;                // stored (trans_b == N ? k x n : n x k), leading dim ldb
    int64_t ldb;
    void *d;                      // (m x n), leading dim ldd; also C when beta != 0
    int64_t ldd;
    cudaDataType_t ab_type;       // CUDA_R_32F or CUDA_R_16BF
    cudaDataType_t d_type;        // CUDA_R_32F or CUDA_R_16BF
    float beta;                   // 0: D = op(A) op(B); 1: D += op(A) op(B)
    const void *bias;             // (m) of type d_type, NULL: no epilogue
};

struct lt_objects {
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulPreference_t pref;
};

static void lt_destroy(lt_objects *o) {
    if (o->pref) cublasLtMatmulPreferenceDestroy(o->pref);
    if (o->d) cublasLtMatrixLayoutDestroy(o->d);
    if (o->b) cublasLtMatrixLayoutDestroy(o->b);
    if (o->a) cublasLtMatrixLayoutDestroy(o->a);
    if (o->desc) cublasLtMatmulDescDestroy(o->desc);
}

// The largest power of two (up to 256) dividing the address: the alignment the heuristic may
// assume. Its default is 256 bytes, which a tensor at an offset inside a larger buffer need not have.
static uint32_t lt_alignment(const void *p) {
    const uintptr_t v = (uintptr_t)p;
    uint32_t al = 256;
    while (al > 1 && (v & (al - 1)) != 0) al >>= 1;
    return al;
}

// Creates the descriptor, layouts and preference of g's GEMM and asks the heuristic for its
// algorithm (into *algo). The bias pointer set here is replaced on every call (lt_exec).
static ds_status lt_build(ds_context *ctx, const char *op, const lt_gemm *g, lt_objects *o, cublasLtMatmulAlgo_t *algo) {
    ds_err *err = &ctx->err;
    ds_cuda_state *cu = ctx->cuda;
    const cublasComputeType_t compute = g->ab_type == CUDA_R_32F && cu->opt.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                                                        : CUBLAS_COMPUTE_32F;
    DS_CUBLAS_CHECK(err, cublasLtMatmulDescCreate(&o->desc, compute, CUDA_R_32F));
    DS_CUBLAS_CHECK(err, cublasLtMatmulDescSetAttribute(o->desc, CUBLASLT_MATMUL_DESC_TRANSA, &g->trans_a,
                                                        sizeof g->trans_a));
    DS_CUBLAS_CHECK(err, cublasLtMatmulDescSetAttribute(o->desc, CUBLASLT_MATMUL_DESC_TRANSB, &g->trans_b,
                                                        sizeof g->trans_b));
    if (g->bias != NULL) {
        const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        const int32_t bias_type = (int32_t)g->d_type;
        DS_CUBLAS_CHECK(err, cublasLtMatmulDescSetAttribute(o->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        DS_CUBLAS_CHECK(err, cublasLtMatmulDescSetAttribute(o->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g->bias,
                                                            sizeof g->bias));
        DS_CUBLAS_CHECK(err, cublasLtMatmulDescSetAttribute(o->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                            sizeof bias_type));
    }
    const bool ta = g->trans_a == CUBLAS_OP_T, tb = g->trans_b == CUBLAS_OP_T;
    DS_CUBLAS_CHECK(err, cublasLtMatrixLayoutCreate(&o->a, g->ab_type, (uint64_t)(ta ? g->k : g->m),
                                                    (uint64_t)(ta ? g->m : g->k), g->lda));
    DS_CUBLAS_CHECK(err, cublasLtMatrixLayoutCreate(&o->b, g->ab_type, (uint64_t)(tb ? g->n : g->k),
                                                    (uint64_t)(tb ? g->k : g->n), g->ldb));
    DS_CUBLAS_CHECK(err, cublasLtMatrixLayoutCreate(&o->d, g->d_type, (uint64_t)g->m, (uint64_t)g->n, g->ldd));
    DS_CUBLAS_CHECK(err, cublasLtMatmulPreferenceCreate(&o->pref));
    const uint64_t ws = cu->lt_workspace_bytes;
    DS_CUBLAS_CHECK(err, cublasLtMatmulPreferenceSetAttribute(o->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                              sizeof ws));
    const uint32_t al_a = lt_alignment(g->a), al_b = lt_alignment(g->b), al_d = lt_alignment(g->d);
    DS_CUBLAS_CHECK(err, cublasLtMatmulPreferenceSetAttribute(o->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                              &al_a, sizeof al_a));
    DS_CUBLAS_CHECK(err, cublasLtMatmulPreferenceSetAttribute(o->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                              &al_b, sizeof al_b));
    DS_CUBLAS_CHECK(err, cublasLtMatmulPreferenceSetAttribute(o->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                              &al_d, sizeof al_d));
    DS_CUBLAS_CHECK(err, cublasLtMatmulPreferenceSetAttribute(o->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                              &al_d, sizeof al_d));
    cublasLtMatmulHeuristicResult_t heur;
    int found = 0;
    const cublasStatus_t hs =
        cublasLtMatmulAlgoGetHeuristic(cu->lt, o->desc, o->a, o->b, o->d, o->d, o->pref, 1, &heur, &found);
    if (hs != CUBLAS_STATUS_SUCCESS || found == 0)
        return ds_err_set(err, DS_ERR_CUBLAS,
                          "%s: cuBLASLt has no algorithm for m=%lld n=%lld k=%lld (A/B %s, D %s, bias %s, alignments "
                          "%u/%u/%u): %s",
                          op, (long long)g->m, (long long)g->n, (long long)g->k,
                          g->ab_type == CUDA_R_32F ? "F32" : "BF16", g->d_type == CUDA_R_32F ? "F32" : "BF16",
                          g->bias ? "yes" : "no", al_a, al_b, al_d,
                          hs != CUBLAS_STATUS_SUCCESS ? cublasGetStatusString(hs) : "no result");
    *algo = heur.algo;
    return DS_OK;
}

// Runs g's GEMM with built objects: the bias pointer of this call, then the matmul.
static ds_status lt_exec(ds_context *ctx, const lt_gemm *g, lt_objects *o, const cublasLtMatmulAlgo_t *algo) {
    ds_err *err = &ctx->err;
    ds_cuda_state *cu = ctx->cuda;
    if (g->bias != NULL)
        DS_CUBLAS_CHECK(err, cublasLtMatmulDescSetAttribute(o->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g->bias,
                                                            sizeof g->bias));
    const float alpha = 1.0f, beta = g->beta;
    DS_CUBLAS_CHECK(err, cublasLtMatmul(cu->lt, o->desc, &alpha, g->a, o->a, g->b, o->b, &beta, g->d, o->d, g->d, o->d,
                                        algo, cu->lt_workspace, cu->lt_workspace_bytes, cu->stream));
    return DS_OK;
}

// ---- the descriptor cache (ctx->cuda->gemm_cache) ----
// Everything lt_build's objects and the heuristic's answer depend on. Pointers enter only as
// their alignments (lt_alignment) and the bias only as present or not (it is always 16-byte
// aligned here: a misaligned one is staged first). Compared with memcmp: built zeroed.
struct lt_key {
    int32_t trans_a, trans_b, ab_type, d_type, compute, has_bias;
    int64_t m, n, k, lda, ldb, ldd;
    uint32_t al_a, al_b, al_d, pad;
    uint64_t workspace;
};

struct lt_entry {
    lt_key key;
    lt_objects o;
    cublasLtMatmulAlgo_t algo;
};

// Entries in insertion order, searched linearly: a model has tens of distinct GEMMs (BERT-base:
// ~10 per step). Past LT_CACHE_MAX entries new shapes run uncached (built and destroyed per call).
struct ds_gemm_cache {
    lt_entry *e;
    int n, cap;
};
enum { LT_CACHE_MAX = 1024 };

void ds_gemm_cache_free(ds_gemm_cache *c) {
    if (c == NULL) return;
    for (int i = 0; i < c->n; i++) lt_destroy(&c->e[i].o);
    free(c->e);
    free(c);
}

static lt_key lt_key_of(const ds_cuda_state *cu, const lt_gemm *g) {
    lt_key k;
    memset(&k, 0, sizeof k);
    k.trans_a = (int32_t)g->trans_a, k.trans_b = (int32_t)g->trans_b;
    k.ab_type = (int32_t)g->ab_type, k.d_type = (int32_t)g->d_type;
    k.compute = g->ab_type == CUDA_R_32F && cu->opt.allow_tf32 ? 1 : 0;
    k.has_bias = g->bias != NULL;
    k.m = g->m, k.n = g->n, k.k = g->k, k.lda = g->lda, k.ldb = g->ldb, k.ldd = g->ldd;
    k.al_a = lt_alignment(g->a), k.al_b = lt_alignment(g->b), k.al_d = lt_alignment(g->d);
    k.workspace = cu->lt_workspace_bytes;
    return k;
}

// The cached entry of key, or NULL.
static lt_entry *lt_lookup(ds_gemm_cache *c, const lt_key *key) {
    if (c == NULL) return NULL;
    for (int i = 0; i < c->n; i++)
        if (memcmp(&c->e[i].key, key, sizeof *key) == 0) return &c->e[i];
    return NULL;
}

// Copies *e into the cache (growing it) and returns the stored entry, which then owns the
// objects; NULL when the cache is full or cannot grow (the caller still owns them).
static lt_entry *lt_insert(ds_cuda_state *cu, const lt_entry *e) {
    if (cu->gemm_cache == NULL) {
        cu->gemm_cache = (ds_gemm_cache *)calloc(1, sizeof *cu->gemm_cache);
        if (cu->gemm_cache == NULL) return NULL;
    }
    ds_gemm_cache *c = cu->gemm_cache;
    if (c->n == c->cap) {
        if (c->cap >= LT_CACHE_MAX) return NULL;
        const int cap = c->cap ? 2 * c->cap : 16;
        lt_entry *ne = (lt_entry *)realloc(c->e, sizeof *ne * (size_t)cap);
        if (ne == NULL) return NULL;
        c->e = ne, c->cap = cap;
    }
    c->e[c->n] = *e;
    return &c->e[c->n++];
}

// Runs one GEMM: the cached descriptors and algorithm of its key, built (and cached) on first use.
static ds_status lt_matmul(ds_context *ctx, const char *op, const lt_gemm *g) {
    ds_cuda_state *cu = ctx->cuda;
    const lt_key key = lt_key_of(cu, g);
    lt_entry *hit = lt_lookup(cu->gemm_cache, &key);
    if (hit != NULL) return lt_exec(ctx, g, &hit->o, &hit->algo);
    lt_entry fresh;
    memset(&fresh, 0, sizeof fresh);
    fresh.key = key;
    ds_status s = lt_build(ctx, op, g, &fresh.o, &fresh.algo);
    if (s != DS_OK) {
        lt_destroy(&fresh.o);
        return s;
    }
    hit = lt_insert(cu, &fresh);
    if (hit != NULL) return lt_exec(ctx, g, &hit->o, &hit->algo);
    s = lt_exec(ctx, g, &fresh.o, &fresh.algo);  // not cached: used once
    lt_destroy(&fresh.o);
    return s;
}

static cudaDataType_t lt_type(ds_dtype dt) { return dt == DS_BF16 ? CUDA_R_16BF : CUDA_R_32F; }

// ---- small kernels around the GEMMs ----

// dst (n) bf16 = src (n) f32 rounded to nearest even. Device.
__global__ void f32_to_bf16_kernel(const float *src, __nv_bfloat16 *dst, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

// y (rows, cols) = (add ? y : 0) + b broadcast over rows; b (cols) may be NULL (adds 0). Device.
template <typename T, typename B>
__global__ void bias_rows_kernel(T *y, const B *b, int64_t rows, int64_t cols, bool add) {
    const int64_t total = rows * cols;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const float bias = b != NULL ? ds_ld(b, i % cols) : 0.0f;
        ds_st(y, i, (add ? ds_ld(y, i) : 0.0f) + bias);
    }
}

template <typename T>
static ds_status launch_bias_rows(ds_context *ctx, void *y, const ds_tensor *b, int64_t rows, int64_t cols, bool add) {
    cudaStream_t st = ctx->cuda->stream;
    const unsigned threads = 256, blocks = ds_cuda_blocks(rows * cols, threads);
    if (b == NULL)
        bias_rows_kernel<T, float><<<blocks, threads, 0, st>>>((T *)y, (const float *)NULL, rows, cols, add);
    else if (b->dtype == DS_BF16)
        bias_rows_kernel<T, __nv_bfloat16><<<blocks, threads, 0, st>>>((T *)y, (const __nv_bfloat16 *)b->data, rows,
                                                                       cols, add);
    else
        bias_rows_kernel<T, float><<<blocks, threads, 0, st>>>((T *)y, (const float *)b->data, rows, cols, add);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

// The column-sum term of db: dy[r, j], dy (n, m) row-major, device.
template <typename T>
struct dy_column_term {
    const T *dy;
    int64_t m;
    __device__ void operator()(int64_t r, int64_t j, float (&t)[1]) const { t[0] = ds_ld(dy, r * m + j); }
};

// ---- forward ----

struct linear_dims {
    ds_dtype dt = DS_F32;  // of x, w, y: F32 or BF16 (check_forward sets it)
    int64_t n, m, k;
};

static ds_status check_forward(ds_context *ctx, const char *op, const ds_linear_fwd_args *a, linear_dims *d) {
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, -1, &d->dt));
    DS_TRY(ds_cuda_check(ctx, op, "x", &a->x, d->dt, 2, NULL));
    d->n = a->x.shape[0];
    d->k = a->x.shape[1];
    const int64_t w_shape[2] = {-1, d->k};
    DS_TRY(ds_cuda_check(ctx, op, "w", &a->w, d->dt, 2, w_shape));
    d->m = a->w.shape[0];
    if (ds_cuda_present(&a->b)) {
        const int64_t b_shape[1] = {d->m};
        DS_TRY(ds_cuda_check(ctx, op, "b", &a->b, DS_DTYPE_COUNT, 1, b_shape));
        char desc[96];
        DS_REQUIRE(&ctx->err, a->b.dtype == DS_F32 || (a->b.dtype == DS_BF16 && d->dt == DS_BF16), DS_ERR_INVALID_ARG,
                   "%s: b: expected dtype F32%s, got %s", op, d->dt == DS_BF16 ? " or BF16" : "",
                   ds_tensor_describe(&a->b, desc, sizeof desc));
    }
    const int64_t y_shape[2] = {d->n, d->m};
    DS_TRY(ds_cuda_check(ctx, op, "y", &a->y, d->dt, 2, y_shape));
    return DS_OK;
}

// out (N, M) of dtype d->dt, device = x w^T + b.
static ds_status linear_forward_into(ds_context *ctx, const char *op, const ds_linear_fwd_args *a,
                                     const linear_dims *d, void *out) {
    ds_cuda_state *cu = ctx->cuda;
    if (d->n == 0 || d->m == 0) return DS_OK;
    const bool has_b = ds_cuda_present(&a->b);
    const ds_tensor *b = has_b ? &a->b : NULL;
    if (d->k == 0) {  // an empty sum: y = b (or 0); cuBLASLt does not take k = 0
        return d->dt == DS_BF16 ? launch_bias_rows<__nv_bfloat16>(ctx, out, b, d->n, d->m, false)
                                : launch_bias_rows<float>(ctx, out, b, d->n, d->m, false);
    }
    lt_gemm g;
    g.trans_a = CUBLAS_OP_T;
    g.trans_b = CUBLAS_OP_N;
    g.m = d->m, g.n = d->n, g.k = d->k;
    g.a = a->w.data, g.lda = d->k;
    g.b = a->x.data, g.ldb = d->k;
    g.d = out, g.ldd = d->m;
    g.ab_type = g.d_type = lt_type(d->dt);
    g.beta = 0.0f;
    g.bias = NULL;
    bool bias_after = false;  // add the bias in a separate kernel after the GEMM
    if (has_b) {
        // The epilogue takes the bias in D's type, and the heuristic assumes a 16-byte aligned bias
        // (the alignment preferences cover A/B/C/D only; PyTorch falls back for the same reason).
        // Otherwise stage it in the scratch (cudaMalloc'd, 256-byte aligned), rounding F32 to BF16.
        const size_t staged_bytes = (size_t)d->m * ds_dtype_size(d->dt);
        if (a->b.dtype == d->dt && ds_cuda_aligned(a->b.data, 16)) {
            g.bias = a->b.data;
        } else if (staged_bytes <= cu->scratch_bytes) {
            if (a->b.dtype == d->dt) {
                DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(cu->scratch, a->b.data, staged_bytes,
                                                         cudaMemcpyDeviceToDevice, cu->stream));
            } else {  // BF16 output, F32 bias (see file comment)
                const unsigned threads = 256;
                f32_to_bf16_kernel<<<ds_cuda_blocks(d->m, threads), threads, 0, cu->stream>>>(
                    (const float *)a->b.data, (__nv_bfloat16 *)cu->scratch, d->m);
                DS_CUDA_CHECK_LAUNCH(&ctx->err);
            }
            g.bias = cu->scratch;  // (M) of D's type, device
        } else {
            bias_after = true;
        }
    }
    ds_status st = lt_matmul(ctx, op, &g);
    if (st == DS_ERR_CUBLAS && g.bias != NULL) {
        // No algorithm takes the bias epilogue for this shape (e.g. a classifier with m = 2 outputs):
        // the plain GEMM, then the bias in its own kernel, rather than no forward at all.
        ds_err_clear(&ctx->err);
        g.bias = NULL;
        bias_after = true;
        st = lt_matmul(ctx, op, &g);
    }
    DS_TRY(st);
    if (bias_after)
        DS_TRY(d->dt == DS_BF16 ? launch_bias_rows<__nv_bfloat16>(ctx, out, b, d->n, d->m, true)
                                : launch_bias_rows<float>(ctx, out, b, d->n, d->m, true));
    return DS_OK;
}

extern "C" ds_status ds_cuda_linear_forward(ds_context *ctx, const void *args) {
    const ds_linear_fwd_args *a = (const ds_linear_fwd_args *)args;
    const char *op = "linear_forward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    linear_dims d;
    DS_TRY(check_forward(ctx, op, a, &d));
    return linear_forward_into(ctx, op, a, &d, a->y.data);
}

// Linear then exact (erf) GELU. cuBLASLt's CUBLASLT_EPILOGUE_GELU* epilogues compute the tanh
// approximation of GELU (PyTorch's own fallback for its cuBLASLt GELU epilogue applies
// gelu(approximate="tanh")), which is not BERT's "gelu"; so this is the GEMM with the bias
// epilogue writing pre_gelu, then the GELU op's kernel (activations.cu) writing y.
extern "C" ds_status ds_cuda_linear_gelu_forward(ds_context *ctx, const ds_linear_fwd_args *a, ds_tensor pre_gelu) {
    const char *op = "linear_gelu_forward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    linear_dims d;
    DS_TRY(check_forward(ctx, op, a, &d));
    const int64_t shape[2] = {d.n, d.m};
    DS_TRY(ds_cuda_check(ctx, op, "pre_gelu", &pre_gelu, d.dt, 2, shape));
    DS_REQUIRE(&ctx->err, pre_gelu.data != a->y.data || d.n * d.m == 0, DS_ERR_INVALID_ARG,
               "%s: pre_gelu and y must be different memory (backward needs the GELU input)", op);
    DS_TRY(linear_forward_into(ctx, op, a, &d, pre_gelu.data));
    ds_unary_fwd_args g;
    g.x = pre_gelu;
    g.y = a->y;
    return ds_cuda_gelu_forward(ctx, &g);
}

// ---- backward ----

extern "C" ds_status ds_cuda_linear_backward(ds_context *ctx, const void *args) {
    const ds_linear_bwd_args *a = (const ds_linear_bwd_args *)args;
    const char *op = "linear_backward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    ds_dtype dt = DS_F32;  // set by the first check
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dy", &a->dy, -1, &dt));
    DS_TRY(ds_cuda_check(ctx, op, "dy", &a->dy, dt, 2, NULL));
    const int64_t n = a->dy.shape[0], m = a->dy.shape[1];
    const int64_t w_shape[2] = {m, -1};
    DS_TRY(ds_cuda_check(ctx, op, "w", &a->w, dt, 2, w_shape));
    const int64_t k = a->w.shape[1];
    const int64_t nk[2] = {n, k}, mk[2] = {m, k}, m1[1] = {m};
    DS_TRY(ds_cuda_check(ctx, op, "x", &a->x, dt, 2, nk));
    const bool has_dx = ds_cuda_present(&a->dx), has_db = ds_cuda_present(&a->db);
    if (has_dx) DS_TRY(ds_cuda_check(ctx, op, "dx", &a->dx, dt, 2, nk));
    DS_TRY(ds_cuda_check(ctx, op, "dw", &a->dw, DS_F32, 2, mk));
    if (has_db) DS_TRY(ds_cuda_check(ctx, op, "db", &a->db, DS_F32, 1, m1));
    const cudaDataType_t ab = lt_type(dt);

    // dx (N, K) = dy w; with M = 0 the sum is empty.
    if (has_dx && n > 0 && k > 0) {
        if (m == 0) {
            DS_CUDA_CHECK(&ctx->err, cudaMemsetAsync(a->dx.data, 0, ds_tensor_nbytes(&a->dx), cu->stream));
        } else {
            lt_gemm g;
            g.trans_a = CUBLAS_OP_N, g.trans_b = CUBLAS_OP_N;
            g.m = k, g.n = n, g.k = m;
            g.a = a->w.data, g.lda = k;
            g.b = a->dy.data, g.ldb = m;
            g.d = a->dx.data, g.ldd = k;
            g.ab_type = g.d_type = ab;
            g.beta = 0.0f;
            g.bias = NULL;
            DS_TRY(lt_matmul(ctx, op, &g));
        }
    }
    // dw (M, K) (+)= dy^T x, F32; with N = 0 the sum is empty.
    if (m > 0 && k > 0) {
        if (n == 0) {
            if (!a->accumulate)
                DS_CUDA_CHECK(&ctx->err, cudaMemsetAsync(a->dw.data, 0, ds_tensor_nbytes(&a->dw), cu->stream));
        } else {
            lt_gemm g;
            g.trans_a = CUBLAS_OP_N, g.trans_b = CUBLAS_OP_T;
            g.m = k, g.n = m, g.k = n;
            g.a = a->x.data, g.lda = k;
            g.b = a->dy.data, g.ldb = m;
            g.d = a->dw.data, g.ldd = k;
            g.ab_type = ab;
            g.d_type = CUDA_R_32F;
            g.beta = a->accumulate ? 1.0f : 0.0f;
            g.bias = NULL;
            DS_TRY(lt_matmul(ctx, op, &g));
        }
    }
    // db (M) (+)= column sums of dy, deterministic.
    if (has_db) {
        if (dt == DS_BF16)
            return ds_column_sums<1>(ctx, dy_column_term<__nv_bfloat16>{(const __nv_bfloat16 *)a->dy.data, m}, n, m,
                                     (float *)a->db.data, (float *)NULL, a->accumulate);
        return ds_column_sums<1>(ctx, dy_column_term<float>{(const float *)a->dy.data, m}, n, m, (float *)a->db.data,
                                 (float *)NULL, a->accumulate);
    }
    return DS_OK;
}
