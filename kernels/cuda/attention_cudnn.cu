// placeholder (cuDNN SDPA)
#include "attention_internal.cuh"
ds_status ds_attn_cudnn_forward(ds_context *ctx, ds_cuda_state *s, const ds_attention_fwd_args *a,
                                const ds_attn_problem &p) {
    (void)s; (void)a; (void)p;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "attention_forward: cuDNN SDPA is not built yet");
}
ds_status ds_attn_cudnn_backward(ds_context *ctx, ds_cuda_state *s, const ds_attention_bwd_args *a,
                                 const ds_attn_problem &p, const float *rowterm) {
    (void)s; (void)a; (void)p; (void)rowterm;
    return ds_err_set(&ctx->err, DS_ERR_UNSUPPORTED, "attention_backward: cuDNN SDPA is not built yet");
}
