// The CPU reference ops (plain C + OpenMP + OpenBLAS). Each takes ds_context* and the op's args
// struct (kernels/ops.h) as const void*, so that it fits a slot of the backend table.
#ifndef DS_CPU_OPS_H
#define DS_CPU_OPS_H

#include "../ops.h"

ds_status ds_cpu_linear_forward(ds_context *ctx, const void *args);       // linear.c
ds_status ds_cpu_linear_backward(ds_context *ctx, const void *args);      // linear.c
ds_status ds_cpu_layernorm_forward(ds_context *ctx, const void *args);    // layernorm.c
ds_status ds_cpu_layernorm_backward(ds_context *ctx, const void *args);   // layernorm.c
ds_status ds_cpu_gelu_forward(ds_context *ctx, const void *args);         // activations.c
ds_status ds_cpu_gelu_backward(ds_context *ctx, const void *args);        // activations.c
ds_status ds_cpu_tanh_forward(ds_context *ctx, const void *args);         // activations.c
ds_status ds_cpu_tanh_backward(ds_context *ctx, const void *args);        // activations.c
ds_status ds_cpu_softmax_forward(ds_context *ctx, const void *args);      // softmax.c
ds_status ds_cpu_softmax_backward(ds_context *ctx, const void *args);     // softmax.c
ds_status ds_cpu_attention_forward(ds_context *ctx, const void *args);    // attention.c
ds_status ds_cpu_attention_backward(ds_context *ctx, const void *args);   // attention.c
ds_status ds_cpu_dropout_forward(ds_context *ctx, const void *args);      // dropout.c
ds_status ds_cpu_dropout_backward(ds_context *ctx, const void *args);     // dropout.c
ds_status ds_cpu_embedding_forward(ds_context *ctx, const void *args);    // embedding.c
ds_status ds_cpu_embedding_backward(ds_context *ctx, const void *args);   // embedding.c
ds_status ds_cpu_cross_entropy_forward(ds_context *ctx, const void *args);   // cross_entropy.c
ds_status ds_cpu_cross_entropy_backward(ds_context *ctx, const void *args);  // cross_entropy.c
ds_status ds_cpu_adamw(ds_context *ctx, const void *args);                // adamw.c
ds_status ds_cpu_sgd(ds_context *ctx, const void *args);                  // sgd.c
ds_status ds_cpu_add(ds_context *ctx, const void *args);                  // layout.c
ds_status ds_cpu_permute_heads(ds_context *ctx, const void *args);        // layout.c
ds_status ds_cpu_bce_with_logits_forward(ds_context *ctx, const void *args);   // pointwise_loss.c
ds_status ds_cpu_bce_with_logits_backward(ds_context *ctx, const void *args);  // pointwise_loss.c
ds_status ds_cpu_mse_forward(ds_context *ctx, const void *args);               // pointwise_loss.c
ds_status ds_cpu_mse_backward(ds_context *ctx, const void *args);              // pointwise_loss.c
ds_status ds_cpu_conv2d_workspace(ds_context *ctx, const void *args);            // conv2d.c
ds_status ds_cpu_conv2d_forward(ds_context *ctx, const void *args);              // conv2d.c
ds_status ds_cpu_conv2d_backward(ds_context *ctx, const void *args);             // conv2d.c
ds_status ds_cpu_bn_stats(ds_context *ctx, const void *args);                    // batchnorm.c
ds_status ds_cpu_bn_finalize(ds_context *ctx, const void *args);                 // batchnorm.c
ds_status ds_cpu_bn_apply(ds_context *ctx, const void *args);                    // batchnorm.c
ds_status ds_cpu_bn_backward_reduce(ds_context *ctx, const void *args);          // batchnorm.c
ds_status ds_cpu_bn_backward_apply(ds_context *ctx, const void *args);           // batchnorm.c
ds_status ds_cpu_relu_forward(ds_context *ctx, const void *args);                // relu.c
ds_status ds_cpu_relu_backward(ds_context *ctx, const void *args);               // relu.c
ds_status ds_cpu_maxpool2d_forward(ds_context *ctx, const void *args);           // maxpool.c
ds_status ds_cpu_maxpool2d_backward(ds_context *ctx, const void *args);          // maxpool.c
ds_status ds_cpu_adaptive_avgpool2d_forward(ds_context *ctx, const void *args);  // adaptive_avgpool.c
ds_status ds_cpu_adaptive_avgpool2d_backward(ds_context *ctx, const void *args); // adaptive_avgpool.c
ds_status ds_cpu_interpolate_forward(ds_context *ctx, const void *args);         // interpolate.c
ds_status ds_cpu_interpolate_backward(ds_context *ctx, const void *args);        // interpolate.c
ds_status ds_cpu_pixel_ce_forward(ds_context *ctx, const void *args);            // pixel_cross_entropy.c
ds_status ds_cpu_pixel_ce_backward(ds_context *ctx, const void *args);           // pixel_cross_entropy.c
ds_status ds_cpu_channel_copy(ds_context *ctx, const void *args);                // channel_copy.c
ds_status ds_cpu_log_softmax_forward(ds_context *ctx, const void *args);       // softmax.c
ds_status ds_cpu_log_softmax_backward(ds_context *ctx, const void *args);      // softmax.c
ds_status ds_cpu_ctc_loss_forward(ds_context *ctx, const void *args);          // ctc_loss.c
ds_status ds_cpu_ctc_loss_backward(ds_context *ctx, const void *args);         // ctc_loss.c
ds_status ds_cpu_groupnorm_forward(ds_context *ctx, const void *args);         // groupnorm.c
ds_status ds_cpu_groupnorm_backward(ds_context *ctx, const void *args);        // groupnorm.c
ds_status ds_cpu_weight_norm_forward(ds_context *ctx, const void *args);       // weight_norm.c
ds_status ds_cpu_weight_norm_backward(ds_context *ctx, const void *args);      // weight_norm.c
ds_status ds_cpu_spec_augment_forward(ds_context *ctx, const void *args);      // spec_augment.c
ds_status ds_cpu_spec_augment_backward(ds_context *ctx, const void *args);     // spec_augment.c

#endif
