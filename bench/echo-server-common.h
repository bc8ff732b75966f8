/*
 * echo-server-common.h: what the C echo servers of the benchmarks
 * (echo-server.c, uring-echo-server.c) share: the command line, the process
 * set-up the harness relies on, and the listening socket.
 *
 *   SERVER [PORT] [HOST]      PORT 0 (default) = ephemeral, HOST 127.0.0.1
 */
#ifndef ECHO_SERVER_COMMON_H
#define ECHO_SERVER_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* Set by SIGTERM and SIGINT: the server's loop ends and it exits 0. */
static volatile sig_atomic_t stop_flag;

static void on_stop_signal(int sig) { (void)sig; stop_flag = 1; }

/*
 * Raises the descriptor limit to its hard limit, ignores SIGPIPE and SIGUSR2
 * (the harness sends SIGUSR2 to every server before reading RSS; the Node
 * servers collect garbage on it) and sets stop_flag on SIGTERM and SIGINT.
 * The handler is installed without SA_RESTART, so a blocking wait returns
 * EINTR and the loop sees the flag.
 */
static void setup_process(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/*
 * Creates the listening IPv4 socket named by argv ([PORT] [HOST]) with
 * SO_REUSEADDR and `type_flags` (SOCK_NONBLOCK or 0; SOCK_CLOEXEC always).
 * Returns its descriptor and stores the bound port in *port; on failure
 * prints why, prefixed with `name`, and exits (2: bad address, 1: otherwise).
 */
static int listen_from_args(const char *name, int argc, char **argv, int type_flags, int *port) {
    const char *host = argc > 2 ? argv[2] : "127.0.0.1";
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(argc > 1 ? atoi(argv[1]) : 0)) };
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "%s: bad IPv4 address %s\n", name, host);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | type_flags, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, SOMAXCONN) < 0) {
        fprintf(stderr, "%s: listen: ", name);
        perror(NULL);
        exit(1);
    }
    socklen_t alen = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    *port = ntohs(addr.sin_port);
    return fd;
}

#endif
