#include "bert_embeddings.h"

#include <stdio.h>

#include "../../runtime/base/check.h"

void ds_bert_embeddings_specs(const ds_bert_embeddings_dims *d, const char *prefix, ds_param_spec *specs, int *count) {
    static const char *const names[DS_BE_PARAM_COUNT] = {
        "word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
        "LayerNorm.weight", "LayerNorm.bias",
    };
    const int64_t rows[DS_BE_PARAM_COUNT] = {d->vocab, d->max_position, d->type_vocab, d->hidden, d->hidden};
    for (int i = 0; i < DS_BE_PARAM_COUNT; i++) {
        ds_param_spec *s = &specs[(*count)++];
        *s = (ds_param_spec){0};  // trainable F32, lr multiplier 1 (the defaults of a zeroed spec)
        snprintf(s->name, sizeof s->name, "%s%s", prefix, names[i]);
        const bool table = i <= DS_BE_TYPE;
        s->ndim = table ? 2 : 1;
        s->shape[0] = rows[i];
        s->shape[1] = table ? d->hidden : 0;
        // As HF's Trainer: embedding tables decay, LayerNorm parameters do not.
        s->decay = table;
    }
}

ds_status ds_bert_embeddings_forward(ds_context *ctx, const ds_bert_embeddings_dims *d, const ds_param_block *pb,
                                     int first_param, const ds_bert_token_ids *ids, int64_t N,
                                     uint64_t dropout_offset, ds_arena *arena, ds_bert_embeddings_acts *acts) {
    ds_err *err = &ctx->err;
    const int64_t H = d->hidden;
    const int64_t s2[] = {N, H};
    DS_TRY(ds_arena_tensor(arena, d->act, 2, s2, &acts->sum, err));
    DS_TRY(ds_arena_tensor(arena, DS_F32, 1, &N, &acts->mean, err));
    DS_TRY(ds_arena_tensor(arena, DS_F32, 1, &N, &acts->rstd, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 2, s2, &acts->y, err));
    if (arena->measuring) return DS_OK;
#define P(i) ds_param_block_op_param(pb, first_param + (i))
    // HF adds in this order: (word + token type) + position. y serves as scratch for the
    // second and third lookups until LayerNorm writes it.
    ds_embedding_fwd_args word = {.ids = ids->input_ids, .table = P(DS_BE_WORD), .out = acts->sum};
    DS_TRY(ds_embedding_forward(ctx, &word));
    ds_embedding_fwd_args type = {.ids = ids->token_type_ids, .table = P(DS_BE_TYPE), .out = acts->y};
    DS_TRY(ds_embedding_forward(ctx, &type));
    ds_add_args add_type = {.a = acts->sum, .b = acts->y, .y = acts->sum};
    DS_TRY(ds_add(ctx, &add_type));
    ds_embedding_fwd_args pos = {.ids = ids->position_ids, .table = P(DS_BE_POS), .out = acts->y};
    DS_TRY(ds_embedding_forward(ctx, &pos));
    ds_add_args add_pos = {.a = acts->sum, .b = acts->y, .y = acts->sum};
    DS_TRY(ds_add(ctx, &add_pos));
    ds_layernorm_fwd_args ln = {.x = acts->sum, .gamma = P(DS_BE_LN_W), .beta = P(DS_BE_LN_B), .y = acts->y,
                                .mean = acts->mean, .rstd = acts->rstd, .eps = d->ln_eps};
    DS_TRY(ds_layernorm_forward(ctx, &ln));
    if (d->dropout > 0) {
        ds_dropout_fwd_args dr = {.x = acts->y, .y = acts->y, .p = d->dropout, .offset = dropout_offset};
        DS_TRY(ds_dropout_forward(ctx, &dr));
    }
    return DS_OK;
}

ds_status ds_bert_embeddings_backward(ds_context *ctx, const ds_bert_embeddings_dims *d, const ds_param_block *pb,
                                      int first_param, const ds_bert_embeddings_acts *acts,
                                      const ds_bert_token_ids *ids, const ds_tensor *dy, uint64_t dropout_offset,
                                      ds_arena *arena) {
    ds_err *err = &ctx->err;
    const int64_t N = acts->sum.shape[0], H = d->hidden;
    const int64_t s2[] = {N, H};
    ds_tensor dln, dsum;
    DS_TRY(ds_arena_tensor(arena, d->act, 2, s2, &dln, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 2, s2, &dsum, err));
    if (arena->measuring) return DS_OK;
#define G(i) ds_param_block_op_grad(pb, first_param + (i))
    ds_tensor dnorm = *dy;
    if (d->dropout > 0) {
        ds_dropout_bwd_args dr = {.dy = *dy, .dx = dln, .p = d->dropout, .offset = dropout_offset};
        DS_TRY(ds_dropout_backward(ctx, &dr));
        dnorm = dln;
    }
    ds_layernorm_bwd_args ln = {.x = acts->sum, .gamma = P(DS_BE_LN_W), .mean = acts->mean, .rstd = acts->rstd,
                                .dy = dnorm, .dx = dsum, .dgamma = G(DS_BE_LN_W), .dbeta = G(DS_BE_LN_B),
                                .accumulate = true};
    DS_TRY(ds_layernorm_backward(ctx, &ln));
    // The sum's gradient reaches each of the three tables unchanged.
    ds_embedding_bwd_args word = {.ids = ids->input_ids, .dout = dsum, .dtable = G(DS_BE_WORD), .accumulate = true,
                                  .has_padding_idx = d->pad_token_id >= 0, .padding_idx = (int32_t)d->pad_token_id};
    DS_TRY(ds_embedding_backward(ctx, &word));
    ds_embedding_bwd_args type = {.ids = ids->token_type_ids, .dout = dsum, .dtable = G(DS_BE_TYPE), .accumulate = true};
    DS_TRY(ds_embedding_backward(ctx, &type));
    ds_embedding_bwd_args pos = {.ids = ids->position_ids, .dout = dsum, .dtable = G(DS_BE_POS), .accumulate = true};
    DS_TRY(ds_embedding_backward(ctx, &pos));
    return DS_OK;
}
