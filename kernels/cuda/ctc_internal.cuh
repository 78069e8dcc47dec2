// What ctc.cu (the own kernels and the op entry points) shares with ctc_cudnn.cu (run.ctc = cudnn).
// Included by those two files only.
#ifndef DS_CUDA_CTC_INTERNAL_CUH
#define DS_CUDA_CTC_INTERNAL_CUH

#include "cuda_state.cuh"

// The shapes of one CTC call: log_probs (N, T, C), targets (N, S), the blank class.
struct ctc_geom {
    int64_t N, T, C, S;
    int blank;
};

// Whether this call runs cuDNN: run.ctc = cudnn, a build with cuDNN, and a case cuDNN takes (F32,
// blank 0, 1 <= S <= 255, N, T >= 1, C >= 2, sizes within int). Shapes and options only, so a forward
// and the backward of the same loss always agree.
bool ds_ctc_cudnn_takes(const ds_cuda_state *cu, const ctc_geom &g, ds_dtype dt);

// cuDNN's forward: nll[n] = -log p(targets_n | log_probs_n) as double (device, N values), with
// +inf for an utterance without alignment and 0 for one without frames or labels, as the own
// forward kernel writes them. alpha and alpha_exp are not written.
ds_status ds_ctc_cudnn_nll(ds_context *ctx, ds_cuda_state *cu, const ds_ctc_loss_fwd_args *a, const ctc_geom &g,
                           double *nll);

// cuDNN's backward into a->grad: cuDNN's forward-backward again (its gradient is not kept by the
// forward: the op contract has no buffer for it), then the op's weights, zeros past each input
// length, NaN (or 0 with zero_infinity) for an utterance without alignment, and, for
// DS_CTC_GRAD_LOG_PROBS, exp(log_probs) taken off cuDNN's softmax-input gradient.
ds_status ds_ctc_cudnn_backward(ds_context *ctx, ds_cuda_state *cu, const ds_ctc_loss_bwd_args *a, const ctc_geom &g);

#endif
