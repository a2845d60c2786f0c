/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The management API (include/chorus/mgmt.h). Each function checks its arguments, encodes one
 * request as docs/protocol.md specifies, sends it with conn_call() and decodes the reply.
 *
 * Contracts: a NULL connection is CHORUS_ERR_INVAL without error details (there is nowhere
 * to keep them); any other argument error is CHORUS_ERR_INVAL recorded on the connection.
 * Out-parameters are written only after the whole reply has been decoded, so a failed call
 * leaves them untouched. A success reply that lacks a field the protocol requires is a
 * protocol error (conn_bad_reply()), which also marks the connection broken.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/mgmt.h"
#include "internal.h"

/* Bound on the groups of a session, so that the request stays within PROTO_MAX_FIELDS. */
#define MAX_GROUPS (PROTO_MAX_FIELDS - 16)

static enum chorus_err
bad_arg(struct chorus_conn *c, const char *func, const char *what)
{
    return conn_set_error(c, CHORUS_ERR_INVAL, "%s: %s", func, what);
}

static int
db_valid(enum chorus_db db)
{
    return db == CHORUS_DB_RUNNING || db == CHORUS_DB_CANDIDATE || db == CHORUS_DB_STARTUP ||
           db == CHORUS_DB_OPERATIONAL;
}

static int
phase_valid(enum chorus_phase phase)
{
    return phase == CHORUS_PHASE0 || phase == CHORUS_PHASE1 || phase == CHORUS_PHASE2;
}

static enum chorus_err
missing(struct chorus_conn *c, const struct conn_reply *r, const char *field)
{
    char what[64];

    snprintf(what, sizeof what, "missing or invalid %s", field);
    return conn_bad_reply(c, r, what);
}

/* ---- request/reply shapes ---- */

/* Send @p b; the reply carries nothing of interest. */
static enum chorus_err
call_none(struct chorus_conn *c, struct buf *b)
{
    return conn_call(c, b, NULL);
}

/* Send @p b; the reply carries a u32 @p tag, stored in @p ret (may be NULL). */
static enum chorus_err
call_u32(struct chorus_conn *c, struct buf *b, uint16_t tag, const char *name, uint32_t *ret)
{
    struct conn_reply r = {0};
    enum chorus_err err;
    uint32_t v;

    err = conn_call(c, b, &r);
    if (err) {
        return err;
    }
    if (proto_get_u32(&r.m, tag, &v)) {
        err = missing(c, &r, name);
    } else if (ret) {
        *ret = v;
    }
    conn_reply_done(&r);
    return err;
}

/* Send @p b; the reply carries a u64 @p tag, stored in @p ret (may be NULL). */
static enum chorus_err
call_u64(struct chorus_conn *c, struct buf *b, uint16_t tag, const char *name, uint64_t *ret)
{
    struct conn_reply r = {0};
    enum chorus_err err;
    uint64_t v;

    err = conn_call(c, b, &r);
    if (err) {
        return err;
    }
    if (proto_get_u64(&r.m, tag, &v)) {
        err = missing(c, &r, name);
    } else if (ret) {
        *ret = v;
    }
    conn_reply_done(&r);
    return err;
}

/* Send @p b; the reply carries a str @p tag, returned as a copy owned by the caller. */
static enum chorus_err
call_str(struct chorus_conn *c, struct buf *b, uint16_t tag, const char *name, char **ret)
{
    struct conn_reply r = {0};
    enum chorus_err err;
    const char *s;
    char *copy;

    err = conn_call(c, b, &r);
    if (err) {
        return err;
    }
    if (proto_get_str(&r.m, tag, &s)) {
        err = missing(c, &r, name);
        goto out;
    }
    copy = strdup(s);
    if (!copy) {
        err = conn_set_error(c, CHORUS_ERR_NOMEM, "out of memory");
        goto out;
    }
    *ret = copy;
out:
    conn_reply_done(&r);
    return err;
}

static enum chorus_err
op_plain(struct chorus_conn *c, enum proto_op op)
{
    struct buf b = BUF_INIT;

    proto_begin(&b, op, 0, 0);
    return call_none(c, &b);
}

static enum chorus_err
op_th(struct chorus_conn *c, enum proto_op op, uint32_t th)
{
    struct buf b = BUF_INIT;

    proto_begin(&b, op, 0, 0);
    proto_put_u32(&b, T_TH, th);
    return call_none(c, &b);
}

static enum chorus_err
op_th_txid(struct chorus_conn *c, enum proto_op op, uint32_t th, uint64_t *ret_txid)
{
    struct buf b = BUF_INIT;

    proto_begin(&b, op, 0, 0);
    proto_put_u32(&b, T_TH, th);
    return call_u64(c, &b, T_TXID, "T_TXID", ret_txid);
}

static enum chorus_err
op_th_path(struct chorus_conn *c, const char *func, enum proto_op op, uint32_t th, const char *path)
{
    struct buf b = BUF_INIT;

    if (!path) {
        return bad_arg(c, func, "path is NULL");
    }
    proto_begin(&b, op, 0, 0);
    proto_put_u32(&b, T_TH, th);
    proto_put_str(&b, T_PATH, path);
    return call_none(c, &b);
}

static enum chorus_err
op_db(struct chorus_conn *c, const char *func, enum proto_op op, enum chorus_db db)
{
    struct buf b = BUF_INIT;

    if (!db_valid(db)) {
        return bad_arg(c, func, "invalid datastore");
    }
    proto_begin(&b, op, 0, 0);
    proto_put_u32(&b, T_DB, (uint32_t)db);
    return call_none(c, &b);
}

static enum chorus_err
op_phase(struct chorus_conn *c, const char *func, enum proto_op op, enum chorus_phase phase)
{
    struct buf b = BUF_INIT;

    if (!phase_valid(phase)) {
        return bad_arg(c, func, "invalid start phase");
    }
    proto_begin(&b, op, 0, 0);
    proto_put_u32(&b, T_PHASE, (uint32_t)phase);
    return call_none(c, &b);
}

/* ---- sessions and transactions ---- */

enum chorus_err
chorus_session_start(struct chorus_conn *conn, const char *user, const char *context,
                     const char *const *groups, size_t ngroups, const char *src_addr,
                     uint32_t *ret_usid)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!user || !context) {
        return bad_arg(conn, __func__, "user and context are required");
    }
    if (ngroups && !groups) {
        return bad_arg(conn, __func__, "groups is NULL");
    }
    if (ngroups > MAX_GROUPS) {
        return conn_set_error(conn, CHORUS_ERR_TOOBIG, "%s: more than %d groups", __func__,
                              MAX_GROUPS);
    }
    for (size_t i = 0; i < ngroups; i++) {
        if (!groups[i]) {
            return bad_arg(conn, __func__, "a group name is NULL");
        }
    }
    proto_begin(&b, OP_SESSION_START, 0, 0);
    proto_put_str(&b, T_USER, user);
    proto_put_str(&b, T_CONTEXT, context);
    for (size_t i = 0; i < ngroups; i++) {
        proto_put_str(&b, T_GROUP, groups[i]);
    }
    proto_put_str(&b, T_SRCADDR, src_addr);
    return call_u32(conn, &b, T_USID, "T_USID", ret_usid);
}

enum chorus_err
chorus_session_end(struct chorus_conn *conn)
{
    return conn ? op_plain(conn, OP_SESSION_END) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_trans_start(struct chorus_conn *conn, enum chorus_db db, int readwrite, uint32_t *ret_th)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!ret_th) {
        return bad_arg(conn, __func__, "ret_th is NULL");
    }
    if (!db_valid(db)) {
        return bad_arg(conn, __func__, "invalid datastore");
    }
    if (readwrite != 0 && readwrite != 1) {
        return bad_arg(conn, __func__, "readwrite must be 0 or 1");
    }
    proto_begin(&b, OP_TRANS_START, 0, 0);
    proto_put_u32(&b, T_DB, (uint32_t)db);
    proto_put_u32(&b, T_RW, (uint32_t)readwrite);
    return call_u32(conn, &b, T_TH, "T_TH", ret_th);
}

enum chorus_err
chorus_trans_attach_init(struct chorus_conn *conn, uint32_t *ret_th)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!ret_th) {
        return bad_arg(conn, __func__, "ret_th is NULL");
    }
    proto_begin(&b, OP_TRANS_ATTACH_INIT, 0, 0);
    return call_u32(conn, &b, T_TH, "T_TH", ret_th);
}

enum chorus_err
chorus_trans_finish(struct chorus_conn *conn, uint32_t th)
{
    return conn ? op_th(conn, OP_TRANS_FINISH, th) : CHORUS_ERR_INVAL;
}

/* ---- reads ---- */

static enum chorus_err
get_common(struct chorus_conn *conn, const char *fn, uint32_t th, const char *path,
           enum chorus_format format, uint32_t flags, char **ret_data, size_t *ret_len)
{
    const uint32_t known = CHORUS_GET_WD_MASK | CHORUS_GET_CONFIG_ONLY | CHORUS_GET_PRETTY;
    struct buf b = BUF_INIT;
    struct conn_reply r = {0};
    enum chorus_err err;
    const char *data;
    size_t len;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!ret_data) {
        return bad_arg(conn, fn, "ret_data is NULL");
    }
    if (format != CHORUS_FMT_XML && format != CHORUS_FMT_JSON &&
        (format != CHORUS_FMT_LYB || !ret_len)) {
        return bad_arg(conn, fn, ret_len ? "format must be XML, JSON or LYB"
                                         : "format must be XML or JSON");
    }
    if (flags & ~known) {
        return bad_arg(conn, fn, "unknown flags");
    }
    proto_begin(&b, OP_GET, 0, 0);
    proto_put_u32(&b, T_TH, th);
    proto_put_str(&b, T_PATH, path);
    proto_put_u32(&b, T_FORMAT, (uint32_t)format);
    proto_put_u32(&b, T_FLAGS, flags);
    err = conn_call(conn, &b, &r);
    if (err) {
        return err;
    }
    if (proto_get_data(&r.m, T_DATA, &data, &len)) {
        err = missing(conn, &r, "T_DATA");
        goto out;
    }
    /* Hand the reply's buffer over instead of copying it: a whole datastore can be hundreds
     * of MB. The field index into it is not used any more. */
    memmove(r.body, data, len + 1);
    *ret_data = (char *)r.body;
    r.body = NULL;
    if (ret_len) {
        *ret_len = len;
    }
out:
    conn_reply_done(&r);
    return err;
}

enum chorus_err
chorus_get(struct chorus_conn *conn, uint32_t th, const char *path, enum chorus_format format,
           uint32_t flags, char **ret_data)
{
    return get_common(conn, __func__, th, path, format, flags, ret_data, NULL);
}

enum chorus_err
chorus_get_data(struct chorus_conn *conn, uint32_t th, const char *path,
                enum chorus_format format, uint32_t flags, char **ret_data, size_t *ret_len)
{
    if (!ret_len) {
        return conn ? bad_arg(conn, __func__, "ret_len is NULL") : CHORUS_ERR_INVAL;
    }
    return get_common(conn, __func__, th, path, format, flags, ret_data, ret_len);
}

enum chorus_err
chorus_get_value(struct chorus_conn *conn, uint32_t th, const char *path, char **ret_value)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!path || !ret_value) {
        return bad_arg(conn, __func__, "path and ret_value are required");
    }
    proto_begin(&b, OP_GET_VALUE, 0, 0);
    proto_put_u32(&b, T_TH, th);
    proto_put_str(&b, T_PATH, path);
    return call_str(conn, &b, T_VALUE, "T_VALUE", ret_value);
}

enum chorus_err
chorus_exists(struct chorus_conn *conn, uint32_t th, const char *path, int *ret_exists)
{
    struct buf b = BUF_INIT;
    struct conn_reply r = {0};
    enum chorus_err err;
    uint32_t v;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!path || !ret_exists) {
        return bad_arg(conn, __func__, "path and ret_exists are required");
    }
    proto_begin(&b, OP_EXISTS, 0, 0);
    proto_put_u32(&b, T_TH, th);
    proto_put_str(&b, T_PATH, path);
    err = conn_call(conn, &b, &r);
    if (err) {
        return err;
    }
    if (proto_get_u32(&r.m, T_BOOL, &v) || v > 1) {
        err = missing(conn, &r, "T_BOOL");
    } else {
        *ret_exists = (int)v;
    }
    conn_reply_done(&r);
    return err;
}

enum chorus_err
chorus_num_instances(struct chorus_conn *conn, uint32_t th, const char *path, uint64_t *ret_count)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!path || !ret_count) {
        return bad_arg(conn, __func__, "path and ret_count are required");
    }
    proto_begin(&b, OP_NUM_INSTANCES, 0, 0);
    proto_put_u32(&b, T_TH, th);
    proto_put_str(&b, T_PATH, path);
    return call_u64(conn, &b, T_COUNT, "T_COUNT", ret_count);
}

/* ---- writes ---- */

enum chorus_err
chorus_set(struct chorus_conn *conn, uint32_t th, const char *path, const char *value)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!path) {
        return bad_arg(conn, __func__, "path is NULL");
    }
    proto_begin(&b, OP_SET, 0, 0);
    proto_put_u32(&b, T_TH, th);
    proto_put_str(&b, T_PATH, path);
    proto_put_str(&b, T_VALUE, value);
    return call_none(conn, &b);
}

enum chorus_err
chorus_create(struct chorus_conn *conn, uint32_t th, const char *path)
{
    return conn ? op_th_path(conn, __func__, OP_CREATE, th, path) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_delete(struct chorus_conn *conn, uint32_t th, const char *path)
{
    return conn ? op_th_path(conn, __func__, OP_DELETE, th, path) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_edit(struct chorus_conn *conn, uint32_t th, enum chorus_edit_op op,
            enum chorus_format format, const char *data, size_t len)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (op != CHORUS_EDIT_MERGE && op != CHORUS_EDIT_REPLACE && op != CHORUS_EDIT_REPLACE_ALL &&
        op != CHORUS_EDIT_DIFF) {
        return bad_arg(conn, __func__, "invalid edit operation");
    }
    if (format != CHORUS_FMT_XML && format != CHORUS_FMT_JSON && format != CHORUS_FMT_LYB) {
        return bad_arg(conn, __func__, "invalid format");
    }
    if (!data && len) {
        return bad_arg(conn, __func__, "data is NULL");
    }
    if (len >= PROTO_MAX_FRAME - 64) {
        return conn_set_error(conn, CHORUS_ERR_TOOBIG,
                              "%s: %zu bytes of data exceed the frame limit", __func__, len);
    }
    proto_begin(&b, OP_EDIT, 0, 0);
    proto_put_u32(&b, T_TH, th);
    proto_put_u32(&b, T_EDIT_OP, (uint32_t)op);
    proto_put_u32(&b, T_FORMAT, (uint32_t)format);
    proto_put_data(&b, T_DATA, data ? data : "", len);
    return call_none(conn, &b);
}

/* ---- commit sequence ---- */

enum chorus_err
chorus_validate(struct chorus_conn *conn, uint32_t th)
{
    return conn ? op_th(conn, OP_VALIDATE, th) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_prepare(struct chorus_conn *conn, uint32_t th)
{
    return conn ? op_th(conn, OP_PREPARE, th) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_commit(struct chorus_conn *conn, uint32_t th, uint64_t *ret_txid)
{
    return conn ? op_th_txid(conn, OP_COMMIT, th, ret_txid) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_abort(struct chorus_conn *conn, uint32_t th)
{
    return conn ? op_th(conn, OP_ABORT, th) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_apply(struct chorus_conn *conn, uint32_t th, uint64_t *ret_txid)
{
    return conn ? op_th_txid(conn, OP_APPLY, th, ret_txid) : CHORUS_ERR_INVAL;
}

/* ---- locks and the candidate ---- */

enum chorus_err
chorus_lock(struct chorus_conn *conn, enum chorus_db db)
{
    return conn ? op_db(conn, __func__, OP_LOCK, db) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_unlock(struct chorus_conn *conn, enum chorus_db db)
{
    return conn ? op_db(conn, __func__, OP_UNLOCK, db) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_candidate_commit(struct chorus_conn *conn, uint64_t *ret_txid)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    proto_begin(&b, OP_CAND_COMMIT, 0, 0);
    return call_u64(conn, &b, T_TXID, "T_TXID", ret_txid);
}

enum chorus_err
chorus_candidate_discard(struct chorus_conn *conn)
{
    return conn ? op_plain(conn, OP_CAND_DISCARD) : CHORUS_ERR_INVAL;
}

/* ---- start phases, transaction id ---- */

enum chorus_err
chorus_phase_get(struct chorus_conn *conn, enum chorus_phase *ret_phase)
{
    struct buf b = BUF_INIT;
    struct conn_reply r = {0};
    enum chorus_err err;
    uint32_t v;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!ret_phase) {
        return bad_arg(conn, __func__, "ret_phase is NULL");
    }
    proto_begin(&b, OP_PHASE_GET, 0, 0);
    err = conn_call(conn, &b, &r);
    if (err) {
        return err;
    }
    if (proto_get_u32(&r.m, T_PHASE, &v) || v > CHORUS_PHASE2) {
        err = missing(conn, &r, "T_PHASE");
    } else {
        *ret_phase = (enum chorus_phase)v;
    }
    conn_reply_done(&r);
    return err;
}

enum chorus_err
chorus_start_phase(struct chorus_conn *conn, enum chorus_phase phase)
{
    return conn ? op_phase(conn, __func__, OP_START_PHASE, phase) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_wait_start(struct chorus_conn *conn, enum chorus_phase phase)
{
    return conn ? op_phase(conn, __func__, OP_WAIT_START, phase) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_txid(struct chorus_conn *conn, uint64_t *ret_txid)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!ret_txid) {
        return bad_arg(conn, __func__, "ret_txid is NULL");
    }
    proto_begin(&b, OP_TXID, 0, 0);
    return call_u64(conn, &b, T_TXID, "T_TXID", ret_txid);
}

/* ---- rollback ---- */

/* Fields of a rollback item, as bits of a "seen" mask. */
enum {
    RB_INDEX = 0x1,
    RB_TXID = 0x2,
    RB_TIME = 0x4,
    RB_USER = 0x8,
    RB_CONTEXT = 0x10,
    RB_LABEL = 0x20,
    RB_REQUIRED = RB_INDEX | RB_TXID | RB_TIME | RB_USER | RB_CONTEXT,
};

/*
 * Decode the items of a rollback-list reply into @p list (calloc'd, @p n entries, n being the
 * number of T_INDEX fields). Returns NULL or the reason the reply is malformed; strings that
 * cannot be copied set @p oom.
 */
static const char *
rollback_decode(const struct proto_msg *m, struct chorus_rollback *list, size_t n, int *oom)
{
    struct chorus_rollback *cur = NULL;
    unsigned seen = 0, bit;
    uint64_t t;

    for (size_t i = 0; i < m->nf; i++) {
        const struct proto_field *f = &m->f[i];
        const char *s;
        char **dst = NULL;

        switch (f->tag) {
        case T_INDEX:
            bit = RB_INDEX;
            break;
        case T_TXID:
            bit = RB_TXID;
            break;
        case T_TIME:
            bit = RB_TIME;
            break;
        case T_USER:
            bit = RB_USER;
            break;
        case T_CONTEXT:
            bit = RB_CONTEXT;
            break;
        case T_LABEL:
            bit = RB_LABEL;
            break;
        default:
            continue; /* unknown tags are ignored */
        }
        if (bit == RB_INDEX) {
            if (cur && (seen & RB_REQUIRED) != RB_REQUIRED) {
                return "incomplete rollback item";
            }
            cur = cur ? cur + 1 : list;
            seen = 0;
        } else if (!cur) {
            return "rollback field before T_INDEX";
        }
        if (seen & bit) {
            return "repeated field in a rollback item";
        }
        seen |= bit;
        switch (bit) {
        case RB_INDEX:
            if (proto_field_u32(f, &cur->index)) {
                return "invalid T_INDEX";
            }
            break;
        case RB_TXID:
            if (proto_field_u64(f, &cur->txid)) {
                return "invalid T_TXID";
            }
            break;
        case RB_TIME:
            if (proto_field_u64(f, &t) || t > INT64_MAX) {
                return "invalid T_TIME";
            }
            cur->time = (int64_t)t;
            break;
        case RB_USER:
            dst = &cur->user;
            break;
        case RB_CONTEXT:
            dst = &cur->context;
            break;
        default:
            dst = &cur->label;
            break;
        }
        if (dst) {
            if (proto_field_str(f, &s)) {
                return "invalid string in a rollback item";
            }
            *dst = strdup(s);
            if (!*dst) {
                *oom = 1;
            }
        }
    }
    if (n && (seen & RB_REQUIRED) != RB_REQUIRED) {
        return "incomplete rollback item";
    }
    return NULL;
}

enum chorus_err
chorus_rollback_list(struct chorus_conn *conn, struct chorus_rollback **ret_list, size_t *ret_count)
{
    struct buf b = BUF_INIT;
    struct conn_reply r = {0};
    struct chorus_rollback *list = NULL;
    enum chorus_err err;
    const char *why;
    size_t n = 0;
    int oom = 0;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!ret_list || !ret_count) {
        return bad_arg(conn, __func__, "ret_list and ret_count are required");
    }
    proto_begin(&b, OP_ROLLBACK_LIST, 0, 0);
    err = conn_call(conn, &b, &r);
    if (err) {
        return err;
    }
    for (size_t i = 0; i < r.m.nf; i++) {
        n += r.m.f[i].tag == T_INDEX;
    }
    if (n) {
        list = calloc(n, sizeof *list);
        if (!list) {
            err = conn_set_error(conn, CHORUS_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    why = rollback_decode(&r.m, list, n, &oom);
    if (why) {
        err = conn_bad_reply(conn, &r, why);
        goto out;
    }
    if (oom) {
        err = conn_set_error(conn, CHORUS_ERR_NOMEM, "out of memory");
        goto out;
    }
    *ret_list = list;
    *ret_count = n;
    list = NULL;
out:
    chorus_rollback_list_free(list, n);
    conn_reply_done(&r);
    return err;
}

void
chorus_rollback_list_free(struct chorus_rollback *list, size_t count)
{
    if (!list) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        free(list[i].user);
        free(list[i].context);
        free(list[i].label);
    }
    free(list);
}

enum chorus_err
chorus_rollback_apply(struct chorus_conn *conn, uint32_t index, uint32_t flags, uint64_t *ret_txid)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (flags & ~(uint32_t)CHORUS_ROLLBACK_SELECTIVE) {
        return bad_arg(conn, __func__, "unknown flags");
    }
    proto_begin(&b, OP_ROLLBACK_APPLY, 0, 0);
    proto_put_u32(&b, T_INDEX, index);
    if (flags) {
        proto_put_u32(&b, T_FLAGS, flags);
    }
    return call_u64(conn, &b, T_TXID, "T_TXID", ret_txid);
}

/* ---- status, stop ---- */

enum chorus_err
chorus_status(struct chorus_conn *conn, char **ret_json)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!ret_json) {
        return bad_arg(conn, __func__, "ret_json is NULL");
    }
    proto_begin(&b, OP_STATUS, 0, 0);
    return call_str(conn, &b, T_STATUS, "T_STATUS", ret_json);
}

enum chorus_err
chorus_stop(struct chorus_conn *conn)
{
    return conn ? op_plain(conn, OP_STOP) : CHORUS_ERR_INVAL;
}

enum chorus_err
chorus_rpc(struct chorus_conn *conn, enum chorus_format format, const char *data,
           char **ret_output)
{
    struct buf b = BUF_INIT;
    struct conn_reply r = {0};
    enum chorus_err err;
    const char *out;
    size_t len;
    char *copy;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!data || !ret_output) {
        return bad_arg(conn, __func__, "data or ret_output is NULL");
    }
    if (format != CHORUS_FMT_XML && format != CHORUS_FMT_JSON) {
        return bad_arg(conn, __func__, "format must be XML or JSON");
    }
    proto_begin(&b, OP_RPC, 0, 0);
    proto_put_u32(&b, T_FORMAT, (uint32_t)format);
    proto_put_data(&b, T_DATA, data, strlen(data));
    err = conn_call(conn, &b, &r);
    if (err) {
        return err;
    }
    if (proto_get_data(&r.m, T_DATA, &out, &len)) {
        err = missing(conn, &r, "T_DATA");
    } else if (!(copy = strdup(out))) {
        err = conn_set_error(conn, CHORUS_ERR_NOMEM, "out of memory");
    } else {
        *ret_output = copy;
    }
    conn_reply_done(&r);
    return err;
}

enum chorus_err
chorus_confirmed_commit(struct chorus_conn *conn, uint32_t timeout_s, const char *persist,
                        const char *persist_id, uint64_t *ret_txid)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!timeout_s) {
        return bad_arg(conn, __func__, "timeout_s must be at least 1");
    }
    proto_begin(&b, OP_CONFIRMED_COMMIT, 0, 0);
    proto_put_u32(&b, T_TIMEOUT, timeout_s);
    proto_put_str(&b, T_PERSIST, persist);
    proto_put_str(&b, T_PERSIST_ID, persist_id);
    return call_u64(conn, &b, T_TXID, "T_TXID", ret_txid);
}

enum chorus_err
chorus_confirm_commit(struct chorus_conn *conn, const char *persist_id, uint64_t *ret_txid)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    proto_begin(&b, OP_CAND_COMMIT, 0, 0);
    proto_put_str(&b, T_PERSIST_ID, persist_id);
    return call_u64(conn, &b, T_TXID, "T_TXID", ret_txid);
}

enum chorus_err
chorus_cancel_commit(struct chorus_conn *conn, const char *persist_id)
{
    struct buf b = BUF_INIT;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    proto_begin(&b, OP_CANCEL_COMMIT, 0, 0);
    proto_put_str(&b, T_PERSIST_ID, persist_id);
    return call_u64(conn, &b, T_TXID, "T_TXID", NULL);
}

enum chorus_err
chorus_lock_holder(struct chorus_conn *conn, enum chorus_db db, uint32_t *ret_usid,
                   char **ret_user, char **ret_context, int64_t *ret_since)
{
    struct buf b = BUF_INIT;
    struct conn_reply r = {0};
    enum chorus_err err;
    uint32_t usid = 0;
    uint64_t since = 0;
    const char *user = NULL, *ctx = NULL;
    char *u = NULL, *x = NULL;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!db_valid(db) || !ret_usid) {
        return bad_arg(conn, __func__, "invalid datastore or ret_usid NULL");
    }
    proto_begin(&b, OP_LOCK_INFO, 0, 0);
    proto_put_u32(&b, T_DB, (uint32_t)db);
    err = conn_call(conn, &b, &r);
    if (err) {
        return err;
    }
    if (!proto_get_u32(&r.m, T_USID, &usid) &&
        (proto_get_str(&r.m, T_USER, &user) || proto_get_str(&r.m, T_CONTEXT, &ctx) ||
         proto_get_u64(&r.m, T_TIME, &since))) {
        err = missing(conn, &r, "T_USER, T_CONTEXT or T_TIME");
        goto out;
    }
    if ((ret_user && user && !(u = strdup(user))) || (ret_context && ctx && !(x = strdup(ctx)))) {
        free(u);
        free(x);
        err = conn_set_error(conn, CHORUS_ERR_NOMEM, "out of memory");
        goto out;
    }
    *ret_usid = usid;
    if (ret_user) {
        *ret_user = u;
    }
    if (ret_context) {
        *ret_context = x;
    }
    if (ret_since) {
        *ret_since = (int64_t)since;
    }
out:
    conn_reply_done(&r);
    return err;
}
