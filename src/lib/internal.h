/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of libchorus shared by conn.c (transport, hello, error information) and mgmt.c
 * (one request/reply per API call). Not installed; the public API is include/chorus/.
 *
 * Invariants of a connection:
 * - Calls are serialized by `mu`: a request is written and its reply read under the lock, so
 *   replies always match requests and the socket is never read past the end of a frame.
 * - Once `broken` is set (transport failure, timeout, malformed or oversized reply) the byte
 *   stream can no longer be trusted; the socket is shut down and every later call fails with
 *   CHORUS_ERR_CLOSED without touching it.
 * - `errs` holds the error items of the last call; empty (nerrs 0) after a successful one.
 */
#ifndef CHORUS_LIB_INTERNAL_H
#define CHORUS_LIB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "chorus/chorus.h"
#include "common/buf.h"
#include "proto/proto.h"

/* One error item; `pub` points into the owned strings or at static text. */
struct conn_err {
    struct chorus_error pub;
    char *msg;
    char *path;
    char *app_tag;
};

/* An event frame read while waiting for a reply, kept for chorus_dispatch(). */
struct conn_event {
    uint16_t op;
    uint32_t evid;
    uint8_t *body;
    uint32_t len;
    struct conn_event *next;
};

struct sub_reg; /* sub.c */

struct chorus_conn {
    pthread_mutex_t mu;               /* serializes calls */
    int fd;                           /* non-blocking stream socket */
    int broken;                       /* see the invariants above */
    uint32_t next_reqid;              /* request id of the next request, never 0 */
    atomic_uint_least32_t timeout_ms; /* per-call deadline, 0 for none */
    uint32_t max_reply;               /* client-side limit on reply bodies */
    char *peer;                       /* "127.0.0.1:4565", "[::1]:4565", "unix:/path" */
    char *server_name;                /* daemon's T_NAME from the hello reply */
    struct conn_err *errs;            /* error items of the last call, or &oom_err */
    size_t nerrs;
    struct conn_err oom_err; /* fallback item when errs cannot be allocated */
    /* events (sub.c) */
    struct conn_event *evq, *evq_tail; /* read, not dispatched yet */
    size_t nevq;
    struct ly_ctx *ly;       /* the daemon's modules (chorus_load_schemas()) */
    struct sub_reg *regs;    /* registrations and their callbacks */
    size_t nregs;
    struct buf ev_answer;    /* the answer being built in a callback (error items, data) */
    int ev_answered_err;     /* chorus_event_error() was called */
};

/* A decoded reply: the body buffer and the field index into it. */
struct conn_reply {
    uint8_t *body;
    struct proto_msg m;
};

/*
 * Send the request frame held in @p req (started with proto_begin(req, op, 0, 0) at offset 0;
 * the request id and body length are filled in here) and wait for its reply.
 *
 * @p req is freed in all cases. On CHORUS_OK the connection's error is reset to success and,
 * if @p rep is not NULL, the reply is stored in it (release with conn_reply_done()); on
 * failure @p rep is untouched and the connection's error information describes the failure
 * (the daemon's error items, or a local reason).
 */
enum chorus_err conn_call(struct chorus_conn *c, struct buf *req, struct conn_reply *rep);

/* Send a request that has no reply (event-reply). @p req is freed in all cases. */
enum chorus_err conn_send(struct chorus_conn *c, struct buf *req);

/* Release a reply filled by conn_call(). NULL-safe, idempotent. */
void conn_reply_done(struct conn_reply *rep);

/*
 * A successful reply lacks a required field or holds one of the wrong type: record
 * CHORUS_ERR_PROTO ("malformed <op> reply from chorusd: <what>") and mark the connection
 * broken. Returns CHORUS_ERR_PROTO.
 */
enum chorus_err conn_bad_reply(struct chorus_conn *c, const struct conn_reply *rep,
                               const char *what);

/* Record a local failure as the connection's only error item. Returns @p code. */
enum chorus_err conn_set_error(struct chorus_conn *c, enum chorus_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Read the next event: from the queue, or from the socket waiting up to @p timeout_ms (-1:
 * forever). On CHORUS_OK *ret is owned by the caller (free body and struct). CHORUS_ERR_TIMEOUT
 * when none came (the connection stays usable).
 */
enum chorus_err conn_next_event(struct chorus_conn *c, int timeout_ms, struct conn_event **ret);

/* Free the connection's event state (sub.c); called by chorus_disconnect(). */
void conn_events_free(struct chorus_conn *c);

/* For tests: set the client-side limit on reply bodies (default PROTO_MAX_FRAME - 1). */
void conn_set_max_reply(struct chorus_conn *c, uint32_t max_body);

#endif /* CHORUS_LIB_INTERNAL_H */
