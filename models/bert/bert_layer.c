// BERT's layer over the shared transformer layer: BERT's tensor names, in role order.
#include "bert_layer.h"

static const ds_tl_names k_bert_names = {
    .name = {
        [DS_TL_Q_W] = "attention.self.query.weight",       [DS_TL_Q_B] = "attention.self.query.bias",
        [DS_TL_K_W] = "attention.self.key.weight",         [DS_TL_K_B] = "attention.self.key.bias",
        [DS_TL_V_W] = "attention.self.value.weight",       [DS_TL_V_B] = "attention.self.value.bias",
        [DS_TL_AO_W] = "attention.output.dense.weight",    [DS_TL_AO_B] = "attention.output.dense.bias",
        [DS_TL_LN1_W] = "attention.output.LayerNorm.weight", [DS_TL_LN1_B] = "attention.output.LayerNorm.bias",
        [DS_TL_I_W] = "intermediate.dense.weight",         [DS_TL_I_B] = "intermediate.dense.bias",
        [DS_TL_O_W] = "output.dense.weight",               [DS_TL_O_B] = "output.dense.bias",
        [DS_TL_LN2_W] = "output.LayerNorm.weight",         [DS_TL_LN2_B] = "output.LayerNorm.bias",
    },
    .slot = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
};

const ds_tl_names *ds_bert_layer_names(void) { return &k_bert_names; }

void ds_bert_layer_specs(const ds_bert_layer_dims *d, const char *prefix, ds_param_spec *specs, int *count) {
    ds_tl_specs(d, &k_bert_names, prefix, specs, count);
}

ds_status ds_bert_layer_forward(ds_context *ctx, const ds_bert_layer_dims *d, const ds_param_block *pb,
                                int first_param, const ds_tensor *x, const ds_tensor *key_mask, int64_t B,
                                int64_t T, uint64_t dropout_offset, ds_arena *arena, ds_bert_layer_acts *acts) {
    return ds_tl_forward(ctx, d, &k_bert_names, pb, first_param, x, key_mask, B, T, dropout_offset, arena, acts);
}

ds_status ds_bert_layer_backward(ds_context *ctx, const ds_bert_layer_dims *d, const ds_param_block *pb,
                                 int first_param, const ds_bert_layer_acts *acts, const ds_tensor *key_mask,
                                 const ds_tensor *dy, const ds_tensor *dx, uint64_t dropout_offset,
                                 ds_arena *arena) {
    return ds_tl_backward(ctx, d, &k_bert_names, pb, first_param, acts, key_mask, dy, dx, dropout_offset, arena);
}

double ds_bert_layer_forward_flops(const ds_bert_layer_dims *d, int64_t B, int64_t T) {
    return ds_tl_forward_flops(d, B, T);
}
