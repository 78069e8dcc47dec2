// cuDNN's CTC loss as the alternative to our own kernels (run.ctc = cudnn; ctc.cu decides with
// ds_ctc_cudnn_takes and keeps the checks and the finish kernel). cudnnCTCLoss_v8 works in fp32
// log space on (T, N, C) inputs with concatenated labels on the device, and with
// CUDNN_LOSS_NORMALIZATION_SOFTMAX it applies a softmax to its input and differentiates with
// respect to that input. Given log-probabilities x = log_softmax(z), softmax(x) = exp(x), so its
// cost is -log p and its gradient is exp(x) - gamma: exactly DS_CTC_GRAD_LOGITS for a unit
// upstream gradient (torch's cuDNN path uses it the same way); DS_CTC_GRAD_LOG_PROBS is that minus
// exp(x).
//
// What this file adds around the call:
// - the (N, T, C) log-probs transposed to (T, N, C); the padded (N, S) targets packed into
//   cuDNN's concatenated list;
// - utterances cuDNN must not see: one without alignment (L + repeats > its frames; torch keeps
//   such cases away from cuDNN after illegal memory accesses) and one without frames run with 0
//   labels and 1 frame, and their results are replaced by ours: +inf (no alignment) or 0 (no
//   frames and no labels), gradients NaN / 0 as the own kernels give them;
// - the op's weights: w_n = dloss (sum) or dloss / (N max(L_n, 1)) (mean), 0 past each input length.
// Memory: one stream-ordered block (cudaMallocAsync, as the cuDNN SDPA workspace in
// attention_cudnn.cu) for the transposed inputs, packed labels, lengths, costs, gradients and
// cuDNN's workspace, freed in stream order at the end of the call.
//
// The forward keeps no gradient (the op contract's saved state is alpha, which cuDNN does not
// expose), so the backward calls cuDNN again with gradients: a step runs cuDNN's alpha recursion
// twice. The own kernels stay the default (docs/cuda_ops_speech.md says why).
#include <math.h>

#include "block_reduce.cuh"
#include "ctc_cudnn_glue.h"
#include "ctc_internal.cuh"

#if DS_HAVE_CUDNN
namespace {

enum { CUDNN_CTC_MAX_LABELS = 255 };  // cuDNN documents < 256 labels per utterance

// Device buffers of one call, carved from one allocation.
struct cudnn_ctc_buffers {
    void *block;
    size_t bytes;
    float *probs;      // (T, N, C) device: the log-probs, transposed
    int32_t *labels;   // (<= N S) device: the labels cuDNN sees, concatenated
    int32_t *il, *tl;  // (N) device: the lengths cuDNN sees
    int32_t *status;   // (N) device: DS_CTC_GLUE_* (ctc_cudnn_glue.h)
    float *costs;      // (N) device
    float *grads;      // (T, N, C) device, backward only
    void *work;        // cuDNN's workspace
    size_t work_bytes;
};

size_t round_up(size_t b) { return (b + 255) / 256 * 256; }

// One thread per utterance: whether cuDNN may see it, and the lengths it sees.
__global__ void ctc_cudnn_status_kernel(const int32_t *targets, const int32_t *il, const int32_t *tl, ctc_geom g,
                                        int32_t *status, int32_t *il2, int32_t *tl2) {
    const int64_t n = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= g.N) return;
    status[n] = ds_ctc_glue_status(targets + n * g.S, tl[n], il[n], &il2[n], &tl2[n]);
}

// One block per utterance: its offset in the concatenated list (a block sum of the earlier
// utterances' lengths as cuDNN sees them), then its labels.
__global__ void ctc_cudnn_pack_kernel(const int32_t *targets, const int32_t *tl2, ctc_geom g, int32_t *labels) {
    __shared__ double red[33];
    const int64_t n = blockIdx.x;
    double before = 0;
    for (int64_t m = threadIdx.x; m < n; m += blockDim.x) before += (double)tl2[m];
    const int64_t off = (int64_t)ds_block_sum(before, red);  // exact: integers below 2^53
    for (int64_t j = threadIdx.x; j < tl2[n]; j += blockDim.x) labels[off + j] = targets[n * g.S + j];
}

// (N, T, C) -> (T, N, C).
__global__ void ctc_cudnn_transpose_kernel(const float *lp, ctc_geom g, float *probs) {
    const int64_t total = g.N * g.T * g.C;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = i % g.C, nt = i / g.C, t = nt % g.T, n = nt / g.T;
        probs[ds_ctc_glue_tnc(n, t, c, g.N, g.C)] = lp[i];
    }
}

__global__ void ctc_cudnn_nll_kernel(const float *costs, const int32_t *status, int64_t N, double *nll) {
    const int64_t n = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    nll[n] = ds_ctc_glue_nll(costs[n], status[n]);
}

// grad (N, T, C) from cuDNN's (T, N, C) softmax-input gradient of each utterance's cost.
__global__ void ctc_cudnn_grad_kernel(const float *lp, const float *grads, const int32_t *status, const int32_t *il,
                                      const int32_t *tl, ctc_geom g, double dloss, bool mean, bool zero_infinity,
                                      bool wrt_logits, float *grad) {
    const int64_t total = g.N * g.T * g.C;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = i % g.C, nt = i / g.C, t = nt % g.T, n = nt / g.T;
        grad[i] = ds_ctc_glue_grad(grads[ds_ctc_glue_tnc(n, t, c, g.N, g.C)], lp[i], status[n], t, il[n], tl[n], g.N,
                                   dloss, mean, zero_infinity, wrt_logits);
    }
}

// The descriptors of one call (destroyed by release).
struct cudnn_ctc_descs {
    cudnnTensorDescriptor_t probs = NULL;  // (T, N, C) packed, also the gradients'
    cudnnCTCLossDescriptor_t loss = NULL;
};

void release(ds_cuda_state *cu, cudnn_ctc_descs *d, cudnn_ctc_buffers *b) {
    if (d->probs) cudnnDestroyTensorDescriptor(d->probs);
    if (d->loss) cudnnDestroyCTCLossDescriptor(d->loss);
    if (b->block) cudaFreeAsync(b->block, cu->stream);
    b->block = NULL;
}

// Descriptors, the workspace query, one allocation, and the inputs as cuDNN takes them.
ds_status prepare(ds_context *ctx, ds_cuda_state *cu, const ds_tensor *lp, const ds_tensor *targets,
                  const ds_tensor *il, const ds_tensor *tl, const ctc_geom &g, bool with_grads, cudnn_ctc_descs *d,
                  cudnn_ctc_buffers *b) {
    ds_err *err = &ctx->err;
    const int dims[3] = {(int)g.T, (int)g.N, (int)g.C}, strides[3] = {(int)(g.N * g.C), (int)g.C, 1};
    DS_CUDNN_CHECK(err, cudnnCreateTensorDescriptor(&d->probs));
    DS_CUDNN_CHECK(err, cudnnSetTensorNdDescriptor(d->probs, CUDNN_DATA_FLOAT, 3, dims, strides));
    DS_CUDNN_CHECK(err, cudnnCreateCTCLossDescriptor(&d->loss));
    DS_CUDNN_CHECK(err, cudnnSetCTCLossDescriptor_v9(d->loss, CUDNN_DATA_FLOAT, CUDNN_LOSS_NORMALIZATION_SOFTMAX,
                                                     CUDNN_CTC_ZERO_OOB_GRADIENTS, (int)g.S));
    DS_CUDNN_CHECK(err, cudnnGetCTCLossWorkspaceSize_v8(cu->cudnn, CUDNN_CTC_LOSS_ALGO_DETERMINISTIC, d->loss, d->probs,
                                                        with_grads ? d->probs : NULL, &b->work_bytes));
    const size_t tnc = (size_t)(g.N * g.T * g.C) * sizeof(float), n4 = (size_t)g.N * 4;
    const size_t parts[8] = {tnc, (size_t)(g.N * g.S) * 4 + 4, n4, n4, n4, n4, with_grads ? tnc : 0, b->work_bytes};
    b->bytes = 0;
    for (int i = 0; i < 8; i++) b->bytes += round_up(parts[i]);
    DS_CUDA_CHECK(err, cudaMallocAsync(&b->block, b->bytes, cu->stream));
    char *p = (char *)b->block;
    void **dst[8] = {(void **)&b->probs, (void **)&b->labels, (void **)&b->il, (void **)&b->tl,
                     (void **)&b->status, (void **)&b->costs, (void **)&b->grads, &b->work};
    for (int i = 0; i < 8; i++) {
        *dst[i] = parts[i] ? p : NULL;
        p += round_up(parts[i]);
    }
    const unsigned per = 128;
    ctc_cudnn_status_kernel<<<(unsigned)((g.N + per - 1) / per), per, 0, cu->stream>>>(
        (const int32_t *)targets->data, (const int32_t *)il->data, (const int32_t *)tl->data, g, b->status, b->il, b->tl);
    DS_CUDA_CHECK_LAUNCH(err);
    ctc_cudnn_pack_kernel<<<(unsigned)g.N, 128, 0, cu->stream>>>((const int32_t *)targets->data, b->tl, g, b->labels);
    DS_CUDA_CHECK_LAUNCH(err);
    ctc_cudnn_transpose_kernel<<<ds_cuda_grid(g.N * g.T * g.C, 256), 256, 0, cu->stream>>>((const float *)lp->data, g,
                                                                                           b->probs);
    DS_CUDA_CHECK_LAUNCH(err);
    return DS_OK;
}

// prepare, then cuDNN's call: costs into b->costs, and with_grads its gradients into b->grads.
ds_status cudnn_pass(ds_context *ctx, ds_cuda_state *cu, const ds_tensor *lp, const ds_tensor *targets,
                     const ds_tensor *il, const ds_tensor *tl, const ctc_geom &g, bool with_grads, cudnn_ctc_descs *d,
                     cudnn_ctc_buffers *b) {
    DS_TRY(prepare(ctx, cu, lp, targets, il, tl, g, with_grads, d, b));
    DS_CUDNN_CHECK(&ctx->err, cudnnCTCLoss_v8(cu->cudnn, CUDNN_CTC_LOSS_ALGO_DETERMINISTIC, d->loss, d->probs, b->probs,
                                              b->labels, b->tl, b->il, b->costs, with_grads ? d->probs : NULL,
                                              with_grads ? b->grads : NULL, b->work_bytes, b->work));
    cu->ctc_cudnn_calls++;
    return DS_OK;
}

// The status of the last launch.
ds_status launched(ds_context *ctx, const char *op) {
    const cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return DS_OK;
    return ds_err_set(&ctx->err, DS_ERR_CUDA, "%s: cuDNN path: %s", op, cudaGetErrorString(e));
}

}  // namespace
#endif

bool ds_ctc_cudnn_takes(const ds_cuda_state *cu, const ctc_geom &g, ds_dtype dt) {
#if DS_HAVE_CUDNN
    return cu->opt.ctc == DS_CTC_CUDNN && dt == DS_F32 && g.blank == 0 && g.S >= 1 && g.S <= CUDNN_CTC_MAX_LABELS &&
           g.N >= 1 && g.T >= 1 && g.C >= 2 && g.N * g.C <= INT32_MAX && g.T * g.N * g.C <= INT32_MAX;
#else
    (void)cu, (void)g, (void)dt;
    return false;
#endif
}

ds_status ds_ctc_cudnn_nll(ds_context *ctx, ds_cuda_state *cu, const ds_ctc_loss_fwd_args *a, const ctc_geom &g,
                           double *nll) {
#if DS_HAVE_CUDNN
    cudnn_ctc_descs d;
    cudnn_ctc_buffers b = {};
    ds_status st =
        cudnn_pass(ctx, cu, &a->log_probs, &a->targets, &a->input_lengths, &a->target_lengths, g, false, &d, &b);
    if (st == DS_OK) {
        ctc_cudnn_nll_kernel<<<(unsigned)((g.N + 127) / 128), 128, 0, cu->stream>>>(b.costs, b.status, g.N, nll);
        st = launched(ctx, "ctc_loss_forward");
    }
    release(cu, &d, &b);
    return st;
#else
    (void)cu, (void)a, (void)g, (void)nll;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "ctc_loss_forward: this build has no cuDNN");
#endif
}

ds_status ds_ctc_cudnn_backward(ds_context *ctx, ds_cuda_state *cu, const ds_ctc_loss_bwd_args *a, const ctc_geom &g) {
#if DS_HAVE_CUDNN
    cudnn_ctc_descs d;
    cudnn_ctc_buffers b = {};
    ds_status st =
        cudnn_pass(ctx, cu, &a->log_probs, &a->targets, &a->input_lengths, &a->target_lengths, g, true, &d, &b);
    if (st == DS_OK) {
        ctc_cudnn_grad_kernel<<<ds_cuda_grid(g.N * g.T * g.C, 256), 256, 0, cu->stream>>>(
            (const float *)a->log_probs.data, b.grads, b.status, (const int32_t *)a->input_lengths.data,
            (const int32_t *)a->target_lengths.data, g, a->dloss, a->reduction == DS_CTC_MEAN, a->zero_infinity,
            a->wrt == DS_CTC_GRAD_LOGITS, (float *)a->grad.data);
        st = launched(ctx, "ctc_loss_backward");
    }
    release(cu, &d, &b);
    return st;
#else
    (void)cu, (void)a, (void)g;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "ctc_loss_backward: this build has no cuDNN");
#endif
}
