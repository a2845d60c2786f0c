/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chorus-sub-print: a two-phase subscriber that prints every event it receives.
 *
 *   chorus-sub-print [-p PORT] [-P PRIORITY] [-f json|xml] [--veto-id ID] [PATH]
 *
 * It subscribes to the configuration subtree PATH (default /routes:active-cfg) with
 * CHORUS_SUB_TWO_PHASE, so that it receives PREPARE before the point of no return (and may
 * refuse the transaction), then COMMIT once the change is durable, or ABORT when the
 * transaction it prepared for was aborted. For each event it prints one line with the event,
 * the transaction id, who committed (user, context, session) and the event flags, followed
 * by the change as the libyang diff the event carries (yang:operation metadata on every node,
 * yang:orig-value on replaced leaves).
 *
 * With --veto-id ID it also plays a participant that says no: a PREPARE that creates or
 * changes route ID is answered with an error (chorus_event_error()) naming the route's data
 * path; chorusd aborts the transaction, sends ABORT to the subscribers that saw PREPARE, and
 * the client that committed gets the message (chorusctl prints it).
 *
 * This example uses the simplest event loop: chorus_dispatch() with a timeout, checking a
 * flag set by the SIGINT/SIGTERM handler in between. chorus-oper-routes shows a poll() loop
 * over several connections. Only the public API (include/chorus/) and libyang are used.
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
#include <chorus/sub.h>

#define PROG "chorus-sub-print"
#define ROUTE "/routes:active-cfg/routes/route"

struct opts {
    const char *target; /* "PORT" for chorus_connect(), or NULL for its default */
    const char *path;
    int32_t priority;
    LYD_FORMAT format;
    const char *veto_id; /* route id to refuse, or NULL */
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
}

static const char *
event_name(enum chorus_event_type type)
{
    switch (type) {
    case CHORUS_EV_PREPARE:
        return "PREPARE";
    case CHORUS_EV_COMMIT:
        return "COMMIT";
    case CHORUS_EV_ABORT:
        return "ABORT";
    default:
        return "OTHER"; /* a subscription receives only the three above */
    }
}

/* The event flags as "revert,rollback,init", or "none". */
static const char *
flag_names(uint32_t flags, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s", flags & CHORUS_EVF_REVERT ? "revert," : "",
             flags & CHORUS_EVF_ROLLBACK ? "rollback," : "", flags & CHORUS_EVF_INIT ? "init," : "",
             flags ? "" : "none");
    if (flags && buf[0]) {
        buf[strlen(buf) - 1] = '\0'; /* the last comma */
    }
    return buf;
}

/*
 * --veto-id: refuse a PREPARE whose change creates or changes route @p id. The diff holds the
 * route's list entry if anything inside it changed: with operation "create" for a new route
 * (possibly inherited), "none" (and operations on its leaves) for a changed one, "delete" for
 * a removed one, which this example lets through.
 */
static enum chorus_err
veto(struct chorus_conn *conn, const struct chorus_event *ev, const char *id)
{
    char xpath[128];
    struct ly_set *set = NULL;
    enum chorus_err rc = CHORUS_OK;

    if (!ev->diff) {
        return CHORUS_OK;
    }
    snprintf(xpath, sizeof xpath, ROUTE "[id='%s']", id);
    if (lyd_find_xpath(ev->diff, xpath, &set) == LY_SUCCESS && set->count &&
        strcmp(chorus_diff_op(set->dnodes[0]), "delete")) {
        /* the data path of the route, e.g. /routes:active-cfg/routes/route[id='0000042'] */
        char *path = lyd_path(set->dnodes[0], LYD_PATH_STD, NULL, 0);

        printf("  vetoed: route %s is reserved (--veto-id)\n", id);
        /* The message, path and app-tag travel to the client that committed, as one
         * NETCONF <rpc-error>; returning the error code aborts the transaction. */
        rc =
            chorus_event_error(conn, ev, CHORUS_ERR_VALIDATION, path, "route-reserved",
                               "route %s is reserved: " PROG " refuses to create or change it", id);
        free(path);
    }
    ly_set_free(set, NULL);
    return rc;
}

/* The callback of the subscription: runs inside chorus_dispatch(); the event and its diff are
 * valid until it returns. chorusd waits for the answer (up to commit/subscriber-timeout). */
static enum chorus_err
print_event(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    const struct opts *o = arg;
    enum chorus_err rc = CHORUS_OK;
    char flags[64];
    char *text = NULL;

    printf("%s txid=%" PRIu64 " user=%s context=%s usid=%" PRIu32 " flags=%s subscription=%" PRIu32
           "\n",
           event_name(ev->type), ev->txid, ev->user ? ev->user : "", ev->context ? ev->context : "",
           ev->usid, flag_names(ev->flags, flags, sizeof flags), ev->subid);
    if (ev->diff &&
        lyd_print_mem(&text, ev->diff, o->format, LYD_PRINT_WITHSIBLINGS) == LY_SUCCESS) {
        fputs(text, stdout);
        if (*text && text[strlen(text) - 1] != '\n') {
            fputc('\n', stdout);
        }
    } else if (!ev->diff) {
        printf("  (no change in %s)\n", o->path);
    }
    free(text);
    /* Only PREPARE can refuse a transaction; an error answer to COMMIT or ABORT is merely
     * logged by chorusd, since the outcome is decided by then. */
    if (ev->type == CHORUS_EV_PREPARE && o->veto_id) {
        rc = veto(conn, ev, o->veto_id);
    }
    fflush(stdout);
    return rc;
}

static void
usage(FILE *f)
{
    fputs("Usage: " PROG " [-p PORT] [-P PRIORITY] [-f json|xml] [--veto-id ID] [PATH]\n"
          "Print the PREPARE, COMMIT and ABORT events of a two-phase subscription to PATH\n"
          "(default /routes:active-cfg) with the change they carry, until SIGINT or SIGTERM.\n"
          "\n"
          "  -p PORT        IPC port of chorusd (default $CHORUS_IPC_PORT, else 4565)\n"
          "  -P PRIORITY    subscription priority: lower ones are called first (default 0)\n"
          "  -f json|xml    encoding of the printed diffs (default json)\n"
          "  --veto-id ID   abort every transaction that creates or changes route ID\n"
          "  -h, --help     print this help\n"
          "\n"
          "The shared secret of a chorusd with ipc/secret-file is read from the file named by\n"
          "$CHORUS_IPC_SECRET_FILE.\n",
          f);
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

static int
parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"veto-id", required_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    long v;
    int ch;

    while ((ch = getopt_long(argc, argv, "p:P:f:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (!valid_port(optarg)) {
                fprintf(stderr, PROG ": invalid port '%s'\n", optarg);
                return 2;
            }
            o->target = optarg;
            break;
        case 'P':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || !*optarg || v < INT32_MIN || v > INT32_MAX) {
                fprintf(stderr, PROG ": invalid priority '%s'\n", optarg);
                return 2;
            }
            o->priority = (int32_t)v;
            break;
        case 'f':
            if (!strcmp(optarg, "json")) {
                o->format = LYD_JSON;
            } else if (!strcmp(optarg, "xml")) {
                o->format = LYD_XML;
            } else {
                fprintf(stderr, PROG ": invalid format '%s' (json or xml)\n", optarg);
                return 2;
            }
            break;
        case 'V':
            /* a route id is seven digits (routes.yang); it goes into an XPath predicate */
            if (strlen(optarg) != 7 || strspn(optarg, "0123456789") != 7) {
                fprintf(stderr, PROG ": invalid route id '%s' (seven digits)\n", optarg);
                return 2;
            }
            o->veto_id = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        o->path = argv[optind++];
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o = {NULL, "/routes:active-cfg", 0, LYD_JSON, NULL};
    struct sigaction sa = {0};
    struct chorus_conn *conn = NULL;
    enum chorus_err rc;
    uint32_t subid;
    int ret;

    if ((ret = parse_args(argc, argv, &o))) {
        return ret;
    }
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (chorus_connect(o.target, PROG, &conn)) {
        /* no connection to keep the error in: the thread's last error */
        fprintf(stderr, PROG ": %s\n", chorus_last_error(NULL)->message);
        return 1;
    }
    /* Loads the daemon's modules into the connection's libyang context (the events' diffs
     * live in it), then registers. Events start arriving on this connection's socket. */
    rc = chorus_subscribe(conn, CHORUS_SUB_CONFIG, o.path, o.priority, CHORUS_SUB_TWO_PHASE,
                          print_event, &o, &subid);
    if (rc) {
        const struct chorus_error *e = chorus_last_error(conn);

        fprintf(stderr, PROG ": cannot subscribe to %s: %s\n", o.path, e->message);
        chorus_disconnect(conn);
        return 1;
    }
    printf("ready: subscription %" PRIu32 " to %s, priority %" PRId32 ", two-phase%s%s\n", subid,
           o.path, o.priority, o.veto_id ? ", vetoing route " : "", o.veto_id ? o.veto_id : "");
    fflush(stdout);

    /* Each chorus_dispatch() reads one event, calls print_event() and sends its answer. The
     * timeout only bounds how long a signal may wait to be noticed. */
    ret = 0;
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
    /* chorusd drops the registration with the connection */
    chorus_disconnect(conn);
    return ret;
}
