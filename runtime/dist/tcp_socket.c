#include "tcp_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../base/check.h"
#include "../base/log.h"

void ds_tcp_close(int fd) {
    if (fd >= 0) close(fd);
}

static void set_options(int fd) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small control messages go out at once
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
}

// poll() on one fd for `events` until deadline: 1 ready, 0 timed out, -1 error (errno).
static int wait_fd(int fd, short events, double deadline) {
    for (;;) {
        const double left = deadline - ds_now_seconds();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = events};
        const int ms = left > 1000 ? 1000000 : (int)(left * 1000) + 1;
        const int rc = poll(&p, 1, ms);
        if (rc > 0) return 1;
        if (rc < 0 && errno != EINTR) return -1;
    }
}

ds_status ds_tcp_listen(int port, int *fd, ds_err *err) {
    *fd = -1;
    const int s = socket(AF_INET6, SOCK_STREAM, 0);
    const bool v6 = s >= 0;
    const int sock = v6 ? s : socket(AF_INET, SOCK_STREAM, 0);
    DS_REQUIRE(err, sock >= 0, DS_ERR_IO, "tcp: cannot create a socket: %s", strerror(errno));
    const int one = 1, zero = 0;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc;
    if (v6) {  // dual stack: IPv4 peers too
        setsockopt(sock, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
        rc = bind(sock, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_ANY)};
        rc = bind(sock, (struct sockaddr *)&a, sizeof a);
    }
    if (rc != 0 || listen(sock, 256) != 0) {
        const int e = errno;
        close(sock);
        return ds_err_set(err, DS_ERR_IO, "tcp: cannot listen on port %d: %s%s", port, strerror(e),
                          e == EADDRINUSE ? " (another process holds it: choose another MASTER_PORT)" : "");
    }
    set_options(sock);
    *fd = sock;
    return DS_OK;
}

ds_status ds_tcp_accept(int listen_fd, double deadline, int *fd, ds_err *err) {
    *fd = -1;
    for (;;) {
        const int w = wait_fd(listen_fd, POLLIN, deadline);
        DS_REQUIRE(err, w != 0, DS_ERR_IO, "tcp: no connection arrived in time");
        DS_REQUIRE(err, w > 0, DS_ERR_IO, "tcp: waiting for connections failed: %s", strerror(errno));
        const int s = accept(listen_fd, NULL, NULL);
        if (s >= 0) {
            set_options(s);
            *fd = s;
            return DS_OK;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            return ds_err_set(err, DS_ERR_IO, "tcp: accept failed: %s", strerror(errno));
    }
}

// One connection attempt to one address by deadline: 1 connected, 0 refused/unreachable, -1 error.
static int try_connect(const struct addrinfo *ai, double deadline, int *fd) {
    const int s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (s < 0) return -1;
    set_options(s);
    int rc = connect(s, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
        const double d = deadline < ds_now_seconds() + 1 ? deadline : ds_now_seconds() + 1;
        if (wait_fd(s, POLLOUT, d) == 1) {
            int e = 0;
            socklen_t len = sizeof e;
            getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &len);
            rc = e == 0 ? 0 : -1;
        }
    }
    if (rc == 0) {
        *fd = s;
        return 1;
    }
    close(s);
    return 0;
}

ds_status ds_tcp_connect(const char *host, int port, double deadline, int *fd, ds_err *err) {
    *fd = -1;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    for (;;) {
        struct addrinfo *res = NULL;
        const int g = getaddrinfo(host, service, &hints, &res);
        if (g == 0) {
            for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
                if (try_connect(ai, deadline, fd) == 1) break;
            freeaddrinfo(res);
            if (*fd >= 0) return DS_OK;
        } else if (g != EAI_AGAIN) {
            return ds_err_set(err, DS_ERR_IO, "tcp: cannot resolve MASTER_ADDR '%s': %s", host, gai_strerror(g));
        }
        DS_REQUIRE(err, ds_now_seconds() < deadline, DS_ERR_IO,
                   "tcp: rank 0 at %s:%d did not accept a connection in time (dist.timeout_s): is it running, "
                   "and are MASTER_ADDR and MASTER_PORT the same for every rank?",
                   host, port);
        const struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

ds_status ds_tcp_send_all(int fd, const void *buf, size_t n, double deadline, int peer, const char *what,
                          ds_err *err) {
    const char *p = buf;
    while (n > 0) {
        const ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            const int w = wait_fd(fd, POLLOUT, deadline);
            DS_REQUIRE(err, w != 0, DS_ERR_IO, "rank %d did not answer in time (dist.timeout_s) during %s", peer,
                       what);
            continue;
        }
        return ds_err_set(err, DS_ERR_IO, "rank %d closed the connection (it exited or was killed) during %s: %s",
                          peer, what, strerror(errno));
    }
    return DS_OK;
}

ds_status ds_tcp_recv_all(int fd, void *buf, size_t n, double deadline, int peer, const char *what, ds_err *err) {
    char *p = buf;
    while (n > 0) {
        const ssize_t k = recv(fd, p, n, 0);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        DS_REQUIRE(err, k != 0, DS_ERR_IO, "rank %d closed the connection (it exited or was killed) during %s", peer,
                   what);
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            const int w = wait_fd(fd, POLLIN, deadline);
            DS_REQUIRE(err, w != 0, DS_ERR_IO, "rank %d did not answer in time (dist.timeout_s) during %s", peer,
                       what);
            continue;
        }
        return ds_err_set(err, DS_ERR_IO, "rank %d closed the connection (it exited or was killed) during %s: %s",
                          peer, what, strerror(errno));
    }
    return DS_OK;
}
