// One transformer encoder layer, shared by BERT (models/bert/bert_layer.h) and Wav2Vec2
// (models/wav2vec2/): multi-head self-attention with a key padding mask, output projection,
// dropout and residual; a GELU feed-forward block with dropout and residual; two LayerNorms,
// either after each block (post-LN: BERT's BertLayer, Wav2Vec2EncoderLayer) or before each block
// (pre-LN: Wav2Vec2EncoderLayerStableLayerNorm). Explicit forward and backward over the op API;
// the parameters are 16 consecutive tensors of a ds_param_block, named and ordered by a table
// (ds_tl_names) so that each model keeps its reference framework's names and order; the
// activations live in an arena.
//
//   post-LN:  res1 = x + drop_h(AO(attn(x)));  a = LN1(res1)
//             res2 = a + drop_h(O(drop_act(gelu(I(a)))));  y = LN2(res2)
//   pre-LN:   h1 = LN1(x);  res1 = x + drop_h(AO(attn(h1)))
//             a = LN2(res1);  y = res2 = res1 + drop_h(O(drop_act(gelu(I(a)))))
// attn includes dropout of the attention probabilities (attn_dropout).
#ifndef DS_TRANSFORMER_LAYER_H
#define DS_TRANSFORMER_LAYER_H

#include <stdbool.h>
#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/param_block.h"

typedef struct ds_tl_dims {
    int64_t hidden;        // H
    int64_t heads;         // nh; H % nh == 0
    int64_t intermediate;  // I
    double ln_eps;         // layer_norm_eps
    float hidden_dropout;  // after the attention output projection and after the FFN (0 in eval)
    float attn_dropout;    // on the attention probabilities (0 in eval)
    // Activation dtype: F32 (0, the default), or BF16 for mixed precision on CUDA (then linears
    // read the block's bf16 weight copy; statistics, parameters and their gradients stay F32).
    ds_dtype act;
    float act_dropout;     // after the FFN's GELU (Wav2Vec2's activation_dropout; BERT has none: 0)
    bool pre_ln;           // LayerNorms before the blocks (Wav2Vec2's do_stable_layer_norm)
} ds_tl_dims;

// The roles of the layer's 16 tensors. LN1 is the norm of the attention block (post-LN: after it,
// pre-LN: before it), LN2 that of the feed-forward block.
enum {
    DS_TL_Q_W, DS_TL_Q_B, DS_TL_K_W, DS_TL_K_B, DS_TL_V_W, DS_TL_V_B,
    DS_TL_AO_W, DS_TL_AO_B, DS_TL_LN1_W, DS_TL_LN1_B,
    DS_TL_I_W, DS_TL_I_B, DS_TL_O_W, DS_TL_O_B, DS_TL_LN2_W, DS_TL_LN2_B,
    DS_TL_PARAM_COUNT
};

// A model's names and order of the layer's tensors: name[role] is the tensor's name after the
// layer prefix, slot[role] its position within the layer's 16 consecutive tensors of the block.
typedef struct ds_tl_names {
    const char *name[DS_TL_PARAM_COUNT];
    int slot[DS_TL_PARAM_COUNT];  // a permutation of 0..15
} ds_tl_names;

// Appends the layer's 16 parameter specs, "<prefix><name>", in slot order, to specs[*count...];
// *count grows by DS_TL_PARAM_COUNT. Weights decay, biases and LayerNorm parameters do not.
void ds_tl_specs(const ds_tl_dims *d, const ds_tl_names *names, const char *prefix, ds_param_spec *specs, int *count);

// What forward saves for backward: views into the arena.
typedef struct ds_tl_acts {
    int64_t B, T;
    // Activations are of dims.act; lse, mean1/2 and rstd1/2 are F32. All on the arena's device.
    ds_tensor x;                // (B*T, H) the layer input (not owned: the previous layer's output)
    ds_tensor q, k, v;          // (B*T, H)
    ds_tensor qh, kh, vh, ch;   // (B, nh, T, H/nh) heads; ch = attention output (CUDA only: on the CPU
                                // attention works on q, k, v, c in place and these stay empty)
    ds_tensor lse;              // (B, nh, T)
    ds_tensor c;                // (B*T, H) merged attention output
    ds_tensor res1, mean1, rstd1, a;       // (B*T, H) x + dropout(dense(c)); LN1 stats (B*T); a = the FFN input
    ds_tensor inter, g;                    // (B*T, I) pre-GELU and GELU output (after activation dropout)
    ds_tensor res2, mean2, rstd2, y;       // (B*T, H) residual of the FFN; LN2 stats; y = the layer output
    ds_tensor h1;               // (B*T, H) pre-LN only: LN1(x), the attention input (absent in post-LN)
} ds_tl_acts;

// Forward on x (B*T, H) with key_mask (B, T) I32 (may be NULL: attend to all). The output is
// acts->y. dropout_offset: first of the 4 Philox offsets the layer uses (attention probabilities,
// attention output, FFN output, FFN activation). All tensors are carved from `arena` (a measuring
// arena sizes the plan).
ds_status ds_tl_forward(ds_context *ctx, const ds_tl_dims *d, const ds_tl_names *names, const ds_param_block *pb,
                        int first_param, const ds_tensor *x, const ds_tensor *key_mask, int64_t B, int64_t T,
                        uint64_t dropout_offset, ds_arena *arena, ds_tl_acts *acts);

// Backward from dy (B*T, H): parameter gradients added into pb's grads (accumulate; all 16 tensors
// must be trainable), and dx (B*T, H) written when dx is non-NULL. Temporaries are carved from
// `arena`.
ds_status ds_tl_backward(ds_context *ctx, const ds_tl_dims *d, const ds_tl_names *names, const ds_param_block *pb,
                         int first_param, const ds_tl_acts *acts, const ds_tensor *key_mask, const ds_tensor *dy,
                         const ds_tensor *dx, uint64_t dropout_offset, ds_arena *arena);

// Matmul FLOPs of one forward pass of the layer (2 per multiply-add), attention included.
double ds_tl_forward_flops(const ds_tl_dims *d, int64_t B, int64_t T);

#endif
