// One BERT encoder layer (Hugging Face BertLayer): self-attention with a key padding mask,
// output projection, dropout, residual and LayerNorm, then the GELU feed-forward block with its
// own dropout, residual and LayerNorm. The math is the shared post-LN transformer layer
// (models/common/transformer_layer.h) with BERT's tensor names and order; this header keeps
// BERT's own API over it. The parameters are 16 consecutive tensors of a ds_param_block, the
// activations live in an arena.
#ifndef DS_BERT_LAYER_H
#define DS_BERT_LAYER_H

#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/param_block.h"
#include "../common/transformer_layer.h"

// hidden (H), heads (nh; H % nh == 0), intermediate (I), ln_eps (layer_norm_eps, 1e-12 in BERT),
// hidden_dropout (hidden_dropout_prob; 0 in eval), attn_dropout (attention_probs_dropout_prob;
// 0 in eval), act (F32, or BF16 for mixed precision on CUDA). BERT leaves act_dropout and pre_ln
// at 0 / false.
typedef ds_tl_dims ds_bert_layer_dims;

// Parameter order within the layer's slice of the block (HF names after "layer.{i}."): BERT's
// order is the shared layer's role order.
enum {
    DS_BL_Q_W = DS_TL_Q_W, DS_BL_Q_B = DS_TL_Q_B, DS_BL_K_W = DS_TL_K_W, DS_BL_K_B = DS_TL_K_B,
    DS_BL_V_W = DS_TL_V_W, DS_BL_V_B = DS_TL_V_B, DS_BL_AO_W = DS_TL_AO_W, DS_BL_AO_B = DS_TL_AO_B,
    DS_BL_LN1_W = DS_TL_LN1_W, DS_BL_LN1_B = DS_TL_LN1_B, DS_BL_I_W = DS_TL_I_W, DS_BL_I_B = DS_TL_I_B,
    DS_BL_O_W = DS_TL_O_W, DS_BL_O_B = DS_TL_O_B, DS_BL_LN2_W = DS_TL_LN2_W, DS_BL_LN2_B = DS_TL_LN2_B,
    DS_BL_PARAM_COUNT = DS_TL_PARAM_COUNT
};

// BERT's names and order of the layer's tensors.
const ds_tl_names *ds_bert_layer_names(void);

// Appends the layer's 16 parameter specs, named "<prefix>attention.self.query.weight" etc.,
// to specs[*count...]; *count grows by DS_BL_PARAM_COUNT.
void ds_bert_layer_specs(const ds_bert_layer_dims *d, const char *prefix, ds_param_spec *specs, int *count);

// What forward saves for backward: views into the arena (see ds_tl_acts).
typedef ds_tl_acts ds_bert_layer_acts;

// Forward on x (B*T, H) with key_mask (B, T) I32 (may be absent). The output is acts->y.
// dropout_offset: first of the 3 Philox offsets this layer uses (attention probs, two hidden).
// All tensors are carved from `arena` (a measuring arena sizes the plan).
ds_status ds_bert_layer_forward(ds_context *ctx, const ds_bert_layer_dims *d, const ds_param_block *pb,
                                int first_param, const ds_tensor *x, const ds_tensor *key_mask, int64_t B,
                                int64_t T, uint64_t dropout_offset, ds_arena *arena, ds_bert_layer_acts *acts);

// Backward from dy (B*T, H): parameter gradients added into pb->grads (accumulate), and dx
// (B*T, H) written when dx is non-NULL. Temporaries are carved from `arena`.
ds_status ds_bert_layer_backward(ds_context *ctx, const ds_bert_layer_dims *d, const ds_param_block *pb,
                                 int first_param, const ds_bert_layer_acts *acts, const ds_tensor *key_mask,
                                 const ds_tensor *dy, const ds_tensor *dx, uint64_t dropout_offset,
                                 ds_arena *arena);

// Matmul FLOPs of one forward pass of the layer (2 per multiply-add), attention included.
double ds_bert_layer_forward_flops(const ds_bert_layer_dims *d, int64_t B, int64_t T);

#endif
