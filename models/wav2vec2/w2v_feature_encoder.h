// Wav2Vec2's feature encoder (HF Wav2Vec2FeatureEncoder): a stack of Conv1d (no padding) + norm +
// GELU over the raw audio. feat_extract_norm "group": GroupNorm(C, C) (one group per channel,
// over time, eps 1e-5) after the first conv only; "layer": LayerNorm over the channels (eps 1e-5)
// after every conv. Parameters per layer i, in HF's order: conv_layers.{i}.conv.weight
// (C_i, C_{i-1}, K_i) (C_{-1} = 1), conv.bias (C_i) when conv_bias, layer_norm.weight/.bias (C_i)
// when the layer has a norm. A frozen encoder keeps no activations (two working buffers serve every
// layer) and has no backward.
#ifndef DS_W2V_FEATURE_ENCODER_H
#define DS_W2V_FEATURE_ENCODER_H

#include <stdbool.h>
#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/param_block.h"

#define DS_W2V_FE_MAX 16

typedef struct ds_w2v_fe_dims {
    int layers;
    int64_t dim[DS_W2V_FE_MAX], kernel[DS_W2V_FE_MAX], stride[DS_W2V_FE_MAX];
    bool bias;
    bool layer_norm;  // "layer" (LayerNorm after every conv); else "group" (GroupNorm after conv 0)
    bool frozen;      // no gradients, no saved activations
    // Activation dtype: F32 (0, the default), or BF16 for mixed precision on CUDA: then the audio
    // comes in as BF16, the convs read the block's bf16 weight copy, and the conv outputs, norm
    // outputs and GELU outputs (and their gradients) are BF16; the norms' statistics, the
    // parameters and their gradients stay F32.
    ds_dtype act;
} ds_w2v_fe_dims;

// Appends the encoder's specs ("<prefix>conv_layers.{i}.conv.weight", ...) to specs[*count...].
// kind: DS_PARAM_FROZEN when d->frozen.
void ds_w2v_fe_specs(const ds_w2v_fe_dims *d, const char *prefix, ds_param_spec *specs, int *count);
// Number of tensors of the encoder.
int ds_w2v_fe_param_count(const ds_w2v_fe_dims *d);

// Per layer, all of the dims' act dtype except the F32 statistics:
// input (B, C_{i-1}, L_{i-1}) (not owned), conv output y (B, C, L), normalised n
// (B, C, L) or absent, statistics (group: (B, C); layer: (B*L)), the transposed views of the
// LayerNorm path, and the GELU output h (B, C, L), the next layer's input.
typedef struct ds_w2v_fe_layer_acts {
    ds_tensor x, y, n, mean, rstd, yt, nt, h;
    int64_t L;
} ds_w2v_fe_layer_acts;

typedef struct ds_w2v_fe_acts {
    ds_w2v_fe_layer_acts layer[DS_W2V_FE_MAX];
    ds_tensor out;  // (B, C_last, L_last) the last layer's h
} ds_w2v_fe_acts;

// Forward from audio (B, 1, S) of dtype d->act. Carves from `arena` (a measuring arena plans).
ds_status ds_w2v_fe_forward(ds_context *ctx, const ds_w2v_fe_dims *d, const ds_param_block *pb, int first_param,
                            const ds_tensor *audio, ds_arena *arena, ds_w2v_fe_acts *acts);

// Backward from dout (B, C_last, L_last) (overwritten as scratch): parameter gradients added.
// Not for a frozen encoder.
ds_status ds_w2v_fe_backward(ds_context *ctx, const ds_w2v_fe_dims *d, const ds_param_block *pb, int first_param,
                             const ds_w2v_fe_acts *acts, const ds_tensor *dout, ds_arena *arena);

#endif
