// Wav2Vec2ForCTC's internals shared by its files (w2v.c, w2v_batch.c, w2v_pass.c); not an API.
#ifndef DS_W2V_INTERNAL_H
#define DS_W2V_INTERNAL_H

#include "w2v.h"

// The feature encoder's dims of a config.
ds_w2v_fe_dims ds_w2v_fe_dims_of(const ds_w2v_config *c);

// Wav2Vec2's names and order of an encoder layer's tensors.
const ds_tl_names *ds_w2v_layer_names(void);

// Checks a batch against the config: shapes, lengths, labels (HF's ForCTCLoss rules), that every
// utterance keeps at least one frame after the conv stack, and that an explicit time mask comes
// with masked_spec_embed. T: the batch's frame count.
ds_status ds_w2v_check_batch(ds_err *err, const ds_w2v_model *m, const ds_w2v_batch *b, int64_t T);

// Per-utterance targets of a batch's labels: the values other than -100 and pad_token_id, in
// order. Writes target_lengths (B) and, when targets is non-NULL, targets (B, S) (zero padded);
// returns the longest target.
int64_t ds_w2v_compact_labels(const ds_w2v_model *m, const ds_w2v_batch *b, int64_t S, int32_t *targets,
                              int32_t *target_lengths);

// Host scratch of at least n int32 (grown as needed); NULL when out of memory.
int32_t *ds_w2v_host_scratch(ds_w2v_model *m, size_t n);

// (B, R, C) -> (B, C, R) through the head permutation (D = 1); x and y must not overlap.
ds_status ds_w2v_transpose(ds_context *ctx, const ds_tensor *x, const ds_tensor *y, int64_t B, int64_t R, int64_t C);

#endif
