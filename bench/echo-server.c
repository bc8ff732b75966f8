/*
 * echo-server: the physical reference for the echo benchmarks.
 *
 *   echo-server [PORT] [HOST]      PORT 0 (default) = ephemeral, HOST 127.0.0.1
 *
 * Single thread, one level-triggered epoll set. A readable socket is read once
 * into one shared buffer and the bytes are written straight back. Only what
 * the kernel refused is copied into a per-connection backlog; while a backlog
 * exists the socket waits for EPOLLOUT only (no reading, so memory stays
 * bounded) and goes back to EPOLLIN once the backlog is flushed. Accepted
 * sockets get TCP_NODELAY.
 *
 * Prints "LISTENING <port>" on stdout once bound; exits 0 on SIGTERM/SIGINT.
 * Ignores SIGUSR2 (the harness sends it to every server before reading RSS;
 * the Node servers collect garbage on it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo-server-common.h"

#define BUF_SIZE (64 * 1024)
#define MAX_EVENTS 256

struct backlog {
    unsigned char *data;
    size_t len;
};

static int epfd, lfd;
static struct backlog *backlogs; /* indexed by fd */
static size_t nbacklogs;
static unsigned char buf[BUF_SIZE];
static int watch(int op, int fd, unsigned events) {
    struct epoll_event ev = { .events = events, .data.fd = fd };
    return epoll_ctl(epfd, op, fd, &ev);
}

static void drop(int fd) {
    free(backlogs[fd].data);
    backlogs[fd].data = NULL;
    backlogs[fd].len = 0;
    close(fd); /* also removes it from the epoll set */
}

/* Writes as much as the kernel takes; returns bytes written or -1 on error. */
static ssize_t write_some(int fd, const unsigned char *p, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            return -1;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static void on_readable(int fd) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) drop(fd);
        return;
    }
    if (n == 0) { drop(fd); return; }
    ssize_t w = write_some(fd, buf, (size_t)n);
    if (w < 0) { drop(fd); return; }
    if (w == n) return;
    size_t rest = (size_t)(n - w);
    struct backlog *b = &backlogs[fd];
    b->data = malloc(rest);
    if (!b->data) { drop(fd); return; }
    memcpy(b->data, buf + w, rest);
    b->len = rest;
    if (watch(EPOLL_CTL_MOD, fd, EPOLLOUT) < 0) drop(fd);
}

static void on_writable(int fd) {
    struct backlog *b = &backlogs[fd];
    ssize_t w = write_some(fd, b->data, b->len);
    if (w < 0) { drop(fd); return; }
    if ((size_t)w < b->len) {
        memmove(b->data, b->data + w, b->len - (size_t)w);
        b->len -= (size_t)w;
        return;
    }
    free(b->data);
    b->data = NULL;
    b->len = 0;
    if (watch(EPOLL_CTL_MOD, fd, EPOLLIN) < 0) drop(fd);
}

static void on_accept(void) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN) perror("echo-server: accept");
            return;
        }
        if ((size_t)fd >= nbacklogs) {
            size_t n = nbacklogs ? nbacklogs : 1024;
            while (n <= (size_t)fd) n *= 2;
            struct backlog *nb = realloc(backlogs, n * sizeof *nb);
            if (!nb) { close(fd); continue; }
            memset(nb + nbacklogs, 0, (n - nbacklogs) * sizeof *nb);
            backlogs = nb;
            nbacklogs = n;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (watch(EPOLL_CTL_ADD, fd, EPOLLIN) < 0) close(fd);
    }
}

int main(int argc, char **argv) {
    setup_process();
    int port;
    lfd = listen_from_args("echo-server", argc, argv, SOCK_NONBLOCK, &port);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0 || watch(EPOLL_CTL_ADD, lfd, EPOLLIN) < 0) {
        perror("echo-server: epoll");
        return 1;
    }
    printf("LISTENING %d\n", port);
    fflush(stdout);

    struct epoll_event evs[MAX_EVENTS];
    while (!stop_flag) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("echo-server: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            uint32_t e = evs[i].events;
            if (fd == lfd) { on_accept(); continue; }
            /* An fd dropped earlier in this batch may already be reused by an
             * accept in the same batch; a level-triggered set reports it again
             * on the next wait, so a spurious read here only sees EAGAIN. */
            if (backlogs[fd].len) {
                if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(fd);
            } else if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                on_readable(fd);
            }
        }
    }
    return 0;
}
