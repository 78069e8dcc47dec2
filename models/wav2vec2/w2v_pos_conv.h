// Wav2Vec2's positional convolution (HF Wav2Vec2PositionalConvEmbedding): a grouped Conv1d over
// time (kernel K = num_conv_pos_embeddings, padding K/2, groups G) whose weight is weight-normed
// with dim 2 (one norm per tap), the last frame dropped when K is even (Wav2Vec2SamePadLayer),
// GELU; the result is added to the hidden states: out = h + gelu(conv(h))[:, :T].
// Parameters, in HF's order: conv.bias (H), conv.parametrizations.weight.original0 = g (1, 1, K),
// conv.parametrizations.weight.original1 = v (H, H/G, K).
#ifndef DS_W2V_POS_CONV_H
#define DS_W2V_POS_CONV_H

#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/param_block.h"

typedef struct ds_w2v_pos_dims {
    int64_t hidden, kernel, groups;
    // Activation dtype of h, out and the saved tensors below: F32 (0), or BF16 for mixed precision on
    // CUDA (the weight norm then writes the normed weight straight in BF16, the conv's operand);
    // g, v, the bias, ||v|| and every parameter gradient stay F32.
    ds_dtype act;
} ds_w2v_pos_dims;

enum { DS_W2V_POS_BIAS, DS_W2V_POS_G, DS_W2V_POS_V, DS_W2V_POS_PARAM_COUNT };

void ds_w2v_pos_specs(const ds_w2v_pos_dims *d, const char *prefix, ds_param_spec *specs, int *count);

typedef struct ds_w2v_pos_acts {
    int64_t B, T, T2;     // T2: conv output frames (T + 1 for an even kernel)
    ds_tensor w, norm;    // (H, H/G, K) the normed weight (act dtype), (K) ||v|| per tap (F32)
    ds_tensor xt;         // (B, H, T) the hidden states, channels first
    ds_tensor y;          // (B, H, T2) conv output
    ds_tensor yt;         // (B, T2, H) conv output, time first (the GELU input)
    ds_tensor gl;         // (B, T2, H) GELU output
} ds_w2v_pos_acts;

// out (B*T, H) = h + the positional embedding of h (B*T, H).
ds_status ds_w2v_pos_forward(ds_context *ctx, const ds_w2v_pos_dims *d, const ds_param_block *pb, int first_param,
                             const ds_tensor *h, const ds_tensor *out, int64_t B, int64_t T, ds_arena *arena,
                             ds_w2v_pos_acts *acts);

// From dout (B*T, H): parameter gradients added, dh (B*T, H) = dout + the embedding's input gradient.
ds_status ds_w2v_pos_backward(ds_context *ctx, const ds_w2v_pos_dims *d, const ds_param_block *pb, int first_param,
                              const ds_w2v_pos_acts *acts, const ds_tensor *dout, const ds_tensor *dh, ds_arena *arena);

#endif
