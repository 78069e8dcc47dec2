// The communicator of a data-parallel job: sums and broadcasts across the ranks of a ds_world.
//
// Backends:
//   single  a world of one: every operation returns at once, no MPI or NCCL call is ever made
//   mpi     Open MPI (or any MPI) over host buffers: the CPU backend under mpirun or srun --mpi=pmix
//   tcp     plain POSIX sockets, a star through rank 0 over MASTER_ADDR:MASTER_PORT, for a
//           torchrun-style launch without mpirun; rank 0 sums the ranks' buffers in rank order and
//           sends the result back, so 2 (W-1) buffer transfers cross rank 0's link per operation:
//           meant for a few ranks on one node (tests, laptops), not for a cluster
//   nccl    NCCL over device buffers (built with CUDA and NCCL only); the ncclUniqueId travels by
//           MPI_Bcast, by a file on a shared filesystem, or over TCP from MASTER_ADDR:MASTER_PORT
//
// Every operation runs on one communication thread per communicator, in the order the caller
// issued them (the same order on every rank, as collectives require). Blocking calls wait for
// their operation; ds_comm_iallreduce_sum returns a ticket at once and the caller keeps
// computing while the thread reduces: that is how gradient buckets overlap the rest of backward
// (runtime/dist/grad_sync.h). MPI is initialised with MPI_THREAD_SERIALIZED and only that thread calls
// it between ds_comm_open and ds_comm_close.
//
// Failure: each operation has a deadline (options.timeout_s from when the thread starts it). A
// peer that died or hangs makes the operation fail with DS_ERR_MPI / DS_ERR_IO / DS_ERR_NCCL and a
// message naming the rank(s) that did not answer; from then on the communicator is failed and
// every later operation fails at once with the same message, so no caller ever waits forever.
// A process that fails must end with ds_comm_abort (which also stops the other ranks: MPI_Abort,
// closed sockets, ncclCommAbort), never ds_comm_close, whose MPI_Finalize would wait for them.
#ifndef DS_COMM_H
#define DS_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/dtype.h"
#include "../base/log.h"
#include "../base/status.h"
#include "world.h"

typedef enum ds_comm_backend {
    DS_COMM_AUTO = 0,  // only as a request (see ds_comm_choose_backend)
    DS_COMM_SINGLE,
    DS_COMM_MPI,
    DS_COMM_TCP,
    DS_COMM_NCCL,
} ds_comm_backend;

typedef enum ds_bootstrap {
    DS_BOOTSTRAP_AUTO = 0,  // only as a request (see ds_comm_choose_bootstrap)
    DS_BOOTSTRAP_MPI,
    DS_BOOTSTRAP_FILE,
    DS_BOOTSTRAP_TCP,
} ds_bootstrap;

typedef struct ds_comm_options {
    ds_comm_backend backend;     // AUTO: ds_comm_choose_backend
    ds_bootstrap bootstrap;      // how NCCL's unique id travels; AUTO: ds_comm_choose_bootstrap
    const char *bootstrap_file;  // for DS_BOOTSTRAP_FILE: a path every rank sees (shared filesystem)
    double timeout_s;            // deadline of each operation, and of the rendezvous
    bool cuda;                   // the model runs on a GPU: AUTO chooses NCCL
    int cuda_device;             // the GPU of this rank (ds_world_cuda_device), for NCCL
    void *cuda_stream;           // the compute stream (cudaStream_t) that writes the gradients a
                                 // device all-reduce waits for; NULL: the legacy default stream
} ds_comm_options;

// timeout 600 s, everything else AUTO / empty.
ds_comm_options ds_comm_options_default(void);

// AUTO resolved: a world of one: single; cuda: nccl; else mpi under Open MPI or Slurm, tcp under a
// torchrun-style launch. A requested backend is returned as it is (a world of one may force mpi).
ds_comm_backend ds_comm_choose_backend(const ds_world *w, const ds_comm_options *o);
// AUTO resolved: file when bootstrap_file is set; tcp under torchrun-style launch; else mpi.
ds_bootstrap ds_comm_choose_bootstrap(const ds_world *w, const ds_comm_options *o);

const char *ds_comm_backend_name(ds_comm_backend b);    // "auto", "single", "mpi", "tcp", "nccl"
bool ds_comm_backend_parse(const char *name, ds_comm_backend *out);
const char *ds_bootstrap_name(ds_bootstrap b);          // "auto", "mpi", "file", "tcp"
bool ds_bootstrap_parse(const char *name, ds_bootstrap *out);

// Whether this build has the backend (mpi needs MPI found by CMake, nccl needs CUDA and NCCL).
bool ds_comm_backend_built(ds_comm_backend b);

typedef struct ds_comm ds_comm;

// Connects this rank to the others (MPI_Init_thread, the TCP rendezvous, ncclCommInitRank) and
// starts the communication thread. Checks that the backend's idea of the world agrees with `w`
// (e.g. srun without --mpi=pmix gives every process an MPI world of one). log: where the
// backend's few messages go (may be NULL). Errors name the backend, the rank and what to do.
ds_status ds_comm_open(const ds_world *w, const ds_comm_options *o, const ds_log *log, ds_comm **out, ds_err *err);

// Orderly end: waits for outstanding operations, stops the thread, MPI_Finalize. Only when every
// rank got this far; after a failure use ds_comm_abort. NULL is ignored.
void ds_comm_close(ds_comm *c);

// Failure end: stops the thread and tears the job down (MPI_Abort(1) ends every rank of an MPI
// job and does not return; sockets are closed so TCP peers fail at once; ncclCommAbort).
void ds_comm_abort(ds_comm *c);

int ds_comm_rank(const ds_comm *c);
int ds_comm_size(const ds_comm *c);
ds_comm_backend ds_comm_backend_of(const ds_comm *c);
double ds_comm_timeout(const ds_comm *c);
// true once an operation failed (every later one fails at once).
bool ds_comm_failed(ds_comm *c);

// Sum over ranks, in place: buf (count) host, dtype F32, F64 or I64. Every rank gets the same sum.
ds_status ds_comm_allreduce_sum(ds_comm *c, void *buf, int64_t count, ds_dtype dtype, ds_err *err);

// The same sum over buf (count) in device memory (nccl only: a host communicator refuses it): the
// collective waits for the work already enqueued on the compute stream (comm options' cuda_stream)
// and the call returns once the sum is complete, so work enqueued afterwards reads it.
ds_status ds_comm_allreduce_sum_device(ds_comm *c, void *buf, int64_t count, ds_dtype dtype, ds_err *err);

// Rank `root`'s bytes into every rank's buf (bytes) host.
ds_status ds_comm_broadcast(ds_comm *c, void *buf, size_t bytes, int root, ds_err *err);

// A point every rank must reach before any leaves.
ds_status ds_comm_barrier(ds_comm *c, ds_err *err);

// Non-blocking sum of buf (count) F32, host (device memory for nccl): starts the operation and
// returns a ticket. buf must not be read or written until ds_comm_wait of that ticket returned.
typedef uint64_t ds_comm_ticket;
#define DS_COMM_TICKET_NONE UINT64_MAX  // an operation that needed no communication: already done
ds_status ds_comm_iallreduce_sum(ds_comm *c, float *buf, int64_t count, ds_comm_ticket *ticket, ds_err *err);
ds_status ds_comm_wait(ds_comm *c, ds_comm_ticket ticket, ds_err *err);

#endif
