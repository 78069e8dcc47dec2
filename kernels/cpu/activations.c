// Placeholder until this family's reference op lands; every call reports unsupported.
#include "cpu_ops.h"

ds_status ds_cpu_gelu_forward(ds_context *ctx, const void *args) {
    (void)args;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "ds_cpu_gelu_forward: not implemented yet");
}
ds_status ds_cpu_gelu_backward(ds_context *ctx, const void *args) {
    (void)args;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "ds_cpu_gelu_backward: not implemented yet");
}
ds_status ds_cpu_tanh_forward(ds_context *ctx, const void *args) {
    (void)args;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "ds_cpu_tanh_forward: not implemented yet");
}
ds_status ds_cpu_tanh_backward(ds_context *ctx, const void *args) {
    (void)args;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "ds_cpu_tanh_backward: not implemented yet");
}
