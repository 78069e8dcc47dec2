// Between comm.c (the queue and the communication thread) and the backends (comm_mpi.c,
// comm_tcp.c, comm_nccl.c). A backend's operations run on the communication thread, one at a
// time, and must return by `deadline` (ds_now_seconds() clock) with a message naming the rank that
// did not answer.
#ifndef DS_COMM_INTERNAL_H
#define DS_COMM_INTERNAL_H

#include "comm.h"

typedef enum ds_comm_op_kind { DS_COMM_OP_ALLREDUCE = 0, DS_COMM_OP_BROADCAST, DS_COMM_OP_BARRIER } ds_comm_op_kind;

typedef struct ds_comm_op {
    ds_comm_op_kind kind;
    uint64_t seq;     // 0, 1, 2 ... in issue order, the same on every rank
    void *buf;        // (count) of dtype: host, or device for an nccl iallreduce (on_device)
    int64_t count;    // elements (ALLREDUCE) or bytes (BROADCAST, dtype U8)
    ds_dtype dtype;
    int root;         // BROADCAST
    bool on_device;   // buf is device memory (nccl)
    void *event;      // backend's per-op data recorded at enqueue on the caller's thread (nccl: a
                      // cudaEvent_t on the caller's stream), or NULL
} ds_comm_op;

#define DS_COMM_IDLE_PERIOD 0.5  // seconds

typedef struct ds_comm_backend_ops {
    ds_comm_backend backend;
    // On the communication thread, once, before any op (nccl: cudaSetDevice).
    ds_status (*thread_start)(void *impl, ds_err *err);
    // On the caller's thread when the op is queued (nccl: record the event); may be NULL.
    ds_status (*on_enqueue)(void *impl, ds_comm_op *op, ds_err *err);
    // Runs op to completion (or failure) by deadline.
    ds_status (*run)(void *impl, ds_comm_op *op, double deadline, ds_err *err);
    // Ends the backend: orderly (MPI_Finalize) or after a failure (abort: MPI_Abort, close sockets).
    void (*close)(void *impl, bool abort);
    // On the communication thread about every DS_COMM_IDLE_PERIOD seconds while it has no op to
    // run (mpi: liveness pings), so peers can tell a live rank from a frozen one; may be NULL.
    void (*idle)(void *impl);
} ds_comm_backend_ops;

// Each backend's constructor, on the caller's thread (MPI_Init_thread happens there). *ops is a
// static table; *impl the backend's state.
ds_status ds_comm_mpi_open(const ds_world *w, const ds_comm_options *o, const ds_log *log,
                           const ds_comm_backend_ops **ops, void **impl, ds_err *err);
ds_status ds_comm_tcp_open(const ds_world *w, const ds_comm_options *o, const ds_log *log,
                           const ds_comm_backend_ops **ops, void **impl, ds_err *err);
ds_status ds_comm_nccl_open(const ds_world *w, const ds_comm_options *o, const ds_log *log,
                            const ds_comm_backend_ops **ops, void **impl, ds_err *err);
bool ds_comm_mpi_built(void);

// Bootstraps: rank 0's `bytes` of blob reach every rank (NCCL's unique id). By MPI_Bcast (MPI is
// initialised here when it is not yet; ds_comm_mpi_finish ends it), over the tcp rendezvous at
// MASTER_ADDR:MASTER_PORT, or through a file every rank sees (rank 0 writes it atomically with the
// world's run_id; the others wait for a file with that run_id; rank 0 removes it at the end).
ds_status ds_comm_mpi_share_blob(const ds_world *w, void *blob, size_t bytes, ds_err *err);
void ds_comm_mpi_finish(bool abort);
ds_status ds_comm_tcp_share_blob(const ds_world *w, void *blob, size_t bytes, double timeout_s, ds_err *err);
ds_status ds_comm_file_share_blob(const ds_world *w, const char *path, void *blob, size_t bytes, double timeout_s,
                                  ds_err *err);
bool ds_comm_nccl_built(void);

// Size of one element of the dtypes the comm sums (F32, F64, I64; U8 for bytes), else 0.
size_t ds_comm_dtype_size(ds_dtype dtype);

// dst[i] += src[i] for `count` elements of dtype (F32, F64, I64): the reduction of the tcp star.
void ds_comm_sum_into(void *dst, const void *src, int64_t count, ds_dtype dtype);

#endif
