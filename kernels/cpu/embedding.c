// Embedding lookup (torch.nn.functional.embedding) and its backward, a deterministic
// scatter-add into the table gradient that skips padding_idx when one is set.
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

#define DS_REAL_F64 0
#include "embedding_impl.inc"
#undef DS_REAL_F64
#define DS_REAL_F64 1
#include "embedding_impl.inc"
#undef DS_REAL_F64

// Every id must index a row of the (V, C) table; the message names the first one that does not.
static ds_status check_ids(ds_err *err, const char *op, const int32_t *ids, int64_t n, int64_t v) {
    for (int64_t i = 0; i < n; i++)
        DS_REQUIRE(err, ids[i] >= 0 && ids[i] < v, DS_ERR_INVALID_ARG,
                   "%s: ids[%lld] = %d is out of range [0, %lld) (the table has %lld rows)", op, (long long)i,
                   (int)ids[i], (long long)v, (long long)v);
    return DS_OK;
}

ds_status ds_cpu_embedding_forward(ds_context *ctx, const void *args) {
    const ds_embedding_fwd_args *a = args;
    const char *op = "embedding_forward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "table", &a->table, &dt));
    DS_TRY(ds_cpu_check(err, op, "table", &a->table, dt, 2, NULL));
    const int64_t v = a->table.shape[0], c = a->table.shape[1];
    DS_TRY(ds_cpu_check(err, op, "ids", &a->ids, DS_I32, 1, NULL));
    const int64_t n = a->ids.shape[0];
    DS_TRY(ds_cpu_check(err, op, "out", &a->out, dt, 2, (const int64_t[]){n, c}));
    DS_TRY(check_ids(err, op, a->ids.data, n, v));
    if (dt == DS_F32) embedding_fwd_f32(a->ids.data, a->table.data, a->out.data, n, c);
    else embedding_fwd_f64(a->ids.data, a->table.data, a->out.data, n, c);
    return DS_OK;
}

ds_status ds_cpu_embedding_backward(ds_context *ctx, const void *args) {
    const ds_embedding_bwd_args *a = args;
    const char *op = "embedding_backward";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "dout", &a->dout, &dt));
    DS_TRY(ds_cpu_check(err, op, "dout", &a->dout, dt, 2, NULL));
    const int64_t n = a->dout.shape[0], c = a->dout.shape[1];
    DS_TRY(ds_cpu_check(err, op, "ids", &a->ids, DS_I32, 1, (const int64_t[]){n}));
    DS_TRY(ds_cpu_check(err, op, "dtable", &a->dtable, dt, 2, (const int64_t[]){-1, c}));
    const int64_t v = a->dtable.shape[0];
    DS_TRY(check_ids(err, op, a->ids.data, n, v));
    DS_REQUIRE(err, !a->has_padding_idx || (a->padding_idx >= 0 && a->padding_idx < v), DS_ERR_INVALID_ARG,
               "%s: padding_idx %d is not a row of the table [0, %lld)", op, (int)a->padding_idx, (long long)v);
    const int64_t skip = a->has_padding_idx ? a->padding_idx : -1;
    if (dt == DS_F32) embedding_bwd_f32(a->ids.data, a->dout.data, a->dtable.data, n, v, c, a->accumulate, skip);
    else embedding_bwd_f64(a->ids.data, a->dout.data, a->dtable.data, n, v, c, a->accumulate, skip);
    return DS_OK;
}
