/*
 * loadgen: closed-loop TCP echo load generator for the nbio-wasm benchmarks.
 *
 * One thread, one level-triggered epoll loop, IPv4 only. This file drives
 * the load; what a run measures and reports is loadgen-report.c.
 *
 *   loadgen -p PORT [-h 127.0.0.1] [-m echo|churn|idle] [-c N] [-s BYTES]
 *           [-w WARMUP_S] [-d SECS] [-e ECHOES] [-r]
 *
 * Modes
 *   echo  (default) N connections; each sends an S-byte message, waits for the
 *         complete echo, verifies it, and sends the next one. Round trips that
 *         complete inside the measured window (after -w seconds of warm-up, for
 *         -d seconds) are counted and their latency recorded.
 *   churn N concurrent workers; each connects, does one S-byte echo, closes,
 *         and starts over. One round trip == one connection; the latency
 *         covers connect + echo. With -r the client closes with a reset
 *         (SO_LINGER 0) instead of a FIN, so it leaves no TIME_WAIT sockets
 *         behind; thousands of them make the client's connect() slow.
 *   idle  Open N connections, do -e echoes on each (default 1, so the server
 *         has certainly accepted them), print "READY <n>" and hold them until
 *         SIGTERM/SIGINT, or for -d seconds if -d > 0.
 *
 * Output (stdout, line-buffered)
 *   "MEASURE_START" when the warm-up ends and "MEASURE_END" when the measured
 *   window closes (echo and churn), so a harness can sample /proc exactly
 *   around the window; then one JSON line with the results, among them the
 *   round trips each connection completed (loadgen-report.c says which).
 *
 * Verification: every message carries a pseudo-random pattern derived from
 * (connection id, message sequence number), so an echo delivered to the wrong
 * connection, reordered, truncated or altered does not match. A mismatched
 * message counts as `bad`; bytes beyond the expected echo count as `bad` and
 * the connection is dropped (stream out of sync).
 *
 * Exit status: 0 on success, 1 if any echo was bad or any connection failed
 * (the reasons go to stderr), 2 on usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define MAX_CONNECTING 256
#define RBUF_SIZE (256 * 1024)
#define MAX_EVENTS 512
#define MAX_REPORTED_ERRORS 5

enum state { ST_WAITING, ST_CONNECTING, ST_SENDING, ST_RECEIVING, ST_IDLE, ST_DEAD };

struct conn {
    int fd;
    enum state state;
    uint32_t id;       /* identity of the current connection (changes per churn cycle) */
    uint64_t seq;      /* message sequence number on this connection */
    size_t wpos, rpos; /* bytes of the current message written / echoed back */
    uint64_t t_start;  /* when the current round trip (or connect, in churn) began */
    unsigned echoes;   /* completed echoes on this connection (idle mode) */
    int want_out;      /* EPOLLOUT currently armed */
    int mismatched;    /* the current echo already differed from the message */
    unsigned char *msg;
};

static struct {
    enum mode mode;
    struct sockaddr_in addr;
    int nconns;
    size_t size;
    double warmup, secs;
    unsigned echoes;
    int reset;
} cfg = { MODE_ECHO, { 0 }, 50, 64, 1.0, 5.0, 1, 0 };

static int epfd;
static struct conn *conns;
static unsigned char *rbuf;
static int connecting;           /* connects in flight */
static int next_to_connect;      /* echo/idle: index of the next slot to open */
static uint32_t next_id;         /* churn: identity for the next connection */
static uint64_t t_measure, t_end;
static int measuring;            /* inside the measured window */
static uint64_t bad, errors;
static int ndead, nidle;         /* slots that failed / hold an idle connection */
static int reported;
static volatile sig_atomic_t stop_flag;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static void fail(struct conn *c, const char *what, int err) {
    errors++;
    if (reported++ < MAX_REPORTED_ERRORS)
        fprintf(stderr, "loadgen: connection %u: %s: %s\n", c->id, what,
                err ? strerror(err) : "unexpected");
    if (c->fd >= 0) close(c->fd);
    if (c->state == ST_CONNECTING) connecting--;
    if (c->state == ST_IDLE) nidle--;
    c->fd = -1;
    c->state = ST_DEAD;
    ndead++;
}

/* splitmix64: a cheap generator whose output depends on every seed bit. */
static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void fill_message(struct conn *c) {
    uint64_t s = mix(((uint64_t)c->id << 32) ^ c->seq);
    for (size_t i = 0; i < cfg.size; i += 8) {
        s = mix(s);
        size_t n = cfg.size - i < 8 ? cfg.size - i : 8;
        memcpy(c->msg + i, &s, n);
    }
}

static void set_events(struct conn *c, int out) {
    if (c->want_out == out) return;
    struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - conns) };
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) { fail(c, "epoll_ctl", errno); return; }
    c->want_out = out;
}

/* Counts a round trip of `c` that ended at `t_done`, if inside the measured window. */
static void record(struct conn *c, uint64_t t_begin, uint64_t t_done) {
    if (measuring) record_round_trip((int)(c - conns), t_done - t_begin);
}

static void start_connect(struct conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { fail(c, "socket", errno); return; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->t_start = now_ns();
    c->seq = 0;
    c->echoes = 0;
    c->wpos = c->rpos = 0;
    c->state = ST_WAITING;
    int r = connect(c->fd, (struct sockaddr *)&cfg.addr, sizeof cfg.addr);
    if (r < 0 && errno != EINPROGRESS) { fail(c, "connect", errno); return; }
    struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)(c - conns) };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) { fail(c, "epoll_ctl", errno); return; }
    c->want_out = 1;
    c->state = ST_CONNECTING;
    connecting++;
}

/* Opens waiting slots while fewer than MAX_CONNECTING connects are in flight. */
static void open_more(void) {
    while (connecting < MAX_CONNECTING && next_to_connect < cfg.nconns)
        start_connect(&conns[next_to_connect++]);
}

static void send_message(struct conn *c);

static void begin_round_trip(struct conn *c) {
    if (cfg.mode == MODE_IDLE && c->echoes >= cfg.echoes) {
        c->state = ST_IDLE;
        nidle++;
        set_events(c, 0);
        return;
    }
    fill_message(c);
    c->wpos = c->rpos = 0;
    c->mismatched = 0;
    if (cfg.mode != MODE_CHURN) c->t_start = now_ns();
    c->state = ST_SENDING;
    send_message(c);
}

static void send_message(struct conn *c) {
    while (c->wpos < cfg.size) {
        ssize_t n = send(c->fd, c->msg + c->wpos, cfg.size - c->wpos, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { set_events(c, 1); return; }
            fail(c, "send", errno);
            return;
        }
        c->wpos += (size_t)n;
    }
    set_events(c, 0);
    if (c->state == ST_SENDING) c->state = ST_RECEIVING;
}

static void finish_round_trip(struct conn *c) {
    uint64_t t = now_ns();
    record(c, c->t_start, t);
    c->seq++;
    c->echoes++;
    if (cfg.mode == MODE_CHURN) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        if (cfg.reset) {
            struct linger lg = { .l_onoff = 1, .l_linger = 0 };
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(c->fd);
        c->fd = -1;
        c->id = next_id++;
        start_connect(c);
        return;
    }
    begin_round_trip(c);
}

static void on_readable(struct conn *c) {
    ssize_t n = recv(c->fd, rbuf, RBUF_SIZE, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        fail(c, "recv", errno);
        return;
    }
    if (n == 0) { fail(c, "server closed the connection", 0); return; }
    size_t got = (size_t)n;
    /* Data may arrive before our write finished (a server echoing partial
     * messages); it can never exceed what we already wrote. */
    if (c->rpos + got > c->wpos) {
        bad++;
        fail(c, "more bytes echoed than sent", 0);
        return;
    }
    if (!c->mismatched && memcmp(rbuf, c->msg + c->rpos, got) != 0) {
        c->mismatched = 1; /* count each wrong message once */
        bad++;
    }
    c->rpos += got;
    if (c->rpos == cfg.size) finish_round_trip(c);
}

static void on_connected(struct conn *c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) { fail(c, "connect", err); return; }
    connecting--;
    set_events(c, 0);
    begin_round_trip(c);
}

static void handle(struct conn *c, uint32_t events) {
    if (c->state == ST_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
        return;
    }
    if (c->state == ST_DEAD || c->fd < 0) return;
    if ((events & EPOLLOUT) && c->state == ST_SENDING) send_message(c);
    if (c->state == ST_DEAD) return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)cfg.nconns + 16 > rl.rlim_cur)
        fprintf(stderr, "loadgen: warning: %d connections but RLIMIT_NOFILE is %llu\n",
                cfg.nconns, (unsigned long long)rl.rlim_cur);
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen -p PORT [-h 127.0.0.1] [-m echo|churn|idle] [-c CONNS]\n"
            "               [-s BYTES] [-w WARMUP_S] [-d SECS] [-e ECHOES] [-r]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1, opt;
    int secs_given = 0;
    while ((opt = getopt(argc, argv, "h:p:m:c:s:w:d:e:r")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'm':
            if (!strcmp(optarg, "echo")) cfg.mode = MODE_ECHO;
            else if (!strcmp(optarg, "churn")) cfg.mode = MODE_CHURN;
            else if (!strcmp(optarg, "idle")) cfg.mode = MODE_IDLE;
            else usage();
            break;
        case 'c': cfg.nconns = atoi(optarg); break;
        case 's': cfg.size = (size_t)atol(optarg); break;
        case 'w': cfg.warmup = atof(optarg); break;
        case 'd': cfg.secs = atof(optarg); secs_given = 1; break;
        case 'e': cfg.echoes = (unsigned)atoi(optarg); break;
        case 'r': cfg.reset = 1; break;
        default: usage();
        }
    }
    if (port <= 0 || port > 65535 || cfg.nconns <= 0 || cfg.size == 0 || cfg.secs < 0 || cfg.warmup < 0)
        usage();
    if (cfg.mode == MODE_IDLE && !secs_given) cfg.secs = 0; /* hold until signalled */
    cfg.addr.sin_family = AF_INET;
    cfg.addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &cfg.addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad IPv4 address %s\n", host);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    raise_nofile();

    conns = calloc((size_t)cfg.nconns, sizeof *conns);
    rbuf = malloc(RBUF_SIZE);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || !rbuf || epfd < 0) { perror("loadgen: setup"); return 1; }
    measure_init(cfg.nconns);
    for (int i = 0; i < cfg.nconns; i++) {
        conns[i].fd = -1;
        conns[i].id = (uint32_t)i;
        conns[i].state = ST_WAITING;
        conns[i].msg = malloc(cfg.size);
        if (!conns[i].msg) { perror("loadgen: malloc"); return 1; }
    }
    next_id = (uint32_t)cfg.nconns;

    uint64_t t0 = now_ns();
    t_measure = t0 + (uint64_t)(cfg.warmup * 1e9);
    t_end = t_measure + (uint64_t)(cfg.secs * 1e9);
    if (cfg.mode == MODE_IDLE) t_measure = t_end = UINT64_MAX;
    uint64_t t_measured_start = 0, t_measured_end = 0;
    int ready = 0;
    struct epoll_event evs[MAX_EVENTS];

    open_more();
    while (!stop_flag) {
        uint64_t t = now_ns();
        if (!measuring && t >= t_measure && t < t_end) {
            measuring = 1;
            t_measured_start = t;
            puts("MEASURE_START");
        }
        if (t >= t_end) break;

        int alive = cfg.nconns - ndead;
        if (alive == 0) { fprintf(stderr, "loadgen: all connections failed\n"); break; }
        if (cfg.mode == MODE_IDLE && !ready && nidle == alive && next_to_connect == cfg.nconns) {
            ready = 1;
            printf("READY %d\n", nidle);
            t_end = cfg.secs > 0 ? now_ns() + (uint64_t)(cfg.secs * 1e9) : UINT64_MAX;
        }

        uint64_t deadline = measuring ? t_end : t_measure < t_end ? t_measure : t_end;
        int timeout = 100;
        if (deadline != UINT64_MAX) {
            uint64_t ms = deadline > t ? (deadline - t + 999999) / 1000000 : 0;
            if (ms < (uint64_t)timeout) timeout = (int)ms;
        }
        int n = epoll_wait(epfd, evs, MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("loadgen: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) handle(&conns[evs[i].data.u32], evs[i].events);
        if (cfg.mode != MODE_CHURN) open_more();
    }
    if (measuring) {
        t_measured_end = now_ns();
        puts("MEASURE_END");
    }

    struct run_summary run = {
        .mode = cfg.mode,
        .conns = cfg.nconns,
        .size = cfg.size,
        .secs = measuring ? (double)(t_measured_end - t_measured_start) / 1e9 : 0,
        .bad = bad,
        .errors = errors,
        .ready = ready,
        .open = cfg.nconns - ndead,
    };
    return report(&run);
}
