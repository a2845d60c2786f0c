/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SSH transport (src/daemon/nc/ssh.c) alone, for t_ssh_relay.sh: nc_ssh_start() on a
 * configuration file and an echo server in place of the NETCONF server, so that
 * `ssh -s netconf` gets back every byte it sends.
 *
 *   ssh_relay_test CONF PORT
 *
 * Prints "READY" once listening, "ACCEPT <user> <peer>" for each NETCONF channel and "CLOSED"
 * when the echo server closes one: after the client's EOF, or right after echoing a line
 * "bye" (the daemon side closing first). SIGUSR1 prints "CONNECTIONS <n>"
 * (nc_ssh_connections()). SIGTERM/SIGINT stop it cleanly (exit 0); a start failure prints the
 * error on stderr and exits 1. Logs go to stderr.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/core.h"
#include "daemon/nc/ssh.h"

struct echo {
    int fd;
    struct echo *next;
};

struct app {
    struct core c;
    struct nc_ssh *ssh;
    struct echo *echoes;
};

static void
echo_close(struct app *a, int fd)
{
    struct echo **pp, *x;

    for (pp = &a->echoes; *pp; pp = &(*pp)->next) {
        if ((*pp)->fd == fd) {
            x = *pp;
            *pp = x->next;
            free(x);
            break;
        }
    }
    ev_del(a->c.ev, fd);
    close(fd);
    printf("CLOSED\n");
}

/* Write everything back (the fd is non-blocking: wait for room; the SSH thread drains it). */
static int
echo_write(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};

            if (errno == EINTR) {
                continue;
            }
            if ((errno != EAGAIN && errno != EWOULDBLOCK) || poll(&pfd, 1, 10000) <= 0) {
                return -1;
            }
            continue;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void
on_echo(void *arg, int fd, uint32_t events)
{
    struct app *a = arg;
    char buf[65536];
    ssize_t n;

    (void)events;
    n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0 || echo_write(fd, buf, (size_t)n) < 0 ||
        (n >= 4 && memmem(buf, (size_t)n, "bye\n", 4))) {
        echo_close(a, fd);
    }
}

static void
on_accept(void *arg, int fd, const char *user, const char *peer)
{
    struct app *a = arg;
    struct echo *x = calloc(1, sizeof *x);

    if (!x || ev_add(a->c.ev, fd, EV_READ, on_echo, a) < 0) {
        free(x);
        close(fd);
        return;
    }
    x->fd = fd;
    x->next = a->echoes;
    a->echoes = x;
    printf("ACCEPT %s %s\n", user, peer);
}

static void
on_signal(void *arg, int signo)
{
    struct app *a = arg;

    if (signo == SIGUSR1) {
        printf("CONNECTIONS %u\n", nc_ssh_connections(a->ssh));
        return;
    }
    ev_stop(a->c.ev);
}

int
main(int argc, char **argv)
{
    struct app a = {0};
    struct cerr *e = NULL;
    uint32_t port;
    int rc = 1;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 3 || parse_u32(argv[2], 65535, &port) < 0) {
        fprintf(stderr, "usage: ssh_relay_test CONF PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (cfg_load(argv[1], &a.c.cfg, &e)) {
        fprintf(stderr, "ssh_relay_test: %s\n", e ? e->msg : "cannot load the configuration");
        goto out;
    }
    a.c.cfg->nc_ssh_port = (uint16_t)port;
    if (mkdir_p(a.c.cfg->db_dir) < 0 || log_setup(NULL, a.c.cfg->log_level, 1) < 0 ||
        !(a.c.ev = ev_new())) {
        fprintf(stderr, "ssh_relay_test: cannot set up\n");
        goto out;
    }
    ev_signal(a.c.ev, SIGTERM, on_signal, &a);
    ev_signal(a.c.ev, SIGINT, on_signal, &a);
    ev_signal(a.c.ev, SIGUSR1, on_signal, &a);
    if (nc_ssh_start(&a.c, on_accept, &a, &a.ssh, &e)) {
        fprintf(stderr, "ssh_relay_test: %s\n", e ? e->msg : "cannot start");
        goto out;
    }
    printf("READY\n");
    rc = ev_run(a.c.ev) < 0 ? 1 : 0;
out:
    nc_ssh_stop(a.ssh);
    while (a.echoes) {
        echo_close(&a, a.echoes->fd);
    }
    ev_free(a.c.ev);
    cfg_free(a.c.cfg);
    cerr_free(e);
    log_close();
    return rc;
}
