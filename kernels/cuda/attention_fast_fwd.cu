// placeholder (replaced by the flash-attention forward)
#include "attention_internal.cuh"
bool ds_attn_fast_supported(const ds_attn_problem &p, bool bf16, const void *const *ptrs, int nptrs) {
    (void)p; (void)bf16; (void)ptrs; (void)nptrs;
    return false;
}
ds_status ds_attn_fast_forward(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_fwd_ptrs &a) {
    (void)s; (void)p; (void)a;
    return ds_err_set(err, DS_ERR_UNSUPPORTED, "attention_forward: FAST not built yet");
}
ds_status ds_attn_fast_backward(ds_cuda_state *s, ds_err *err, const ds_attn_problem &p, const ds_attn_bwd_ptrs &a) {
    (void)s; (void)p; (void)a;
    return ds_err_set(err, DS_ERR_UNSUPPORTED, "attention_backward: FAST not built yet");
}
