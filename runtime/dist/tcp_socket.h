// Blocking-with-deadline TCP helpers over non-blocking POSIX sockets: every wait is a poll()
// bounded by an absolute deadline (ds_now_seconds() clock), so a peer that hangs turns into an
// error naming it, and one that died (connection closed or reset) into an error at once.
// Used by the tcp communicator and the bootstrap of NCCL's unique id.
#ifndef DS_TCP_SOCKET_H
#define DS_TCP_SOCKET_H

#include <stddef.h>

#include "../base/status.h"

// A listening socket on every interface at `port` (SO_REUSEADDR). DS_ERR_IO names the port.
ds_status ds_tcp_listen(int port, int *fd, ds_err *err);

// Accepts one connection by deadline. DS_ERR_IO on timeout (the message says "no connection").
ds_status ds_tcp_accept(int listen_fd, double deadline, int *fd, ds_err *err);

// Connects to host:port, retrying every 50 ms until deadline (the listener may start later).
ds_status ds_tcp_connect(const char *host, int port, double deadline, int *fd, ds_err *err);

// Sends / receives exactly n bytes by deadline. `peer` (a rank) and `what` (the operation) go into
// the message: "rank 1 did not answer within 5 s (all-reduce #12)", "rank 1 closed the connection
// (it exited or was killed) during all-reduce #12".
ds_status ds_tcp_send_all(int fd, const void *buf, size_t n, double deadline, int peer, const char *what,
                          ds_err *err);
ds_status ds_tcp_recv_all(int fd, void *buf, size_t n, double deadline, int peer, const char *what, ds_err *err);

// close() when fd >= 0.
void ds_tcp_close(int fd);

#endif
