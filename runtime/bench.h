// `downstream bench`: times a fine-tuning step (forward, backward, AdamW) of a stack of BERT
// encoder layers on random tokens' hidden states, at a given batch and length, on the CPU
// backend. Until the full BERT model lands this measures the encoder stack, which carries
// nearly all of BERT's FLOPs; the embedding and classifier heads are not included.
#ifndef DS_BENCH_H
#define DS_BENCH_H

#include <stdint.h>

#include "../models/bert_layer.h"

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

#endif
