// The CUDA op bodies that fill the CUDA backend table (backend_cuda.cu). Each takes ds_context*
// (with an open device, kernels/gpu.h) and the op's args struct (kernels/ops.h) as const void*.
//
// Dtype contract on CUDA (kernels/ops.h conventions, plus BF16):
// - Parameters and parameter gradients are F32 (fp32 master weights; dw/db/dgamma/dbeta/dtable
//   are F32 whatever the activations are), except the weight operand of linear, which may be the
//   BF16 working copy when x is BF16.
// - Activations and their gradients are F32 or BF16, one dtype per call; every op computes in
//   fp32 and rounds once on store. Statistics (layer-norm and batch-norm mean/rstd, attention and
//   cross-entropy lse) and losses are F32; batch-norm's statistics buffers are F64 as on the CPU.
// - The conv2d weight has x's dtype (the BF16 working copy with BF16 x); its bias, dw and db are
//   F32; the per-pixel cross-entropy's class weights, lse, loss and weight_sum are F32.
// - The CTC loss takes F32 or F64 log-probabilities (as the CPU op; it computes in double) and
//   saves alpha F64 / alpha_exp I32 in the CPU op's layout. Group norm's gamma/beta/mean/rstd, weight
//   norm's v/g/norm and their gradients, and SpecAugment's embed/dembed are F32; weight norm's w
//   may be BF16 (the conv's working copy).
// - ctx->deterministic: no float atomics; results are identical run to run.
#ifndef DS_CUDA_OPS_H
#define DS_CUDA_OPS_H

#include "../ops.h"

#ifdef __cplusplus
extern "C" {
#endif

ds_status ds_cuda_linear_forward(ds_context *ctx, const void *args);       // linear.cu
ds_status ds_cuda_linear_backward(ds_context *ctx, const void *args);      // linear.cu
ds_status ds_cuda_layernorm_forward(ds_context *ctx, const void *args);    // layernorm.cu
ds_status ds_cuda_layernorm_backward(ds_context *ctx, const void *args);   // layernorm.cu
ds_status ds_cuda_gelu_forward(ds_context *ctx, const void *args);         // activations.cu
ds_status ds_cuda_gelu_backward(ds_context *ctx, const void *args);        // activations.cu
ds_status ds_cuda_tanh_forward(ds_context *ctx, const void *args);         // activations.cu
ds_status ds_cuda_tanh_backward(ds_context *ctx, const void *args);        // activations.cu
ds_status ds_cuda_softmax_forward(ds_context *ctx, const void *args);      // softmax.cu
ds_status ds_cuda_softmax_backward(ds_context *ctx, const void *args);     // softmax.cu
ds_status ds_cuda_attention_forward(ds_context *ctx, const void *args);    // attention.cu
ds_status ds_cuda_attention_backward(ds_context *ctx, const void *args);   // attention.cu
ds_status ds_cuda_dropout_forward(ds_context *ctx, const void *args);      // dropout.cu
ds_status ds_cuda_dropout_backward(ds_context *ctx, const void *args);     // dropout.cu
ds_status ds_cuda_embedding_forward(ds_context *ctx, const void *args);    // embedding.cu
ds_status ds_cuda_embedding_backward(ds_context *ctx, const void *args);   // embedding.cu
ds_status ds_cuda_cross_entropy_forward(ds_context *ctx, const void *args);   // cross_entropy.cu
ds_status ds_cuda_cross_entropy_backward(ds_context *ctx, const void *args);  // cross_entropy.cu
ds_status ds_cuda_adamw(ds_context *ctx, const void *args);                // adamw.cu
ds_status ds_cuda_sgd(ds_context *ctx, const void *args);                  // sgd.cu
ds_status ds_cuda_add(ds_context *ctx, const void *args);                  // layout.cu
ds_status ds_cuda_permute_heads(ds_context *ctx, const void *args);        // layout.cu
ds_status ds_cuda_bce_with_logits_forward(ds_context *ctx, const void *args);   // pointwise_loss.cu
ds_status ds_cuda_bce_with_logits_backward(ds_context *ctx, const void *args);  // pointwise_loss.cu
ds_status ds_cuda_mse_forward(ds_context *ctx, const void *args);               // pointwise_loss.cu
ds_status ds_cuda_mse_backward(ds_context *ctx, const void *args);              // pointwise_loss.cu
ds_status ds_cuda_conv2d_workspace(ds_context *ctx, const void *args);         // conv2d.cu
ds_status ds_cuda_conv2d_forward(ds_context *ctx, const void *args);           // conv2d.cu
ds_status ds_cuda_conv2d_backward(ds_context *ctx, const void *args);          // conv2d.cu
ds_status ds_cuda_bn_stats(ds_context *ctx, const void *args);                 // batchnorm.cu
ds_status ds_cuda_bn_finalize(ds_context *ctx, const void *args);              // batchnorm.cu
ds_status ds_cuda_bn_apply(ds_context *ctx, const void *args);                 // batchnorm.cu
ds_status ds_cuda_bn_backward_reduce(ds_context *ctx, const void *args);       // batchnorm.cu
ds_status ds_cuda_bn_backward_apply(ds_context *ctx, const void *args);        // batchnorm.cu
ds_status ds_cuda_relu_forward(ds_context *ctx, const void *args);             // relu.cu
ds_status ds_cuda_relu_backward(ds_context *ctx, const void *args);            // relu.cu
ds_status ds_cuda_maxpool2d_forward(ds_context *ctx, const void *args);        // pool.cu
ds_status ds_cuda_maxpool2d_backward(ds_context *ctx, const void *args);       // pool.cu
ds_status ds_cuda_adaptive_avgpool2d_forward(ds_context *ctx, const void *args);   // pool.cu
ds_status ds_cuda_adaptive_avgpool2d_backward(ds_context *ctx, const void *args);  // pool.cu
ds_status ds_cuda_interpolate_forward(ds_context *ctx, const void *args);      // interpolate.cu
ds_status ds_cuda_interpolate_backward(ds_context *ctx, const void *args);     // interpolate.cu
ds_status ds_cuda_pixel_ce_forward(ds_context *ctx, const void *args);         // pixel_cross_entropy.cu
ds_status ds_cuda_pixel_ce_backward(ds_context *ctx, const void *args);        // pixel_cross_entropy.cu
ds_status ds_cuda_channel_copy(ds_context *ctx, const void *args);             // channel_copy.cu
ds_status ds_cuda_ctc_loss_forward(ds_context *ctx, const void *args);         // ctc.cu
ds_status ds_cuda_ctc_loss_backward(ds_context *ctx, const void *args);        // ctc.cu
ds_status ds_cuda_log_softmax_forward(ds_context *ctx, const void *args);      // log_softmax.cu
ds_status ds_cuda_log_softmax_backward(ds_context *ctx, const void *args);     // log_softmax.cu
ds_status ds_cuda_groupnorm_forward(ds_context *ctx, const void *args);        // groupnorm.cu
ds_status ds_cuda_groupnorm_backward(ds_context *ctx, const void *args);       // groupnorm.cu
ds_status ds_cuda_weight_norm_forward(ds_context *ctx, const void *args);      // weight_norm.cu
ds_status ds_cuda_weight_norm_backward(ds_context *ctx, const void *args);     // weight_norm.cu
ds_status ds_cuda_spec_augment_forward(ds_context *ctx, const void *args);     // spec_augment.cu
ds_status ds_cuda_spec_augment_backward(ds_context *ctx, const void *args);    // spec_augment.cu

#ifdef __cplusplus
}
#endif

#endif
