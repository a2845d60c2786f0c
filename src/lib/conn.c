/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connections to chorusd: target parsing and connect, the hello exchange, the request/reply
 * routine every API call goes through (conn_call()), timeouts, and the error information of a
 * connection.
 *
 * A call writes one whole request frame, then reads exactly one reply frame: first the 12-byte
 * header, whose body length is checked against the client's limit before anything else is
 * read, then exactly that many bytes, so the socket is never read past the end of a frame.
 * The socket is non-blocking and every wait is a poll() bounded by the call's deadline
 * (chorus_set_timeout(); the deadline covers sending and receiving). A failure that leaves the
 * byte stream in an unknown state (I/O error, end of file, timeout, a reply that is too large,
 * malformed or not the answer to the request) marks the connection broken (see internal.h).
 *
 * chorus_connect() failures have no connection to hold their details; they are kept per
 * thread and read with chorus_last_error(NULL), chorus_error_count(NULL) and
 * chorus_error_at(NULL, 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "internal.h"
#include "proto/auth.h"

#define DEFAULT_HOST "127.0.0.1"
#define HOST_MAX 256
#define PORT_MAX 12
#define CONNECT_MSG_MAX 512
#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* A parsed connection target. */
struct target {
    int is_unix;
    char host[HOST_MAX];
    char port[PORT_MAX];
    char path[SUN_PATH_MAX];
};

/* Deadline of one call on the now_ms() clock; 0 means none. */
struct deadline {
    uint64_t at;
    uint32_t timeout_ms;
};

static const struct chorus_error ok_error = {CHORUS_OK, "success", NULL, NULL};

/* The calling thread's last chorus_connect() failure. */
static _Thread_local struct {
    enum chorus_err code;
    char msg[CONNECT_MSG_MAX];
    struct chorus_error pub;
} connect_err;

static const char *
errno_str(int e, char *tmp, size_t len)
{
    /* GNU strerror_r (the build defines _GNU_SOURCE); thread-safe unlike strerror(). */
    return strerror_r(e, tmp, len);
}

/* ---- errors ---- */

static enum chorus_err connect_fail(enum chorus_err code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum chorus_err
connect_fail(enum chorus_err code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(connect_err.msg, sizeof connect_err.msg, fmt, ap);
    va_end(ap);
    connect_err.code = code;
    return code;
}

static const struct chorus_error *
connect_error(void)
{
    if (connect_err.code == CHORUS_OK) {
        return &ok_error;
    }
    connect_err.pub.code = connect_err.code;
    connect_err.pub.message = connect_err.msg;
    connect_err.pub.path = NULL;
    connect_err.pub.app_tag = NULL;
    return &connect_err.pub;
}

static void
errs_clear(struct chorus_conn *c)
{
    for (size_t i = 0; i < c->nerrs; i++) {
        free(c->errs[i].msg);
        free(c->errs[i].path);
        free(c->errs[i].app_tag);
    }
    if (c->errs != &c->oom_err) {
        free(c->errs);
    }
    c->errs = NULL;
    c->nerrs = 0;
}

/* Out of memory while recording an error: keep the code with its static description. */
static void
errs_set_oom(struct chorus_conn *c, enum chorus_err code)
{
    errs_clear(c);
    memset(&c->oom_err, 0, sizeof c->oom_err);
    c->oom_err.pub.code = code;
    c->oom_err.pub.message = chorus_strerror(code);
    c->errs = &c->oom_err;
    c->nerrs = 1;
}

static enum chorus_err seterr_v(struct chorus_conn *c, enum chorus_err code, const char *fmt,
                                va_list ap) __attribute__((format(printf, 3, 0)));

static enum chorus_err
seterr_v(struct chorus_conn *c, enum chorus_err code, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT;
    struct conn_err *e;
    char *msg;

    errs_clear(c);
    buf_vprintf(&b, fmt, ap);
    msg = buf_steal_str(&b);
    e = calloc(1, sizeof *e);
    if (!msg || !e) {
        free(msg);
        free(e);
        errs_set_oom(c, code);
        return code;
    }
    e->msg = msg;
    e->pub.code = code;
    e->pub.message = msg;
    c->errs = e;
    c->nerrs = 1;
    return code;
}

static enum chorus_err seterr(struct chorus_conn *c, enum chorus_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum chorus_err
seterr(struct chorus_conn *c, enum chorus_err code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    seterr_v(c, code, fmt, ap);
    va_end(ap);
    return code;
}

static void
mark_broken(struct chorus_conn *c)
{
    if (!c->broken) {
        c->broken = 1;
        /* Tell the daemon at once; the descriptor stays valid until chorus_disconnect(). */
        shutdown(c->fd, SHUT_RDWR);
    }
}

static enum chorus_err fail_broken(struct chorus_conn *c, enum chorus_err code, const char *fmt,
                                   ...) __attribute__((format(printf, 3, 4)));

static enum chorus_err
fail_broken(struct chorus_conn *c, enum chorus_err code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    seterr_v(c, code, fmt, ap);
    va_end(ap);
    mark_broken(c);
    return code;
}

/*
 * Replace the connection's error items with those of the error reply @p m. Returns 0 and sets
 * @p ret_code to the first item's code, or -1 with @p why set if the items are malformed.
 */
static int
errs_from_reply(struct chorus_conn *c, const struct proto_msg *m, enum chorus_err *ret_code,
                const char **why)
{
    struct conn_err *items, *cur = NULL;
    uint32_t code, first = 0;
    const char *s;
    size_t n = 0;

    for (size_t i = 0; i < m->nf; i++) {
        const struct proto_field *f = &m->f[i];

        switch (f->tag) {
        case T_ERR_CODE:
            if (proto_field_u32(f, &code) || code == CHORUS_OK || code > INT_MAX) {
                *why = "invalid error code";
                return -1;
            }
            if (!n++) {
                first = code;
            }
            break;
        case T_ERR_MSG:
        case T_ERR_PATH:
        case T_ERR_APPTAG:
            if (!n) {
                *why = "error field before the first error code";
                return -1;
            }
            if (proto_field_str(f, &s)) {
                *why = "invalid error string";
                return -1;
            }
            break;
        default:
            break;
        }
    }
    if (!n) {
        *why = "error reply without error items";
        return -1;
    }
    *ret_code = (enum chorus_err)first;
    items = calloc(n, sizeof *items);
    if (!items) {
        errs_set_oom(c, (enum chorus_err)first);
        return 0;
    }
    for (size_t i = 0; i < m->nf; i++) {
        const struct proto_field *f = &m->f[i];
        char **dst;

        switch (f->tag) {
        case T_ERR_CODE:
            cur = cur ? cur + 1 : items;
            proto_field_u32(f, &code);
            cur->pub.code = (enum chorus_err)code;
            continue;
        case T_ERR_MSG:
            dst = &cur->msg;
            break;
        case T_ERR_PATH:
            dst = &cur->path;
            break;
        case T_ERR_APPTAG:
            dst = &cur->app_tag;
            break;
        default:
            continue;
        }
        /* The first occurrence in an item wins; strdup failure only loses the text. */
        if (!*dst) {
            proto_field_str(f, &s);
            *dst = strdup(s);
        }
    }
    for (size_t i = 0; i < n; i++) {
        items[i].pub.message = items[i].msg ? items[i].msg : chorus_strerror(items[i].pub.code);
        items[i].pub.path = items[i].path;
        items[i].pub.app_tag = items[i].app_tag;
    }
    errs_clear(c);
    c->errs = items;
    c->nerrs = n;
    return 0;
}

enum chorus_err
conn_set_error(struct chorus_conn *c, enum chorus_err code, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&c->mu);
    va_start(ap, fmt);
    seterr_v(c, code, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&c->mu);
    return code;
}

enum chorus_err
conn_bad_reply(struct chorus_conn *c, const struct conn_reply *rep, const char *what)
{
    pthread_mutex_lock(&c->mu);
    fail_broken(c, CHORUS_ERR_PROTO, "malformed %s reply from chorusd: %s",
                proto_op_name(rep->m.op), what);
    pthread_mutex_unlock(&c->mu);
    return CHORUS_ERR_PROTO;
}

/* ---- socket I/O ---- */

/* Wait until the socket is ready for @p events, or fail when the deadline passes. */
static enum chorus_err
wait_ready(struct chorus_conn *c, short events, const struct deadline *dl)
{
    struct pollfd p = {.fd = c->fd, .events = events};
    char tmp[128];

    for (;;) {
        int tmo = -1, n;

        if (dl->at) {
            uint64_t now = now_ms();

            if (now >= dl->at) {
                return fail_broken(c, CHORUS_ERR_TIMEOUT,
                                   "no reply from chorusd at %s within %" PRIu32
                                   " ms; connection closed",
                                   c->peer, dl->timeout_ms);
            }
            tmo = dl->at - now > INT_MAX ? INT_MAX : (int)(dl->at - now);
        }
        n = poll(&p, 1, tmo);
        if (n > 0) {
            /* POLLERR and POLLHUP are reported by the following send() or recv(). */
            return CHORUS_OK;
        }
        if (n < 0 && errno != EINTR) {
            return fail_broken(c, CHORUS_ERR_IO, "poll: %s", errno_str(errno, tmp, sizeof tmp));
        }
    }
}

static enum chorus_err
send_all(struct chorus_conn *c, const uint8_t *p, size_t len, const struct deadline *dl)
{
    char tmp[128];

    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        enum chorus_err err;

        if (n >= 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        switch (errno) {
        case EINTR:
            break;
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
            err = wait_ready(c, POLLOUT, dl);
            if (err) {
                return err;
            }
            break;
        case EPIPE:
        case ECONNRESET:
            return fail_broken(c, CHORUS_ERR_CLOSED, "connection closed by chorusd");
        default:
            return fail_broken(c, CHORUS_ERR_IO, "cannot send to chorusd at %s: %s", c->peer,
                               errno_str(errno, tmp, sizeof tmp));
        }
    }
    return CHORUS_OK;
}

/* Read exactly @p len bytes; @p in_frame says the frame's header has already been read. */
static enum chorus_err
recv_all(struct chorus_conn *c, uint8_t *p, size_t len, const struct deadline *dl, int in_frame)
{
    size_t got = 0;
    char tmp[128];

    while (got < len) {
        ssize_t n = recv(c->fd, p + got, len - got, 0);
        enum chorus_err err;

        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (!n) {
            return fail_broken(c, CHORUS_ERR_CLOSED, "connection closed by chorusd%s",
                               in_frame || got ? " in the middle of a reply" : "");
        }
        switch (errno) {
        case EINTR:
            break;
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
            err = wait_ready(c, POLLIN, dl);
            if (err) {
                return err;
            }
            break;
        case ECONNRESET:
            return fail_broken(c, CHORUS_ERR_CLOSED, "connection reset by chorusd");
        default:
            return fail_broken(c, CHORUS_ERR_IO, "cannot receive from chorusd at %s: %s", c->peer,
                               errno_str(errno, tmp, sizeof tmp));
        }
    }
    return CHORUS_OK;
}

/* ---- events ---- */

static int
queue_event(struct chorus_conn *c, uint16_t op, uint32_t evid, uint8_t *body, uint32_t len)
{
    struct conn_event *ev = calloc(1, sizeof *ev);

    if (!ev) {
        free(body);
        return -1;
    }
    ev->op = op;
    ev->evid = evid;
    ev->body = body;
    ev->len = len;
    if (c->evq_tail) {
        c->evq_tail->next = ev;
    } else {
        c->evq = ev;
    }
    c->evq_tail = ev;
    c->nevq++;
    return 0;
}

static struct conn_event *
pop_event(struct chorus_conn *c)
{
    struct conn_event *ev = c->evq;

    if (ev) {
        c->evq = ev->next;
        if (!c->evq) {
            c->evq_tail = NULL;
        }
        c->nevq--;
        ev->next = NULL;
    }
    return ev;
}

enum chorus_err
conn_next_event(struct chorus_conn *c, int timeout_ms, struct conn_event **ret)
{
    uint8_t hdr[PROTO_HDR_LEN];
    uint8_t *body = NULL;
    struct deadline dl = {0};
    uint16_t rop, rflags;
    uint32_t rlen, rreqid;
    enum chorus_err err;
    struct pollfd p;
    char tmp[128];

    uint64_t end = timeout_ms >= 0 ? now_ms() + (uint64_t)timeout_ms : 0;

    /* Wait for the first byte without holding the lock (other threads' calls go on meanwhile,
     * and may queue events), and without breaking the connection on timeout; read the frame
     * under the lock, once the socket is readable while we hold it. */
    for (;;) {
        int n, tmo = -1;

        pthread_mutex_lock(&c->mu);
        if ((*ret = pop_event(c))) {
            pthread_mutex_unlock(&c->mu);
            return CHORUS_OK;
        }
        if (c->broken) {
            err = seterr(c, CHORUS_ERR_CLOSED, "connection to chorusd at %s is closed", c->peer);
            goto out;
        }
        p = (struct pollfd){.fd = c->fd, .events = POLLIN};
        n = poll(&p, 1, 0);
        if (n > 0) {
            break;
        }
        if (n < 0 && errno != EINTR) {
            err = fail_broken(c, CHORUS_ERR_IO, "poll: %s", errno_str(errno, tmp, sizeof tmp));
            goto out;
        }
        if (timeout_ms >= 0) {
            uint64_t now = now_ms();

            if (now >= end) {
                err = seterr(c, CHORUS_ERR_TIMEOUT, "no event within %d ms", timeout_ms);
                goto out;
            }
            tmo = end - now > INT_MAX ? INT_MAX : (int)(end - now);
        }
        pthread_mutex_unlock(&c->mu);
        p = (struct pollfd){.fd = c->fd, .events = POLLIN};
        (void)poll(&p, 1, tmo);
    }
    err = recv_all(c, hdr, sizeof hdr, &dl, 0);
    if (err) {
        goto out;
    }
    if (proto_hdr_parse(hdr, c->max_reply, &rlen, &rop, &rflags, &rreqid)) {
        err = fail_broken(c, CHORUS_ERR_TOOBIG, "an event of %" PRIu32 " bytes exceeds the "
                          "client limit", rd_u32(hdr));
        goto out;
    }
    if (!(rflags & PF_EVENT) || (rflags & PF_REPLY)) {
        err = fail_broken(c, CHORUS_ERR_PROTO,
                          "unexpected frame from chorusd while waiting for an event: %s flags "
                          "0x%x",
                          proto_op_name(rop), (unsigned)rflags);
        goto out;
    }
    body = malloc(rlen ? rlen : 1);
    if (!body) {
        err = fail_broken(c, CHORUS_ERR_NOMEM, "out of memory for an event");
        goto out;
    }
    err = recv_all(c, body, rlen, &dl, 1);
    if (err) {
        free(body);
        goto out;
    }
    *ret = calloc(1, sizeof **ret);
    if (!*ret) {
        free(body);
        err = fail_broken(c, CHORUS_ERR_NOMEM, "out of memory for an event");
        goto out;
    }
    (*ret)->op = rop;
    (*ret)->evid = rreqid;
    (*ret)->body = body;
    (*ret)->len = rlen;
    errs_clear(c);
out:
    pthread_mutex_unlock(&c->mu);
    return err;
}

/* ---- one-way requests ---- */

enum chorus_err
conn_send(struct chorus_conn *c, struct buf *req)
{
    struct deadline dl = {0};
    enum chorus_err err;
    uint32_t reqid;

    pthread_mutex_lock(&c->mu);
    if (c->broken) {
        err = seterr(c, CHORUS_ERR_CLOSED, "connection to chorusd at %s is closed", c->peer);
        goto out;
    }
    if (!buf_ok(req) || req->len < PROTO_HDR_LEN || proto_end(req, 0)) {
        err = seterr(c, CHORUS_ERR_NOMEM, "out of memory while building a request");
        goto out;
    }
    reqid = c->next_reqid++;
    if (!c->next_reqid) {
        c->next_reqid = 1;
    }
    wr_u32(req->p + 8, reqid);
    dl.timeout_ms = (uint32_t)atomic_load(&c->timeout_ms);
    dl.at = dl.timeout_ms ? now_ms() + dl.timeout_ms : 0;
    err = send_all(c, req->p, req->len, &dl);
    if (!err) {
        errs_clear(c);
    }
out:
    buf_free(req);
    pthread_mutex_unlock(&c->mu);
    return err;
}

/* ---- request/reply ---- */

enum chorus_err
conn_call(struct chorus_conn *c, struct buf *req, struct conn_reply *rep)
{
    uint8_t hdr[PROTO_HDR_LEN];
    uint8_t *body = NULL;
    struct proto_msg m = {0};
    struct deadline dl = {0};
    uint16_t op, rop, rflags;
    uint32_t reqid, rlen, rreqid;
    enum chorus_err err;
    const char *why;
    int conn_level;

    pthread_mutex_lock(&c->mu);
    if (c->broken) {
        err = seterr(c, CHORUS_ERR_CLOSED, "connection to chorusd at %s is closed", c->peer);
        goto out;
    }
    if (!buf_ok(req) || req->len < PROTO_HDR_LEN) {
        err = seterr(c, CHORUS_ERR_NOMEM, "out of memory while building a request");
        goto out;
    }
    op = rd_u16(req->p + 4);
    if (proto_end(req, 0)) {
        err = seterr(c, CHORUS_ERR_TOOBIG, "%s request of %zu bytes exceeds the frame limit",
                     proto_op_name(op), req->len - PROTO_HDR_LEN);
        goto out;
    }
    reqid = c->next_reqid++;
    if (!c->next_reqid) {
        c->next_reqid = 1;
    }
    wr_u32(req->p + 8, reqid);
    dl.timeout_ms = (uint32_t)atomic_load(&c->timeout_ms);
    dl.at = dl.timeout_ms ? now_ms() + dl.timeout_ms : 0;

    err = send_all(c, req->p, req->len, &dl);
    if (err) {
        goto out;
    }
    for (;;) {
        err = recv_all(c, hdr, sizeof hdr, &dl, 0);
        if (err) {
            goto out;
        }
        if (proto_hdr_parse(hdr, c->max_reply, &rlen, &rop, &rflags, &rreqid)) {
            err = fail_broken(c, CHORUS_ERR_TOOBIG,
                              "%s reply of %" PRIu32
                              " bytes from chorusd exceeds the client limit of %" PRIu32 " bytes",
                              proto_op_name(op), rd_u32(hdr), c->max_reply);
            goto out;
        }
        body = malloc(rlen ? rlen : 1);
        if (!body) {
            err = fail_broken(c, CHORUS_ERR_NOMEM, "out of memory for a reply of %" PRIu32 " bytes",
                              rlen);
            goto out;
        }
        err = recv_all(c, body, rlen, &dl, 1);
        if (err) {
            goto out;
        }
        if (!(rflags & PF_EVENT) || (rflags & PF_REPLY)) {
            break;
        }
        /* an event for this connection's registrations: kept for chorus_dispatch() */
        if (queue_event(c, rop, rreqid, body, rlen)) {
            err = fail_broken(c, CHORUS_ERR_NOMEM, "out of memory for an event");
            goto out;
        }
        body = NULL;
    }

    /* An error frame with request id 0 refuses the connection (e.g. the session limit). */
    conn_level = (rflags & PF_REPLY) && (rflags & PF_ERROR) && !rreqid;
    if (!conn_level && (!(rflags & PF_REPLY) || rreqid != reqid || rop != op)) {
        err = fail_broken(c, CHORUS_ERR_PROTO,
                          "unexpected frame from chorusd: expected the reply to %s request %" PRIu32
                          ", got %s (op %u) flags 0x%x request %" PRIu32,
                          proto_op_name(op), reqid, proto_op_name(rop), (unsigned)rop,
                          (unsigned)rflags, rreqid);
        goto out;
    }
    err = proto_body_parse(body, rlen, PROTO_MAX_FIELDS, &m);
    if (err == CHORUS_ERR_PROTO) {
        err = fail_broken(c, err, "malformed %s reply from chorusd: a field overruns the body",
                          proto_op_name(op));
        goto out;
    } else if (err == CHORUS_ERR_TOOBIG) {
        err = seterr(c, err, "%s reply from chorusd has more than %d fields", proto_op_name(op),
                     PROTO_MAX_FIELDS);
        goto out;
    } else if (err) {
        err = seterr(c, err, "out of memory decoding a %s reply", proto_op_name(op));
        goto out;
    }
    m.op = rop;
    m.flags = rflags;
    m.reqid = rreqid;
    if (rflags & PF_ERROR) {
        if (errs_from_reply(c, &m, &err, &why)) {
            err = fail_broken(c, CHORUS_ERR_PROTO, "malformed %s error reply from chorusd: %s",
                              proto_op_name(op), why);
        } else if (conn_level) {
            mark_broken(c);
        }
        goto out;
    }
    errs_clear(c);
    if (rep) {
        rep->body = body;
        rep->m = m;
        body = NULL;
        memset(&m, 0, sizeof m);
    }
    err = CHORUS_OK;

out:
    proto_msg_done(&m);
    free(body);
    buf_free(req);
    pthread_mutex_unlock(&c->mu);
    return err;
}

void
conn_reply_done(struct conn_reply *rep)
{
    if (rep) {
        proto_msg_done(&rep->m);
        free(rep->body);
        rep->body = NULL;
    }
}

void
conn_set_max_reply(struct chorus_conn *c, uint32_t max_body)
{
    pthread_mutex_lock(&c->mu);
    c->max_reply = max_body;
    pthread_mutex_unlock(&c->mu);
}

/* ---- connect ---- */

static enum chorus_err
parse_port(const char *s, char port[PORT_MAX], const char *what)
{
    uint32_t p;

    if (parse_u32(s, 65535, &p) || !p) {
        return connect_fail(CHORUS_ERR_INVAL, "invalid %s \"%s\"", what, s);
    }
    snprintf(port, PORT_MAX, "%" PRIu32, p);
    return CHORUS_OK;
}

static enum chorus_err
default_port(char port[PORT_MAX])
{
    const char *env = getenv("CHORUS_IPC_PORT");

    if (env && *env) {
        return parse_port(env, port, "CHORUS_IPC_PORT");
    }
    snprintf(port, PORT_MAX, "%d", CHORUS_DEFAULT_IPC_PORT);
    return CHORUS_OK;
}

static enum chorus_err
set_host(struct target *t, const char *host, size_t len)
{
    if (len >= sizeof t->host) {
        return connect_fail(CHORUS_ERR_INVAL, "host name too long");
    }
    memcpy(t->host, host, len);
    t->host[len] = 0;
    return CHORUS_OK;
}

/*
 * Targets: NULL or "" (127.0.0.1, default port), "unix:/path", "PORT", "HOST", "HOST:PORT",
 * "[IPV6]", "[IPV6]:PORT", or an IPv6 literal without brackets (default port). The default
 * port is $CHORUS_IPC_PORT, else CHORUS_DEFAULT_IPC_PORT.
 */
static enum chorus_err
parse_target(const char *s, struct target *t)
{
    const char *colon, *end;
    enum chorus_err err;

    memset(t, 0, sizeof *t);
    if (s && !strncmp(s, "unix:", 5)) {
        s += 5;
        if (!*s || strlen(s) >= sizeof t->path) {
            return connect_fail(CHORUS_ERR_INVAL, "invalid UNIX socket path \"%s\"", s);
        }
        t->is_unix = 1;
        strcpy(t->path, s);
        return CHORUS_OK;
    }
    strcpy(t->host, DEFAULT_HOST);
    if (!s || !*s) {
        return default_port(t->port);
    }
    if (strspn(s, "0123456789") == strlen(s)) {
        return parse_port(s, t->port, "port");
    }
    if (*s == '[') {
        end = strchr(s, ']');
        if (!end || end == s + 1 || (end[1] && end[1] != ':')) {
            return connect_fail(CHORUS_ERR_INVAL, "invalid address \"%s\"", s);
        }
        err = set_host(t, s + 1, (size_t)(end - s - 1));
        if (err) {
            return err;
        }
        return end[1] ? parse_port(end + 2, t->port, "port") : default_port(t->port);
    }
    colon = strchr(s, ':');
    if (colon && !strchr(colon + 1, ':')) {
        if (colon > s) {
            err = set_host(t, s, (size_t)(colon - s));
            if (err) {
                return err;
            }
        }
        return parse_port(colon + 1, t->port, "port");
    }
    /* No colon: a host name; several: an IPv6 literal. */
    err = set_host(t, s, strlen(s));
    return err ? err : default_port(t->port);
}

/*
 * Connect a new close-on-exec socket and leave it non-blocking. Returns the descriptor or
 * -errno. EINTR: a UNIX connect is retried; a TCP connect continues in the background and is
 * waited for, like EINPROGRESS.
 */
static int
sock_connect(int family, const struct sockaddr *sa, socklen_t salen)
{
    int fd, soerr = 0, one = 1, flags;
    socklen_t len = sizeof soerr;

    if (family == AF_UNIX) {
        fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return -errno;
        }
        while (connect(fd, sa, salen) < 0) {
            if (errno == EISCONN) {
                break;
            }
            if (errno != EINTR) {
                goto fail;
            }
        }
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
            goto fail;
        }
        return fd;
    }

    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, sa, salen) < 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};

        if (errno != EINPROGRESS && errno != EINTR) {
            goto fail;
        }
        while (poll(&p, 1, -1) < 0) {
            if (errno != EINTR) {
                goto fail;
            }
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
            goto fail;
        }
        if (soerr) {
            close(fd);
            return -soerr;
        }
    }
    /* Requests are written whole; do not let Nagle delay a small one. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        goto fail;
    }
    return fd;

fail:
    soerr = errno;
    close(fd);
    return -soerr;
}

static enum chorus_err
open_socket(struct chorus_conn *c, const struct target *t)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    struct sockaddr_un sun = {0};
    char tmp[128];
    int fd = -ENOENT, rc;

    if (t->is_unix) {
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, t->path, strlen(t->path) + 1);
        fd = sock_connect(AF_UNIX, (const struct sockaddr *)&sun, sizeof sun);
        goto out;
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc) {
        return connect_fail(CHORUS_ERR_IO, "cannot connect to %s: %s", c->peer,
                            rc == EAI_SYSTEM ? errno_str(errno, tmp, sizeof tmp)
                                             : gai_strerror(rc));
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = sock_connect(ai->ai_family, ai->ai_addr, ai->ai_addrlen);
        if (fd >= 0) {
            break;
        }
    }
    freeaddrinfo(res);
out:
    if (fd < 0) {
        return connect_fail(CHORUS_ERR_IO, "cannot connect to %s: %s", c->peer,
                            errno_str(-fd, tmp, sizeof tmp));
    }
    c->fd = fd;
    return CHORUS_OK;
}

static struct chorus_conn *
conn_new(const struct target *t)
{
    struct chorus_conn *c = calloc(1, sizeof *c);
    struct buf peer = BUF_INIT;

    if (!c) {
        return NULL;
    }
    if (pthread_mutex_init(&c->mu, NULL)) {
        free(c);
        return NULL;
    }
    c->fd = -1;
    c->next_reqid = 1;
    atomic_init(&c->timeout_ms, 0);
    c->max_reply = PROTO_MAX_FRAME - 1;
    if (t->is_unix) {
        buf_printf(&peer, "unix:%s", t->path);
    } else if (strchr(t->host, ':')) {
        buf_printf(&peer, "[%s]:%s", t->host, t->port);
    } else {
        buf_printf(&peer, "%s:%s", t->host, t->port);
    }
    c->peer = buf_steal_str(&peer);
    if (!c->peer) {
        chorus_disconnect(c);
        return NULL;
    }
    return c;
}

/* Answer the hello's shared-secret challenge with the secret of CHORUS_IPC_SECRET_FILE. */
static enum chorus_err
authenticate(struct chorus_conn *c, const char *challenge)
{
    const char *path = getenv("CHORUS_IPC_SECRET_FILE");
    struct buf secret = BUF_INIT, b = BUF_INIT;
    struct conn_reply r = {0};
    char answer[65];
    enum chorus_err err;
    int rc;

    if (!path || !*path) {
        return conn_set_error(c, CHORUS_ERR_ACCESS,
                              "chorusd requires the shared secret (ipc/secret-file): set "
                              "CHORUS_IPC_SECRET_FILE to a file holding it");
    }
    rc = auth_read_secret(path, &secret);
    if (rc) {
        return conn_set_error(c, rc == -ENODATA ? CHORUS_ERR_INVAL : CHORUS_ERR_IO,
                              "CHORUS_IPC_SECRET_FILE %s: %s", path,
                              rc == -ENODATA ? "the shared secret is empty" : strerror(-rc));
    }
    if (strlen(challenge) != 64 || !auth_answer(secret.p, secret.len, challenge, answer)) {
        auth_secret_free(&secret);
        return conn_set_error(c, CHORUS_ERR_PROTO, "cannot answer the challenge \"%s\"", challenge);
    }
    auth_secret_free(&secret);
    proto_begin(&b, OP_AUTH, 0, 0);
    proto_put_str(&b, T_AUTH, answer);
    err = conn_call(c, &b, &r);
    conn_reply_done(&r);
    return err;
}

static enum chorus_err
hello(struct chorus_conn *c, const char *client_name)
{
    struct buf b = BUF_INIT;
    struct conn_reply r = {0};
    enum chorus_err err;
    const char *name;
    uint32_t ver;

    proto_begin(&b, OP_HELLO, 0, 0);
    proto_put_u32(&b, T_PROTO_VERSION, CHORUS_PROTO_VERSION);
    proto_put_str(&b, T_NAME, client_name ? client_name : "libchorus");
    err = conn_call(c, &b, &r);
    if (err) {
        return err;
    }
    if (proto_get_u32(&r.m, T_PROTO_VERSION, &ver)) {
        err = conn_bad_reply(c, &r, "missing or invalid T_PROTO_VERSION");
        goto out;
    }
    if (ver != CHORUS_PROTO_VERSION) {
        err = conn_set_error(c, CHORUS_ERR_PROTO,
                             "chorusd speaks protocol version %" PRIu32 ", libchorus version %d",
                             ver, CHORUS_PROTO_VERSION);
        goto out;
    }
    if (proto_get_str(&r.m, T_NAME, &name)) {
        err = conn_bad_reply(c, &r, "missing or invalid T_NAME");
        goto out;
    }
    c->server_name = strdup(name);
    if (!c->server_name) {
        err = conn_set_error(c, CHORUS_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!proto_get_str(&r.m, T_CHALLENGE, &name)) {
        err = authenticate(c, name);
    }
out:
    conn_reply_done(&r);
    return err;
}

enum chorus_err
chorus_connect(const char *target, const char *client_name, struct chorus_conn **ret_conn)
{
    return chorus_connect_timeout(target, client_name, 0, ret_conn);
}

enum chorus_err
chorus_connect_timeout(const char *target, const char *client_name, uint32_t timeout_ms,
                       struct chorus_conn **ret_conn)
{
    struct chorus_conn *c = NULL;
    struct target t;
    enum chorus_err err;

    connect_err.code = CHORUS_OK;
    if (!ret_conn) {
        return connect_fail(CHORUS_ERR_INVAL, "chorus_connect: ret_conn is NULL");
    }
    err = parse_target(target, &t);
    if (err) {
        return err;
    }
    c = conn_new(&t);
    if (!c) {
        return connect_fail(CHORUS_ERR_NOMEM, "out of memory");
    }
    err = open_socket(c, &t);
    if (err) {
        goto out;
    }
    atomic_store(&c->timeout_ms, timeout_ms);
    err = hello(c, client_name);
    atomic_store(&c->timeout_ms, 0);
    if (err) {
        connect_fail(err, "cannot connect to %s: %s", c->peer, chorus_last_error(c)->message);
        goto out;
    }
    *ret_conn = c;
    c = NULL;
out:
    chorus_disconnect(c);
    return err;
}

void
chorus_disconnect(struct chorus_conn *conn)
{
    if (!conn) {
        return;
    }
    if (conn->fd >= 0) {
        close(conn->fd);
    }
    errs_clear(conn);
    while (conn->evq) {
        struct conn_event *ev = pop_event(conn);

        free(ev->body);
        free(ev);
    }
    conn_events_free(conn);
    free(conn->peer);
    free(conn->server_name);
    pthread_mutex_destroy(&conn->mu);
    free(conn);
}

/* ---- accessors ---- */

const struct chorus_error *
chorus_last_error(const struct chorus_conn *conn)
{
    if (!conn) {
        return connect_error();
    }
    return conn->nerrs ? &conn->errs[0].pub : &ok_error;
}

size_t
chorus_error_count(const struct chorus_conn *conn)
{
    if (!conn) {
        return connect_err.code != CHORUS_OK;
    }
    return conn->nerrs;
}

const struct chorus_error *
chorus_error_at(const struct chorus_conn *conn, size_t idx)
{
    if (!conn) {
        return !idx && connect_err.code != CHORUS_OK ? connect_error() : NULL;
    }
    return idx < conn->nerrs ? &conn->errs[idx].pub : NULL;
}

int
chorus_fd(const struct chorus_conn *conn)
{
    return conn ? conn->fd : -1;
}

void
chorus_set_timeout(struct chorus_conn *conn, uint32_t timeout_ms)
{
    if (conn) {
        atomic_store(&conn->timeout_ms, timeout_ms);
    }
}

const char *
chorus_server_version(const struct chorus_conn *conn)
{
    return conn ? conn->server_name : NULL;
}
