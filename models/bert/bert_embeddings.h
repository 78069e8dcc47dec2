// BERT's embeddings (Hugging Face BertEmbeddings): word + token type + position embeddings,
// summed in that order, then LayerNorm and dropout. Explicit forward and backward over the op
// API; the parameters are 5 consecutive tensors of a ds_param_block, activations live in an arena.
#ifndef DS_BERT_EMBEDDINGS_H
#define DS_BERT_EMBEDDINGS_H

#include <stdint.h>

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"
#include "../../runtime/base/param_block.h"

typedef struct ds_bert_embeddings_dims {
    int64_t vocab, max_position, type_vocab, hidden;
    double ln_eps;
    int64_t pad_token_id;  // the word-embedding row that gets no gradient (padding_idx); -1: none
    float dropout;         // hidden_dropout_prob when training, 0 in eval
    ds_dtype act;          // activation dtype: F32 (0, the default) or BF16 (CUDA mixed precision);
                           // the tables and LayerNorm parameters are read as F32 masters either way
} ds_bert_embeddings_dims;

// Parameter order within the embeddings' slice of the block (HF names after "embeddings.").
enum { DS_BE_WORD, DS_BE_POS, DS_BE_TYPE, DS_BE_LN_W, DS_BE_LN_B, DS_BE_PARAM_COUNT };

// Appends the 5 specs, named "<prefix>word_embeddings.weight" etc., to specs[*count...].
void ds_bert_embeddings_specs(const ds_bert_embeddings_dims *d, const char *prefix, ds_param_spec *specs, int *count);

// The token indices of one batch, N = B*T tokens, I32 on the arena's device.
typedef struct ds_bert_token_ids {
    ds_tensor input_ids;       // (N) in [0, vocab)
    ds_tensor token_type_ids;  // (N) in [0, type_vocab)
    ds_tensor position_ids;    // (N) in [0, max_position)
} ds_bert_token_ids;

typedef struct ds_bert_embeddings_acts {
    ds_tensor sum;         // (N, H) word + type + position: the LayerNorm input (dims.act)
    ds_tensor mean, rstd;  // (N) LayerNorm statistics, F32
    ds_tensor y;           // (N, H) dropout(LayerNorm(sum)): the output
} ds_bert_embeddings_acts;

// Forward for N tokens; dropout draws from stream (ctx->seed, dropout_offset). Tensors are
// carved from `arena`; with a measuring arena nothing runs and only the plan grows.
ds_status ds_bert_embeddings_forward(ds_context *ctx, const ds_bert_embeddings_dims *d, const ds_param_block *pb,
                                     int first_param, const ds_bert_token_ids *ids, int64_t N,
                                     uint64_t dropout_offset, ds_arena *arena, ds_bert_embeddings_acts *acts);

// Backward from dy (N, H): gradients added into the three tables and the LayerNorm parameters
// (the word embeddings' pad row excepted, as torch's padding_idx). Temporaries from `arena`.
ds_status ds_bert_embeddings_backward(ds_context *ctx, const ds_bert_embeddings_dims *d, const ds_param_block *pb,
                                      int first_param, const ds_bert_embeddings_acts *acts,
                                      const ds_bert_token_ids *ids, const ds_tensor *dy, uint64_t dropout_offset,
                                      ds_arena *arena);

#endif
