// The communicator's queue and its communication thread; backend choice; the single-rank world.
#include "comm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/check.h"
#include "comm_internal.h"

#define QUEUE_CAP 1024             // operations in flight (gradient buckets of one step fit easily)
#define CHUNK_ELEMS (1ll << 28)    // an operation larger than this is split: MPI counts are ints

struct ds_comm {
    ds_world world;
    ds_comm_options options;
    ds_comm_backend backend;
    const ds_comm_backend_ops *ops;  // NULL for single
    void *impl;
    bool thread_running;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;    // an op was queued, or stop
    pthread_cond_t done;    // an op finished
    ds_comm_op ring[QUEUE_CAP];
    uint64_t issued;        // ops queued so far (the next op's seq)
    uint64_t finished;      // ops with seq < finished are done (or skipped after a failure)
    bool stop;
    bool failed;
    uint64_t failed_seq;    // the op that failed; later ones were skipped
    ds_err fail_err;
};

ds_comm_options ds_comm_options_default(void) {
    ds_comm_options o;
    memset(&o, 0, sizeof o);
    o.timeout_s = 600;
    return o;
}

ds_comm_backend ds_comm_choose_backend(const ds_world *w, const ds_comm_options *o) {
    if (o->backend != DS_COMM_AUTO) return o->backend;
    if (w->size == 1) return DS_COMM_SINGLE;
    if (o->cuda) return DS_COMM_NCCL;
    return w->launcher == DS_LAUNCHER_TORCHRUN ? DS_COMM_TCP : DS_COMM_MPI;
}

ds_bootstrap ds_comm_choose_bootstrap(const ds_world *w, const ds_comm_options *o) {
    if (o->bootstrap != DS_BOOTSTRAP_AUTO) return o->bootstrap;
    if (o->bootstrap_file && o->bootstrap_file[0]) return DS_BOOTSTRAP_FILE;
    return w->launcher == DS_LAUNCHER_TORCHRUN ? DS_BOOTSTRAP_TCP : DS_BOOTSTRAP_MPI;
}

static const char *const k_backend_names[] = {"auto", "single", "mpi", "tcp", "nccl"};
static const char *const k_bootstrap_names[] = {"auto", "mpi", "file", "tcp"};

const char *ds_comm_backend_name(ds_comm_backend b) {
    return (unsigned)b < sizeof k_backend_names / sizeof k_backend_names[0] ? k_backend_names[b] : "?";
}
bool ds_comm_backend_parse(const char *name, ds_comm_backend *out) {
    for (unsigned i = 0; i < sizeof k_backend_names / sizeof k_backend_names[0]; i++)
        if (strcmp(name, k_backend_names[i]) == 0) {
            *out = (ds_comm_backend)i;
            return true;
        }
    return false;
}
const char *ds_bootstrap_name(ds_bootstrap b) {
    return (unsigned)b < sizeof k_bootstrap_names / sizeof k_bootstrap_names[0] ? k_bootstrap_names[b] : "?";
}
bool ds_bootstrap_parse(const char *name, ds_bootstrap *out) {
    for (unsigned i = 0; i < sizeof k_bootstrap_names / sizeof k_bootstrap_names[0]; i++)
        if (strcmp(name, k_bootstrap_names[i]) == 0) {
            *out = (ds_bootstrap)i;
            return true;
        }
    return false;
}

bool ds_comm_backend_built(ds_comm_backend b) {
    switch (b) {
    case DS_COMM_AUTO:
    case DS_COMM_SINGLE:
    case DS_COMM_TCP: return true;
    case DS_COMM_MPI: return ds_comm_mpi_built();
    case DS_COMM_NCCL: return ds_comm_nccl_built();
    }
    return false;
}

size_t ds_comm_dtype_size(ds_dtype dtype) {
    switch (dtype) {
    case DS_F32: return 4;
    case DS_F64:
    case DS_I64: return 8;
    case DS_U8: return 1;
    default: return 0;
    }
}

void ds_comm_sum_into(void *dst, const void *src, int64_t count, ds_dtype dtype) {
    if (dtype == DS_F32) {
        float *d = dst;  // (count) host
        const float *s = src;
        for (int64_t i = 0; i < count; i++) d[i] += s[i];
    } else if (dtype == DS_F64) {
        double *d = dst;
        const double *s = src;
        for (int64_t i = 0; i < count; i++) d[i] += s[i];
    } else if (dtype == DS_I64) {
        int64_t *d = dst;
        const int64_t *s = src;
        for (int64_t i = 0; i < count; i++) d[i] += s[i];
    }
}

// ---- the communication thread ----------------------------------------------------------------
static void *comm_thread(void *arg) {
    ds_comm *c = arg;
    ds_err err;
    ds_err_clear(&err);
    ds_status st = c->ops->thread_start ? c->ops->thread_start(c->impl, &err) : DS_OK;
    pthread_mutex_lock(&c->mu);
    if (st != DS_OK) {
        c->failed = true;
        c->failed_seq = 0;
        c->fail_err = err;
    }
    for (;;) {
        while (c->finished == c->issued && !c->stop) {
            if (!c->ops->idle) {
                pthread_cond_wait(&c->work, &c->mu);
                continue;
            }
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);  // pthread_cond_timedwait's clock
            const long ns = until.tv_nsec + (long)(DS_COMM_IDLE_PERIOD * 1e9);
            until.tv_sec += ns / 1000000000L;
            until.tv_nsec = ns % 1000000000L;
            if (pthread_cond_timedwait(&c->work, &c->mu, &until) == ETIMEDOUT && !c->failed) {
                pthread_mutex_unlock(&c->mu);
                c->ops->idle(c->impl);
                pthread_mutex_lock(&c->mu);
            }
        }
        if (c->finished == c->issued) break;  // stop, and nothing left
        ds_comm_op op = c->ring[c->finished % QUEUE_CAP];
        const bool skip = c->failed;
        pthread_mutex_unlock(&c->mu);
        ds_err_clear(&err);
        st = skip ? DS_OK : c->ops->run(c->impl, &op, ds_now_seconds() + c->options.timeout_s, &err);
        pthread_mutex_lock(&c->mu);
        if (st != DS_OK && !c->failed) {
            c->failed = true;
            c->failed_seq = op.seq;
            c->fail_err = err;
            c->fail_err.status = st;
        }
        c->finished++;
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static ds_status failure(const ds_comm *c, ds_err *err) {
    return ds_err_set(err, c->fail_err.status, "%s", c->fail_err.msg);
}

// Queues one op (on the caller's thread); *seq receives its sequence number.
static ds_status enqueue(ds_comm *c, ds_comm_op op, uint64_t *seq, ds_err *err) {
    pthread_mutex_lock(&c->mu);
    while (!c->failed && c->issued - c->finished >= QUEUE_CAP) pthread_cond_wait(&c->done, &c->mu);
    if (c->failed) {
        pthread_mutex_unlock(&c->mu);
        return failure(c, err);
    }
    op.seq = c->issued;
    ds_status st = c->ops->on_enqueue ? c->ops->on_enqueue(c->impl, &op, err) : DS_OK;
    if (st == DS_OK) {
        c->ring[op.seq % QUEUE_CAP] = op;
        c->issued++;
        *seq = op.seq;
        pthread_cond_signal(&c->work);
    }
    pthread_mutex_unlock(&c->mu);
    return st;
}

ds_status ds_comm_wait(ds_comm *c, ds_comm_ticket ticket, ds_err *err) {
    if (!c->ops || ticket == DS_COMM_TICKET_NONE) return DS_OK;
    pthread_mutex_lock(&c->mu);
    // The thread finishes or fails every op by its deadline, so this wait ends.
    while (c->finished <= ticket) pthread_cond_wait(&c->done, &c->mu);
    const bool bad = c->failed && ticket >= c->failed_seq;
    pthread_mutex_unlock(&c->mu);
    return bad ? failure(c, err) : DS_OK;
}

// Queues an op, split into chunks of CHUNK_ELEMS elements; the ticket is the last chunk's.
static ds_status enqueue_chunked(ds_comm *c, ds_comm_op op, ds_comm_ticket *ticket, ds_err *err) {
    const size_t esize = ds_comm_dtype_size(op.dtype);
    const int64_t total = op.count;
    int64_t at = 0;
    do {
        ds_comm_op part = op;
        part.count = total - at < CHUNK_ELEMS ? total - at : CHUNK_ELEMS;
        part.buf = (char *)op.buf + (size_t)at * esize;
        DS_TRY(enqueue(c, part, ticket, err));
        at += part.count;
    } while (at < total);
    return DS_OK;
}

// A blocking sum of buf in host or (on_device) device memory.
static ds_status allreduce_blocking(ds_comm *c, void *buf, int64_t count, ds_dtype dtype, bool on_device,
                                   ds_err *err) {
    DS_REQUIRE(err, dtype == DS_F32 || dtype == DS_F64 || dtype == DS_I64, DS_ERR_INVALID_ARG,
               "all-reduce: dtype %s is not summed (F32, F64, I64)", ds_dtype_name(dtype));
    DS_REQUIRE(err, count >= 0, DS_ERR_INVALID_ARG, "all-reduce: negative count %lld", (long long)count);
    DS_REQUIRE(err, !on_device || !c->ops || c->backend == DS_COMM_NCCL, DS_ERR_INVALID_ARG,
               "all-reduce of device memory: dist.backend %s sums host memory only (use nccl)",
               ds_comm_backend_name(c->backend));
    if (!c->ops || count == 0) return DS_OK;
    const ds_comm_op op = {.kind = DS_COMM_OP_ALLREDUCE, .buf = buf, .count = count, .dtype = dtype,
                           .on_device = on_device};
    ds_comm_ticket t = 0;
    DS_TRY(enqueue_chunked(c, op, &t, err));
    return ds_comm_wait(c, t, err);
}

// ---- public operations -----------------------------------------------------------------------
ds_status ds_comm_allreduce_sum(ds_comm *c, void *buf, int64_t count, ds_dtype dtype, ds_err *err) {
    return allreduce_blocking(c, buf, count, dtype, false, err);
}

ds_status ds_comm_allreduce_sum_device(ds_comm *c, void *buf, int64_t count, ds_dtype dtype, ds_err *err) {
    return allreduce_blocking(c, buf, count, dtype, true, err);
}

ds_status ds_comm_broadcast(ds_comm *c, void *buf, size_t bytes, int root, ds_err *err) {
    DS_REQUIRE(err, root >= 0 && root < c->world.size, DS_ERR_INVALID_ARG, "broadcast: root %d is not a rank of %d",
               root, c->world.size);
    if (!c->ops || bytes == 0) return DS_OK;
    const ds_comm_op op = {.kind = DS_COMM_OP_BROADCAST, .buf = buf, .count = (int64_t)bytes, .dtype = DS_U8,
                           .root = root};
    ds_comm_ticket t = 0;
    DS_TRY(enqueue_chunked(c, op, &t, err));
    return ds_comm_wait(c, t, err);
}

ds_status ds_comm_barrier(ds_comm *c, ds_err *err) {
    if (!c->ops) return DS_OK;
    const ds_comm_op op = {.kind = DS_COMM_OP_BARRIER, .dtype = DS_U8};
    ds_comm_ticket t = 0;
    DS_TRY(enqueue(c, op, &t, err));
    return ds_comm_wait(c, t, err);
}

ds_status ds_comm_iallreduce_sum(ds_comm *c, float *buf, int64_t count, ds_comm_ticket *ticket, ds_err *err) {
    DS_REQUIRE(err, count >= 0, DS_ERR_INVALID_ARG, "all-reduce: negative count %lld", (long long)count);
    *ticket = DS_COMM_TICKET_NONE;
    if (!c->ops || count == 0) return DS_OK;
    const ds_comm_op op = {.kind = DS_COMM_OP_ALLREDUCE, .buf = buf, .count = count, .dtype = DS_F32,
                           .on_device = c->backend == DS_COMM_NCCL};
    return enqueue_chunked(c, op, ticket, err);
}

// ---- lifetime --------------------------------------------------------------------------------
ds_status ds_comm_open(const ds_world *w, const ds_comm_options *o, const ds_log *log, ds_comm **out, ds_err *err) {
    *out = NULL;
    const ds_comm_backend b = ds_comm_choose_backend(w, o);
    DS_REQUIRE(err, o->timeout_s > 0, DS_ERR_CONFIG, "dist.timeout_s must be > 0, got %g", o->timeout_s);
    DS_REQUIRE(err, ds_comm_backend_built(b), DS_ERR_UNSUPPORTED,
               "dist.backend %s: this build has no %s support (%s)", ds_comm_backend_name(b), ds_comm_backend_name(b),
               b == DS_COMM_MPI ? "install libopenmpi-dev (scripts/setup_deps.sh) and rebuild, or use dist.backend=tcp"
                                : "build with CUDA and NCCL");
    ds_comm *c = calloc(1, sizeof *c);
    DS_REQUIRE(err, c != NULL, DS_ERR_OOM, "communicator: out of memory");
    c->world = *w;
    c->options = *o;
    c->backend = b;
    ds_status st = DS_OK;
    if (b == DS_COMM_MPI) st = ds_comm_mpi_open(w, o, log, &c->ops, &c->impl, err);
    else if (b == DS_COMM_TCP) st = ds_comm_tcp_open(w, o, log, &c->ops, &c->impl, err);
    else if (b == DS_COMM_NCCL) st = ds_comm_nccl_open(w, o, log, &c->ops, &c->impl, err);
    else if (w->size != 1) st = ds_err_set(err, DS_ERR_CONFIG, "dist.backend single: the world has %d ranks", w->size);
    if (st != DS_OK) {
        free(c);
        return st;
    }
    if (c->ops) {
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->work, NULL);
        pthread_cond_init(&c->done, NULL);
        const int rc = pthread_create(&c->thread, NULL, comm_thread, c);
        if (rc != 0) {
            c->ops->close(c->impl, true);
            free(c);
            return ds_err_set(err, DS_ERR_INTERNAL, "communicator: cannot start its thread: %s", strerror(rc));
        }
        c->thread_running = true;
    }
    *out = c;
    return DS_OK;
}

static void stop_thread(ds_comm *c) {
    if (!c->thread_running) return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    c->thread_running = false;
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
}

static void end(ds_comm *c, bool abort) {
    if (!c) return;
    if (c->ops) {
        // After a failure the queue is skipped, not run, so the join is quick either way.
        if (abort) {
            pthread_mutex_lock(&c->mu);
            if (!c->failed) {
                c->failed = true;
                c->failed_seq = c->finished;
                ds_err_set(&c->fail_err, DS_ERR_INTERNAL, "the communicator was aborted");
            }
            pthread_mutex_unlock(&c->mu);
        }
        stop_thread(c);
        c->ops->close(c->impl, abort);
    }
    free(c);
}

void ds_comm_close(ds_comm *c) { end(c, c && ds_comm_failed(c)); }
void ds_comm_abort(ds_comm *c) { end(c, true); }

int ds_comm_rank(const ds_comm *c) { return c->world.rank; }
int ds_comm_size(const ds_comm *c) { return c->world.size; }
ds_comm_backend ds_comm_backend_of(const ds_comm *c) { return c->backend; }
double ds_comm_timeout(const ds_comm *c) { return c->options.timeout_s; }

bool ds_comm_failed(ds_comm *c) {
    if (!c->ops) return false;
    pthread_mutex_lock(&c->mu);
    const bool f = c->failed;
    pthread_mutex_unlock(&c->mu);
    return f;
}
