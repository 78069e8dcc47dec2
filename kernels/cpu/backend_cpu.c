#include "cpu_ops.h"

static const ds_backend k_cpu_backend = {
    .name = "cpu",
    .fn = {
        [DS_OP_LINEAR_FWD] = ds_cpu_linear_forward,
        [DS_OP_LINEAR_BWD] = ds_cpu_linear_backward,
        [DS_OP_LAYERNORM_FWD] = ds_cpu_layernorm_forward,
        [DS_OP_LAYERNORM_BWD] = ds_cpu_layernorm_backward,
        [DS_OP_GELU_FWD] = ds_cpu_gelu_forward,
        [DS_OP_GELU_BWD] = ds_cpu_gelu_backward,
        [DS_OP_TANH_FWD] = ds_cpu_tanh_forward,
        [DS_OP_TANH_BWD] = ds_cpu_tanh_backward,
        [DS_OP_SOFTMAX_FWD] = ds_cpu_softmax_forward,
        [DS_OP_SOFTMAX_BWD] = ds_cpu_softmax_backward,
        [DS_OP_ATTENTION_FWD] = ds_cpu_attention_forward,
        [DS_OP_ATTENTION_BWD] = ds_cpu_attention_backward,
        [DS_OP_DROPOUT_FWD] = ds_cpu_dropout_forward,
        [DS_OP_DROPOUT_BWD] = ds_cpu_dropout_backward,
        [DS_OP_EMBEDDING_FWD] = ds_cpu_embedding_forward,
        [DS_OP_EMBEDDING_BWD] = ds_cpu_embedding_backward,
        [DS_OP_CROSS_ENTROPY_FWD] = ds_cpu_cross_entropy_forward,
        [DS_OP_CROSS_ENTROPY_BWD] = ds_cpu_cross_entropy_backward,
        [DS_OP_ADAMW] = ds_cpu_adamw,
        [DS_OP_ADD] = ds_cpu_add,
        [DS_OP_PERMUTE_HEADS] = ds_cpu_permute_heads,
        [DS_OP_BCE_LOGITS_FWD] = ds_cpu_bce_with_logits_forward,
        [DS_OP_BCE_LOGITS_BWD] = ds_cpu_bce_with_logits_backward,
        [DS_OP_MSE_FWD] = ds_cpu_mse_forward,
        [DS_OP_MSE_BWD] = ds_cpu_mse_backward,
        [DS_OP_LOG_SOFTMAX_FWD] = ds_cpu_log_softmax_forward,
        [DS_OP_LOG_SOFTMAX_BWD] = ds_cpu_log_softmax_backward,
        [DS_OP_CTC_LOSS_FWD] = ds_cpu_ctc_loss_forward,
        [DS_OP_CTC_LOSS_BWD] = ds_cpu_ctc_loss_backward,
        [DS_OP_GROUPNORM_FWD] = ds_cpu_groupnorm_forward,
        [DS_OP_GROUPNORM_BWD] = ds_cpu_groupnorm_backward,
        [DS_OP_WEIGHT_NORM_FWD] = ds_cpu_weight_norm_forward,
        [DS_OP_WEIGHT_NORM_BWD] = ds_cpu_weight_norm_backward,
        [DS_OP_SPEC_AUGMENT_FWD] = ds_cpu_spec_augment_forward,
        [DS_OP_SPEC_AUGMENT_BWD] = ds_cpu_spec_augment_backward,
        [DS_OP_CONV1D_FWD] = ds_cpu_conv1d_forward,
        [DS_OP_CONV1D_BWD] = ds_cpu_conv1d_backward,
    },
};
// The table is an array of DS_OP_COUNT slots; tests/cpu/test_op_table.c checks every slot is set.
_Static_assert(sizeof(k_cpu_backend.fn) / sizeof(k_cpu_backend.fn[0]) == DS_OP_COUNT, "cpu table size");

const ds_backend *ds_backend_cpu(void) { return &k_cpu_backend; }
