// The communicator without launchers: two ranks as two threads of this process joined by the tcp
// backend over loopback (the communicator holds no global state, so two live side by side).
// Sums of every dtype (and a buffer larger than rank 0's receive piece), broadcasts from either
// root, non-blocking tickets, ranks out of step, a peer that hangs (named, within the timeout), a
// peer that died, rendezvous failures, the file and tcp bootstraps, the single-rank world, and
// the gradient buckets' plan and hand-over.
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../runtime/base/check.h"
#include "../../runtime/base/log.h"
#include "../../runtime/dist/comm.h"
#include "../../runtime/dist/comm_internal.h"
#include "../../runtime/dist/grad_sync.h"
#include "../test_util.h"

// A port nobody listens on right now (bind to port 0 and give it back; a tiny race, fine here).
static int free_port(void) {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static void sleep_s(double s) {
    const struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

// One rank's part in a two-rank scenario.
typedef struct rank_job {
    ds_world world;
    double timeout_s;
    int scenario;
    ds_status open_status, status;
    ds_err err;
    double seconds;       // how long the failing operation took
    bool later_op_failed; // after a failure, the next operation failed at once with the same message
    // results
    float f32[6];
    double f64[2];
    int64_t i64[2];
    float big_first, big_last;
    char bcast1[16], bcast0[16];
    float buckets[3][4];
} rank_job;

enum { SC_OPS = 0, SC_OUT_OF_STEP, SC_HANG, SC_DEAD };

#define BIG_N (600 * 1000)  // 2.4 MB of floats: more than rank 0's 1 MiB receive piece

static ds_status run_ops(ds_comm *c, rank_job *j) {
    ds_err *err = &j->err;
    const int r = j->world.rank;
    for (int i = 0; i < 6; i++) j->f32[i] = (float)(i + 1) * (r == 0 ? 1.0f : 0.25f);
    DS_TRY(ds_comm_allreduce_sum(c, j->f32, 6, DS_F32, err));
    j->f64[0] = r == 0 ? 1e16 : 1.0;  // 1e16 + 1 is exact in double, not in float
    j->f64[1] = -0.5 * r;
    DS_TRY(ds_comm_allreduce_sum(c, j->f64, 2, DS_F64, err));
    j->i64[0] = r == 0 ? (1ll << 40) : 7;
    j->i64[1] = -3;
    DS_TRY(ds_comm_allreduce_sum(c, j->i64, 2, DS_I64, err));
    float *big = malloc(BIG_N * sizeof *big);  // (BIG_N) host
    if (!big) return ds_err_set(err, DS_ERR_OOM, "big");
    for (int i = 0; i < BIG_N; i++) big[i] = (float)(i % 1000) + (float)r;
    ds_status st = ds_comm_allreduce_sum(c, big, BIG_N, DS_F32, err);
    j->big_first = big[0];
    j->big_last = big[BIG_N - 1];
    free(big);
    DS_TRY(st);
    snprintf(j->bcast1, sizeof j->bcast1, "from rank %d", r);
    DS_TRY(ds_comm_broadcast(c, j->bcast1, sizeof j->bcast1, 1, err));
    snprintf(j->bcast0, sizeof j->bcast0, "from rank %d", r);
    DS_TRY(ds_comm_broadcast(c, j->bcast0, sizeof j->bcast0, 0, err));
    DS_TRY(ds_comm_barrier(c, err));
    // Device memory through a host communicator: refused before anything is sent, the
    // communicator still usable (the buckets below).
    double dev_sum = 0;
    if (ds_comm_allreduce_sum_device(c, &dev_sum, 1, DS_F64, err) != DS_ERR_INVALID_ARG ||
        strstr(err->msg, "sums host memory only (use nccl)") == NULL)
        return ds_err_set(err, DS_ERR_INTERNAL, "a device all-reduce on tcp was not refused (%s)", err->msg);
    ds_err_clear(err);
    ds_comm_ticket tk[3];
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < 4; i++) j->buckets[b][i] = (float)(b * 10 + i + r);
        DS_TRY(ds_comm_iallreduce_sum(c, j->buckets[b], 4, &tk[b], err));
    }
    for (int b = 2; b >= 0; b--) DS_TRY(ds_comm_wait(c, tk[b], err));
    return DS_OK;
}

static void *rank_main(void *arg) {
    rank_job *j = arg;
    ds_err_clear(&j->err);
    ds_comm_options o = ds_comm_options_default();
    o.backend = DS_COMM_TCP;
    o.timeout_s = j->timeout_s;
    ds_comm *c = NULL;
    j->open_status = ds_comm_open(&j->world, &o, NULL, &c, &j->err);
    if (j->open_status != DS_OK) return NULL;
    const int r = j->world.rank;
    float x[4] = {1, 2, 3, 4};
    const double t0 = ds_now_seconds();
    if (j->scenario == SC_OPS) {
        j->status = run_ops(c, j);
    } else if (j->scenario == SC_OUT_OF_STEP) {
        j->status = r == 0 ? ds_comm_allreduce_sum(c, x, 4, DS_F32, &j->err)
                           : ds_comm_broadcast(c, x, sizeof x, 0, &j->err);
    } else if (j->scenario == SC_HANG) {
        if (r == 1) sleep_s(3 * j->timeout_s);  // hangs past rank 0's deadline, then finds it gone
        j->status = ds_comm_allreduce_sum(c, x, 4, DS_F32, &j->err);
    } else if (j->scenario == SC_DEAD) {
        if (r == 1) {
            ds_comm_abort(c);  // dies: its sockets close
            return NULL;
        }
        j->status = ds_comm_allreduce_sum(c, x, 4, DS_F32, &j->err);
    }
    j->seconds = ds_now_seconds() - t0;
    if (j->status != DS_OK) {
        ds_err again;
        ds_err_clear(&again);
        j->later_op_failed = ds_comm_barrier(c, &again) != DS_OK && strcmp(again.msg, j->err.msg) == 0 &&
                             ds_comm_failed(c);
        ds_comm_abort(c);
    } else {
        ds_comm_close(c);
    }
    return NULL;
}

static void run_pair(rank_job jobs[2], int scenario, double timeout_s) {
    const int port = free_port();
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r].world = ds_world_single();
        jobs[r].world.launcher = DS_LAUNCHER_TORCHRUN;
        jobs[r].world.rank = r;
        jobs[r].world.size = 2;
        snprintf(jobs[r].world.master_addr, sizeof jobs[r].world.master_addr, "127.0.0.1");
        jobs[r].world.master_port = port;
        jobs[r].timeout_s = timeout_s;
        jobs[r].scenario = scenario;
        pthread_create(&th[r], NULL, rank_main, &jobs[r]);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
}

static void test_ops(ds_test *t) {
    rank_job j[2];
    run_pair(j, SC_OPS, 10);
    for (int r = 0; r < 2; r++) {
        ds_test_check(t, j[r].open_status == DS_OK && j[r].status == DS_OK, "rank %d: every operation succeeds (%s)", r,
                      j[r].err.msg);
        bool f32 = true;
        for (int i = 0; i < 6; i++) f32 = f32 && j[r].f32[i] == (float)(i + 1) * 1.25f;  // exact: binary fractions
        ds_test_check(t, f32, "rank %d: F32 sum", r);
        ds_test_check(t, j[r].f64[0] == 1e16 + 1.0 && j[r].f64[1] == -0.5, "rank %d: F64 sum in double (%.17g)", r,
                      j[r].f64[0]);
        ds_test_check(t, j[r].i64[0] == (1ll << 40) + 7 && j[r].i64[1] == -6, "rank %d: I64 sum", r);
        ds_test_check(t, j[r].big_first == 1.0f && j[r].big_last == 2.0f * 999.0f + 1.0f,
                      "rank %d: a 2.4 MB sum arrives whole (%g, %g)", r, j[r].big_first, j[r].big_last);
        ds_test_check(t, strcmp(j[r].bcast1, "from rank 1") == 0 && strcmp(j[r].bcast0, "from rank 0") == 0,
                      "rank %d: broadcasts from root 1 and root 0 ('%s', '%s')", r, j[r].bcast1, j[r].bcast0);
        bool buckets = true;
        for (int b = 0; b < 3; b++)
            for (int i = 0; i < 4; i++) buckets = buckets && j[r].buckets[b][i] == (float)(2 * (b * 10 + i) + 1);
        ds_test_check(t, buckets, "rank %d: three non-blocking sums, waited in reverse order", r);
    }
}

static void test_failures(ds_test *t) {
    rank_job j[2];
    run_pair(j, SC_OUT_OF_STEP, 5);
    ds_test_check(t, j[0].status == DS_ERR_INTERNAL && strstr(j[0].err.msg, "rank 1 is out of step") &&
                         strstr(j[0].err.msg, "broadcast") && strstr(j[0].err.msg, "all-reduce"),
                  "ranks issuing different collectives: rank 0 names rank 1 and both operations (%s)", j[0].err.msg);
    ds_test_check(t, j[1].status != DS_OK && strstr(j[1].err.msg, "rank 0"), "rank 1 fails too, naming rank 0 (%s)",
                  j[1].err.msg);
    ds_test_check(t, j[0].later_op_failed, "after a failure the next operation fails at once with the same message");

    const double timeout = 0.5;
    run_pair(j, SC_HANG, timeout);
    ds_test_check(t, j[0].status == DS_ERR_IO && strstr(j[0].err.msg, "rank 1 did not answer"),
                  "a hung rank is named (%s)", j[0].err.msg);
    // The deadline is the timeout from the operation's start; 2x leaves room for a loaded machine.
    ds_test_check(t, j[0].seconds >= timeout * 0.9 && j[0].seconds < 2 * timeout,
                  "rank 0 gives up after the timeout (%.2f s for %.2f s)", j[0].seconds, timeout);
    ds_test_check(t, j[1].status != DS_OK && strstr(j[1].err.msg, "rank 0 closed the connection"),
                  "the hung rank, when it wakes, finds rank 0 gone (%s)", j[1].err.msg);

    run_pair(j, SC_DEAD, 5);
    ds_test_check(t, j[0].status == DS_ERR_IO && strstr(j[0].err.msg, "rank 1 closed the connection"),
                  "a dead rank is named (%s)", j[0].err.msg);
    ds_test_check(t, j[0].seconds < 2, "a dead rank is noticed at once, not after the timeout (%.2f s)", j[0].seconds);
}

static void test_rendezvous_failures(ds_test *t) {
    ds_world w = ds_world_single();
    w.launcher = DS_LAUNCHER_TORCHRUN;
    w.size = 3;
    w.master_port = free_port();
    snprintf(w.master_addr, sizeof w.master_addr, "127.0.0.1");
    ds_comm_options o = ds_comm_options_default();
    o.backend = DS_COMM_TCP;
    o.timeout_s = 0.3;
    ds_comm *c = NULL;
    ds_err err;
    ds_err_clear(&err);
    ds_test_check(t, ds_comm_open(&w, &o, NULL, &c, &err) == DS_ERR_IO && strstr(err.msg, "rank(s) 1, 2 did not connect"),
                  "rank 0 alone names the ranks that never connected (%s)", err.msg);
    w.rank = 1;
    ds_err_clear(&err);
    ds_test_check(t, ds_comm_open(&w, &o, NULL, &c, &err) == DS_ERR_IO && strstr(err.msg, "rank 0 at 127.0.0.1"),
                  "a rank without rank 0 says so (%s)", err.msg);
    w.master_port = 0;
    ds_err_clear(&err);
    ds_test_check(t, ds_comm_open(&w, &o, NULL, &c, &err) == DS_ERR_CONFIG && strstr(err.msg, "MASTER_PORT"),
                  "tcp without MASTER_PORT asks for it (%s)", err.msg);
}

static void test_single(ds_test *t) {
    ds_world w = ds_world_single();
    ds_comm_options o = ds_comm_options_default();
    ds_comm *c = NULL;
    ds_err err;
    ds_err_clear(&err);
    ds_test_check(t, ds_comm_open(&w, &o, NULL, &c, &err) == DS_OK && ds_comm_backend_of(c) == DS_COMM_SINGLE,
                  "a world of one opens the single communicator");
    float x[2] = {1.5f, -2};
    char b[4] = "abc";
    ds_comm_ticket tk = 0;
    ds_test_check(t, ds_comm_allreduce_sum(c, x, 2, DS_F32, &err) == DS_OK && x[0] == 1.5f && x[1] == -2 &&
                         ds_comm_broadcast(c, b, sizeof b, 0, &err) == DS_OK && strcmp(b, "abc") == 0 &&
                         ds_comm_barrier(c, &err) == DS_OK && ds_comm_iallreduce_sum(c, x, 2, &tk, &err) == DS_OK &&
                         tk == DS_COMM_TICKET_NONE && ds_comm_wait(c, tk, &err) == DS_OK,
                  "one rank: every operation is the identity");
    ds_test_check(t, ds_comm_allreduce_sum(c, b, 1, DS_U8, &err) == DS_ERR_INVALID_ARG,
                  "a dtype the comm does not sum is refused");
    ds_comm_close(c);
    w.size = 2;
    o.backend = DS_COMM_SINGLE;
    ds_err_clear(&err);
    ds_test_check(t, ds_comm_open(&w, &o, NULL, &c, &err) == DS_ERR_CONFIG, "single with two ranks is refused");
}

// ---- bootstraps ------------------------------------------------------------------------------
typedef struct boot_job {
    ds_world world;
    const char *path;  // NULL: tcp
    unsigned char blob[128];
    double delay_s;    // rank 0 waits this long before sharing
    ds_status status;
    ds_err err;
} boot_job;

static void *boot_main(void *arg) {
    boot_job *b = arg;
    ds_err_clear(&b->err);
    if (b->delay_s > 0) sleep_s(b->delay_s);
    b->status = b->path ? ds_comm_file_share_blob(&b->world, b->path, b->blob, sizeof b->blob, 5, &b->err)
                        : ds_comm_tcp_share_blob(&b->world, b->blob, sizeof b->blob, 5, &b->err);
    return NULL;
}

static void test_bootstrap(ds_test *t, bool file) {
    char path[512];
    ds_test_tmpfile("comm_bootstrap_id", path, sizeof path);
    remove(path);
    const int port = free_port();
    boot_job b[2];
    for (int r = 0; r < 2; r++) {
        memset(&b[r], 0, sizeof b[r]);
        b[r].world = ds_world_single();
        b[r].world.launcher = DS_LAUNCHER_SLURM;
        b[r].world.rank = r;
        b[r].world.size = 2;
        b[r].world.master_port = port;
        snprintf(b[r].world.master_addr, sizeof b[r].world.master_addr, "localhost");
        snprintf(b[r].world.run_id, sizeof b[r].world.run_id, "77.0");
        b[r].path = file ? path : NULL;
        for (int i = 0; i < 128; i++) b[r].blob[i] = r == 0 ? (unsigned char)(i * 7 + 1) : 0;
    }
    b[0].delay_s = 0.4;  // the reader starts first and must wait
    if (file) {          // a stale file of another run must not be taken
        FILE *f = fopen(path, "w");
        fprintf(f, "downstream-bootstrap 1 76.0 ");
        for (int i = 0; i < 128; i++) fprintf(f, "ff");
        fprintf(f, "\n");
        fclose(f);
    }
    pthread_t th[2];
    for (int r = 0; r < 2; r++) pthread_create(&th[r], NULL, boot_main, &b[r]);
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    ds_test_check(t, b[0].status == DS_OK && b[1].status == DS_OK, "%s bootstrap succeeds (%s / %s)",
                  file ? "file" : "tcp", b[0].err.msg, b[1].err.msg);
    ds_test_check(t, memcmp(b[0].blob, b[1].blob, 128) == 0,
                  "%s bootstrap: rank 1 has rank 0's blob%s", file ? "file" : "tcp",
                  file ? ", not the stale file of another run" : "");
    if (file) {
        b[1].world.rank = 1;
        snprintf(b[1].world.run_id, sizeof b[1].world.run_id, "78.0");
        ds_err_clear(&b[1].err);
        const double t0 = ds_now_seconds();
        const ds_status st = ds_comm_file_share_blob(&b[1].world, path, b[1].blob, 128, 0.3, &b[1].err);
        ds_test_check(t, st == DS_ERR_IO && strstr(b[1].err.msg, "78.0") && ds_now_seconds() - t0 < 2,
                      "a reader of another run times out naming its run (%s)", b[1].err.msg);
        remove(path);
    }
}

// ---- gradient buckets ------------------------------------------------------------------------
static void test_buckets(ds_test *t) {
    // Five tensors of 100, 300, 50, 400, 10 floats (each padded to 64-element boundaries).
    ds_param_spec specs[5];
    const int64_t sizes[5] = {100, 300, 50, 400, 10};
    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 5; i++) {
        snprintf(specs[i].name, sizeof specs[i].name, "t%d", i);
        specs[i].ndim = 1;
        specs[i].shape[0] = sizes[i];
    }
    ds_param_block pb;
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, ds_param_block_init(&pb, specs, 5, &err) == DS_OK, "param block")) return;
    ds_world w = ds_world_single();
    ds_comm_options o = ds_comm_options_default();
    ds_comm *c = NULL;
    ds_comm_open(&w, &o, NULL, &c, &err);
    ds_grad_sync g;
    // Offsets (64-element padding): t0 0, t1 128, t2 448, t3 512, t4 960, total 1024. Buckets of
    // 1200 bytes = 300 floats from the end: [512, 1024) (t3, t4: 512 floats), then t2 (64) + t1
    // (320) = [128, 512), then t0 alone = [0, 128).
    ds_test_check(t, ds_grad_sync_init(&g, c, &pb, 1200, &err) == DS_OK, "bucket plan");
    bool tiles = g.count > 0 && g.buckets[0].end == pb.total && g.buckets[g.count - 1].begin == 0;
    for (int b = 1; b < g.count; b++) tiles = tiles && g.buckets[b].end == g.buckets[b - 1].begin;
    ds_test_check(t, tiles, "buckets tile the block from its end to its start");
    bool aligned = true;
    for (int b = 0; b < g.count; b++) {
        bool at_tensor = false;
        for (int i = 0; i < 5; i++) at_tensor = at_tensor || g.buckets[b].begin == pb.offset[i];
        aligned = aligned && at_tensor;
    }
    ds_test_check(t, aligned, "every bucket starts at a tensor");
    ds_test_check(t, g.count == 3 && g.buckets[0].begin == pb.offset[3] && g.buckets[1].begin == pb.offset[1] &&
                         g.buckets[2].begin == 0,
                  "buckets of >= 1200 bytes: {t3,t4}, {t1,t2}, {t0} (got %d)", g.count);
    ds_grad_sync_begin(&g);
    ds_grad_sync_ready(&g, pb.offset[4], &err);
    ds_test_check(t, g.next == 0, "t4 final alone: no bucket is complete");
    ds_grad_sync_ready(&g, pb.offset[2], &err);
    ds_test_check(t, g.next == 1, "t2..t4 final: the first bucket goes");
    ds_grad_sync_ready(&g, pb.offset[1], &err);
    ds_test_check(t, g.next == 2, "t1..t4 final: the second goes");
    ds_test_check(t, ds_grad_sync_finish(&g, &err) == DS_OK && g.next == 3 && g.stats.steps == 1,
                  "finish hands over the rest and waits");
    ds_grad_sync_free(&g);
    ds_test_check(t, ds_grad_sync_init(&g, c, &pb, 1e9, &err) == DS_OK && g.count == 1 && g.buckets[0].begin == 0 &&
                         g.buckets[0].end == pb.total,
                  "a bucket larger than the block: one bucket");
    ds_grad_sync_free(&g);
    ds_test_check(t, ds_grad_sync_init(&g, c, &pb, 4, &err) == DS_OK && g.count == 5, "tiny buckets: one per tensor");
    ds_grad_sync_free(&g);
    ds_comm_close(c);
    ds_param_block_free(&pb);
}

int main(void) {
    ds_test t = ds_test_begin("comm");
    test_single(&t);
    test_ops(&t);
    test_failures(&t);
    test_rendezvous_failures(&t);
    test_bootstrap(&t, true);
    test_bootstrap(&t, false);
    test_buckets(&t);
    return ds_test_finish(&t);
}
