/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chorus-hook-leaf4: a transaction hook (CHORUS_SUB_HOOK) that completes the configuration.
 *
 *   chorus-hook-leaf4 [-p PORT]
 *
 * For every route created without leaf4 it writes leaf4 = leaf1 + leaf2 + leaf3 into the
 * transaction being committed. Hooks run in the commit sequence after the change has been
 * applied and BEFORE validation, so what is validated (and journalled, and sent to
 * subscribers) includes the hook's writes: leaf4 is mandatory in routes.yang, yet
 * `chorusctl load` of a route with leaf1..leaf3 only commits while this hook runs.
 *
 * The hook reads and writes through the event's transaction handle ev->th, with the ordinary
 * management calls (chorus_exists(), chorus_get_value(), chorus_set()) on the connection the
 * event came on, during the callback. Its writes are seen by hooks of later priority, by
 * validation and by subscribers. Returning an error would abort the commit; this hook leaves
 * incomplete routes to YANG validation instead, which names the missing leaves itself.
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

#define PROG "chorus-hook-leaf4"
#define ROUTE "/routes:active-cfg/routes/route"
#define LEAF_MAX INT32_MAX /* routes.yang: int32 { range "0..max"; } */

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
}

/* Answer with the error of the last call on @p conn: chorusd's reason reaches the committer. */
static enum chorus_err
pass_error(struct chorus_conn *conn, const struct chorus_event *ev, const char *id)
{
    const struct chorus_error *e = chorus_last_error(conn);

    return chorus_event_error(conn, ev, e->code, e->path, e->app_tag, "route %s: %s", id,
                              e->message);
}

/* Fill in leaf4 of the new route @p id, if it has none. */
static enum chorus_err
fill_leaf4(struct chorus_conn *conn, const struct chorus_event *ev, const char *id)
{
    static const char *const leaves[] = {"leaf1", "leaf2", "leaf3"};
    char path[128], value[32];
    int64_t sum = 0;
    int has_leaf4 = 0;

    snprintf(path, sizeof path, ROUTE "[id='%s']/leaf4", id);
    if (chorus_exists(conn, ev->th, path, &has_leaf4)) {
        return pass_error(conn, ev, id);
    }
    if (has_leaf4) {
        printf("  route %s: created with leaf4, left alone\n", id);
        return CHORUS_OK;
    }
    for (size_t i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
        char *text = NULL;

        snprintf(path, sizeof path, ROUTE "[id='%s']/%s", id, leaves[i]);
        if (chorus_get_value(conn, ev->th, path, &text)) {
            if (chorus_last_error(conn)->code != CHORUS_ERR_NOTFOUND) {
                return pass_error(conn, ev, id);
            }
            /* YANG validation, which runs after the hooks, will refuse the route and name
             * every missing leaf */
            printf("  route %s: no %s, leaf4 not computed\n", id, leaves[i]);
            return CHORUS_OK;
        }
        sum += strtoll(text, NULL, 10); /* a canonical int32 value: no parse error possible */
        free(text);
    }
    snprintf(path, sizeof path, ROUTE "[id='%s']/leaf4", id);
    if (sum > LEAF_MAX) {
        return chorus_event_error(conn, ev, CHORUS_ERR_BADVALUE, path, NULL,
                                  "route %s: leaf1 + leaf2 + leaf3 = %" PRId64
                                  " does not fit leaf4 (at most %" PRId32 ")",
                                  id, sum, (int32_t)LEAF_MAX);
    }
    snprintf(value, sizeof value, "%" PRId64, sum);
    if (chorus_set(conn, ev->th, path, value)) {
        return pass_error(conn, ev, id);
    }
    printf("  route %s: leaf4 = %s\n", id, value);
    return CHORUS_OK;
}

static enum chorus_err
hook_routes(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct ly_set *set = NULL;
    enum chorus_err rc = CHORUS_OK;

    (void)arg;
    printf("HOOK txid=%" PRIu64 " user=%s context=%s\n", ev->txid, ev->user ? ev->user : "",
           ev->context ? ev->context : "");
    /* new routes: the list entries of the diff whose operation is "create" */
    if (ev->diff && lyd_find_xpath(ev->diff, ROUTE, &set) == LY_SUCCESS) {
        for (uint32_t i = 0; i < set->count && !rc; i++) {
            const struct lyd_node *route = set->dnodes[i];
            struct lyd_node *key = NULL;

            if (strcmp(chorus_diff_op(route), "create") ||
                lyd_find_path(route, "id", 0, &key) != LY_SUCCESS) {
                continue;
            }
            rc = fill_leaf4(conn, ev, lyd_get_value(key));
        }
        ly_set_free(set, NULL);
    }
    fflush(stdout);
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
          "Set leaf4 = leaf1 + leaf2 + leaf3 in every route created without leaf4,\n"
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
    /* Hooks run one at a time in priority order (lower first); 0 is as good as any here. */
    rc = chorus_subscribe(conn, CHORUS_SUB_HOOK, ROUTE, 0, 0, hook_routes, NULL, NULL);
    if (rc) {
        fprintf(stderr, PROG ": cannot register: %s\n", chorus_last_error(conn)->message);
        chorus_disconnect(conn);
        return 1;
    }
    printf("ready: hook on %s (leaf4 = leaf1 + leaf2 + leaf3)\n", ROUTE);
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
