// kernels/gpu_async.h in a build without CUDA: every call says so.
#include "../gpu_async.h"

#define NO_CUDA(ctx, what) \
    ds_err_set(&(ctx)->err, DS_ERR_UNSUPPORTED, "%s: this build has no CUDA backend (nvcc was not found)", what)

ds_status ds_gpu_copy_stream_create(ds_context *ctx, ds_gpu_copy_stream **out) {
    *out = NULL;
    return NO_CUDA(ctx, "ds_gpu_copy_stream_create");
}
void ds_gpu_copy_stream_destroy(ds_context *ctx, ds_gpu_copy_stream *cs) { (void)ctx, (void)cs; }
ds_status ds_gpu_upload_on_copy_stream(ds_context *ctx, ds_gpu_copy_stream *cs, void *dev_dst, const void *host_src,
                                       size_t bytes) {
    (void)cs, (void)dev_dst, (void)host_src, (void)bytes;
    return NO_CUDA(ctx, "ds_gpu_upload_on_copy_stream");
}
ds_status ds_gpu_event_create(ds_context *ctx, ds_gpu_event **out) {
    *out = NULL;
    return NO_CUDA(ctx, "ds_gpu_event_create");
}
void ds_gpu_event_destroy(ds_context *ctx, ds_gpu_event *ev) { (void)ctx, (void)ev; }
ds_status ds_gpu_event_record_copy(ds_context *ctx, ds_gpu_copy_stream *cs, ds_gpu_event *ev) {
    (void)cs, (void)ev;
    return NO_CUDA(ctx, "ds_gpu_event_record_copy");
}
ds_status ds_gpu_event_record_compute(ds_context *ctx, ds_gpu_event *ev) {
    (void)ev;
    return NO_CUDA(ctx, "ds_gpu_event_record_compute");
}
ds_status ds_gpu_compute_wait_event(ds_context *ctx, const ds_gpu_event *ev) {
    (void)ev;
    return NO_CUDA(ctx, "ds_gpu_compute_wait_event");
}
ds_status ds_gpu_copy_wait_event(ds_context *ctx, ds_gpu_copy_stream *cs, const ds_gpu_event *ev) {
    (void)cs, (void)ev;
    return NO_CUDA(ctx, "ds_gpu_copy_wait_event");
}
ds_status ds_gpu_event_query(ds_context *ctx, const ds_gpu_event *ev, bool *done) {
    (void)ev;
    *done = false;
    return NO_CUDA(ctx, "ds_gpu_event_query");
}
ds_status ds_gpu_event_sync(ds_context *ctx, const ds_gpu_event *ev) {
    (void)ev;
    return NO_CUDA(ctx, "ds_gpu_event_sync");
}
