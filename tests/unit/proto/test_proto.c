/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the IPC frame codec (src/proto): encode/decode round trips of every field
 * type, the header's body-length limit, malformed bodies, string and integer checks of the
 * typed accessors, the field-count limit, and repeated error items.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto.h"

/* Split a frame built in @p b at offset 0 into header fields and decoded body. */
static void
decode(const struct buf *b, uint32_t max_body, struct proto_msg *m)
{
    uint32_t len;

    assert_true(b->len >= PROTO_HDR_LEN);
    assert_int_equal(proto_hdr_parse(b->p, max_body, &len, &m->op, &m->flags, &m->reqid),
                     CHORUS_OK);
    assert_int_equal(len, b->len - PROTO_HDR_LEN);
    assert_int_equal(proto_body_parse(b->p + PROTO_HDR_LEN, len, PROTO_MAX_FIELDS, m), CHORUS_OK);
}

/* Append raw bytes of a field header. */
static void
raw_field(struct buf *b, uint16_t tag, uint32_t len)
{
    buf_put_u16(b, tag);
    buf_put_u32(b, len);
}

static void
test_roundtrip(void **state)
{
    static const char lyb[] = {'\x01', '\0', '\x02', '\xff'};
    struct buf b = BUF_INIT;
    struct proto_msg m = {0};
    const char *s, *data;
    uint32_t u32;
    uint64_t u64;
    size_t off, len;

    off = proto_begin(&b, OP_GET, PF_REPLY, 0xdeadbeef);
    assert_int_equal(off, 0);
    proto_put_u32(&b, T_TH, 0xfedcba98u);
    proto_put_u64(&b, T_TXID, 0x0123456789abcdefull);
    proto_put_str(&b, T_PATH, "/routes:active-cfg/routes/route[id='1']");
    proto_put_str(&b, T_VALUE, "");
    proto_put_str(&b, T_LABEL, NULL); /* puts nothing */
    proto_put_data(&b, T_DATA, "<a/>xyz", 4);
    proto_put_data(&b, T_MODSET, lyb, sizeof lyb);
    proto_put_u32(&b, 999, 5); /* unknown tag: decoded, ignored by users */
    assert_int_equal(proto_end(&b, off), 0);
    assert_true(buf_ok(&b));

    decode(&b, PROTO_MAX_FRAME, &m);
    assert_int_equal(m.op, OP_GET);
    assert_int_equal(m.flags, PF_REPLY);
    assert_int_equal(m.reqid, 0xdeadbeef);
    assert_int_equal(m.nf, 7);

    assert_int_equal(proto_get_u32(&m, T_TH, &u32), CHORUS_OK);
    assert_int_equal(u32, 0xfedcba98u);
    assert_int_equal(proto_get_u64(&m, T_TXID, &u64), CHORUS_OK);
    assert_true(u64 == 0x0123456789abcdefull);
    assert_int_equal(proto_get_str(&m, T_PATH, &s), CHORUS_OK);
    assert_string_equal(s, "/routes:active-cfg/routes/route[id='1']");
    assert_int_equal(proto_get_str(&m, T_VALUE, &s), CHORUS_OK);
    assert_string_equal(s, "");
    assert_int_equal(proto_get_str(&m, T_LABEL, &s), CHORUS_ERR_NOTFOUND);
    assert_int_equal(proto_get_data(&m, T_DATA, &data, &len), CHORUS_OK);
    assert_int_equal(len, 4);
    assert_string_equal(data, "<a/>");
    /* Binary data may hold NULs; only the terminating one is checked. */
    assert_int_equal(proto_get_data(&m, T_MODSET, &data, &len), CHORUS_OK);
    assert_int_equal(len, sizeof lyb);
    assert_memory_equal(data, lyb, sizeof lyb);
    assert_int_equal(data[len], 0);
    assert_int_equal(proto_get_u32(&m, 999, &u32), CHORUS_OK);
    assert_int_equal(u32, 5);
    assert_int_equal(proto_get_u32(&m, T_USID, &u32), CHORUS_ERR_NOTFOUND);
    assert_int_equal(proto_get_u64(&m, T_COUNT, &u64), CHORUS_ERR_NOTFOUND);
    assert_int_equal(proto_get_data(&m, T_STATUS, &data, &len), CHORUS_ERR_NOTFOUND);

    proto_msg_done(&m);
    assert_null(m.f);
    proto_msg_done(&m); /* idempotent */
    proto_msg_done(NULL);
    buf_free(&b);
}

static void
test_extremes(void **state)
{
    struct buf b = BUF_INIT;
    struct proto_msg m = {0};
    uint32_t u32;
    uint64_t u64;

    proto_begin(&b, 0xffff, 0xffff, 0xffffffffu);
    proto_put_u32(&b, 0xffff, 0);
    proto_put_u64(&b, T_COUNT, UINT64_MAX);
    proto_put_u64(&b, T_TIME, 0);
    assert_int_equal(proto_end(&b, 0), 0);
    decode(&b, PROTO_MAX_FRAME, &m);
    assert_int_equal(m.op, 0xffff);
    assert_int_equal(m.flags, 0xffff);
    assert_int_equal(m.reqid, 0xffffffffu);
    assert_int_equal(proto_get_u32(&m, 0xffff, &u32), CHORUS_OK);
    assert_int_equal(u32, 0);
    assert_int_equal(proto_get_u64(&m, T_COUNT, &u64), CHORUS_OK);
    assert_true(u64 == UINT64_MAX);
    assert_int_equal(proto_get_u64(&m, T_TIME, &u64), CHORUS_OK);
    assert_true(u64 == 0);
    proto_msg_done(&m);
    buf_free(&b);
}

static void
test_empty_body(void **state)
{
    struct buf b = BUF_INIT;
    struct proto_msg m = {0};
    const char *s;

    proto_begin(&b, OP_SESSION_END, 0, 1);
    assert_int_equal(proto_end(&b, 0), 0);
    assert_int_equal(b.len, PROTO_HDR_LEN);
    assert_int_equal(rd_u32(b.p), 0);
    decode(&b, 0, &m);
    assert_int_equal(m.nf, 0);
    assert_int_equal(proto_get_str(&m, T_PATH, &s), CHORUS_ERR_NOTFOUND);
    proto_msg_done(&m);
    buf_free(&b);
}

/* Several frames in one buffer; each one's length covers only its own body. */
static void
test_two_frames(void **state)
{
    struct buf b = BUF_INIT;
    struct proto_msg m = {0};
    uint16_t op, flags;
    uint32_t len, reqid, v;
    size_t off1, off2;

    off1 = proto_begin(&b, OP_TXID, 0, 1);
    assert_int_equal(proto_end(&b, off1), 0);
    off2 = proto_begin(&b, OP_TRANS_FINISH, 0, 2);
    assert_int_equal(off2, PROTO_HDR_LEN);
    proto_put_u32(&b, T_TH, 77);
    assert_int_equal(proto_end(&b, off2), 0);

    assert_int_equal(proto_hdr_parse(b.p, 1000, &len, &op, &flags, &reqid), CHORUS_OK);
    assert_int_equal(len, 0);
    assert_int_equal(op, OP_TXID);
    assert_int_equal(reqid, 1);
    assert_int_equal(proto_hdr_parse(b.p + off2, 1000, &len, &op, &flags, &reqid), CHORUS_OK);
    assert_int_equal(len, PROTO_FIELD_HDR_LEN + 4);
    assert_int_equal(op, OP_TRANS_FINISH);
    assert_int_equal(reqid, 2);
    assert_int_equal(proto_body_parse(b.p + off2 + PROTO_HDR_LEN, len, 16, &m), CHORUS_OK);
    assert_int_equal(proto_get_u32(&m, T_TH, &v), CHORUS_OK);
    assert_int_equal(v, 77);
    proto_msg_done(&m);
    buf_free(&b);
}

static void
test_hdr_limit(void **state)
{
    uint8_t hdr[PROTO_HDR_LEN] = {0};
    uint16_t op = 1, flags = 2;
    uint32_t len = 3, reqid = 4;

    wr_u32(hdr, 100);
    hdr[5] = OP_STATUS;
    hdr[7] = PF_REPLY;
    wr_u32(hdr + 8, 9);
    assert_int_equal(proto_hdr_parse(hdr, 100, &len, &op, &flags, &reqid), CHORUS_OK);
    assert_int_equal(len, 100);
    assert_int_equal(op, OP_STATUS);
    assert_int_equal(flags, PF_REPLY);
    assert_int_equal(reqid, 9);

    /* Over the receiver's limit: nothing is written. */
    len = 3;
    op = 1;
    wr_u32(hdr, 101);
    assert_int_equal(proto_hdr_parse(hdr, 100, &len, &op, &flags, &reqid), CHORUS_ERR_TOOBIG);
    assert_int_equal(len, 3);
    assert_int_equal(op, 1);
    wr_u32(hdr, 1);
    assert_int_equal(proto_hdr_parse(hdr, 0, &len, &op, &flags, &reqid), CHORUS_ERR_TOOBIG);
    /* The hard bound applies whatever the caller's limit. */
    wr_u32(hdr, 0xffffffffu);
    assert_int_equal(proto_hdr_parse(hdr, 0xffffffffu, &len, &op, &flags, &reqid),
                     CHORUS_ERR_TOOBIG);
    wr_u32(hdr, PROTO_MAX_FRAME + 1);
    assert_int_equal(proto_hdr_parse(hdr, 0xffffffffu, &len, &op, &flags, &reqid),
                     CHORUS_ERR_TOOBIG);
}

/* A body that does not parse leaves the message untouched. */
static void
expect_body_err(const struct buf *b, size_t max_fields, enum chorus_err want)
{
    struct proto_msg m = {.nf = 12345};

    assert_int_equal(proto_body_parse(b->p, (uint32_t)b->len, max_fields, &m), want);
    assert_int_equal(m.nf, 12345);
    assert_null(m.f);
}

static void
test_malformed(void **state)
{
    struct buf b = BUF_INIT;

    /* a field overrunning the body */
    proto_put_u32(&b, T_TH, 1);
    raw_field(&b, T_PATH, 10);
    buf_append(&b, "abc", 3);
    expect_body_err(&b, PROTO_MAX_FIELDS, CHORUS_ERR_PROTO);
    buf_reset(&b);

    /* a length that overflows a 32-bit position */
    raw_field(&b, T_PATH, 0xffffffffu);
    buf_append(&b, "x", 1);
    expect_body_err(&b, PROTO_MAX_FIELDS, CHORUS_ERR_PROTO);
    buf_reset(&b);

    /* tag 0, even with a valid length */
    proto_put_u32(&b, T_TH, 1);
    proto_put_u32(&b, 0, 1);
    expect_body_err(&b, PROTO_MAX_FIELDS, CHORUS_ERR_PROTO);
    buf_reset(&b);

    /* a truncated field header (1..5 bytes) after a valid field */
    for (size_t cut = 1; cut < PROTO_FIELD_HDR_LEN; cut++) {
        buf_reset(&b);
        proto_put_u32(&b, T_TH, 1);
        raw_field(&b, T_PATH, 0);
        b.len -= PROTO_FIELD_HDR_LEN - cut;
        expect_body_err(&b, PROTO_MAX_FIELDS, CHORUS_ERR_PROTO);
    }
    buf_free(&b);
}

static void
test_str_checks(void **state)
{
    struct buf b = BUF_INIT;
    struct proto_msg m = {0};
    const char *s = "unchanged", *data = "unchanged";
    size_t len = 99;

    raw_field(&b, T_PATH, 3); /* no NUL */
    buf_append(&b, "abc", 3);
    raw_field(&b, T_VALUE, 4); /* embedded NUL */
    buf_append(&b, "a\0b\0", 4);
    raw_field(&b, T_USER, 0); /* empty: not even the NUL */
    raw_field(&b, T_DATA, 2); /* data without its NUL */
    buf_append(&b, "ab", 2);
    raw_field(&b, T_STATUS, 0);  /* empty data */
    raw_field(&b, T_CONTEXT, 1); /* "" is valid */
    buf_append(&b, "", 1);
    assert_int_equal(proto_body_parse(b.p, (uint32_t)b.len, 100, &m), CHORUS_OK);
    assert_int_equal(m.nf, 6);

    assert_int_equal(proto_get_str(&m, T_PATH, &s), CHORUS_ERR_PROTO);
    assert_int_equal(proto_get_str(&m, T_VALUE, &s), CHORUS_ERR_PROTO);
    assert_int_equal(proto_get_str(&m, T_USER, &s), CHORUS_ERR_PROTO);
    assert_string_equal(s, "unchanged");
    assert_int_equal(proto_get_data(&m, T_DATA, &data, &len), CHORUS_ERR_PROTO);
    assert_int_equal(proto_get_data(&m, T_STATUS, &data, &len), CHORUS_ERR_PROTO);
    assert_string_equal(data, "unchanged");
    assert_int_equal(len, 99);
    /* Data may contain NULs before the last byte; strings may not. */
    assert_int_equal(proto_get_data(&m, T_VALUE, &data, &len), CHORUS_OK);
    assert_int_equal(len, 3);
    assert_int_equal(proto_get_str(&m, T_CONTEXT, &s), CHORUS_OK);
    assert_string_equal(s, "");
    assert_int_equal(proto_field_str(&m.f[1], &s), CHORUS_ERR_PROTO);
    assert_int_equal(proto_field_str(&m.f[5], &s), CHORUS_OK);
    proto_msg_done(&m);
    buf_free(&b);
}

static void
test_int_sizes(void **state)
{
    struct buf b = BUF_INIT;
    struct proto_msg m = {0};
    uint32_t u32 = 7;
    uint64_t u64 = 7;

    raw_field(&b, T_TH, 3);
    buf_append(&b, "\0\0\1", 3);
    raw_field(&b, T_USID, 8);
    buf_put_u64(&b, 1);
    raw_field(&b, T_TXID, 4);
    buf_put_u32(&b, 1);
    raw_field(&b, T_COUNT, 9);
    buf_append(&b, "123456789", 9);
    raw_field(&b, T_PHASE, 0);
    raw_field(&b, T_TIME, 0);
    assert_int_equal(proto_body_parse(b.p, (uint32_t)b.len, 100, &m), CHORUS_OK);
    assert_int_equal(proto_get_u32(&m, T_TH, &u32), CHORUS_ERR_PROTO);
    assert_int_equal(proto_get_u32(&m, T_USID, &u32), CHORUS_ERR_PROTO);
    assert_int_equal(proto_get_u32(&m, T_PHASE, &u32), CHORUS_ERR_PROTO);
    assert_int_equal(proto_get_u64(&m, T_TXID, &u64), CHORUS_ERR_PROTO);
    assert_int_equal(proto_get_u64(&m, T_COUNT, &u64), CHORUS_ERR_PROTO);
    assert_int_equal(proto_get_u64(&m, T_TIME, &u64), CHORUS_ERR_PROTO);
    assert_int_equal(u32, 7);
    assert_true(u64 == 7);
    assert_int_equal(proto_field_u32(&m.f[1], &u32), CHORUS_ERR_PROTO);
    assert_int_equal(proto_field_u64(&m.f[1], &u64), CHORUS_OK);
    assert_true(u64 == 1);
    proto_msg_done(&m);
    buf_free(&b);
}

static void
test_too_many_fields(void **state)
{
    struct buf b = BUF_INIT;
    struct proto_msg m = {0};

    for (int i = 0; i < 5; i++) {
        proto_put_u32(&b, T_GROUP, (uint32_t)i);
    }
    expect_body_err(&b, 4, CHORUS_ERR_TOOBIG);
    assert_int_equal(proto_body_parse(b.p, (uint32_t)b.len, 5, &m), CHORUS_OK);
    assert_int_equal(m.nf, 5);
    proto_msg_done(&m);

    /* A caller's limit above the hard bound is clamped to PROTO_MAX_FIELDS. */
    buf_reset(&b);
    for (int i = 0; i <= PROTO_MAX_FIELDS; i++) {
        raw_field(&b, T_GROUP, 0);
    }
    assert_true(buf_ok(&b));
    expect_body_err(&b, SIZE_MAX, CHORUS_ERR_TOOBIG);
    b.len -= PROTO_FIELD_HDR_LEN;
    assert_int_equal(proto_body_parse(b.p, (uint32_t)b.len, SIZE_MAX, &m), CHORUS_OK);
    assert_int_equal(m.nf, PROTO_MAX_FIELDS);
    proto_msg_done(&m);
    buf_free(&b);
}

static void
test_error_items(void **state)
{
    static const struct {
        enum chorus_err code;
        const char *msg, *path, *tag;
    } want[] = {
        {CHORUS_ERR_VALIDATION, "must failed", "/a:b/c", "must-violation"},
        {CHORUS_ERR_BADVALUE, "out of range", "/a:b/d", NULL},
        {CHORUS_ERR_LOCKED, NULL, NULL, NULL},
    };
    struct buf b = BUF_INIT;
    struct proto_msg m = {0};
    size_t item = 0, i;

    proto_begin(&b, OP_APPLY, PF_REPLY | PF_ERROR, 5);
    for (i = 0; i < 3; i++) {
        proto_put_error(&b, want[i].code, want[i].msg, want[i].path, want[i].tag);
    }
    assert_int_equal(proto_end(&b, 0), 0);
    decode(&b, PROTO_MAX_FRAME, &m);
    assert_int_equal(m.flags, PF_REPLY | PF_ERROR);
    /* Item 0 has 4 fields, item 1 three, item 2 two (the message defaults to strerror). */
    assert_int_equal(m.nf, 9);
    for (i = 0; i < m.nf; i++) {
        const struct proto_field *f = &m.f[i];
        const char *s;
        uint32_t code;

        switch (f->tag) {
        case T_ERR_CODE:
            assert_int_equal(proto_field_u32(f, &code), CHORUS_OK);
            assert_int_equal(code, want[item].code);
            item++;
            break;
        case T_ERR_MSG:
            assert_int_equal(proto_field_str(f, &s), CHORUS_OK);
            assert_string_equal(s, want[item - 1].msg ? want[item - 1].msg
                                                      : chorus_strerror(want[item - 1].code));
            break;
        case T_ERR_PATH:
            assert_int_equal(proto_field_str(f, &s), CHORUS_OK);
            assert_string_equal(s, want[item - 1].path);
            break;
        case T_ERR_APPTAG:
            assert_int_equal(proto_field_str(f, &s), CHORUS_OK);
            assert_string_equal(s, want[item - 1].tag);
            break;
        default:
            fail();
        }
    }
    assert_int_equal(item, 3);
    proto_msg_done(&m);
    buf_free(&b);
}

/* The first field with a tag is the one returned; repeated fields are reached by index. */
static void
test_repeated(void **state)
{
    struct buf b = BUF_INIT;
    struct proto_msg m = {0};
    const char *s;

    proto_put_str(&b, T_GROUP, "wheel");
    proto_put_str(&b, T_GROUP, "admin");
    assert_int_equal(proto_body_parse(b.p, (uint32_t)b.len, 10, &m), CHORUS_OK);
    assert_int_equal(proto_get_str(&m, T_GROUP, &s), CHORUS_OK);
    assert_string_equal(s, "wheel");
    assert_int_equal(proto_field_str(&m.f[1], &s), CHORUS_OK);
    assert_string_equal(s, "admin");
    proto_msg_done(&m);
    buf_free(&b);
}

static void
test_encode_limits(void **state)
{
    struct buf b = BUF_INIT;

    /* Data at the frame limit is refused without allocating it. */
    proto_begin(&b, OP_EDIT, 0, 1);
    proto_put_data(&b, T_DATA, "", PROTO_MAX_FRAME);
    assert_false(buf_ok(&b));
    assert_int_equal(proto_end(&b, 0), -1);
    buf_free(&b);
}

static void
test_op_names(void **state)
{
    assert_string_equal(proto_op_name(OP_HELLO), "hello");
    assert_string_equal(proto_op_name(OP_CAND_COMMIT), "candidate-commit");
    assert_string_equal(proto_op_name(OP_STOP), "stop");
    assert_string_equal(proto_op_name(0), "unknown");
    assert_string_equal(proto_op_name(9999), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_empty_body),      cmocka_unit_test(test_two_frames),
        cmocka_unit_test(test_hdr_limit),       cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_str_checks),      cmocka_unit_test(test_int_sizes),
        cmocka_unit_test(test_too_many_fields), cmocka_unit_test(test_error_items),
        cmocka_unit_test(test_repeated),        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_op_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
