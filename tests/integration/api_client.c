/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_client: integration scenarios that need the C API (several sessions at once, a client
 * that goes away in the middle of a transaction, waits on the commit lock), run against a
 * real chorusd by the t_api*.sh scripts.
 *
 *   api_client PORT SCENARIO [ARG...]
 *
 * Each scenario prints what it does, and exits 0 when every expectation held; at the first
 * one that does not it prints "FAIL <scenario>: <line>: <what>" with the daemon's error items
 * and exits 1. Scenarios expect the routes model (examples/routes) and make sure that routes
 * 0000001..0000005 exist with the values of gen-routes.py (seed 0: leafN = 7 id + N - 1).
 * Calls that could block forever (the commit lock) run with a reply timeout.
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

#include "chorus/chorus.h"
#include "chorus/mgmt.h"

#define ROUTE "/routes:active-cfg/routes/route"
#define ROUTES ROUTE
#define CALL_TIMEOUT_MS 30000

static const char *scen = "?";
static const char *target;

/* ---- reporting ---- */

static void print_errors(const struct chorus_conn *c);

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

static void
print_errors(const struct chorus_conn *c)
{
    size_t n = chorus_error_count(c);

    for (size_t i = 0; i < n; i++) {
        const struct chorus_error *e = chorus_error_at(c, i);

        fprintf(stderr, "  error %zu: code %d (%s): %s%s%s%s%s\n", i, (int)e->code,
                chorus_strerror(e->code), e->message, e->path ? " path: " : "",
                e->path ? e->path : "", e->app_tag ? " app-tag: " : "",
                e->app_tag ? e->app_tag : "");
    }
}

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
step(const char *fmt, ...)
{
    va_list ap;

    printf("%s: ", scen);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* All error items of the last call (message and path), for substring checks. */
static char *
error_text(const struct chorus_conn *c)
{
    size_t n = chorus_error_count(c), len = 1;
    char *s;

    for (size_t i = 0; i < n; i++) {
        const struct chorus_error *e = chorus_error_at(c, i);

        len += strlen(e->message) + (e->path ? strlen(e->path) : 0) + 4;
    }
    s = calloc(1, len);
    CHECK(s, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct chorus_error *e = chorus_error_at(c, i);

        strcat(s, e->message);
        strcat(s, " | ");
        if (e->path) {
            strcat(s, e->path);
        }
        strcat(s, "\n");
    }
    return s;
}

/* The call succeeded. */
#define OK(c, call)                                                                                \
    do {                                                                                           \
        enum chorus_err rc_ = (call);                                                              \
        if (rc_ != CHORUS_OK) {                                                                    \
            fail_at(__LINE__, (c), "%s failed: %d (%s)", #call, (int)rc_, chorus_strerror(rc_));   \
        }                                                                                          \
    } while (0)

/* The call failed with @p want and the error items mention every string of the NULL-terminated
 * list (in a message or a path). */
static void
expect_err_at(int line, struct chorus_conn *c, enum chorus_err got, enum chorus_err want,
              const char *what, ...)
{
    va_list ap;
    const char *sub;
    char *text;

    if (got != want) {
        fail_at(line, c, "%s: expected error %d (%s), got %d (%s)", what, (int)want,
                chorus_strerror(want), (int)got, chorus_strerror(got));
    }
    text = error_text(c);
    va_start(ap, what);
    while ((sub = va_arg(ap, const char *))) {
        if (!strstr(text, sub)) {
            va_end(ap);
            fail_at(line, c, "%s: the error does not mention \"%s\"", what, sub);
        }
    }
    va_end(ap);
    free(text);
}

#define EXPECT_ERR(c, call, want, ...)                                                             \
    expect_err_at(__LINE__, (c), (call), (want), #call, __VA_ARGS__, (const char *)NULL)

/* ---- time and threads ---- */

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* chorus_apply() of one transaction in a thread of its own. */
struct bg_apply {
    pthread_t thread;
    struct chorus_conn *conn;
    uint32_t th;
    enum chorus_err rc;
    uint64_t txid;
    uint64_t ms; /* how long the call took */
    atomic_int done;
};

static void *
bg_apply_run(void *arg)
{
    struct bg_apply *b = arg;
    uint64_t t0 = now_ms();

    b->rc = chorus_apply(b->conn, b->th, &b->txid);
    b->ms = now_ms() - t0;
    atomic_store(&b->done, 1);
    return NULL;
}

static void
bg_apply_start(struct bg_apply *b, struct chorus_conn *c, uint32_t th)
{
    memset(b, 0, sizeof *b);
    b->conn = c;
    b->th = th;
    atomic_init(&b->done, 0);
    CHECK(!pthread_create(&b->thread, NULL, bg_apply_run, b), "pthread_create");
}

/* Wait for the thread's call to return, at most @p ms; false if it has not. */
static int
bg_apply_wait(struct bg_apply *b, unsigned ms)
{
    uint64_t end = now_ms() + ms;

    while (!atomic_load(&b->done) && now_ms() < end) {
        sleep_ms(10);
    }
    if (!atomic_load(&b->done)) {
        return 0;
    }
    pthread_join(b->thread, NULL);
    return 1;
}

/* ---- connections and data ---- */

static struct chorus_conn *
open_session(const char *user, const char *context, uint32_t *ret_usid)
{
    struct chorus_conn *c = NULL;
    enum chorus_err rc = chorus_connect(target, "api_client", &c);
    uint32_t usid = 0;

    if (rc) {
        FAIL(NULL, "cannot connect to %s: %s", target, chorus_last_error(NULL)->message);
    }
    chorus_set_timeout(c, CALL_TIMEOUT_MS);
    OK(c, chorus_session_start(c, user, context, NULL, 0, "127.0.0.1", &usid));
    if (ret_usid) {
        *ret_usid = usid;
    }
    return c;
}

static char *
route_path(int id, const char *leaf)
{
    static char buf[8][160];
    static int k;
    char *p = buf[k++ % 8];

    snprintf(p, sizeof buf[0], ROUTE "[id='%07d']%s%s", id, leaf ? "/" : "", leaf ? leaf : "");
    return p;
}

static char *
num(long long v)
{
    static char buf[8][32];
    static int k;
    char *p = buf[k++ % 8];

    snprintf(p, sizeof buf[0], "%lld", v);
    return p;
}

/* gen-routes.py's value of leaf @p n (1..4) of route @p id with seed @p seed. */
static int
gen_value(int id, int n, int seed)
{
    return (id * 7 + seed) % 1000000 + n - 1;
}

/* XML of @p n routes from id @p start, values as gen-routes.py with @p seed. */
static char *
routes_xml(int n, int start, int seed)
{
    size_t cap = (size_t)n * 128 + 256, len = 0;
    char *s = malloc(cap);

    CHECK(s, "out of memory");
    len += (size_t)snprintf(s + len, cap - len,
                            "<active-cfg xmlns=\"urn:chorus:example:routes\">"
                            "<routes>");
    for (int i = start; i < start + n; i++) {
        len += (size_t)snprintf(s + len, cap - len,
                                "<route><id>%07d</id><leaf1>%d</leaf1><leaf2>%d</leaf2>"
                                "<leaf3>%d</leaf3><leaf4>%d</leaf4></route>",
                                i, gen_value(i, 1, seed), gen_value(i, 2, seed),
                                gen_value(i, 3, seed), gen_value(i, 4, seed));
    }
    snprintf(s + len, cap - len, "</routes></active-cfg>");
    return s;
}

static uint64_t
txid_of(struct chorus_conn *c)
{
    uint64_t t = 0;

    OK(c, chorus_txid(c, &t));
    return t;
}

/* The value of a leaf in @p db, or NULL if it does not exist. */
static char *
value_in(struct chorus_conn *c, enum chorus_db db, const char *path)
{
    uint32_t th;
    char *v = NULL;
    enum chorus_err rc;

    OK(c, chorus_trans_start(c, db, 0, &th));
    rc = chorus_get_value(c, th, path, &v);
    if (rc && rc != CHORUS_ERR_NOTFOUND) {
        FAIL(c, "get_value %s: %s", path, chorus_strerror(rc));
    }
    OK(c, chorus_trans_finish(c, th));
    return rc ? NULL : v;
}

/* Assert the value of a leaf (NULL: absent). */
static void
expect_value_at(int line, struct chorus_conn *c, enum chorus_db db, const char *path,
                const char *want)
{
    char *v = value_in(c, db, path);

    if ((!v && want) || (v && !want) || (v && strcmp(v, want))) {
        fail_at(line, NULL, "%s in datastore %d: expected %s, found %s", path, (int)db,
                want ? want : "(absent)", v ? v : "(absent)");
    }
    free(v);
}

#define EXPECT_VALUE(c, db, path, want) expect_value_at(__LINE__, (c), (db), (path), (want))

static int
exists_in(struct chorus_conn *c, enum chorus_db db, const char *path)
{
    uint32_t th;
    int x = 0;

    OK(c, chorus_trans_start(c, db, 0, &th));
    OK(c, chorus_exists(c, th, path, &x));
    OK(c, chorus_trans_finish(c, th));
    return x;
}

static uint64_t
count_in(struct chorus_conn *c, enum chorus_db db)
{
    uint32_t th;
    uint64_t n = 0;

    OK(c, chorus_trans_start(c, db, 0, &th));
    OK(c, chorus_num_instances(c, th, ROUTES, &n));
    OK(c, chorus_trans_finish(c, th));
    return n;
}

/* The whole datastore as XML. */
static char *
dump(struct chorus_conn *c, enum chorus_db db)
{
    uint32_t th;
    char *s = NULL;

    OK(c, chorus_trans_start(c, db, 0, &th));
    OK(c, chorus_get(c, th, NULL, CHORUS_FMT_XML, 0, &s));
    OK(c, chorus_trans_finish(c, th));
    return s;
}

static void
expect_same_at(int line, const char *before, const char *after, const char *what)
{
    if (strcmp(before, after)) {
        fail_at(line, NULL, "%s changed:\nbefore: %.2000s\nafter:  %.2000s", what, before, after);
    }
}

#define EXPECT_SAME(a, b, what) expect_same_at(__LINE__, (a), (b), (what))

/* A read-write transaction on @p db with a leaf set. */
static uint32_t
trans_set(struct chorus_conn *c, enum chorus_db db, const char *path, const char *value)
{
    uint32_t th;

    OK(c, chorus_trans_start(c, db, 1, &th));
    OK(c, chorus_set(c, th, path, value));
    return th;
}

/* Routes 1..5 with gen-routes.py's values (seed 0) in running. */
static void
seed_routes(void)
{
    struct chorus_conn *c = open_session("seed", "system", NULL);
    char *xml = routes_xml(5, 1, 0);
    uint32_t th;
    enum chorus_err rc = chorus_trans_start(c, CHORUS_DB_RUNNING, 1, &th);

    if (rc == CHORUS_ERR_STATE) {
        /* running is writable through the candidate only: the test loaded the routes */
        for (int id = 1; id <= 5; id++) {
            EXPECT_VALUE(c, CHORUS_DB_RUNNING, route_path(id, "leaf4"), num(gen_value(id, 4, 0)));
        }
        free(xml);
        chorus_disconnect(c);
        return;
    }
    OK(c, rc);
    OK(c, chorus_edit(c, th, CHORUS_EDIT_MERGE, CHORUS_FMT_XML, xml, strlen(xml)));
    OK(c, chorus_apply(c, th, NULL));
    OK(c, chorus_trans_finish(c, th));
    free(xml);
    chorus_disconnect(c);
}

/* Whether the status names a session with id @p usid. */
static int
status_has_session(struct chorus_conn *c, uint32_t usid)
{
    char *s = NULL, pat[48];
    int r;

    OK(c, chorus_status(c, &s));
    snprintf(pat, sizeof pat, "{\"id\": %" PRIu32 ",", usid);
    r = strstr(s, pat) != NULL;
    free(s);
    return r;
}

/* Wait until the daemon has processed the end of session @p usid. */
static void
wait_session_gone(struct chorus_conn *c, uint32_t usid)
{
    for (int i = 0; i < 300 && status_has_session(c, usid); i++) {
        sleep_ms(10);
    }
    CHECK(!status_has_session(c, usid),
          "session %" PRIu32 " still listed after its connection "
          "closed",
          usid);
}

/* ---- scenarios: a client that goes away ---- */

static void
scen_disconnect_open(void)
{
    uint32_t ua, tha;
    struct chorus_conn *a = open_session("alice", "cli", &ua),
                       *b = open_session("bob", "cli", NULL);
    uint64_t t0 = txid_of(b);
    char *before = dump(b, CHORUS_DB_RUNNING), *after;

    step("A writes in a read-write transaction and disconnects without finishing it");
    tha = trans_set(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4242");
    OK(a, chorus_set(a, tha, route_path(9, "leaf1"), "1"));
    OK(a, chorus_set(a, tha, route_path(9, "leaf2"), "2"));
    OK(a, chorus_set(a, tha, route_path(9, "leaf3"), "3"));
    OK(a, chorus_set(a, tha, route_path(9, "leaf4"), "4"));
    OK(a, chorus_delete(a, tha, route_path(5, NULL)));
    {
        char *v = NULL;

        OK(a, chorus_get_value(a, tha, route_path(1, "leaf1"), &v));
        CHECK(!strcmp(v, "4242"), "A does not read its own write: %s", v);
        free(v);
    }
    chorus_disconnect(a);
    wait_session_gone(b, ua);

    step("nothing changed");
    CHECK(txid_of(b) == t0, "txid moved from %" PRIu64, t0);
    after = dump(b, CHORUS_DB_RUNNING);
    EXPECT_SAME(before, after, "running");
    free(after);
    EXPECT_VALUE(b, CHORUS_DB_CANDIDATE, route_path(9, "leaf1"), NULL);

    step("B writes the same nodes");
    {
        uint32_t th = trans_set(b, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4343");
        uint64_t nt = 0;

        OK(b, chorus_apply(b, th, &nt));
        OK(b, chorus_trans_finish(b, th));
        CHECK(nt == t0 + 1, "txid %" PRIu64 " after B's commit, expected %" PRIu64, nt, t0 + 1);
        EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4343");
        EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(9, "leaf1"), NULL);
    }
    free(before);
    chorus_disconnect(b);
}

static void
scen_disconnect_lock(void)
{
    uint32_t ua;
    struct chorus_conn *a = open_session("alice", "cli", &ua),
                       *b = open_session("bob", "cli", NULL);
    uint64_t t0 = txid_of(b);
    enum chorus_err rc = CHORUS_OK;

    step("A locks running and disconnects");
    OK(a, chorus_lock(a, CHORUS_DB_RUNNING));
    EXPECT_ERR(b, chorus_lock(b, CHORUS_DB_RUNNING), CHORUS_ERR_LOCKED, "alice");
    chorus_disconnect(a);

    step("B can lock running");
    for (int i = 0; i < 300; i++) {
        rc = chorus_lock(b, CHORUS_DB_RUNNING);
        if (rc != CHORUS_ERR_LOCKED) {
            break;
        }
        sleep_ms(10);
    }
    OK(b, rc);
    {
        uint32_t th = trans_set(b, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "222");

        OK(b, chorus_apply(b, th, NULL));
        OK(b, chorus_trans_finish(b, th));
    }
    OK(b, chorus_unlock(b, CHORUS_DB_RUNNING));
    CHECK(txid_of(b) == t0 + 1, "txid");
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "222");
    chorus_disconnect(b);
}

static void
scen_disconnect_prepared(void)
{
    uint32_t ua, tha, thb;
    struct chorus_conn *a = open_session("alice", "cli", &ua),
                       *b = open_session("bob", "cli", NULL);
    uint64_t t0 = txid_of(b), t1, nt = 0;
    const char *orig = num(gen_value(1, 1, 0));

    step("A prepares (holds the commit lock), B does not see A's change");
    tha = trans_set(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4242");
    OK(a, chorus_prepare(a, tha));
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(1, "leaf1"), orig);

    step("A disconnects; B's apply succeeds promptly");
    chorus_disconnect(a);
    thb = trans_set(b, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "777");
    t1 = now_ms();
    OK(b, chorus_apply(b, thb, &nt));
    CHECK(now_ms() - t1 < 5000, "B's apply took %" PRIu64 " ms", now_ms() - t1);
    OK(b, chorus_trans_finish(b, thb));
    CHECK(nt == t0 + 1, "txid %" PRIu64 ", expected %" PRIu64, nt, t0 + 1);
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(1, "leaf1"), orig);
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "777");
    chorus_disconnect(b);
}

static void
scen_disconnect_prepared_waiter(void)
{
    uint32_t ua, tha, thb;
    struct chorus_conn *a = open_session("alice", "cli", &ua),
                       *b = open_session("bob", "cli", NULL);
    struct chorus_conn *obs = open_session("observer", "cli", NULL);
    uint64_t t0 = txid_of(b);
    const char *orig = num(gen_value(1, 1, 0));
    struct bg_apply bg;

    step("A prepares; B's apply waits for the commit lock");
    tha = trans_set(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4242");
    OK(a, chorus_prepare(a, tha));
    thb = trans_set(b, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "778");
    bg_apply_start(&bg, b, thb);
    CHECK(!bg_apply_wait(&bg, 400), "B's apply returned (%d) while A holds the commit lock",
          (int)bg.rc);

    step("A disconnects; B's apply completes");
    chorus_disconnect(a);
    CHECK(bg_apply_wait(&bg, 5000), "B's apply still waits 5 s after A went away");
    OK(b, bg.rc);
    CHECK(bg.txid == t0 + 1, "txid %" PRIu64 ", expected %" PRIu64, bg.txid, t0 + 1);
    OK(b, chorus_trans_finish(b, thb));
    EXPECT_VALUE(obs, CHORUS_DB_RUNNING, route_path(1, "leaf1"), orig);
    EXPECT_VALUE(obs, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "778");
    chorus_disconnect(b);
    chorus_disconnect(obs);
}

/* A client whose apply waits for the commit lock is killed; the holder commits, the next
 * commit goes through at once and the killed client's change is absent. */
static void
scen_disconnect_waiting(void)
{
    uint32_t ua, tha;
    struct chorus_conn *a = open_session("alice", "cli", &ua),
                       *b = open_session("bob", "cli", NULL);
    uint64_t t0 = txid_of(b), t1, nt = 0;
    pid_t pid;
    int st;

    step("A prepares; a child process's apply waits for the commit lock; the child is killed");
    tha = trans_set(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4242");
    OK(a, chorus_prepare(a, tha));
    fflush(stdout);
    pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        struct chorus_conn *w = open_session("waiter", "cli", NULL);
        uint32_t thw = trans_set(w, CHORUS_DB_RUNNING, route_path(3, "leaf3"), "999");

        chorus_apply(w, thw, NULL);
        _exit(3); /* it must not get here before it is killed */
    }
    sleep_ms(500);
    CHECK(waitpid(pid, &st, WNOHANG) == 0, "the waiting apply returned while A holds the lock");
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");

    step("A commits; B commits promptly; the killed client's change is absent");
    OK(a, chorus_commit(a, tha, &nt));
    CHECK(nt == t0 + 1, "A's txid %" PRIu64, nt);
    {
        uint32_t thb = trans_set(b, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "781");

        t1 = now_ms();
        OK(b, chorus_apply(b, thb, &nt));
        CHECK(now_ms() - t1 < 5000, "B's apply took %" PRIu64 " ms", now_ms() - t1);
        OK(b, chorus_trans_finish(b, thb));
    }
    CHECK(nt == t0 + 2, "B's txid %" PRIu64, nt);
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(3, "leaf3"), num(gen_value(3, 3, 0)));
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4242");
    chorus_disconnect(a);
    chorus_disconnect(b);
}

/* ---- scenarios: locks ---- */

static void
scen_lock_running(void)
{
    uint32_t ua, ub, thb, th2;
    struct chorus_conn *a = open_session("alice", "cli", &ua);
    struct chorus_conn *b = open_session("bob", "netconf", &ub);
    uint64_t t0 = txid_of(b);
    char sa[32];
    enum chorus_err rc;

    snprintf(sa, sizeof sa, "session %" PRIu32, ua);
    step("B has a change ready; A locks running");
    thb = trans_set(b, CHORUS_DB_RUNNING, route_path(1, "leaf2"), "111");
    OK(a, chorus_lock(a, CHORUS_DB_RUNNING));
    EXPECT_ERR(a, chorus_lock(a, CHORUS_DB_RUNNING), CHORUS_ERR_LOCKED, "already");

    step("B cannot lock, apply or write running; the errors name A");
    EXPECT_ERR(b, chorus_lock(b, CHORUS_DB_RUNNING), CHORUS_ERR_LOCKED, sa, "alice");
    EXPECT_ERR(b, chorus_apply(b, thb, NULL), CHORUS_ERR_LOCKED, sa, "alice");
    OK(b, chorus_trans_start(b, CHORUS_DB_RUNNING, 1, &th2));
    rc = chorus_set(b, th2, route_path(2, "leaf2"), "112");
    if (rc == CHORUS_OK) {
        rc = chorus_apply(b, th2, NULL);
    }
    EXPECT_ERR(b, rc, CHORUS_ERR_LOCKED, sa, "alice");
    OK(b, chorus_trans_finish(b, th2));
    EXPECT_ERR(b, chorus_unlock(b, CHORUS_DB_RUNNING), CHORUS_ERR_INVAL, "running");
    EXPECT_ERR(b, chorus_candidate_commit(b, NULL), CHORUS_ERR_LOCKED, sa);

    step("B still reads");
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(1, "leaf2"), num(gen_value(1, 2, 0)));
    {
        char *v = NULL;

        OK(b, chorus_get_value(b, thb, route_path(1, "leaf2"), &v));
        CHECK(!strcmp(v, "111"), "B's transaction reads %s", v);
        free(v);
    }
    CHECK(txid_of(b) == t0, "txid moved");

    step("A, the holder, writes");
    th2 = trans_set(a, CHORUS_DB_RUNNING, route_path(3, "leaf3"), "333");
    OK(a, chorus_apply(a, th2, NULL));
    OK(a, chorus_trans_finish(a, th2));
    CHECK(txid_of(b) == t0 + 1, "A's commit");

    step("A unlocks; B's apply succeeds");
    OK(a, chorus_unlock(a, CHORUS_DB_RUNNING));
    OK(b, chorus_apply(b, thb, NULL));
    OK(b, chorus_trans_finish(b, thb));
    CHECK(txid_of(b) == t0 + 2, "B's commit");
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(1, "leaf2"), "111");
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(3, "leaf3"), "333");
    chorus_disconnect(a);
    chorus_disconnect(b);
}

static void
scen_lock_candidate(void)
{
    uint32_t ua, th;
    struct chorus_conn *a = open_session("alice", "cli", &ua),
                       *b = open_session("bob", "cli", NULL);
    uint64_t t0 = txid_of(b);
    char sa[32];

    snprintf(sa, sizeof sa, "session %" PRIu32, ua);
    step("A writes the candidate without committing it");
    th = trans_set(a, CHORUS_DB_CANDIDATE, route_path(1, "leaf1"), "555");
    OK(a, chorus_apply(a, th, NULL));
    OK(a, chorus_trans_finish(a, th));
    EXPECT_VALUE(b, CHORUS_DB_CANDIDATE, route_path(1, "leaf1"), "555");

    step("B cannot lock the candidate: it holds A's uncommitted changes");
    EXPECT_ERR(b, chorus_lock(b, CHORUS_DB_CANDIDATE), CHORUS_ERR_LOCKED, sa);

    step("A can; after A's discard B can");
    OK(a, chorus_lock(a, CHORUS_DB_CANDIDATE));
    EXPECT_ERR(b, chorus_candidate_discard(b), CHORUS_ERR_LOCKED, sa);
    OK(a, chorus_unlock(a, CHORUS_DB_CANDIDATE));
    OK(a, chorus_candidate_discard(a));
    EXPECT_VALUE(b, CHORUS_DB_CANDIDATE, route_path(1, "leaf1"), num(gen_value(1, 1, 0)));
    OK(b, chorus_lock(b, CHORUS_DB_CANDIDATE));
    OK(b, chorus_unlock(b, CHORUS_DB_CANDIDATE));
    CHECK(txid_of(b) == t0, "txid moved");
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(1, "leaf1"), num(gen_value(1, 1, 0)));
    chorus_disconnect(a);
    chorus_disconnect(b);
}

static void
scen_commit_lock_wait(void)
{
    uint32_t ua, tha, thb;
    struct chorus_conn *a = open_session("alice", "cli", &ua),
                       *b = open_session("bob", "cli", NULL);
    uint64_t t0 = txid_of(a), nt = 0;
    struct bg_apply bg;

    step("A prepares; B's apply waits");
    tha = trans_set(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4242");
    OK(a, chorus_prepare(a, tha));
    thb = trans_set(b, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "779");
    bg_apply_start(&bg, b, thb);
    CHECK(!bg_apply_wait(&bg, 500), "B's apply returned (%d) while A holds the commit lock",
          (int)bg.rc);

    step("A commits; then B completes");
    OK(a, chorus_commit(a, tha, &nt));
    CHECK(nt == t0 + 1, "A's txid %" PRIu64, nt);
    CHECK(bg_apply_wait(&bg, 5000), "B's apply still waits 5 s after A's commit");
    OK(b, bg.rc);
    CHECK(bg.txid == t0 + 2, "B's txid %" PRIu64 ", expected %" PRIu64, bg.txid, t0 + 2);
    OK(a, chorus_trans_finish(a, tha));
    OK(b, chorus_trans_finish(b, thb));
    EXPECT_VALUE(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4242");
    EXPECT_VALUE(a, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "779");
    chorus_disconnect(a);
    chorus_disconnect(b);
}

/* commit/lock-timeout is @p ms (0: fail at once). */
static void
scen_commit_lock_timeout(unsigned ms)
{
    uint32_t ua, tha, thb;
    struct chorus_conn *a = open_session("alice", "cli", &ua),
                       *b = open_session("bob", "cli", NULL);
    uint64_t t0 = txid_of(a), t1, took;
    char sa[32];

    snprintf(sa, sizeof sa, "session %" PRIu32, ua);
    step("A prepares and holds the commit lock");
    tha = trans_set(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4242");
    OK(a, chorus_prepare(a, tha));

    step("B's apply fails with in-use after commit/lock-timeout (%u ms), naming A", ms);
    thb = trans_set(b, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "780");
    t1 = now_ms();
    EXPECT_ERR(b, chorus_apply(b, thb, NULL), CHORUS_ERR_INUSE, sa, "alice");
    took = now_ms() - t1;
    printf("%s: B failed after %" PRIu64 " ms\n", scen, took);
    CHECK(took + 50 >= ms, "B gave up after %" PRIu64 " ms, before the timeout", took);
    CHECK(took < ms + 3000, "B gave up only after %" PRIu64 " ms", took);
    CHECK(txid_of(b) == t0, "txid moved");

    step("A commits; B's transaction is still open and commits on retry");
    OK(a, chorus_commit(a, tha, NULL));
    OK(b, chorus_apply(b, thb, NULL));
    CHECK(txid_of(b) == t0 + 2, "txid after both commits");
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "4242");
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(2, "leaf2"), "780");
    chorus_disconnect(a);
    chorus_disconnect(b);
}

/* ---- scenarios: candidate ---- */

static void
scen_candidate(void)
{
    uint32_t th;
    struct chorus_conn *a = open_session("alice", "cli", NULL),
                       *b = open_session("bob", "cli", NULL);
    uint64_t t0 = txid_of(a), nt = 0;
    const char *orig = num(gen_value(1, 1, 0));
    char *run_before, *run_after, *cand_before, *cand_after;

    step("a candidate transaction: running unchanged, the candidate shows the change");
    OK(a, chorus_trans_start(a, CHORUS_DB_CANDIDATE, 1, &th));
    OK(a, chorus_set(a, th, route_path(1, "leaf1"), "555"));
    for (int k = 1; k <= 4; k++) {
        char leaf[8];

        snprintf(leaf, sizeof leaf, "leaf%d", k);
        OK(a, chorus_set(a, th, route_path(20, leaf), num(k)));
    }
    OK(a, chorus_apply(a, th, &nt));
    OK(a, chorus_trans_finish(a, th));
    CHECK(txid_of(b) == t0, "running's txid moved");
    EXPECT_VALUE(b, CHORUS_DB_RUNNING, route_path(1, "leaf1"), orig);
    CHECK(!exists_in(b, CHORUS_DB_RUNNING, route_path(20, NULL)), "route 20 in running");
    EXPECT_VALUE(b, CHORUS_DB_CANDIDATE, route_path(1, "leaf1"), "555");
    EXPECT_VALUE(b, CHORUS_DB_CANDIDATE, route_path(20, "leaf4"), "4");

    step("candidate-commit: running has it, with a new txid");
    OK(b, chorus_candidate_commit(b, &nt));
    CHECK(nt == t0 + 1, "candidate-commit returned txid %" PRIu64, nt);
    CHECK(txid_of(a) == t0 + 1, "txid");
    EXPECT_VALUE(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "555");
    EXPECT_VALUE(a, CHORUS_DB_RUNNING, route_path(20, "leaf3"), "3");
    run_before = dump(a, CHORUS_DB_RUNNING);
    cand_before = dump(a, CHORUS_DB_CANDIDATE);
    EXPECT_SAME(run_before, cand_before, "the candidate after its commit (vs running)");

    step("an invalid candidate change: candidate-commit fails, nothing changes");
    OK(a, chorus_trans_start(a, CHORUS_DB_CANDIDATE, 1, &th));
    OK(a, chorus_set(a, th, route_path(21, "leaf1"), "1"));
    OK(a, chorus_set(a, th, route_path(2, "leaf2"), "9999"));
    OK(a, chorus_apply(a, th, NULL));
    OK(a, chorus_trans_finish(a, th));
    free(cand_before);
    cand_before = dump(a, CHORUS_DB_CANDIDATE);
    EXPECT_ERR(a, chorus_candidate_commit(a, NULL), CHORUS_ERR_VALIDATION, "0000021", "Mandatory");
    CHECK(txid_of(a) == t0 + 1, "txid moved");
    run_after = dump(a, CHORUS_DB_RUNNING);
    EXPECT_SAME(run_before, run_after, "running");
    free(run_after);
    cand_after = dump(a, CHORUS_DB_CANDIDATE);
    EXPECT_SAME(cand_before, cand_after, "the candidate");
    free(cand_after);
    EXPECT_VALUE(b, CHORUS_DB_CANDIDATE, route_path(21, "leaf1"), "1");
    EXPECT_VALUE(b, CHORUS_DB_CANDIDATE, route_path(2, "leaf2"), "9999");

    step("validate in a candidate transaction reports the same error");
    OK(b, chorus_trans_start(b, CHORUS_DB_CANDIDATE, 1, &th));
    EXPECT_ERR(b, chorus_validate(b, th), CHORUS_ERR_VALIDATION, "0000021", "Mandatory");
    OK(b, chorus_trans_finish(b, th));

    step("discard: the candidate equals running again");
    OK(a, chorus_candidate_discard(a));
    cand_after = dump(a, CHORUS_DB_CANDIDATE);
    EXPECT_SAME(run_before, cand_after, "the candidate after discard (vs running)");
    free(cand_after);
    OK(a, chorus_candidate_commit(a, &nt));
    CHECK(nt == t0 + 1, "committing a clean candidate made transaction %" PRIu64, nt);
    free(run_before);
    free(cand_before);
    chorus_disconnect(a);
    chorus_disconnect(b);
}

/* datastores/running/access writable-through-candidate */
static void
scen_writable_through_candidate(void)
{
    uint32_t th;
    struct chorus_conn *a = open_session("alice", "cli", NULL);
    uint64_t t0 = txid_of(a), nt = 0;

    step("applications of the API still write running (NETCONF may not)");
    th = trans_set(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "555");
    OK(a, chorus_apply(a, th, NULL));
    OK(a, chorus_trans_finish(a, th));
    EXPECT_VALUE(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "555");
    t0 = txid_of(a);

    step("the candidate path works");
    th = trans_set(a, CHORUS_DB_CANDIDATE, route_path(1, "leaf1"), "556");
    OK(a, chorus_apply(a, th, NULL));
    OK(a, chorus_trans_finish(a, th));
    OK(a, chorus_candidate_commit(a, &nt));
    CHECK(nt == t0 + 1, "txid %" PRIu64, nt);
    EXPECT_VALUE(a, CHORUS_DB_RUNNING, route_path(1, "leaf1"), "556");
    chorus_disconnect(a);
}

/* ---- scenarios: startup ---- */

#define STARTUP_SEED 100

static void
scen_startup_write(void)
{
    uint32_t th;
    struct chorus_conn *a = open_session("alice", "cli", NULL);
    uint64_t t0 = txid_of(a);
    char *xml = routes_xml(3, 1, STARTUP_SEED), *run_before = dump(a, CHORUS_DB_RUNNING),
         *run_after;

    step("write three routes into startup");
    OK(a, chorus_trans_start(a, CHORUS_DB_STARTUP, 1, &th));
    OK(a, chorus_edit(a, th, CHORUS_EDIT_MERGE, CHORUS_FMT_XML, xml, strlen(xml)));
    OK(a, chorus_apply(a, th, NULL));
    OK(a, chorus_trans_finish(a, th));
    EXPECT_VALUE(a, CHORUS_DB_STARTUP, route_path(1, "leaf1"), num(gen_value(1, 1, STARTUP_SEED)));
    CHECK(count_in(a, CHORUS_DB_STARTUP) == 3, "startup holds %" PRIu64 " routes",
          count_in(a, CHORUS_DB_STARTUP));

    step("running is not touched");
    CHECK(txid_of(a) == t0, "running's txid moved");
    run_after = dump(a, CHORUS_DB_RUNNING);
    EXPECT_SAME(run_before, run_after, "running");
    free(run_after);
    free(run_before);
    free(xml);
    chorus_disconnect(a);
}

static void
scen_startup_check(void)
{
    struct chorus_conn *a = open_session("alice", "cli", NULL);

    step("startup holds the three routes");
    CHECK(count_in(a, CHORUS_DB_STARTUP) == 3, "startup holds %" PRIu64 " routes",
          count_in(a, CHORUS_DB_STARTUP));
    for (int id = 1; id <= 3; id++) {
        EXPECT_VALUE(a, CHORUS_DB_STARTUP, route_path(id, "leaf4"),
                     num(gen_value(id, 4, STARTUP_SEED)));
    }
    chorus_disconnect(a);
}

static void
scen_startup_invalid(void)
{
    uint32_t th;
    struct chorus_conn *a = open_session("alice", "cli", NULL);
    char *before = dump(a, CHORUS_DB_STARTUP), *after;

    step("a route without its mandatory leaves is refused");
    OK(a, chorus_trans_start(a, CHORUS_DB_STARTUP, 1, &th));
    OK(a, chorus_set(a, th, route_path(30, "leaf1"), "1"));
    EXPECT_ERR(a, chorus_validate(a, th), CHORUS_ERR_VALIDATION, "0000030", "Mandatory");
    EXPECT_ERR(a, chorus_apply(a, th, NULL), CHORUS_ERR_VALIDATION, "0000030", "Mandatory");
    OK(a, chorus_trans_finish(a, th));

    step("a bad value is refused");
    OK(a, chorus_trans_start(a, CHORUS_DB_STARTUP, 1, &th));
    EXPECT_ERR(a, chorus_set(a, th, route_path(1, "leaf1"), "-3"), CHORUS_ERR_BADVALUE, "leaf1",
               "range");
    OK(a, chorus_trans_finish(a, th));

    step("startup is unchanged");
    after = dump(a, CHORUS_DB_STARTUP);
    EXPECT_SAME(before, after, "startup");
    CHECK(!exists_in(a, CHORUS_DB_STARTUP, route_path(30, NULL)), "route 30 in startup");
    free(before);
    free(after);
    chorus_disconnect(a);
}

/* ---- scenarios: errors at the API ---- */

static void
scen_errors(void)
{
    uint32_t th, ro;
    struct chorus_conn *a = open_session("alice", "cli", NULL);
    uint64_t t0 = txid_of(a), base = count_in(a, CHORUS_DB_RUNNING), n;
    char *before = dump(a, CHORUS_DB_RUNNING), *after, *v = NULL;
    const char *bad_xml = "<active-cfg xmlns=\"urn:chorus:example:routes\"><routes><route>"
                          "<id>0000040</id><leaf1>x</leaf1></route></routes></active-cfg>";

    OK(a, chorus_trans_start(a, CHORUS_DB_RUNNING, 1, &th));
    step("values: type, range, pattern");
    EXPECT_ERR(a, chorus_set(a, th, route_path(1, "leaf1"), "abc"), CHORUS_ERR_BADVALUE, "leaf1",
               "abc");
    EXPECT_ERR(a, chorus_set(a, th, route_path(1, "leaf1"), "-1"), CHORUS_ERR_BADVALUE, "leaf1",
               "range");
    EXPECT_ERR(a, chorus_set(a, th, ROUTE "[id='12']/leaf1", "1"), CHORUS_ERR_BADVALUE, "12",
               "pattern");
    step("paths: unknown node, unknown module, malformed");
    EXPECT_ERR(a, chorus_set(a, th, route_path(1, "nosuch"), "1"), CHORUS_ERR_BADPATH, "nosuch");
    EXPECT_ERR(a, chorus_set(a, th, "/nosuch:x/y", "1"), CHORUS_ERR_BADPATH, "nosuch");
    EXPECT_ERR(a, chorus_set(a, th, "/routes:active-cfg/routes/route[id='0000001'", "1"),
               CHORUS_ERR_BADPATH, "route");
    step("create of an existing entry, delete of a missing one, key leaf on its own");
    EXPECT_ERR(a, chorus_create(a, th, route_path(1, NULL)), CHORUS_ERR_EXISTS, "0000001");
    EXPECT_ERR(a, chorus_delete(a, th, route_path(99, NULL)), CHORUS_ERR_NOTFOUND, "0000099");
    EXPECT_ERR(a, chorus_set(a, th, route_path(1, "id"), "0000002"), CHORUS_ERR_INVAL, "id");
    EXPECT_ERR(a, chorus_delete(a, th, route_path(1, "id")), CHORUS_ERR_INVAL, "id");
    step("edit with a bad value names the node");
    EXPECT_ERR(a, chorus_edit(a, th, CHORUS_EDIT_MERGE, CHORUS_FMT_XML, bad_xml, strlen(bad_xml)),
               CHORUS_ERR_BADVALUE, "leaf1", "x");
    step("reads: missing node, not a leaf");
    OK(a, chorus_trans_start(a, CHORUS_DB_RUNNING, 0, &ro));
    EXPECT_ERR(a, chorus_get_value(a, ro, route_path(99, "leaf1"), &v), CHORUS_ERR_NOTFOUND,
               "0000099");
    EXPECT_ERR(a, chorus_get(a, ro, route_path(99, NULL), CHORUS_FMT_XML, 0, &v),
               CHORUS_ERR_NOTFOUND, "0000099");
    EXPECT_ERR(a, chorus_get_value(a, ro, route_path(1, NULL), &v), CHORUS_ERR_INVAL, "route");
    step("a read-only transaction takes no writes");
    EXPECT_ERR(a, chorus_set(a, ro, route_path(1, "leaf1"), "1"), CHORUS_ERR_STATE, "read-only");
    OK(a, chorus_num_instances(a, ro, ROUTES, &n));
    CHECK(n == base, "%" PRIu64 " routes, expected %" PRIu64, n, base);
    OK(a, chorus_trans_finish(a, ro));
    step("an unknown transaction handle");
    EXPECT_ERR(a, chorus_set(a, th + 1000, route_path(1, "leaf1"), "1"), CHORUS_ERR_NOTFOUND,
               "transaction");
    step("a missing mandatory leaf fails validate and apply with the path");
    OK(a, chorus_set(a, th, route_path(41, "leaf1"), "1"));
    EXPECT_ERR(a, chorus_validate(a, th), CHORUS_ERR_VALIDATION, "0000041", "Mandatory");
    EXPECT_ERR(a, chorus_apply(a, th, NULL), CHORUS_ERR_VALIDATION, "0000041", "Mandatory");
    step("the transaction stays open: fix and retry");
    OK(a, chorus_set(a, th, route_path(41, "leaf2"), "2"));
    OK(a, chorus_set(a, th, route_path(41, "leaf3"), "3"));
    EXPECT_ERR(a, chorus_apply(a, th, NULL), CHORUS_ERR_VALIDATION, "0000041", "leaf4");
    CHECK(txid_of(a) == t0, "txid moved");
    after = dump(a, CHORUS_DB_RUNNING);
    EXPECT_SAME(before, after, "running");
    free(after);
    OK(a, chorus_set(a, th, route_path(41, "leaf4"), "4"));
    OK(a, chorus_apply(a, th, NULL));
    OK(a, chorus_trans_finish(a, th));
    CHECK(txid_of(a) == t0 + 1, "txid after the fixed commit");
    EXPECT_VALUE(a, CHORUS_DB_RUNNING, route_path(41, "leaf4"), "4");

    step("LYB: read with chorus_get_data(), written back with chorus_edit(): the same data");
    {
        char *lyb = NULL, *s = NULL, *again;
        size_t len = 0;
        uint64_t t1 = txid_of(a);
        char *before_lyb = dump(a, CHORUS_DB_RUNNING);

        OK(a, chorus_trans_start(a, CHORUS_DB_RUNNING, 1, &th));
        EXPECT_ERR(a, chorus_get(a, th, "/routes:active-cfg", CHORUS_FMT_LYB, 0, &s),
                   CHORUS_ERR_INVAL, "XML or JSON");
        EXPECT_ERR(a, chorus_get_data(a, th, "/routes:active-cfg", CHORUS_FMT_LYB, 0, &s, NULL),
                   CHORUS_ERR_INVAL, "ret_len");
        OK(a, chorus_get_data(a, th, "/routes:active-cfg", CHORUS_FMT_LYB, 0, &lyb, &len));
        CHECK(len > 100 && memchr(lyb, 0, len), "LYB of the routes: %zu bytes", len);
        OK(a, chorus_delete(a, th, "/routes:active-cfg"));
        OK(a, chorus_edit(a, th, CHORUS_EDIT_MERGE, CHORUS_FMT_LYB, lyb, len));
        OK(a, chorus_apply(a, th, NULL));
        OK(a, chorus_trans_finish(a, th));
        CHECK(txid_of(a) == t1, "deleting and writing back the same data changed running");
        again = dump(a, CHORUS_DB_RUNNING);
        EXPECT_SAME(before_lyb, again, "running");
        free(again);
        free(before_lyb);
        free(lyb);
        OK(a, chorus_trans_start(a, CHORUS_DB_RUNNING, 1, &th));
        EXPECT_ERR(a, chorus_edit(a, th, CHORUS_EDIT_MERGE, CHORUS_FMT_LYB, "garbage", 7),
                   CHORUS_ERR_BADVALUE, NULL);
        OK(a, chorus_trans_finish(a, th));
    }
    free(before);
    chorus_disconnect(a);
}

/* ---- scenarios: status ---- */

/* Prints "USID <A's session>", the status while A holds the lock on running, "----", and the
 * status after A disconnected; t_api_status.sh checks them. */
static void
scen_status_lock(void)
{
    uint32_t ua;
    struct chorus_conn *a = open_session("alice", "cli", &ua);
    struct chorus_conn *b = open_session("bob", "script", NULL);
    char *s = NULL;

    OK(a, chorus_lock(a, CHORUS_DB_RUNNING));
    OK(b, chorus_status(b, &s));
    printf("USID %" PRIu32 "\n%s\n----\n", ua, s);
    free(s);
    chorus_disconnect(a);
    wait_session_gone(b, ua);
    OK(b, chorus_status(b, &s));
    printf("%s\n", s);
    free(s);
    chorus_disconnect(b);
}

/* ---- scenarios: size ---- */

static void
scen_count(int n)
{
    uint32_t th;
    struct chorus_conn *a = open_session("alice", "cli", NULL);
    uint64_t t0 = txid_of(a), base = count_in(a, CHORUS_DB_RUNNING), nt = 0, t1;
    const int start = 1000000;
    char *xml = routes_xml(n, start, 3);

    step("load %d routes in one transaction (%zu bytes)", n, strlen(xml));
    t1 = now_ms();
    OK(a, chorus_trans_start(a, CHORUS_DB_RUNNING, 1, &th));
    OK(a, chorus_edit(a, th, CHORUS_EDIT_MERGE, CHORUS_FMT_XML, xml, strlen(xml)));
    OK(a, chorus_apply(a, th, &nt));
    OK(a, chorus_trans_finish(a, th));
    step("committed in %" PRIu64 " ms", now_ms() - t1);
    free(xml);
    CHECK(nt == t0 + 1, "txid %" PRIu64, nt);
    CHECK(count_in(a, CHORUS_DB_RUNNING) == base + (uint64_t)n,
          "%" PRIu64 " routes, expected %" PRIu64, count_in(a, CHORUS_DB_RUNNING),
          base + (uint64_t)n);
    EXPECT_VALUE(a, CHORUS_DB_RUNNING, route_path(start + n - 1, "leaf3"),
                 num(gen_value(start + n - 1, 3, 3)));

    step("delete them one by one in one transaction");
    t1 = now_ms();
    OK(a, chorus_trans_start(a, CHORUS_DB_RUNNING, 1, &th));
    for (int i = start; i < start + n; i++) {
        OK(a, chorus_delete(a, th, route_path(i, NULL)));
    }
    {
        uint64_t in_txn = 0;

        OK(a, chorus_num_instances(a, th, ROUTES, &in_txn));
        CHECK(in_txn == base, "the transaction sees %" PRIu64 " routes", in_txn);
    }
    OK(a, chorus_apply(a, th, &nt));
    OK(a, chorus_trans_finish(a, th));
    step("committed in %" PRIu64 " ms", now_ms() - t1);
    CHECK(nt == t0 + 2, "txid %" PRIu64, nt);
    CHECK(count_in(a, CHORUS_DB_RUNNING) == base, "%" PRIu64 " routes left",
          count_in(a, CHORUS_DB_RUNNING));
    CHECK(!exists_in(a, CHORUS_DB_RUNNING, route_path(start, NULL)), "route %d left", start);
    chorus_disconnect(a);
}

/* ---- main ---- */

static const char usage[] =
    "usage: api_client PORT SCENARIO [ARG]\n"
    "scenarios: disconnect-open disconnect-lock disconnect-prepared disconnect-prepared-waiter\n"
    "           disconnect-waiting\n"
    "           lock-running lock-candidate commit-lock-wait commit-lock-timeout MS\n"
    "           candidate writable-through-candidate startup-write startup-check\n"
    "           startup-invalid errors status-lock count N\n";

int
main(int argc, char **argv)
{
    static char tgt[64];
    int arg = -1;

    if (argc < 3 || argc > 4) {
        fputs(usage, stderr);
        return 2;
    }
    snprintf(tgt, sizeof tgt, "127.0.0.1:%s", argv[1]);
    target = tgt;
    scen = argv[2];
    if (argc == 4) {
        arg = atoi(argv[3]);
    }
    seed_routes();
    if (!strcmp(scen, "disconnect-open")) {
        scen_disconnect_open();
    } else if (!strcmp(scen, "disconnect-lock")) {
        scen_disconnect_lock();
    } else if (!strcmp(scen, "disconnect-prepared")) {
        scen_disconnect_prepared();
    } else if (!strcmp(scen, "disconnect-prepared-waiter")) {
        scen_disconnect_prepared_waiter();
    } else if (!strcmp(scen, "disconnect-waiting")) {
        scen_disconnect_waiting();
    } else if (!strcmp(scen, "lock-running")) {
        scen_lock_running();
    } else if (!strcmp(scen, "lock-candidate")) {
        scen_lock_candidate();
    } else if (!strcmp(scen, "commit-lock-wait")) {
        scen_commit_lock_wait();
    } else if (!strcmp(scen, "commit-lock-timeout") && arg >= 0) {
        scen_commit_lock_timeout((unsigned)arg);
    } else if (!strcmp(scen, "candidate")) {
        scen_candidate();
    } else if (!strcmp(scen, "writable-through-candidate")) {
        scen_writable_through_candidate();
    } else if (!strcmp(scen, "startup-write")) {
        scen_startup_write();
    } else if (!strcmp(scen, "startup-check")) {
        scen_startup_check();
    } else if (!strcmp(scen, "startup-invalid")) {
        scen_startup_invalid();
    } else if (!strcmp(scen, "errors")) {
        scen_errors();
    } else if (!strcmp(scen, "status-lock")) {
        scen_status_lock();
    } else if (!strcmp(scen, "count") && arg > 0) {
        scen_count(arg);
    } else {
        fputs(usage, stderr);
        return 2;
    }
    printf("PASS %s\n", scen);
    return 0;
}
