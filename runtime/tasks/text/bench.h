// `downstream bench`: times a fine-tuning step (forward, backward, AdamW) of a stack of BERT
// encoder layers on random tokens' hidden states, at a given batch and length, on the CPU
// backend. Until the full BERT model lands this measures the encoder stack, which carries
// nearly all of BERT's FLOPs; the embedding and classifier heads are not included.
#ifndef DS_BENCH_H
#define DS_BENCH_H

#include <stdint.h>

#include "../../../models/bert/bert_layer.h"

typedef struct ds_bench_opts {
    ds_bert_layer_dims dims;
    int64_t layers, batch, seq_len;
    int warmup, repeats;
} ds_bench_opts;

typedef struct ds_bench_result {
    double step_ms_median, step_ms_p90;
    double samples_per_s, tokens_per_s;
    double model_gflops_per_step;  // forward + backward matmul FLOPs (3x forward)
    double achieved_gflops;        // model FLOPs / median step time
    double first_step_s;           // from process start to the end of the first step
    int64_t params;                // parameters in the block
    uint64_t peak_mem_bytes;       // parameter, gradient and moment blocks + activation arena
    uint64_t arena_bytes;          // activation arena planned for this (batch, length)
} ds_bench_result;

// process_start_s: ds_now_seconds() value taken at process start (for first_step_s).
ds_status ds_bench_run(ds_context *ctx, const ds_bench_opts *o, double process_start_s, ds_bench_result *r);

// ---- the whole model on a device (runtime/tasks/text/bench_bert.c) ----------------------------------------
// A fine-tuning step of BertForSequenceClassification (models/bert/bert.h) as the trainer runs it:
// forward in training mode (dropout 0.1), backward, the global-norm clip and one AdamW step, and
// the gradients zeroed, on random token ids (no padding, no attention mask) with random labels,
// on the context's device (CUDA; the CPU works too, slowly). The host batch is made once, so
// data_wait_frac is 0 by construction (no data loading is timed).
//
// FLOPs of one step (the basis of mfu), counting 2 per multiply-add, matmuls only:
//   forward  = 2 * B*T * L * (4*H*H + 2*H*I)     the encoder's linears (Q, K, V, output, FFN in/out)
//            + 4 * L * B * T*T * H               attention: Q K^T and P V over all heads (H = heads * head_dim)
//            + 2 * B * (H*H + H*C)               pooler and classifier, on the [CLS] rows only
//   step     = 3 * forward                       backward computes dX and dW: twice the forward
// i.e. 6 * (params in the encoder's matmuls) * tokens + 12 * L * B * T*T * H + 6 * B * (H*H + H*C).
// Embedding lookups, LayerNorm, softmax, GELU, dropout and AdamW are not counted (as is usual for
// MFU). The same formula is in scripts/bench/torch_bert_step.py.
typedef struct ds_bench_bert_opts {
    int64_t vocab, hidden, layers, heads, intermediate, num_labels;
    int64_t batch, seq_len;
    int warmup, repeats;
    ds_dtype act;  // F32 or BF16 (CUDA)
} ds_bench_bert_opts;

typedef struct ds_bench_bert_result {
    double step_ms_median, step_ms_p90;
    double samples_per_s, tokens_per_s;
    double flops_per_step;
    double achieved_flops;   // flops_per_step / median step time
    double first_step_s;     // from process start to the end of the first step
    int64_t params;          // parameters of the model
    uint64_t peak_mem_bytes; // CUDA: the device's peak of live allocations (ds_gpu_peak_bytes); CPU: blocks + arena
    uint64_t arena_bytes;
    double last_loss;        // the loss of the last step (finite: a sanity check)
} ds_bench_bert_result;

double ds_bench_bert_step_flops(const ds_bench_bert_opts *o);
ds_status ds_bench_bert_run(ds_context *ctx, const ds_bench_bert_opts *o, double process_start_s,
                            ds_bench_bert_result *r);

#endif
