#include "bert_head.h"

#include <stdio.h>
#include <stdlib.h>

#include "../../runtime/base/check.h"
#include "../common/device_memory.h"

void ds_bert_head_specs(const ds_bert_head_dims *d, const char *bert_prefix, ds_param_spec *specs, int *count) {
    const int64_t rows[DS_BH_PARAM_COUNT] = {d->hidden, d->hidden, d->num_labels, d->num_labels};
    for (int i = 0; i < DS_BH_PARAM_COUNT; i++) {
        ds_param_spec *s = &specs[(*count)++];
        *s = (ds_param_spec){0};  // trainable F32, lr multiplier 1 (the defaults of a zeroed spec)
        const bool pooler = i <= DS_BH_POOL_B, weight = i == DS_BH_POOL_W || i == DS_BH_CLS_W;
        snprintf(s->name, sizeof s->name, "%s%s", pooler ? bert_prefix : "",
                 pooler ? (weight ? "pooler.dense.weight" : "pooler.dense.bias")
                        : (weight ? "classifier.weight" : "classifier.bias"));
        s->ndim = weight ? 2 : 1;
        s->shape[0] = rows[i];
        s->shape[1] = weight ? d->hidden : 0;
        s->decay = weight;  // as HF's Trainer: no weight decay on biases
    }
}

ds_status ds_bert_head_forward(ds_context *ctx, const ds_bert_head_dims *d, const ds_param_block *pb, int first_param,
                               const ds_tensor *h, int64_t B, int64_t T, uint64_t dropout_offset, ds_arena *arena,
                               ds_bert_head_acts *acts) {
    ds_err *err = &ctx->err;
    const int64_t H = d->hidden, bh[] = {B, H}, bc[] = {B, d->num_labels};
    DS_TRY(ds_arena_tensor(arena, DS_I32, 1, &B, &acts->first_rows, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 2, bh, &acts->first, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 2, bh, &acts->pooled, err));
    acts->dropped = acts->pooled;
    if (d->dropout > 0) DS_TRY(ds_arena_tensor(arena, d->act, 2, bh, &acts->dropped, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 2, bc, &acts->logits, err));
    if (arena->measuring) return DS_OK;
#define P(i) ds_param_block_op_param(pb, first_param + (i))
#define W(i) ds_param_block_op_weight(pb, first_param + (i), d->act)
    // h[:, 0] as a row gather: an embedding lookup with h as the table. Its backward (a
    // scatter into a zeroed dh) is exactly the gradient of the selection.
    int32_t *rows = malloc((size_t)B * sizeof *rows);  // (B) host, copied to the arena's device
    DS_REQUIRE(err, rows != NULL, DS_ERR_OOM, "bert head: out of memory for %lld row indices", (long long)B);
    for (int64_t b = 0; b < B; b++) rows[b] = (int32_t)(b * T);
    const ds_status up = ds_tensor_from_host(ctx, &acts->first_rows, rows);
    free(rows);
    DS_TRY(up);
    ds_embedding_fwd_args gather = {.ids = acts->first_rows, .table = *h, .out = acts->first};
    DS_TRY(ds_embedding_forward(ctx, &gather));
    ds_linear_fwd_args dense = {.x = acts->first, .w = W(DS_BH_POOL_W), .b = P(DS_BH_POOL_B), .y = acts->pooled};
    DS_TRY(ds_linear_forward(ctx, &dense));
    ds_unary_fwd_args act = {.x = acts->pooled, .y = acts->pooled};
    DS_TRY(ds_tanh_forward(ctx, &act));
    if (d->dropout > 0) {
        ds_dropout_fwd_args dr = {.x = acts->pooled, .y = acts->dropped, .p = d->dropout, .offset = dropout_offset};
        DS_TRY(ds_dropout_forward(ctx, &dr));
    }
    ds_linear_fwd_args cls = {.x = acts->dropped, .w = W(DS_BH_CLS_W), .b = P(DS_BH_CLS_B), .y = acts->logits};
    return ds_linear_forward(ctx, &cls);
}

ds_status ds_bert_head_backward(ds_context *ctx, const ds_bert_head_dims *d, const ds_param_block *pb, int first_param,
                                const ds_bert_head_acts *acts, const ds_tensor *dlogits, const ds_tensor *dh,
                                uint64_t dropout_offset, ds_arena *arena) {
    ds_err *err = &ctx->err;
    const int64_t B = acts->first.shape[0], bh[] = {B, d->hidden};
    ds_tensor ddropped, dpooled, dpre, dfirst;
    DS_TRY(ds_arena_tensor(arena, d->act, 2, bh, &ddropped, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 2, bh, &dpooled, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 2, bh, &dpre, err));
    DS_TRY(ds_arena_tensor(arena, d->act, 2, bh, &dfirst, err));
    if (arena->measuring) return DS_OK;
#define G(i) ds_param_block_op_grad(pb, first_param + (i))
    ds_linear_bwd_args cls = {.x = acts->dropped, .w = W(DS_BH_CLS_W), .dy = *dlogits, .dx = ddropped,
                              .dw = G(DS_BH_CLS_W), .db = G(DS_BH_CLS_B), .accumulate = true};
    DS_TRY(ds_linear_backward(ctx, &cls));
    ds_tensor dtanh_out = ddropped;
    if (d->dropout > 0) {
        ds_dropout_bwd_args dr = {.dy = ddropped, .dx = dpooled, .p = d->dropout, .offset = dropout_offset};
        DS_TRY(ds_dropout_backward(ctx, &dr));
        dtanh_out = dpooled;
    }
    ds_unary_bwd_args act = {.y = acts->pooled, .dy = dtanh_out, .dx = dpre};
    DS_TRY(ds_tanh_backward(ctx, &act));
    ds_linear_bwd_args dense = {.x = acts->first, .w = W(DS_BH_POOL_W), .dy = dpre, .dx = dfirst,
                                .dw = G(DS_BH_POOL_W), .db = G(DS_BH_POOL_B), .accumulate = true};
    DS_TRY(ds_linear_backward(ctx, &dense));
    ds_embedding_bwd_args scatter = {.ids = acts->first_rows, .dout = dfirst, .dtable = *dh, .accumulate = false};
    return ds_embedding_backward(ctx, &scatter);
}
