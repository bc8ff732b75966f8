/*
 * uring-echo-server: the io_uring reference for the echo benchmarks, beside
 * the epoll one (echo-server.c). Needs liburing (Debian: liburing-dev).
 *
 *   uring-echo-server [PORT] [HOST]      PORT 0 (default) = ephemeral, HOST 127.0.0.1
 *
 * Single thread, one ring, one io_uring_enter per wake-up: the loop submits
 * everything the previous completions asked for and waits for the next
 * completions in the same call (io_uring_submit_and_wait). The ring is set up
 * with DEFER_TASKRUN and SINGLE_ISSUER, so the kernel runs the socket work
 * it owes this thread only inside that call, all of it at once.
 *
 * - One multishot accept on the listener; every accepted socket gets
 *   TCP_NODELAY (through the ring when the kernel supports socket commands,
 *   checked once on the listener; otherwise with setsockopt).
 * - One multishot recv per connection into buffers the kernel picks from a
 *   provided-buffer ring: BUF_COUNT buffers of BUF_SIZE bytes, shared by all
 *   connections.
 * - The bytes are sent back from the same buffer (no copy). A connection has
 *   at most one send in flight, so its bytes never reorder; buffers received
 *   meanwhile wait in its queue, in order. A buffer goes back to the kernel
 *   once it is sent completely.
 * - Memory is bounded by the buffer ring: when it is empty a connection's
 *   recv ends with ENOBUFS and is re-armed once buffers come back.
 * - A connection is closed (through the ring) once its recv has ended (end
 *   of stream or an error) and its queue is sent or dropped; nothing of it is
 *   in flight then, so no completion can name a reused descriptor.
 *
 * Prints "LISTENING <port>" on stdout once bound; exits 0 on SIGTERM/SIGINT.
 * Ignores SIGUSR2 (the harness sends it to every server before reading RSS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo-server-common.h"

#define RING_ENTRIES 4096
#define CQ_ENTRIES (4 * RING_ENTRIES)
#define BUF_GROUP 0
#define BUF_COUNT 2048 /* a power of two, below NO_BUF */
#define BUF_SIZE (32 * 1024)
#define NO_BUF 0xffff

/* Socket commands of IORING_OP_URING_CMD (kernel 6.7+); liburing 2.3 predates them. */
#define SOCKET_URING_OP_SETSOCKOPT 3

/* What a completion is for: the low bits of its user_data, the descriptor above. */
enum op { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_CANCEL, OP_CLOSE, OP_NODELAY };
#define OP_BITS 3

struct conn {
    uint16_t head, tail; /* the send queue: buffer ids linked through buf_next */
    uint32_t head_sent;  /* bytes of the head buffer already sent */
    uint8_t receiving;   /* a multishot recv is armed */
    uint8_t sending;     /* a send of the head buffer is in flight */
    uint8_t ended;       /* end of stream or an error: close once idle */
    uint8_t failed;      /* an error: the queue is dropped, not sent */
    uint8_t starved;     /* the recv ended with ENOBUFS: re-arm when buffers return */
};

static struct io_uring ring;
static struct io_uring_buf_ring *bufring;
static unsigned char *bufs;
static uint32_t buf_len[BUF_COUNT];
static uint16_t buf_next[BUF_COUNT];
static unsigned buf_returned; /* buffers handed back in this batch, not yet published */
static struct conn *conns;    /* indexed by descriptor */
static size_t nconns;
static int *starved;          /* descriptors waiting for buffers */
static size_t nstarved;
static int lfd;
static int ring_nodelay; /* TCP_NODELAY through the ring */
static const int one = 1;
static uint64_t tag(int fd, enum op op) { return ((uint64_t)fd << OP_BITS) | op; }

/* The next free submission entry; submits what is queued when the ring is full. */
static struct io_uring_sqe *next_sqe(void) {
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(&ring))) io_uring_submit(&ring);
    return sqe;
}

static void arm_accept(void) {
    struct io_uring_sqe *sqe = next_sqe();
    io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, tag(lfd, OP_ACCEPT));
}

static void arm_recv(int fd) {
    struct io_uring_sqe *sqe = next_sqe();
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, tag(fd, OP_RECV));
    conns[fd].receiving = 1;
}

static void prep_nodelay(struct io_uring_sqe *sqe, int fd) {
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
    sqe->cmd_op = SOCKET_URING_OP_SETSOCKOPT;
    sqe->addr = (uint64_t)IPPROTO_TCP | ((uint64_t)TCP_NODELAY << 32); /* level, optname */
    sqe->file_index = sizeof one;                                          /* optlen */
    sqe->addr3 = (uint64_t)(uintptr_t)&one;                                /* optval */
}

static void send_head(int fd) {
    struct conn *c = &conns[fd];
    uint16_t b = c->head;
    struct io_uring_sqe *sqe = next_sqe();
    io_uring_prep_send(sqe, fd, bufs + (size_t)b * BUF_SIZE + c->head_sent, buf_len[b] - c->head_sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(fd, OP_SEND));
    c->sending = 1;
}

/* Hands buffer `b` back to the kernel (published at the end of the batch). */
static void return_buf(uint16_t b) {
    io_uring_buf_ring_add(bufring, bufs + (size_t)b * BUF_SIZE, BUF_SIZE, b, io_uring_buf_ring_mask(BUF_COUNT),
                          (int)buf_returned++);
}

/* Closes `fd` if nothing of it is in flight any more. */
static void close_if_idle(int fd) {
    struct conn *c = &conns[fd];
    if (!c->ended || c->receiving || c->sending) return;
    for (uint16_t b = c->head; b != NO_BUF; b = buf_next[b]) return_buf(b);
    memset(c, 0, sizeof *c);
    c->head = c->tail = NO_BUF;
    struct io_uring_sqe *sqe = next_sqe();
    io_uring_prep_close(sqe, fd);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, tag(fd, OP_CLOSE));
}

/* Ends a connection after an error: its queue is dropped, an armed recv cancelled. */
static void fail(int fd) {
    struct conn *c = &conns[fd];
    c->ended = c->failed = 1;
    if (c->receiving) {
        struct io_uring_sqe *sqe = next_sqe();
        io_uring_prep_cancel64(sqe, tag(fd, OP_RECV), 0);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        io_uring_sqe_set_data64(sqe, tag(fd, OP_CANCEL));
    }
    close_if_idle(fd);
}

static int grow_conns(int fd) {
    if ((size_t)fd < nconns) return 0;
    size_t n = nconns ? nconns : 1024;
    while (n <= (size_t)fd) n *= 2;
    struct conn *nc = realloc(conns, n * sizeof *nc);
    int *ns = realloc(starved, n * sizeof *ns);
    if (ns) starved = ns;
    if (!nc || !ns) {
        if (nc) conns = nc;
        return -1;
    }
    for (size_t i = nconns; i < n; i++) nc[i] = (struct conn){ .head = NO_BUF, .tail = NO_BUF };
    conns = nc;
    nconns = n;
    return 0;
}

static void on_accept(struct io_uring_cqe *cqe) {
    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept();
    int fd = cqe->res;
    if (fd < 0) {
        if (fd != -EINTR && fd != -ECONNABORTED) fprintf(stderr, "uring-echo-server: accept: %s\n", strerror(-fd));
        return;
    }
    if (grow_conns(fd) < 0) {
        close(fd);
        return;
    }
    if (ring_nodelay) {
        struct io_uring_sqe *sqe = next_sqe();
        prep_nodelay(sqe, fd);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        io_uring_sqe_set_data64(sqe, tag(fd, OP_NODELAY));
    } else {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    arm_recv(fd);
}

static void on_recv(int fd, struct io_uring_cqe *cqe) {
    struct conn *c = &conns[fd];
    if (!(cqe->flags & IORING_CQE_F_MORE)) c->receiving = 0;
    int res = cqe->res;
    if (res > 0) {
        uint16_t b = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        buf_len[b] = (uint32_t)res;
        buf_next[b] = NO_BUF;
        if (c->failed) {
            return_buf(b);
        } else if (c->tail == NO_BUF) {
            c->head = c->tail = b;
            c->head_sent = 0;
            send_head(fd);
        } else {
            buf_next[c->tail] = b;
            c->tail = b;
        }
        if (!c->receiving && !c->ended) arm_recv(fd); /* the kernel ended the multishot recv */
        return;
    }
    if (res == -ENOBUFS && !c->ended) {
        c->starved = 1;
        starved[nstarved++] = fd;
        return;
    }
    if (res < 0) {
        if (res != -ECONNRESET && res != -ECANCELED) fprintf(stderr, "uring-echo-server: recv: %s\n", strerror(-res));
        fail(fd);
        return;
    }
    c->ended = 1; /* end of stream: close once the queue is sent */
    close_if_idle(fd);
}

static void on_send(int fd, struct io_uring_cqe *cqe) {
    struct conn *c = &conns[fd];
    c->sending = 0;
    if (cqe->res < 0) {
        fail(fd);
        return;
    }
    uint16_t b = c->head;
    c->head_sent += (uint32_t)cqe->res;
    if (c->head_sent == buf_len[b]) {
        c->head = buf_next[b];
        if (c->head == NO_BUF) c->tail = NO_BUF;
        c->head_sent = 0;
        return_buf(b);
    }
    if (c->head != NO_BUF && !c->failed) send_head(fd);
    else close_if_idle(fd);
}

/* Publishes the buffers returned in this batch and re-arms the recvs that were waiting for them. */
static void end_batch(void) {
    if (!buf_returned) return;
    io_uring_buf_ring_advance(bufring, (int)buf_returned);
    buf_returned = 0;
    size_t n = nstarved;
    nstarved = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = starved[i];
        if (!conns[fd].starved) continue;
        conns[fd].starved = 0;
        if (!conns[fd].ended) arm_recv(fd);
        else close_if_idle(fd);
    }
}

/* Whether the kernel takes socket options through the ring: tried once on the listener. */
static int probe_ring_nodelay(void) {
    struct io_uring_sqe *sqe = next_sqe();
    prep_nodelay(sqe, lfd);
    io_uring_sqe_set_data64(sqe, tag(lfd, OP_NODELAY));
    struct io_uring_cqe *cqe;
    if (io_uring_submit_and_wait(&ring, 1) < 0 || io_uring_wait_cqe(&ring, &cqe) < 0) return 0;
    int ok = cqe->res == 0;
    io_uring_cqe_seen(&ring, cqe);
    return ok;
}

static int setup_ring(void) {
    struct io_uring_params p = {
        .flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        .cq_entries = CQ_ENTRIES,
    };
    int r = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
    if (r < 0) {
        fprintf(stderr, "uring-echo-server: io_uring_queue_init: %s\n", strerror(-r));
        return -1;
    }
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    bufring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bufs = mmap(NULL, (size_t)BUF_COUNT * BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (bufring == MAP_FAILED || bufs == MAP_FAILED) {
        perror("uring-echo-server: mmap");
        return -1;
    }
    io_uring_buf_ring_init(bufring);
    struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)bufring, .ring_entries = BUF_COUNT, .bgid = BUF_GROUP };
    r = io_uring_register_buf_ring(&ring, &reg, 0);
    if (r < 0) {
        fprintf(stderr, "uring-echo-server: register_buf_ring: %s\n", strerror(-r));
        return -1;
    }
    for (unsigned b = 0; b < BUF_COUNT; b++) return_buf((uint16_t)b);
    io_uring_buf_ring_advance(bufring, (int)buf_returned);
    buf_returned = 0;
    return 0;
}

int main(int argc, char **argv) {
    setup_process();
    int port;
    lfd = listen_from_args("uring-echo-server", argc, argv, 0, &port);
    if (grow_conns(lfd) < 0 || setup_ring() < 0) return 1;
    ring_nodelay = probe_ring_nodelay();
    arm_accept();
    printf("LISTENING %d\n", port);
    fflush(stdout);

    while (!stop_flag) {
        int r = io_uring_submit_and_wait(&ring, 1);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            fprintf(stderr, "uring-echo-server: io_uring_enter: %s\n", strerror(-r));
            return 1;
        }
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&ring, head, cqe) {
            int fd = (int)(cqe->user_data >> OP_BITS);
            switch ((enum op)(cqe->user_data & ((1u << OP_BITS) - 1))) {
            case OP_ACCEPT: on_accept(cqe); break;
            case OP_RECV: on_recv(fd, cqe); break;
            case OP_SEND: on_send(fd, cqe); break;
            case OP_NODELAY: /* failed on a socket that is going away; its recv ends it */
            case OP_CANCEL:  /* the recv had ended already; its own completion ended it */
            case OP_CLOSE: break;
            }
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
        end_batch();
    }
    return 0;
}
