// Batch checks and staging for models/bert/bert.c's passes: what a user's data can get wrong is
// reported here, with the row and column, before any op runs.
#ifndef DS_BERT_BATCH_H
#define DS_BERT_BATCH_H

#include "bert.h"

// Checks shapes and every index of `b` against `cfg`: 1 <= T <= max_position; input ids in
// [0, vocab_size); token types in [0, type_vocab_size); mask values 0 or 1, at least one token
// per row (a row of padding only has no defined attention); labels as the problem type needs
// (class ids in [0, num_labels) or -100 for single-label, finite label_values otherwise).
ds_status ds_bert_check_batch(ds_err *err, const ds_bert_config *cfg, const ds_bert_batch *b);

// Carves the batch's copies (ids, token types, positions 0..T-1, mask, labels) from `arena`
// into s and fills them from `b` unless the arena is measuring (then b's arrays are not read):
// memcpy on the CPU, uploads on CUDA (b's arrays are host memory either way). label_values are
// stored in `act` (the logits' dtype: the pointwise losses take x and target of one dtype; bf16
// targets round as torch's .to(torch.bfloat16)). Every copy is carved whether or not the batch
// has it, so that the plan does not depend on it.
ds_status ds_bert_stage_batch(ds_context *ctx, const ds_bert_config *cfg, ds_dtype act, const ds_bert_batch *b,
                              ds_arena *arena, ds_bert_saved *s);

#endif
