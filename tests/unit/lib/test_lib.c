/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of libchorus against a fake chorusd: a thread listening on an ephemeral
 * 127.0.0.1 port (or a UNIX socket) that accepts one connection and runs a script, speaking
 * the protocol with canned behaviour. Covered: hello and successful calls of every management
 * function (requests are checked field by field by the fake), error replies with several
 * items, replies that do not match the request, a server closing mid-reply, replies larger
 * than the client's limit, timeouts, unreachable daemons, argument checks, and concurrent
 * calls on one connection.
 *
 * The fake runs in another thread and must not use cmocka's asserts (they longjmp); it counts
 * what went wrong in `bad` and the test asserts on it after joining the thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "chorus/chorus.h"
#include "chorus/mgmt.h"
#include "common/util.h"
#include "lib/internal.h"
#include "proto/proto.h"

#define SERVER_NAME "chorusd 0.1.0-fake"
#define BIG_LEN (3u << 20)

struct fake;
typedef void (*script_fn)(struct fake *f, int fd);

struct fake {
    int lfd;
    char target[128];
    char sock_path[108];
    pthread_t thr;
    script_fn script;
    int bad;      /* problems seen by the fake */
    int requests; /* requests answered after the hello */
    uint32_t arg; /* script parameter */
};

/* A frame received by the fake. */
struct sframe {
    uint8_t *body;
    struct proto_msg m;
};

/* ---- fake server plumbing ---- */

static int
read_exact(int fd, void *p, size_t len)
{
    uint8_t *c = p;

    while (len) {
        ssize_t n = read(fd, c, len);

        if (n <= 0) {
            return -1;
        }
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Receive one frame; -1 on end of file or a malformed frame. */
static int
srv_recv(int fd, struct sframe *fr)
{
    uint8_t hdr[PROTO_HDR_LEN];
    uint32_t len;

    memset(fr, 0, sizeof *fr);
    if (read_exact(fd, hdr, sizeof hdr) ||
        proto_hdr_parse(hdr, PROTO_MAX_FRAME, &len, &fr->m.op, &fr->m.flags, &fr->m.reqid)) {
        return -1;
    }
    fr->body = malloc(len + 1);
    if (!fr->body || read_exact(fd, fr->body, len) ||
        proto_body_parse(fr->body, len, PROTO_MAX_FIELDS, &fr->m)) {
        free(fr->body);
        fr->body = NULL;
        return -1;
    }
    return 0;
}

static void
srv_done(struct sframe *fr)
{
    proto_msg_done(&fr->m);
    free(fr->body);
    fr->body = NULL;
}

static void
srv_send(int fd, struct buf *b)
{
    if (proto_end(b, 0) == 0) {
        write_all(fd, b->p, b->len);
    }
    buf_free(b);
}

static void
reply_begin(struct buf *b, const struct sframe *req, uint16_t flags)
{
    buf_reset(b);
    proto_begin(b, req->m.op, (uint16_t)(PF_REPLY | flags), req->m.reqid);
}

/* Answer the hello; version @p version. Returns -1 if the request was not a proper hello. */
static int
srv_hello(struct fake *f, int fd, uint32_t version)
{
    struct sframe req;
    struct buf b = BUF_INIT;
    const char *name;
    uint32_t v;

    if (srv_recv(fd, &req)) {
        f->bad++;
        return -1;
    }
    if (req.m.op != OP_HELLO || req.m.flags || !req.m.reqid ||
        proto_get_u32(&req.m, T_PROTO_VERSION, &v) || v != CHORUS_PROTO_VERSION ||
        proto_get_str(&req.m, T_NAME, &name) || strcmp(name, "test-client")) {
        f->bad++;
    }
    reply_begin(&b, &req, 0);
    proto_put_u32(&b, T_PROTO_VERSION, version);
    proto_put_str(&b, T_NAME, SERVER_NAME);
    proto_put_str(&b, T_LY_VERSION, "2.1.30");
    proto_put_data(&b, T_MODSET, "\x01\x02\x03", 3);
    srv_send(fd, &b);
    srv_done(&req);
    return 0;
}

static void *
fake_main(void *p)
{
    struct fake *f = p;
    int fd = accept(f->lfd, NULL, NULL);

    if (fd < 0) {
        f->bad++;
        return NULL;
    }
    f->script(f, fd);
    close(fd);
    return NULL;
}

static void
fake_start(struct fake *f, script_fn script, uint32_t arg)
{
    struct sockaddr_in sin = {0};
    socklen_t len = sizeof sin;

    memset(f, 0, sizeof *f);
    f->script = script;
    f->arg = arg;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(f->lfd, 4), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sin, &len), 0);
    snprintf(f->target, sizeof f->target, "127.0.0.1:%u", ntohs(sin.sin_port));
    assert_int_equal(pthread_create(&f->thr, NULL, fake_main, f), 0);
}

static void
fake_start_unix(struct fake *f, script_fn script)
{
    struct sockaddr_un sun = {0};

    memset(f, 0, sizeof *f);
    f->script = script;
    snprintf(f->sock_path, sizeof f->sock_path, "/tmp/chorus-test-lib-%d.sock", (int)getpid());
    unlink(f->sock_path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, f->sock_path);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof sun), 0);
    assert_int_equal(listen(f->lfd, 4), 0);
    snprintf(f->target, sizeof f->target, "unix:%s", f->sock_path);
    assert_int_equal(pthread_create(&f->thr, NULL, fake_main, f), 0);
}

/* Join the fake and check it saw nothing wrong. */
static void
fake_stop(struct fake *f)
{
    pthread_join(f->thr, NULL);
    close(f->lfd);
    if (f->sock_path[0]) {
        unlink(f->sock_path);
    }
    assert_int_equal(f->bad, 0);
}

static struct chorus_conn *
connect_ok(struct fake *f)
{
    struct chorus_conn *c = NULL;

    assert_int_equal(chorus_connect(f->target, "test-client", &c), CHORUS_OK);
    assert_non_null(c);
    assert_int_equal(chorus_last_error(NULL)->code, CHORUS_OK);
    assert_string_equal(chorus_server_version(c), SERVER_NAME);
    return c;
}

/* ---- the canned daemon ---- */

static int
want_u32(const struct sframe *r, uint16_t tag, uint32_t v)
{
    uint32_t got;

    return !proto_get_u32(&r->m, tag, &got) && got == v;
}

static int
want_str(const struct sframe *r, uint16_t tag, const char *s)
{
    const char *got;

    if (!s) {
        return proto_get_str(&r->m, tag, &got) == CHORUS_ERR_NOTFOUND;
    }
    return !proto_get_str(&r->m, tag, &got) && !strcmp(got, s);
}

static int
count_tag(const struct sframe *r, uint16_t tag)
{
    int n = 0;

    for (size_t i = 0; i < r->m.nf; i++) {
        n += r->m.f[i].tag == tag;
    }
    return n;
}

static void
put_rollback(struct buf *b, uint32_t idx, uint64_t txid, uint64_t t, const char *user,
             const char *label)
{
    proto_put_u32(b, T_INDEX, idx);
    proto_put_u64(b, T_TXID, txid);
    proto_put_u64(b, T_TIME, t);
    proto_put_str(b, T_USER, user);
    proto_put_str(b, T_CONTEXT, "cli");
    proto_put_str(b, T_LABEL, label);
}

/*
 * Answer one request of the canned daemon into @p b; returns 0, or -1 if the request is not
 * what the tests send (the reply is then an error).
 */
static int
daemon_answer(const struct sframe *r, struct buf *b)
{
    const char *s;
    size_t len;
    int ok = 1;

    reply_begin(b, r, 0);
    switch (r->m.op) {
    case OP_SESSION_START:
        ok = want_str(r, T_USER, "alice") && want_str(r, T_CONTEXT, "test") &&
             count_tag(r, T_GROUP) == 2 && want_str(r, T_SRCADDR, "10.0.0.1");
        proto_put_u32(b, T_USID, 7);
        break;
    case OP_SESSION_END:
    case OP_CAND_DISCARD:
    case OP_STOP:
        ok = r->m.nf == 0;
        break;
    case OP_TRANS_START:
        ok = want_u32(r, T_DB, CHORUS_DB_CANDIDATE) && want_u32(r, T_RW, 1);
        proto_put_u32(b, T_TH, 100);
        break;
    case OP_TRANS_ATTACH_INIT:
        proto_put_u32(b, T_TH, 1);
        break;
    case OP_TRANS_FINISH:
    case OP_VALIDATE:
    case OP_PREPARE:
    case OP_ABORT:
        ok = want_u32(r, T_TH, 100);
        break;
    case OP_GET:
        ok = want_u32(r, T_TH, 100) && want_u32(r, T_FORMAT, CHORUS_FMT_JSON) &&
             want_u32(r, T_FLAGS, CHORUS_GET_PRETTY | CHORUS_GET_WD_ALL);
        if (!proto_get_str(&r->m, T_PATH, &s) && !strcmp(s, "/big")) {
            char *big = malloc(BIG_LEN);

            if (!big) {
                return -1;
            }
            memset(big, 'x', BIG_LEN);
            proto_put_data(b, T_DATA, big, BIG_LEN);
            free(big);
        } else {
            ok = ok && want_str(r, T_PATH, NULL);
            proto_put_data(b, T_DATA, "{\"a:b\":{}}\n", 11);
        }
        break;
    case OP_GET_VALUE:
        ok = want_u32(r, T_TH, 100) && want_str(r, T_PATH, "/a:b/c");
        proto_put_str(b, T_VALUE, "42");
        break;
    case OP_EXISTS:
        ok = want_str(r, T_PATH, "/a:b");
        proto_put_u32(b, T_BOOL, 1);
        break;
    case OP_NUM_INSTANCES:
        ok = want_str(r, T_PATH, "/a:b/l");
        proto_put_u64(b, T_COUNT, 600000);
        break;
    case OP_SET:
        ok = want_u32(r, T_TH, 100) && want_str(r, T_PATH, "/a:b/c") &&
             (want_str(r, T_VALUE, "1") || want_str(r, T_VALUE, NULL));
        break;
    case OP_CREATE:
    case OP_DELETE:
        ok = want_u32(r, T_TH, 100) && want_str(r, T_PATH, "/a:b/l[k='1']");
        break;
    case OP_EDIT:
        /* The data arrives with one NUL appended, whatever followed it in memory. */
        ok = want_u32(r, T_EDIT_OP, CHORUS_EDIT_REPLACE_ALL) &&
             want_u32(r, T_FORMAT, CHORUS_FMT_XML) && !proto_get_data(&r->m, T_DATA, &s, &len) &&
             len == 4 && !memcmp(s, "<b/>", 5);
        break;
    case OP_COMMIT:
    case OP_APPLY:
        ok = want_u32(r, T_TH, 100);
        proto_put_u64(b, T_TXID, 43);
        break;
    case OP_LOCK:
    case OP_UNLOCK:
        ok = want_u32(r, T_DB, CHORUS_DB_RUNNING);
        break;
    case OP_CAND_COMMIT:
    case OP_TXID:
        proto_put_u64(b, T_TXID, 42);
        break;
    case OP_PHASE_GET:
        proto_put_u32(b, T_PHASE, 2);
        break;
    case OP_START_PHASE:
    case OP_WAIT_START:
        ok = want_u32(r, T_PHASE, 1);
        break;
    case OP_ROLLBACK_LIST:
        put_rollback(b, 0, 42, 1790000000, "alice", "fix");
        proto_put_u32(b, 999, 1); /* unknown tags are ignored */
        put_rollback(b, 1, 41, 1780000000, "bob", NULL);
        break;
    case OP_ROLLBACK_APPLY:
        ok = want_u32(r, T_INDEX, 3) && want_u32(r, T_FLAGS, CHORUS_ROLLBACK_SELECTIVE);
        proto_put_u64(b, T_TXID, 44);
        break;
    case OP_STATUS:
        proto_put_str(b, T_STATUS, "{\"phase\":2}");
        break;
    default:
        ok = 0;
        break;
    }
    if (!ok) {
        reply_begin(b, r, PF_ERROR);
        proto_put_error(b, CHORUS_ERR_INTERNAL, "unexpected request", NULL, NULL);
        return -1;
    }
    return 0;
}

/* Hello, then answer requests until the client closes. */
static void
s_daemon(struct fake *f, int fd)
{
    struct buf b = BUF_INIT;
    struct sframe req;

    if (srv_hello(f, fd, CHORUS_PROTO_VERSION)) {
        return;
    }
    while (!srv_recv(fd, &req)) {
        if (daemon_answer(&req, &b)) {
            f->bad++;
        }
        __atomic_add_fetch(&f->requests, 1, __ATOMIC_RELAXED);
        srv_send(fd, &b);
        srv_done(&req);
    }
}

/* ---- tests: success paths ---- */

static void
test_hello_and_calls(void **state)
{
    static const char *const groups[] = {"wheel", "admin"};
    struct fake f;
    struct chorus_conn *c;
    const struct chorus_error *e;
    struct chorus_rollback *rb = (void *)1;
    enum chorus_phase phase;
    uint32_t usid = 0, th = 0;
    uint64_t txid = 0, count = 0;
    size_t nrb = 99;
    char *s = NULL;
    int exists = -1;

    fake_start(&f, s_daemon, 0);
    c = connect_ok(&f);
    assert_true(chorus_fd(c) >= 0);

    e = chorus_last_error(c);
    assert_int_equal(e->code, CHORUS_OK);
    assert_string_equal(e->message, "success");
    assert_int_equal(chorus_error_count(c), 0);
    assert_null(chorus_error_at(c, 0));

    assert_int_equal(chorus_session_start(c, "alice", "test", groups, 2, "10.0.0.1", &usid),
                     CHORUS_OK);
    assert_int_equal(usid, 7);
    assert_int_equal(chorus_trans_start(c, CHORUS_DB_CANDIDATE, 1, &th), CHORUS_OK);
    assert_int_equal(th, 100);
    assert_int_equal(chorus_trans_attach_init(c, &th), CHORUS_OK);
    assert_int_equal(th, 1);
    th = 100;

    assert_int_equal(
        chorus_get(c, th, NULL, CHORUS_FMT_JSON, CHORUS_GET_PRETTY | CHORUS_GET_WD_ALL, &s),
        CHORUS_OK);
    assert_string_equal(s, "{\"a:b\":{}}\n");
    free(s);
    assert_int_equal(
        chorus_get(c, th, "/big", CHORUS_FMT_JSON, CHORUS_GET_PRETTY | CHORUS_GET_WD_ALL, &s),
        CHORUS_OK);
    assert_int_equal(strlen(s), BIG_LEN);
    assert_int_equal(s[BIG_LEN - 1], 'x');
    free(s);
    assert_int_equal(chorus_get_value(c, th, "/a:b/c", &s), CHORUS_OK);
    assert_string_equal(s, "42");
    free(s);
    assert_int_equal(chorus_exists(c, th, "/a:b", &exists), CHORUS_OK);
    assert_int_equal(exists, 1);
    assert_int_equal(chorus_num_instances(c, th, "/a:b/l", &count), CHORUS_OK);
    assert_true(count == 600000);

    assert_int_equal(chorus_set(c, th, "/a:b/c", "1"), CHORUS_OK);
    assert_int_equal(chorus_set(c, th, "/a:b/c", NULL), CHORUS_OK);
    assert_int_equal(chorus_create(c, th, "/a:b/l[k='1']"), CHORUS_OK);
    assert_int_equal(chorus_delete(c, th, "/a:b/l[k='1']"), CHORUS_OK);
    assert_int_equal(chorus_edit(c, th, CHORUS_EDIT_REPLACE_ALL, CHORUS_FMT_XML, "<b/>trailing", 4),
                     CHORUS_OK);
    assert_int_equal(chorus_validate(c, th), CHORUS_OK);
    assert_int_equal(chorus_prepare(c, th), CHORUS_OK);
    assert_int_equal(chorus_commit(c, th, &txid), CHORUS_OK);
    assert_true(txid == 43);
    assert_int_equal(chorus_commit(c, th, NULL), CHORUS_OK);
    assert_int_equal(chorus_abort(c, th), CHORUS_OK);
    txid = 0;
    assert_int_equal(chorus_apply(c, th, &txid), CHORUS_OK);
    assert_true(txid == 43);
    assert_int_equal(chorus_trans_finish(c, th), CHORUS_OK);

    assert_int_equal(chorus_lock(c, CHORUS_DB_RUNNING), CHORUS_OK);
    assert_int_equal(chorus_unlock(c, CHORUS_DB_RUNNING), CHORUS_OK);
    assert_int_equal(chorus_candidate_commit(c, &txid), CHORUS_OK);
    assert_true(txid == 42);
    assert_int_equal(chorus_candidate_commit(c, NULL), CHORUS_OK);
    assert_int_equal(chorus_candidate_discard(c), CHORUS_OK);
    assert_int_equal(chorus_phase_get(c, &phase), CHORUS_OK);
    assert_int_equal(phase, CHORUS_PHASE2);
    assert_int_equal(chorus_start_phase(c, CHORUS_PHASE1), CHORUS_OK);
    assert_int_equal(chorus_wait_start(c, CHORUS_PHASE1), CHORUS_OK);
    txid = 0;
    assert_int_equal(chorus_txid(c, &txid), CHORUS_OK);
    assert_true(txid == 42);

    assert_int_equal(chorus_rollback_list(c, &rb, &nrb), CHORUS_OK);
    assert_int_equal(nrb, 2);
    assert_int_equal(rb[0].index, 0);
    assert_true(rb[0].txid == 42);
    assert_true(rb[0].time == 1790000000);
    assert_string_equal(rb[0].user, "alice");
    assert_string_equal(rb[0].context, "cli");
    assert_string_equal(rb[0].label, "fix");
    assert_int_equal(rb[1].index, 1);
    assert_true(rb[1].txid == 41);
    assert_string_equal(rb[1].user, "bob");
    assert_null(rb[1].label);
    chorus_rollback_list_free(rb, nrb);
    chorus_rollback_list_free(NULL, 3);

    assert_int_equal(chorus_rollback_apply(c, 3, CHORUS_ROLLBACK_SELECTIVE, &txid), CHORUS_OK);
    assert_true(txid == 44);
    assert_int_equal(chorus_status(c, &s), CHORUS_OK);
    assert_string_equal(s, "{\"phase\":2}");
    free(s);
    assert_int_equal(chorus_session_end(c), CHORUS_OK);
    assert_int_equal(chorus_stop(c), CHORUS_OK);
    assert_int_equal(chorus_last_error(c)->code, CHORUS_OK);

    chorus_disconnect(c);
    fake_stop(&f);
    assert_int_equal(f.requests, 34);
}

static void
test_unix_socket(void **state)
{
    struct fake f;
    struct chorus_conn *c;
    uint64_t txid = 0;

    fake_start_unix(&f, s_daemon);
    c = connect_ok(&f);
    assert_int_equal(chorus_txid(c, &txid), CHORUS_OK);
    assert_true(txid == 42);
    chorus_disconnect(c);
    fake_stop(&f);
}

struct worker {
    struct chorus_conn *c;
    int failures;
};

static void *
worker_main(void *p)
{
    struct worker *w = p;

    for (int i = 0; i < 200; i++) {
        uint64_t txid = 0;
        char *s = NULL;

        if (chorus_txid(w->c, &txid) || txid != 42) {
            w->failures++;
        }
        if (chorus_get_value(w->c, 100, "/a:b/c", &s) || strcmp(s, "42")) {
            w->failures++;
        }
        free(s);
    }
    return NULL;
}

/* Calls from several threads on one connection are serialized; each gets its own reply. */
static void
test_threads(void **state)
{
    struct worker w[4];
    pthread_t t[4];
    struct fake f;
    struct chorus_conn *c;

    fake_start(&f, s_daemon, 0);
    c = connect_ok(&f);
    for (int i = 0; i < 4; i++) {
        w[i].c = c;
        w[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    chorus_disconnect(c);
    fake_stop(&f);
    assert_int_equal(f.requests, 4 * 200 * 2);
}

/* ---- tests: error replies ---- */

static void
s_two_errors(struct fake *f, int fd)
{
    struct buf b = BUF_INIT;
    struct sframe req;

    if (srv_hello(f, fd, CHORUS_PROTO_VERSION) || srv_recv(fd, &req)) {
        f->bad++;
        return;
    }
    reply_begin(&b, &req, PF_ERROR);
    proto_put_error(&b, CHORUS_ERR_VALIDATION, "must condition failed", "/a:b/c", "must-violation");
    proto_put_u32(&b, 999, 1); /* unknown tags inside an item are ignored */
    proto_put_error(&b, CHORUS_ERR_BADVALUE, "value out of range", "/a:b/d", NULL);
    srv_send(fd, &b);
    srv_done(&req);
    /* The connection stays usable after an error reply. */
    if (srv_recv(fd, &req)) {
        f->bad++;
        return;
    }
    reply_begin(&b, &req, 0);
    proto_put_u64(&b, T_TXID, 5);
    srv_send(fd, &b);
    srv_done(&req);
    /* An error without a message gets the code's description. */
    if (srv_recv(fd, &req)) {
        f->bad++;
        return;
    }
    reply_begin(&b, &req, PF_ERROR);
    proto_put_u32(&b, T_ERR_CODE, CHORUS_ERR_LOCKED);
    srv_send(fd, &b);
    srv_done(&req);
}

static void
test_error_items(void **state)
{
    struct fake f;
    struct chorus_conn *c;
    const struct chorus_error *e;
    uint64_t txid = 77;

    fake_start(&f, s_two_errors, 0);
    c = connect_ok(&f);
    assert_int_equal(chorus_apply(c, 1, &txid), CHORUS_ERR_VALIDATION);
    assert_true(txid == 77); /* out-param untouched */
    assert_int_equal(chorus_error_count(c), 2);
    e = chorus_last_error(c);
    assert_ptr_equal(e, chorus_error_at(c, 0));
    assert_int_equal(e->code, CHORUS_ERR_VALIDATION);
    assert_string_equal(e->message, "must condition failed");
    assert_string_equal(e->path, "/a:b/c");
    assert_string_equal(e->app_tag, "must-violation");
    e = chorus_error_at(c, 1);
    assert_non_null(e);
    assert_int_equal(e->code, CHORUS_ERR_BADVALUE);
    assert_string_equal(e->message, "value out of range");
    assert_string_equal(e->path, "/a:b/d");
    assert_null(e->app_tag);
    assert_null(chorus_error_at(c, 2));

    assert_int_equal(chorus_txid(c, &txid), CHORUS_OK);
    assert_true(txid == 5);
    assert_int_equal(chorus_error_count(c), 0);
    assert_int_equal(chorus_last_error(c)->code, CHORUS_OK);
    assert_string_equal(chorus_last_error(c)->message, "success");

    assert_int_equal(chorus_unlock(c, CHORUS_DB_RUNNING), CHORUS_ERR_LOCKED);
    assert_int_equal(chorus_error_count(c), 1);
    assert_string_equal(chorus_last_error(c)->message, chorus_strerror(CHORUS_ERR_LOCKED));
    assert_null(chorus_last_error(c)->path);
    chorus_disconnect(c);
    fake_stop(&f);
}

/* ---- tests: broken replies ---- */

enum bad_kind {
    BAD_REQID,     /* reply with another request id */
    BAD_OP,        /* reply with another operation */
    BAD_NOT_REPLY, /* request flags instead of a reply */
    BAD_MID_CLOSE, /* header and part of the body, then close */
    BAD_HDR_CLOSE, /* half a header, then close */
    BAD_CLOSE,     /* close without replying */
    BAD_TOOBIG,    /* body larger than the client's limit */
    BAD_OVERRUN,   /* a field overruns the body */
    BAD_MISSING,   /* success reply without the required T_TXID */
    BAD_ITEMS,     /* error reply whose message comes before its code */
    BAD_NO_ITEMS,  /* error reply without items */
};

static void
s_bad(struct fake *f, int fd)
{
    struct buf b = BUF_INIT;
    struct sframe req;
    uint8_t junk[64];

    if (srv_hello(f, fd, CHORUS_PROTO_VERSION) || srv_recv(fd, &req)) {
        f->bad++;
        return;
    }
    reply_begin(&b, &req, 0);
    switch ((enum bad_kind)f->arg) {
    case BAD_REQID:
        buf_reset(&b);
        proto_begin(&b, req.m.op, PF_REPLY, req.m.reqid + 1);
        proto_put_u64(&b, T_TXID, 1);
        break;
    case BAD_OP:
        buf_reset(&b);
        proto_begin(&b, OP_STATUS, PF_REPLY, req.m.reqid);
        proto_put_u64(&b, T_TXID, 1);
        break;
    case BAD_NOT_REPLY:
        buf_reset(&b);
        proto_begin(&b, req.m.op, 0, req.m.reqid);
        break;
    case BAD_MID_CLOSE:
        proto_put_u64(&b, T_TXID, 1);
        proto_end(&b, 0);
        wr_u32(b.p, 100);
        write_all(fd, b.p, b.len);
        buf_reset(&b);
        break;
    case BAD_HDR_CLOSE:
        write_all(fd, b.p, 6);
        buf_reset(&b);
        break;
    case BAD_CLOSE:
        buf_reset(&b);
        break;
    case BAD_TOOBIG:
        memset(junk, 0, sizeof junk);
        buf_append(&b, junk, sizeof junk);
        break;
    case BAD_OVERRUN:
        buf_put_u16(&b, T_TXID);
        buf_put_u32(&b, 9);
        buf_put_u64(&b, 1);
        break;
    case BAD_MISSING:
        proto_put_u64(&b, T_COUNT, 1);
        break;
    case BAD_ITEMS:
        reply_begin(&b, &req, PF_ERROR);
        proto_put_str(&b, T_ERR_MSG, "message first");
        proto_put_u32(&b, T_ERR_CODE, CHORUS_ERR_INVAL);
        break;
    case BAD_NO_ITEMS:
        reply_begin(&b, &req, PF_ERROR);
        break;
    }
    if (b.len) {
        srv_send(fd, &b);
    }
    buf_free(&b);
    srv_done(&req);
    if (f->arg == BAD_MID_CLOSE || f->arg == BAD_HDR_CLOSE || f->arg == BAD_CLOSE) {
        return; /* the caller closes the socket */
    }
    /* Wait until the client shuts the connection down (or closes it). */
    while (!srv_recv(fd, &req)) {
        srv_done(&req);
        f->bad++;
    }
}

/* Run the txid call against a fake misbehaving as @p kind; expect @p want, then CLOSED. */
static void
expect_broken(enum bad_kind kind, uint32_t limit, enum chorus_err want, const char *msg_part)
{
    struct fake f;
    struct chorus_conn *c;
    const struct chorus_error *e;
    uint64_t txid = 77;
    char *s = NULL;

    fake_start(&f, s_bad, kind);
    c = connect_ok(&f);
    if (limit) {
        conn_set_max_reply(c, limit);
    }
    assert_int_equal(chorus_txid(c, &txid), want);
    assert_true(txid == 77);
    e = chorus_last_error(c);
    assert_int_equal(e->code, want);
    assert_int_equal(chorus_error_count(c), 1);
    if (!strstr(e->message, msg_part)) {
        fail_msg("message \"%s\" lacks \"%s\"", e->message, msg_part);
    }
    /* The connection is broken: later calls fail at once. */
    assert_int_equal(chorus_txid(c, &txid), CHORUS_ERR_CLOSED);
    assert_int_equal(chorus_last_error(c)->code, CHORUS_ERR_CLOSED);
    assert_non_null(strstr(chorus_last_error(c)->message, "closed"));
    assert_int_equal(chorus_status(c, &s), CHORUS_ERR_CLOSED);
    assert_null(s);
    chorus_disconnect(c);
    fake_stop(&f);
}

static void
test_reqid_mismatch(void **state)
{
    expect_broken(BAD_REQID, 0, CHORUS_ERR_PROTO, "unexpected frame");
    expect_broken(BAD_OP, 0, CHORUS_ERR_PROTO, "unexpected frame");
    expect_broken(BAD_NOT_REPLY, 0, CHORUS_ERR_PROTO, "unexpected frame");
}

static void
test_close_mid_reply(void **state)
{
    expect_broken(BAD_MID_CLOSE, 0, CHORUS_ERR_CLOSED,
                  "connection closed by chorusd in the middle");
    expect_broken(BAD_HDR_CLOSE, 0, CHORUS_ERR_CLOSED,
                  "connection closed by chorusd in the middle");
    expect_broken(BAD_CLOSE, 0, CHORUS_ERR_CLOSED, "connection closed by chorusd");
}

static void
test_reply_too_big(void **state)
{
    expect_broken(BAD_TOOBIG, 32, CHORUS_ERR_TOOBIG, "exceeds the client limit of 32 bytes");
}

static void
test_malformed_reply(void **state)
{
    expect_broken(BAD_OVERRUN, 0, CHORUS_ERR_PROTO, "malformed txid reply");
    expect_broken(BAD_MISSING, 0, CHORUS_ERR_PROTO, "T_TXID");
    expect_broken(BAD_ITEMS, 0, CHORUS_ERR_PROTO, "malformed txid error reply");
    expect_broken(BAD_NO_ITEMS, 0, CHORUS_ERR_PROTO, "without error items");
}

/* Read requests, never answer; leave when the client closes. */
static void
s_silent(struct fake *f, int fd)
{
    struct sframe req;

    if (srv_hello(f, fd, CHORUS_PROTO_VERSION)) {
        return;
    }
    while (!srv_recv(fd, &req)) {
        srv_done(&req);
    }
}

static void
test_timeout(void **state)
{
    struct fake f;
    struct chorus_conn *c;
    uint64_t txid = 77, t0;

    fake_start(&f, s_silent, 0);
    c = connect_ok(&f);
    chorus_set_timeout(c, 200);
    t0 = now_ms();
    assert_int_equal(chorus_txid(c, &txid), CHORUS_ERR_TIMEOUT);
    assert_in_range(now_ms() - t0, 190, 5000);
    assert_true(txid == 77);
    assert_int_equal(chorus_last_error(c)->code, CHORUS_ERR_TIMEOUT);
    assert_non_null(strstr(chorus_last_error(c)->message, "within 200 ms"));
    assert_int_equal(chorus_txid(c, &txid), CHORUS_ERR_CLOSED);
    assert_int_equal(chorus_last_error(c)->code, CHORUS_ERR_CLOSED);
    chorus_disconnect(c);
    fake_stop(&f);
}

/* Send an event frame, then answer normally: the client skips the event. */
static void
s_event_first(struct fake *f, int fd)
{
    struct buf b = BUF_INIT;
    struct sframe req;

    if (srv_hello(f, fd, CHORUS_PROTO_VERSION) || srv_recv(fd, &req)) {
        f->bad++;
        return;
    }
    proto_begin(&b, 200, PF_EVENT, 0);
    proto_put_str(&b, T_PATH, "/a:b");
    srv_send(fd, &b);
    reply_begin(&b, &req, 0);
    proto_put_u64(&b, T_TXID, 9);
    srv_send(fd, &b);
    srv_done(&req);
}

static void
test_event_skipped(void **state)
{
    struct fake f;
    struct chorus_conn *c;
    uint64_t txid = 0;

    fake_start(&f, s_event_first, 0);
    c = connect_ok(&f);
    assert_int_equal(chorus_txid(c, &txid), CHORUS_OK);
    assert_true(txid == 9);
    chorus_disconnect(c);
    fake_stop(&f);
}

/* ---- tests: connect ---- */

static void
test_connect_refused(void **state)
{
    struct sockaddr_in sin = {0};
    socklen_t len = sizeof sin;
    struct chorus_conn *c = (void *)1;
    const struct chorus_error *e;
    char target[64], addr[64];
    int fd;

    /* A port that was just free: bind, learn it, close. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    snprintf(target, sizeof target, "127.0.0.1:%u", ntohs(sin.sin_port));
    snprintf(addr, sizeof addr, "cannot connect to 127.0.0.1:%u: ", ntohs(sin.sin_port));

    assert_int_equal(chorus_connect(target, "test-client", &c), CHORUS_ERR_IO);
    assert_ptr_equal(c, (void *)1);
    e = chorus_last_error(NULL);
    assert_int_equal(e->code, CHORUS_ERR_IO);
    if (strncmp(e->message, addr, strlen(addr)) || !strstr(e->message, "refused")) {
        fail_msg("unexpected message \"%s\"", e->message);
    }
    assert_int_equal(chorus_error_count(NULL), 1);
    assert_ptr_equal(chorus_error_at(NULL, 0), e);
    assert_null(chorus_error_at(NULL, 1));

    /* The port alone, and from the environment. */
    snprintf(target, sizeof target, "%u", ntohs(sin.sin_port));
    assert_int_equal(chorus_connect(target, NULL, &c), CHORUS_ERR_IO);
    assert_non_null(strstr(chorus_last_error(NULL)->message, addr));
    setenv("CHORUS_IPC_PORT", target, 1);
    assert_int_equal(chorus_connect(NULL, NULL, &c), CHORUS_ERR_IO);
    assert_non_null(strstr(chorus_last_error(NULL)->message, addr));
    setenv("CHORUS_IPC_PORT", "70000", 1);
    assert_int_equal(chorus_connect(NULL, NULL, &c), CHORUS_ERR_INVAL);
    assert_non_null(strstr(chorus_last_error(NULL)->message, "CHORUS_IPC_PORT"));
    unsetenv("CHORUS_IPC_PORT");

    /* IPv6 literals are bracketed in messages (connecting may fail for several reasons). */
    snprintf(target, sizeof target, "[::1]:%u", ntohs(sin.sin_port));
    assert_int_equal(chorus_connect(target, NULL, &c), CHORUS_ERR_IO);
    assert_non_null(strstr(chorus_last_error(NULL)->message, target));

    assert_int_equal(chorus_connect("unix:/nonexistent/chorus.sock", NULL, &c), CHORUS_ERR_IO);
    assert_string_equal(
        chorus_last_error(NULL)->message,
        "cannot connect to unix:/nonexistent/chorus.sock: No such file or directory");
    assert_ptr_equal(c, (void *)1);
}

static void
test_bad_targets(void **state)
{
    static const char *const bad[] = {
        "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:x", "0",     "99999",
        "[::1",        "[]:4565",         "[::1]x",     "[::1]:",      "unix:",
    };
    struct chorus_conn *c = (void *)1;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (chorus_connect(bad[i], NULL, &c) != CHORUS_ERR_INVAL) {
            fail_msg("target \"%s\" accepted", bad[i]);
        }
        assert_int_equal(chorus_last_error(NULL)->code, CHORUS_ERR_INVAL);
    }
    assert_int_equal(chorus_connect(NULL, NULL, NULL), CHORUS_ERR_INVAL);
    assert_ptr_equal(c, (void *)1);
}

static void
s_hello_version(struct fake *f, int fd)
{
    srv_hello(f, fd, CHORUS_PROTO_VERSION + 1);
}

/* The daemon refuses the connection with an error frame of request id 0. */
static void
s_refuse(struct fake *f, int fd)
{
    struct buf b = BUF_INIT;
    struct sframe req;

    if (srv_recv(fd, &req)) {
        f->bad++;
        return;
    }
    proto_begin(&b, 0, PF_REPLY | PF_ERROR, 0);
    proto_put_error(&b, CHORUS_ERR_TOOBIG, "too many sessions (limit 256)", NULL, NULL);
    srv_send(fd, &b);
    srv_done(&req);
}

static void
test_hello_failures(void **state)
{
    struct fake f;
    struct chorus_conn *c = (void *)1;

    fake_start(&f, s_hello_version, 0);
    assert_int_equal(chorus_connect(f.target, "test-client", &c), CHORUS_ERR_PROTO);
    assert_non_null(strstr(chorus_last_error(NULL)->message, "protocol version 2"));
    assert_non_null(strstr(chorus_last_error(NULL)->message, f.target));
    fake_stop(&f);

    fake_start(&f, s_refuse, 0);
    assert_int_equal(chorus_connect(f.target, "test-client", &c), CHORUS_ERR_TOOBIG);
    assert_non_null(strstr(chorus_last_error(NULL)->message, "too many sessions"));
    fake_stop(&f);
    assert_ptr_equal(c, (void *)1);
}

/* ---- tests: arguments ---- */

static void
test_null_conn(void **state)
{
    struct chorus_rollback *rb;
    enum chorus_phase ph;
    uint64_t u64;
    uint32_t th;
    size_t n;
    char *s;
    int b;

    assert_int_equal(chorus_session_start(NULL, "u", "c", NULL, 0, NULL, NULL), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_session_end(NULL), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_trans_start(NULL, CHORUS_DB_RUNNING, 0, &th), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_trans_attach_init(NULL, &th), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_trans_finish(NULL, 1), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_get(NULL, 1, NULL, CHORUS_FMT_XML, 0, &s), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_get_value(NULL, 1, "/a", &s), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_exists(NULL, 1, "/a", &b), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_num_instances(NULL, 1, "/a", &u64), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_set(NULL, 1, "/a", "v"), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_create(NULL, 1, "/a"), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_delete(NULL, 1, "/a"), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_edit(NULL, 1, CHORUS_EDIT_MERGE, CHORUS_FMT_XML, "", 0),
                     CHORUS_ERR_INVAL);
    assert_int_equal(chorus_validate(NULL, 1), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_prepare(NULL, 1), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_commit(NULL, 1, NULL), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_abort(NULL, 1), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_apply(NULL, 1, NULL), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_lock(NULL, CHORUS_DB_RUNNING), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_unlock(NULL, CHORUS_DB_RUNNING), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_candidate_commit(NULL, NULL), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_candidate_discard(NULL), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_phase_get(NULL, &ph), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_start_phase(NULL, CHORUS_PHASE1), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_wait_start(NULL, CHORUS_PHASE1), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_txid(NULL, &u64), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_rollback_list(NULL, &rb, &n), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_rollback_apply(NULL, 0, 0, NULL), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_status(NULL, &s), CHORUS_ERR_INVAL);
    assert_int_equal(chorus_stop(NULL), CHORUS_ERR_INVAL);

    /* Connection accessors accept NULL. */
    chorus_disconnect(NULL);
    chorus_set_timeout(NULL, 5);
    assert_int_equal(chorus_fd(NULL), -1);
    assert_null(chorus_server_version(NULL));
}

/* Invalid arguments are refused locally (nothing is sent) and recorded on the connection. */
static void
test_bad_args(void **state)
{
    static const char *const null_group[] = {"a", NULL};
    struct fake f;
    struct chorus_conn *c;
    struct chorus_rollback *rb = NULL;
    uint64_t txid = 0;
    uint32_t u32 = 0;
    size_t n = 0;
    char *s = NULL;

    fake_start(&f, s_daemon, 0);
    c = connect_ok(&f);

#define EXPECT_INVAL(call)                                                                         \
    do {                                                                                           \
        assert_int_equal((call), CHORUS_ERR_INVAL);                                                \
        assert_int_equal(chorus_last_error(c)->code, CHORUS_ERR_INVAL);                            \
        assert_int_equal(chorus_error_count(c), 1);                                                \
    } while (0)

    EXPECT_INVAL(chorus_session_start(c, NULL, "c", NULL, 0, NULL, NULL));
    EXPECT_INVAL(chorus_session_start(c, "u", NULL, NULL, 0, NULL, NULL));
    EXPECT_INVAL(chorus_session_start(c, "u", "c", NULL, 1, NULL, NULL));
    EXPECT_INVAL(chorus_session_start(c, "u", "c", null_group, 2, NULL, NULL));
    EXPECT_INVAL(chorus_trans_start(c, CHORUS_DB_RUNNING, 1, NULL));
    EXPECT_INVAL(chorus_trans_start(c, (enum chorus_db)9, 1, &u32));
    EXPECT_INVAL(chorus_trans_start(c, CHORUS_DB_RUNNING, 2, &u32));
    EXPECT_INVAL(chorus_trans_attach_init(c, NULL));
    EXPECT_INVAL(chorus_get(c, 1, NULL, CHORUS_FMT_XML, 0, NULL));
    EXPECT_INVAL(chorus_get(c, 1, NULL, CHORUS_FMT_LYB, 0, &s));
    EXPECT_INVAL(chorus_get(c, 1, NULL, CHORUS_FMT_XML, 0x100, &s));
    EXPECT_INVAL(chorus_get_value(c, 1, "/a", NULL));
    EXPECT_INVAL(chorus_get_value(c, 1, NULL, &s));
    EXPECT_INVAL(chorus_exists(c, 1, "/a", NULL));
    EXPECT_INVAL(chorus_num_instances(c, 1, "/a", NULL));
    EXPECT_INVAL(chorus_set(c, 1, NULL, "v"));
    EXPECT_INVAL(chorus_create(c, 1, NULL));
    EXPECT_INVAL(chorus_delete(c, 1, NULL));
    EXPECT_INVAL(chorus_edit(c, 1, (enum chorus_edit_op)0, CHORUS_FMT_XML, "", 0));
    EXPECT_INVAL(chorus_edit(c, 1, CHORUS_EDIT_MERGE, (enum chorus_format)7, "", 0));
    EXPECT_INVAL(chorus_edit(c, 1, CHORUS_EDIT_MERGE, CHORUS_FMT_XML, NULL, 3));
    EXPECT_INVAL(chorus_lock(c, (enum chorus_db)0));
    EXPECT_INVAL(chorus_unlock(c, (enum chorus_db)5));
    EXPECT_INVAL(chorus_phase_get(c, NULL));
    EXPECT_INVAL(chorus_start_phase(c, (enum chorus_phase)3));
    EXPECT_INVAL(chorus_wait_start(c, (enum chorus_phase)7));
    EXPECT_INVAL(chorus_txid(c, NULL));
    EXPECT_INVAL(chorus_rollback_list(c, NULL, &n));
    EXPECT_INVAL(chorus_rollback_list(c, &rb, NULL));
    EXPECT_INVAL(chorus_rollback_apply(c, 0, 0x2, NULL));
    EXPECT_INVAL(chorus_status(c, NULL));
#undef EXPECT_INVAL
    assert_non_null(strstr(chorus_last_error(c)->message, "chorus_status"));
    assert_true(txid == 0 && u32 == 0 && n == 0 && !s && !rb);

    /* Nothing was sent: the connection is in sync and the fake saw only this request. */
    assert_int_equal(chorus_txid(c, &txid), CHORUS_OK);
    assert_true(txid == 42);
    assert_int_equal(chorus_last_error(c)->code, CHORUS_OK);
    chorus_disconnect(c);
    fake_stop(&f);
    assert_int_equal(f.requests, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_and_calls), cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_threads),         cmocka_unit_test(test_error_items),
        cmocka_unit_test(test_reqid_mismatch),  cmocka_unit_test(test_close_mid_reply),
        cmocka_unit_test(test_reply_too_big),   cmocka_unit_test(test_malformed_reply),
        cmocka_unit_test(test_timeout),         cmocka_unit_test(test_event_skipped),
        cmocka_unit_test(test_connect_refused), cmocka_unit_test(test_bad_targets),
        cmocka_unit_test(test_hello_failures),  cmocka_unit_test(test_null_conn),
        cmocka_unit_test(test_bad_args),
    };

    /* The fake writes to sockets the client may have closed. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
