// One BERT encoder layer (Hugging Face BertLayer): self-attention with a key padding mask,
// output projection, dropout, residual and LayerNorm, then the GELU feed-forward block with its
// own dropout, residual and LayerNorm. Explicit forward and backward over the op API; the
// parameters are 16 consecutive tensors of a ds_param_block, the activations live in an arena.
#ifndef DS_BERT_LAYER_H
#define DS_BERT_LAYER_H

#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/param_block.h"

typedef struct ds_bert_layer_dims {
    int64_t hidden;        // H
    int64_t heads;         // nh; H % nh == 0
    int64_t intermediate;  // I
    double ln_eps;         // layer_norm_eps (1e-12 in BERT)
    float hidden_dropout;  // hidden_dropout_prob (0 in eval)
    float attn_dropout;    // attention_probs_dropout_prob (0 in eval)
    // Activation dtype: F32 (0, the default), or BF16 for mixed precision on CUDA (then linears
    // read the block's bf16 weight copy; statistics, parameters and their gradients stay F32).
    ds_dtype act;
} ds_bert_layer_dims;

// Parameter order within the layer's slice of the block (HF names after "layer.{i}.").
enum {
    DS_BL_Q_W, DS_BL_Q_B, DS_BL_K_W, DS_BL_K_B, DS_BL_V_W, DS_BL_V_B,
    DS_BL_AO_W, DS_BL_AO_B, DS_BL_LN1_W, DS_BL_LN1_B,
    DS_BL_I_W, DS_BL_I_B, DS_BL_O_W, DS_BL_O_B, DS_BL_LN2_W, DS_BL_LN2_B,
    DS_BL_PARAM_COUNT
};

// Appends the layer's 16 parameter specs, named "<prefix>attention.self.query.weight" etc.,
// to specs[*count...]; *count grows by DS_BL_PARAM_COUNT.
void ds_bert_layer_specs(const ds_bert_layer_dims *d, const char *prefix, ds_param_spec *specs, int *count);

// What forward saves for backward: views into the arena.
typedef struct ds_bert_layer_acts {
    int64_t B, T;
    // Activations are of dims.act; lse, mean1/2 and rstd1/2 are F32. All on the arena's device.
    ds_tensor x;                // (B*T, H) the layer input (not owned: the previous layer's output)
    ds_tensor q, k, v;          // (B*T, H)
    ds_tensor qh, kh, vh, ch;   // (B, nh, T, H/nh) heads; ch = attention output
    ds_tensor lse;              // (B, nh, T)
    ds_tensor c;                // (B*T, H) merged attention output
    ds_tensor res1, mean1, rstd1, a;       // (B*T, H) x + dropout(dense(c)); stats (B*T); a = LN1(res1)
    ds_tensor inter, g;                    // (B*T, I) pre-GELU and GELU output
    ds_tensor res2, mean2, rstd2, y;       // (B*T, H) a + dropout(dense(g)); stats; y = LN2(res2)
} ds_bert_layer_acts;

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
