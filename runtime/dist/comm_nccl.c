// The nccl communicator (built with CUDA and NCCL): collectives on device buffers, on a stream of
// their own.
//
// - The unique id travels by MPI_Bcast, a shared file or TCP (ds_comm_choose_bootstrap).
// - The communicator is created non-blocking (ncclConfig_t.blocking = 0), so that its creation and
//   every operation can be polled against the deadline and ncclCommAbort'ed after it: a dead or
//   hung peer turns into an error, not a hang. NCCL does not say which peer is missing; the message
//   says so, and the ranks that do not report a timeout themselves are the live ones.
// - A device all-reduce waits on an event that the caller's thread records on the compute stream
//   (options.cuda_stream, NULL: the legacy default stream) when it queues the bucket, so the
//   communication stream starts as soon as that bucket's gradients are written and the rest of
//   backward keeps running on the compute stream.
// - Host buffers (metric counts, parameter broadcasts) are staged through a device buffer of at
//   most STAGING_MAX bytes (a larger buffer goes piece by piece: this memory is outside the run's
//   memory plan, so it stays small). The collective is polled to completion (against the deadline) before the copy back is queued: a
//   device-to-host copy into pageable memory blocks the calling thread until the stream reaches
//   it, so queued behind a collective that a dead peer never completes it would hang instead of
//   timing out.
// - A clean close finalises the communicator (ncclCommFinalize, polled against the timeout)
//   before destroying it, so that no rank tears down while a peer still has work in flight; if
//   finalising fails or times out, the communicator is aborted instead.
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/check.h"
#include "comm_internal.h"

#define EVENT_POOL 1024  // one per queued operation (the queue holds at most this many)
#define STAGING_MAX ((size_t)16 << 20)  // bytes of the device buffer that stages host buffers

typedef struct nccl_comm {
    ncclComm_t comm;
    cudaStream_t stream;           // the communication stream
    cudaStream_t compute;          // the caller's stream (NULL: legacy default)
    cudaEvent_t events[EVENT_POOL];
    int device, rank, size;
    ds_bootstrap bootstrap;
    char bootstrap_file[4096];
    void *staging;                 // (staging_bytes) device, for host-buffer operations
    size_t staging_bytes;
    double timeout_s;              // options.timeout_s: the deadline of a clean close's finalise
} nccl_comm;

bool ds_comm_nccl_built(void) { return true; }

// Polls until the communicator's pending work (init or an operation on `stream`) is done.
static ds_status nccl_poll(nccl_comm *n, cudaStream_t stream, double deadline, const char *what, ds_err *err) {
    long pause_ns = 1000;
    for (;;) {
        ncclResult_t async = ncclSuccess;
        DS_NCCL_CHECK(err, ncclCommGetAsyncError(n->comm, &async));
        if (async != ncclSuccess && async != ncclInProgress)
            return ds_err_set(err, DS_ERR_NCCL, "nccl: rank %d: %s failed: %s", n->rank, what,
                              ncclGetErrorString(async));
        bool done = async == ncclSuccess;
        if (done && stream) {
            const cudaError_t q = cudaStreamQuery(stream);
            if (q != cudaSuccess && q != cudaErrorNotReady)
                return ds_err_set(err, DS_ERR_CUDA, "nccl: rank %d: %s: %s", n->rank, what, cudaGetErrorString(q));
            done = q == cudaSuccess;
        }
        if (done) return DS_OK;
        if (ds_now_seconds() > deadline)
            return ds_err_set(err, DS_ERR_NCCL,
                              "nccl: rank %d: %s did not complete in time (dist.timeout_s): a peer rank is dead or "
                              "hung (NCCL does not say which; the ranks that report no timeout are alive)",
                              n->rank, what);
        const struct timespec ts = {0, pause_ns};
        nanosleep(&ts, NULL);
        pause_ns = pause_ns * 2 > 200000 ? 200000 : pause_ns * 2;
    }
}

static ncclDataType_t nccl_type(ds_dtype d) {
    return d == DS_F32 ? ncclFloat32 : d == DS_F64 ? ncclFloat64 : d == DS_I64 ? ncclInt64 : ncclUint8;
}

static ds_status ensure_staging(nccl_comm *n, size_t bytes, ds_err *err) {
    if (bytes <= n->staging_bytes) return DS_OK;
    if (n->staging) cudaFree(n->staging);
    n->staging = NULL;
    n->staging_bytes = 0;
    DS_CUDA_CHECK(err, cudaMalloc(&n->staging, bytes));
    n->staging_bytes = bytes;
    return DS_OK;
}

static ds_status nccl_thread_start(void *impl, ds_err *err) {
    nccl_comm *n = impl;
    DS_CUDA_CHECK(err, cudaSetDevice(n->device));
    return DS_OK;
}

static ds_status nccl_on_enqueue(void *impl, ds_comm_op *op, ds_err *err) {
    nccl_comm *n = impl;
    if (!op->on_device) return DS_OK;
    cudaEvent_t ev = n->events[op->seq % EVENT_POOL];
    DS_CUDA_CHECK(err, cudaEventRecord(ev, n->compute));
    op->event = ev;
    return DS_OK;
}

// One collective of op's kind over count elements at dbuf (device), on the communication stream.
static ds_status nccl_call(nccl_comm *n, const ds_comm_op *op, void *dbuf, size_t count, const char *what,
                           ds_err *err) {
    // A non-blocking communicator may answer ncclInProgress: the call is queued, nccl_poll waits.
    ncclResult_t r;
    if (op->kind == DS_COMM_OP_ALLREDUCE)
        r = ncclAllReduce(dbuf, dbuf, count, nccl_type(op->dtype), ncclSum, n->comm, n->stream);
    else if (op->kind == DS_COMM_OP_BROADCAST)
        r = ncclBroadcast(dbuf, dbuf, count * ds_comm_dtype_size(op->dtype), ncclUint8, op->root, n->comm, n->stream);
    else
        r = ncclAllReduce(dbuf, dbuf, 1, ncclInt64, ncclSum, n->comm, n->stream);
    DS_REQUIRE(err, r == ncclSuccess || r == ncclInProgress, DS_ERR_NCCL, "nccl: rank %d: %s: %s", n->rank, what,
               ncclGetErrorString(r));
    return DS_OK;
}

static ds_status nccl_run(void *impl, ds_comm_op *op, double deadline, ds_err *err) {
    nccl_comm *n = impl;
    char what[64];
    snprintf(what, sizeof what, "%s #%llu",
             op->kind == DS_COMM_OP_ALLREDUCE ? "all-reduce" : op->kind == DS_COMM_OP_BROADCAST ? "broadcast" : "barrier",
             (unsigned long long)op->seq);
    if (op->on_device) {
        DS_CUDA_CHECK(err, cudaStreamWaitEvent(n->stream, (cudaEvent_t)op->event, 0));
        DS_TRY(nccl_call(n, op, op->buf, (size_t)op->count, what, err));
        return nccl_poll(n, n->stream, deadline, what, err);
    }
    if (op->kind == DS_COMM_OP_BARRIER) {
        DS_TRY(ensure_staging(n, 8, err));
        DS_CUDA_CHECK(err, cudaMemsetAsync(n->staging, 0, 8, n->stream));
        DS_TRY(nccl_call(n, op, n->staging, 1, what, err));
        return nccl_poll(n, n->stream, deadline, what, err);
    }
    // Host buffer, piece by piece through the staging buffer (every rank cuts the same pieces:
    // the same count and dtype). Each piece's collective (and the stream) completes first, polled
    // against the deadline; only then the copy back to pageable memory, which would otherwise
    // block this thread behind a collective that never ends.
    const size_t esize = ds_comm_dtype_size(op->dtype), total = (size_t)op->count;
    const size_t per = STAGING_MAX / esize;
    DS_TRY(ensure_staging(n, (total < per ? total : per) * esize, err));
    for (size_t at = 0; at < total; at += per) {
        const size_t cnt = total - at < per ? total - at : per, bytes = cnt * esize;
        char *host = (char *)op->buf + at * esize;
        DS_CUDA_CHECK(err, cudaMemcpyAsync(n->staging, host, bytes, cudaMemcpyHostToDevice, n->stream));
        DS_TRY(nccl_call(n, op, n->staging, cnt, what, err));
        DS_TRY(nccl_poll(n, n->stream, deadline, what, err));
        DS_CUDA_CHECK(err, cudaMemcpyAsync(host, n->staging, bytes, cudaMemcpyDeviceToHost, n->stream));
        DS_TRY(nccl_poll(n, n->stream, deadline, what, err));
    }
    return DS_OK;
}

static void nccl_close(void *impl, bool abort) {
    nccl_comm *n = impl;
    if (n->comm && !abort) {
        // Finalise (flush every issued operation, agree with the peers) before destroying; a
        // failure or timeout turns the close into an abort.
        ds_err ferr;
        ds_err_clear(&ferr);
        const ncclResult_t r = ncclCommFinalize(n->comm);
        abort = (r != ncclSuccess && r != ncclInProgress) ||
                nccl_poll(n, NULL, ds_now_seconds() + n->timeout_s, "communicator finalize", &ferr) != DS_OK;
    }
    if (n->comm) {
        if (abort) ncclCommAbort(n->comm);
        else ncclCommDestroy(n->comm);
    }
    for (int i = 0; i < EVENT_POOL; i++)
        if (n->events[i]) cudaEventDestroy(n->events[i]);
    if (n->stream) cudaStreamDestroy(n->stream);
    if (n->staging) cudaFree(n->staging);
    if (n->bootstrap == DS_BOOTSTRAP_FILE && n->rank == 0) remove(n->bootstrap_file);
    if (n->bootstrap == DS_BOOTSTRAP_MPI) ds_comm_mpi_finish(abort);
    free(n);
}

static const ds_comm_backend_ops k_nccl_ops = {.backend = DS_COMM_NCCL, .thread_start = nccl_thread_start,
                                               .on_enqueue = nccl_on_enqueue, .run = nccl_run, .close = nccl_close};

static ds_status share_id(const ds_world *w, const ds_comm_options *o, ds_bootstrap b, ncclUniqueId *id, ds_err *err) {
    if (b == DS_BOOTSTRAP_MPI) return ds_comm_mpi_share_blob(w, id, sizeof *id, err);
    if (b == DS_BOOTSTRAP_TCP) return ds_comm_tcp_share_blob(w, id, sizeof *id, o->timeout_s, err);
    return ds_comm_file_share_blob(w, o->bootstrap_file, id, sizeof *id, o->timeout_s, err);
}

static ds_status open_nccl(nccl_comm *n, const ds_world *w, const ds_comm_options *o, ds_err *err) {
    DS_CUDA_CHECK(err, cudaSetDevice(n->device));
    DS_CUDA_CHECK(err, cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking));
    for (int i = 0; i < EVENT_POOL; i++) DS_CUDA_CHECK(err, cudaEventCreateWithFlags(&n->events[i], cudaEventDisableTiming));
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (w->rank == 0) DS_NCCL_CHECK(err, ncclGetUniqueId(&id));
    DS_TRY(share_id(w, o, n->bootstrap, &id, err));
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    const ncclResult_t r = ncclCommInitRankConfig(&n->comm, w->size, id, w->rank, &config);
    DS_REQUIRE(err, r == ncclSuccess || r == ncclInProgress, DS_ERR_NCCL, "nccl: rank %d: ncclCommInitRankConfig: %s",
               w->rank, ncclGetErrorString(r));
    return nccl_poll(n, NULL, ds_now_seconds() + o->timeout_s, "communicator creation", err);
}

ds_status ds_comm_nccl_open(const ds_world *w, const ds_comm_options *o, const ds_log *log,
                            const ds_comm_backend_ops **ops, void **impl, ds_err *err) {
    nccl_comm *n = calloc(1, sizeof *n);
    DS_REQUIRE(err, n != NULL, DS_ERR_OOM, "nccl communicator: out of memory");
    n->device = o->cuda_device;
    n->rank = w->rank;
    n->size = w->size;
    n->compute = (cudaStream_t)o->cuda_stream;
    n->timeout_s = o->timeout_s > 0 ? o->timeout_s : 60;
    n->bootstrap = ds_comm_choose_bootstrap(w, o);
    snprintf(n->bootstrap_file, sizeof n->bootstrap_file, "%s", o->bootstrap_file ? o->bootstrap_file : "");
    const ds_status st = open_nccl(n, w, o, err);
    if (st != DS_OK) {
        nccl_close(n, true);
        return st;
    }
    if (log)
        DS_LOG_INFO(log, "nccl communicator: %d ranks, NCCL %d.%d.%d, unique id by %s", w->size, NCCL_MAJOR, NCCL_MINOR,
                    NCCL_PATCH, ds_bootstrap_name(n->bootstrap));
    *ops = &k_nccl_ops;
    *impl = n;
    return DS_OK;
}
