// BertForSequenceClassification (Hugging Face semantics): embeddings (word + position +
// token type, LayerNorm, dropout), N encoder layers (bert_layer.h), pooler (dense + tanh on the
// [CLS] position), dropout, classifier, and the loss of the problem type. Explicit forward and
// backward over the op API; parameters in one ds_param_block in HF's order and names; the
// activations of a (batch, length) shape in one arena.
//
// Use:
//   ds_bert_create(ctx, &cfg, &m);                 parameters zeroed (host); fill them from a
//                                                  checkpoint (runtime/tasks/text/hf_bert.h) or ds_bert_init_weights
//   ds_bert_to_device(ctx, &m, DS_BF16);           on a CUDA context: parameters to the device
//   ds_bert_arena_bytes(ctx, &m, B, T, true, &n);  measure once per (batch, length) shape
//   ds_arena_init_for(ctx, &arena, n);             (models/common/device_memory.h; ds_arena_init_cpu on the CPU)
//   per micro-batch: ds_bert_forward(ctx, &m, &batch, true, rng_step++, &arena, &out);
//                    ds_bert_backward(ctx, &m, 1.0 / accumulation_steps, &arena);
//   eval/predict:    ds_bert_forward(ctx, &m, &batch, false, 0, &arena, &out)   (labels optional)
#ifndef DS_BERT_H
#define DS_BERT_H

#include <stdbool.h>
#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/model_hooks.h"
#include "../../runtime/base/problem_type.h"
#include "../../runtime/base/param_block.h"
#include "bert_embeddings.h"
#include "bert_head.h"
#include "bert_layer.h"
#include "bert_loss.h"
#include "../common/device_memory.h"

typedef struct ds_bert_config {
    int64_t vocab_size, hidden, layers, heads, intermediate, max_position, type_vocab;
    double ln_eps;              // layer_norm_eps
    float hidden_dropout;       // hidden_dropout_prob: embeddings, attention output and FFN output
    float attn_dropout;         // attention_probs_dropout_prob
    float classifier_dropout;   // classifier_dropout; < 0 stands for HF's null: use hidden_dropout
    double initializer_range;   // std of the normal initialisation of new weights
    int64_t num_labels;
    ds_problem_type problem_type;
    int64_t pad_token_id;       // padding_idx of the word embeddings (no gradient); -1: none
} ds_bert_config;

// One batch, host memory, row-major (also for a model on CUDA: the forward pass uploads it).
typedef struct ds_bert_batch {
    int64_t B, T;
    const int32_t *input_ids;       // (B, T)
    const int32_t *token_type_ids;  // (B, T), may be NULL (all 0)
    const int32_t *attention_mask;  // (B, T), 1 = token, 0 = padding; may be NULL (all tokens)
    const int32_t *labels;          // (B) single-label class ids (-100: ignored), or NULL
    const float *label_values;      // (B, num_labels) multi-hot (multi-label) or targets (regression), or NULL
} ds_bert_batch;

// What a forward pass saved for backward: views into its arena.
typedef struct ds_bert_saved {
    bool valid;                  // a forward ran and its activations are in the arena
    bool training;               // dropout was on
    bool has_labels;             // the loss was computed
    uint64_t rng_step;
    int64_t B, T;
    ds_bert_token_ids ids;       // (B*T) I32 copies: input ids, token types, positions 0..T-1
    ds_tensor key_mask;          // (B, T) I32 copy of the attention mask; absent when the batch had none
    ds_bert_labels labels;       // copies of the batch's labels
    ds_bert_embeddings_acts emb;
    ds_bert_layer_acts *layers;  // [cfg.layers]
    ds_bert_head_acts head;
    ds_bert_loss_acts loss;
} ds_bert_saved;

typedef struct ds_bert_model {
    ds_bert_config cfg;
    ds_param_block params;  // every tensor, HF order and names ("bert.embeddings.word_embeddings.weight", ...)
    int first_layer_param;  // index of layer 0's first tensor in `params` (layer i: + i * DS_BL_PARAM_COUNT)
    int first_head_param;   // index of "bert.pooler.dense.weight"; the classifier follows the pooler
    ds_bert_saved saved;
    // Where it runs (ds_bert_to_device): activations F32 (CPU, and CUDA fp32) or BF16 (CUDA mixed
    // precision: fp32 master parameters, gradients and moments, a bf16 weight copy for linears).
    ds_dtype act_dtype;
    float *host_out;        // (host_out_cap) F32 host: a CUDA model's logits, downloaded per forward
    size_t host_out_cap;    // elements
} ds_bert_model;

typedef struct ds_bert_output {
    ds_tensor logits;  // (B, num_labels) F32 host: a view into the arena on the CPU, into the model's
                       // download buffer on CUDA (widened from bf16 in mixed precision); valid until
                       // the next forward
    bool has_loss;     // the batch had labels
    float loss;        // the problem type's loss (HF semantics); NaN when every class id is -100
} ds_bert_output;

// The Philox offset of a dropout site: (rng_step << 20) + site, sites being 0 for the
// embeddings, 1 + 3i .. 3 + 3i for layer i (attention probabilities, attention output, FFN
// output) and 1 + 3 * layers for the classifier. Distinct for every site, layer and step as
// long as 3 * layers + 2 < 2^20 (checked by ds_bert_create).
uint64_t ds_bert_dropout_offset(uint64_t rng_step, uint64_t site);

// HF's effective classifier dropout: classifier_dropout, or hidden_dropout when null (< 0).
float ds_bert_classifier_dropout(const ds_bert_config *cfg);

// Validates cfg and creates the model with every parameter and gradient zeroed. Parameters:
// "bert.embeddings.{word_embeddings,position_embeddings,token_type_embeddings}.weight",
// "bert.embeddings.LayerNorm.{weight,bias}", "bert.encoder.layer.{i}.<16 layer tensors>",
// "bert.pooler.dense.{weight,bias}", "classifier.{weight,bias}".
ds_status ds_bert_create(ds_context *ctx, const ds_bert_config *cfg, ds_bert_model *m);
void ds_bert_free(ds_bert_model *m);

// Moves the parameters to ctx's device (models/common/device_memory.h) with activations of `act`: F32,
// or BF16 (CUDA only: then a bf16 working copy of every parameter is kept on the device, which
// AdamW rewrites after each update). On a CPU context only F32 is accepted and nothing moves.
// Call it after loading the weights and before planning the arena (the plan depends on `act`).
ds_status ds_bert_to_device(ds_context *ctx, ds_bert_model *m, ds_dtype act);

// Initial values as HF's _init_weights: Linear and Embedding weights ~ Normal(0,
// initializer_range) (the word embeddings' pad row then zeroed), biases 0, LayerNorm weight 1 and
// bias 0. Normals come from the Philox stream (ctx->seed, DS_BERT_INIT_OFFSET + i) for
// parameter i, so a tensor's initial values depend only on the seed and its place in the block.
#define DS_BERT_INIT_OFFSET (1ull << 62)
// They write the host arrays: call them before ds_bert_to_device (or upload afterwards).
void ds_bert_init_param(const ds_context *ctx, ds_bert_model *m, int i);
void ds_bert_init_weights(const ds_context *ctx, ds_bert_model *m);

// Bytes of arena that a forward (and, when with_backward, the backward after it) of a (B, T)
// batch carves, measured by running the same carving without memory. Covers every smaller
// B and T too, with or without labels.
ds_status ds_bert_arena_bytes(ds_context *ctx, const ds_bert_model *m, int64_t B, int64_t T, bool with_backward,
                              size_t *bytes);

// Forward pass. Starts the arena over (ds_arena_reset), validates the batch (ids in range,
// T <= max_position, masks 0/1 with at least one token per row, labels as the problem type
// needs), copies it into the arena, and computes logits and, when the batch has labels, the
// loss. training: dropout on (HF's model.train()). rng_step selects the dropout masks: give each
// training forward (each micro-batch of each step) its own value; it does nothing in eval.
// On CUDA the batch is uploaded and the logits and loss downloaded; the call returns after a
// device synchronisation, so the batch's host arrays (pinned or not) may be reused at once.
ds_status ds_bert_forward(ds_context *ctx, ds_bert_model *m, const ds_bert_batch *batch, bool training,
                          uint64_t rng_step, ds_arena *arena, ds_bert_output *out);

// A training forward (training = true, labels required) that leaves the loss where it was
// computed: *loss is the (1) F32 loss tensor on the model's device (an arena view, valid until the
// next forward), or a tensor without data when the batch has no labels. Nothing is downloaded, so
// on CUDA nothing waits for the device; the logits stay in the arena (the trainer does not read
// them). The backward is ds_bert_backward's, as after ds_bert_forward.
ds_status ds_bert_forward_train(ds_context *ctx, ds_bert_model *m, const ds_bert_batch *batch, uint64_t rng_step,
                                ds_arena *arena, ds_tensor *loss);

// Backward of the last forward (which must have had labels), on the same arena: every
// parameter's gradient of dloss * loss is ADDED into m->params.grads, so that micro-batches
// accumulate (pass dloss = 1 / accumulation steps, as HF's Trainer scales the loss). Zero the
// gradients with ds_bert_zero_grads after each optimizer step.
ds_status ds_bert_backward(ds_context *ctx, ds_bert_model *m, double dloss, ds_arena *arena);

// The grad hook (runtime/base/model_hooks.h): after the classifier and pooler, after each encoder
// layer (last to first) and after the embeddings, ready(user, from) says that params.grads[from,
// total) are final (the block is laid out embeddings, layers, head, and backward runs the other way).

// ds_bert_backward with a hook (NULL: none).
ds_status ds_bert_backward_hooked(ds_context *ctx, ds_bert_model *m, double dloss, ds_arena *arena,
                                  const ds_grad_hook *hook);

// Zeroes the gradients where they live (on CUDA an asynchronous memset on the stream of the
// context the block was moved with; a failure is reported there and by the next sync).
ds_status ds_bert_zero_grads(ds_bert_model *m);

#endif
