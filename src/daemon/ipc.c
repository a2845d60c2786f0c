/* SPDX-License-Identifier: Apache-2.0 */
/* The IPC server; see ipc.h and docs/protocol.md. */
#include "ipc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libyang/version.h>
#include <openssl/crypto.h>

#include "common/util.h"
#include "proto/auth.h"
#include "proto/proto.h"
#include "rb.h"
#include "schema.h"
#include "sess.h"
#include "sub.h"
#include "txn.h"

#define READ_CHUNK (256 * 1024)

struct iconn {
    struct ipc *ipc;
    int fd;
    char peer[80];
    struct buf in, out;
    bool hello;
    bool must_auth;     /* a TCP connection to a daemon with a shared secret */
    char challenge[65]; /* sent in the hello reply; answered by OP_AUTH */
    struct sess *sess;
    bool busy; /* a request waits for an asynchronous completion */
    uint16_t pend_op;
    uint32_t pend_reqid;
    struct phase_waiter *pw;
    bool phase_sync;          /* inside core_start_phase_async() (op_start_phase) */
    enum chorus_err phase_rc; /* its outcome when it answered at once */
    struct cerr *phase_e;
    struct oreq *oreq; /* an operational read or RPC waiting for applications */
    char name[136];    /* "client (peer)" for messages */
    bool processing; /* inside process() */
    bool closing;    /* close once the output is written */
    bool dead;       /* closed; freed at the end of the event */
    struct iconn *next;
};

struct ipc {
    struct core *c;
    int tcp_fd, unix_fd;
    struct iconn *conns;
    unsigned nconns;
    struct buf secret; /* ipc/secret-file's contents; empty: no check */
};

enum { DONE = 0, PENDING = 1 };

/* ---- output ---- */

static void conn_close(struct iconn *k);

static void
flush(struct iconn *k)
{
    while (k->out.len) {
        ssize_t n = write(k->fd, k->out.p, k->out.len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            conn_close(k);
            return;
        }
        buf_consume(&k->out, (size_t)n);
    }
    if (!k->out.len && k->out.cap > (4u << 20)) {
        buf_free(&k->out); /* give a large reply's memory back */
    }
    /* a waiting request stops reading, but a client that goes away is still noticed */
    if (k->out.len) {
        ev_mod(k->ipc->c->ev, k->fd, EV_WRITE | EV_HUP | (k->busy || k->closing ? 0 : EV_READ));
    } else if (k->closing) {
        conn_close(k);
    } else {
        ev_mod(k->ipc->c->ev, k->fd, EV_HUP | (k->busy ? 0 : EV_READ));
    }
}

static void
send_error(struct iconn *k, uint16_t op, uint32_t reqid, enum chorus_err code, const struct cerr *e)
{
    size_t off = proto_begin(&k->out, op, PF_REPLY | PF_ERROR, reqid);

    if (!e) {
        proto_put_error(&k->out, code, chorus_strerror(code), NULL, NULL);
    }
    for (; e; e = e->next) {
        proto_put_error(&k->out, e->code, e->msg, e->path, e->apptag);
    }
    proto_end(&k->out, off);
}

static void
send_error_msg(struct iconn *k, uint16_t op, uint32_t reqid, enum chorus_err code, const char *msg)
{
    size_t off = proto_begin(&k->out, op, PF_REPLY | PF_ERROR, reqid);

    proto_put_error(&k->out, code, msg, NULL, NULL);
    proto_end(&k->out, off);
}

/* ---- request context ---- */

struct req {
    struct iconn *k;
    struct core *c;
    const struct proto_msg *m;
    struct buf *out; /* the reply's body goes here (after the header written by dispatch) */
    struct cerr *err;
};

#define FAIL(r, code, ...) (cerr_add(&(r)->err, (code), NULL, NULL, __VA_ARGS__), -1)

static int
need_u32(struct req *r, uint16_t tag, const char *name, uint32_t *v)
{
    enum chorus_err rc = proto_get_u32(r->m, tag, v);

    if (rc) {
        return FAIL(r, rc == CHORUS_ERR_NOTFOUND ? CHORUS_ERR_INVAL : CHORUS_ERR_PROTO, "%s %s",
                    name, rc == CHORUS_ERR_NOTFOUND ? "is missing" : "is malformed");
    }
    return 0;
}

static int
need_str(struct req *r, uint16_t tag, const char *name, const char **v)
{
    enum chorus_err rc = proto_get_str(r->m, tag, v);

    if (rc) {
        return FAIL(r, rc == CHORUS_ERR_NOTFOUND ? CHORUS_ERR_INVAL : CHORUS_ERR_PROTO, "%s %s",
                    name, rc == CHORUS_ERR_NOTFOUND ? "is missing" : "is malformed");
    }
    return 0;
}

/* An optional string: NULL if absent; -1 if malformed. */
static int
opt_str(struct req *r, uint16_t tag, const char **v)
{
    enum chorus_err rc = proto_get_str(r->m, tag, v);

    if (rc == CHORUS_ERR_NOTFOUND) {
        *v = NULL;
        return 0;
    }
    return rc ? FAIL(r, CHORUS_ERR_PROTO, "a malformed field (tag %u)", tag) : 0;
}

static int
get_txn(struct req *r, struct txn **ret)
{
    uint32_t th;

    if (need_u32(r, T_TH, "the transaction handle", &th)) {
        return -1;
    }
    if (th & SUB_TH_EVENT) {
        /* a hook or validator using the transaction its event is for */
        *ret = sub_event_txn(r->c, r->k, th);
        if (!*ret) {
            return FAIL(r, CHORUS_ERR_NOTFOUND,
                        "no event transaction %u on this connection (the event was answered or "
                        "has expired)",
                        th);
        }
        return 0;
    }
    *ret = r->k->sess ? txn_find(r->c, r->k->sess, th) : NULL;
    if (!*ret) {
        return FAIL(r, CHORUS_ERR_NOTFOUND, "no transaction %u in this session", th);
    }
    return 0;
}

/* Only the session that owns a transaction finishes, commits or aborts it. */
static int
own_txn(struct req *r, const struct txn *t)
{
    if (t->sess != r->k->sess && !t->is_init) {
        return FAIL(r, CHORUS_ERR_STATE,
                    "transaction %u belongs to the session that commits it: an event's "
                    "callback reads (and a hook writes) it, nothing more",
                    t->th);
    }
    return 0;
}

static int
cerr_fail(struct req *r, struct cerr *e)
{
    cerr_move(&r->err, &e);
    return -1;
}

/* ---- operations ---- */

static bool oper_async(struct req *r, struct txn *t, const char *path, uint32_t fmt,
                       uint32_t flags);

static int
op_hello(struct req *r)
{
    uint32_t v;
    const struct schema *s = r->c->schema;

    if (need_u32(r, T_PROTO_VERSION, "the protocol version", &v)) {
        return -1;
    }
    if (v != CHORUS_PROTO_VERSION) {
        r->k->closing = true;
        return FAIL(r, CHORUS_ERR_PROTO, "protocol version %u is not supported (this is %u)", v,
                    CHORUS_PROTO_VERSION);
    }
    r->k->hello = true;
    {
        const char *name = NULL;

        (void)proto_get_str(r->m, T_NAME, &name);
        snprintf(r->k->name, sizeof r->k->name, "%.40s (%s)", name && *name ? name : "client",
                 r->k->peer);
    }
    if (r->k->must_auth) {
        uint8_t n[32];

        if (getrandom(n, sizeof n, 0) != (ssize_t)sizeof n) {
            r->k->closing = true;
            return FAIL(r, CHORUS_ERR_INTERNAL, "no random bytes for the challenge: %s",
                        strerror(errno));
        }
        hex_encode(n, sizeof n, r->k->challenge);
        proto_put_str(r->out, T_CHALLENGE, r->k->challenge);
    }
    proto_put_u32(r->out, T_PROTO_VERSION, CHORUS_PROTO_VERSION);
    proto_put_str(r->out, T_NAME, "chorusd " CHORUS_VERSION);
    proto_put_str(r->out, T_LY_VERSION, LY_VERSION);
    proto_put_data(r->out, T_MODSET, s->digest_hex, strlen(s->digest_hex));
    return 0;
}

/* The answer to the hello's challenge: HMAC-SHA256(secret, challenge), in hex. A wrong one
 * closes the connection. */
static int
op_auth(struct req *r)
{
    const char *answer;
    char want[65];
    const struct buf *s = &r->k->ipc->secret;

    if (!r->k->must_auth) {
        return FAIL(r, CHORUS_ERR_STATE, "this connection needs no authentication");
    }
    if (need_str(r, T_AUTH, "the answer to the challenge", &answer)) {
        return -1;
    }
    if (!auth_answer(s->p, s->len, r->k->challenge, want) || strlen(answer) != 64 ||
        CRYPTO_memcmp(answer, want, 64)) {
        r->k->closing = true;
        LOGW("IPC connection from %s refused: wrong answer to the shared-secret challenge",
             r->k->peer);
        return FAIL(r, CHORUS_ERR_ACCESS,
                    "access denied: wrong answer to the shared-secret "
                    "challenge (ipc/secret-file)");
    }
    r->k->must_auth = false;
    return 0;
}

static int
op_session_start(struct req *r)
{
    const char *user, *ctx, *addr, *groups[64];
    size_t ng = 0;
    struct cerr *e = NULL;
    struct sess *s;

    if (r->k->sess) {
        return FAIL(r, CHORUS_ERR_EXISTS, "this connection already has session %u", r->k->sess->id);
    }
    if (need_str(r, T_USER, "the user", &user) || need_str(r, T_CONTEXT, "the context", &ctx) ||
        opt_str(r, T_SRCADDR, &addr)) {
        return -1;
    }
    for (size_t i = 0; i < r->m->nf; i++) {
        if (r->m->f[i].tag != T_GROUP) {
            continue;
        }
        if (ng == 64) {
            return FAIL(r, CHORUS_ERR_TOOBIG, "at most 64 groups");
        }
        if (proto_field_str(&r->m->f[i], &groups[ng++])) {
            return FAIL(r, CHORUS_ERR_PROTO, "a malformed group");
        }
    }
    if (sess_new(r->c, user, ctx, groups, ng, addr ? addr : r->k->peer, &s, &e)) {
        return cerr_fail(r, e);
    }
    r->k->sess = s;
    LOG(LL_DEBUG, (&(struct log_tag){s->id, s->user, s->context, 0}), "session started from %s",
        r->k->peer);
    proto_put_u32(r->out, T_USID, s->id);
    return 0;
}

static int
op_session_end(struct req *r)
{
    sess_end(r->c, r->k->sess);
    r->k->sess = NULL;
    return 0;
}

static int
op_trans_start(struct req *r)
{
    uint32_t db, rw;
    struct txn *t;
    struct cerr *e = NULL;

    if (need_u32(r, T_DB, "the datastore", &db) || need_u32(r, T_RW, "the mode", &rw)) {
        return -1;
    }
    if (rw > 1) {
        return FAIL(r, CHORUS_ERR_INVAL, "the mode is 0 (read-only) or 1 (read-write)");
    }
    if (txn_new(r->c, r->k->sess, (enum chorus_db)db, rw, &t, &e)) {
        return cerr_fail(r, e);
    }
    proto_put_u32(r->out, T_TH, t->th);
    return 0;
}

static int
op_attach_init(struct req *r)
{
    if (r->c->phase != 0 || !r->c->init) {
        return FAIL(r, CHORUS_ERR_STATE, "the init transaction exists in start phase 0 only");
    }
    proto_put_u32(r->out, T_TH, r->c->init->th);
    return 0;
}

static int
op_trans_finish(struct req *r)
{
    struct txn *t;

    if (get_txn(r, &t) || own_txn(r, t)) {
        return -1;
    }
    if (!t->is_init) {
        txn_free(r->c, t);
    }
    /* finishing the init transaction only detaches from it */
    return 0;
}

static int
op_get_value(struct req *r)
{
    struct txn *t;
    const char *path;
    char *v = NULL;
    struct cerr *e = NULL;

    if (get_txn(r, &t) || need_str(r, T_PATH, "the path", &path)) {
        return -1;
    }
    if (oper_async(r, t, path, 0, 0)) {
        return PENDING;
    }
    if (txn_get_value(r->c, t, path, &v, &e)) {
        return cerr_fail(r, e);
    }
    proto_put_str(r->out, T_VALUE, v);
    free(v);
    return 0;
}

static int
op_exists(struct req *r)
{
    struct txn *t;
    const char *path;
    bool x;
    struct cerr *e = NULL;

    if (get_txn(r, &t) || need_str(r, T_PATH, "the path", &path)) {
        return -1;
    }
    if (oper_async(r, t, path, 0, 0)) {
        return PENDING;
    }
    if (txn_exists(r->c, t, path, &x, &e)) {
        return cerr_fail(r, e);
    }
    proto_put_u32(r->out, T_BOOL, x);
    return 0;
}

static int
op_num_instances(struct req *r)
{
    struct txn *t;
    const char *path;
    uint64_t n;
    struct cerr *e = NULL;

    if (get_txn(r, &t) || need_str(r, T_PATH, "the path", &path)) {
        return -1;
    }
    if (oper_async(r, t, path, 0, 0)) {
        return PENDING;
    }
    if (txn_count(r->c, t, path, &n, &e)) {
        return cerr_fail(r, e);
    }
    proto_put_u64(r->out, T_COUNT, n);
    return 0;
}

static int
op_write(struct req *r, uint16_t op)
{
    struct txn *t;
    const char *path, *value = NULL;
    struct cerr *e = NULL;
    enum chorus_err rc;

    if (get_txn(r, &t) || need_str(r, T_PATH, "the path", &path) ||
        (op == OP_SET && opt_str(r, T_VALUE, &value))) {
        return -1;
    }
    rc = op == OP_SET      ? txn_set(r->c, t, path, value, &e)
         : op == OP_CREATE ? txn_create(r->c, t, path, &e)
                           : txn_delete(r->c, t, path, &e);
    return rc ? cerr_fail(r, e) : 0;
}

static int
op_set(struct req *r)
{
    return op_write(r, OP_SET);
}

static int
op_create(struct req *r)
{
    return op_write(r, OP_CREATE);
}

static int
op_delete(struct req *r)
{
    return op_write(r, OP_DELETE);
}

static int
op_edit(struct req *r)
{
    struct txn *t;
    uint32_t op, fmt;
    const char *data;
    size_t len;
    struct cerr *e = NULL;

    if (get_txn(r, &t) || need_u32(r, T_EDIT_OP, "the edit operation", &op) ||
        need_u32(r, T_FORMAT, "the format", &fmt)) {
        return -1;
    }
    if (proto_get_data(r->m, T_DATA, &data, &len)) {
        return FAIL(r, CHORUS_ERR_INVAL, "the data is missing or malformed");
    }
    if (txn_edit(r->c, t, (enum chorus_edit_op)op, (enum chorus_format)fmt, data, len, &e)) {
        return cerr_fail(r, e);
    }
    return 0;
}

static void async_done(void *arg, enum chorus_err rc, struct cerr *e, uint64_t txid);

static int
op_validate(struct req *r)
{
    struct txn *t;

    if (get_txn(r, &t) || own_txn(r, t)) {
        return -1;
    }
    r->k->busy = true;
    r->k->pend_op = OP_VALIDATE;
    r->k->pend_reqid = r->m->reqid;
    txn_check(r->c, t, async_done, r->k);
    return PENDING;
}

/* Asynchronous completion of prepare/commit/apply/candidate-commit/rollback-apply. */
static void process(struct iconn *k);

static void
async_done(void *arg, enum chorus_err rc, struct cerr *e, uint64_t txid)
{
    struct iconn *k = arg;

    if (k->dead) {
        return;
    }
    if (rc) {
        send_error(k, k->pend_op, k->pend_reqid, rc, e);
    } else {
        size_t off = proto_begin(&k->out, k->pend_op, PF_REPLY, k->pend_reqid);

        if (k->pend_op != OP_PREPARE && k->pend_op != OP_VALIDATE) {
            proto_put_u64(&k->out, T_TXID, txid);
        }
        proto_end(&k->out, off);
    }
    k->busy = false;
    flush(k);
    if (!k->processing && !k->dead) {
        process(k);
    }
}

static int
op_commitish(struct req *r)
{
    struct txn *t;
    uint16_t op = r->m->op;

    if (get_txn(r, &t) || own_txn(r, t)) {
        return -1;
    }
    if (t->is_init) {
        return FAIL(r, CHORUS_ERR_STATE,
                    "the init transaction is committed by entering start phase 1");
    }
    r->k->busy = true;
    r->k->pend_op = op;
    r->k->pend_reqid = r->m->reqid;
    if (op == OP_PREPARE) {
        txn_prepare(r->c, t, async_done, r->k);
    } else if (op == OP_COMMIT) {
        txn_commit(r->c, t, async_done, r->k);
    } else {
        txn_apply(r->c, t, async_done, r->k);
    }
    return PENDING;
}

static int
op_abort(struct req *r)
{
    struct txn *t;

    if (get_txn(r, &t) || own_txn(r, t)) {
        return -1;
    }
    if (t->is_init) {
        return FAIL(r, CHORUS_ERR_STATE, "the init transaction cannot be aborted");
    }
    txn_abort(r->c, t);
    return 0;
}

static int
op_lock(struct req *r)
{
    uint32_t db;
    struct cerr *e = NULL;
    enum chorus_err rc;

    if (need_u32(r, T_DB, "the datastore", &db)) {
        return -1;
    }
    rc = r->m->op == OP_LOCK ? sess_lock(r->c, r->k->sess, (enum chorus_db)db, &e)
                             : sess_unlock(r->c, r->k->sess, (enum chorus_db)db, &e);
    return rc ? cerr_fail(r, e) : 0;
}

/* candidate-commit [T_PERSIST_ID]: confirms a pending confirmed commit when allowed */
static int
op_cand_commit(struct req *r)
{
    const char *pid;

    if (opt_str(r, T_PERSIST_ID, &pid)) {
        return -1;
    }
    r->k->busy = true;
    r->k->pend_op = OP_CAND_COMMIT;
    r->k->pend_reqid = r->m->reqid;
    txn_confirming_commit(r->c, r->k->sess, pid, async_done, r->k);
    return PENDING;
}

/* confirmed-commit T_TIMEOUT [T_PERSIST] [T_PERSIST_ID] */
static int
op_confirmed_commit(struct req *r)
{
    const char *persist, *pid;
    uint32_t tmo;

    if (need_u32(r, T_TIMEOUT, "the confirm timeout", &tmo) || opt_str(r, T_PERSIST, &persist) ||
        opt_str(r, T_PERSIST_ID, &pid)) {
        return -1;
    }
    r->k->busy = true;
    r->k->pend_op = OP_CONFIRMED_COMMIT;
    r->k->pend_reqid = r->m->reqid;
    txn_confirmed_commit(r->c, r->k->sess, tmo, persist, pid, async_done, r->k);
    return PENDING;
}

/* cancel-commit [T_PERSIST_ID] */
static int
op_cancel_commit(struct req *r)
{
    const char *pid;

    if (opt_str(r, T_PERSIST_ID, &pid)) {
        return -1;
    }
    r->k->busy = true;
    r->k->pend_op = OP_CANCEL_COMMIT;
    r->k->pend_reqid = r->m->reqid;
    txn_cancel_commit(r->c, r->k->sess, pid, async_done, r->k);
    return PENDING;
}

static int
op_cand_discard(struct req *r)
{
    struct cerr *e = NULL;

    return txn_candidate_discard(r->c, r->k->sess, &e) ? cerr_fail(r, e) : 0;
}

static int
op_phase_get(struct req *r)
{
    proto_put_u32(r->out, T_PHASE, (uint32_t)r->c->phase);
    return 0;
}

static void
phase_entered(void *arg, enum chorus_err rc, struct cerr *e)
{
    struct iconn *k = arg;

    if (k->phase_sync) {
        /* at once, inside op_start_phase: its return value answers */
        k->phase_sync = false;
        k->phase_rc = rc;
        cerr_copy(&k->phase_e, e);
        return;
    }
    async_done(k, rc, e, k->ipc->c->txid);
}

static int
op_start_phase(struct req *r)
{
    uint32_t p;

    if (need_u32(r, T_PHASE, "the phase", &p)) {
        return -1;
    }
    if (p > 2) {
        return FAIL(r, CHORUS_ERR_INVAL, "start phases are 0, 1 and 2");
    }
    r->k->phase_sync = true;
    r->k->phase_rc = CHORUS_OK;
    core_start_phase_async(r->c, (int)p, phase_entered, r->k);
    if (r->k->phase_sync) {
        /* the init transaction waits for applications' answers */
        r->k->phase_sync = false;
        r->k->busy = true;
        r->k->pend_op = OP_START_PHASE;
        r->k->pend_reqid = r->m->reqid;
        return PENDING;
    }
    if (r->k->phase_rc) {
        struct cerr *e = r->k->phase_e;

        r->k->phase_e = NULL;
        return cerr_fail(r, e);
    }
    return 0;
}

static void
phase_reached(void *arg)
{
    struct iconn *k = arg;
    size_t off;

    k->pw = NULL;
    off = proto_begin(&k->out, OP_WAIT_START, PF_REPLY, k->pend_reqid);
    proto_end(&k->out, off);
    k->busy = false;
    flush(k);
    if (!k->processing && !k->dead) {
        process(k);
    }
}

static int
op_wait_start(struct req *r)
{
    uint32_t p;
    bool done = false;

    if (need_u32(r, T_PHASE, "the phase", &p)) {
        return -1;
    }
    if (p > 2) {
        return FAIL(r, CHORUS_ERR_INVAL, "start phases are 0, 1 and 2");
    }
    r->k->pend_reqid = r->m->reqid;
    r->k->pw = core_wait_phase(r->c, (int)p, phase_reached, r->k, &done);
    if (done) {
        return 0;
    }
    if (!r->k->pw) {
        return FAIL(r, CHORUS_ERR_NOMEM, "out of memory");
    }
    r->k->busy = true;
    r->k->pend_op = OP_WAIT_START;
    return PENDING;
}

static int
op_txid(struct req *r)
{
    proto_put_u64(r->out, T_TXID, r->c->txid);
    return 0;
}

static int
op_rollback_list(struct req *r)
{
    struct rb_info *l = NULL;
    size_t n = 0;
    struct cerr *e = NULL;

    if (!r->c->rb) {
        return FAIL(r, CHORUS_ERR_UNSUPPORTED, "rollback files are disabled (rollback/enabled)");
    }
    if (rb_list(r->c->rb, &l, &n, &e)) {
        return cerr_fail(r, e);
    }
    for (size_t i = 0; i < n; i++) {
        proto_put_u32(r->out, T_INDEX, (uint32_t)i);
        proto_put_u64(r->out, T_TXID, l[i].txid);
        proto_put_u64(r->out, T_TIME, l[i].time);
        proto_put_str(r->out, T_USER, l[i].user ? l[i].user : "");
        proto_put_str(r->out, T_CONTEXT, l[i].context ? l[i].context : "");
        proto_put_str(r->out, T_LABEL, l[i].label);
    }
    rb_list_free(l, n);
    return 0;
}

static int
op_rollback_apply(struct req *r)
{
    uint32_t idx, flags = 0;

    if (need_u32(r, T_INDEX, "the rollback index", &idx)) {
        return -1;
    }
    if (proto_get_u32(r->m, T_FLAGS, &flags) == CHORUS_ERR_PROTO) {
        return FAIL(r, CHORUS_ERR_PROTO, "malformed flags");
    }
    r->k->busy = true;
    r->k->pend_op = OP_ROLLBACK_APPLY;
    r->k->pend_reqid = r->m->reqid;
    txn_rollback_apply(r->c, r->k->sess, idx, flags & CHORUS_ROLLBACK_SELECTIVE, async_done, r->k);
    return PENDING;
}

static int
op_status(struct req *r)
{
    char *s = core_status_json(r->c);

    if (!s) {
        return FAIL(r, CHORUS_ERR_NOMEM, "out of memory");
    }
    proto_put_str(r->out, T_STATUS, s);
    free(s);
    return 0;
}

static int
op_stop(struct req *r)
{
    LOG(LL_INFO,
        r->k->sess ? (&(struct log_tag){r->k->sess->id, r->k->sess->user, r->k->sess->context, 0})
                   : NULL,
        "stop requested from %s", r->k->peer);
    core_stop(r->c);
    return 0;
}

/* cursor: T_TH, T_PATH (list), [T_KEY (last entry returned)], T_COUNT (chunk) →
 * T_DATA, [T_KEY] (absent at the end) */
static int
op_cursor(struct req *r)
{
    struct txn *t;
    const char *path, *after;
    uint64_t max;
    char *text = NULL, *last = NULL;
    struct cerr *e = NULL;

    if (get_txn(r, &t) || need_str(r, T_PATH, "the list path", &path) ||
        opt_str(r, T_KEY, &after)) {
        return -1;
    }
    if (proto_get_u64(r->m, T_COUNT, &max)) {
        return FAIL(r, CHORUS_ERR_INVAL, "the chunk size (T_COUNT) is missing or malformed");
    }
    if (!max || max > r->c->cfg->max_cursor_chunk) {
        return FAIL(r, CHORUS_ERR_TOOBIG, "a cursor's chunk is 1 to %u entries (ipc/max-cursor-chunk)",
                    r->c->cfg->max_cursor_chunk);
    }
    if (txn_cursor(r->c, t, path, after, (uint32_t)max, &text, &last, &e)) {
        return cerr_fail(r, e);
    }
    proto_put_data(r->out, T_DATA, text, strlen(text));
    proto_put_str(r->out, T_KEY, last);
    free(text);
    free(last);
    return 0;
}

/* lock-info: T_DB → [T_USID, T_USER, T_CONTEXT, T_TIME] (nothing when unlocked) */
static int
op_lock_info(struct req *r)
{
    uint32_t db;
    const struct sess *s;

    if (need_u32(r, T_DB, "the datastore", &db)) {
        return -1;
    }
    if (db < CHORUS_DB_RUNNING || db > CHORUS_DB_OPERATIONAL) {
        return FAIL(r, CHORUS_ERR_INVAL, "unknown datastore %u", db);
    }
    s = r->c->locks[db];
    if (s) {
        proto_put_u32(r->out, T_USID, s->id);
        proto_put_str(r->out, T_USER, s->user);
        proto_put_str(r->out, T_CONTEXT, s->context);
        proto_put_u64(r->out, T_TIME, (uint64_t)s->lock_time[db]);
    }
    return 0;
}

/* ---- registrations and events ---- */

static int
put_module_file(struct req *r, const char *name, const char *rev, uint32_t impl, const char *file)
{
    char *text = NULL;
    size_t len = 0;

    if (read_file(file, &text, &len)) {
        return FAIL(r, CHORUS_ERR_IO, "%s: cannot read module %s", file, name);
    }
    proto_put_str(r->out, T_MODNAME, name);
    if (rev) {
        proto_put_str(r->out, T_REVISION, rev);
    }
    proto_put_u32(r->out, T_IMPLEMENTED, impl);
    proto_put_data(r->out, T_DATA, text, len);
    free(text);
    return 0;
}

/* The texts of the modules that come from files (libyang's own modules every client has):
 * per module T_MODNAME, [T_REVISION], T_IMPLEMENTED (0 imported, 1 implemented, 2 submodule),
 * T_FEATURE* (enabled), T_DATA. */
static int
op_schemas(struct req *r)
{
    const struct schema *sc = r->c->schema;

    for (size_t i = 0; i < sc->nmods; i++) {
        const struct schema_mod *m = &sc->mods[i];
        const struct lys_module *mod;
        uint32_t idx = 0;
        const struct lysp_feature *f = NULL;

        if (!m->file) {
            continue;
        }
        mod = ly_ctx_get_module(r->c->ctx, m->name, m->revision);
        if (put_module_file(r, m->name, m->revision, m->implemented, m->file)) {
            return -1;
        }
        if (!mod || !mod->parsed) {
            continue;
        }
        while ((f = lysp_feature_next(f, mod->parsed, &idx))) {
            if (f->flags & LYS_FENABLED) {
                proto_put_str(r->out, T_FEATURE, f->name);
            }
        }
        LY_ARRAY_COUNT_TYPE u;

        LY_ARRAY_FOR(mod->parsed->includes, u)
        {
            const struct lysp_submodule *sm = mod->parsed->includes[u].submodule;

            if (sm && sm->filepath &&
                put_module_file(r, sm->name, sm->revs ? sm->revs[0].date : NULL, 2,
                                sm->filepath)) {
                return -1;
            }
        }
    }
    return 0;
}

static int
op_subscribe(struct req *r)
{
    uint32_t kind, prio = 0, flags = 0, id;
    const char *path;
    struct cerr *e = NULL;

    if (need_u32(r, T_SUBKIND, "the registration kind", &kind) || opt_str(r, T_PATH, &path)) {
        return -1;
    }
    if (proto_get_u32(r->m, T_PRIORITY, &prio) == CHORUS_ERR_PROTO ||
        proto_get_u32(r->m, T_FLAGS, &flags) == CHORUS_ERR_PROTO) {
        return FAIL(r, CHORUS_ERR_PROTO, "malformed priority or flags");
    }
    if (sub_add(r->c, r->k, (enum chorus_sub_kind)kind, path, (int32_t)prio, flags, &id, &e)) {
        return cerr_fail(r, e);
    }
    proto_put_u32(r->out, T_SUBID, id);
    return 0;
}

static int
op_unsubscribe(struct req *r)
{
    uint32_t id;
    struct cerr *e = NULL;

    if (need_u32(r, T_SUBID, "the registration id", &id)) {
        return -1;
    }
    return sub_del(r->c, r->k, id, &e) ? cerr_fail(r, e) : 0;
}

/* The answer to an event: T_EVID, then error items (T_ERR_*) or T_DATA. */
static int
op_ev_reply(struct req *r)
{
    uint32_t evid;
    const char *data = NULL;
    size_t len = 0;
    struct cerr *items = NULL, *e = NULL;
    enum chorus_err rc = CHORUS_OK;

    if (need_u32(r, T_EVID, "the event id", &evid)) {
        return -1;
    }
    if (proto_get_data(r->m, T_DATA, &data, &len) == CHORUS_ERR_PROTO) {
        return FAIL(r, CHORUS_ERR_PROTO, "malformed data");
    }
    /* error items: T_ERR_CODE starts one; message, path and app tag follow */
    for (size_t i = 0; i < r->m->nf; i++) {
        const struct proto_field *f = &r->m->f[i];
        uint32_t code;
        const char *msg = NULL, *path = NULL, *tag = NULL;

        if (f->tag != T_ERR_CODE) {
            continue;
        }
        if (proto_field_u32(f, &code) || !code || code > CHORUS_ERR_UNSUPPORTED) {
            cerr_free(items);
            return FAIL(r, CHORUS_ERR_PROTO, "a malformed error code");
        }
        for (size_t j = i + 1; j < r->m->nf && r->m->f[j].tag != T_ERR_CODE; j++) {
            const char **dst = r->m->f[j].tag == T_ERR_MSG      ? &msg
                               : r->m->f[j].tag == T_ERR_PATH   ? &path
                               : r->m->f[j].tag == T_ERR_APPTAG ? &tag
                                                                : NULL;

            if (dst && proto_field_str(&r->m->f[j], dst)) {
                cerr_free(items);
                return FAIL(r, CHORUS_ERR_PROTO, "a malformed error item");
            }
        }
        if (!rc) {
            rc = (enum chorus_err)code;
        }
        cerr_add(&items, (enum chorus_err)code, path, tag, "%s",
                 msg && *msg ? msg : chorus_strerror((enum chorus_err)code));
    }
    if (sub_reply(r->c, r->k, evid, rc, items, data, len, &e)) {
        return cerr_fail(r, e);
    }
    return 0;
}

/* An operational read or an RPC waiting for applications' answers. */
struct oreq {
    struct iconn *k; /* NULL once the connection is gone */
    struct core *c;
    uint16_t op;
    uint32_t reqid;
    uint32_t th;
    char *path;
    uint32_t fmt, flags;
    uint64_t count;
    struct lyd_node *optree; /* RPC: the operation */
};

static void
oreq_free(struct oreq *q)
{
    if (q) {
        free(q->path);
        lyd_free_all(q->optree);
        free(q);
    }
}

/* The connection of @p q, done waiting (NULL if it went away: q is freed). */
static struct iconn *
oreq_end(struct oreq *q)
{
    struct iconn *k = q->k;

    if (k) {
        k->oreq = NULL;
        k->busy = false;
    }
    return k;
}

static void
oreq_resume(struct iconn *k)
{
    flush(k);
    if (!k->processing && !k->dead) {
        process(k);
    }
}

static void
oper_done(void *arg, enum chorus_err rc, struct cerr *e, struct lyd_node *data)
{
    struct oreq *q = arg;
    struct iconn *k = oreq_end(q);
    struct cerr *err = NULL;
    struct ed *extra = NULL;
    struct txn *t;
    char *text = NULL;

    if (!k) {
        lyd_free_siblings(data);
        oreq_free(q);
        return;
    }
    t = k->sess ? txn_find(q->c, k->sess, q->th) : NULL;
    if (!rc && !t) {
        rc = cerr_add(&err, CHORUS_ERR_NOTFOUND, NULL, NULL, "transaction %u went away", q->th);
    }
    if (!rc && data) {
        if (!(extra = ed_new(q->c->ctx))) {
            lyd_free_siblings(data);
            rc = cerr_add(&err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        } else {
            rc = ed_merge_tree(extra, data, &err);
        }
    } else {
        lyd_free_siblings(data);
    }
    if (!rc) {
        bool x = false;
        uint64_t n = 0;

        t->oper_extra = extra;
        switch (q->op) {
        case OP_GET_VALUE:
            rc = txn_get_value(q->c, t, q->path, &text, &err);
            break;
        case OP_EXISTS:
            rc = txn_exists(q->c, t, q->path, &x, &err);
            break;
        case OP_NUM_INSTANCES:
            rc = txn_count(q->c, t, q->path, &n, &err);
            break;
        default:
            rc = txn_get_with(q->c, t, q->path, (enum chorus_format)q->fmt, q->flags, extra,
                              &text, NULL, &err);
        }
        t->oper_extra = NULL;
        if (!rc && q->op == OP_EXISTS) {
            q->flags = x;
        } else if (!rc && q->op == OP_NUM_INSTANCES) {
            q->count = n;
        }
    }
    if (rc) {
        send_error(k, q->op, q->reqid, rc, err ? err : e);
    } else {
        size_t off = proto_begin(&k->out, q->op, PF_REPLY, q->reqid);

        switch (q->op) {
        case OP_GET_VALUE:
            proto_put_str(&k->out, T_VALUE, text);
            break;
        case OP_EXISTS:
            proto_put_u32(&k->out, T_BOOL, q->flags);
            break;
        case OP_NUM_INSTANCES:
            proto_put_u64(&k->out, T_COUNT, q->count);
            break;
        default:
            proto_put_data(&k->out, T_DATA, text, strlen(text));
        }
        if (proto_end(&k->out, off)) {
            k->out.len = off;
            k->out.oom = 0;
            send_error_msg(k, q->op, q->reqid, CHORUS_ERR_TOOBIG, "the reply is too large");
        }
    }
    free(text);
    ed_free(extra);
    cerr_free(err);
    oreq_free(q);
    oreq_resume(k);
}

/* A read of the operational datastore that data providers answer: asks them and returns true
 * (the reply is sent by oper_done()); false when nobody is asked. */
static bool
oper_async(struct req *r, struct txn *t, const char *path, uint32_t fmt, uint32_t flags)
{
    struct oreq *q;

    if (t->db != CHORUS_DB_OPERATIONAL || !sub_count(r->c, CHORUS_SUB_OPER) ||
        t->sess != r->k->sess) {
        return false;
    }
    q = calloc(1, sizeof *q);
    if (!q || (path && !(q->path = strdup(path)))) {
        free(q);
        return false; /* answered without the providers */
    }
    *q = (struct oreq){r->k, r->c, r->m->op, r->m->reqid, t->th, q->path, fmt, flags, 0, NULL};
    r->k->oreq = q;
    r->k->busy = true;
    if (sub_oper_get(r->c, r->k->sess, path, oper_done, q)) {
        return true;
    }
    r->k->oreq = NULL;
    r->k->busy = false;
    oreq_free(q);
    return false;
}

static int
op_get(struct req *r)
{
    struct txn *t;
    const char *path;
    uint32_t fmt, flags = 0;
    char *text = NULL;
    size_t len = 0;
    struct cerr *e = NULL;

    if (get_txn(r, &t) || opt_str(r, T_PATH, &path) || need_u32(r, T_FORMAT, "the format", &fmt)) {
        return -1;
    }
    if (proto_get_u32(r->m, T_FLAGS, &flags) == CHORUS_ERR_PROTO) {
        return FAIL(r, CHORUS_ERR_PROTO, "malformed flags");
    }
    if (!(flags & CHORUS_GET_CONFIG_ONLY) && oper_async(r, t, path, fmt, flags)) {
        return PENDING;
    }
    /* LYB from the configuration datastores only (operational reads merge providers' text) */
    if (txn_get(r->c, t, path, (enum chorus_format)fmt, flags, &text, &len, &e)) {
        return cerr_fail(r, e);
    }
    proto_put_data(r->out, T_DATA, text, len);
    free(text);
    return 0;
}

static LYD_FORMAT
ly_fmt(uint32_t f)
{
    return f == CHORUS_FMT_JSON ? LYD_JSON : f == CHORUS_FMT_LYB ? LYD_LYB : LYD_XML;
}

static enum chorus_err
ly_fail(const struct ly_ctx *ctx, enum chorus_err code, const char *what, struct cerr **e)
{
    const struct ly_err_item *le = ly_err_last(ctx);

    cerr_add(e, code, le && le->path ? le->path : NULL, le && le->apptag ? le->apptag : NULL,
             "%s: %s", what, le && le->msg ? le->msg : "invalid");
    ly_err_clean((struct ly_ctx *)ctx, NULL);
    return code;
}

static void
rpc_done(void *arg, enum chorus_err rc, struct cerr *e, const char *data, size_t len)
{
    struct oreq *q = arg;
    struct iconn *k = oreq_end(q);
    struct cerr *err = NULL;
    struct lyd_node *tree = NULL, *op = NULL;
    struct ly_in *in = NULL;
    char *text = NULL;

    if (!k) {
        oreq_free(q);
        return;
    }
    if (!rc && data && len) {
        if (ly_in_new_memory(data, &in) ||
            lyd_parse_op(q->c->ctx, NULL, in, LYD_JSON, LYD_TYPE_REPLY_YANG, &tree, &op)) {
            rc = ly_fail(q->c->ctx, CHORUS_ERR_INTERNAL, "the handler's output does not parse",
                         &err);
        } else if (lyd_validate_op(tree, q->c->running, LYD_TYPE_REPLY_YANG, NULL)) {
            rc = ly_fail(q->c->ctx, CHORUS_ERR_INTERNAL, "the handler's output is not valid",
                         &err);
        } else if (lyd_print_mem(&text, tree, ly_fmt(q->fmt), LYD_PRINT_WITHSIBLINGS)) {
            rc = cerr_add(&err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        }
        ly_in_free(in, 0);
    }
    if (rc) {
        send_error(k, q->op, q->reqid, rc, err ? err : e);
    } else {
        size_t off = proto_begin(&k->out, q->op, PF_REPLY, q->reqid);

        proto_put_data(&k->out, T_DATA, text ? text : "", text ? strlen(text) : 0);
        proto_end(&k->out, off);
    }
    free(text);
    lyd_free_all(tree);
    cerr_free(err);
    oreq_free(q);
    oreq_resume(k);
}

/* Invoke an RPC or action: T_FORMAT, T_DATA (the operation with its input). */
static int
op_rpc(struct req *r)
{
    uint32_t fmt;
    const char *data;
    size_t len;
    struct ly_in *in = NULL;
    struct lyd_node *tree = NULL, *op = NULL;
    struct cerr *e = NULL;
    struct oreq *q;

    if (need_u32(r, T_FORMAT, "the format", &fmt)) {
        return -1;
    }
    if (fmt != CHORUS_FMT_XML && fmt != CHORUS_FMT_JSON) {
        return FAIL(r, CHORUS_ERR_INVAL, "an operation is given as XML or JSON");
    }
    if (proto_get_data(r->m, T_DATA, &data, &len)) {
        return FAIL(r, CHORUS_ERR_INVAL, "the operation is missing or malformed");
    }
    if (ly_in_new_memory(data, &in)) {
        return FAIL(r, CHORUS_ERR_NOMEM, "out of memory");
    }
    core_running(r->c, NULL);
    if (lyd_parse_op(r->c->ctx, NULL, in, ly_fmt(fmt), LYD_TYPE_RPC_YANG, &tree, &op) || !op) {
        ly_in_free(in, 0);
        lyd_free_all(tree);
        return cerr_fail(r, (ly_fail(r->c->ctx, CHORUS_ERR_BADVALUE, "invalid operation", &e), e));
    }
    ly_in_free(in, 0);
    if (lyd_validate_op(tree, r->c->running, LYD_TYPE_RPC_YANG, NULL)) {
        lyd_free_all(tree);
        return cerr_fail(r,
                         (ly_fail(r->c->ctx, CHORUS_ERR_VALIDATION, "invalid input", &e), e));
    }
    q = calloc(1, sizeof *q);
    if (!q) {
        lyd_free_all(tree);
        return FAIL(r, CHORUS_ERR_NOMEM, "out of memory");
    }
    *q = (struct oreq){r->k, r->c, OP_RPC, r->m->reqid, 0, NULL, fmt, 0, 0, tree};
    if (sub_rpc(r->c, r->k->sess, op, rpc_done, q, &e)) {
        oreq_free(q);
        return cerr_fail(r, e);
    }
    r->k->oreq = q;
    r->k->busy = true;
    return PENDING;
}

#define NEED_SESSION 0x1
#define NO_REPLY 0x2 /* one-way: errors are logged, nothing is sent */

static const struct op_def {
    uint16_t op;
    int (*fn)(struct req *r);
    unsigned flags;
} ops[] = {
    {OP_HELLO, op_hello, 0},
    {OP_AUTH, op_auth, 0},
    {OP_SESSION_START, op_session_start, 0},
    {OP_SESSION_END, op_session_end, NEED_SESSION},
    {OP_TRANS_START, op_trans_start, NEED_SESSION},
    {OP_TRANS_ATTACH_INIT, op_attach_init, NEED_SESSION},
    {OP_TRANS_FINISH, op_trans_finish, NEED_SESSION},
    {OP_GET, op_get, NEED_SESSION},
    {OP_GET_VALUE, op_get_value, NEED_SESSION},
    {OP_EXISTS, op_exists, NEED_SESSION},
    {OP_NUM_INSTANCES, op_num_instances, NEED_SESSION},
    {OP_SET, op_set, NEED_SESSION},
    {OP_CREATE, op_create, NEED_SESSION},
    {OP_DELETE, op_delete, NEED_SESSION},
    {OP_EDIT, op_edit, NEED_SESSION},
    {OP_VALIDATE, op_validate, NEED_SESSION},
    {OP_PREPARE, op_commitish, NEED_SESSION},
    {OP_COMMIT, op_commitish, NEED_SESSION},
    {OP_ABORT, op_abort, NEED_SESSION},
    {OP_APPLY, op_commitish, NEED_SESSION},
    {OP_LOCK, op_lock, NEED_SESSION},
    {OP_UNLOCK, op_lock, NEED_SESSION},
    {OP_CAND_COMMIT, op_cand_commit, NEED_SESSION},
    {OP_CAND_DISCARD, op_cand_discard, NEED_SESSION},
    {OP_CONFIRMED_COMMIT, op_confirmed_commit, NEED_SESSION},
    {OP_CANCEL_COMMIT, op_cancel_commit, NEED_SESSION},
    {OP_PHASE_GET, op_phase_get, 0},
    {OP_START_PHASE, op_start_phase, NEED_SESSION},
    {OP_WAIT_START, op_wait_start, 0},
    {OP_TXID, op_txid, 0},
    {OP_ROLLBACK_LIST, op_rollback_list, NEED_SESSION},
    {OP_ROLLBACK_APPLY, op_rollback_apply, NEED_SESSION},
    {OP_STATUS, op_status, 0},
    {OP_STOP, op_stop, 0},
    {OP_SCHEMAS, op_schemas, 0},
    {OP_SUBSCRIBE, op_subscribe, 0},
    {OP_UNSUBSCRIBE, op_unsubscribe, 0},
    {OP_EV_REPLY, op_ev_reply, NO_REPLY},
    {OP_RPC, op_rpc, NEED_SESSION},
    {OP_CURSOR, op_cursor, NEED_SESSION},
    {OP_LOCK_INFO, op_lock_info, 0},
};

/* A request on the transaction of an event (hooks and validators need no session). */
static bool
event_handle(const struct proto_msg *m)
{
    uint32_t th;

    return !proto_get_u32(m, T_TH, &th) && (th & SUB_TH_EVENT);
}

/* Handle one complete frame. */
static void
dispatch(struct iconn *k, uint16_t op, uint16_t flags, uint32_t reqid, const uint8_t *body,
         uint32_t len)
{
    struct proto_msg m = {0};
    const struct op_def *d = NULL;
    struct buf body_out = BUF_INIT;
    struct req r = {k, k->ipc->c, &m, &body_out, NULL};
    enum chorus_err rc;
    int res;

    if (flags & (PF_REPLY | PF_EVENT)) {
        send_error_msg(k, op, reqid, CHORUS_ERR_PROTO, "the daemon accepts requests only");
        k->closing = true;
        return;
    }
    rc = proto_body_parse(body, len, PROTO_MAX_FIELDS, &m);
    if (rc) {
        send_error_msg(k, op, reqid, rc,
                       rc == CHORUS_ERR_TOOBIG ? "too many fields in the frame"
                                               : "malformed frame: a field overruns the body");
        k->closing = true;
        return;
    }
    m.op = op;
    m.flags = flags;
    m.reqid = reqid;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (ops[i].op == op) {
            d = &ops[i];
            break;
        }
    }
    if (!k->hello && op != OP_HELLO) {
        send_error_msg(k, op, reqid, CHORUS_ERR_PROTO, "the first request must be hello");
        k->closing = true;
        goto out;
    }
    if (k->must_auth && k->hello && op != OP_AUTH) {
        send_error_msg(k, op, reqid, CHORUS_ERR_ACCESS,
                       "access denied: answer the shared-secret challenge first (auth)");
        k->closing = true;
        goto out;
    }
    if (!d) {
        send_error_msg(k, op, reqid, CHORUS_ERR_UNSUPPORTED, "unknown operation");
        goto out;
    }
    if ((d->flags & NEED_SESSION) && !k->sess && !event_handle(&m)) {
        send_error_msg(k, op, reqid, CHORUS_ERR_STATE, "start a user session first");
        goto out;
    }
    res = d->fn(&r);
    if (res == PENDING) {
        goto out;
    }
    if (d->flags & NO_REPLY) {
        if (res < 0 || r.err) {
            LOGW("%s from %s refused: %s", proto_op_name(op), k->name,
                 r.err && r.err->msg ? r.err->msg : "error");
        }
        goto out;
    }
    if (res < 0 || r.err) {
        send_error(k, op, reqid, r.err ? r.err->code : CHORUS_ERR_INTERNAL, r.err);
    } else if (!buf_ok(&body_out)) {
        send_error_msg(k, op, reqid, CHORUS_ERR_NOMEM, "out of memory building the reply");
    } else {
        size_t off = proto_begin(&k->out, op, PF_REPLY, reqid);

        buf_append(&k->out, body_out.p, body_out.len);
        if (proto_end(&k->out, off)) {
            k->out.len = off;
            k->out.oom = 0;
            send_error_msg(k, op, reqid, CHORUS_ERR_TOOBIG, "the reply is too large");
        }
    }
out:
    cerr_free(r.err);
    buf_free(&body_out);
    proto_msg_done(&m);
}

/* Handle the complete frames buffered, as long as nothing waits. */
static void
process(struct iconn *k)
{
    uint32_t max = k->ipc->c->cfg->max_frame;

    k->processing = true;
    while (!k->busy && !k->closing && !k->dead && k->in.len >= PROTO_HDR_LEN) {
        uint32_t len, reqid;
        uint16_t op, flags;

        if (proto_hdr_parse(k->in.p, max, &len, &op, &flags, &reqid)) {
            char msg[128];

            snprintf(msg, sizeof msg,
                     "the frame (%u bytes) exceeds the limit of %u bytes "
                     "(ipc/max-frame-size)",
                     rd_u32(k->in.p), max);
            send_error_msg(k, rd_u16(k->in.p + 4), rd_u32(k->in.p + 8), CHORUS_ERR_TOOBIG, msg);
            k->closing = true;
            break;
        }
        if (k->in.len < PROTO_HDR_LEN + (size_t)len) {
            if (buf_reserve(&k->in, PROTO_HDR_LEN + len - k->in.len)) {
                send_error_msg(k, op, reqid, CHORUS_ERR_NOMEM, "out of memory");
                k->closing = true;
            }
            break;
        }
        dispatch(k, op, flags, reqid, k->in.p + PROTO_HDR_LEN, len);
        buf_consume(&k->in, PROTO_HDR_LEN + len);
    }
    k->processing = false;
    if (!k->in.len && k->in.cap > (4u << 20)) {
        buf_free(&k->in); /* give a large frame's memory back */
    }
    if (!k->dead) {
        flush(k);
    }
}

/* ---- connections ---- */

static void
conn_free(struct iconn *k)
{
    buf_free(&k->in);
    buf_free(&k->out);
    free(k);
}

static void
reap_dead(struct ipc *ipc)
{
    for (struct iconn **pp = &ipc->conns; *pp;) {
        struct iconn *k = *pp;

        if (k->dead && !k->processing) {
            *pp = k->next;
            conn_free(k);
        } else {
            pp = &k->next;
        }
    }
}

static void
conn_close(struct iconn *k)
{
    struct core *c = k->ipc->c;

    if (k->dead) {
        return;
    }
    k->dead = true;
    ev_del(c->ev, k->fd);
    close(k->fd);
    k->fd = -1;
    if (k->pw) {
        core_cancel_wait(c, k->pw);
        k->pw = NULL;
    }
    core_start_phase_forget(c, k);
    if (k->oreq) {
        k->oreq->k = NULL; /* freed when the applications have answered */
        k->oreq = NULL;
    }
    sub_owner_gone(c, k);
    if (k->sess) {
        struct log_tag tag = sess_tag(k->sess, 0);

        LOG(LL_DEBUG, &tag, "session ended: connection from %s closed", k->peer);
        sess_end(c, k->sess); /* aborts its transactions, releases its locks */
        k->sess = NULL;
    }
    k->ipc->nconns--;
}

static void
on_conn(void *arg, int fd, uint32_t events)
{
    struct iconn *k = arg;
    struct ipc *ipc = k->ipc;

    (void)fd;
    if ((events & EV_HUP) && k->busy && !k->dead) {
        /* gone while its request waits: end its session (the transaction is aborted) */
        conn_close(k);
    }
    if ((events & EV_WRITE) && !k->dead) {
        flush(k);
    }
    if ((events & EV_READ) && !k->dead && !k->busy && !k->closing) {
        if (buf_read_fd(&k->in, k->fd, READ_CHUNK) <= 0) {
            conn_close(k); /* end of file, a read error, or no memory for the input */
        }
        if (!k->dead) {
            process(k);
        }
    }
    reap_dead(ipc);
}

static void
on_accept(void *arg, int lfd, uint32_t events)
{
    struct ipc *ipc = arg;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd, one = 1;
    struct iconn *k;

    (void)events;
    while ((fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        k = calloc(1, sizeof *k);
        if (!k) {
            close(fd);
            continue;
        }
        k->ipc = ipc;
        k->fd = fd;
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, k->peer, sizeof k->peer);
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, k->peer, sizeof k->peer);
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        } else {
            snprintf(k->peer, sizeof k->peer, "local");
        }
        /* the UNIX socket is guarded by its file permissions; TCP by the secret, if any */
        k->must_auth = lfd == ipc->tcp_fd && ipc->secret.len;
        if (ipc->nconns >= ipc->c->cfg->max_sessions) {
            /* refused: one error frame with request id 0, then close */
            char msg[96];

            snprintf(msg, sizeof msg, "too many connections (ipc/max-sessions is %u)",
                     ipc->c->cfg->max_sessions);
            send_error_msg(k, OP_HELLO, 0, CHORUS_ERR_TOOBIG, msg);
            (void)write_all(fd, k->out.p, k->out.len);
            LOGW("IPC connection from %s refused: %s", k->peer, msg);
            close(fd);
            conn_free(k);
            sl = sizeof ss;
            continue;
        }
        if (ev_add(ipc->c->ev, fd, EV_READ | EV_HUP, on_conn, k)) {
            close(fd);
            conn_free(k);
            sl = sizeof ss;
            continue;
        }
        k->next = ipc->conns;
        ipc->conns = k;
        ipc->nconns++;
        sl = sizeof ss;
    }
}

static int
listen_tcp(const char *addr, uint16_t port, struct cerr **e)
{
    int fd = tcp_listen(addr, port, 128);

    if (fd == -EINVAL) {
        cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "IPC address %s is not an IP address", addr);
    } else if (fd < 0) {
        cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "cannot listen on %s port %u (ipc): %s", addr, port,
                 strerror(-fd));
    }
    return fd < 0 ? -1 : fd;
}

static int
listen_unix(const char *path, struct cerr **e)
{
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof su.sun_path) {
        cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "the UNIX socket path %s is too long", path);
        return -1;
    }
    strcpy(su.sun_path, path);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&su, sizeof su) < 0 || listen(fd, 128) < 0) {
        cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

/* ---- the transport of events (sub.h) ---- */

static void
tr_send(void *owner, uint16_t ev, uint32_t evid, const struct buf *body)
{
    struct iconn *k = owner;
    size_t off;

    if (!k || k->dead || k->closing) {
        return;
    }
    off = proto_begin(&k->out, ev, PF_EVENT, evid);
    buf_append(&k->out, body->p, body->len);
    if (proto_end(&k->out, off)) {
        k->out.len = off;
        k->out.oom = 0;
        LOGW("event %u for %s is too large to send", evid, k->name);
        return;
    }
    /* Written at once when the socket takes it; the rest, and any error, are left to the event
     * loop (flush): closing the connection here would re-enter the caller (sub.c). */
    while (k->out.len) {
        ssize_t n = write(k->fd, k->out.p, k->out.len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        buf_consume(&k->out, (size_t)n);
    }
    if (k->out.len) {
        ev_mod(k->ipc->c->ev, k->fd, EV_WRITE | EV_HUP | (k->busy ? 0 : EV_READ));
    }
}

static const char *
tr_name(const void *owner)
{
    const struct iconn *k = owner;

    return k ? (*k->name ? k->name : k->peer) : "a closed connection";
}

static void
tr_kick(void *owner)
{
    struct iconn *k = owner;

    if (k && !k->dead) {
        LOGW("disconnecting %s: it did not answer an event in time", tr_name(k));
        conn_close(k);
    }
}

static const char *
tr_user(const void *owner)
{
    const struct iconn *k = owner;

    return k && k->sess ? k->sess->user : NULL;
}

enum chorus_err
ipc_start(struct core *c, struct ipc **ret_ipc, struct cerr **e)
{
    static const struct sub_transport tr = {tr_send, tr_name, tr_kick, tr_user};

    struct ipc *ipc = calloc(1, sizeof *ipc);

    if (!ipc) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    ipc->c = c;
    ipc->unix_fd = -1;
    if (c->cfg->secret_file) {
        int r = auth_read_secret(c->cfg->secret_file, &ipc->secret);

        if (r) {
            free(ipc);
            return cerr_add(e, CHORUS_ERR_INVAL, "/chorus-config:chorusd/ipc/secret-file", NULL,
                            "/chorus-config:chorusd/ipc/secret-file: %s: %s", c->cfg->secret_file,
                            r == -ENODATA ? "the shared secret is empty" : strerror(-r));
        }
    }
    ipc->tcp_fd = listen_tcp(c->cfg->ipc_addr, c->cfg->ipc_port, e);
    if (ipc->tcp_fd < 0) {
        auth_secret_free(&ipc->secret);
        free(ipc);
        return CHORUS_ERR_IO;
    }
    if (c->cfg->ipc_unix_path) {
        ipc->unix_fd = listen_unix(c->cfg->ipc_unix_path, e);
        if (ipc->unix_fd < 0) {
            close(ipc->tcp_fd);
            auth_secret_free(&ipc->secret);
            free(ipc);
            return CHORUS_ERR_IO;
        }
    }
    if (ev_add(c->ev, ipc->tcp_fd, EV_READ, on_accept, ipc) ||
        (ipc->unix_fd >= 0 && ev_add(c->ev, ipc->unix_fd, EV_READ, on_accept, ipc))) {
        ipc_stop(ipc);
        return cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "cannot watch the IPC sockets");
    }
    if (!c->subs && !(c->subs = subs_new(c, &tr))) {
        ipc_stop(ipc);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    *ret_ipc = ipc;
    return CHORUS_OK;
}

void
ipc_stop(struct ipc *ipc)
{
    if (!ipc) {
        return;
    }
    for (struct iconn *k = ipc->conns; k; k = k->next) {
        if (!k->dead) {
            flush(k);
            conn_close(k);
        }
    }
    reap_dead(ipc);
    subs_free(ipc->c->subs);
    ipc->c->subs = NULL;
    if (ipc->tcp_fd >= 0) {
        ev_del(ipc->c->ev, ipc->tcp_fd);
        close(ipc->tcp_fd);
    }
    if (ipc->unix_fd >= 0) {
        ev_del(ipc->c->ev, ipc->unix_fd);
        close(ipc->unix_fd);
        unlink(ipc->c->cfg->ipc_unix_path);
    }
    auth_secret_free(&ipc->secret);
    free(ipc);
}

unsigned
ipc_connections(const struct ipc *ipc)
{
    return ipc ? ipc->nconns : 0;
}
