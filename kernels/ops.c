#include "ops.h"

const char *ds_op_name(ds_op op) {
    static const char *const names[] = {
        [DS_OP_LINEAR_FWD] = "linear_forward",
        [DS_OP_LINEAR_BWD] = "linear_backward",
        [DS_OP_LAYERNORM_FWD] = "layernorm_forward",
        [DS_OP_LAYERNORM_BWD] = "layernorm_backward",
        [DS_OP_GELU_FWD] = "gelu_forward",
        [DS_OP_GELU_BWD] = "gelu_backward",
        [DS_OP_TANH_FWD] = "tanh_forward",
        [DS_OP_TANH_BWD] = "tanh_backward",
        [DS_OP_SOFTMAX_FWD] = "softmax_forward",
        [DS_OP_SOFTMAX_BWD] = "softmax_backward",
        [DS_OP_ATTENTION_FWD] = "attention_forward",
        [DS_OP_ATTENTION_BWD] = "attention_backward",
        [DS_OP_DROPOUT_FWD] = "dropout_forward",
        [DS_OP_DROPOUT_BWD] = "dropout_backward",
        [DS_OP_EMBEDDING_FWD] = "embedding_forward",
        [DS_OP_EMBEDDING_BWD] = "embedding_backward",
        [DS_OP_CROSS_ENTROPY_FWD] = "cross_entropy_forward",
        [DS_OP_CROSS_ENTROPY_BWD] = "cross_entropy_backward",
        [DS_OP_ADAMW] = "adamw",
        [DS_OP_SGD] = "sgd",
        [DS_OP_ADD] = "add",
        [DS_OP_PERMUTE_HEADS] = "permute_heads",
        [DS_OP_BCE_LOGITS_FWD] = "bce_with_logits_forward",
        [DS_OP_BCE_LOGITS_BWD] = "bce_with_logits_backward",
        [DS_OP_MSE_FWD] = "mse_forward",
        [DS_OP_MSE_BWD] = "mse_backward",
        [DS_OP_CONV2D_WORKSPACE] = "conv2d_workspace",
        [DS_OP_CONV2D_FWD] = "conv2d_forward",
        [DS_OP_CONV2D_BWD] = "conv2d_backward",
        [DS_OP_BN_STATS] = "bn_stats",
        [DS_OP_BN_FINALIZE] = "bn_finalize",
        [DS_OP_BN_APPLY] = "bn_apply",
        [DS_OP_BN_BWD_REDUCE] = "bn_backward_reduce",
        [DS_OP_BN_BWD_APPLY] = "bn_backward_apply",
        [DS_OP_RELU_FWD] = "relu_forward",
        [DS_OP_RELU_BWD] = "relu_backward",
        [DS_OP_MAXPOOL2D_FWD] = "maxpool2d_forward",
        [DS_OP_MAXPOOL2D_BWD] = "maxpool2d_backward",
        [DS_OP_ADAPTIVE_AVGPOOL2D_FWD] = "adaptive_avgpool2d_forward",
        [DS_OP_ADAPTIVE_AVGPOOL2D_BWD] = "adaptive_avgpool2d_backward",
        [DS_OP_INTERPOLATE_FWD] = "interpolate_forward",
        [DS_OP_INTERPOLATE_BWD] = "interpolate_backward",
        [DS_OP_PIXEL_CE_FWD] = "pixel_cross_entropy_forward",
        [DS_OP_PIXEL_CE_BWD] = "pixel_cross_entropy_backward",
        [DS_OP_CHANNEL_COPY] = "channel_copy",
        [DS_OP_LOG_SOFTMAX_FWD] = "log_softmax_forward",
        [DS_OP_LOG_SOFTMAX_BWD] = "log_softmax_backward",
        [DS_OP_CTC_LOSS_FWD] = "ctc_loss_forward",
        [DS_OP_CTC_LOSS_BWD] = "ctc_loss_backward",
        [DS_OP_GROUPNORM_FWD] = "groupnorm_forward",
        [DS_OP_GROUPNORM_BWD] = "groupnorm_backward",
        [DS_OP_WEIGHT_NORM_FWD] = "weight_norm_forward",
        [DS_OP_WEIGHT_NORM_BWD] = "weight_norm_backward",
        [DS_OP_SPEC_AUGMENT_FWD] = "spec_augment_forward",
        [DS_OP_SPEC_AUGMENT_BWD] = "spec_augment_backward",
    };
    _Static_assert(sizeof(names) / sizeof(names[0]) == DS_OP_COUNT, "op names out of step with ds_op");
    return (unsigned)op < DS_OP_COUNT ? names[op] : "?";
}

const ds_backend *ds_backend_for(ds_device_kind kind) {
    return kind == DS_DEVICE_CUDA ? ds_backend_cuda() : ds_backend_cpu();
}

bool ds_backend_supports(const ds_backend *b, ds_op op) {
    return b != NULL && (unsigned)op < DS_OP_COUNT && b->fn[op] != NULL;
}

ds_status ds_op_run(ds_context *ctx, ds_op op, const ds_tensor *on, const void *args) {
    const ds_backend *b = ds_backend_for(on->device.kind);
    if (!ds_backend_supports(b, op))
        return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "op %s is not available on the %s backend",
                          ds_op_name(op), b ? b->name : "?");
    return b->fn[op](ctx, args);
}

ds_status ds_linear_forward(ds_context *c, const ds_linear_fwd_args *a) { return ds_op_run(c, DS_OP_LINEAR_FWD, &a->x, a); }
ds_status ds_linear_backward(ds_context *c, const ds_linear_bwd_args *a) { return ds_op_run(c, DS_OP_LINEAR_BWD, &a->dy, a); }
ds_status ds_layernorm_forward(ds_context *c, const ds_layernorm_fwd_args *a) { return ds_op_run(c, DS_OP_LAYERNORM_FWD, &a->x, a); }
ds_status ds_layernorm_backward(ds_context *c, const ds_layernorm_bwd_args *a) { return ds_op_run(c, DS_OP_LAYERNORM_BWD, &a->dy, a); }
ds_status ds_gelu_forward(ds_context *c, const ds_unary_fwd_args *a) { return ds_op_run(c, DS_OP_GELU_FWD, &a->x, a); }
ds_status ds_gelu_backward(ds_context *c, const ds_unary_bwd_args *a) { return ds_op_run(c, DS_OP_GELU_BWD, &a->dy, a); }
ds_status ds_tanh_forward(ds_context *c, const ds_unary_fwd_args *a) { return ds_op_run(c, DS_OP_TANH_FWD, &a->x, a); }
ds_status ds_tanh_backward(ds_context *c, const ds_unary_bwd_args *a) { return ds_op_run(c, DS_OP_TANH_BWD, &a->dy, a); }
ds_status ds_softmax_forward(ds_context *c, const ds_softmax_fwd_args *a) { return ds_op_run(c, DS_OP_SOFTMAX_FWD, &a->x, a); }
ds_status ds_softmax_backward(ds_context *c, const ds_softmax_bwd_args *a) { return ds_op_run(c, DS_OP_SOFTMAX_BWD, &a->dy, a); }
ds_status ds_attention_forward(ds_context *c, const ds_attention_fwd_args *a) { return ds_op_run(c, DS_OP_ATTENTION_FWD, &a->q, a); }
ds_status ds_attention_backward(ds_context *c, const ds_attention_bwd_args *a) { return ds_op_run(c, DS_OP_ATTENTION_BWD, &a->dout, a); }
ds_status ds_dropout_forward(ds_context *c, const ds_dropout_fwd_args *a) { return ds_op_run(c, DS_OP_DROPOUT_FWD, &a->x, a); }
ds_status ds_dropout_backward(ds_context *c, const ds_dropout_bwd_args *a) { return ds_op_run(c, DS_OP_DROPOUT_BWD, &a->dy, a); }
ds_status ds_embedding_forward(ds_context *c, const ds_embedding_fwd_args *a) { return ds_op_run(c, DS_OP_EMBEDDING_FWD, &a->table, a); }
ds_status ds_embedding_backward(ds_context *c, const ds_embedding_bwd_args *a) { return ds_op_run(c, DS_OP_EMBEDDING_BWD, &a->dout, a); }
ds_status ds_cross_entropy_forward(ds_context *c, const ds_cross_entropy_fwd_args *a) { return ds_op_run(c, DS_OP_CROSS_ENTROPY_FWD, &a->logits, a); }
ds_status ds_cross_entropy_backward(ds_context *c, const ds_cross_entropy_bwd_args *a) { return ds_op_run(c, DS_OP_CROSS_ENTROPY_BWD, &a->logits, a); }
ds_status ds_adamw_step(ds_context *c, const ds_adamw_args *a) { return ds_op_run(c, DS_OP_ADAMW, &a->param, a); }
ds_status ds_sgd_step(ds_context *c, const ds_sgd_args *a) { return ds_op_run(c, DS_OP_SGD, &a->param, a); }
ds_status ds_add(ds_context *c, const ds_add_args *a) { return ds_op_run(c, DS_OP_ADD, &a->a, a); }
ds_status ds_permute_heads(ds_context *c, const ds_permute_heads_args *a) { return ds_op_run(c, DS_OP_PERMUTE_HEADS, &a->x, a); }
ds_status ds_bce_with_logits_forward(ds_context *c, const ds_pointwise_loss_fwd_args *a) { return ds_op_run(c, DS_OP_BCE_LOGITS_FWD, &a->x, a); }
ds_status ds_bce_with_logits_backward(ds_context *c, const ds_pointwise_loss_bwd_args *a) { return ds_op_run(c, DS_OP_BCE_LOGITS_BWD, &a->x, a); }
ds_status ds_mse_forward(ds_context *c, const ds_pointwise_loss_fwd_args *a) { return ds_op_run(c, DS_OP_MSE_FWD, &a->x, a); }
ds_status ds_mse_backward(ds_context *c, const ds_pointwise_loss_bwd_args *a) { return ds_op_run(c, DS_OP_MSE_BWD, &a->x, a); }
ds_status ds_conv2d_workspace_size(ds_context *c, const ds_conv2d_workspace_args *a) { return ds_op_run(c, DS_OP_CONV2D_WORKSPACE, &a->x, a); }
ds_status ds_conv2d_forward(ds_context *c, const ds_conv2d_fwd_args *a) { return ds_op_run(c, DS_OP_CONV2D_FWD, &a->x, a); }
ds_status ds_conv2d_backward(ds_context *c, const ds_conv2d_bwd_args *a) { return ds_op_run(c, DS_OP_CONV2D_BWD, &a->dy, a); }
ds_status ds_bn_stats(ds_context *c, const ds_bn_stats_args *a) { return ds_op_run(c, DS_OP_BN_STATS, &a->x, a); }
ds_status ds_bn_finalize(ds_context *c, const ds_bn_finalize_args *a) { return ds_op_run(c, DS_OP_BN_FINALIZE, &a->mean, a); }
ds_status ds_bn_apply(ds_context *c, const ds_bn_apply_args *a) { return ds_op_run(c, DS_OP_BN_APPLY, &a->x, a); }
ds_status ds_bn_backward_reduce(ds_context *c, const ds_bn_bwd_reduce_args *a) { return ds_op_run(c, DS_OP_BN_BWD_REDUCE, &a->dy, a); }
ds_status ds_bn_backward_apply(ds_context *c, const ds_bn_bwd_apply_args *a) { return ds_op_run(c, DS_OP_BN_BWD_APPLY, &a->dy, a); }
ds_status ds_relu_forward(ds_context *c, const ds_unary_fwd_args *a) { return ds_op_run(c, DS_OP_RELU_FWD, &a->x, a); }
ds_status ds_relu_backward(ds_context *c, const ds_unary_bwd_args *a) { return ds_op_run(c, DS_OP_RELU_BWD, &a->dy, a); }
ds_status ds_maxpool2d_forward(ds_context *c, const ds_maxpool2d_fwd_args *a) { return ds_op_run(c, DS_OP_MAXPOOL2D_FWD, &a->x, a); }
ds_status ds_maxpool2d_backward(ds_context *c, const ds_maxpool2d_bwd_args *a) { return ds_op_run(c, DS_OP_MAXPOOL2D_BWD, &a->dy, a); }
ds_status ds_adaptive_avgpool2d_forward(ds_context *c, const ds_adaptive_avgpool2d_args *a) { return ds_op_run(c, DS_OP_ADAPTIVE_AVGPOOL2D_FWD, &a->x, a); }
ds_status ds_adaptive_avgpool2d_backward(ds_context *c, const ds_adaptive_avgpool2d_args *a) { return ds_op_run(c, DS_OP_ADAPTIVE_AVGPOOL2D_BWD, &a->x, a); }
ds_status ds_interpolate_forward(ds_context *c, const ds_interpolate_args *a) { return ds_op_run(c, DS_OP_INTERPOLATE_FWD, &a->x, a); }
ds_status ds_interpolate_backward(ds_context *c, const ds_interpolate_args *a) { return ds_op_run(c, DS_OP_INTERPOLATE_BWD, &a->x, a); }
ds_status ds_pixel_cross_entropy_forward(ds_context *c, const ds_pixel_ce_fwd_args *a) { return ds_op_run(c, DS_OP_PIXEL_CE_FWD, &a->logits, a); }
ds_status ds_pixel_cross_entropy_backward(ds_context *c, const ds_pixel_ce_bwd_args *a) { return ds_op_run(c, DS_OP_PIXEL_CE_BWD, &a->logits, a); }
ds_status ds_channel_copy(ds_context *c, const ds_channel_copy_args *a) { return ds_op_run(c, DS_OP_CHANNEL_COPY, &a->src, a); }

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

int64_t ds_conv_out_size(int64_t in, int kernel, int stride, int pad, int dilation) {
    if (stride < 1 || dilation < 1 || kernel < 1) return 0;
    return floor_div(in + 2 * (int64_t)pad - (int64_t)dilation * (kernel - 1) - 1, stride) + 1;
}

int64_t ds_conv_valid_pairs(int64_t in, int kernel, int stride, int pad, int dilation) {
    const int64_t out = ds_conv_out_size(in, kernel, stride, pad, dilation);
    int64_t pairs = 0;
    for (int64_t t = 0; t < kernel && out > 0; t++) {
        const int64_t off = t * dilation - pad;  // input of output 0 through this tap
        // outputs p with 0 <= p * stride + off <= in - 1, within [0, out)
        int64_t lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
        int64_t hi = in - 1 - off < 0 ? -1 : (in - 1 - off) / stride;
        if (hi > out - 1) hi = out - 1;
        if (hi >= lo) pairs += hi - lo + 1;
    }
    return pairs;
}

int64_t ds_pool_out_size(int64_t in, int kernel, int stride, int pad, int dilation, bool ceil_mode) {
    if (stride < 1 || dilation < 1 || kernel < 1) return 0;
    const int64_t span = in + 2 * (int64_t)pad - (int64_t)dilation * (kernel - 1) - 1;
    int64_t out = floor_div(span + (ceil_mode ? stride - 1 : 0), stride) + 1;
    // torch: with ceil_mode the last window must start inside the input or the left padding.
    if (ceil_mode && (out - 1) * stride >= in + pad) out--;
    return out;
}

ds_status ds_log_softmax_forward(ds_context *c, const ds_softmax_fwd_args *a) { return ds_op_run(c, DS_OP_LOG_SOFTMAX_FWD, &a->x, a); }
ds_status ds_log_softmax_backward(ds_context *c, const ds_softmax_bwd_args *a) { return ds_op_run(c, DS_OP_LOG_SOFTMAX_BWD, &a->dy, a); }
ds_status ds_ctc_loss_forward(ds_context *c, const ds_ctc_loss_fwd_args *a) { return ds_op_run(c, DS_OP_CTC_LOSS_FWD, &a->log_probs, a); }
ds_status ds_ctc_loss_backward(ds_context *c, const ds_ctc_loss_bwd_args *a) { return ds_op_run(c, DS_OP_CTC_LOSS_BWD, &a->log_probs, a); }
ds_status ds_groupnorm_forward(ds_context *c, const ds_groupnorm_fwd_args *a) { return ds_op_run(c, DS_OP_GROUPNORM_FWD, &a->x, a); }
ds_status ds_groupnorm_backward(ds_context *c, const ds_groupnorm_bwd_args *a) { return ds_op_run(c, DS_OP_GROUPNORM_BWD, &a->dy, a); }
ds_status ds_weight_norm_forward(ds_context *c, const ds_weight_norm_fwd_args *a) { return ds_op_run(c, DS_OP_WEIGHT_NORM_FWD, &a->v, a); }
ds_status ds_weight_norm_backward(ds_context *c, const ds_weight_norm_bwd_args *a) { return ds_op_run(c, DS_OP_WEIGHT_NORM_BWD, &a->dw, a); }
ds_status ds_spec_augment_forward(ds_context *c, const ds_spec_augment_fwd_args *a) { return ds_op_run(c, DS_OP_SPEC_AUGMENT_FWD, &a->x, a); }
ds_status ds_spec_augment_backward(ds_context *c, const ds_spec_augment_bwd_args *a) { return ds_op_run(c, DS_OP_SPEC_AUGMENT_BWD, &a->dy, a); }

double ds_ctc_loss_weight(ds_ctc_reduction reduction, int64_t batch, bool *is_sum) {
    *is_sum = reduction == DS_CTC_SUM;
    return *is_sum ? 1.0 : (double)batch;
}
