// Wav2Vec2ForCTC's batch checks and label handling.
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "w2v_internal.h"

// A label HF's ForCTCLoss drops: -100 (ignore_index) and the blank (pad_token_id).
static bool is_padding(const ds_w2v_model *m, int32_t v) { return v == -100 || v == m->cfg.pad_token_id; }

ds_status ds_w2v_check_batch(ds_err *err, const ds_w2v_model *m, const ds_w2v_batch *b, int64_t T) {
    const ds_w2v_config *c = &m->cfg;
    DS_REQUIRE(err, b->B >= 1 && b->S >= 1, DS_ERR_INVALID_ARG, "wav2vec2 batch: shape (%lld, %lld) is empty",
               (long long)b->B, (long long)b->S);
    DS_REQUIRE(err, b->audio != NULL, DS_ERR_INVALID_ARG, "wav2vec2 batch: audio missing");
    DS_REQUIRE(err, T >= 1, DS_ERR_INVALID_ARG,
               "wav2vec2 batch: %lld samples are shorter than the feature encoder's receptive field (no frame); pad "
               "or drop such short audio", (long long)b->S);
    for (int64_t r = 0; b->lengths && r < b->B; r++) {
        DS_REQUIRE(err, b->lengths[r] >= 1 && b->lengths[r] <= b->S, DS_ERR_INVALID_ARG,
                   "wav2vec2 batch: lengths[%lld] = %d must lie in [1, %lld]", (long long)r, (int)b->lengths[r],
                   (long long)b->S);
        DS_REQUIRE(err, !c->use_attention_mask || ds_w2v_output_frames(c, b->lengths[r]) >= 1, DS_ERR_INVALID_ARG,
                   "wav2vec2 batch: utterance %lld has %d samples, shorter than the feature encoder's receptive "
                   "field (no frame); drop such short audio", (long long)r, (int)b->lengths[r]);
    }
    if (b->labels) {
        DS_REQUIRE(err, b->label_len >= 0, DS_ERR_INVALID_ARG, "wav2vec2 batch: label_len = %lld is negative",
                   (long long)b->label_len);
        for (int64_t i = 0; i < b->B * b->label_len; i++) {
            const int32_t v = b->labels[i];
            DS_REQUIRE(err, is_padding(m, v) || (v >= 0 && v < c->vocab_size), DS_ERR_INVALID_ARG,
                       "wav2vec2 batch: labels[%lld][%lld] = %d is neither a token of [0, vocab_size = %lld) nor "
                       "padding (-100)", (long long)(i / b->label_len), (long long)(i % b->label_len), (int)v,
                       (long long)c->vocab_size);
        }
    }
    if (b->mask_time_indices) {
        DS_REQUIRE(err, m->at.masked_spec_embed >= 0, DS_ERR_INVALID_ARG,
                   "wav2vec2 batch: mask_time_indices given, but the model has no masked_spec_embed (HF creates it "
                   "only when mask_time_prob > 0 or mask_feature_prob > 0)");
        for (int64_t i = 0; i < b->B * T; i++)
            DS_REQUIRE(err, b->mask_time_indices[i] == 0 || b->mask_time_indices[i] == 1, DS_ERR_INVALID_ARG,
                       "wav2vec2 batch: mask_time_indices[%lld][%lld] = %d is not 0 or 1", (long long)(i / T),
                       (long long)(i % T), (int)b->mask_time_indices[i]);
    }
    return DS_OK;
}

int64_t ds_w2v_compact_labels(const ds_w2v_model *m, const ds_w2v_batch *b, int64_t S, int32_t *targets,
                              int32_t *target_lengths) {
    int64_t longest = 0;
    for (int64_t r = 0; r < b->B; r++) {
        int64_t n = 0;
        for (int64_t j = 0; j < b->label_len; j++) {
            const int32_t v = b->labels[r * b->label_len + j];
            if (is_padding(m, v)) continue;
            if (targets) targets[r * S + n] = v;
            n++;
        }
        for (int64_t j = n; targets && j < S; j++) targets[r * S + j] = 0;
        target_lengths[r] = (int32_t)n;
        if (n > longest) longest = n;
    }
    return longest;
}

int32_t *ds_w2v_host_scratch(ds_w2v_model *m, size_t n) {
    if (n > m->host_scratch_cap) {
        int32_t *bigger = realloc(m->host_scratch, n * sizeof(int32_t));
        if (bigger == NULL) return NULL;
        m->host_scratch = bigger;
        m->host_scratch_cap = n;
    }
    return m->host_scratch;
}

ds_status ds_w2v_transpose(ds_context *ctx, const ds_tensor *x, const ds_tensor *y, int64_t B, int64_t R, int64_t C) {
    const int64_t xs[] = {B, R, C}, ys[] = {B, C, R, 1};
    ds_permute_heads_args p = {.x = ds_tensor_make(x->data, x->dtype, x->device, 3, xs),
                               .y = ds_tensor_make(y->data, y->dtype, y->device, 4, ys), .heads = (int)C, .to_heads = true};
    return ds_permute_heads(ctx, &p);
}
