// The tcp communicator: a star through rank 0 over plain sockets (see comm.h), and the TCP
// bootstrap that ships a blob (NCCL's unique id) from rank 0 to the others.
//
// Rendezvous: rank 0 listens on MASTER_PORT; every other rank connects to MASTER_ADDR:MASTER_PORT
// (retrying until the deadline, since rank 0 may start later) and sends a hello naming its rank
// and world size; rank 0 checks them (each rank once, the same world size) and answers each with
// an acknowledgement. Every message of an operation starts with a header (kind, sequence number,
// bytes) that rank 0 compares with its own, so ranks that issued different collectives fail with a
// message instead of exchanging garbage.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "comm_internal.h"
#include "tcp_socket.h"

#define TCP_MAGIC 0x43544344u  // "DCTC"
#define TCP_VERSION 1u
#define SCRATCH_BYTES (1u << 20)  // rank 0 receives a peer's buffer in pieces of this size

typedef struct tcp_hello {
    uint32_t magic, version;
    int32_t rank, size;
} tcp_hello;

typedef struct tcp_header {
    uint32_t magic, kind;
    uint64_t seq, bytes;
} tcp_header;

typedef struct tcp_comm {
    int rank, size;
    int *fds;       // [size]: rank 0 holds fds[1..size-1]; another rank holds fds[0]; -1 elsewhere
    char *scratch;  // (SCRATCH_BYTES) host, rank 0 only
} tcp_comm;

static const char *const k_kind_names[] = {"all-reduce", "broadcast", "barrier"};

static void close_all(int *fds, int size) {
    for (int r = 0; r < size; r++) {
        ds_tcp_close(fds[r]);
        fds[r] = -1;
    }
}

// Rank 0's side of the rendezvous: accepts size-1 ranks by deadline into fds[rank].
static ds_status accept_ranks(const ds_world *w, double deadline, int *fds, ds_err *err) {
    int listen_fd = -1;
    DS_TRY(ds_tcp_listen(w->master_port, &listen_fd, err));
    ds_status st = DS_OK;
    for (int joined = 0; joined < w->size - 1 && st == DS_OK;) {
        int fd = -1;
        ds_err e;
        ds_err_clear(&e);
        if (ds_tcp_accept(listen_fd, deadline, &fd, &e) != DS_OK) {
            char missing[256] = "";
            size_t n = 0;
            for (int r = 1; r < w->size && n < sizeof missing - 16; r++)
                if (fds[r] < 0) n += (size_t)snprintf(missing + n, sizeof missing - n, "%s%d", n ? ", " : "", r);
            st = ds_err_set(err, DS_ERR_IO,
                            "tcp rendezvous: rank(s) %s did not connect to port %d in time (dist.timeout_s): a rank "
                            "did not start, or MASTER_ADDR/MASTER_PORT differ between ranks",
                            missing, w->master_port);
            break;
        }
        tcp_hello h;
        st = ds_tcp_recv_all(fd, &h, sizeof h, deadline, -1, "the rendezvous (hello)", err);
        if (st == DS_OK && (h.magic != TCP_MAGIC || h.version != TCP_VERSION))
            st = ds_err_set(err, DS_ERR_IO, "tcp rendezvous: a connection to port %d is not a downstream rank",
                            w->master_port);
        if (st == DS_OK && (h.size != w->size || h.rank <= 0 || h.rank >= w->size || fds[h.rank] >= 0))
            st = ds_err_set(err, DS_ERR_CONFIG,
                            "tcp rendezvous: a process says it is rank %d of %d, but rank 0 has a world of %d%s", h.rank,
                            h.size, w->size, h.rank > 0 && h.rank < w->size && fds[h.rank] >= 0 ? " and that rank already joined" : "");
        if (st != DS_OK) {
            ds_tcp_close(fd);
            break;
        }
        fds[h.rank] = fd;
        joined++;
    }
    ds_tcp_close(listen_fd);
    for (int r = 1; r < w->size && st == DS_OK; r++) {
        const tcp_hello ack = {TCP_MAGIC, TCP_VERSION, 0, w->size};
        st = ds_tcp_send_all(fds[r], &ack, sizeof ack, deadline, r, "the rendezvous (acknowledgement)", err);
    }
    return st;
}

// Another rank's side: connects to rank 0 into fds[0].
static ds_status join_rank0(const ds_world *w, double deadline, int *fds, ds_err *err) {
    DS_TRY(ds_tcp_connect(w->master_addr, w->master_port, deadline, &fds[0], err));
    const tcp_hello h = {TCP_MAGIC, TCP_VERSION, w->rank, w->size};
    DS_TRY(ds_tcp_send_all(fds[0], &h, sizeof h, deadline, 0, "the rendezvous (hello)", err));
    tcp_hello ack;
    DS_TRY(ds_tcp_recv_all(fds[0], &ack, sizeof ack, deadline, 0, "the rendezvous (acknowledgement)", err));
    DS_REQUIRE(err, ack.magic == TCP_MAGIC && ack.size == w->size, DS_ERR_IO,
               "tcp rendezvous: rank 0 at %s:%d answered with a bad acknowledgement", w->master_addr, w->master_port);
    return DS_OK;
}

static ds_status rendezvous(const ds_world *w, double timeout_s, int *fds, ds_err *err) {
    DS_REQUIRE(err, w->master_port > 0 && (w->rank == 0 || w->master_addr[0]), DS_ERR_CONFIG,
               "tcp rendezvous: set MASTER_ADDR (rank 0's host) and MASTER_PORT (a free port) in every rank's "
               "environment");
    for (int r = 0; r < w->size; r++) fds[r] = -1;
    const double deadline = ds_now_seconds() + timeout_s;
    const ds_status st = w->rank == 0 ? accept_ranks(w, deadline, fds, err) : join_rank0(w, deadline, fds, err);
    if (st != DS_OK) close_all(fds, w->size);
    return st;
}

// ---- operations ------------------------------------------------------------------------------
static ds_status check_header(const tcp_header *got, const tcp_header *want, int peer, ds_err *err) {
    if (got->magic == want->magic && got->kind == want->kind && got->seq == want->seq && got->bytes == want->bytes)
        return DS_OK;
    const char *gk = got->kind < 3 ? k_kind_names[got->kind] : "?";
    return ds_err_set(err, DS_ERR_INTERNAL,
                      "tcp: rank %d is out of step: it issued %s #%llu of %llu bytes where rank 0 issued %s #%llu of "
                      "%llu bytes",
                      peer, gk, (unsigned long long)got->seq, (unsigned long long)got->bytes,
                      k_kind_names[want->kind], (unsigned long long)want->seq, (unsigned long long)want->bytes);
}

static ds_status send_msg(int fd, const tcp_header *h, const void *buf, double deadline, int peer, const char *what,
                          ds_err *err) {
    DS_TRY(ds_tcp_send_all(fd, h, sizeof *h, deadline, peer, what, err));
    return ds_tcp_send_all(fd, buf, h->bytes, deadline, peer, what, err);
}

static ds_status recv_msg(int fd, const tcp_header *want, void *buf, double deadline, int peer, const char *what,
                          ds_err *err) {
    tcp_header got;
    DS_TRY(ds_tcp_recv_all(fd, &got, sizeof got, deadline, peer, what, err));
    DS_TRY(check_header(&got, want, peer, err));
    return ds_tcp_recv_all(fd, buf, want->bytes, deadline, peer, what, err);
}

// Rank 0: receives rank r's buffer piece by piece and adds it into buf, in rank order.
static ds_status root_sum_from(tcp_comm *t, int r, const tcp_header *h, const ds_comm_op *op, double deadline,
                               const char *what, ds_err *err) {
    tcp_header got;
    DS_TRY(ds_tcp_recv_all(t->fds[r], &got, sizeof got, deadline, r, what, err));
    DS_TRY(check_header(&got, h, r, err));
    const size_t esize = ds_comm_dtype_size(op->dtype);
    const size_t per = SCRATCH_BYTES / esize;
    for (int64_t at = 0; at < op->count;) {
        const int64_t n = op->count - at < (int64_t)per ? op->count - at : (int64_t)per;
        DS_TRY(ds_tcp_recv_all(t->fds[r], t->scratch, (size_t)n * esize, deadline, r, what, err));
        ds_comm_sum_into((char *)op->buf + (size_t)at * esize, t->scratch, n, op->dtype);
        at += n;
    }
    return DS_OK;
}

static ds_status tcp_run(void *impl, ds_comm_op *op, double deadline, ds_err *err) {
    tcp_comm *t = impl;
    char what[64];
    snprintf(what, sizeof what, "%s #%llu", k_kind_names[op->kind], (unsigned long long)op->seq);
    DS_REQUIRE(err, !op->on_device, DS_ERR_INVALID_ARG, "tcp: %s: device buffers need dist.backend nccl", what);
    if (op->kind == DS_COMM_OP_BARRIER) {  // an all-reduce of one zero
        int64_t zero = 0;
        ds_comm_op sum = {.kind = DS_COMM_OP_ALLREDUCE, .seq = op->seq, .buf = &zero, .count = 1, .dtype = DS_I64};
        return tcp_run(impl, &sum, deadline, err);
    }
    const size_t bytes = (size_t)op->count * ds_comm_dtype_size(op->dtype);
    const tcp_header h = {TCP_MAGIC, (uint32_t)op->kind, op->seq, bytes};
    if (op->kind == DS_COMM_OP_ALLREDUCE) {
        if (t->rank != 0) {
            DS_TRY(send_msg(t->fds[0], &h, op->buf, deadline, 0, what, err));
            return recv_msg(t->fds[0], &h, op->buf, deadline, 0, what, err);
        }
        for (int r = 1; r < t->size; r++) DS_TRY(root_sum_from(t, r, &h, op, deadline, what, err));
        for (int r = 1; r < t->size; r++) DS_TRY(send_msg(t->fds[r], &h, op->buf, deadline, r, what, err));
        return DS_OK;
    }
    // Broadcast through rank 0. Every other rank first sends its header (the root's payload follows
    // it), so that rank 0 sees ranks that issued something else; then rank 0 sends the payload on.
    if (t->rank != 0) {
        DS_TRY(ds_tcp_send_all(t->fds[0], &h, sizeof h, deadline, 0, what, err));
        if (t->rank == op->root) return ds_tcp_send_all(t->fds[0], op->buf, bytes, deadline, 0, what, err);
        return recv_msg(t->fds[0], &h, op->buf, deadline, 0, what, err);
    }
    for (int r = 1; r < t->size; r++) {
        tcp_header got;
        DS_TRY(ds_tcp_recv_all(t->fds[r], &got, sizeof got, deadline, r, what, err));
        DS_TRY(check_header(&got, &h, r, err));
        if (r == op->root) DS_TRY(ds_tcp_recv_all(t->fds[r], op->buf, bytes, deadline, r, what, err));
    }
    for (int r = 1; r < t->size; r++)
        if (r != op->root) DS_TRY(send_msg(t->fds[r], &h, op->buf, deadline, r, what, err));
    return DS_OK;
}

static void tcp_close(void *impl, bool abort) {
    (void)abort;  // closing the sockets is both the orderly end and the abort: peers see EOF
    tcp_comm *t = impl;
    close_all(t->fds, t->size);
    free(t->fds);
    free(t->scratch);
    free(t);
}

static const ds_comm_backend_ops k_tcp_ops = {
    .backend = DS_COMM_TCP, .thread_start = NULL, .on_enqueue = NULL, .run = tcp_run, .close = tcp_close};

ds_status ds_comm_tcp_open(const ds_world *w, const ds_comm_options *o, const ds_log *log,
                           const ds_comm_backend_ops **ops, void **impl, ds_err *err) {
    tcp_comm *t = calloc(1, sizeof *t);
    DS_REQUIRE(err, t != NULL, DS_ERR_OOM, "tcp communicator: out of memory");
    t->rank = w->rank;
    t->size = w->size;
    t->fds = malloc((size_t)w->size * sizeof *t->fds);
    t->scratch = w->rank == 0 ? malloc(SCRATCH_BYTES) : NULL;
    ds_status st = t->fds && (w->rank != 0 || t->scratch) ? DS_OK
                                                           : ds_err_set(err, DS_ERR_OOM, "tcp communicator: out of memory");
    if (st == DS_OK) st = rendezvous(w, o->timeout_s, t->fds, err);
    if (st != DS_OK) {
        free(t->fds);
        free(t->scratch);
        free(t);
        return st;
    }
    if (log)
        DS_LOG_INFO(log, "tcp communicator: %d ranks joined through %s:%d", w->size,
                    w->rank == 0 ? "this host" : w->master_addr, w->master_port);
    *ops = &k_tcp_ops;
    *impl = t;
    return DS_OK;
}

ds_status ds_comm_tcp_share_blob(const ds_world *w, void *blob, size_t bytes, double timeout_s, ds_err *err) {
    int *fds = malloc((size_t)w->size * sizeof *fds);
    DS_REQUIRE(err, fds != NULL, DS_ERR_OOM, "tcp bootstrap: out of memory");
    for (int r = 0; r < w->size; r++) fds[r] = -1;
    ds_status st = rendezvous(w, timeout_s, fds, err);
    const double deadline = ds_now_seconds() + timeout_s;
    const tcp_header h = {TCP_MAGIC, DS_COMM_OP_BROADCAST, 0, bytes};
    for (int r = 1; st == DS_OK && r < w->size && w->rank == 0; r++)
        st = send_msg(fds[r], &h, blob, deadline, r, "the bootstrap", err);
    if (st == DS_OK && w->rank != 0) st = recv_msg(fds[0], &h, blob, deadline, 0, "the bootstrap", err);
    close_all(fds, w->size);
    free(fds);
    return st;
}
