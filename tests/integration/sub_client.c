/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sub_client: integration scenarios of the subscriber and data-provider APIs (sub.h) against
 * a real chorusd with the routes and chorus-test models, run by t_api_sub.sh.
 *
 *   sub_client PORT SCENARIO [ARG]
 *
 * Applications run as threads, each with its own connection and dispatch loop (or as a forked
 * process where one must die). Each scenario exits 0 when every expectation held, else prints
 * "FAIL <scenario>: line N: <what>" with the error items and exits 1.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chorus/mgmt.h"
#include "chorus/sub.h"

#define ROUTE "/routes:active-cfg/routes/route"
#define RPATH(id) ROUTE "[id='" id "']"

static const char *scen = "?";
static const char *target;

static void
print_errors(const struct chorus_conn *c)
{
    for (size_t i = 0; i < chorus_error_count(c); i++) {
        const struct chorus_error *e = chorus_error_at(c, i);

        fprintf(stderr, "  error: code %d (%s): %s%s%s\n", (int)e->code, chorus_strerror(e->code),
                e->message, e->path ? " path: " : "", e->path ? e->path : "");
    }
}

static void fail_at(int line, const struct chorus_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void
fail_at(int line, const struct chorus_conn *c, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL %s: line %d: ", scen, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (c) {
        print_errors(c);
    }
    exit(1);
}

#define FAIL(c, ...) fail_at(__LINE__, (c), __VA_ARGS__)
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fail_at(__LINE__, NULL, __VA_ARGS__);                                                  \
        }                                                                                          \
    } while (0)
#define OK(c, call)                                                                                \
    do {                                                                                           \
        if ((call) != CHORUS_OK) {                                                                 \
            FAIL((c), "%s failed", #call);                                                         \
        }                                                                                          \
    } while (0)

static struct chorus_conn *
mgmt(void)
{
    struct chorus_conn *c;

    if (chorus_connect(target, "sub_client", &c)) {
        FAIL(NULL, "connect: %s", chorus_last_error(NULL)->message);
    }
    chorus_set_timeout(c, 60000);
    OK(c, chorus_session_start(c, "tester", "cli", NULL, 0, NULL, NULL));
    return c;
}

/* Apply one set of (path, value) pairs; returns the error code. */
static enum chorus_err
apply(struct chorus_conn *c, const char *const *pv, size_t n, uint64_t *txid)
{
    uint32_t th;
    enum chorus_err rc;

    OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 1, &th));
    for (size_t i = 0; i < n; i += 2) {
        OK(c, chorus_set(c, th, pv[i], pv[i + 1]));
    }
    rc = chorus_apply(c, th, txid);
    if (rc) {
        /* keep the error items for the caller: finish on a fresh connection later */
        return rc;
    }
    OK(c, chorus_trans_finish(c, th));
    return rc;
}

static int
exists(struct chorus_conn *c, const char *path)
{
    uint32_t th;
    int x = 0;

    OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 0, &th));
    OK(c, chorus_exists(c, th, path, &x));
    OK(c, chorus_trans_finish(c, th));
    return x;
}

static char *
value(struct chorus_conn *c, const char *path)
{
    uint32_t th;
    char *v = NULL;

    OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 0, &th));
    OK(c, chorus_get_value(c, th, path, &v));
    OK(c, chorus_trans_finish(c, th));
    return v;
}

static void
expect_error(struct chorus_conn *c, enum chorus_err rc, enum chorus_err want, const char *msg,
             const char *path, int line)
{
    const struct chorus_error *e = chorus_last_error(c);

    if (rc != want) {
        fail_at(line, c, "got %d (%s), want %d (%s)", (int)rc, chorus_strerror(rc), (int)want,
                chorus_strerror(want));
    }
    if (msg && !strstr(e->message, msg)) {
        fail_at(line, c, "the message does not name \"%s\"", msg);
    }
    if (path && (!e->path || strcmp(e->path, path))) {
        fail_at(line, c, "the error path is %s, want %s", e->path ? e->path : "(none)", path);
    }
}
#define EXPECT_ERROR(c, rc, want, msg, path) expect_error((c), (rc), (want), (msg), (path), __LINE__)

/* Delete @p path if it exists (a scenario's starting point). */
static void
absent(const char *path)
{
    struct chorus_conn *c = mgmt();
    uint32_t th;

    if (exists(c, path)) {
        OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 1, &th));
        OK(c, chorus_delete(c, th, path));
        OK(c, chorus_apply(c, th, NULL));
        OK(c, chorus_trans_finish(c, th));
    }
    chorus_disconnect(c);
}

/* ---- applications as threads ---- */

#define MAX_LOG 256

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char evlog[MAX_LOG][96];
static uint64_t evlog_ms[MAX_LOG];
static int nlog;

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
logev(const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&log_mu);
    if (nlog < MAX_LOG) {
        va_start(ap, fmt);
        vsnprintf(evlog[nlog], sizeof evlog[nlog], fmt, ap);
        va_end(ap);
        evlog_ms[nlog++] = now_ms();
    }
    pthread_mutex_unlock(&log_mu);
}

static int
log_find(const char *s, int from)
{
    pthread_mutex_lock(&log_mu);
    for (int i = from; i < nlog; i++) {
        if (!strcmp(evlog[i], s)) {
            pthread_mutex_unlock(&log_mu);
            return i;
        }
    }
    pthread_mutex_unlock(&log_mu);
    return -1;
}

static const char *
evname(enum chorus_event_type t)
{
    switch (t) {
    case CHORUS_EV_PREPARE:
        return "PREPARE";
    case CHORUS_EV_COMMIT:
        return "COMMIT";
    case CHORUS_EV_ABORT:
        return "ABORT";
    case CHORUS_EV_HOOK:
        return "HOOK";
    case CHORUS_EV_VALIDATE:
        return "VALIDATE";
    case CHORUS_EV_OPER:
        return "OPER";
    case CHORUS_EV_RPC:
        return "RPC";
    case CHORUS_EV_TRANS_INIT:
        return "TRANS_INIT";
    case CHORUS_EV_TRANS_LOCK:
        return "TRANS_LOCK";
    case CHORUS_EV_TRANS_FINISH:
        return "TRANS_FINISH";
    case CHORUS_EV_LOCK:
        return "LOCK";
    case CHORUS_EV_UNLOCK:
        return "UNLOCK";
    }
    return "?";
}

struct app {
    const char *name;
    enum chorus_sub_kind kind;
    const char *path;
    int32_t prio;
    uint32_t flags;
    chorus_event_cb cb;
    void *cb_arg; /* the callback's argument (default: the app) */
    struct chorus_conn *conn;
    pthread_t thr;
    atomic_int ready, stop;
    /* what the callbacks saw / do */
    int veto;           /* PREPARE: abort */
    int sleep_ms;       /* PREPARE: sleep first */
    char last_diff[4096];
    uint64_t last_txid;
    char last_user[32], last_ctx[32];
};

static void *
app_main(void *arg)
{
    struct app *a = arg;

    if (chorus_connect(target, a->name, &a->conn)) {
        fprintf(stderr, "%s: connect failed\n", a->name);
        exit(1);
    }
    if (chorus_subscribe(a->conn, a->kind, a->path, a->prio, a->flags, a->cb,
                         a->cb_arg ? a->cb_arg : a, NULL)) {
        fprintf(stderr, "FAIL %s: %s: subscribe: %s\n", scen, a->name,
                chorus_last_error(a->conn)->message);
        exit(1);
    }
    atomic_store(&a->ready, 1);
    while (!atomic_load(&a->stop)) {
        enum chorus_err rc = chorus_dispatch(a->conn, 50);

        if (rc == CHORUS_ERR_CLOSED || rc == CHORUS_ERR_IO || rc == CHORUS_ERR_PROTO) {
            if (!atomic_load(&a->stop)) {
                fprintf(stderr, "%s: dispatch: %s\n", a->name, chorus_last_error(a->conn)->message);
            }
            break;
        }
    }
    chorus_disconnect(a->conn);
    return NULL;
}

static void app_start(struct app *a);

static void
app_start_arg(struct app *a, void *cb_arg)
{
    a->cb_arg = cb_arg;
    app_start(a);
}

static void
app_start(struct app *a)
{
    pthread_create(&a->thr, NULL, app_main, a);
    for (int i = 0; i < 2000 && !atomic_load(&a->ready); i++) {
        usleep(5000);
    }
    CHECK(atomic_load(&a->ready), "%s did not register", a->name);
}

static void
app_stop(struct app *a)
{
    atomic_store(&a->stop, 1);
    pthread_join(a->thr, NULL);
}

static int print_events; /* serve-cluster: events on stdout too */

/* A subscriber: logs "<EVENT> <name>", keeps the diff (JSON), vetoes if told to. */
static enum chorus_err
sub_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct app *a = arg;
    char *text = NULL;

    logev("%s %s", evname(ev->type), a->name);
    if (print_events) {
        printf("%s %s\n", evname(ev->type), a->name);
        fflush(stdout);
    }
    if (ev->diff) {
        lyd_print_mem(&text, ev->diff, LYD_JSON, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK);
    }
    snprintf(a->last_diff, sizeof a->last_diff, "%s", text ? text : "");
    free(text);
    a->last_txid = ev->txid;
    snprintf(a->last_user, sizeof a->last_user, "%s", ev->user ? ev->user : "");
    snprintf(a->last_ctx, sizeof a->last_ctx, "%s", ev->context ? ev->context : "");
    if (ev->type == CHORUS_EV_PREPARE) {
        if (a->sleep_ms) {
            usleep((useconds_t)a->sleep_ms * 1000);
            logev("PREPARE-END %s", a->name);
        }
        if (a->veto) {
            return chorus_event_error(conn, ev, CHORUS_ERR_VALIDATION, RPATH("0000042"),
                                      "reserved", "%s: route 0000042 is reserved", a->name);
        }
    }
    return CHORUS_OK;
}

/* ---- scenarios ---- */

static const char *const R42[] = {RPATH("0000042") "/leaf1", "1", RPATH("0000042") "/leaf2", "2",
                                  RPATH("0000042") "/leaf3", "3", RPATH("0000042") "/leaf4", "4"};
static const char *const R43[] = {RPATH("0000043") "/leaf1", "1", RPATH("0000043") "/leaf2", "2",
                                  RPATH("0000043") "/leaf3", "3", RPATH("0000043") "/leaf4", "4"};

/* A two-phase subscriber's veto reaches the committer with its message and path; nothing
 * changes; a later commit is seen with user, context and transaction id. */
static void
scen_veto(void)
{
    struct app a = {.name = "vetoer",
                    .kind = CHORUS_SUB_CONFIG,
                    .path = "/routes:active-cfg",
                    .flags = CHORUS_SUB_TWO_PHASE,
                    .cb = sub_cb,
                    .veto = 1};
    struct chorus_conn *c = mgmt(), *c2;
    enum chorus_err rc;
    uint64_t txid0 = 0, txid = 0;

    absent(RPATH("0000042"));
    absent(RPATH("0000043"));
    OK(c, chorus_txid(c, &txid0));
    app_start(&a);
    rc = apply(c, R42, 8, NULL);
    EXPECT_ERROR(c, rc, CHORUS_ERR_VALIDATION, "vetoer: route 0000042 is reserved",
                 RPATH("0000042"));
    CHECK(!strcmp(chorus_last_error(c)->app_tag ? chorus_last_error(c)->app_tag : "", "reserved"),
          "app-tag lost");
    chorus_disconnect(c);
    c2 = mgmt();
    CHECK(!exists(c2, RPATH("0000042")), "the vetoed route exists");
    OK(c2, chorus_txid(c2, &txid));
    CHECK(txid == txid0, "the transaction id moved on a vetoed commit");
    CHECK(log_find("PREPARE vetoer", 0) >= 0 && log_find("ABORT vetoer", 0) > 0,
          "PREPARE then ABORT not seen");
    a.veto = 0;
    OK(c2, apply(c2, R43, 8, &txid));
    CHECK(log_find("COMMIT vetoer", 0) > 0, "COMMIT not seen");
    CHECK(a.last_txid == txid, "COMMIT carries txid %" PRIu64 ", the commit returned %" PRIu64,
          a.last_txid, txid);
    CHECK(!strcmp(a.last_user, "tester") && !strcmp(a.last_ctx, "cli"),
          "user/context %s/%s", a.last_user, a.last_ctx);
    CHECK(strstr(a.last_diff, "\"id\":\"0000043\"") && strstr(a.last_diff, "create"),
          "the diff lacks the created route: %s", a.last_diff);
    app_stop(&a);
    chorus_disconnect(c2);
}

/* Priorities: lowest first, equal ones in parallel, ABORT in reverse order. */
static void
scen_order(void)
{
    struct app a[4] = {
        {.name = "p1", .prio = 1},
        {.name = "p2a", .prio = 2, .sleep_ms = 300},
        {.name = "p2b", .prio = 2},
        {.name = "p3", .prio = 3, .veto = 1},
    };
    struct chorus_conn *c = mgmt();
    enum chorus_err rc;
    int i1, i2a, i2b, e2a, i3, a3, a2a, a2b, a1;

    absent(RPATH("0000042"));
    for (int i = 0; i < 4; i++) {
        a[i].kind = CHORUS_SUB_CONFIG;
        a[i].path = ROUTE;
        a[i].flags = CHORUS_SUB_TWO_PHASE;
        a[i].cb = sub_cb;
        app_start(&a[i]);
    }
    rc = apply(c, R42, 8, NULL);
    EXPECT_ERROR(c, rc, CHORUS_ERR_VALIDATION, "p3: route 0000042 is reserved", NULL);
    i1 = log_find("PREPARE p1", 0);
    i2a = log_find("PREPARE p2a", 0);
    i2b = log_find("PREPARE p2b", 0);
    e2a = log_find("PREPARE-END p2a", 0);
    i3 = log_find("PREPARE p3", 0);
    a3 = log_find("ABORT p3", 0);
    a2a = log_find("ABORT p2a", 0);
    a2b = log_find("ABORT p2b", 0);
    a1 = log_find("ABORT p1", 0);
    for (int i = 0; i < nlog; i++) {
        printf("  event %d: %s\n", i, evlog[i]);
    }
    CHECK(i1 >= 0 && i2a > i1 && i2b > i1, "priority 1 not first");
    CHECK(i2b < e2a, "equal priorities did not run in parallel (p2b waited for p2a)");
    CHECK(i3 > e2a && i3 > i2b, "priority 3 before priority 2 was done");
    CHECK(a3 > i3 && a2a > a3 && a2b > a3 && a1 > a2a && a1 > a2b,
          "ABORT not in reverse order");
    /* now the same commit succeeds: COMMIT in priority order */
    a[3].veto = 0;
    nlog = 0;
    chorus_disconnect(c);
    c = mgmt();
    OK(c, apply(c, R42, 8, NULL));
    CHECK(log_find("COMMIT p1", 0) >= 0 && log_find("COMMIT p3", 0) > log_find("COMMIT p2a", 0) &&
              log_find("COMMIT p3", 0) > log_find("COMMIT p2b", 0) &&
              log_find("COMMIT p2a", 0) > log_find("COMMIT p1", 0),
          "COMMIT not in priority order");
    for (int i = 0; i < 4; i++) {
        app_stop(&a[i]);
    }
    chorus_disconnect(c);
}

/* A hook fills in leaf4 = leaf1 + leaf2 + leaf3 of every route created without one, reading
 * and writing the transaction through the event's handle. */
static enum chorus_err
hook_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct app *a = arg;
    struct ly_set *set = NULL;

    logev("HOOK %s", a->name);
    if (!ev->diff || lyd_find_xpath(ev->diff, ROUTE, &set)) {
        return CHORUS_OK;
    }
    for (uint32_t i = 0; i < set->count; i++) {
        const struct lyd_node *r = set->dnodes[i];
        const char *id = lyd_get_value(lyd_child(r));
        char path[128], v[32];
        long sum = 0;
        int has4 = 0;

        snprintf(path, sizeof path, ROUTE "[id='%s']/leaf4", id);
        if (chorus_exists(conn, ev->th, path, &has4) || has4) {
            continue;
        }
        for (int k = 1; k <= 3; k++) {
            char *val = NULL;

            snprintf(path, sizeof path, ROUTE "[id='%s']/leaf%d", id, k);
            if (chorus_get_value(conn, ev->th, path, &val)) {
                ly_set_free(set, NULL);
                return chorus_event_error(conn, ev, CHORUS_ERR_VALIDATION, path, NULL,
                                          "route %s: leaf%d is needed to compute leaf4", id, k);
            }
            sum += atol(val);
            free(val);
        }
        snprintf(path, sizeof path, ROUTE "[id='%s']/leaf4", id);
        snprintf(v, sizeof v, "%ld", sum);
        if (chorus_set(conn, ev->th, path, v)) {
            ly_set_free(set, NULL);
            return chorus_last_error(conn)->code;
        }
    }
    ly_set_free(set, NULL);
    return CHORUS_OK;
}

static void
scen_hook(void)
{
    struct app h = {.name = "hook", .kind = CHORUS_SUB_HOOK, .path = ROUTE, .cb = hook_cb};
    struct app s = {.name = "watcher", .kind = CHORUS_SUB_CONFIG, .path = "/routes:active-cfg",
                    .cb = sub_cb};
    static const char *const r50[] = {RPATH("0000050") "/leaf1", "10", RPATH("0000050") "/leaf2",
                                      "20", RPATH("0000050") "/leaf3", "30"};
    static const char *const r51[] = {RPATH("0000051") "/leaf1", "1"};
    struct chorus_conn *c = mgmt();
    char *v;
    enum chorus_err rc;

    app_start(&h);
    app_start(&s);
    OK(c, apply(c, r50, 6, NULL));
    v = value(c, RPATH("0000050") "/leaf4");
    CHECK(!strcmp(v, "60"), "leaf4 is %s, want 60", v);
    free(v);
    CHECK(strstr(s.last_diff, "\"leaf4\":60"), "the subscriber's diff lacks the hook's write: %s",
          s.last_diff);
    /* chorus_validate() runs the hook: a route without leaf4 is valid, and nothing stays */
    {
        uint32_t th;

        OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 1, &th));
        OK(c, chorus_set(c, th, RPATH("0000052") "/leaf1", "1"));
        OK(c, chorus_set(c, th, RPATH("0000052") "/leaf2", "1"));
        OK(c, chorus_set(c, th, RPATH("0000052") "/leaf3", "1"));
        OK(c, chorus_validate(c, th));
        OK(c, chorus_trans_finish(c, th));
        CHECK(!exists(c, RPATH("0000052")), "validate committed the route");
    }
    /* a hook's error aborts the commit with its message */
    rc = apply(c, r51, 2, NULL);
    EXPECT_ERROR(c, rc, CHORUS_ERR_VALIDATION, "leaf2 is needed to compute leaf4",
                 RPATH("0000051") "/leaf2");
    chorus_disconnect(c);
    c = mgmt();
    CHECK(!exists(c, RPATH("0000051")), "the aborted route exists");
    /* the event's handle is not a transaction of the management session */
    app_stop(&h);
    app_stop(&s);
    chorus_disconnect(c);
}

/* A validator vetoes leaf1 above 1000000 with the path and message. */
static enum chorus_err
val_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct ly_set *set = NULL;
    enum chorus_err rc = CHORUS_OK;
    int wrote;

    (void)arg;
    logev("VALIDATE");
    /* validators read the transaction, they do not write it */
    wrote = chorus_set(conn, ev->th, RPATH("0000001") "/leaf2", "5");
    if (!wrote) {
        return chorus_event_error(conn, ev, CHORUS_ERR_INTERNAL, NULL, NULL,
                                  "a validator could write");
    }
    if (ev->diff && !lyd_find_xpath(ev->diff, ROUTE "/leaf1", &set)) {
        for (uint32_t i = 0; i < set->count && !rc; i++) {
            if (atol(lyd_get_value(set->dnodes[i])) > 1000000) {
                char *p = lyd_path(set->dnodes[i], LYD_PATH_STD, NULL, 0);

                rc = chorus_event_error(conn, ev, CHORUS_ERR_VALIDATION, p, "too-big",
                                        "leaf1 must not exceed 1000000");
                free(p);
            }
        }
        ly_set_free(set, NULL);
    }
    return rc;
}

static void
scen_validator(void)
{
    struct app a = {.name = "validator", .kind = CHORUS_SUB_VALIDATE, .path = ROUTE, .cb = val_cb};
    static const char *const big[] = {RPATH("0000043") "/leaf1", "2000000"};
    static const char *const fine[] = {RPATH("0000043") "/leaf1", "999"};
    struct chorus_conn *c = mgmt();
    enum chorus_err rc;
    char *v;

    app_start(&a);
    OK(c, apply(c, R43, 8, NULL));
    rc = apply(c, big, 2, NULL);
    EXPECT_ERROR(c, rc, CHORUS_ERR_VALIDATION, "leaf1 must not exceed 1000000",
                 RPATH("0000043") "/leaf1");
    chorus_disconnect(c);
    c = mgmt();
    v = value(c, RPATH("0000043") "/leaf1");
    CHECK(!strcmp(v, "1"), "leaf1 changed to %s", v);
    free(v);
    OK(c, apply(c, fine, 2, NULL));
    v = value(c, RPATH("0000043") "/leaf1");
    CHECK(!strcmp(v, "999"), "leaf1 is %s", v);
    free(v);
    /* chorus_validate() asks the validator too, on running and on the candidate; it commits
     * nothing */
    {
        uint32_t th;
        enum chorus_db dbs[2] = {CHORUS_DB_RUNNING, CHORUS_DB_CANDIDATE};

        for (int i = 0; i < 2; i++) {
            OK(c, chorus_trans_start(c, dbs[i], 1, &th));
            OK(c, chorus_set(c, th, RPATH("0000043") "/leaf1", "3000000"));
            rc = chorus_validate(c, th);
            EXPECT_ERROR(c, rc, CHORUS_ERR_VALIDATION, "leaf1 must not exceed 1000000",
                         RPATH("0000043") "/leaf1");
            OK(c, chorus_set(c, th, RPATH("0000043") "/leaf1", "5"));
            OK(c, chorus_validate(c, th));
            OK(c, chorus_trans_finish(c, th));
        }
        v = value(c, RPATH("0000043") "/leaf1");
        CHECK(!strcmp(v, "999"), "validate changed leaf1 to %s", v);
        free(v);
    }
    app_stop(&a);
    chorus_disconnect(c);
}

/* A subscriber process that dies in PREPARE aborts the transaction. */
static enum chorus_err
die_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    (void)conn;
    (void)arg;
    if (ev->type == CHORUS_EV_PREPARE) {
        _exit(3);
    }
    return CHORUS_OK;
}

static void
scen_killed(void)
{
    int fds[2];
    pid_t pid;
    char ch;
    struct chorus_conn *c;
    enum chorus_err rc;
    int st;

    absent(RPATH("0000042"));
    CHECK(!pipe(fds), "pipe");
    pid = fork();
    if (!pid) {
        struct chorus_conn *s;

        close(fds[0]);
        if (chorus_connect(target, "doomed", &s) ||
            chorus_subscribe(s, CHORUS_SUB_CONFIG, "/routes:active-cfg", 0, CHORUS_SUB_TWO_PHASE,
                             die_cb, NULL, NULL)) {
            _exit(2);
        }
        (void)!write(fds[1], "r", 1);
        for (;;) {
            if (chorus_dispatch(s, -1) && chorus_last_error(s)->code != CHORUS_ERR_TIMEOUT) {
                _exit(4);
            }
        }
    }
    close(fds[1]);
    CHECK(read(fds[0], &ch, 1) == 1, "the subscriber process did not register");
    c = mgmt();
    rc = apply(c, R42, 8, NULL);
    EXPECT_ERROR(c, rc, CHORUS_ERR_ABORTED, "disconnected during the PREPARE event", NULL);
    CHECK(strstr(chorus_last_error(c)->message, "doomed"), "the message does not name it");
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "the subscriber did not die in PREPARE");
    chorus_disconnect(c);
    c = mgmt();
    CHECK(!exists(c, RPATH("0000042")), "the aborted route exists");
    OK(c, apply(c, R42, 8, NULL));
    CHECK(exists(c, RPATH("0000042")), "the route was not created after the subscriber died");
    chorus_disconnect(c);
}

/* A subscriber slower than commit/subscriber-timeout (ARG ms) aborts the transaction; its
 * late answer is refused. */
static void
scen_timeout(int ms)
{
    struct app a = {.name = "slow",
                    .kind = CHORUS_SUB_CONFIG,
                    .path = "/routes:active-cfg",
                    .flags = CHORUS_SUB_TWO_PHASE,
                    .cb = sub_cb,
                    .sleep_ms = ms + 700};
    struct chorus_conn *c = mgmt();
    enum chorus_err rc;
    uint64_t t0, dt;

    absent(RPATH("0000042"));
    app_start(&a);
    t0 = now_ms();
    rc = apply(c, R42, 8, NULL);
    dt = now_ms() - t0;
    EXPECT_ERROR(c, rc, CHORUS_ERR_TIMEOUT, "did not answer the PREPARE event", NULL);
    CHECK(strstr(chorus_last_error(c)->message, "slow"), "the message does not name it");
    CHECK(dt >= (uint64_t)ms && dt < (uint64_t)ms + 5000, "failed after %" PRIu64 " ms", dt);
    chorus_disconnect(c);
    c = mgmt();
    CHECK(!exists(c, RPATH("0000042")), "the aborted route exists");
    usleep((useconds_t)(ms + 1500) * 1000);
    CHECK(log_find("ABORT slow", 0) > 0, "the slow subscriber got no ABORT");
    a.sleep_ms = 0;
    OK(c, apply(c, R42, 8, NULL));
    app_stop(&a);
    chorus_disconnect(c);
}

/* Operational data from a provider, merged into gets of the operational datastore. */
static enum chorus_err
oper_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct lyd_node *t = NULL;
    enum chorus_err rc;

    (void)arg;
    logev("OPER %s by %s", ev->path, ev->user ? ev->user : "?");
    if (lyd_new_path(NULL, chorus_ctx(conn), "/chorus-test:box/stats/packets", "1234", 0, &t)) {
        return CHORUS_ERR_INTERNAL;
    }
    rc = chorus_event_reply_data(conn, ev, t);
    lyd_free_all(t);
    return rc;
}

static void
scen_oper(void)
{
    struct app a = {.name = "provider",
                    .kind = CHORUS_SUB_OPER,
                    .path = "/chorus-test:box/stats",
                    .cb = oper_cb};
    struct chorus_conn *c = mgmt();
    uint32_t th;
    char *d = NULL;
    static const char *const name[] = {"/chorus-test:box/name", "b1"};

    OK(c, apply(c, name, 2, NULL));
    app_start(&a);
    OK(c, chorus_trans_start(c, CHORUS_DB_OPERATIONAL, 0, &th));
    OK(c, chorus_get(c, th, "/chorus-test:box", CHORUS_FMT_JSON, 0, &d));
    CHECK(strstr(d, "\"packets\":\"1234\"") || strstr(d, "\"packets\": \"1234\""),
          "no provider data: %s", d);
    CHECK(strstr(d, "b1"), "the configuration is missing: %s", d);
    free(d);
    /* the other reads reach the provider too, and it sees who reads */
    OK(c, chorus_get_value(c, th, "/chorus-test:box/stats/packets", &d));
    CHECK(!strcmp(d, "1234"), "get-value: %s", d);
    free(d);
    {
        int x = 0;

        OK(c, chorus_exists(c, th, "/chorus-test:box/stats/packets", &x));
        CHECK(x, "exists: the provider's leaf does not exist");
    }
    CHECK(log_find("OPER /chorus-test:box/stats by tester", 0) >= 0, "the provider did not see "
          "the reader");
    OK(c, chorus_get(c, th, NULL, CHORUS_FMT_XML, 0, &d));
    CHECK(strstr(d, "<packets>1234</packets>"), "no provider data in a get of all: %s", d);
    free(d);
    /* a get elsewhere does not ask the provider */
    nlog = 0;
    OK(c, chorus_get(c, th, "/routes:active-cfg", CHORUS_FMT_XML, 0, &d));
    free(d);
    CHECK(nlog == 0, "the provider was asked for /routes:active-cfg");
    /* a provider answering outside its subtree fails the read, with its registration named */
    {
        struct app bad = {.name = "stray", .kind = CHORUS_SUB_OPER,
                          .path = "/chorus-test:box/counter", .cb = oper_cb};
        enum chorus_err rc;

        app_start(&bad);
        rc = chorus_get(c, th, "/chorus-test:box", CHORUS_FMT_XML, 0, &d);
        EXPECT_ERROR(c, rc, CHORUS_ERR_BADVALUE, "outside its subtree", "/chorus-test:box/stats");
        app_stop(&bad);
        OK(c, chorus_get(c, th, "/chorus-test:box", CHORUS_FMT_XML, 0, &d));
        free(d);
    }
    /* running holds no state data */
    OK(c, chorus_trans_finish(c, th));
    OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 0, &th));
    OK(c, chorus_get(c, th, "/chorus-test:box", CHORUS_FMT_XML, 0, &d));
    CHECK(!strstr(d, "packets"), "state data in running: %s", d);
    free(d);
    OK(c, chorus_trans_finish(c, th));
    app_stop(&a);
    chorus_disconnect(c);
}

/* RPC and action handlers. */
static enum chorus_err
rpc_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct lyd_node *out = NULL, *in = NULL;
    enum chorus_err rc;

    (void)arg;
    if (strstr(ev->path, "reset")) {
        if (lyd_new_path(NULL, chorus_ctx(conn), "/chorus-test:box/reset/was", "7",
                         LYD_NEW_PATH_OUTPUT, &out)) {
            return CHORUS_ERR_INTERNAL;
        }
    } else {
        if (lyd_find_path(ev->input, "/chorus-test:ping/text", 0, &in)) {
            return chorus_event_error(conn, ev, CHORUS_ERR_INVAL, NULL, NULL, "no text");
        }
        if (!strcmp(lyd_get_value(in), "fail")) {
            return chorus_event_error(conn, ev, CHORUS_ERR_INVAL, "/chorus-test:ping/text", NULL,
                                      "ping refused: %s", ev->user);
        }
        if (lyd_new_path(NULL, chorus_ctx(conn), "/chorus-test:ping/echo", lyd_get_value(in),
                         LYD_NEW_PATH_OUTPUT, &out)) {
            return CHORUS_ERR_INTERNAL;
        }
    }
    rc = chorus_event_reply_data(conn, ev, out);
    lyd_free_all(out);
    return rc;
}

static void
scen_rpc(void)
{
    struct app a = {.name = "rpcs", .kind = CHORUS_SUB_RPC, .path = "/chorus-test:ping",
                    .cb = rpc_cb};
    struct app b = {.name = "actions", .kind = CHORUS_SUB_RPC, .path = "/chorus-test:box/reset",
                    .cb = rpc_cb};
    struct chorus_conn *c = mgmt(), *x;
    char *out = NULL;
    enum chorus_err rc;

    rc = chorus_rpc(c, CHORUS_FMT_XML, "<ping xmlns=\"urn:chorus:test\"><text>hi</text></ping>",
                    &out);
    EXPECT_ERROR(c, rc, CHORUS_ERR_UNSUPPORTED, "no application handles", NULL);
    app_start(&a);
    app_start(&b);
    OK(c, chorus_rpc(c, CHORUS_FMT_XML, "<ping xmlns=\"urn:chorus:test\"><text>hi</text></ping>",
                     &out));
    CHECK(strstr(out, "<echo>hi</echo>"), "output: %s", out);
    free(out);
    OK(c, chorus_rpc(c, CHORUS_FMT_JSON, "{\"chorus-test:ping\":{\"text\":\"json\"}}", &out));
    CHECK(strstr(out, "\"echo\":") && strstr(out, "json"), "output: %s", out);
    free(out);
    rc = chorus_rpc(c, CHORUS_FMT_XML, "<ping xmlns=\"urn:chorus:test\"><text>fail</text></ping>",
                    &out);
    EXPECT_ERROR(c, rc, CHORUS_ERR_INVAL, "ping refused: tester", "/chorus-test:ping/text");
    rc = chorus_rpc(c, CHORUS_FMT_XML, "<ping xmlns=\"urn:chorus:test\"/>", &out);
    EXPECT_ERROR(c, rc, CHORUS_ERR_VALIDATION, "invalid input", NULL);
    rc = chorus_rpc(c, CHORUS_FMT_XML, "<nosuch xmlns=\"urn:chorus:test\"/>", &out);
    EXPECT_ERROR(c, rc, CHORUS_ERR_BADVALUE, "invalid operation", NULL);
    OK(c, chorus_rpc(c, CHORUS_FMT_XML,
                     "<box xmlns=\"urn:chorus:test\"><reset/></box>", &out));
    CHECK(strstr(out, "<was>7</was>"), "action output: %s", out);
    free(out);
    /* one handler per operation */
    if (chorus_connect(target, "second", &x)) {
        FAIL(NULL, "connect");
    }
    rc = chorus_subscribe(x, CHORUS_SUB_RPC, "/chorus-test:ping", 0, 0, rpc_cb, NULL, NULL);
    EXPECT_ERROR(x, rc, CHORUS_ERR_EXISTS, "already has a handler", NULL);
    chorus_disconnect(x);
    app_stop(&a);
    app_stop(&b);
    chorus_disconnect(c);
}

/* Write one route into the candidate (leaf1 = @p v). */
static void
cand_route(struct chorus_conn *c, const char *id, const char *v)
{
    uint32_t th;
    char p[128];

    OK(c, chorus_trans_start(c, CHORUS_DB_CANDIDATE, 1, &th));
    for (int k = 1; k <= 4; k++) {
        snprintf(p, sizeof p, ROUTE "[id='%s']/leaf%d", id, k);
        OK(c, chorus_set(c, th, p, v));
    }
    OK(c, chorus_apply(c, th, NULL));
    OK(c, chorus_trans_finish(c, th));
}

static int
route_exists(const char *id)
{
    struct chorus_conn *c = mgmt();
    char p[96];
    int x;

    snprintf(p, sizeof p, ROUTE "[id='%s']", id);
    x = exists(c, p);
    chorus_disconnect(c);
    return x;
}

static int
wait_route(const char *id, int want, int ms)
{
    for (int i = 0; i < ms / 50; i++) {
        if (route_exists(id) == want) {
            return 1;
        }
        usleep(50000);
    }
    return route_exists(id) == want;
}

static uint32_t revert_flags;

static enum chorus_err
flags_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    (void)conn;
    (void)arg;
    if (ev->type == CHORUS_EV_COMMIT && (ev->flags & CHORUS_EVF_REVERT)) {
        revert_flags = ev->flags;
        logev("REVERT %s", ev->user);
    }
    return CHORUS_OK;
}

/* Confirmed commit: confirm from the same session, from another with persist-id; revert on
 * timeout, on cancel, when the session ends; persist survives its session. */
static void
scen_confirm(void)
{
    struct app w = {.name = "watcher", .kind = CHORUS_SUB_CONFIG, .path = "/routes:active-cfg",
                    .cb = flags_cb};
    struct chorus_conn *a = mgmt(), *b = mgmt();
    enum chorus_err rc;

    app_start(&w);
    /* confirmed by the same session */
    cand_route(a, "0000060", "1");
    OK(a, chorus_confirmed_commit(a, 1, NULL, NULL, NULL));
    CHECK(route_exists("0000060"), "not committed");
    OK(a, chorus_candidate_commit(a, NULL));
    usleep(1500000);
    CHECK(route_exists("0000060"), "a confirmed commit was reverted");
    /* persist: a wrong persist-id is refused, the right one confirms from another session */
    cand_route(a, "0000061", "1");
    OK(a, chorus_confirmed_commit(a, 2, "tok", NULL, NULL));
    rc = chorus_confirm_commit(b, "wrong", NULL);
    EXPECT_ERROR(b, rc, CHORUS_ERR_INVAL, "does not match", NULL);
    rc = chorus_cancel_commit(b, NULL);
    EXPECT_ERROR(b, rc, CHORUS_ERR_INVAL, "give it as persist-id", NULL);
    OK(b, chorus_confirm_commit(b, "tok", NULL));
    usleep(2500000);
    CHECK(route_exists("0000061"), "confirmed with persist-id, yet reverted");
    /* not confirmed in time: reverted, and subscribers see the revert */
    nlog = 0;
    cand_route(a, "0000062", "1");
    OK(a, chorus_confirmed_commit(a, 1, NULL, NULL, NULL));
    CHECK(route_exists("0000062"), "not committed");
    /* another session's commit does not confirm it, nor may it cancel */
    rc = chorus_cancel_commit(b, NULL);
    EXPECT_ERROR(b, rc, CHORUS_ERR_INUSE, "only that session can confirm or cancel", NULL);
    CHECK(wait_route("0000062", 0, 4000), "not reverted after the timeout");
    CHECK(revert_flags, "no revert event");
    CHECK(revert_flags & CHORUS_EVF_REVERT, "the revert is not flagged");
    CHECK(route_exists("0000061") && route_exists("0000060"), "the revert went too far");
    /* extended by a second confirmed commit, then cancelled */
    cand_route(a, "0000063", "1");
    OK(a, chorus_confirmed_commit(a, 1, "p2", NULL, NULL));
    cand_route(a, "0000064", "1");
    OK(a, chorus_confirmed_commit(a, 30, NULL, "p2", NULL));
    usleep(1500000);
    CHECK(route_exists("0000063") && route_exists("0000064"), "extension did not hold");
    OK(b, chorus_cancel_commit(b, "p2"));
    CHECK(!route_exists("0000063") && !route_exists("0000064"), "cancel did not revert both");
    rc = chorus_cancel_commit(b, "p2");
    EXPECT_ERROR(b, rc, CHORUS_ERR_STATE, "no confirmed commit is pending", NULL);
    /* the session ends: reverted without persist, kept pending with it */
    cand_route(a, "0000065", "1");
    OK(a, chorus_confirmed_commit(a, 60, NULL, NULL, NULL));
    chorus_disconnect(a);
    CHECK(wait_route("0000065", 0, 4000), "not reverted when its session ended");
    a = mgmt();
    cand_route(a, "0000066", "1");
    OK(a, chorus_confirmed_commit(a, 60, "keep", NULL, NULL));
    chorus_disconnect(a);
    usleep(500000);
    CHECK(route_exists("0000066"), "a persist confirmed commit reverted with its session");
    OK(b, chorus_confirm_commit(b, "keep", NULL));
    rc = chorus_confirm_commit(b, "keep", NULL);
    EXPECT_ERROR(b, rc, CHORUS_ERR_INVAL, "no confirmed commit is pending", NULL);
    chorus_disconnect(b);
    app_stop(&w);
}

/* The change a subscriber of one daemon sees, written to another with CHORUS_EDIT_DIFF,
 * keeps the two equal (the core of the cluster synchronizer). */
static const char *target2;

static enum chorus_err
mirror_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct chorus_conn *peer = arg;
    uint32_t th;
    enum chorus_err rc;

    if (ev->type != CHORUS_EV_COMMIT) {
        return CHORUS_OK;
    }
    if ((rc = chorus_trans_start(peer, CHORUS_DB_RUNNING, 1, &th)) ||
        (rc = chorus_edit_tree(peer, th, CHORUS_EDIT_DIFF, ev->diff)) ||
        (rc = chorus_apply(peer, th, NULL))) {
        fprintf(stderr, "mirror: %s\n", chorus_last_error(peer)->message);
        chorus_event_error(conn, ev, rc, NULL, NULL, "mirror: %s",
                           chorus_last_error(peer)->message);
        logev("MIRROR-FAILED");
    }
    chorus_trans_finish(peer, th);
    logev("MIRRORED");
    return rc;
}

static char *
all_routes(const char *tgt)
{
    struct chorus_conn *c;
    uint32_t th;
    char *d = NULL;

    if (chorus_connect(tgt, "reader", &c)) {
        FAIL(NULL, "connect %s", tgt);
    }
    OK(c, chorus_session_start(c, "tester", "cli", NULL, 0, NULL, NULL));
    OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 0, &th));
    OK(c, chorus_get(c, th, "/routes:active-cfg", CHORUS_FMT_JSON, 0, &d));
    chorus_disconnect(c);
    return d;
}

static void
scen_mirror(void)
{
    struct app m = {.name = "mirror", .kind = CHORUS_SUB_CONFIG, .path = "/routes:active-cfg",
                    .cb = mirror_cb};
    struct chorus_conn *c = mgmt(), *peer, *p2;
    static const char *const mod[] = {RPATH("0000071") "/leaf2", "22", RPATH("0000072") "/leaf3",
                                      "33"};
    char *a, *b, file[] = "/tmp/chorus-mirror-XXXXXX.xml", *fname;
    uint32_t th;
    int fd;

    /* start equal: copy n0's routes to n1 through a saved file */
    OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 0, &th));
    fd = mkstemps(file, 4);
    CHECK(fd >= 0, "mkstemps");
    close(fd);
    fname = file;
    OK(c, chorus_save_config(c, th, "/routes:active-cfg", 0, fname));
    {
        enum chorus_err rc = chorus_save_config(c, th, NULL, 0, "/nonexistent-dir/x.xml");

        EXPECT_ERROR(c, rc, CHORUS_ERR_IO, "/nonexistent-dir/x.xml", NULL);
    }
    OK(c, chorus_trans_finish(c, th));
    if (chorus_connect(target2, "mirror-peer", &peer) || chorus_connect(target2, "p2", &p2)) {
        FAIL(NULL, "connect %s", target2);
    }
    OK(peer, chorus_session_start(peer, "cluster", "system", NULL, 0, NULL, NULL));
    OK(p2, chorus_session_start(p2, "tester", "cli", NULL, 0, NULL, NULL));
    OK(p2, chorus_trans_start(p2, CHORUS_DB_RUNNING, 1, &th));
    {
        enum chorus_err rc = chorus_load_config(p2, th, CHORUS_EDIT_MERGE, "/nonexistent-dir/x.xml");

        EXPECT_ERROR(p2, rc, CHORUS_ERR_IO, "/nonexistent-dir/x.xml", NULL);
    }
    OK(p2, chorus_load_config(p2, th, CHORUS_EDIT_REPLACE_ALL, fname));
    OK(p2, chorus_apply(p2, th, NULL));
    OK(p2, chorus_trans_finish(p2, th));
    unlink(fname);
    a = all_routes(target);
    b = all_routes(target2);
    CHECK(!strcmp(a, b), "not equal after load of the saved file");
    free(a);
    free(b);
    /* the callback writes to the peer through its own connection */
    app_start_arg(&m, peer);
    for (int i = 70; i < 80; i++) {
        char id[8], p[4][96];
        const char *pv[8];

        snprintf(id, sizeof id, "%07d", i);
        for (int k = 0; k < 4; k++) {
            snprintf(p[k], sizeof p[k], ROUTE "[id='%s']/leaf%d", id, k + 1);
            pv[2 * k] = p[k];
            pv[2 * k + 1] = "5";
        }
        OK(c, apply(c, pv, 8, NULL));
    }
    OK(c, apply(c, mod, 4, NULL));
    OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 1, &th));
    OK(c, chorus_delete(c, th, RPATH("0000073")));
    OK(c, chorus_apply(c, th, NULL));
    OK(c, chorus_trans_finish(c, th));
    CHECK(log_find("MIRROR-FAILED", 0) < 0, "a change was not mirrored");
    a = all_routes(target);
    b = all_routes(target2);
    CHECK(!strcmp(a, b), "the peer differs:\n%s\n%s", a, b);
    CHECK(strstr(a, "0000071") && !strstr(a, "0000073"), "unexpected data: %s", a);
    free(a);
    free(b);
    app_stop(&m);
    chorus_disconnect(peer);
    chorus_disconnect(p2);
    chorus_disconnect(c);
}

/* Count the entries a cursor returns; check they are the routes of @p want ids in order. */
static size_t
cursor_count(struct chorus_conn *c, uint32_t th, uint32_t chunk, char *ids, size_t idlen)
{
    struct chorus_cursor *cur;
    const struct lyd_node *e;
    size_t n = 0, off = 0;

    OK(c, chorus_cursor_start(c, th, ROUTE, chunk, &cur));
    for (;;) {
        OK(c, chorus_cursor_next(cur, &e));
        if (!e) {
            break;
        }
        CHECK(!strcmp(LYD_NAME(e), "route"), "not a route: %s", LYD_NAME(e));
        if (ids && off + 9 < idlen) {
            off += (size_t)snprintf(ids + off, idlen - off, "%s,", lyd_get_value(lyd_child(e)));
        }
        n++;
    }
    chorus_cursor_free(cur);
    return n;
}

static void
scen_cursor(void)
{
    struct chorus_conn *c = mgmt(), *d = mgmt();
    uint32_t th, th2;
    uint64_t total;
    size_t n1, n7, nall;
    char *ids1 = calloc(1, 1 << 20), *ids7 = calloc(1, 1 << 20);
    struct chorus_cursor *cur;
    const struct lyd_node *e;
    enum chorus_err rc;
    size_t cap = 1 << 20, len;
    char *xml = malloc(cap);

    /* 250 more routes in one edit */
    CHECK(xml, "out of memory");
    len = (size_t)snprintf(xml, cap, "<active-cfg xmlns=\"urn:chorus:example:routes\"><routes>");
    for (int i = 0; i < 250; i++) {
        len += (size_t)snprintf(xml + len, cap - len,
                                "<route><id>%07d</id><leaf1>1</leaf1><leaf2>2</leaf2>"
                                "<leaf3>3</leaf3><leaf4>4</leaf4></route>",
                                1000000 + i);
    }
    len += (size_t)snprintf(xml + len, cap - len, "</routes></active-cfg>");
    OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 1, &th));
    OK(c, chorus_edit(c, th, CHORUS_EDIT_MERGE, CHORUS_FMT_XML, xml, len));
    OK(c, chorus_apply(c, th, NULL));
    OK(c, chorus_trans_finish(c, th));
    free(xml);
    OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 0, &th));
    OK(c, chorus_num_instances(c, th, ROUTE, &total));
    n1 = cursor_count(c, th, 1000, ids1, 1 << 20);
    n7 = cursor_count(c, th, 7, ids7, 1 << 20);
    CHECK(n1 == total && n7 == total, "cursor: %zu and %zu entries, the list has %" PRIu64, n1,
          n7, total);
    CHECK(!strcmp(ids1, ids7), "chunks of 7 and of 1000 differ");
    /* a read-write transaction's cursor sees its own uncommitted entry */
    OK(c, chorus_trans_start(c, CHORUS_DB_RUNNING, 1, &th2));
    OK(c, chorus_set(c, th2, RPATH("1999999") "/leaf1", "1"));
    nall = cursor_count(c, th2, 50, NULL, 0);
    CHECK(nall == total + 1, "the transaction's cursor saw %zu, want %" PRIu64, nall, total + 1);
    OK(c, chorus_trans_finish(c, th2));
    /* the last entry returned is deleted between chunks */
    OK(c, chorus_cursor_start(c, th, ROUTE, 3, &cur));
    for (int i = 0; i < 3; i++) {
        OK(c, chorus_cursor_next(cur, &e));
    }
    {
        char p[96];

        snprintf(p, sizeof p, ROUTE "[id='%s']", lyd_get_value(lyd_child(e)));
        OK(d, chorus_trans_start(d, CHORUS_DB_RUNNING, 1, &th2));
        OK(d, chorus_delete(d, th2, p));
        OK(d, chorus_apply(d, th2, NULL));
        OK(d, chorus_trans_finish(d, th2));
    }
    rc = chorus_cursor_next(cur, &e);
    EXPECT_ERROR(c, rc, CHORUS_ERR_NOTFOUND, "no longer exists", NULL);
    chorus_cursor_free(cur);
    /* bad input */
    OK(c, chorus_cursor_start(c, th, ROUTE, 2000000, &cur));
    rc = chorus_cursor_next(cur, &e);
    EXPECT_ERROR(c, rc, CHORUS_ERR_TOOBIG, "ipc/max-cursor-chunk", NULL);
    chorus_cursor_free(cur);
    OK(c, chorus_cursor_start(c, th, ROUTE "[id='0000001']", 5, &cur));
    rc = chorus_cursor_next(cur, &e);
    EXPECT_ERROR(c, rc, CHORUS_ERR_BADPATH, "without the last predicate", NULL);
    chorus_cursor_free(cur);
    OK(c, chorus_trans_finish(c, th));
    free(ids1);
    free(ids7);
    chorus_disconnect(c);
    chorus_disconnect(d);
}

/* Who holds a lock. */
static void
scen_lockinfo(void)
{
    struct chorus_conn *a = mgmt(), *b = mgmt();
    uint32_t usid_a, usid = 99;
    char *user = NULL, *ctx = NULL;
    int64_t since = 0;

    chorus_disconnect(a);
    if (chorus_connect(target, "locker", &a)) {
        FAIL(NULL, "connect");
    }
    OK(a, chorus_session_start(a, "alice", "netconf", NULL, 0, NULL, &usid_a));
    OK(b, chorus_lock_holder(b, CHORUS_DB_RUNNING, &usid, &user, &ctx, &since));
    CHECK(usid == 0 && !user && !ctx, "unlocked running has a holder");
    OK(a, chorus_lock(a, CHORUS_DB_RUNNING));
    OK(b, chorus_lock_holder(b, CHORUS_DB_RUNNING, &usid, &user, &ctx, &since));
    CHECK(usid == usid_a && user && !strcmp(user, "alice") && ctx && !strcmp(ctx, "netconf") &&
              since > 1700000000,
          "holder %u %s %s %" PRId64, usid, user ? user : "-", ctx ? ctx : "-", since);
    free(user);
    free(ctx);
    OK(a, chorus_unlock(a, CHORUS_DB_RUNNING));
    OK(b, chorus_lock_holder(b, CHORUS_DB_RUNNING, &usid, NULL, NULL, NULL));
    CHECK(usid == 0, "still locked");
    chorus_disconnect(a);
    chorus_disconnect(b);
}

/* Transaction and lock callbacks: init, trans_lock (which may refuse), finish; lock, unlock. */
static enum chorus_err
trans_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct app *a = arg;

    logev("%s %s %u%s", evname(ev->type), ev->user ? ev->user : "?", ev->db,
          ev->type == CHORUS_EV_TRANS_FINISH
              ? (ev->flags & CHORUS_EVF_COMMITTED ? " committed" : " aborted")
              : "");
    if (ev->type == CHORUS_EV_TRANS_LOCK && a->veto) {
        return chorus_event_error(conn, ev, CHORUS_ERR_INUSE, NULL, NULL,
                                  "the external resource is busy");
    }
    return CHORUS_OK;
}

static int
wait_log(const char *s, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (log_find(s, 0) >= 0) {
            return 1;
        }
        usleep(20000);
    }
    return log_find(s, 0) >= 0;
}

static void
scen_trans(void)
{
    struct app t = {.name = "trans", .kind = CHORUS_SUB_TRANS, .cb = trans_cb};
    struct app l = {.name = "locks", .kind = CHORUS_SUB_DBLOCK, .cb = trans_cb};
    struct chorus_conn *c;
    enum chorus_err rc;

    absent(RPATH("0000042"));
    app_start(&t);
    app_start(&l);
    c = mgmt();
    OK(c, apply(c, R42, 8, NULL));
    CHECK(wait_log("TRANS_INIT tester 1", 2000), "no TRANS_INIT");
    CHECK(log_find("TRANS_LOCK tester 1", 0) > log_find("TRANS_INIT tester 1", 0),
          "no TRANS_LOCK after TRANS_INIT");
    CHECK(wait_log("TRANS_FINISH tester 1 committed", 2000), "no TRANS_FINISH (committed)");
    /* trans_lock refuses: the commit fails with its message, nothing changes */
    absent(RPATH("0000043"));
    t.veto = 1;
    nlog = 0;
    rc = apply(c, R43, 8, NULL);
    EXPECT_ERROR(c, rc, CHORUS_ERR_INUSE, "the external resource is busy", NULL);
    chorus_disconnect(c);
    CHECK(wait_log("TRANS_FINISH tester 1 aborted", 2000), "no TRANS_FINISH (aborted)");
    t.veto = 0;
    CHECK(!route_exists("0000043"), "a refused transaction committed");
    c = mgmt();
    OK(c, chorus_lock(c, CHORUS_DB_RUNNING));
    CHECK(wait_log("LOCK tester 1", 2000), "no LOCK");
    chorus_disconnect(c); /* the lock goes with the session */
    CHECK(wait_log("UNLOCK tester 1", 2000), "no UNLOCK when the session ended");
    app_stop(&t);
    app_stop(&l);
}

/* serve-rpc: the ping RPC and reset action handlers and the leaf1 validator until SIGTERM (for
 * the NETCONF tests). */
static volatile sig_atomic_t serve_stop;

static void
on_term(int sig)
{
    (void)sig;
    serve_stop = 1;
}

static void
scen_serve_rpc(void)
{
    struct app a = {.name = "rpcs", .kind = CHORUS_SUB_RPC, .path = "/chorus-test:ping",
                    .cb = rpc_cb};
    struct app b = {.name = "actions", .kind = CHORUS_SUB_RPC, .path = "/chorus-test:box/reset",
                    .cb = rpc_cb};
    struct app v = {.name = "validator", .kind = CHORUS_SUB_VALIDATE, .path = ROUTE,
                    .cb = val_cb};

    signal(SIGTERM, on_term);
    app_start(&a);
    app_start(&b);
    app_start(&v);
    printf("ready\n");
    fflush(stdout);
    while (!serve_stop) {
        usleep(20000);
    }
    app_stop(&a);
    app_stop(&b);
    app_stop(&v);
}

/* For the cluster tests (t_cluster*.sh): until SIGTERM, "veto": a validator refusing leaf1
 * above 1000000 (val_cb); "slow:MS:PRIO": a two-phase subscriber on /routes:active-cfg that
 * sleeps MS in PREPARE, at priority PRIO (the synchronizer's is 1000000). */
static void
scen_serve_cluster(const char *arg)
{
    struct app v = {.name = "validator", .kind = CHORUS_SUB_VALIDATE, .path = ROUTE,
                    .cb = val_cb};
    struct app s = {.name = "slow", .kind = CHORUS_SUB_CONFIG, .path = "/routes:active-cfg",
                    .flags = CHORUS_SUB_TWO_PHASE, .cb = sub_cb};
    struct app *a = &v;
    int ms = 0, prio = 0;

    if (arg && sscanf(arg, "slow:%d:%d", &ms, &prio) == 2) {
        s.sleep_ms = ms;
        s.prio = prio;
        a = &s;
    } else if (!arg || strcmp(arg, "veto")) {
        FAIL(NULL, "serve-cluster: veto or slow:MS:PRIO");
    }
    signal(SIGTERM, on_term);
    print_events = 1;
    app_start(a);
    printf("ready\n");
    fflush(stdout);
    while (!serve_stop) {
        usleep(20000);
    }
    app_stop(a);
}

/* Registrations that cannot be: clear errors, nothing registered. */
static void
scen_bad(void)
{
    struct chorus_conn *x;
    enum chorus_err rc;

    if (chorus_connect(target, "bad", &x)) {
        FAIL(NULL, "connect");
    }
    rc = chorus_subscribe(x, CHORUS_SUB_CONFIG, "/routes:nosuch", 0, 0, sub_cb, NULL, NULL);
    EXPECT_ERROR(x, rc, CHORUS_ERR_BADPATH, "no such schema node", "/routes:nosuch");
    rc = chorus_subscribe(x, CHORUS_SUB_CONFIG, "/chorus-test:box/stats", 0, 0, sub_cb, NULL, NULL);
    EXPECT_ERROR(x, rc, CHORUS_ERR_BADPATH, "is not configuration", NULL);
    rc = chorus_subscribe(x, CHORUS_SUB_OPER, "/chorus-test:box/name", 0, 0, sub_cb, NULL, NULL);
    EXPECT_ERROR(x, rc, CHORUS_ERR_BADPATH, "is configuration", NULL);
    rc = chorus_subscribe(x, CHORUS_SUB_RPC, "/chorus-test:box", 0, 0, sub_cb, NULL, NULL);
    EXPECT_ERROR(x, rc, CHORUS_ERR_BADPATH, "is not an RPC or action", NULL);
    rc = chorus_subscribe(x, CHORUS_SUB_HOOK, ROUTE, 0, CHORUS_SUB_TWO_PHASE, sub_cb, NULL, NULL);
    EXPECT_ERROR(x, rc, CHORUS_ERR_INVAL, "two-phase is for subscriptions only", NULL);
    rc = chorus_subscribe(x, (enum chorus_sub_kind)77, ROUTE, 0, 0, sub_cb, NULL, NULL);
    EXPECT_ERROR(x, rc, CHORUS_ERR_INVAL, "unknown registration kind", NULL);
    rc = chorus_subscribe(x, CHORUS_SUB_TRANS, ROUTE, 0, 0, sub_cb, NULL, NULL);
    EXPECT_ERROR(x, rc, CHORUS_ERR_INVAL, "takes no path", NULL);
    rc = chorus_unsubscribe(x, 999999);
    EXPECT_ERROR(x, rc, CHORUS_ERR_NOTFOUND, "no registration", NULL);
    chorus_disconnect(x);
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sub_client PORT SCENARIO [ARG]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    target = argv[1];
    scen = argv[2];
    if (!strcmp(scen, "veto")) {
        scen_veto();
    } else if (!strcmp(scen, "order")) {
        scen_order();
    } else if (!strcmp(scen, "hook")) {
        scen_hook();
    } else if (!strcmp(scen, "validator")) {
        scen_validator();
    } else if (!strcmp(scen, "killed")) {
        scen_killed();
    } else if (!strcmp(scen, "timeout")) {
        scen_timeout(argc > 3 ? atoi(argv[3]) : 500);
    } else if (!strcmp(scen, "oper")) {
        scen_oper();
    } else if (!strcmp(scen, "rpc")) {
        scen_rpc();
    } else if (!strcmp(scen, "confirm")) {
        scen_confirm();
    } else if (!strcmp(scen, "mirror")) {
        target2 = argc > 3 ? argv[3] : NULL;
        CHECK(target2, "mirror needs a second port");
        scen_mirror();
    } else if (!strcmp(scen, "cursor")) {
        scen_cursor();
    } else if (!strcmp(scen, "lockinfo")) {
        scen_lockinfo();
    } else if (!strcmp(scen, "trans")) {
        scen_trans();
    } else if (!strcmp(scen, "serve-cluster")) {
        scen_serve_cluster(argc > 3 ? argv[3] : NULL);
    } else if (!strcmp(scen, "serve-rpc")) {
        scen_serve_rpc();
    } else if (!strcmp(scen, "bad")) {
        scen_bad();
    } else {
        fprintf(stderr, "unknown scenario %s\n", scen);
        return 2;
    }
    printf("ok %s\n", scen);
    return 0;
}
