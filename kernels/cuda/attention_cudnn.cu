// cuDNN's fused SDPA as an alternative attention (opt.attention == DS_ATTENTION_CUDNN), written
// against the cuDNN 9 backend API directly (cudnn_graph.h; no cudnn-frontend). cuDNN 9.13+ has a
// single backend operation for SDPA (CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, and
// ..._SDPA_BWD_DESCRIPTOR), so one call builds: tensor descriptors -> the SDPA operation -> an
// operation graph -> heuristics (mode A, then B, then FALLBACK) -> the first execution plan that finalizes -> a variant
// pack -> cudnnBackendExecute on the context's stream (the handle's stream, set by ds_gpu_open).
// Nothing is cached between calls (no mutable state outside the context, and the context's
// state struct is not this file's): every call pays the graph build, which makes this path a
// cross-check and an alternative, not the fast path.
//
// Limits (each refused with DS_ERR_UNSUPPORTED naming the reason, so the caller can fall back):
// - BF16 only; dropout_p must be 0 (cuDNN draws its own dropout stream, which cannot match
//   ours, and the unified operation of this cuDNN version has no dropout);
// - the key mask must be right padding (each batch row a run of ones then zeros, at least one
//   key): it becomes seq_len_kv[b]; seq_len_q[b] = T (every query row is computed, as in the
//   op's contract). Checking that needs the mask on the host: one stream synchronisation per
//   call with a mask;
// - whatever cuDNN itself does not support (head dim, architecture, version): its
//   NOT_SUPPORTED answers become DS_ERR_UNSUPPORTED with cuDNN's message.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_internal.cuh"


#if DS_HAVE_CUDNN && defined(CUDNN_VERSION) && CUDNN_VERSION >= 91500

namespace {

// Unique ids of the tensors in the variant pack.
enum : int64_t { UID_Q = 1, UID_K, UID_V, UID_O, UID_STATS, UID_SCALE, UID_SEQ_Q, UID_SEQ_KV, UID_DO, UID_DQ, UID_DK, UID_DV };

// Every descriptor one call creates, destroyed (in reverse) when the call ends, whatever happened.
// Room: ~16 tensors and the operation, graph and pack, plus per heuristic mode (three) its
// descriptor and up to 8 configurations and 8 candidate plans: ~70 at worst, so 256.
struct desc_set {
    cudnnBackendDescriptor_t d[256];
    int n = 0;
    ~desc_set() {
        for (int i = n - 1; i >= 0; i--) cudnnBackendDestroyDescriptor(d[i]);
    }
};

// A failed cuDNN call: NOT_SUPPORTED (any sub-code) -> DS_ERR_UNSUPPORTED, else DS_ERR_CUDNN;
// the message carries the stage, cuDNN's status and its last error text.
ds_status cudnn_fail(ds_err *err, const char *op, const char *stage, cudnnStatus_t st) {
    char detail[256] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    const bool unsupported = CUDNN_STATUS_CATEGORY(st) == CUDNN_STATUS_NOT_SUPPORTED;
    return ds_err_set(err, unsupported ? DS_ERR_UNSUPPORTED : DS_ERR_CUDNN, "%s: cuDNN SDPA: %s failed: %s (%s)", op,
                      stage, cudnnGetErrorString(st), detail);
}

#define DS_CUDNN_STAGE(err, op, stage, stmt)                                \
    do {                                                                    \
        cudnnStatus_t ds_cs_ = (stmt);                                      \
        if (ds_cs_ != CUDNN_STATUS_SUCCESS) return cudnn_fail((err), (op), (stage), ds_cs_); \
    } while (0)

ds_status create(desc_set &set, ds_err *err, const char *op, cudnnBackendDescriptorType_t type,
                 cudnnBackendDescriptor_t *out) {
    // Out of room is a refusal like NOT_SUPPORTED, so the attention op falls back to its own kernels.
    DS_REQUIRE(err, set.n < (int)(sizeof set.d / sizeof set.d[0]), DS_ERR_UNSUPPORTED,
               "%s: cuDNN SDPA: too many descriptors", op);
    DS_CUDNN_STAGE(err, op, "cudnnBackendCreateDescriptor", cudnnBackendCreateDescriptor(type, out));
    set.d[set.n++] = *out;
    return DS_OK;
}

// A finalized tensor descriptor: 4 dims with the given strides; by_value for host scalars.
ds_status tensor(desc_set &set, ds_err *err, const char *op, int64_t uid, cudnnDataType_t dt, const int64_t dims[4],
                 const int64_t strides[4], bool by_value, cudnnBackendDescriptor_t *out) {
    DS_TRY(create(set, err, op, CUDNN_BACKEND_TENSOR_DESCRIPTOR, out));
    const int64_t align = 16;
    const bool yes = true;
    DS_CUDNN_STAGE(err, op, "tensor data type", cudnnBackendSetAttribute(*out, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt));
    DS_CUDNN_STAGE(err, op, "tensor dims", cudnnBackendSetAttribute(*out, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims));
    DS_CUDNN_STAGE(err, op, "tensor strides", cudnnBackendSetAttribute(*out, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides));
    DS_CUDNN_STAGE(err, op, "tensor uid", cudnnBackendSetAttribute(*out, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid));
    DS_CUDNN_STAGE(err, op, "tensor alignment", cudnnBackendSetAttribute(*out, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align));
    if (by_value)
        DS_CUDNN_STAGE(err, op, "tensor by value", cudnnBackendSetAttribute(*out, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &yes));
    DS_CUDNN_STAGE(err, op, "tensor finalize", cudnnBackendFinalize(*out));
    return DS_OK;
}

// seq_q[b] = T, seq_kv[b] = length of the leading run of nonzero mask values, bad[b] = 1 when a
// nonzero value follows a zero (not right padding). One thread per batch row.
__global__ void mask_to_lengths(const int32_t *mask /* (B, T) device */, int B, int T, int32_t *out /* (3B) device */) {
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const int32_t *m = mask + (int64_t)b * T;
    int len = 0;
    while (len < T && m[len] != 0) len++;
    int bad = 0;
    for (int j = len; j < T; j++) bad |= m[j] != 0;
    out[b] = T;
    out[B + b] = len;
    out[2 * B + b] = bad;
}

// Device seq_len_q / seq_len_kv (B) int32 from the key mask (in s->scratch), after checking on the
// host that the mask is right padding with at least one key per row.
ds_status sequence_lengths(ds_cuda_state *s, ds_err *err, const char *op, const ds_attn_problem &p,
                           int32_t **seq_q, int32_t **seq_kv) {
    const size_t bytes = sizeof(int32_t) * 3 * (size_t)p.B;
    DS_REQUIRE(err, bytes <= s->scratch_bytes, DS_ERR_UNSUPPORTED, "%s: cuDNN SDPA: batch %d too large for the scratch", op, p.B);
    int32_t *dev = (int32_t *)s->scratch;
    mask_to_lengths<<<(p.B + 127) / 128, 128, 0, s->stream>>>(p.mask, p.B, p.T, dev);
    DS_CUDA_CHECK_LAUNCH(err);
    int32_t *host = (int32_t *)malloc(bytes);
    DS_REQUIRE(err, host != NULL, DS_ERR_OOM, "%s: cuDNN SDPA: out of host memory", op);
    cudaError_t e = cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, s->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s->stream);
    if (e != cudaSuccess) {
        free(host);
        return ds_err_set(err, DS_ERR_CUDA, "%s: cuDNN SDPA: reading the key-mask lengths failed: %s", op, cudaGetErrorString(e));
    }
    for (int b = 0; b < p.B; b++) {
        const int32_t len = host[p.B + b], bad = host[2 * p.B + b];
        if (bad || len == 0) {
            free(host);
            return ds_err_set(err, DS_ERR_UNSUPPORTED,
                              "%s: cuDNN SDPA takes right-padded key masks with at least one key per row; key_mask row %d %s",
                              op, b, bad ? "has a key after padding" : "has no key");
        }
    }
    free(host);
    *seq_q = dev;
    *seq_kv = dev + p.B;
    return DS_OK;
}

// One SDPA operation (descriptor type `op_type`, its tensors already attached by `attach`) run
// once: graph, heuristics, plan, workspace, variant pack, execute.
struct variant {
    int64_t uids[16];
    void *ptrs[16];
    int n = 0;
    void add(int64_t uid, void *ptr) {
        uids[n] = uid;
        ptrs[n] = ptr;
        n++;
    }
};

ds_status run_graph(ds_cuda_state *s, ds_err *err, const char *op, desc_set &set, cudnnBackendDescriptor_t sdpa,
                    variant &vp) {
    cudnnBackendDescriptor_t graph, heur, plan = NULL, pack;
    DS_CUDNN_STAGE(err, op, "operation finalize", cudnnBackendFinalize(sdpa));
    DS_TRY(create(set, err, op, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &graph));
    DS_CUDNN_STAGE(err, op, "graph handle", cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &s->cudnn));
    DS_CUDNN_STAGE(err, op, "graph ops", cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &sdpa));
    DS_CUDNN_STAGE(err, op, "graph finalize", cudnnBackendFinalize(graph));

    // Heuristic modes A, then B, then FALLBACK: the first mode that yields an engine configuration
    // whose plan finalizes wins (in each mode's order = its expected speed). Mode A knows the
    // fused SDPA engines; B and FALLBACK may know others for shapes A has nothing for.
    const cudnnBackendHeurMode_t modes[3] = {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_B, CUDNN_HEUR_MODE_FALLBACK};
    cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
    const char *last_stage = "heuristics (modes A, B, FALLBACK: no engine)";
    for (int mi = 0; mi < 3 && plan == NULL; mi++) {
        DS_TRY(create(set, err, op, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur));
        DS_CUDNN_STAGE(err, op, "heuristics graph", cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph));
        DS_CUDNN_STAGE(err, op, "heuristics mode", cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &modes[mi]));
        const cudnnStatus_t hf = cudnnBackendFinalize(heur);
        if (hf != CUDNN_STATUS_SUCCESS) {  // this mode cannot rank this graph: try the next
            last = hf, last_stage = "heuristics finalize";
            continue;
        }
        int64_t count = 0;
        DS_CUDNN_STAGE(err, op, "heuristics count", cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, NULL));
        if (count <= 0) continue;
        if (count > 8) count = 8;
        cudnnBackendDescriptor_t cfgs[8];
        for (int64_t i = 0; i < count; i++) DS_TRY(create(set, err, op, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfgs[i]));
        int64_t got = 0;
        DS_CUDNN_STAGE(err, op, "heuristics results", cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got, cfgs));
        // The first configuration whose plan finalizes.
        for (int64_t i = 0; i < got && plan == NULL; i++) {
            cudnnBackendDescriptor_t cand;
            DS_TRY(create(set, err, op, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &cand));
            DS_CUDNN_STAGE(err, op, "plan handle", cudnnBackendSetAttribute(cand, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &s->cudnn));
            DS_CUDNN_STAGE(err, op, "plan config", cudnnBackendSetAttribute(cand, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfgs[i]));
            last = cudnnBackendFinalize(cand);
            last_stage = "execution plan (every engine configuration of every heuristic mode)";
            if (last == CUDNN_STATUS_SUCCESS) plan = cand;
        }
    }
    if (plan == NULL) return cudnn_fail(err, op, last_stage, last);
    int64_t ws_bytes = 0, n_ws = 0;
    DS_CUDNN_STAGE(err, op, "plan workspace size", cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n_ws, &ws_bytes));

    void *ws = NULL;
    if (ws_bytes > 0) DS_CUDA_CHECK(err, cudaMallocAsync(&ws, (size_t)ws_bytes, s->stream));
    ds_status st = create(set, err, op, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack);
    cudnnStatus_t cs = CUDNN_STATUS_SUCCESS;
    const char *stage = "";
    if (st == DS_OK) {
        stage = "variant pack";
        cs = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, vp.n, vp.uids);
        if (cs == CUDNN_STATUS_SUCCESS)
            cs = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, vp.n, vp.ptrs);
        if (cs == CUDNN_STATUS_SUCCESS)
            cs = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
        if (cs == CUDNN_STATUS_SUCCESS) cs = cudnnBackendFinalize(pack);
        if (cs == CUDNN_STATUS_SUCCESS) {
            stage = "cudnnBackendExecute";
            cs = cudnnBackendExecute(s->cudnn, plan, pack);
        }
        if (cs != CUDNN_STATUS_SUCCESS) st = cudnn_fail(err, op, stage, cs);
    }
    if (ws != NULL) {
        const cudaError_t e = cudaFreeAsync(ws, s->stream);
        if (st == DS_OK && e != cudaSuccess)
            return ds_err_set(err, DS_ERR_CUDA, "%s: cuDNN SDPA: cudaFreeAsync of the workspace failed: %s", op, cudaGetErrorString(e));
    }
    return st;
}

// The checks every cuDNN call makes before building anything.
ds_status cudnn_supported(ds_err *err, const char *op, const ds_tensor *q, const ds_attn_problem &p) {
    DS_REQUIRE(err, q->dtype == DS_BF16, DS_ERR_UNSUPPORTED, "%s: cuDNN SDPA takes BF16 only, got %s", op, ds_dtype_name(q->dtype));
    DS_REQUIRE(err, p.dropout_p == 0.0f, DS_ERR_UNSUPPORTED,
               "%s: cuDNN SDPA is used without dropout only (dropout_p %g): cuDNN's dropout stream is not ours", op,
               (double)p.dropout_p);
    return DS_OK;
}

// Tensors shared by forward and backward: q, k, v, o-like (B, H, T, D) bf16, stats (B, H, T, 1)
// fp32, the scale (host fp32 by value) and, with a mask, the sequence lengths (B, 1, 1, 1) int32.
struct common_descs {
    cudnnBackendDescriptor_t q, k, v, o, stats, scale, seq_q = NULL, seq_kv = NULL;
};

ds_status common(desc_set &set, ds_err *err, const char *op, const ds_attn_problem &p, common_descs *c) {
    const int64_t B = p.B, H = p.H, T = p.T, D = p.D;
    const int64_t dims[4] = {B, H, T, D}, strides[4] = {H * T * D, T * D, D, 1};
    const int64_t sdims[4] = {B, H, T, 1}, sstrides[4] = {H * T, T, 1, 1};
    const int64_t one[4] = {1, 1, 1, 1};
    const int64_t ldims[4] = {B, 1, 1, 1};
    DS_TRY(tensor(set, err, op, UID_Q, CUDNN_DATA_BFLOAT16, dims, strides, false, &c->q));
    DS_TRY(tensor(set, err, op, UID_K, CUDNN_DATA_BFLOAT16, dims, strides, false, &c->k));
    DS_TRY(tensor(set, err, op, UID_V, CUDNN_DATA_BFLOAT16, dims, strides, false, &c->v));
    DS_TRY(tensor(set, err, op, UID_O, CUDNN_DATA_BFLOAT16, dims, strides, false, &c->o));
    DS_TRY(tensor(set, err, op, UID_STATS, CUDNN_DATA_FLOAT, sdims, sstrides, false, &c->stats));
    DS_TRY(tensor(set, err, op, UID_SCALE, CUDNN_DATA_FLOAT, one, one, true, &c->scale));
    if (p.mask != NULL) {
        DS_TRY(tensor(set, err, op, UID_SEQ_Q, CUDNN_DATA_INT32, ldims, one, false, &c->seq_q));
        DS_TRY(tensor(set, err, op, UID_SEQ_KV, CUDNN_DATA_INT32, ldims, one, false, &c->seq_kv));
    }
    return DS_OK;
}

ds_status attach(ds_err *err, const char *op, cudnnBackendDescriptor_t sdpa, cudnnBackendAttributeName_t name,
                 cudnnBackendDescriptor_t t) {
    DS_CUDNN_STAGE(err, op, "operation attribute", cudnnBackendSetAttribute(sdpa, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &t));
    return DS_OK;
}

}  // namespace

ds_status ds_attn_cudnn_forward(ds_context *ctx, ds_cuda_state *s, const ds_attention_fwd_args *a,
                                const ds_attn_problem &p) {
    const char *op = "attention_forward";
    ds_err *err = &ctx->err;
    DS_TRY(cudnn_supported(err, op, &a->q, p));
    int32_t *seq_q = NULL, *seq_kv = NULL;
    if (p.mask != NULL) DS_TRY(sequence_lengths(s, err, op, p, &seq_q, &seq_kv));

    desc_set set;
    common_descs c;
    DS_TRY(common(set, err, op, p, &c));
    cudnnBackendDescriptor_t sdpa;
    DS_TRY(create(set, err, op, (cudnnBackendDescriptorType_t)CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, &sdpa));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, c.q));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC, c.k));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, c.v));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC, c.o));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_STATSDESC, c.stats));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC, c.scale));
    if (p.mask != NULL) {
        DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_SEQ_LEN_QDESC, c.seq_q));
        DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_FWD_SEQ_LEN_KVDESC, c.seq_kv));
    }
    float scale = p.scale;  // host scalar, read by cuDNN during cudnnBackendExecute
    variant vp;
    vp.add(UID_Q, a->q.data);
    vp.add(UID_K, a->k.data);
    vp.add(UID_V, a->v.data);
    vp.add(UID_O, a->out.data);
    vp.add(UID_STATS, a->lse.data);  // (B, H, T) fp32 = stats (B, H, T, 1)
    vp.add(UID_SCALE, &scale);
    if (p.mask != NULL) {
        vp.add(UID_SEQ_Q, seq_q);
        vp.add(UID_SEQ_KV, seq_kv);
    }
    return run_graph(s, err, op, set, sdpa, vp);
}

ds_status ds_attn_cudnn_backward(ds_context *ctx, ds_cuda_state *s, const ds_attention_bwd_args *a,
                                 const ds_attn_problem &p, const float *rowterm) {
    (void)rowterm;  // cuDNN computes its own
    const char *op = "attention_backward";
    ds_err *err = &ctx->err;
    DS_TRY(cudnn_supported(err, op, &a->q, p));
    int32_t *seq_q = NULL, *seq_kv = NULL;
    if (p.mask != NULL) DS_TRY(sequence_lengths(s, err, op, p, &seq_q, &seq_kv));

    desc_set set;
    common_descs c;
    DS_TRY(common(set, err, op, p, &c));
    const int64_t B = p.B, H = p.H, T = p.T, D = p.D;
    const int64_t dims[4] = {B, H, T, D}, strides[4] = {H * T * D, T * D, D, 1};
    cudnnBackendDescriptor_t tdo, tdq, tdk, tdv, sdpa;
    DS_TRY(tensor(set, err, op, UID_DO, CUDNN_DATA_BFLOAT16, dims, strides, false, &tdo));
    DS_TRY(tensor(set, err, op, UID_DQ, CUDNN_DATA_BFLOAT16, dims, strides, false, &tdq));
    DS_TRY(tensor(set, err, op, UID_DK, CUDNN_DATA_BFLOAT16, dims, strides, false, &tdk));
    DS_TRY(tensor(set, err, op, UID_DV, CUDNN_DATA_BFLOAT16, dims, strides, false, &tdv));
    DS_TRY(create(set, err, op, (cudnnBackendDescriptorType_t)CUDNN_BACKEND_OPERATION_SDPA_BWD_DESCRIPTOR, &sdpa));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_QDESC, c.q));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_KDESC, c.k));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_VDESC, c.v));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_ODESC, c.o));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_STATSDESC, c.stats));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_SCALEDESC, c.scale));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_DODDESC, tdo));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_DQDESC, tdq));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_DKDESC, tdk));
    DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_DVDESC, tdv));
    if (p.mask != NULL) {
        DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_SEQ_LEN_QDESC, c.seq_q));
        DS_TRY(attach(err, op, sdpa, CUDNN_ATTR_OPERATION_SDPA_BWD_SEQ_LEN_KVDESC, c.seq_kv));
    }
    float scale = p.scale;
    variant vp;
    vp.add(UID_Q, a->q.data);
    vp.add(UID_K, a->k.data);
    vp.add(UID_V, a->v.data);
    vp.add(UID_O, a->out.data);
    vp.add(UID_STATS, a->lse.data);
    vp.add(UID_SCALE, &scale);
    vp.add(UID_DO, a->dout.data);
    vp.add(UID_DQ, a->dq.data);
    vp.add(UID_DK, a->dk.data);
    vp.add(UID_DV, a->dv.data);
    if (p.mask != NULL) {
        vp.add(UID_SEQ_Q, seq_q);
        vp.add(UID_SEQ_KV, seq_kv);
    }
    return run_graph(s, err, op, set, sdpa, vp);
}

#else  // no cuDNN, or one older than the single-operation SDPA with sequence lengths (9.15)

ds_status ds_attn_cudnn_forward(ds_context *ctx, ds_cuda_state *s, const ds_attention_fwd_args *a,
                                const ds_attn_problem &p) {
    (void)s;
    (void)a;
    (void)p;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED,
                      "attention_forward: cuDNN SDPA needs a build with cuDNN 9.15 or later (use the OWN attention)");
}

ds_status ds_attn_cudnn_backward(ds_context *ctx, ds_cuda_state *s, const ds_attention_bwd_args *a,
                                 const ds_attn_problem &p, const float *rowterm) {
    (void)s;
    (void)a;
    (void)p;
    (void)rowterm;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED,
                      "attention_backward: cuDNN SDPA needs a build with cuDNN 9.15 or later (use the OWN attention)");
}

#endif
