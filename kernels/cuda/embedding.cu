// Embedding lookup on CUDA (torch.nn.functional.embedding) and its backward; the CPU reference
// is kernels/cpu/embedding_impl.inc.
//
// Forward: out (N, C) F32 or BF16 = rows ids[i] of the F32 master table (V, C), or of a BF16
//   activation used as a table (a row gather: the pooler's [CLS] rows; see emb_fwd_bf16_table).
//   PLAIN: one thread per output element. FAST: one warp per output row, 16-byte table loads
//   when C % 4 == 0 and the pointers are aligned.
// Backward: dtable (V, C) F32 (+)= the dout (N, C) rows (F32 or BF16) scattered to rows ids[i];
//   repeated ids sum; positions whose id is padding_idx (when set) add nothing.
//   ctx->deterministic (no float atomics, the same bits every run):
//     1. keys[i] = id << pbits | i, sorted by CUB's radix sort: the positions of each id become one
//        contiguous segment, in increasing position order (the keys are unique).
//     2. The sorted slots are cut into blocks of P slots. One thread per (block, column) sums each
//        run of equal ids inside its block in slot order; a run that is a whole segment is added
//        to dtable directly, a run that continues into the next block is kept as a partial
//        ("open" for the first piece of a segment, "cont" for the piece that starts a block).
//     3. One thread per (block, column) whose block opens a segment adds open + the following
//        blocks' cont partials in block order and adds the total to dtable.
//     Every (row, column) of dtable is written by exactly one thread, so no atomics. The
//     temporary memory (keys twice, CUB's temp, 2 * ceil(N/P) * C floats of partials) comes from
//     ctx->cuda->scratch, with P doubled from 256 (up to 4096) until it fits; when it still does
//     not fit, a temporary device buffer is allocated for the call (cudaMalloc/cudaFree: slow).
//   Otherwise: one thread per element, atomicAdd into dtable (order, and so rounding, varies).
//   The PLAIN/FAST switch does not apply to the backward (both run the above).
// ids: the CPU validates them on the host; here they are device memory, so every call first runs
// the index check of index_check.cuh (one kernel and one stream synchronisation); an id outside
// [0, V) is reported like the CPU reports it and nothing is written. The kernels still never read
// outside the table for a bad id (they skip it), should the check ever be bypassed.
#include <cub/device/device_radix_sort.cuh>

#include "cuda_state.cuh"
#include "index_check.cuh"
#include "op_checks.cuh"
#include "vec_io.cuh"

extern "C" {
#include "cuda_ops.h"
}

#define EMB_BLOCK 256
#define EMB_MIN_PIECE 256   // slots per block of the deterministic backward, at least ...
#define EMB_MAX_PIECE 4096  // ... and at most, before falling back to an allocated buffer

// ---- forward ----

// out[i, j] = table[ids[i], j]: one thread per element. ids: (n) device; table: (v, c) device;
// out: (n, c) device.
template <typename T>
__global__ void emb_fwd_plain(const int32_t *ids, const float *table, T *out, int64_t n, int64_t v, int64_t c) {
    const int64_t total = n * c;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = e / c, j = e - i * c;
        const int32_t id = ids[i];
        if (id >= 0 && id < v) ds_st(out, e, table[(int64_t)id * c + j]);
    }
}

// Same, one warp per output row, VEC consecutive columns per access (c % VEC == 0, table aligned
// to 4 * VEC bytes, out to sizeof(T) * VEC bytes).
template <typename T, int VEC>
__global__ void emb_fwd_rows(const int32_t *ids, const float *table, T *out, int64_t n, int64_t v, int64_t c) {
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); row < n; row += warps) {
        const int32_t id = ids[row];
        if (id < 0 || id >= v) continue;
        const float *src = table + (int64_t)id * c;
        T *dst = out + row * c;
        for (int64_t col = (int64_t)lane * VEC; col < c; col += 32 * VEC) {
            float vals[VEC];
            ds_ld_vec<float, VEC>(src + col, vals);
            ds_st_vec<T, VEC>(dst + col, vals);
        }
    }
}

template <typename T>
static ds_status launch_fwd(ds_context *ctx, ds_cuda_state *s, const int32_t *ids, const float *table, T *out,
                            int64_t n, int64_t v, int64_t c) {
    if (s->opt.kernels == DS_KERNELS_FAST) {
        const unsigned blocks = ds_cuda_grid(n, EMB_BLOCK / 32);
        if (c % 4 == 0 && ds_cuda_aligned(table, 16) && ds_cuda_aligned(out, 4 * sizeof(T)))
            emb_fwd_rows<T, 4><<<blocks, EMB_BLOCK, 0, s->stream>>>(ids, table, out, n, v, c);
        else
            emb_fwd_rows<T, 1><<<blocks, EMB_BLOCK, 0, s->stream>>>(ids, table, out, n, v, c);
    } else {
        emb_fwd_plain<T><<<ds_cuda_grid(n * c, EMB_BLOCK), EMB_BLOCK, 0, s->stream>>>(ids, table, out, n, v, c);
    }
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

// ---- backward, non-deterministic: float atomics ----

// dtable[ids[i], j] += dout[i, j] for every (i, j) whose id is not `skip`. dout: (n, c) device.
template <typename T>
__global__ void emb_bwd_atomic(const int32_t *ids, const T *dout, float *dtable, int64_t n, int64_t v, int64_t c,
                               int64_t skip) {
    const int64_t total = n * c;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = e / c, j = e - i * c;
        const int32_t id = ids[i];
        if (id == skip || id < 0 || id >= v) continue;
        atomicAdd(&dtable[(int64_t)id * c + j], ds_ld(dout, e));
    }
}

// ---- backward, deterministic: sort, then segment sums in slot order ----
// keys (n) device, sorted: id = key >> pbits, position = key & (2^pbits - 1).

template <typename K>
__global__ void emb_make_keys(const int32_t *ids, int64_t n, int pbits, K *keys) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        keys[i] = ((K)(uint32_t)ids[i] << pbits) | (K)i;
}

template <typename K>
static __device__ __forceinline__ int64_t key_id(const K *keys, int64_t s, int pbits) {
    return (int64_t)(keys[s] >> pbits);
}

// Step 2: thread (b, j) walks slots [b*piece, min((b+1)*piece, n)) in order. open, cont:
// (nblk, c) device partials; dtable: (v, c) device.
template <typename K, typename T>
__global__ void emb_bwd_pieces(const K *keys, int64_t n, int pbits, const T *dout, float *dtable, int64_t c,
                               int64_t piece, int64_t nblk, int64_t skip, float *open, float *cont) {
    const K mask = ((K)1 << pbits) - 1;
    const int64_t total = nblk * c;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = t / c, j = t - b * c;
        const int64_t lo = b * piece, hi = lo + piece < n ? lo + piece : n;
        int64_t id = key_id(keys, lo, pbits), r0 = lo;
        float acc = 0.0f;
        for (int64_t s = lo; s <= hi; s++) {
            const int64_t sid = s < hi ? key_id(keys, s, pbits) : -1;
            if (sid != id) {  // the run [r0, s) of `id` ends here (at a new id or the block's end)
                if (id != skip) {
                    const bool starts = r0 == 0 || key_id(keys, r0 - 1, pbits) != id;
                    const bool ends = s == n || key_id(keys, s, pbits) != id;
                    if (starts && ends) dtable[id * c + j] += acc;  // a whole segment: this thread owns it
                    else if (!starts) cont[b * c + j] = acc;          // the piece that starts block b
                    else open[b * c + j] = acc;                       // the first piece of a longer segment
                }
                if (s == hi) break;
                id = sid;
                r0 = s;
                acc = 0.0f;
            }
            acc += ds_ld(dout, (int64_t)(keys[s] & mask) * c + j);
        }
    }
}

// Step 3: thread (b, j) of a block that opens a segment adds open[b] and the cont partials of the
// blocks the segment continues into, in block order.
template <typename K>
__global__ void emb_bwd_spans(const K *keys, int64_t n, int pbits, float *dtable, int64_t c, int64_t piece,
                              int64_t nblk, int64_t skip, const float *open, const float *cont) {
    const int64_t total = nblk * c;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = t / c, j = t - b * c;
        const int64_t lo = b * piece, hi = lo + piece < n ? lo + piece : n;
        if (hi >= n) continue;
        const int64_t id = key_id(keys, hi - 1, pbits);
        if (key_id(keys, hi, pbits) != id) continue;              // the last segment ends in this block
        if (lo > 0 && key_id(keys, lo - 1, pbits) == id) continue;  // it started before: a middle block
        if (id == skip) continue;
        float acc = open[b * c + j];
        for (int64_t bb = b + 1; bb < nblk; bb++) {
            acc += cont[bb * c + j];
            const int64_t end = (bb + 1) * piece < n ? (bb + 1) * piece : n;
            if (end >= n || key_id(keys, end, pbits) != id) break;
        }
        dtable[id * c + j] += acc;
    }
}

static size_t align256(size_t b) { return (b + 255) & ~(size_t)255; }

template <typename K, typename T>
static ds_status bwd_deterministic(ds_context *ctx, ds_cuda_state *s, const int32_t *ids, const T *dout,
                                   float *dtable, int64_t n, int64_t c, int bits, int pbits, int64_t skip) {
    ds_err *err = &ctx->err;
    size_t cub_bytes = 0;
    DS_CUDA_CHECK(err, cub::DeviceRadixSort::SortKeys((void *)NULL, cub_bytes, (const K *)NULL, (K *)NULL, (int)n, 0,
                                                      bits, s->stream));
    const size_t keys_bytes = align256((size_t)n * sizeof(K));
    int64_t piece = EMB_MIN_PIECE, nblk = 0;
    size_t need = 0;
    for (;;) {
        nblk = (n + piece - 1) / piece;
        need = 2 * keys_bytes + align256(cub_bytes) + 2 * align256((size_t)(nblk * c) * sizeof(float));
        if (need <= s->scratch_bytes || piece >= EMB_MAX_PIECE || piece >= n) break;
        piece *= 2;
    }
    void *buf = s->scratch, *owned = NULL;  // device
    if (need > s->scratch_bytes) {
        DS_TRY(ds_gpu_alloc(ctx, need, &owned));
        buf = owned;
    }
    char *p = (char *)buf;
    K *keys_in = (K *)p;
    K *keys = (K *)(p + keys_bytes);
    void *cub_tmp = p + 2 * keys_bytes;
    float *open = (float *)(p + 2 * keys_bytes + align256(cub_bytes));
    float *cont = (float *)((char *)open + align256((size_t)(nblk * c) * sizeof(float)));
    ds_status st = DS_OK;
    cudaError_t e = cudaSuccess;
    emb_make_keys<K><<<ds_cuda_grid(n, EMB_BLOCK), EMB_BLOCK, 0, s->stream>>>(ids, n, pbits, keys_in);
    e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cub::DeviceRadixSort::SortKeys(cub_tmp, cub_bytes, keys_in, keys, (int)n, 0, bits, s->stream);
    if (e == cudaSuccess) {
        const unsigned blocks = ds_cuda_grid(nblk * c, EMB_BLOCK);
        emb_bwd_pieces<K, T><<<blocks, EMB_BLOCK, 0, s->stream>>>(keys, n, pbits, dout, dtable, c, piece, nblk, skip,
                                                                 open, cont);
        e = cudaGetLastError();
        if (e == cudaSuccess && nblk > 1) {
            emb_bwd_spans<K><<<blocks, EMB_BLOCK, 0, s->stream>>>(keys, n, pbits, dtable, c, piece, nblk, skip, open,
                                                                 cont);
            e = cudaGetLastError();
        }
    }
    if (e != cudaSuccess)
        st = ds_err_set(err, DS_ERR_CUDA,
                        "embedding_backward: a kernel of the deterministic path failed on cuda:%d: %s", s->device,
                        cudaGetErrorString(e));
    if (owned) {  // the kernels must be done with the buffer before it is freed
        cudaError_t se = cudaStreamSynchronize(s->stream);
        if (se != cudaSuccess && st == DS_OK)
            st = ds_err_set(err, DS_ERR_CUDA, "embedding_backward: cudaStreamSynchronize failed: %s",
                            cudaGetErrorString(se));
        ds_gpu_free(ctx, owned, need);
    }
    return st;
}

// Bits needed to hold every value in [0, count).
static int bits_for(int64_t count) {
    int b = 0;
    while (b < 63 && ((int64_t)1 << b) < count) b++;
    return b;
}

template <typename T>
static ds_status launch_bwd(ds_context *ctx, ds_cuda_state *s, const int32_t *ids, const T *dout, float *dtable,
                            int64_t n, int64_t v, int64_t c, int64_t skip) {
    if (!ctx->deterministic) {
        const unsigned blocks = ds_cuda_grid(n * c, EMB_BLOCK);
        emb_bwd_atomic<T><<<blocks, EMB_BLOCK, 0, s->stream>>>(ids, dout, dtable, n, v, c, skip);
        DS_CUDA_CHECK_LAUNCH(&ctx->err);
        return DS_OK;
    }
    const int pbits = bits_for(n), vbits = bits_for(v), bits = pbits + vbits > 0 ? pbits + vbits : 1;
    if (pbits + vbits <= 31)
        return bwd_deterministic<uint32_t, T>(ctx, s, ids, dout, dtable, n, c, bits, pbits, skip);
    return bwd_deterministic<unsigned long long, T>(ctx, s, ids, dout, dtable, n, c, bits, pbits, skip);
}

// ---- BF16 tables: row gathers of activations ----
// The model gathers rows of an activation (the pooler's [CLS] rows of the last hidden state)
// with this op; in bf16 mode that "table" is a BF16 activation and its gradient a BF16
// activation gradient (kernels/cuda/cuda_ops.h: activations one dtype per call).

// out[i, j] = table[ids[i], j], bf16 copied unchanged. ids: (n); table: (v, c); out: (n, c) device.
__global__ void emb_fwd_bf16_table(const int32_t *ids, const __nv_bfloat16 *table, __nv_bfloat16 *out, int64_t n,
                                   int64_t v, int64_t c) {
    const int64_t total = n * c;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = e / c, j = e - i * c;
        const int32_t id = ids[i];
        if (id >= 0 && id < v) out[e] = table[(int64_t)id * c + j];
    }
}

// dtable[ids[i], j] (+)= sum over the positions with that id, in position order, summed in fp32 and
// rounded to bf16 once. One thread per (i, j); only the thread of an id's first position writes,
// so nothing is written twice and no atomics are needed. Cost O(n^2 c): meant for gathers of a
// few rows (n = batch size), not for vocabulary tables (those are F32 masters).
// ids: (n); dout: (n, c); dtable: (v, c) device, zeroed beforehand unless accumulating.
__global__ void emb_bwd_bf16_table(const int32_t *ids, const __nv_bfloat16 *dout, __nv_bfloat16 *dtable, int64_t n,
                                   int64_t v, int64_t c, int64_t skip) {
    const int64_t total = n * c;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = e / c, j = e - i * c;
        const int32_t id = ids[i];
        if (id < 0 || id >= v || id == skip) continue;
        bool first = true;
        for (int64_t k = 0; k < i && first; k++) first = ids[k] != id;
        if (!first) continue;
        float acc = __bfloat162float(dtable[(int64_t)id * c + j]);
        for (int64_t k = i; k < n; k++)
            if (ids[k] == id) acc += __bfloat162float(dout[k * c + j]);
        dtable[(int64_t)id * c + j] = __float2bfloat16_rn(acc);
    }
}

// ---- entry points ----

static ds_status check_ids(ds_context *ctx, ds_cuda_state *s, const char *op, const int32_t *ids, int64_t n,
                           int64_t v) {
    bool found = false;
    int64_t pos = 0;
    int32_t value = 0;
    DS_TRY(ds_cuda_find_bad_index(ctx, s, ids, n, v, false, 0, &found, &pos, &value));
    DS_REQUIRE(&ctx->err, !found, DS_ERR_INVALID_ARG,
               "%s: ids[%lld] = %d is out of range [0, %lld) (the table has %lld rows)", op, (long long)pos,
               (int)value, (long long)v, (long long)v);
    return DS_OK;
}

extern "C" ds_status ds_cuda_embedding_forward(ds_context *ctx, const void *args) {
    const ds_embedding_fwd_args *a = (const ds_embedding_fwd_args *)args;
    const char *op = "embedding_forward";
    ds_err *err = &ctx->err;
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype tdt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "table", &a->table, 2, &tdt));
    const int64_t v = a->table.shape[0], c = a->table.shape[1];
    DS_TRY(ds_cuda_check_extents(ctx, op, "ids", &a->ids, DS_I32, 1, -1, -1));
    const int64_t n = a->ids.shape[0];
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "out", &a->out, 2, &dt));
    DS_TRY(ds_cuda_check_extents(ctx, op, "out", &a->out, dt, 2, n, c));
    DS_REQUIRE(err, tdt == DS_F32 || dt == DS_BF16, DS_ERR_INVALID_ARG,
               "%s: a BF16 table (an activation) gathers into a BF16 out, got F32", op);
    const int32_t *ids = (const int32_t *)a->ids.data;
    DS_TRY(check_ids(ctx, s, op, ids, n, v));
    if (n == 0 || c == 0) return DS_OK;
    if (tdt == DS_BF16) {
        emb_fwd_bf16_table<<<ds_cuda_grid(n * c, EMB_BLOCK), EMB_BLOCK, 0, s->stream>>>(
            ids, (const __nv_bfloat16 *)a->table.data, (__nv_bfloat16 *)a->out.data, n, v, c);
        DS_CUDA_CHECK_LAUNCH(err);
        return DS_OK;
    }
    const float *table = (const float *)a->table.data;
    if (dt == DS_F32) return launch_fwd(ctx, s, ids, table, (float *)a->out.data, n, v, c);
    return launch_fwd(ctx, s, ids, table, (__nv_bfloat16 *)a->out.data, n, v, c);
}

extern "C" ds_status ds_cuda_embedding_backward(ds_context *ctx, const void *args) {
    const ds_embedding_bwd_args *a = (const ds_embedding_bwd_args *)args;
    const char *op = "embedding_backward";
    ds_err *err = &ctx->err;
    ds_cuda_state *s = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &s));
    ds_dtype dt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dout", &a->dout, 2, &dt));
    const int64_t n = a->dout.shape[0], c = a->dout.shape[1];
    DS_TRY(ds_cuda_check_extents(ctx, op, "ids", &a->ids, DS_I32, 1, n, -1));
    ds_dtype tdt = DS_F32;
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dtable", &a->dtable, 2, &tdt));
    DS_TRY(ds_cuda_check_extents(ctx, op, "dtable", &a->dtable, tdt, 2, -1, c));
    DS_REQUIRE(err, tdt == DS_F32 || dt == DS_BF16, DS_ERR_INVALID_ARG,
               "%s: a BF16 dtable (an activation gradient) takes a BF16 dout, got F32", op);
    const int64_t v = a->dtable.shape[0];
    DS_REQUIRE(err, n <= INT32_MAX, DS_ERR_INVALID_ARG, "%s: %lld ids; at most %d are supported on cuda", op,
               (long long)n, INT32_MAX);
    const int32_t *ids = (const int32_t *)a->ids.data;
    DS_TRY(check_ids(ctx, s, op, ids, n, v));
    DS_REQUIRE(err, !a->has_padding_idx || (a->padding_idx >= 0 && a->padding_idx < v), DS_ERR_INVALID_ARG,
               "%s: padding_idx %d is not a row of the table [0, %lld)", op, (int)a->padding_idx, (long long)v);
    const int64_t skip = a->has_padding_idx ? a->padding_idx : -1;
    if (!a->accumulate && v * c > 0)
        DS_CUDA_CHECK(err, cudaMemsetAsync(a->dtable.data, 0, (size_t)(v * c) * ds_dtype_size(tdt), s->stream));
    if (n == 0 || c == 0) return DS_OK;
    if (tdt == DS_BF16) {
        emb_bwd_bf16_table<<<ds_cuda_grid(n * c, EMB_BLOCK), EMB_BLOCK, 0, s->stream>>>(
            ids, (const __nv_bfloat16 *)a->dout.data, (__nv_bfloat16 *)a->dtable.data, n, v, c, skip);
        DS_CUDA_CHECK_LAUNCH(err);
        return DS_OK;
    }
    float *dtable = (float *)a->dtable.data;
    if (dt == DS_F32) return launch_bwd(ctx, s, ids, (const float *)a->dout.data, dtable, n, v, c, skip);
    return launch_bwd(ctx, s, ids, (const __nv_bfloat16 *)a->dout.data, dtable, n, v, c, skip);
}
