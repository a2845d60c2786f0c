/* SPDX-License-Identifier: Apache-2.0 */
/* IPC frame codec; see proto.h and docs/protocol.md. */
#include "proto.h"

#include <stdlib.h>
#include <string.h>

size_t
proto_begin(struct buf *b, uint16_t op, uint16_t flags, uint32_t reqid)
{
    size_t off = b->len;

    buf_put_u32(b, 0); /* body length, filled by proto_end() */
    buf_put_u16(b, op);
    buf_put_u16(b, flags);
    buf_put_u32(b, reqid);
    return off;
}

static void
put_field_hdr(struct buf *b, uint16_t tag, uint32_t len)
{
    buf_put_u16(b, tag);
    buf_put_u32(b, len);
}

void
proto_put_u32(struct buf *b, uint16_t tag, uint32_t v)
{
    put_field_hdr(b, tag, 4);
    buf_put_u32(b, v);
}

void
proto_put_u64(struct buf *b, uint16_t tag, uint64_t v)
{
    put_field_hdr(b, tag, 8);
    buf_put_u64(b, v);
}

void
proto_put_str(struct buf *b, uint16_t tag, const char *s)
{
    if (s) {
        proto_put_data(b, tag, s, strlen(s));
    }
}

void
proto_put_data(struct buf *b, uint16_t tag, const void *data, size_t len)
{
    static const uint8_t nul;

    if (len >= PROTO_MAX_FRAME) {
        b->oom = 1;
        return;
    }
    put_field_hdr(b, tag, (uint32_t)len + 1);
    buf_append(b, data, len);
    buf_append(b, &nul, 1);
}

int
proto_end(struct buf *b, size_t off)
{
    size_t body;

    if (!buf_ok(b)) {
        return -1;
    }
    body = b->len - off - PROTO_HDR_LEN;
    if (body > PROTO_MAX_FRAME) {
        return -1;
    }
    wr_u32(b->p + off, (uint32_t)body);
    return 0;
}

void
proto_put_error(struct buf *b, enum chorus_err code, const char *msg, const char *path,
                const char *app_tag)
{
    proto_put_u32(b, T_ERR_CODE, (uint32_t)code);
    proto_put_str(b, T_ERR_MSG, msg ? msg : chorus_strerror(code));
    proto_put_str(b, T_ERR_PATH, path);
    proto_put_str(b, T_ERR_APPTAG, app_tag);
}

enum chorus_err
proto_hdr_parse(const uint8_t hdr[PROTO_HDR_LEN], uint32_t max_body, uint32_t *ret_len,
                uint16_t *ret_op, uint16_t *ret_flags, uint32_t *ret_reqid)
{
    uint32_t len = rd_u32(hdr);

    if (len > max_body || len > PROTO_MAX_FRAME) {
        return CHORUS_ERR_TOOBIG;
    }
    *ret_len = len;
    *ret_op = rd_u16(hdr + 4);
    *ret_flags = rd_u16(hdr + 6);
    *ret_reqid = rd_u32(hdr + 8);
    return CHORUS_OK;
}

enum chorus_err
proto_body_parse(const uint8_t *body, uint32_t len, size_t max_fields, struct proto_msg *m)
{
    size_t pos = 0, n = 0, cap = 0;
    struct proto_field *f = NULL, *nf;

    if (max_fields > PROTO_MAX_FIELDS) {
        max_fields = PROTO_MAX_FIELDS;
    }
    while (pos < len) {
        uint16_t tag;
        uint32_t flen;

        if (len - pos < PROTO_FIELD_HDR_LEN) {
            goto malformed;
        }
        tag = rd_u16(body + pos);
        flen = rd_u32(body + pos + 2);
        pos += PROTO_FIELD_HDR_LEN;
        if (!tag || flen > len - pos) {
            goto malformed;
        }
        if (n == max_fields) {
            free(f);
            return CHORUS_ERR_TOOBIG;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            nf = realloc(f, cap * sizeof *f);
            if (!nf) {
                free(f);
                return CHORUS_ERR_NOMEM;
            }
            f = nf;
        }
        f[n].tag = tag;
        f[n].len = flen;
        f[n].val = body + pos;
        n++;
        pos += flen;
    }
    m->f = f;
    m->nf = n;
    return CHORUS_OK;

malformed:
    free(f);
    return CHORUS_ERR_PROTO;
}

void
proto_msg_done(struct proto_msg *m)
{
    if (m) {
        free(m->f);
        m->f = NULL;
        m->nf = 0;
    }
}

static const struct proto_field *
find(const struct proto_msg *m, uint16_t tag)
{
    for (size_t i = 0; i < m->nf; i++) {
        if (m->f[i].tag == tag) {
            return &m->f[i];
        }
    }
    return NULL;
}

enum chorus_err
proto_field_u32(const struct proto_field *f, uint32_t *v)
{
    if (f->len != 4) {
        return CHORUS_ERR_PROTO;
    }
    *v = rd_u32(f->val);
    return CHORUS_OK;
}

enum chorus_err
proto_field_u64(const struct proto_field *f, uint64_t *v)
{
    if (f->len != 8) {
        return CHORUS_ERR_PROTO;
    }
    *v = rd_u64(f->val);
    return CHORUS_OK;
}

enum chorus_err
proto_field_str(const struct proto_field *f, const char **s)
{
    if (!f->len || f->val[f->len - 1] || memchr(f->val, 0, f->len - 1)) {
        return CHORUS_ERR_PROTO;
    }
    *s = (const char *)f->val;
    return CHORUS_OK;
}

enum chorus_err
proto_get_u32(const struct proto_msg *m, uint16_t tag, uint32_t *v)
{
    const struct proto_field *f = find(m, tag);

    return f ? proto_field_u32(f, v) : CHORUS_ERR_NOTFOUND;
}

enum chorus_err
proto_get_u64(const struct proto_msg *m, uint16_t tag, uint64_t *v)
{
    const struct proto_field *f = find(m, tag);

    return f ? proto_field_u64(f, v) : CHORUS_ERR_NOTFOUND;
}

enum chorus_err
proto_get_str(const struct proto_msg *m, uint16_t tag, const char **s)
{
    const struct proto_field *f = find(m, tag);

    return f ? proto_field_str(f, s) : CHORUS_ERR_NOTFOUND;
}

enum chorus_err
proto_get_data(const struct proto_msg *m, uint16_t tag, const char **data, size_t *len)
{
    const struct proto_field *f = find(m, tag);

    if (!f) {
        return CHORUS_ERR_NOTFOUND;
    }
    if (!f->len || f->val[f->len - 1]) {
        return CHORUS_ERR_PROTO;
    }
    *data = (const char *)f->val;
    *len = f->len - 1;
    return CHORUS_OK;
}

const char *
proto_op_name(uint16_t op)
{
    switch (op) {
    case OP_HELLO:
        return "hello";
    case OP_SESSION_START:
        return "session-start";
    case OP_SESSION_END:
        return "session-end";
    case OP_AUTH:
        return "auth";
    case OP_TRANS_START:
        return "trans-start";
    case OP_TRANS_ATTACH_INIT:
        return "trans-attach-init";
    case OP_TRANS_FINISH:
        return "trans-finish";
    case OP_GET:
        return "get";
    case OP_GET_VALUE:
        return "get-value";
    case OP_EXISTS:
        return "exists";
    case OP_NUM_INSTANCES:
        return "num-instances";
    case OP_SET:
        return "set";
    case OP_CREATE:
        return "create";
    case OP_DELETE:
        return "delete";
    case OP_EDIT:
        return "edit";
    case OP_VALIDATE:
        return "validate";
    case OP_PREPARE:
        return "prepare";
    case OP_COMMIT:
        return "commit";
    case OP_ABORT:
        return "abort";
    case OP_APPLY:
        return "apply";
    case OP_LOCK:
        return "lock";
    case OP_UNLOCK:
        return "unlock";
    case OP_CAND_COMMIT:
        return "candidate-commit";
    case OP_CAND_DISCARD:
        return "candidate-discard";
    case OP_PHASE_GET:
        return "phase-get";
    case OP_START_PHASE:
        return "start-phase";
    case OP_WAIT_START:
        return "wait-start";
    case OP_TXID:
        return "txid";
    case OP_ROLLBACK_LIST:
        return "rollback-list";
    case OP_ROLLBACK_APPLY:
        return "rollback-apply";
    case OP_STATUS:
        return "status";
    case OP_STOP:
        return "stop";
    case OP_SCHEMAS:
        return "schemas";
    case OP_SUBSCRIBE:
        return "subscribe";
    case OP_UNSUBSCRIBE:
        return "unsubscribe";
    case OP_EV_REPLY:
        return "event-reply";
    case OP_RPC:
        return "rpc";
    case OP_CURSOR:
        return "cursor";
    case OP_LOCK_INFO:
        return "lock-info";
    case OP_CONFIRMED_COMMIT:
        return "confirmed-commit";
    case OP_CANCEL_COMMIT:
        return "cancel-commit";
    case EV_PREPARE:
        return "prepare-event";
    case EV_COMMIT:
        return "commit-event";
    case EV_ABORT:
        return "abort-event";
    case EV_HOOK:
        return "hook-event";
    case EV_VALIDATE:
        return "validate-event";
    case EV_OPER:
        return "oper-event";
    case EV_RPC:
        return "rpc-event";
    default:
        return "unknown";
    }
}
