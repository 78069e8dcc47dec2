#include "w2v_spec_augment.h"

#include <string.h>

#include "../../runtime/base/check.h"
#include "../../runtime/base/philox.h"

// HF's compute_num_masked_span.
static int64_t spans_for(int64_t length, int64_t L, double mask_prob, int64_t mask_length, int64_t min_masks,
                         double epsilon) {
    int64_t n = (int64_t)(mask_prob * (double)length / (double)mask_length + epsilon);
    if (n < min_masks) n = min_masks;
    if (n * mask_length > L) n = L / mask_length;
    if (length - (mask_length - 1) < n) n = length - (mask_length - 1) > 0 ? length - (mask_length - 1) : 0;
    return n;
}

ds_status ds_w2v_compute_mask(int64_t B, int64_t L, double mask_prob, int64_t mask_length, int64_t min_masks,
                              const int32_t *lengths, uint64_t seed, uint64_t offset, int32_t *mask, int32_t *scratch,
                              const char *what, ds_err *err) {
    DS_REQUIRE(err, mask_length >= 1, DS_ERR_INVALID_ARG, "SpecAugment %s: mask length %lld must be >= 1", what,
               (long long)mask_length);
    DS_REQUIRE(err, mask_length <= L, DS_ERR_INVALID_ARG,
               "SpecAugment %s: mask length %lld exceeds the sequence length %lld (HF raises the same error); use "
               "longer audio or a shorter mask length", what, (long long)mask_length, (long long)L);
    memset(mask, 0, sizeof(int32_t) * (size_t)(B * L));
    const double epsilon = (double)ds_philox_uniform(seed, offset, 0);
    if (spans_for(L, L, mask_prob, mask_length, min_masks, epsilon) == 0) return DS_OK;
    for (int64_t b = 0; b < B; b++) {
        const int64_t length = lengths ? lengths[b] : L;
        const int64_t n = spans_for(length, L, mask_prob, mask_length, min_masks, epsilon);
        int32_t *row = mask + b * L;
        if (n == 0) {  // HF pads with the dummy index L - 1: that position is masked
            row[L - 1] = 1;
            continue;
        }
        // n distinct starts from [0, choices): the first n entries of a partial Fisher-Yates shuffle.
        const int64_t choices = length - (mask_length - 1);
        for (int64_t i = 0; i < choices; i++) scratch[i] = (int32_t)i;
        for (int64_t k = 0; k < n; k++) {
            const uint64_t u = ds_philox_u32(seed, offset, 1 + (uint64_t)(b * L + k));
            const int64_t j = k + (int64_t)((u * (uint64_t)(choices - k)) >> 32);
            const int32_t start = scratch[j];
            scratch[j] = scratch[k], scratch[k] = start;
            for (int64_t o = 0; o < mask_length; o++) row[start + o < L ? start + o : L - 1] = 1;
        }
    }
    return DS_OK;
}
