#include "bert_batch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/device_memory.h"

static ds_status check_ids(ds_err *err, const char *what, const int32_t *ids, int64_t B, int64_t T, int64_t limit,
                           const char *limit_name) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            const int32_t v = ids[b * T + t];
            DS_REQUIRE(err, v >= 0 && v < limit, DS_ERR_INVALID_ARG,
                       "bert batch: %s[%lld][%lld] = %d is outside [0, %lld) (%s)", what, (long long)b, (long long)t,
                       (int)v, (long long)limit, limit_name);
        }
    return DS_OK;
}

static ds_status check_labels(ds_err *err, const ds_bert_config *cfg, const ds_bert_batch *b) {
    const char *problem = ds_problem_type_name(cfg->problem_type);
    if (cfg->problem_type == DS_PROBLEM_SINGLE_LABEL) {
        DS_REQUIRE(err, b->label_values == NULL, DS_ERR_INVALID_ARG,
                   "bert batch: %s takes class ids (labels), not label_values", problem);
        for (int64_t i = 0; b->labels && i < b->B; i++)
            DS_REQUIRE(err, b->labels[i] == -100 || (b->labels[i] >= 0 && b->labels[i] < cfg->num_labels),
                       DS_ERR_INVALID_ARG, "bert batch: labels[%lld] = %d is neither a class in [0, %lld) nor -100",
                       (long long)i, (int)b->labels[i], (long long)cfg->num_labels);
        return DS_OK;
    }
    DS_REQUIRE(err, b->labels == NULL, DS_ERR_INVALID_ARG,
               "bert batch: %s takes label_values (B, num_labels) floats, not class ids", problem);
    for (int64_t i = 0; b->label_values && i < b->B * cfg->num_labels; i++)
        DS_REQUIRE(err, isfinite(b->label_values[i]), DS_ERR_INVALID_ARG,
                   "bert batch: label_values[%lld][%lld] = %g is not finite", (long long)(i / cfg->num_labels),
                   (long long)(i % cfg->num_labels), (double)b->label_values[i]);
    return DS_OK;
}

ds_status ds_bert_check_batch(ds_err *err, const ds_bert_config *cfg, const ds_bert_batch *b) {
    DS_REQUIRE(err, b->B >= 1 && b->T >= 1, DS_ERR_INVALID_ARG, "bert batch: shape (%lld, %lld) is empty",
               (long long)b->B, (long long)b->T);
    DS_REQUIRE(err, b->T <= cfg->max_position, DS_ERR_INVALID_ARG,
               "bert batch: sequence length %lld exceeds max_position_embeddings %lld; truncate the inputs",
               (long long)b->T, (long long)cfg->max_position);
    DS_REQUIRE(err, b->input_ids != NULL, DS_ERR_INVALID_ARG, "bert batch: input_ids missing");
    DS_TRY(check_ids(err, "input_ids", b->input_ids, b->B, b->T, cfg->vocab_size, "vocab_size"));
    if (b->token_type_ids)
        DS_TRY(check_ids(err, "token_type_ids", b->token_type_ids, b->B, b->T, cfg->type_vocab, "type_vocab_size"));
    if (b->attention_mask) {
        DS_TRY(check_ids(err, "attention_mask", b->attention_mask, b->B, b->T, 2, "0 = padding, 1 = token"));
        for (int64_t r = 0; r < b->B; r++) {
            int64_t tokens = 0;
            for (int64_t t = 0; t < b->T; t++) tokens += b->attention_mask[r * b->T + t];
            DS_REQUIRE(err, tokens > 0, DS_ERR_INVALID_ARG,
                       "bert batch: attention_mask row %lld has no token (all padding)", (long long)r);
        }
    }
    return check_labels(err, cfg, b);
}

// Host scratch for the values the batch does not carry as they are stored: positions, zero token
// types, bf16 label values. Pageable memory: an upload from it is staged before the call returns.
static ds_status upload_or_copy(ds_context *ctx, const ds_tensor *t, const void *src) {
    return ds_tensor_from_host(ctx, t, src);
}

ds_status ds_bert_stage_batch(ds_context *ctx, const ds_bert_config *cfg, ds_dtype act, const ds_bert_batch *b,
                              ds_arena *arena, ds_bert_saved *s) {
    ds_err *err = &ctx->err;
    const int64_t B = b->B, T = b->T, N = B * T, bt[] = {B, T}, bc[] = {B, cfg->num_labels};
    ds_tensor mask;
    DS_TRY(ds_arena_tensor(arena, DS_I32, 1, &N, &s->ids.input_ids, err));
    DS_TRY(ds_arena_tensor(arena, DS_I32, 1, &N, &s->ids.token_type_ids, err));
    DS_TRY(ds_arena_tensor(arena, DS_I32, 1, &N, &s->ids.position_ids, err));
    DS_TRY(ds_arena_tensor(arena, DS_I32, 2, bt, &mask, err));
    DS_TRY(ds_arena_tensor(arena, DS_I32, 1, &B, &s->labels.class_ids, err));
    DS_TRY(ds_arena_tensor(arena, act, 2, bc, &s->labels.values, err));
    s->B = B;
    s->T = T;
    s->has_labels = b->labels != NULL || b->label_values != NULL;
    s->key_mask = b->attention_mask ? mask : (ds_tensor){0};
    if (arena->measuring) return DS_OK;
    // (N + N + N + B*T + B + B*C values) from the host: memcpy on the CPU, uploads on CUDA.
    int32_t *pos = malloc((size_t)N * sizeof *pos);  // (N) host
    DS_REQUIRE(err, pos != NULL, DS_ERR_OOM, "bert batch: out of host memory for %lld positions", (long long)N);
    for (int64_t i = 0; i < N; i++) pos[i] = (int32_t)(i % T);
    ds_status st = upload_or_copy(ctx, &s->ids.position_ids, pos);
    free(pos);
    DS_TRY(st);
    DS_TRY(upload_or_copy(ctx, &s->ids.input_ids, b->input_ids));
    if (b->token_type_ids) DS_TRY(upload_or_copy(ctx, &s->ids.token_type_ids, b->token_type_ids));
    else DS_TRY(ds_tensor_zero(ctx, &s->ids.token_type_ids));
    if (b->attention_mask) DS_TRY(upload_or_copy(ctx, &mask, b->attention_mask));
    if (b->labels) DS_TRY(upload_or_copy(ctx, &s->labels.class_ids, b->labels));
    if (b->label_values) {
        const int64_t n = B * cfg->num_labels;
        if (act == DS_F32) return upload_or_copy(ctx, &s->labels.values, b->label_values);
        uint16_t *h = malloc((size_t)n * sizeof *h);  // (B, C) host bf16 bits
        DS_REQUIRE(err, h != NULL, DS_ERR_OOM, "bert batch: out of host memory for labels");
        for (int64_t i = 0; i < n; i++) h[i] = ds_f32_to_bf16(b->label_values[i]);
        st = upload_or_copy(ctx, &s->labels.values, h);
        free(h);
        DS_TRY(st);
    }
    return DS_OK;
}
