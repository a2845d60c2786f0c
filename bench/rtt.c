/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_rtt: the round trip of a trivial call, and the floor of the same round trip.
 *
 *   bench_rtt -t TARGET [-n CALLS] [-w WARMUP] [-m txid|phase] [-o FILE]
 *   bench_rtt -e tcp|unix [-n CALLS] [-w WARMUP] [-o FILE]
 *
 * With -t, one connection to chorusd at TARGET ("HOST:PORT" or "unix:/path", as
 * chorus_connect() takes it) makes CALLS calls of chorus_txid() (or chorus_phase_get()), one
 * after the other: each is one request frame and one reply frame, and the daemon does no work
 * beyond decoding the request and encoding the reply. The latency of a call is its wall time as
 * the client sees it.
 *
 * With -e, the floor: the same number of round trips of a 32-byte message (about the size of
 * those frames) between this process and a forked child that echoes it, over TCP on 127.0.0.1
 * (TCP_NODELAY, as libchorus and chorusd set it) or over a UNIX stream socket; one write() and
 * one read() on each side, blocking. This is what the kernel's loopback path and two process
 * wake-ups cost without any protocol. The child's CPU time (user + system, from wait4()) per
 * round trip is printed as peer_cpu_us, to compare with the daemon's CPU per call.
 *
 * WARMUP calls come first and are not counted. Output: one line of KEY=VALUE pairs (latencies
 * in us); with -o, FILE receives every counted latency in us, sorted, one per line. Any failed
 * call fails the run (exit 1).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chorus/chorus.h>
#include <chorus/mgmt.h>

#define MSG_LEN 32

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* ---- the floor: an echo child ---- */

static int
xfer(int fd, char *p, size_t len, int out)
{
    size_t done = 0;

    while (done < len) {
        ssize_t k = out ? write(fd, p + done, len - done) : read(fd, p + done, len - done);

        if (k <= 0) {
            return -1;
        }
        done += (size_t)k;
    }
    return 0;
}

static void
echo_loop(int fd)
{
    char msg[MSG_LEN];

    while (!xfer(fd, msg, sizeof msg, 0) && !xfer(fd, msg, sizeof msg, 1)) {
    }
    _exit(0);
}

static void
nodelay(int fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A connected pair: *ret_mine for this process, *ret_peer for the child. Returns 0 or -1. */
static int
socket_pair(int tcp, int *ret_mine, int *ret_peer)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    int sv[2], lfd = -1, cfd = -1, afd = -1;

    if (!tcp) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
            return -1;
        }
        *ret_mine = sv[0];
        *ret_peer = sv[1];
        return 0;
    }
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(lfd, (struct sockaddr *)&a, alen) ||
        listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&a, &alen) ||
        (cfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        connect(cfd, (struct sockaddr *)&a, sizeof a) || (afd = accept(lfd, NULL, NULL)) < 0) {
        if (lfd >= 0) {
            close(lfd);
        }
        if (cfd >= 0) {
            close(cfd);
        }
        return -1;
    }
    close(lfd);
    nodelay(cfd);
    nodelay(afd);
    *ret_mine = cfd;
    *ret_peer = afd;
    return 0;
}

/* @p ret_peer_cpu_us: the echo child's CPU time per round trip (warm-up included). */
static int
run_echo(int tcp, long warmup, long n, uint64_t *lat, double *ret_peer_cpu_us)
{
    char msg[MSG_LEN];
    int mine, peer, st, rc = 0;
    struct rusage ru;
    pid_t pid;

    if (socket_pair(tcp, &mine, &peer)) {
        perror("bench_rtt: socket");
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        perror("bench_rtt: fork");
        return -1;
    }
    if (!pid) {
        close(mine);
        echo_loop(peer);
    }
    close(peer);
    memset(msg, 'x', sizeof msg);
    for (long i = -warmup; i < n; i++) {
        uint64_t t0 = now_ns();

        if (xfer(mine, msg, sizeof msg, 1) || xfer(mine, msg, sizeof msg, 0)) {
            fprintf(stderr, "bench_rtt: the echo child went away\n");
            rc = -1;
            break;
        }
        if (i >= 0) {
            lat[i] = now_ns() - t0;
        }
    }
    close(mine);
    if (wait4(pid, &st, 0, &ru) < 0) {
        perror("bench_rtt: wait4");
        return -1;
    }
    *ret_peer_cpu_us = ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) * 1e6 +
                       (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec;
    *ret_peer_cpu_us /= (double)(n + warmup);
    return rc;
}

/* ---- chorusd ---- */

static int
run_chorus(const char *target, int phase, long warmup, long n, uint64_t *lat)
{
    struct chorus_conn *conn = NULL;
    enum chorus_err rc;

    rc = chorus_connect(target, "bench_rtt", &conn);
    if (rc) {
        const struct chorus_error *e = chorus_last_error(NULL);

        fprintf(stderr, "bench_rtt: cannot connect to %s: %s\n", target,
                e && e->message ? e->message : chorus_strerror(rc));
        return -1;
    }
    for (long i = -warmup; i < n && !rc; i++) {
        uint64_t t0 = now_ns(), txid;
        enum chorus_phase ph;

        rc = phase ? chorus_phase_get(conn, &ph) : chorus_txid(conn, &txid);
        if (!rc && i >= 0) {
            lat[i] = now_ns() - t0;
        }
    }
    if (rc) {
        const struct chorus_error *e = chorus_last_error(conn);

        fprintf(stderr, "bench_rtt: %s: %s\n", phase ? "chorus_phase_get" : "chorus_txid",
                e && e->message ? e->message : chorus_strerror(rc));
    }
    chorus_disconnect(conn);
    return rc ? -1 : 0;
}

static int
write_latencies(const char *path, const uint64_t *lat, long n)
{
    FILE *f = fopen(path, "w");

    if (!f) {
        fprintf(stderr, "bench_rtt: cannot write %s\n", path);
        return -1;
    }
    for (long i = 0; i < n; i++) {
        fprintf(f, "%.1f\n", lat[i] / 1e3);
    }
    if (fclose(f)) {
        fprintf(stderr, "bench_rtt: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static void
usage(void)
{
    fprintf(stderr, "usage: bench_rtt -t TARGET [-n CALLS] [-w WARMUP] [-m txid|phase] [-o FILE]\n"
                    "       bench_rtt -e tcp|unix [-n CALLS] [-w WARMUP] [-o FILE]\n");
}

int
main(int argc, char **argv)
{
    const char *target = NULL, *echo = NULL, *lat_file = NULL;
    long n = 10000, warmup = 200;
    int opt, phase = 0, rc;
    uint64_t *lat, sum = 0;
    double peer_cpu_us = -1;

    while ((opt = getopt(argc, argv, "t:e:n:w:m:o:h")) != -1) {
        switch (opt) {
        case 't':
            target = optarg;
            break;
        case 'e':
            echo = optarg;
            break;
        case 'n':
            n = atol(optarg);
            break;
        case 'w':
            warmup = atol(optarg);
            break;
        case 'm':
            if (!strcmp(optarg, "phase")) {
                phase = 1;
            } else if (strcmp(optarg, "txid")) {
                usage();
                return 2;
            }
            break;
        case 'o':
            lat_file = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (!target == !echo || (echo && strcmp(echo, "tcp") && strcmp(echo, "unix")) || n < 1 ||
        warmup < 0) {
        usage();
        return 2;
    }
    lat = calloc((size_t)n, sizeof *lat);
    if (!lat) {
        fprintf(stderr, "bench_rtt: out of memory\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = echo ? run_echo(!strcmp(echo, "tcp"), warmup, n, lat, &peer_cpu_us)
              : run_chorus(target, phase, warmup, n, lat);
    if (!rc) {
        qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
        for (long i = 0; i < n; i++) {
            sum += lat[i];
        }
        printf("calls=%ld p50_us=%.1f p99_us=%.1f min_us=%.1f max_us=%.1f mean_us=%.1f", n,
               lat[n / 2] / 1e3, lat[(size_t)((double)n * 0.99)] / 1e3, lat[0] / 1e3,
               lat[n - 1] / 1e3, (double)sum / (double)n / 1e3);
        if (peer_cpu_us >= 0) {
            printf(" peer_cpu_us=%.2f", peer_cpu_us);
        }
        printf("\n");
        if (lat_file && write_latencies(lat_file, lat, n)) {
            rc = -1;
        }
    }
    free(lat);
    return rc ? 1 : 0;
}
