// SpecAugment's mask drawing (HF's _compute_mask_indices), with Philox instead of numpy's global
// RNG. The semantics are HF's: one epsilon per call for the probabilistic rounding of the span
// count; per row, the number of spans int(mask_prob * length / mask_length + epsilon), at least
// min_masks, at most what fits; span starts drawn without replacement from
// [0, length - mask_length + 1); spans clipped at the sequence end; a row too short for any span
// masks only the last position of the (padded) sequence when other rows have spans (HF's dummy
// index). The draws cannot equal numpy's: epsilon is a 24-bit uniform (numpy: 53 bits) and the
// starts come from a partial Fisher-Yates shuffle (numpy's choice permutes differently).
//   stream (seed, offset): index 0 is epsilon; row b's k-th start uses index 1 + b * L + k.
#ifndef DS_W2V_SPEC_AUGMENT_H
#define DS_W2V_SPEC_AUGMENT_H

#include <stdint.h>

#include "../../runtime/base/status.h"

// mask (B, L) I32 host out (1 = masked). lengths (B): each row's own length (HF's attention_mask
// sum) or NULL (all L). scratch: (L) I32 host. Fails as HF does when mask_length is not in [1, L].
ds_status ds_w2v_compute_mask(int64_t B, int64_t L, double mask_prob, int64_t mask_length, int64_t min_masks,
                              const int32_t *lengths, uint64_t seed, uint64_t offset, int32_t *mask, int32_t *scratch,
                              const char *what, ds_err *err);

#endif
