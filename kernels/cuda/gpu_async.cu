// kernels/gpu_async.h on CUDA: the copy stream and events of an open context.
#include <stdlib.h>

#include "cuda_state.cuh"

extern "C" {
#include "../gpu_async.h"
}

struct ds_gpu_copy_stream {
    cudaStream_t stream;  // non-blocking: no implicit ordering with the legacy default stream
};

struct ds_gpu_event {
    cudaEvent_t event;  // cudaEventDisableTiming: cheapest to record and query
};

static ds_status need_device(ds_context *ctx, const char *what) {
    DS_REQUIRE(&ctx->err, ctx->cuda != NULL, DS_ERR_INVALID_ARG, "%s: the context has no open CUDA device", what);
    return DS_OK;
}

extern "C" ds_status ds_gpu_copy_stream_create(ds_context *ctx, ds_gpu_copy_stream **out) {
    *out = NULL;
    DS_TRY(need_device(ctx, "ds_gpu_copy_stream_create"));
    ds_gpu_copy_stream *cs = (ds_gpu_copy_stream *)calloc(1, sizeof *cs);
    if (!cs) return ds_err_set(&ctx->err, DS_ERR_OOM, "ds_gpu_copy_stream_create: out of memory");
    // The stream belongs to the context's device even when another device is current here.
    cudaError_t e = cudaSetDevice(ctx->cuda->device);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&cs->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        free(cs);
        return ds_err_set(&ctx->err, DS_ERR_CUDA, "ds_gpu_copy_stream_create on cuda:%d: %s", ctx->cuda->device,
                          cudaGetErrorString(e));
    }
    *out = cs;
    return DS_OK;
}

extern "C" void ds_gpu_copy_stream_destroy(ds_context *ctx, ds_gpu_copy_stream *cs) {
    (void)ctx;
    if (!cs) return;
    cudaStreamSynchronize(cs->stream);  // copies in flight still read their host buffers
    cudaStreamDestroy(cs->stream);
    free(cs);
}

extern "C" ds_status ds_gpu_upload_on_copy_stream(ds_context *ctx, ds_gpu_copy_stream *cs, void *dev_dst,
                                                  const void *host_src, size_t bytes) {
    DS_TRY(need_device(ctx, "ds_gpu_upload_on_copy_stream"));
    if (bytes) DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(dev_dst, host_src, bytes, cudaMemcpyHostToDevice, cs->stream));
    return DS_OK;
}

extern "C" ds_status ds_gpu_event_create(ds_context *ctx, ds_gpu_event **out) {
    *out = NULL;
    DS_TRY(need_device(ctx, "ds_gpu_event_create"));
    ds_gpu_event *ev = (ds_gpu_event *)calloc(1, sizeof *ev);
    if (!ev) return ds_err_set(&ctx->err, DS_ERR_OOM, "ds_gpu_event_create: out of memory");
    const cudaError_t e = cudaEventCreateWithFlags(&ev->event, cudaEventDisableTiming);
    if (e != cudaSuccess) {
        free(ev);
        return ds_err_set(&ctx->err, DS_ERR_CUDA, "ds_gpu_event_create on cuda:%d: %s", ctx->cuda->device,
                          cudaGetErrorString(e));
    }
    *out = ev;
    return DS_OK;
}

extern "C" void ds_gpu_event_destroy(ds_context *ctx, ds_gpu_event *ev) {
    (void)ctx;
    if (!ev) return;
    cudaEventDestroy(ev->event);  // CUDA defers the release until a pending record completes
    free(ev);
}

extern "C" ds_status ds_gpu_event_record_copy(ds_context *ctx, ds_gpu_copy_stream *cs, ds_gpu_event *ev) {
    DS_TRY(need_device(ctx, "ds_gpu_event_record_copy"));
    DS_CUDA_CHECK(&ctx->err, cudaEventRecord(ev->event, cs->stream));
    return DS_OK;
}

extern "C" ds_status ds_gpu_event_record_compute(ds_context *ctx, ds_gpu_event *ev) {
    DS_TRY(need_device(ctx, "ds_gpu_event_record_compute"));
    DS_CUDA_CHECK(&ctx->err, cudaEventRecord(ev->event, ctx->cuda->stream));
    return DS_OK;
}

extern "C" ds_status ds_gpu_compute_wait_event(ds_context *ctx, const ds_gpu_event *ev) {
    DS_TRY(need_device(ctx, "ds_gpu_compute_wait_event"));
    DS_CUDA_CHECK(&ctx->err, cudaStreamWaitEvent(ctx->cuda->stream, ev->event, 0));
    return DS_OK;
}

extern "C" ds_status ds_gpu_copy_wait_event(ds_context *ctx, ds_gpu_copy_stream *cs, const ds_gpu_event *ev) {
    DS_TRY(need_device(ctx, "ds_gpu_copy_wait_event"));
    DS_CUDA_CHECK(&ctx->err, cudaStreamWaitEvent(cs->stream, ev->event, 0));
    return DS_OK;
}

extern "C" ds_status ds_gpu_event_query(ds_context *ctx, const ds_gpu_event *ev, bool *done) {
    *done = false;
    DS_TRY(need_device(ctx, "ds_gpu_event_query"));
    const cudaError_t e = cudaEventQuery(ev->event);
    if (e == cudaErrorNotReady) {
        cudaGetLastError();  // not an error: clear it so later checks do not see it
        return DS_OK;
    }
    DS_CUDA_CHECK(&ctx->err, e);
    *done = true;
    return DS_OK;
}

extern "C" ds_status ds_gpu_event_sync(ds_context *ctx, const ds_gpu_event *ev) {
    DS_TRY(need_device(ctx, "ds_gpu_event_sync"));
    DS_CUDA_CHECK(&ctx->err, cudaEventSynchronize(ev->event));
    return DS_OK;
}
