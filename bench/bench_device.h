// The device-side helpers of the kernel bench (bench/kernel_bench.c): CUDA events on the
// context's stream (the stream every op runs on), the L2 size, and a random fill done on the
// device (filling ~2 GB of AdamW state from the host would take longer than the whole bench).
#ifndef DS_BENCH_DEVICE_H
#define DS_BENCH_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "../runtime/base/context.h"
#include "../runtime/base/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

// `count` pairs of CUDA events; pair i brackets repeat i of a measurement.
typedef struct ds_bench_timer ds_bench_timer;

ds_status ds_bench_timer_create(ds_context *ctx, int count, ds_bench_timer **out);
void ds_bench_timer_destroy(ds_bench_timer *t);  // NULL-safe
// Records the start / stop event of pair i on ctx's stream.
ds_status ds_bench_timer_start(ds_context *ctx, ds_bench_timer *t, int i);
ds_status ds_bench_timer_stop(ds_context *ctx, ds_bench_timer *t, int i);
// Waits for the stream, then ms[i] = time between start and stop of pair i, i < n (host array).
ds_status ds_bench_timer_read(ds_context *ctx, ds_bench_timer *t, int n, float *ms);

// Keeps the device busy for `us` microseconds (one thread spinning on the global timer),
// enqueued on ctx's stream. Launched before a start event, it lets the host enqueue the timed
// call while the device is still busy, so that the events time device work, not host overhead.
ds_status ds_bench_spin(ds_context *ctx, unsigned us);

// The device's L2 cache size in bytes.
ds_status ds_bench_l2_bytes(ds_context *ctx, size_t *bytes);

// dst (n elements of dt, device): F32/BF16 uniform in [lo, hi); U8 1 with probability 0.9, else
// 0 (a weight-decay mask). Deterministic in (seed, index). Enqueued on ctx's stream.
ds_status ds_bench_fill(ds_context *ctx, void *dst, ds_dtype dt, size_t n, uint64_t seed, float lo, float hi);

#ifdef __cplusplus
}
#endif

#endif
