// The mpi communicator: non-blocking MPI collectives on host buffers, driven by MPI_Test until
// their deadline (a blocking MPI call would wait forever on a dead or hung peer).
//
// Naming the rank that hangs: a collective does not say which rank is missing, so every operation
// first sends its sequence number to every peer (a heartbeat, 8 bytes, on a communicator of its
// own), the communication thread repeats it every DS_COMM_IDLE_PERIOD seconds while it waits or
// idles (a ping), and one receive stays posted from each peer. When an operation runs past its
// deadline, a peer whose latest heartbeat is older than the operation never reached it (its
// training thread hangs or it died before), and a peer that has sent nothing for several periods
// is frozen or dead (it stopped inside the operation): those are named. The cost is size-1 tiny
// messages per operation and per period, per rank.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/check.h"
#include "comm_internal.h"

#define HB_TAG 7

typedef struct mpi_comm {
    MPI_Comm comm;            // collectives (a duplicate of MPI_COMM_WORLD)
    MPI_Comm hb;              // heartbeats
    int rank, size;
    int64_t *hb_seen;         // [size] latest operation each peer started, -1 before any
    double *last_heard;       // [size] when anything last arrived from each peer (ds_now_seconds)
    double last_ping;         // when this rank last pinged
    int64_t *hb_in;           // [size] receive slots
    MPI_Request *hb_recv;     // [size] the posted receives (MPI_REQUEST_NULL for self)
    int64_t *hb_out;          // [size] send slots
    MPI_Request *hb_send;     // [size]
    int64_t last_seq;         // the latest operation this rank started, -1 before any
    bool initialised_here;    // MPI_Init_thread was ours: finalize it
} mpi_comm;

bool ds_comm_mpi_built(void) { return true; }

static const char *kind_name(ds_comm_op_kind k) {
    return k == DS_COMM_OP_ALLREDUCE ? "all-reduce" : k == DS_COMM_OP_BROADCAST ? "broadcast" : "barrier";
}

// Starts MPI (serialized threads: only the communication thread calls it while it runs) and
// checks that MPI's world is the launcher's.
static ds_status init_mpi(const ds_world *w, bool *initialised_here, ds_err *err) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    DS_REQUIRE(err, !finalized, DS_ERR_MPI, "mpi: MPI was already finalized in this process");
    *initialised_here = false;
    if (!inited) {
        int provided = 0;
        DS_MPI_CHECK(err, MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided));
        *initialised_here = true;
        DS_REQUIRE(err, provided >= MPI_THREAD_SERIALIZED, DS_ERR_MPI,
                   "mpi: the MPI library gives thread level %d, below MPI_THREAD_SERIALIZED", provided);
    }
    int size = 0, rank = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    DS_REQUIRE(err, size == w->size, DS_ERR_MPI,
               "mpi: the launcher (%s) says %d ranks but MPI sees %d: under srun pass --mpi=pmix (MPI otherwise "
               "starts every task alone), or use dist.backend=tcp with MASTER_ADDR/MASTER_PORT",
               ds_launcher_name(w->launcher), w->size, size);
    DS_REQUIRE(err, rank == w->rank, DS_ERR_MPI, "mpi: the launcher says rank %d but MPI says rank %d", w->rank, rank);
    return DS_OK;
}

static void post_hb_recv(mpi_comm *m, int p) {
    MPI_Irecv(&m->hb_in[p], 1, MPI_INT64_T, p, HB_TAG, m->hb, &m->hb_recv[p]);
}

// Records every heartbeat that arrived and posts the next receive.
static void drain_heartbeats(mpi_comm *m) {
    for (int p = 0; p < m->size; p++) {
        for (;;) {
            if (p == m->rank || m->hb_recv[p] == MPI_REQUEST_NULL) break;
            int done = 0;
            MPI_Test(&m->hb_recv[p], &done, MPI_STATUS_IGNORE);
            if (!done) break;
            if (m->hb_in[p] > m->hb_seen[p]) m->hb_seen[p] = m->hb_in[p];
            m->last_heard[p] = ds_now_seconds();
            post_hb_recv(m, p);
        }
    }
}

// Tells every peer that this rank is alive (and the latest operation it started), at most once a
// period; a peer whose previous message is still in flight is skipped this time.
static void ping(mpi_comm *m) {
    const double now = ds_now_seconds();
    if (now - m->last_ping < DS_COMM_IDLE_PERIOD) return;
    m->last_ping = now;
    for (int p = 0; p < m->size; p++) {
        if (p == m->rank) continue;
        int done = 1;
        if (m->hb_send[p] != MPI_REQUEST_NULL) MPI_Test(&m->hb_send[p], &done, MPI_STATUS_IGNORE);
        if (!done) continue;
        m->hb_out[p] = m->last_seq;
        MPI_Isend(&m->hb_out[p], 1, MPI_INT64_T, p, HB_TAG, m->hb, &m->hb_send[p]);
    }
}

static void mpi_idle(void *impl) {
    mpi_comm *m = impl;
    drain_heartbeats(m);
    ping(m);
}

// Polls *req until it completes or the deadline passes; 1 done, 0 timed out. may_ping: keep
// pinging meanwhile (not while req is itself a heartbeat's send).
static int test_until(mpi_comm *m, MPI_Request *req, double deadline, bool may_ping) {
    long pause_ns = 0;  // no pause at first: most operations finish within microseconds of polling
    for (int polls = 0;; polls++) {
        int done = 0;
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        drain_heartbeats(m);
        if (done) return 1;
        if (ds_now_seconds() > deadline) return 0;
        if (may_ping) ping(m);
        if (polls > 64) {
            // Sleep a little between polls so that this thread leaves the cores to the compute
            // threads; 200 us at most keeps the latency it adds to an operation small.
            pause_ns = pause_ns ? (pause_ns * 2 > 200000 ? 200000 : pause_ns * 2) : 1000;
            const struct timespec ts = {0, pause_ns};
            nanosleep(&ts, NULL);
        }
    }
}

static ds_status send_heartbeats(mpi_comm *m, int64_t seq, double deadline, ds_err *err) {
    for (int p = 0; p < m->size; p++) {
        if (p == m->rank) continue;
        if (m->hb_send[p] != MPI_REQUEST_NULL && !test_until(m, &m->hb_send[p], deadline, false))
            return ds_err_set(err, DS_ERR_MPI, "mpi: rank %d did not take a heartbeat in time (dist.timeout_s)", p);
        m->hb_out[p] = seq;
        MPI_Isend(&m->hb_out[p], 1, MPI_INT64_T, p, HB_TAG, m->hb, &m->hb_send[p]);
    }
    m->last_ping = ds_now_seconds();
    return DS_OK;
}

// A peer silent for this long while this rank waited is taken for frozen or dead: several ping
// periods, so that a live peer's pings cannot all be late.
#define SILENT_S (4 * DS_COMM_IDLE_PERIOD)

static ds_status timed_out(mpi_comm *m, const ds_comm_op *op, double timeout_s, ds_err *err) {
    drain_heartbeats(m);
    const double now = ds_now_seconds();
    char who[512] = "";
    size_t n = 0;
    int named = 0;
    for (int p = 0; p < m->size && n < sizeof who - 96; p++) {
        if (p == m->rank) continue;
        const bool behind = m->hb_seen[p] < (int64_t)op->seq;
        const bool silent = timeout_s > SILENT_S && now - m->last_heard[p] > SILENT_S;
        if (!behind && !silent) continue;
        n += (size_t)snprintf(who + n, sizeof who - n, "%srank %d ", named ? "; " : "", p);
        if (behind)
            n += (size_t)snprintf(who + n, sizeof who - n, "(last seen at operation #%lld) never reached it",
                                  (long long)m->hb_seen[p]);
        else
            n += (size_t)snprintf(who + n, sizeof who - n, "stopped answering inside it (silent for %.1f s)",
                                  now - m->last_heard[p]);
        named++;
    }
    if (named)
        return ds_err_set(err, DS_ERR_MPI, "mpi: rank %d waited %.0f s (dist.timeout_s) in %s #%llu: %s (dead or hung)",
                          m->rank, timeout_s, kind_name(op->kind), (unsigned long long)op->seq, who);
    return ds_err_set(err, DS_ERR_MPI,
                      "mpi: rank %d waited %.0f s (dist.timeout_s) in %s #%llu: every rank started it and still "
                      "answers, but it did not complete (the network stalled?)",
                      m->rank, timeout_s, kind_name(op->kind), (unsigned long long)op->seq);
}

static MPI_Datatype mpi_type(ds_dtype d) {
    return d == DS_F32 ? MPI_FLOAT : d == DS_F64 ? MPI_DOUBLE : d == DS_I64 ? MPI_INT64_T : MPI_BYTE;
}

static ds_status mpi_run(void *impl, ds_comm_op *op, double deadline, ds_err *err) {
    mpi_comm *m = impl;
    DS_REQUIRE(err, !op->on_device, DS_ERR_INVALID_ARG, "mpi: device buffers need dist.backend nccl");
    const double timeout_s = deadline - ds_now_seconds();
    m->last_seq = (int64_t)op->seq;
    DS_TRY(send_heartbeats(m, (int64_t)op->seq, deadline, err));
    MPI_Request req = MPI_REQUEST_NULL;
    if (op->kind == DS_COMM_OP_ALLREDUCE)
        DS_MPI_CHECK(err, MPI_Iallreduce(MPI_IN_PLACE, op->buf, (int)op->count, mpi_type(op->dtype), MPI_SUM, m->comm,
                                         &req));
    else if (op->kind == DS_COMM_OP_BROADCAST)
        DS_MPI_CHECK(err, MPI_Ibcast(op->buf, (int)op->count, MPI_BYTE, op->root, m->comm, &req));
    else
        DS_MPI_CHECK(err, MPI_Ibarrier(m->comm, &req));
    if (!test_until(m, &req, deadline, true)) return timed_out(m, op, timeout_s, err);
    return DS_OK;
}

static void free_state(mpi_comm *m) {
    free(m->hb_seen);
    free(m->last_heard);
    free(m->hb_in);
    free(m->hb_recv);
    free(m->hb_out);
    free(m->hb_send);
    free(m);
}

static void mpi_close(void *impl, bool abort) {
    mpi_comm *m = impl;
    if (abort) {
        fflush(stdout);
        fflush(stderr);
        // mpirun forwards a rank's output asynchronously and may tear the job down before it has
        // read this rank's last lines (the message naming the failed rank): give it a moment.
        const struct timespec pause = {0, 500 * 1000 * 1000};
        nanosleep(&pause, NULL);
        MPI_Abort(MPI_COMM_WORLD, 1);  // ends every rank of the job; does not return
        return;
    }
    // Every rank issued the same operations, so each peer's last heartbeat is ours: take them all
    // before cancelling the receives, so that no message is left unmatched at MPI_Finalize.
    const double deadline = ds_now_seconds() + 5;
    for (int p = 0; p < m->size; p++) {
        while (p != m->rank && m->hb_seen[p] < m->last_seq && ds_now_seconds() < deadline) drain_heartbeats(m);
        if (m->hb_recv[p] != MPI_REQUEST_NULL) {
            MPI_Cancel(&m->hb_recv[p]);
            MPI_Wait(&m->hb_recv[p], MPI_STATUS_IGNORE);
        }
        if (m->hb_send[p] != MPI_REQUEST_NULL) MPI_Wait(&m->hb_send[p], MPI_STATUS_IGNORE);
    }
    MPI_Comm_free(&m->hb);
    MPI_Comm_free(&m->comm);
    if (m->initialised_here) MPI_Finalize();
    free_state(m);
}

static const ds_comm_backend_ops k_mpi_ops = {
    .backend = DS_COMM_MPI, .thread_start = NULL, .on_enqueue = NULL, .run = mpi_run, .close = mpi_close,
    .idle = mpi_idle};

ds_status ds_comm_mpi_open(const ds_world *w, const ds_comm_options *o, const ds_log *log,
                           const ds_comm_backend_ops **ops, void **impl, ds_err *err) {
    (void)o;
    mpi_comm *m = calloc(1, sizeof *m);
    DS_REQUIRE(err, m != NULL, DS_ERR_OOM, "mpi communicator: out of memory");
    const size_t n = (size_t)w->size;
    m->hb_seen = malloc(n * sizeof *m->hb_seen);
    m->last_heard = malloc(n * sizeof *m->last_heard);
    m->hb_in = malloc(n * sizeof *m->hb_in);
    m->hb_recv = malloc(n * sizeof *m->hb_recv);
    m->hb_out = malloc(n * sizeof *m->hb_out);
    m->hb_send = malloc(n * sizeof *m->hb_send);
    if (!m->hb_seen || !m->last_heard || !m->hb_in || !m->hb_recv || !m->hb_out || !m->hb_send) {
        free_state(m);
        return ds_err_set(err, DS_ERR_OOM, "mpi communicator: out of memory");
    }
    const ds_status st = init_mpi(w, &m->initialised_here, err);
    if (st != DS_OK) {
        if (m->initialised_here) MPI_Finalize();
        free_state(m);
        return st;
    }
    m->rank = w->rank;
    m->size = w->size;
    m->last_seq = -1;
    MPI_Comm_dup(MPI_COMM_WORLD, &m->comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &m->hb);
    MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(m->hb, MPI_ERRORS_RETURN);
    for (int p = 0; p < m->size; p++) {
        m->hb_seen[p] = -1;
        m->last_heard[p] = ds_now_seconds();
        m->hb_recv[p] = MPI_REQUEST_NULL;
        m->hb_send[p] = MPI_REQUEST_NULL;
        if (p != m->rank) post_hb_recv(m, p);
    }
    if (log) {
        char version[MPI_MAX_LIBRARY_VERSION_STRING];
        int len = 0;
        MPI_Get_library_version(version, &len);
        char *nl = strchr(version, ',');
        if (nl) *nl = '\0';
        DS_LOG_INFO(log, "mpi communicator: %d ranks (%s)", m->size, version);
    }
    *ops = &k_mpi_ops;
    *impl = m;
    return DS_OK;
}

ds_status ds_comm_mpi_share_blob(const ds_world *w, void *blob, size_t bytes, ds_err *err) {
    bool here = false;
    DS_TRY(init_mpi(w, &here, err));
    DS_MPI_CHECK(err, MPI_Bcast(blob, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD));
    return DS_OK;
}

void ds_comm_mpi_finish(bool abort) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited || finalized) return;
    if (abort) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
}
