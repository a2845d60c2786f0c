/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the IPC frame decoder: arbitrary bytes go through proto_hdr_parse(),
 * proto_body_parse() and every typed accessor, as a receiver (chorusd or libchorus) would
 * apply them. The body is copied into a buffer of exactly its length so that AddressSanitizer
 * catches any read past it; the accessors' results are checked to lie inside the body.
 *
 * Input layout: the first byte picks the field limit (to reach CHORUS_ERR_TOOBIG cheaply), the
 * rest is a frame: a 12-byte header, then the body, cut to what the header announces. A header
 * announcing more than the input holds must be refused; the rest of the input is then decoded
 * as a body anyway, so that the body decoder sees every input.
 *
 * Seed corpus: tests/fuzz/corpus/frame/. Run: fuzz_frame -max_total_time=60 corpus/frame
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

/* Checks that hold whatever NDEBUG says. */
#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *body_lo, *body_hi;

static void
check_inside(const void *p, size_t len)
{
    const uint8_t *b = p;

    CHECK(b >= body_lo && b <= body_hi && len <= (size_t)(body_hi - b));
}

static void
check_field(const struct proto_field *f)
{
    const char *s;
    uint32_t u32;
    uint64_t u64;

    CHECK(f->tag != 0);
    check_inside(f->val, f->len);
    if (proto_field_u32(f, &u32) == CHORUS_OK) {
        CHECK(f->len == 4);
    }
    if (proto_field_u64(f, &u64) == CHORUS_OK) {
        CHECK(f->len == 8);
    }
    if (proto_field_str(f, &s) == CHORUS_OK) {
        CHECK(strlen(s) + 1 == f->len);
        check_inside(s, f->len);
    }
}

/* Accessors by tag, for the tag of each field and for a few fixed ones. */
static void
check_tag(const struct proto_msg *m, uint16_t tag)
{
    const char *s, *d;
    uint32_t u32;
    uint64_t u64;
    size_t len;

    (void)proto_get_u32(m, tag, &u32);
    (void)proto_get_u64(m, tag, &u64);
    if (proto_get_str(m, tag, &s) == CHORUS_OK) {
        check_inside(s, strlen(s) + 1);
    }
    if (proto_get_data(m, tag, &d, &len) == CHORUS_OK) {
        check_inside(d, len + 1);
        CHECK(d[len] == 0);
    }
}

/* Walk error items the way a client does: an item starts at each T_ERR_CODE. */
static void
walk_error_items(const struct proto_msg *m)
{
    size_t items = 0;

    for (size_t i = 0; i < m->nf; i++) {
        const char *s;
        uint32_t code;

        switch (m->f[i].tag) {
        case T_ERR_CODE:
            if (proto_field_u32(&m->f[i], &code) == CHORUS_OK) {
                items++;
            }
            break;
        case T_ERR_MSG:
        case T_ERR_PATH:
        case T_ERR_APPTAG:
            if (items && proto_field_str(&m->f[i], &s) == CHORUS_OK) {
                check_inside(s, strlen(s) + 1);
            }
            break;
        default:
            break;
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t fixed[] = {T_PROTO_VERSION, T_NAME,   T_MODSET, T_ERR_CODE,
                                     T_ERR_MSG,       T_TH,     T_PATH,   T_DATA,
                                     T_TXID,          T_STATUS, T_INDEX,  0xffff};
    struct proto_msg m = {0};
    uint16_t op, flags;
    uint32_t len, reqid;
    size_t max_fields;
    uint8_t *body;
    enum chorus_err err;

    if (size < 1 + PROTO_HDR_LEN) {
        return 0;
    }
    max_fields = data[0] == 0 ? PROTO_MAX_FIELDS : data[0];
    data++;
    size--;
    if (size - PROTO_HDR_LEN > PROTO_MAX_FRAME) {
        return 0;
    }
    err = proto_hdr_parse(data, (uint32_t)(size - PROTO_HDR_LEN), &len, &op, &flags, &reqid);
    if (err != CHORUS_OK) {
        CHECK(err == CHORUS_ERR_TOOBIG && rd_u32(data) > size - PROTO_HDR_LEN);
        len = (uint32_t)(size - PROTO_HDR_LEN);
        op = flags = 0;
        reqid = 0;
    }
    CHECK(len <= size - PROTO_HDR_LEN);

    body = malloc(len ? len : 1);
    if (!body) {
        return 0;
    }
    memcpy(body, data + PROTO_HDR_LEN, len);
    body_lo = body;
    body_hi = body + len;
    err = proto_body_parse(body, len, max_fields, &m);
    if (err == CHORUS_OK) {
        CHECK(m.nf <= max_fields && m.nf <= len / PROTO_FIELD_HDR_LEN);
        m.op = op;
        m.flags = flags;
        m.reqid = reqid;
        for (size_t i = 0; i < m.nf; i++) {
            check_field(&m.f[i]);
            check_tag(&m, m.f[i].tag);
        }
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
            check_tag(&m, fixed[i]);
        }
        walk_error_items(&m);
        (void)proto_op_name(op);
        proto_msg_done(&m);
    } else {
        CHECK(err == CHORUS_ERR_PROTO || err == CHORUS_ERR_TOOBIG || err == CHORUS_ERR_NOMEM);
        CHECK(m.f == NULL && m.nf == 0);
    }
    free(body);
    return 0;
}
