// The CUDA backend table: every op slot filled by a body in kernels/cuda/*.cu (cuda_ops.h).
#include <cuda_runtime.h>

#include <stdio.h>

extern "C" {
#include "../../runtime/base/check.h"
#include "../cuda_info.h"
#include "../ops.h"
#include "cuda_ops.h"
}

static ds_backend make_cuda_backend(void) {
    ds_backend b = {};
    b.name = "cuda";
    b.fn[DS_OP_LINEAR_FWD] = ds_cuda_linear_forward;
    b.fn[DS_OP_LINEAR_BWD] = ds_cuda_linear_backward;
    b.fn[DS_OP_LAYERNORM_FWD] = ds_cuda_layernorm_forward;
    b.fn[DS_OP_LAYERNORM_BWD] = ds_cuda_layernorm_backward;
    b.fn[DS_OP_GELU_FWD] = ds_cuda_gelu_forward;
    b.fn[DS_OP_GELU_BWD] = ds_cuda_gelu_backward;
    b.fn[DS_OP_TANH_FWD] = ds_cuda_tanh_forward;
    b.fn[DS_OP_TANH_BWD] = ds_cuda_tanh_backward;
    b.fn[DS_OP_SOFTMAX_FWD] = ds_cuda_softmax_forward;
    b.fn[DS_OP_SOFTMAX_BWD] = ds_cuda_softmax_backward;
    b.fn[DS_OP_ATTENTION_FWD] = ds_cuda_attention_forward;
    b.fn[DS_OP_ATTENTION_BWD] = ds_cuda_attention_backward;
    b.fn[DS_OP_DROPOUT_FWD] = ds_cuda_dropout_forward;
    b.fn[DS_OP_DROPOUT_BWD] = ds_cuda_dropout_backward;
    b.fn[DS_OP_EMBEDDING_FWD] = ds_cuda_embedding_forward;
    b.fn[DS_OP_EMBEDDING_BWD] = ds_cuda_embedding_backward;
    b.fn[DS_OP_CROSS_ENTROPY_FWD] = ds_cuda_cross_entropy_forward;
    b.fn[DS_OP_CROSS_ENTROPY_BWD] = ds_cuda_cross_entropy_backward;
    b.fn[DS_OP_ADAMW] = ds_cuda_adamw;
    b.fn[DS_OP_SGD] = ds_cuda_sgd;
    b.fn[DS_OP_ADD] = ds_cuda_add;
    b.fn[DS_OP_PERMUTE_HEADS] = ds_cuda_permute_heads;
    b.fn[DS_OP_BCE_LOGITS_FWD] = ds_cuda_bce_with_logits_forward;
    b.fn[DS_OP_BCE_LOGITS_BWD] = ds_cuda_bce_with_logits_backward;
    b.fn[DS_OP_MSE_FWD] = ds_cuda_mse_forward;
    b.fn[DS_OP_MSE_BWD] = ds_cuda_mse_backward;
    b.fn[DS_OP_CONV2D_WORKSPACE] = ds_cuda_conv2d_workspace;
    b.fn[DS_OP_CONV2D_FWD] = ds_cuda_conv2d_forward;
    b.fn[DS_OP_CONV2D_BWD] = ds_cuda_conv2d_backward;
    b.fn[DS_OP_BN_STATS] = ds_cuda_bn_stats;
    b.fn[DS_OP_BN_FINALIZE] = ds_cuda_bn_finalize;
    b.fn[DS_OP_BN_APPLY] = ds_cuda_bn_apply;
    b.fn[DS_OP_BN_BWD_REDUCE] = ds_cuda_bn_backward_reduce;
    b.fn[DS_OP_BN_BWD_APPLY] = ds_cuda_bn_backward_apply;
    b.fn[DS_OP_RELU_FWD] = ds_cuda_relu_forward;
    b.fn[DS_OP_RELU_BWD] = ds_cuda_relu_backward;
    b.fn[DS_OP_MAXPOOL2D_FWD] = ds_cuda_maxpool2d_forward;
    b.fn[DS_OP_MAXPOOL2D_BWD] = ds_cuda_maxpool2d_backward;
    b.fn[DS_OP_ADAPTIVE_AVGPOOL2D_FWD] = ds_cuda_adaptive_avgpool2d_forward;
    b.fn[DS_OP_ADAPTIVE_AVGPOOL2D_BWD] = ds_cuda_adaptive_avgpool2d_backward;
    b.fn[DS_OP_INTERPOLATE_FWD] = ds_cuda_interpolate_forward;
    b.fn[DS_OP_INTERPOLATE_BWD] = ds_cuda_interpolate_backward;
    b.fn[DS_OP_PIXEL_CE_FWD] = ds_cuda_pixel_ce_forward;
    b.fn[DS_OP_PIXEL_CE_BWD] = ds_cuda_pixel_ce_backward;
    b.fn[DS_OP_CHANNEL_COPY] = ds_cuda_channel_copy;
    b.fn[DS_OP_CTC_LOSS_FWD] = ds_cuda_ctc_loss_forward;
    b.fn[DS_OP_CTC_LOSS_BWD] = ds_cuda_ctc_loss_backward;
    b.fn[DS_OP_LOG_SOFTMAX_FWD] = ds_cuda_log_softmax_forward;
    b.fn[DS_OP_LOG_SOFTMAX_BWD] = ds_cuda_log_softmax_backward;
    b.fn[DS_OP_GROUPNORM_FWD] = ds_cuda_groupnorm_forward;
    b.fn[DS_OP_GROUPNORM_BWD] = ds_cuda_groupnorm_backward;
    b.fn[DS_OP_WEIGHT_NORM_FWD] = ds_cuda_weight_norm_forward;
    b.fn[DS_OP_WEIGHT_NORM_BWD] = ds_cuda_weight_norm_backward;
    b.fn[DS_OP_SPEC_AUGMENT_FWD] = ds_cuda_spec_augment_forward;
    b.fn[DS_OP_SPEC_AUGMENT_BWD] = ds_cuda_spec_augment_backward;
    return b;
}
// Built once at static-initialisation time and never written again (read-only after that).
static const ds_backend k_cuda_backend = make_cuda_backend();
static_assert(sizeof(k_cuda_backend.fn) / sizeof(k_cuda_backend.fn[0]) == DS_OP_COUNT, "cuda table size");

extern "C" const ds_backend *ds_backend_cuda(void) { return &k_cuda_backend; }

extern "C" int ds_cuda_device_count(char *why, size_t cap) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why && cap) snprintf(why, cap, "no usable CUDA device: %s", cudaGetErrorString(e));
        cudaGetLastError();  // clear the sticky error so later calls start clean
        return 0;
    }
    if (n == 0 && why && cap) snprintf(why, cap, "the CUDA runtime reports no devices");
    return n;
}

static ds_status device_name(int index, char *name, size_t cap, ds_err *err) {
    cudaDeviceProp p;
    DS_CUDA_CHECK(err, cudaGetDeviceProperties(&p, index));
    snprintf(name, cap, "%s (sm_%d%d)", p.name, p.major, p.minor);
    return DS_OK;
}

extern "C" ds_status ds_cuda_device_name(int index, char *name, size_t cap, ds_err *err) {
    return device_name(index, name, cap, err);
}
