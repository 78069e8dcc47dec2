// Overlapping host->device batch copies with compute: a second CUDA stream (the copy stream) of
// an open context (kernels/gpu.h) and events to order the two streams and to tell the host when
// a copy has finished. Without CUDA every call fails with DS_ERR_UNSUPPORTED.
//
// The intended use with the batch loader (data/common/batch_loader.h, slots in pinned host memory from
// ds_gpu_host_alloc) and two device batch buffers D[0], D[1] for micro-batch b (D[b % 2]):
//   ds_gpu_copy_wait_event(ctx, cs, done[b % 2])       copy waits until compute has finished
//                                                       with D[b % 2] (its last use, batch b - 2)
//   ds_gpu_upload_on_copy_stream(ctx, cs, D[b % 2], slot, bytes)
//   ds_gpu_event_record_copy(ctx, cs, copied[b % 2])    marks "batch b is on the device"
//   ds_gpu_compute_wait_event(ctx, copied[b % 2])       compute waits for it (device side only)
//   ... forward / backward on the compute stream reading D[b % 2] ...
//   ds_gpu_event_record_compute(ctx, done[b % 2])       marks "compute is done with D[b % 2]"
// and the host releases the slot to the loader once copied[b % 2] has passed
// (ds_gpu_event_query for a non-blocking check, ds_gpu_event_sync to wait).
//
// An event marks everything enqueued on its stream before the record; recording it again moves
// the mark. A never-recorded event counts as passed (CUDA's rule), so the first waits are free.
#ifndef DS_GPU_ASYNC_H
#define DS_GPU_ASYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "../runtime/base/context.h"

typedef struct ds_gpu_copy_stream ds_gpu_copy_stream;  // opaque: a non-blocking stream on ctx's device
typedef struct ds_gpu_event ds_gpu_event;              // opaque: an event without timing

ds_status ds_gpu_copy_stream_create(ds_context *ctx, ds_gpu_copy_stream **out);
// Waits for the stream's copies, then destroys it. NULL-safe.
void ds_gpu_copy_stream_destroy(ds_context *ctx, ds_gpu_copy_stream *cs);

// host_src (bytes, host; pinned for the copy to be asynchronous) -> dev_dst (bytes, device),
// enqueued on the copy stream. host_src must stay untouched until an event recorded after it
// has passed.
ds_status ds_gpu_upload_on_copy_stream(ds_context *ctx, ds_gpu_copy_stream *cs, void *dev_dst, const void *host_src,
                                       size_t bytes);

ds_status ds_gpu_event_create(ds_context *ctx, ds_gpu_event **out);
void ds_gpu_event_destroy(ds_context *ctx, ds_gpu_event *ev);  // NULL-safe

// Marks the work enqueued so far on the copy stream / on the compute stream (ctx's stream).
ds_status ds_gpu_event_record_copy(ds_context *ctx, ds_gpu_copy_stream *cs, ds_gpu_event *ev);
ds_status ds_gpu_event_record_compute(ds_context *ctx, ds_gpu_event *ev);
// Work enqueued on the compute stream / copy stream after this call starts only after the event
// has passed. Device side: the host does not wait.
ds_status ds_gpu_compute_wait_event(ds_context *ctx, const ds_gpu_event *ev);
ds_status ds_gpu_copy_wait_event(ds_context *ctx, ds_gpu_copy_stream *cs, const ds_gpu_event *ev);
// Whether the event has passed, without waiting (*done); a copy that failed reports its error.
ds_status ds_gpu_event_query(ds_context *ctx, const ds_gpu_event *ev, bool *done);
// Blocks the host until the event has passed.
ds_status ds_gpu_event_sync(ds_context *ctx, const ds_gpu_event *ev);

#endif
