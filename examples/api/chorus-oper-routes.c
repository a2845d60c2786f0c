/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chorus-oper-routes: an operational-data provider (CHORUS_SUB_OPER) with a poll() loop.
 *
 *   chorus-oper-routes [-p PORT]
 *
 * It serves the config false container /routes:routes-state of routes.yang:
 *
 *   route-count   the number of routes in running, counted when asked, through a separate
 *                 management connection (chorus_num_instances() in a read-only transaction);
 *   commits-seen  the number of COMMIT events of a one-phase subscription to
 *                 /routes:active-cfg received since the provider started.
 *
 * chorusd sends an OPER event to the provider whenever a read of the operational datastore
 * (chorus_get() in a CHORUS_DB_OPERATIONAL transaction) reaches the registered subtree, and
 * merges the answer into the result. Nothing is stored in chorusd.
 *
 * Connections. The application owns three:
 *
 *   oper   the OPER registration; its events are answered from the poll() loop;
 *   watch  the CONFIG subscription; its COMMIT events are counted from the same loop;
 *   mgmt   a user session for management calls, made from the OPER callback.
 *
 * The two registrations could share one connection; they have one each here to show the loop
 * over several connections. The management calls have their own: a connection waiting for a
 * reply does not dispatch its events. That is harmless for a read like this one, but a commit
 * made through a connection that carries a subscription would wait for that subscription's
 * own answer until commit/subscriber-timeout.
 *
 * The loop: SIGINT and SIGTERM are blocked except inside ppoll(), so a signal either arrives
 * before the check of the flag or interrupts the wait, never in between. Before waiting,
 * each connection's already-read events are dispatched: an event can be read from the socket
 * while a call on that connection waits for its reply, and poll() does not see it any more
 * (chorus_events_pending()).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll() */
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chorus/chorus.h>
#include <chorus/mgmt.h>
#include <chorus/sub.h>

#define PROG "chorus-oper-routes"
#define STATE "/routes:routes-state"
#define ROUTE "/routes:active-cfg/routes/route"

struct provider {
    struct chorus_conn *oper, *watch, *mgmt;
    uint64_t commits_seen;
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
}

/* The number of routes in running, through the management connection. */
static enum chorus_err
count_routes(struct chorus_conn *mgmt, uint64_t *ret_count)
{
    enum chorus_err rc, rc2;
    uint32_t th;

    rc = chorus_trans_start(mgmt, CHORUS_DB_RUNNING, 0, &th);
    if (rc) {
        return rc;
    }
    /* the path of the list without a predicate */
    rc = chorus_num_instances(mgmt, th, ROUTE, ret_count);
    rc2 = chorus_trans_finish(mgmt, th);
    return rc ? rc : rc2;
}

/* OPER: answer with /routes:routes-state. */
static enum chorus_err
oper_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct provider *pv = arg;
    struct lyd_node *tree = NULL;
    char count[24], seen[24];
    uint64_t routes = 0;
    enum chorus_err rc;

    if (count_routes(pv->mgmt, &routes)) {
        const struct chorus_error *e = chorus_last_error(pv->mgmt);

        /* the reader gets this error instead of the operational data */
        return chorus_event_error(conn, ev, e->code, NULL, NULL, "cannot count the routes: %s",
                                  e->message);
    }
    snprintf(count, sizeof count, "%" PRIu64, routes > UINT32_MAX ? UINT32_MAX : routes);
    snprintf(seen, sizeof seen, "%" PRIu64, pv->commits_seen);
    /* The answer is a data tree in the context of the connection the event came on
     * (chorus_ctx()); chorusd merges it into the reader's result. */
    if (lyd_new_path(NULL, chorus_ctx(conn), STATE "/route-count", count, 0, &tree) ||
        lyd_new_path(tree, NULL, STATE "/commits-seen", seen, 0, NULL)) {
        lyd_free_all(tree);
        return chorus_event_error(conn, ev, CHORUS_ERR_INTERNAL, NULL, NULL,
                                  "cannot build the answer");
    }
    rc = chorus_event_reply_data(conn, ev, tree);
    lyd_free_all(tree);
    printf("OPER %s: route-count=%s commits-seen=%s\n", ev->path, count, seen);
    fflush(stdout);
    return rc;
}

/* COMMIT of the one-phase subscription: count it. (A one-phase subscriber receives neither
 * PREPARE nor ABORT: only changes that were committed.) */
static enum chorus_err
commit_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct provider *pv = arg;

    (void)conn;
    if (ev->type == CHORUS_EV_COMMIT) {
        pv->commits_seen++;
        printf("COMMIT txid=%" PRIu64 ": commits-seen=%" PRIu64 "\n", ev->txid, pv->commits_seen);
        fflush(stdout);
    }
    return CHORUS_OK;
}

/* Dispatch the events already read into @p conn; CHORUS_OK or a transport error. */
static enum chorus_err
drain(struct chorus_conn *conn)
{
    while (chorus_events_pending(conn)) {
        enum chorus_err rc = chorus_dispatch(conn, 0);

        if (rc && rc != CHORUS_ERR_TIMEOUT) {
            return rc;
        }
    }
    return CHORUS_OK;
}

static int
run(struct provider *pv, const sigset_t *waitmask)
{
    struct chorus_conn *conns[2] = {pv->oper, pv->watch};
    struct pollfd pfd[2];

    for (int i = 0; i < 2; i++) {
        pfd[i] = (struct pollfd){.fd = chorus_fd(conns[i]), .events = POLLIN};
    }
    for (;;) {
        for (int i = 0; i < 2; i++) {
            if (drain(conns[i])) {
                fprintf(stderr, PROG ": %s\n", chorus_last_error(conns[i])->message);
                return 1;
            }
        }
        if (stop_signal) {
            return 0;
        }
        /* the only place where SIGINT and SIGTERM are delivered */
        if (ppoll(pfd, 2, NULL, waitmask) < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror(PROG ": ppoll");
            return 1;
        }
        for (int i = 0; i < 2; i++) {
            enum chorus_err rc;

            if (!pfd[i].revents) {
                continue;
            }
            /* readable (or closed): one event, read and answered; 0 = do not wait */
            rc = chorus_dispatch(conns[i], 0);
            if (rc && rc != CHORUS_ERR_TIMEOUT) {
                fprintf(stderr, PROG ": %s\n", chorus_last_error(conns[i])->message);
                return 1;
            }
        }
    }
}

static int
connect_one(const char *target, const char *name, struct chorus_conn **ret_conn)
{
    if (chorus_connect(target, name, ret_conn)) {
        fprintf(stderr, PROG ": %s\n", chorus_last_error(NULL)->message);
        return -1;
    }
    return 0;
}

/* -p PORT: chorus_connect() accepts a port number as its target. */
static int
valid_port(const char *s)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    return !errno && *s && !*end && v >= 1 && v <= 65535;
}

static void
usage(FILE *f)
{
    fputs("Usage: " PROG " [-p PORT]\n"
          "Provide " STATE " (route-count, commits-seen) to reads of the operational\n"
          "datastore, until SIGINT or SIGTERM.\n"
          "\n"
          "  -p PORT     IPC port of chorusd (default $CHORUS_IPC_PORT, else 4565)\n"
          "  -h          print this help\n",
          f);
}

int
main(int argc, char **argv)
{
    struct provider pv = {NULL, NULL, NULL, 0};
    const char *target = NULL;
    struct sigaction sa = {0};
    sigset_t block, waitmask;
    int ch, ret = 1;

    while ((ch = getopt(argc, argv, "p:h")) != -1) {
        switch (ch) {
        case 'p':
            if (!valid_port(optarg)) {
                fprintf(stderr, PROG ": invalid port '%s'\n", optarg);
                return 2;
            }
            target = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    /* SIGINT and SIGTERM: blocked from here on, delivered only inside ppoll() */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGTERM);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (connect_one(target, PROG " (oper)", &pv.oper) ||
        connect_one(target, PROG " (watch)", &pv.watch) ||
        connect_one(target, PROG " (mgmt)", &pv.mgmt)) {
        goto out;
    }
    /* Management calls need a user session; the registrations do not. A reply timeout keeps
     * the OPER answer from waiting forever on a stuck daemon (the connection is closed on
     * timeout, and later calls fail). */
    chorus_set_timeout(pv.mgmt, 10000);
    if (chorus_session_start(pv.mgmt, "oper-routes", "system", NULL, 0, NULL, NULL)) {
        fprintf(stderr, PROG ": session: %s\n", chorus_last_error(pv.mgmt)->message);
        goto out;
    }
    /* Subscribe first, so that no commit is missed once the provider answers. */
    if (chorus_subscribe(pv.watch, CHORUS_SUB_CONFIG, "/routes:active-cfg", 0, 0, commit_cb, &pv,
                         NULL)) {
        fprintf(stderr, PROG ": subscribe: %s\n", chorus_last_error(pv.watch)->message);
        goto out;
    }
    if (chorus_subscribe(pv.oper, CHORUS_SUB_OPER, STATE, 0, 0, oper_cb, &pv, NULL)) {
        fprintf(stderr, PROG ": register: %s\n", chorus_last_error(pv.oper)->message);
        goto out;
    }
    printf("ready: providing %s\n", STATE);
    fflush(stdout);

    ret = run(&pv, &waitmask);
    if (stop_signal) {
        printf("stopped by signal %d\n", (int)stop_signal);
        fflush(stdout);
    }
out:
    if (pv.mgmt) {
        chorus_session_end(pv.mgmt); /* chorus_disconnect() would end it too */
    }
    chorus_disconnect(pv.mgmt); /* NULL is accepted */
    chorus_disconnect(pv.watch);
    chorus_disconnect(pv.oper);
    return ret;
}
