// Placeholder until this family's reference op lands; every call reports unsupported.
#include "cpu_ops.h"

ds_status ds_cpu_softmax_forward(ds_context *ctx, const void *args) {
    (void)args;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "ds_cpu_softmax_forward: not implemented yet");
}
ds_status ds_cpu_softmax_backward(ds_context *ctx, const void *args) {
    (void)args;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "ds_cpu_softmax_backward: not implemented yet");
}
