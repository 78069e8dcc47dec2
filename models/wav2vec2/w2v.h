// Wav2Vec2ForCTC (Hugging Face semantics, transformers 5.x): the convolutional feature encoder
// over raw audio, the feature projection, SpecAugment (training), the positional convolution,
// the transformer encoder (post-LN "Wav2Vec2EncoderLayer" or pre-LN "stable layer norm"), dropout,
// lm_head, and the CTC loss. Explicit forward and backward over the op API; parameters in one
// ds_param_block in HF's state_dict order and names; the activations of a (batch, samples) shape
// in one arena. See docs/speech_model.md.
//
// Use:
//   ds_w2v_create(ctx, &cfg, &m);                  parameters zeroed (host); fill them from a
//                                                  checkpoint (by name, ds_w2v_param_name maps the
//                                                  two weight-norm spellings) or ds_w2v_init_weights
//   ds_w2v_to_device(ctx, &m, DS_F32);             on a CUDA context: parameters to the device
//                                                  (fp32 or DS_BF16; CPU: nothing); before planning the arena
//   ds_w2v_arena_bytes(ctx, &m, B, S, true, &n);   measure once per (batch, samples) shape
//   ds_arena_init_for(ctx, &arena, n);
//   per micro-batch: ds_w2v_forward(ctx, &m, &batch, true, rng_step++, &arena, &out);
//                    ds_w2v_backward(ctx, &m, 1.0 / accumulation_steps, &arena, hook);
//   eval/predict:    ds_w2v_forward(ctx, &m, &batch, false, 0, &arena, &out)   (labels optional)
#ifndef DS_W2V_H
#define DS_W2V_H

#include <stdbool.h>
#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/model_hooks.h"
#include "../../runtime/base/param_block.h"
#include "../common/transformer_layer.h"
#include "w2v_feature_encoder.h"
#include "w2v_pos_conv.h"

#define DS_W2V_MAX_CONV 16  // feature-encoder conv layers (HF: len(conv_dim); 7 in every released model)

typedef enum ds_w2v_feat_norm {
    DS_W2V_NORM_GROUP = 0,  // feat_extract_norm "group": GroupNorm(C, C) after the first conv only
    DS_W2V_NORM_LAYER,      // "layer": LayerNorm over channels after every conv
} ds_w2v_feat_norm;

// The fields of HF's Wav2Vec2Config (config.json) the model needs, by their HF names. The lead's
// loader fills it (models never parse configs); HF's defaults (Wav2Vec2Config()) are given by
// ds_w2v_config_default. feat_extract_activation and hidden_act must be "gelu" (the loader
// checks), add_adapter false, use_weighted_layer_sum false; other keys do not affect CTC.
typedef struct ds_w2v_config {
    int64_t vocab_size;           // vocab_size (lm_head rows)
    int64_t hidden;               // hidden_size
    int64_t layers;               // num_hidden_layers
    int64_t heads;                // num_attention_heads
    int64_t intermediate;         // intermediate_size
    int conv_layers;              // len(conv_dim) == len(conv_kernel) == len(conv_stride)
    int64_t conv_dim[DS_W2V_MAX_CONV], conv_kernel[DS_W2V_MAX_CONV], conv_stride[DS_W2V_MAX_CONV];
    bool conv_bias;               // conv_bias
    ds_w2v_feat_norm feat_extract_norm;
    int64_t num_conv_pos_embeddings;       // the positional conv's kernel (128)
    int64_t num_conv_pos_embedding_groups;  // and groups (16)
    bool do_stable_layer_norm;    // pre-LN encoder
    double layer_norm_eps;        // the encoder's and the feature projection's LayerNorms
    float hidden_dropout, activation_dropout, attention_dropout, feat_proj_dropout, final_dropout, layerdrop;
    double initializer_range;
    bool apply_spec_augment;
    double mask_time_prob;        // double as HF's Python floats: the span count rounds mask_prob * length / span
    int64_t mask_time_length, mask_time_min_masks;
    double mask_feature_prob;
    int64_t mask_feature_length, mask_feature_min_masks;
    int64_t pad_token_id;         // the CTC blank
    ds_ctc_reduction ctc_loss_reduction;  // "mean" or "sum" (HF's default: "sum")
    bool ctc_zero_infinity;
    // Not in config.json but in HF's pipeline: whether the model gets an attention_mask. HF's
    // Wav2Vec2FeatureExtractor returns one exactly when return_attention_mask is true
    // (preprocessor_config.json), which the released checkpoints set for feat_extract_norm
    // "layer" and not for "group" (wav2vec2-base zero-pads and sees no mask). With it: padded
    // frames are zeroed before the positional conv, attention ignores them, SpecAugment and the
    // CTC loss use each utterance's own frame count. Without it: the padded audio is audio, and
    // every utterance's CTC input length is the batch's frame count (as HF computes it).
    bool use_attention_mask;
    bool freeze_feature_encoder;  // model.freeze_feature_encoder(): the conv stack is DS_PARAM_FROZEN
} ds_w2v_config;

// HF's Wav2Vec2Config() defaults (wav2vec2-base's architecture), vocab_size 32,
// use_attention_mask false, freeze_feature_encoder false.
ds_w2v_config ds_w2v_config_default(void);

// One batch, host memory, row-major.
typedef struct ds_w2v_batch {
    int64_t B, S;                   // batch size, samples per row (the longest utterance, padded)
    const float *audio;             // (B, S) input_values (normalised as the feature extractor does); zero padding
    const int32_t *lengths;         // (B) samples of each utterance, in [1, S]; NULL: all S
    const int32_t *labels;          // (B, label_len) HF labels: -100 (and pad_token_id) are padding; or NULL
    int64_t label_len;
    // HF's mask_time_indices (B, T') (1 = replace the frame by masked_spec_embed), applied in any
    // mode instead of drawing SpecAugment's time masks; NULL: drawn when training. For tests and
    // for callers that draw masks themselves.
    const int32_t *mask_time_indices;
} ds_w2v_batch;

// Output length of the conv stack for `samples` input samples (HF's _get_feat_extract_output_lengths):
// L <- floor((L - kernel) / stride) + 1 per layer; <= 0 when the input is shorter than the
// receptive field.
int64_t ds_w2v_output_frames(const ds_w2v_config *cfg, int64_t samples);

// Parameter indices of the block's parts (HF state_dict order).
typedef struct ds_w2v_layout {
    int masked_spec_embed;   // "wav2vec2.masked_spec_embed", or -1 (HF creates it only when
                             // mask_time_prob > 0 or mask_feature_prob > 0)
    int feature_encoder;     // first conv tensor (ds_w2v_fe_* tensors follow, see w2v_feature_encoder.h)
    int feature_encoder_end; // one past its last tensor
    int projection;          // feature_projection.layer_norm.weight, .bias, projection.weight, .bias
    int pos_conv;            // encoder.pos_conv_embed.conv.bias, weight g (original0), v (original1)
    int encoder_norm;        // encoder.layer_norm.weight, .bias
    int first_layer;         // encoder.layers.0.* (layer i: + i * DS_TL_PARAM_COUNT)
    int lm_head;             // lm_head.weight, .bias
} ds_w2v_layout;

// What a forward pass saved for backward: views into its arena.
typedef struct ds_w2v_saved {
    bool valid, training, has_labels;
    uint64_t rng_step;
    int64_t B, S, T;                 // T: frames per row after the conv stack
    int32_t *frames_host;            // (B) CTC input lengths (host; see ds_w2v_output)
    int32_t *valid_frames_host;      // (B) frames of each utterance's own samples
    bool *layer_dropped;             // [layers] LayerDrop decisions of this pass
    ds_tensor audio;                 // (B, 1, S) F32 staged input
    ds_tensor audio_act;             // (B, 1, S) the feature encoder's input: audio, or its BF16 copy
    ds_tensor key_mask;              // (B, T) I32; absent without use_attention_mask
    ds_tensor time_mask, feature_mask;  // (B, T), (B, C) I32 SpecAugment masks; absent when not applied
    ds_w2v_fe_acts fe;
    ds_tensor extract;               // (B*T, C) conv features, time-major
    ds_tensor proj_norm, proj_mean, proj_rstd;  // (B*T, C), (B*T), (B*T): feature_projection.layer_norm
    ds_tensor hidden;                // (B*T, H) projection (+ dropout, + SpecAugment, + padding zeroed)
    ds_w2v_pos_acts pos;
    ds_tensor enc_in;                // (B*T, H) hidden + positional embedding
    ds_tensor enc_norm, enc_mean, enc_rstd;  // post-LN: encoder.layer_norm before the layers
    ds_tensor enc_drop;              // (B*T, H) the first layer's input (after dropout)
    ds_tl_acts *layers;              // [layers]
    ds_tensor last_norm, last_mean, last_rstd;  // pre-LN: encoder.layer_norm after the layers
    ds_tensor final;                 // (B*T, H) after final_dropout: lm_head's input
    ds_tensor logits;                // (B*T, V) F32 (the model's output)
    ds_tensor logits_act;            // (B*T, V) lm_head's output: logits, or BF16 before its F32 copy
    ds_tensor log_probs;             // (B*T, V) F32 log_softmax (the loss's input)
    ds_tensor targets, input_lengths, target_lengths;  // (B, Lmax) I32 compacted labels, (B), (B)
    ds_tensor losses, loss, alpha, alpha_exp;          // the CTC op's outputs
} ds_w2v_saved;

typedef struct ds_w2v_model {
    ds_w2v_config cfg;
    ds_param_block params;
    ds_w2v_layout at;
    ds_w2v_saved saved;
    // Activation dtype (ds_w2v_to_device): F32, or BF16 mixed precision on CUDA (fp32 master weights
    // and gradients, the block's bf16 working copy read by the GEMMs and convs; norms' statistics,
    // log-softmax and CTC in fp32).
    ds_dtype act_dtype;
    int32_t *host_scratch;   // (host_scratch_cap) I32 host: label compaction, masks, lengths
    size_t host_scratch_cap;
    float *host_logits;      // (host_logits_cap) F32 host, CUDA only: the logits downloaded per forward
    size_t host_logits_cap;
} ds_w2v_model;

typedef struct ds_w2v_output {
    ds_tensor logits;          // (B, T, V) F32, valid until the next forward: a host view into the arena
                               // (CPU), into the model's download buffer (CUDA eval), or the device
                               // tensor in the arena (CUDA training: not downloaded)
    const int32_t *frames;     // (B) the CTC input length of each row: its own frame count with
                               // use_attention_mask, else T for every row (HF's input_lengths)
    const int32_t *valid_frames;  // (B) frames of each utterance's own samples (for decoding)
    int64_t T;
    bool has_loss;
    float loss;                // HF's CTC loss (ctc_loss_reduction, ctc_zero_infinity)
    // How the trainer weighs the loss across micro-batches and ranks (ds_ctc_loss_weight): the
    // batch size for "mean", 1 for "sum" (loss_is_sum: a sum, which adds up as it is).
    double loss_weight;
    bool loss_is_sum;
    ds_tensor loss_term;       // with labels: the loss as a one-element F32 tensor on the model's
                               // device (an arena view, valid until the next forward)
} ds_w2v_output;

// Philox offsets: (rng_step << 20) + site. Sites: 0 feature projection dropout, 1 encoder
// dropout, 2 final dropout, 3 LayerDrop draws, 4 SpecAugment time masks, 5 feature masks,
// 8 + 4i .. 11 + 4i layer i's four dropout sites. Distinct while 4 layers + 12 < 2^20.
uint64_t ds_w2v_rng_offset(uint64_t rng_step, uint64_t site);

// Validates cfg and creates the model with every parameter and gradient zeroed.
ds_status ds_w2v_create(ds_context *ctx, const ds_w2v_config *cfg, ds_w2v_model *m);

// Moves the parameters to ctx's device (models/common/device_memory.h) with activations of `act`.
// act F32: the pass computes in fp32 on either backend (every speech op has a CUDA body,
// docs/cuda_ops_speech.md). act BF16 (CUDA only; the CPU computes in fp32): mixed precision as
// DeepLab's and BERT's: fp32 master weights, gradients and optimizer state, a bf16 working copy of
// the block that the convs and GEMMs read, bf16 activations through the feature encoder, the
// projection, the positional conv, the encoder layers and lm_head; fp32 where precision needs it:
// the norms' statistics (group and layer norm), the attention softmax's statistics, and the
// logits, log-softmax and CTC loss (the bf16 logits are widened to fp32 first, the CTC gradient
// rounded to bf16 for lm_head's backward). On a CPU context nothing moves. Call it after loading or initialising the weights (ds_w2v_init_weights writes
// the host arrays) and before planning the arena (the conv workspaces depend on the backend);
// the arena then comes from ds_arena_init_for. Forward uploads the batch and downloads the
// loss (a synchronisation per forward) and, outside training, the logits; the host parameter arrays are current
// only after ds_param_block_download.
ds_status ds_w2v_to_device(ds_context *ctx, ds_w2v_model *m, ds_dtype act);
void ds_w2v_free(ds_w2v_model *m);

// The block's name for a checkpoint tensor name: the two spellings of the positional conv's
// weight norm, "...pos_conv_embed.conv.weight_g"/"weight_v" (torch.nn.utils.weight_norm, the
// released checkpoints) and "...conv.parametrizations.weight.original0"/"original1"
// (parametrizations.weight_norm, what transformers 5 saves), both map to the latter; every other
// name maps to itself. Returns the block index, or -1 when the model has no such tensor.
int ds_w2v_param_index(const ds_w2v_model *m, const char *checkpoint_name);
// The same as the weight loader's name callback (runtime/io/weight_loader.h, ds_weight_map.model_name
// with user = the model): writes the block's name of checkpoint_name into dst and returns true, or
// returns false when the model has no such tensor (a pre-training checkpoint's quantizer and
// project_* heads, for example: ignored).
bool ds_w2v_block_name(const ds_w2v_model *m, const char *checkpoint_name, char *dst, size_t cap);
// The legacy spelling (weight_g / weight_v) of a block name, for exporting to older tools: writes
// into buf (cap bytes) and returns it; other names are copied unchanged.
const char *ds_w2v_legacy_name(const char *name, char *buf, size_t cap);
// HF Trainer's weight-decay rule (get_decay_parameter_names): no decay for names containing
// "bias", "layernorm", "rmsnorm", a ".norm." component or a "_norm" suffix of a component.
bool ds_w2v_decays(const char *name);

// Initial values as HF's _init_weights, from Philox (ctx->seed, DS_W2V_INIT_OFFSET + i) for
// tensor i: Linear ~ N(0, initializer_range) with zero bias; LayerNorm/GroupNorm 1 and 0; conv
// weights Kaiming-normal (std sqrt(2 / fan_in)) with biases U(-k, k), k = sqrt(groups / (in K));
// feature_projection.projection U(-k, k), k = 1/sqrt(in); the positional conv's v ~ N(0,
// 2 sqrt(1 / (K in))) with g = ||v|| per tap (weight_norm's initialisation) and bias 0;
// masked_spec_embed U(0, 1). They write the host arrays.
#define DS_W2V_INIT_OFFSET (1ull << 61)
void ds_w2v_init_param(const ds_context *ctx, ds_w2v_model *m, int i);
void ds_w2v_init_weights(const ds_context *ctx, ds_w2v_model *m);

// Bytes of arena a forward (and, when with_backward, the backward after it) of a (B, S) batch
// carves; covers every smaller B and S, with or without labels of up to max_label_len.
ds_status ds_w2v_arena_bytes(ds_context *ctx, const ds_w2v_model *m, int64_t B, int64_t S, int64_t max_label_len,
                             bool with_backward, size_t *bytes);

// Forward pass. Starts the arena over, validates and stages the batch, computes the logits and,
// with labels, the CTC loss. training: dropout, LayerDrop and SpecAugment on; rng_step selects
// their draws (give each training forward its own). Labels: per row, the values other than -100
// and pad_token_id, in order, are the targets (HF's ForCTCLoss); any other value outside
// [0, vocab_size) is an error.
ds_status ds_w2v_forward(ds_context *ctx, ds_w2v_model *m, const ds_w2v_batch *batch, bool training, uint64_t rng_step,
                         ds_arena *arena, ds_w2v_output *out);

// A training forward that leaves the loss on the model's device (out->loss_term; out->loss stays
// NaN): nothing is downloaded, so nothing waits for the device.
ds_status ds_w2v_forward_train(ds_context *ctx, ds_w2v_model *m, const ds_w2v_batch *batch, uint64_t rng_step,
                               ds_arena *arena, ds_w2v_output *out);

// Backward of the last forward (which must have had labels) on the same arena: the gradients of
// dloss * loss are ADDED into m->params.grads (frozen tensors get none), with the grad hook's
// ready(from) called after the head, each encoder layer, the positional conv, the feature
// projection and the feature encoder (hook may be NULL).
ds_status ds_w2v_backward(ds_context *ctx, ds_w2v_model *m, double dloss, ds_arena *arena, const ds_grad_hook *hook);

// Zeroes the gradients.
ds_status ds_w2v_zero_grads(ds_w2v_model *m);

#endif
