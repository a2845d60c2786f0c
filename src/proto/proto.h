/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPC frame codec shared by libchorus and chorusd. The format is specified in
 * docs/protocol.md; this file is its single implementation.
 *
 * A frame is a 12-byte header (u32 body length, u16 operation, u16 flags, u32 request id, all
 * big-endian) followed by a body of fields (u16 tag, u32 length, value). Strings and data are
 * sent with a terminating NUL included in the length, so decoded values are usable in place.
 *
 * Decoding never trusts the input: the body length is checked against the receiver's limit
 * before the body is read (proto_hdr_parse), every field must lie inside the body, and typed
 * accessors check sizes and NUL termination. The decoder does not allocate except for the
 * field index, bounded by PROTO_MAX_FIELDS.
 */
#ifndef CHORUS_PROTO_H
#define CHORUS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "chorus/chorus.h"

#define PROTO_HDR_LEN 12
#define PROTO_FIELD_HDR_LEN 6
/* Hard upper bounds; the daemon's configured limits are lower or equal. */
#define PROTO_MAX_FRAME ((1u << 31) - 1)
#define PROTO_MAX_FIELDS 65536

/* Frame flags. */
#define PF_REPLY 0x1 /* a reply to request `reqid` */
#define PF_ERROR 0x2 /* with PF_REPLY: the request failed; body holds error items */
#define PF_EVENT 0x4 /* an unsolicited event (subscriptions); reqid 0 */

/* Operations. Stable numbers. */
enum proto_op {
    OP_HELLO = 1,
    OP_SESSION_START = 2,
    OP_SESSION_END = 3,
    OP_AUTH = 4,
    OP_TRANS_START = 10,
    OP_TRANS_ATTACH_INIT = 11,
    OP_TRANS_FINISH = 12,
    OP_GET = 20,
    OP_GET_VALUE = 21,
    OP_EXISTS = 22,
    OP_NUM_INSTANCES = 23,
    OP_SET = 30,
    OP_CREATE = 31,
    OP_DELETE = 32,
    OP_EDIT = 33,
    OP_VALIDATE = 40,
    OP_PREPARE = 41,
    OP_COMMIT = 42,
    OP_ABORT = 43,
    OP_APPLY = 44,
    OP_LOCK = 50,
    OP_UNLOCK = 51,
    OP_CAND_COMMIT = 52,
    OP_CAND_DISCARD = 53,
    OP_PHASE_GET = 60,
    OP_START_PHASE = 61,
    OP_WAIT_START = 62,
    OP_TXID = 63,
    OP_ROLLBACK_LIST = 70,
    OP_ROLLBACK_APPLY = 71,
    OP_STATUS = 80,
    OP_STOP = 81,
    OP_SCHEMAS = 90,     /* the module texts, for the client's libyang context */
    OP_SUBSCRIBE = 91,   /* register a subscription, hook, validator, data provider, handler */
    OP_UNSUBSCRIBE = 92,
    OP_EV_REPLY = 93,    /* the application's answer to an event */
    OP_RPC = 94,         /* invoke an RPC or action */
    OP_CURSOR = 95,      /* the next chunk of list entries */
    OP_LOCK_INFO = 96,   /* who holds a datastore lock */
    OP_CONFIRMED_COMMIT = 97,
    OP_CANCEL_COMMIT = 98,
    OP_EVENT = 99,       /* reserved */
};

/* Events (frames with PF_EVENT; the request id field carries the event id). */
enum proto_ev {
    EV_PREPARE = 100,  /* two-phase subscribers: may abort */
    EV_COMMIT = 101,   /* every subscriber, after the commit is durable */
    EV_ABORT = 102,    /* subscribers that saw PREPARE, in reverse order */
    EV_HOOK = 103,     /* transaction hooks: may write into the transaction */
    EV_VALIDATE = 104, /* validation callbacks: may veto */
    EV_OPER = 105,     /* operational-data callbacks: answer with data */
    EV_RPC = 106,      /* RPC/action handlers: answer with output */
    EV_TRANS_INIT = 107,
    EV_TRANS_LOCK = 108,
    EV_TRANS_FINISH = 109,
    EV_LOCK = 110,
    EV_UNLOCK = 111,
};

/* Field tags. Stable numbers; the type of each is fixed (see docs/protocol.md). */
enum proto_tag {
    T_PROTO_VERSION = 1, /* u32 */
    T_NAME = 2,          /* str: client or server name */
    T_LY_VERSION = 3,    /* str: libyang version */
    T_MODSET = 4,        /* bytes: module-set digest */
    T_CHALLENGE = 5,     /* str: 64 hex digits the client must answer (shared secret) */
    T_AUTH = 6,          /* str: hex HMAC-SHA256 of the challenge, keyed by the secret */
    T_ERR_CODE = 10,     /* u32: starts an error item */
    T_ERR_MSG = 11,      /* str */
    T_ERR_PATH = 12,     /* str */
    T_ERR_APPTAG = 13,   /* str */
    T_USER = 20,         /* str */
    T_CONTEXT = 21,      /* str */
    T_GROUP = 22,        /* str, repeated */
    T_SRCADDR = 23,      /* str */
    T_USID = 24,         /* u32 */
    T_DB = 30,           /* u32: enum chorus_db */
    T_RW = 31,           /* u32: 0 read-only, 1 read-write */
    T_TH = 32,           /* u32: transaction handle */
    T_PATH = 40,         /* str: data path */
    T_VALUE = 41,        /* str: canonical or lexical value */
    T_FORMAT = 42,       /* u32: enum chorus_format */
    T_FLAGS = 43,        /* u32 */
    T_DATA = 44,         /* data (NUL-terminated text, or LYB bytes + NUL) */
    T_EDIT_OP = 45,      /* u32: enum chorus_edit_op */
    T_BOOL = 46,         /* u32: 0 or 1 */
    T_COUNT = 47,        /* u64 */
    T_TXID = 50,         /* u64 */
    T_PHASE = 51,        /* u32 */
    T_INDEX = 52,        /* u32: starts a rollback item */
    T_TIME = 53,         /* u64: seconds since the epoch */
    T_LABEL = 54,        /* str */
    T_STATUS = 60,       /* str: JSON */
    T_SUBID = 70,        /* u32: subscription id */
    T_SUBKIND = 71,      /* u32: enum chorus_sub_kind */
    T_PRIORITY = 72,     /* u32: priority (lower first), as a two's complement int32 */
    T_EVID = 73,         /* u32: event id */
    T_MODNAME = 74,      /* str: starts a module item (OP_SCHEMAS) */
    T_REVISION = 75,     /* str */
    T_FEATURE = 76,      /* str, repeated */
    T_IMPLEMENTED = 77,  /* u32: 0 or 1 */
    T_KEY = 78,          /* str: data path of the last entry returned (cursors) */
    T_TIMEOUT = 79,      /* u32: seconds */
    T_PERSIST = 80,      /* str: persist token (confirmed commit) */
    T_PERSIST_ID = 81,   /* str: persist-id given to confirm or cancel */
};

struct proto_field {
    uint16_t tag;
    uint32_t len;
    const uint8_t *val;
};

/* A decoded frame: a view into the caller's buffer plus a field index (owned). */
struct proto_msg {
    uint16_t op;
    uint16_t flags;
    uint32_t reqid;
    struct proto_field *f;
    size_t nf;
};

/* ---- encoding ---- */

/* Start a frame in @p b (appended; @p b may hold earlier frames). Returns the frame's offset. */
size_t proto_begin(struct buf *b, uint16_t op, uint16_t flags, uint32_t reqid);
void proto_put_u32(struct buf *b, uint16_t tag, uint32_t v);
void proto_put_u64(struct buf *b, uint16_t tag, uint64_t v);
/* A string; NULL puts nothing. */
void proto_put_str(struct buf *b, uint16_t tag, const char *s);
/* Data of @p len bytes; a NUL is appended on the wire. */
void proto_put_data(struct buf *b, uint16_t tag, const void *data, size_t len);
/* Finish the frame started at @p off: writes the body length. Returns 0 or -1 (OOM or the
 * body is larger than PROTO_MAX_FRAME). */
int proto_end(struct buf *b, size_t off);
/* Append one error item. */
void proto_put_error(struct buf *b, enum chorus_err code, const char *msg, const char *path,
                     const char *app_tag);

/* ---- decoding ---- */

/* Parse a header; checks the body length against @p max_body.
 * Returns CHORUS_OK or CHORUS_ERR_TOOBIG. */
enum chorus_err proto_hdr_parse(const uint8_t hdr[PROTO_HDR_LEN], uint32_t max_body,
                                uint32_t *ret_len, uint16_t *ret_op, uint16_t *ret_flags,
                                uint32_t *ret_reqid);
/* Index the fields of a body. Returns CHORUS_OK, CHORUS_ERR_PROTO (malformed: a field
 * overruns the body, tag 0) or CHORUS_ERR_TOOBIG (more than @p max_fields fields) or
 * CHORUS_ERR_NOMEM. On success free with proto_msg_done(). */
enum chorus_err proto_body_parse(const uint8_t *body, uint32_t len, size_t max_fields,
                                 struct proto_msg *m);
void proto_msg_done(struct proto_msg *m);

/* Typed accessors of the first field with @p tag.
 * Return CHORUS_OK, CHORUS_ERR_NOTFOUND (absent) or CHORUS_ERR_PROTO (wrong size, missing
 * NUL, embedded NUL in a string). */
enum chorus_err proto_get_u32(const struct proto_msg *m, uint16_t tag, uint32_t *v);
enum chorus_err proto_get_u64(const struct proto_msg *m, uint16_t tag, uint64_t *v);
enum chorus_err proto_get_str(const struct proto_msg *m, uint16_t tag, const char **s);
/* Data: @p data is NUL-terminated, @p len excludes the NUL. */
enum chorus_err proto_get_data(const struct proto_msg *m, uint16_t tag, const char **data,
                               size_t *len);
/* Field-level accessors for iterating repeated groups. */
enum chorus_err proto_field_u32(const struct proto_field *f, uint32_t *v);
enum chorus_err proto_field_u64(const struct proto_field *f, uint64_t *v);
enum chorus_err proto_field_str(const struct proto_field *f, const char **s);

const char *proto_op_name(uint16_t op);

#endif
