/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chorus-validator: an application validation callback (CHORUS_SUB_VALIDATE).
 *
 *   chorus-validator [-p PORT]
 *
 * It enforces a rule that YANG does not express in routes.yang: for every route, leaf3 must
 * not be greater than leaf1 + leaf2. chorusd calls it in the VALIDATE stage of every commit
 * that touches /routes:active-cfg/routes/route, after YANG validation succeeded and before any
 * two-phase subscriber sees PREPARE.
 *
 * The event's diff says WHICH routes changed (a change of leaf1 alone appears as just that
 * leaf); the values to check are read from the transaction being committed through the
 * event's transaction handle ev->th with chorus_get_value(). Reads through ev->th see the
 * datastore with the change applied; they are allowed only during the callback, need no user
 * session, and validators cannot write (chorus_set() on ev->th fails).
 *
 * A route that breaks the rule gets an error item with the data path of its leaf3 and a
 * message; every offending route is reported (one NETCONF <rpc-error> each), and the commit is
 * refused with CHORUS_ERR_VALIDATION: nothing changes, the committer sees the messages.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* sigaction() in a strict C11 build */
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chorus/chorus.h>
#include <chorus/mgmt.h>
#include <chorus/sub.h>

#define PROG "chorus-validator"
#define ROUTE "/routes:active-cfg/routes/route"

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
}

/* Read leaf @p leaf of route @p id in the transaction being validated. */
static enum chorus_err
read_leaf(struct chorus_conn *conn, uint32_t th, const char *id, const char *leaf,
          int64_t *ret_value)
{
    char path[128], *text = NULL;
    enum chorus_err rc;

    snprintf(path, sizeof path, ROUTE "[id='%s']/%s", id, leaf);
    rc = chorus_get_value(conn, th, path, &text);
    if (!rc) {
        *ret_value = strtoll(text, NULL, 10); /* canonical int32: always parses */
        free(text);
    }
    return rc;
}

/* Check one route; returns CHORUS_ERR_VALIDATION after recording an error item. */
static enum chorus_err
check_route(struct chorus_conn *conn, const struct chorus_event *ev, const char *id)
{
    int64_t l1, l2, l3;
    enum chorus_err rc;
    char path[128];

    if ((rc = read_leaf(conn, ev->th, id, "leaf1", &l1)) ||
        (rc = read_leaf(conn, ev->th, id, "leaf2", &l2)) ||
        (rc = read_leaf(conn, ev->th, id, "leaf3", &l3))) {
        /* YANG validation ran first, so the mandatory leaves exist: a failure here is not
         * the route's fault; pass chorusd's reason on */
        const struct chorus_error *e = chorus_last_error(conn);

        return chorus_event_error(conn, ev, rc, e->path, e->app_tag, "route %s: cannot read it: %s",
                                  id, e->message);
    }
    if (l3 > l1 + l2) {
        snprintf(path, sizeof path, ROUTE "[id='%s']/leaf3", id);
        printf("  route %s: leaf3 %" PRId64 " > leaf1 + leaf2 = %" PRId64 ": refused\n", id, l3,
               l1 + l2);
        return chorus_event_error(conn, ev, CHORUS_ERR_VALIDATION, path, "leaf3-too-large",
                                  "route %s: leaf3 (%" PRId64 ") must not be greater than "
                                  "leaf1 + leaf2 (%" PRId64 ")",
                                  id, l3, l1 + l2);
    }
    printf("  route %s: leaf3 %" PRId64 " <= leaf1 + leaf2 = %" PRId64 ": ok\n", id, l3, l1 + l2);
    return CHORUS_OK;
}

static enum chorus_err
validate_routes(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct ly_set *set = NULL;
    enum chorus_err rc = CHORUS_OK;

    (void)arg;
    printf("VALIDATE txid=%" PRIu64 " user=%s context=%s\n", ev->txid, ev->user ? ev->user : "",
           ev->context ? ev->context : "");
    /* the route entries of the diff: every route in which something was created, deleted or
     * replaced (operation create or delete for the whole route, else none) */
    if (ev->diff && lyd_find_xpath(ev->diff, ROUTE, &set) == LY_SUCCESS) {
        for (uint32_t i = 0; i < set->count; i++) {
            const struct lyd_node *route = set->dnodes[i];
            struct lyd_node *key = NULL;

            if (!strcmp(chorus_diff_op(route), "delete")) {
                continue; /* a deleted route has nothing left to check */
            }
            if (lyd_find_path(route, "id", 0, &key) != LY_SUCCESS) {
                continue;
            }
            /* keep checking after a failure, so that every bad route is reported */
            if (check_route(conn, ev, lyd_get_value(key)) && !rc) {
                rc = CHORUS_ERR_VALIDATION;
            }
        }
        ly_set_free(set, NULL);
    }
    fflush(stdout);
    /* an error code vetoes the commit with the items recorded by chorus_event_error() */
    return rc;
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
          "Refuse every commit in which a route's leaf3 is greater than leaf1 + leaf2,\n"
          "until SIGINT or SIGTERM.\n"
          "\n"
          "  -p PORT     IPC port of chorusd (default $CHORUS_IPC_PORT, else 4565)\n"
          "  -h          print this help\n",
          f);
}

int
main(int argc, char **argv)
{
    const char *target = NULL;
    struct sigaction sa = {0};
    struct chorus_conn *conn = NULL;
    enum chorus_err rc;
    int ch, ret = 0;

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
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (chorus_connect(target, PROG, &conn)) {
        fprintf(stderr, PROG ": %s\n", chorus_last_error(NULL)->message);
        return 1;
    }
    /* "route" without a predicate: every entry of the list */
    rc = chorus_subscribe(conn, CHORUS_SUB_VALIDATE, ROUTE, 0, 0, validate_routes, NULL, NULL);
    if (rc) {
        fprintf(stderr, PROG ": cannot register: %s\n", chorus_last_error(conn)->message);
        chorus_disconnect(conn);
        return 1;
    }
    printf("ready: validating %s (leaf3 <= leaf1 + leaf2)\n", ROUTE);
    fflush(stdout);

    while (!stop_signal) {
        rc = chorus_dispatch(conn, 250);
        if (rc != CHORUS_OK && rc != CHORUS_ERR_TIMEOUT) {
            fprintf(stderr, PROG ": %s\n", chorus_last_error(conn)->message);
            ret = 1;
            break;
        }
    }
    if (stop_signal) {
        printf("stopped by signal %d\n", (int)stop_signal);
        fflush(stdout);
    }
    chorus_disconnect(conn);
    return ret;
}
