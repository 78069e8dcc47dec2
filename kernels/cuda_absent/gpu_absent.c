// kernels/gpu.h in a build without CUDA: every call that needs a device says so.
#include <string.h>

#include "../gpu.h"
#include "../gpu_convert.h"

#define NO_CUDA(ctx, what) \
    ds_err_set(&(ctx)->err, DS_ERR_UNSUPPORTED, "%s: this build has no CUDA backend (nvcc was not found)", what)

ds_gpu_options ds_gpu_options_default(void) {
    ds_gpu_options o;
    memset(&o, 0, sizeof o);
    return o;
}
ds_status ds_gpu_open(ds_context *ctx, const ds_gpu_options *opt) {
    (void)opt;
    return NO_CUDA(ctx, "ds_gpu_open");
}
void ds_gpu_close(ds_context *ctx) { (void)ctx; }
const ds_gpu_options *ds_gpu_get_options(const ds_context *ctx) {
    (void)ctx;
    return NULL;
}
void ds_gpu_set_kernels(ds_context *ctx, ds_kernel_variant v) { (void)ctx, (void)v; }
void ds_gpu_set_attention(ds_context *ctx, ds_attention_impl a) { (void)ctx, (void)a; }
uint64_t ds_gpu_attention_cudnn_fallbacks(const ds_context *ctx) {
    (void)ctx;
    return 0;
}
void ds_gpu_set_conv(ds_context *ctx, ds_conv_impl c) { (void)ctx, (void)c; }
void ds_gpu_set_ctc(ds_context *ctx, ds_ctc_impl c) { (void)ctx, (void)c; }
uint64_t ds_gpu_ctc_cudnn_calls(const ds_context *ctx) {
    (void)ctx;
    return 0;
}
ds_status ds_gpu_alloc(ds_context *ctx, size_t bytes, void **dev_ptr) {
    (void)bytes;
    *dev_ptr = NULL;
    return NO_CUDA(ctx, "ds_gpu_alloc");
}
void ds_gpu_free(ds_context *ctx, void *dev_ptr, size_t bytes) { (void)ctx, (void)dev_ptr, (void)bytes; }
ds_status ds_gpu_host_alloc(ds_context *ctx, size_t bytes, void **host_ptr) {
    (void)bytes;
    *host_ptr = NULL;
    return NO_CUDA(ctx, "ds_gpu_host_alloc");
}
void ds_gpu_host_free(ds_context *ctx, void *host_ptr) { (void)ctx, (void)host_ptr; }
ds_status ds_gpu_upload(ds_context *ctx, void *d, const void *h, size_t n) {
    (void)d, (void)h, (void)n;
    return NO_CUDA(ctx, "ds_gpu_upload");
}
ds_status ds_gpu_download(ds_context *ctx, void *h, const void *d, size_t n) {
    (void)d, (void)h, (void)n;
    return NO_CUDA(ctx, "ds_gpu_download");
}
ds_status ds_gpu_copy(ds_context *ctx, void *d, const void *s, size_t n) {
    (void)d, (void)s, (void)n;
    return NO_CUDA(ctx, "ds_gpu_copy");
}
ds_status ds_gpu_memset(ds_context *ctx, void *d, int b, size_t n) {
    (void)d, (void)b, (void)n;
    return NO_CUDA(ctx, "ds_gpu_memset");
}
ds_status ds_gpu_sync(ds_context *ctx) { return NO_CUDA(ctx, "ds_gpu_sync"); }
ds_status ds_gpu_mem_info(ds_context *ctx, size_t *f, size_t *t) {
    *f = *t = 0;
    return NO_CUDA(ctx, "ds_gpu_mem_info");
}
size_t ds_gpu_peak_bytes(const ds_context *ctx) {
    (void)ctx;
    return 0;
}
ds_status ds_gpu_convert(ds_context *ctx, void *dst, ds_dtype dst_dtype, const void *src, ds_dtype src_dtype,
                         size_t n) {
    (void)dst, (void)dst_dtype, (void)src, (void)src_dtype, (void)n;
    return NO_CUDA(ctx, "ds_gpu_convert");
}
ds_status ds_gpu_sum_squares(ds_context *ctx, const float *x, size_t n, double *out) {
    (void)x, (void)n;
    *out = 0;
    return NO_CUDA(ctx, "ds_gpu_sum_squares");
}
ds_status ds_gpu_peaks_get(ds_context *ctx, ds_gpu_peaks *out) {
    memset(out, 0, sizeof *out);
    return NO_CUDA(ctx, "ds_gpu_peaks_get");
}
void *ds_gpu_stream_handle(const ds_context *ctx) {
    (void)ctx;
    return NULL;
}
