/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the NETCONF framing codec (src/daemon/nc/frame.c, RFC 6242 section 4): both
 * modes; each stream fed whole, byte by byte and in every 2-piece split, with the same messages
 * expected each time; several messages in one feed; the message-size limit (exactly at, one
 * over, announced by a chunk header, a pending "]]>]]>" prefix not counted); every malformed
 * chunk header and end-of-chunks; the decoder staying failed; the switch from EOM to chunked
 * after the hello; encode/decode round trips; a 100 MB message in each mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/nc/frame.h"

#define MAXMSGS 16

/* What a stream decoded to: the messages, then the error (if any). */
struct got {
    char *msg[MAXMSGS];
    size_t len[MAXMSGS];
    int n;
    int failed;
    char err[128];
};

static void
got_free(struct got *g)
{
    for (int i = 0; i < g->n; i++) {
        free(g->msg[i]);
    }
    memset(g, 0, sizeof *g);
}

/* Feed one piece, looping over the messages it completes; checks the result contract. */
static void
feed_piece(struct ncf_dec *d, const void *p, size_t len, struct got *g)
{
    const uint8_t *in = p;
    size_t off = 0;

    for (;;) {
        size_t used = (size_t)-1, mlen;
        enum ncf_res r = ncf_feed(d, in + off, len - off, &used);
        const char *m;

        assert_true(used <= len - off);
        switch (r) {
        case NCF_NEED_MORE:
            assert_int_equal(used, len - off);
            return;
        case NCF_MESSAGE:
            m = ncf_message(d, &mlen);
            assert_non_null(m);
            assert_int_equal(m[mlen], 0);
            assert_true(g->n < MAXMSGS);
            g->msg[g->n] = malloc(mlen + 1);
            assert_non_null(g->msg[g->n]);
            memcpy(g->msg[g->n], m, mlen + 1);
            g->len[g->n++] = mlen;
            off += used;
            if (off == len) {
                return;
            }
            break;
        case NCF_ERROR:
            assert_true(strlen(ncf_error(d)) > 0);
            g->failed = 1;
            snprintf(g->err, sizeof g->err, "%s", ncf_error(d));
            /* stays failed */
            assert_int_equal(ncf_feed(d, in, len, &used), NCF_ERROR);
            assert_int_equal(used, 0);
            return;
        }
    }
}

/* Decode @p s (length @p len) cut at the offsets @p cuts (ascending, @p ncuts of them). */
static void
decode_cut(enum ncf_mode mode, uint32_t max, const char *s, size_t len, const size_t *cuts,
           size_t ncuts, struct got *g)
{
    struct ncf_dec d;
    size_t prev = 0;

    memset(g, 0, sizeof *g);
    ncf_init(&d, mode, max);
    for (size_t i = 0; i <= ncuts && !g->failed; i++) {
        size_t end = i < ncuts ? cuts[i] : len;

        feed_piece(&d, s + prev, end - prev, g);
        prev = end;
    }
    ncf_done(&d);
}

/*
 * Check that @p s decodes to the @p n messages of @p want (then an error containing @p err if
 * not NULL) fed whole, byte by byte and in every 2-piece split.
 */
static void
check_stream(enum ncf_mode mode, uint32_t max, const char *s, size_t len, const char *const *want,
             int n, const char *err)
{
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    struct got g;

    assert_non_null(cuts);
    for (size_t split = 0; split <= len + 1; split++) {
        size_t ncuts;

        if (split == len + 1) { /* byte by byte */
            for (size_t i = 0; i + 1 < len; i++) {
                cuts[i] = i + 1;
            }
            ncuts = len ? len - 1 : 0;
        } else { /* split == 0 and split == len: whole, with an empty feed first or last */
            cuts[0] = split;
            ncuts = 1;
        }
        decode_cut(mode, max, s, len, cuts, ncuts, &g);
        if (g.n != n || g.failed != (err != NULL)) {
            fail_msg("split %zu: %d messages (want %d), failed %d (%s)", split, g.n, n, g.failed,
                     g.err);
        }
        for (int i = 0; i < n; i++) {
            assert_int_equal(g.len[i], strlen(want[i]));
            assert_string_equal(g.msg[i], want[i]);
        }
        if (err && !strstr(g.err, err)) {
            fail_msg("split %zu: error \"%s\", want \"%s\"", split, g.err, err);
        }
        got_free(&g);
    }
    free(cuts);
}

#define STREAM(mode, max, s, err, ...)                                                             \
    do {                                                                                           \
        static const char *const w_[] = {__VA_ARGS__};                                             \
        check_stream(mode, max, s, sizeof s - 1, w_, (int)(sizeof w_ / sizeof w_[0]), err);        \
    } while (0)

#define NOMSG(mode, max, s, err) check_stream(mode, max, s, sizeof s - 1, NULL, 0, err)

static void
test_eom(void **state)
{
    STREAM(NCF_EOM, 1000, "<hello/>]]>]]>", NULL, "<hello/>");
    STREAM(NCF_EOM, 1000, "]]>]]>", NULL, "");
    /* several in one feed, a trailing partial message */
    STREAM(NCF_EOM, 1000, "a]]>]]>b]]>]]>]]>]]>\n<rpc/>]]>]]>c]]>]", NULL, "a", "b", "",
           "\n<rpc/>");
    /* near misses of the marker and its self-overlap */
    STREAM(NCF_EOM, 1000, "]]]>]]>", NULL, "]");
    STREAM(NCF_EOM, 1000, "]]>]]]>]]>", NULL, "]]>]");
    STREAM(NCF_EOM, 1000, "]]>]]]]>]]>]]>]]>x]]>]]>", NULL, "]]>]]", "", "x");
    STREAM(NCF_EOM, 1000, "]>]]>]]>]]]>]]]>]]>", NULL, "]>", "]]]>]");
    NOMSG(NCF_EOM, 1000, "no marker ]]>]] ]]>]", NULL);
}

static void
test_eom_nul_inside(void **state)
{
    static const char s[] = "a\0b]]>]]>";
    struct ncf_dec d;
    size_t used, len;
    const char *m;

    ncf_init(&d, NCF_EOM, 100);
    assert_int_equal(ncf_feed(&d, (const uint8_t *)s, sizeof s - 1, &used), NCF_MESSAGE);
    assert_int_equal(used, sizeof s - 1);
    m = ncf_message(&d, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(m, "a\0b", 4);
    ncf_done(&d);
}

static void
test_chunked(void **state)
{
    STREAM(NCF_CHUNKED, 1000, "\n#4\nabcd\n#3\nefg\n##\n", NULL, "abcdefg");
    STREAM(NCF_CHUNKED, 1000, "\n#1\n\n\n##\n", NULL, "\n");
    /* chunk data that looks like framing is data */
    STREAM(NCF_CHUNKED, 1000, "\n#10\n\n##\n]]>]]>\n##\n", NULL, "\n##\n]]>]]>");
    /* several in one feed; data after end-of-chunks starts the next message */
    STREAM(NCF_CHUNKED, 1000,
           "\n#5\nhello\n##\n\n#12\n<rpc>x</rpc>\n#1\n!\n##\n\n#2\nok\n##\n\n#3\npar", NULL,
           "hello", "<rpc>x</rpc>!", "ok");
    NOMSG(NCF_CHUNKED, 4294967295u, "\n#4294967295\n", NULL);
}

static void
test_chunked_malformed(void **state)
{
    NOMSG(NCF_CHUNKED, 1000, "\n#01\na\n##\n", "leading zero");
    NOMSG(NCF_CHUNKED, 1000, "\n#00\n", "leading zero");
    NOMSG(NCF_CHUNKED, 1000, "\n#0\n", "chunk size 0");
    NOMSG(NCF_CHUNKED, 1000, "\n#0x", "expected a digit");
    NOMSG(NCF_CHUNKED, 1000, "\n#a\n", "expected a digit");
    NOMSG(NCF_CHUNKED, 1000, "\n#-1\n", "expected a digit");
    NOMSG(NCF_CHUNKED, 1000, "\n#+1\n", "expected a digit");
    NOMSG(NCF_CHUNKED, 1000, "\n# 1\n", "expected a digit");
    NOMSG(NCF_CHUNKED, 1000, "\n#\n", "expected a digit");
    NOMSG(NCF_CHUNKED, 1000, "\n#12345678901\n", "more than 10 digits");
    NOMSG(NCF_CHUNKED, 4294967295u, "\n#4294967296\n", "exceeds 4294967295");
    NOMSG(NCF_CHUNKED, 4294967295u, "\n#9999999999\n", "exceeds 4294967295");
    NOMSG(NCF_CHUNKED, 1000, "\n#5x", "expected a digit or LF");
    NOMSG(NCF_CHUNKED, 1000, "\n#5\r\n", "expected a digit or LF");
    NOMSG(NCF_CHUNKED, 1000, "\n#5 \n", "expected a digit or LF");
    NOMSG(NCF_CHUNKED, 1000, "x\n#1\na\n##\n", "expected LF");
    NOMSG(NCF_CHUNKED, 1000, "\r\n#1\na\n##\n", "expected LF");
    NOMSG(NCF_CHUNKED, 1000, "\n\n#1\na", "expected '#'");
    NOMSG(NCF_CHUNKED, 1000, "\n#1\nab\n##\n", "expected LF"); /* chunk longer than announced */
    NOMSG(NCF_CHUNKED, 1000, "\n##\n", "without a chunk");
    NOMSG(NCF_CHUNKED, 1000, "\n#1\na\n##x", "malformed end-of-chunks");
    NOMSG(NCF_CHUNKED, 1000, "\n#1\na\n###\n", "malformed end-of-chunks");
    NOMSG(NCF_CHUNKED, 1000, "\n#1\na\n##\r\n", "malformed end-of-chunks");
    NOMSG(NCF_CHUNKED, 1000, "<hello/>]]>]]>", "expected LF");
    /* a good message, then garbage or an empty message */
    STREAM(NCF_CHUNKED, 1000, "\n#1\na\n##\n\n##\n", "without a chunk", "a");
    STREAM(NCF_CHUNKED, 1000, "\n#1\na\n##\n \n#1\nb\n##\n", "expected LF", "a");
    STREAM(NCF_CHUNKED, 1000, "\n#1\na\n##\n\n#0\n", "chunk size 0", "a");
}

static void
test_limit(void **state)
{
    /* EOM: exactly at the limit, one over; the error comes before the marker */
    STREAM(NCF_EOM, 5, "12345]]>]]>", NULL, "12345");
    STREAM(NCF_EOM, 5, "12345]]>]]>67890]]>]]>", NULL, "12345", "67890");
    NOMSG(NCF_EOM, 5, "123456]]>]]>", "exceeds netconf/max-message-size (5 bytes)");
    NOMSG(NCF_EOM, 5, "123456", "max-message-size");
    NOMSG(NCF_EOM, 5, "12345]]>]]x", "max-message-size");
    NOMSG(NCF_EOM, 0, "x", "max-message-size");
    STREAM(NCF_EOM, 0, "]]>]]>]]>]]>", NULL, "", "");
    /* a pending marker prefix is not counted */
    NOMSG(NCF_EOM, 5, "12345]]>]]", NULL);
    NOMSG(NCF_EOM, 5, "1234]]>]]", NULL);
    /* ... but counted once the marker turns out to start later in them */
    NOMSG(NCF_EOM, 5, "12345]]>]]]>]]>", "max-message-size (5 bytes)");
    STREAM(NCF_EOM, 9, "12345]]>]]]>]]>", NULL, "12345]]>]");
    /* chunked: at the limit over two chunks; one over, announced by the header */
    STREAM(NCF_CHUNKED, 5, "\n#3\nabc\n#2\nde\n##\n", NULL, "abcde");
    NOMSG(NCF_CHUNKED, 5, "\n#3\nabc\n#3\ndef\n##\n", "max-message-size (5 bytes)");
    NOMSG(NCF_CHUNKED, 5, "\n#6\n", "chunk of 6 bytes: message exceeds");
    NOMSG(NCF_CHUNKED, 1000, "\n#4294967295\n", "max-message-size (1000 bytes)");
    NOMSG(NCF_CHUNKED, 0, "\n#1\n", "max-message-size (0 bytes)");
}

/* The limit fails at the header's LF, before any data: *used shows where. */
static void
test_limit_early(void **state)
{
    static const char hdr[] = "\n#3\nabc\n#3\nd";
    struct ncf_dec d;
    size_t used;

    ncf_init(&d, NCF_CHUNKED, 5);
    assert_int_equal(ncf_feed(&d, (const uint8_t *)hdr, sizeof hdr - 1, &used), NCF_ERROR);
    assert_int_equal(used, 10); /* the LF after "#3" */
    assert_non_null(strstr(ncf_error(&d), "max-message-size"));
    ncf_done(&d);

    ncf_init(&d, NCF_EOM, 1000);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(ncf_feed(&d, (const uint8_t *)"x", 1, &used), NCF_NEED_MORE);
    }
    assert_int_equal(ncf_feed(&d, (const uint8_t *)"]]>]]", 5, &used), NCF_NEED_MORE);
    assert_true(d.msg.cap <= 1000 + 8); /* memory bounded by the limit */
    assert_int_equal(ncf_feed(&d, (const uint8_t *)"]", 1, &used), NCF_ERROR);
    ncf_done(&d);
}

static void
test_stays_failed(void **state)
{
    static const char good[] = "\n#1\na\n##\n";
    struct ncf_dec d;
    size_t used, len;

    ncf_init(&d, NCF_CHUNKED, 1000);
    assert_int_equal(ncf_feed(&d, (const uint8_t *)"\n#0", 3, &used), NCF_NEED_MORE);
    assert_int_equal(ncf_feed(&d, (const uint8_t *)"\n", 1, &used), NCF_ERROR);
    assert_string_equal(ncf_error(&d), "malformed chunk header: chunk size 0");
    assert_int_equal(ncf_feed(&d, (const uint8_t *)good, sizeof good - 1, &used), NCF_ERROR);
    assert_int_equal(used, 0);
    ncf_set_mode(&d, NCF_EOM);
    assert_int_equal(ncf_feed(&d, (const uint8_t *)"]]>]]>", 6, &used), NCF_ERROR);
    assert_int_equal(ncf_feed(&d, NULL, 0, &used), NCF_ERROR);
    assert_string_equal(ncf_error(&d), "malformed chunk header: chunk size 0");
    (void)ncf_message(&d, &len);
    assert_int_equal(len, 0);
    ncf_done(&d);
    ncf_done(NULL);
}

/* The hello in EOM framing and the first chunked message in one read. */
static void
test_mode_switch(void **state)
{
    static const char s[] = "<hello/>]]>]]>\n#5\n<rpc>\n#6\n</rpc>\n##\n";
    struct ncf_dec d;
    size_t used, used2, len;
    const char *m;

    ncf_init(&d, NCF_EOM, 1000);
    assert_int_equal(ncf_feed(&d, (const uint8_t *)s, sizeof s - 1, &used), NCF_MESSAGE);
    assert_int_equal(used, 14);
    ncf_set_mode(&d, NCF_CHUNKED);
    m = ncf_message(&d, &len); /* still valid after the switch */
    assert_string_equal(m, "<hello/>");
    assert_int_equal(ncf_feed(&d, (const uint8_t *)s + used, sizeof s - 1 - used, &used2),
                     NCF_MESSAGE);
    assert_int_equal(used + used2, sizeof s - 1);
    m = ncf_message(&d, &len);
    assert_int_equal(len, 11);
    assert_string_equal(m, "<rpc></rpc>");
    ncf_done(&d);

    /* a partial message is dropped by a switch */
    ncf_init(&d, NCF_EOM, 1000);
    assert_int_equal(ncf_feed(&d, (const uint8_t *)"junk]]>]", 8, &used), NCF_NEED_MORE);
    ncf_set_mode(&d, NCF_CHUNKED);
    assert_int_equal(ncf_feed(&d, (const uint8_t *)"\n##\n", 4, &used), NCF_ERROR);
    ncf_done(&d);
}

static void
test_encode(void **state)
{
    struct buf b = BUF_INIT;

    assert_int_equal(ncf_encode(NCF_EOM, "<hello/>", 8, &b), 0);
    assert_int_equal(b.len, 14);
    assert_memory_equal(b.p, "<hello/>]]>]]>", 14);
    assert_int_equal(ncf_encode(NCF_CHUNKED, "hello", 5, &b), 0); /* appends */
    assert_string_equal((char *)b.p, "<hello/>]]>]]>\n#5\nhello\n##\n");
    assert_int_equal(ncf_encode(NCF_EOM, "", 0, &b), 0);
    assert_string_equal((char *)b.p, "<hello/>]]>]]>\n#5\nhello\n##\n]]>]]>");
    buf_reset(&b);
    /* cannot be framed: out unchanged */
    assert_int_equal(ncf_encode(NCF_CHUNKED, "x", 0, &b), -1);
    assert_int_equal(ncf_encode(NCF_EOM, "<a b=\"]]>]]>\"/>", 15, &b), -1);
    assert_int_equal(b.len, 0);
    assert_true(buf_ok(&b));
    /* a message ending in "]]>" would read as a shorter one followed by "]]>" */
    assert_int_equal(ncf_encode(NCF_EOM, "<a/>]]>", 7, &b), -1);
    assert_int_equal(b.len, 0);
    /* other marker prefixes at the end are fine */
    assert_int_equal(ncf_encode(NCF_EOM, "]]>]]", 5, &b), 0);
    assert_string_equal((char *)b.p, "]]>]]]]>]]>");
    buf_reset(&b);
    assert_int_equal(ncf_encode(NCF_EOM, "]]>]", 4, &b), 0);
    assert_string_equal((char *)b.p, "]]>]]]>]]>");
    buf_free(&b);
}

/* A tiny deterministic PRNG (xorshift32), so that failures reproduce. */
static uint32_t
rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void
test_roundtrip(void **state)
{
    uint32_t seed = 12345;

    for (int round = 0; round < 200; round++) {
        enum ncf_mode mode = round & 1 ? NCF_CHUNKED : NCF_EOM;
        char *msgs[4];
        size_t lens[4];
        struct buf stream = BUF_INIT;
        struct ncf_dec d;
        struct got g = {0};
        size_t off = 0;

        for (int i = 0; i < 4; i++) {
            /* alphabet rich in framing characters */
            static const char abc[] = "]>#\n0123456789<a/>";

            lens[i] = 1 + rnd(&seed) % 300;
            msgs[i] = malloc(lens[i] + 1);
            assert_non_null(msgs[i]);
            for (size_t j = 0; j < lens[i]; j++) {
                msgs[i][j] = abc[rnd(&seed) % (sizeof abc - 1)];
            }
            msgs[i][lens[i]] = 0;
            if (ncf_encode(mode, msgs[i], lens[i], &stream) != 0) {
                /* EOM cannot frame a message with "]]>]]>" or ending in "]]>" */
                assert_int_equal(mode, NCF_EOM);
                assert_true(memmem(msgs[i], lens[i], "]]>]]>", 6) ||
                            (lens[i] >= 3 && !memcmp(msgs[i] + lens[i] - 3, "]]>", 3)));
                msgs[i][0] = 'x';
                lens[i] = 1;
                msgs[i][1] = 0;
                assert_int_equal(ncf_encode(mode, msgs[i], lens[i], &stream), 0);
            }
        }
        ncf_init(&d, mode, 300);
        while (off < stream.len) {
            size_t n = 1 + rnd(&seed) % 97;

            if (n > stream.len - off) {
                n = stream.len - off;
            }
            feed_piece(&d, stream.p + off, n, &g);
            off += n;
        }
        assert_false(g.failed);
        assert_int_equal(g.n, 4);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(g.len[i], lens[i]);
            assert_memory_equal(g.msg[i], msgs[i], lens[i]);
            free(msgs[i]);
        }
        got_free(&g);
        ncf_done(&d);
        buf_free(&stream);
    }
}

/* 100 MB in 64 KiB reads: linear, block copies; ctest's timeout catches a quadratic decoder. */
static void
test_large(void **state)
{
    enum { BLOCK = 64 * 1024, BLOCKS = 1600 }; /* 104857600 bytes */
    static uint8_t block[BLOCK];
    struct ncf_dec d;
    struct buf hdr = BUF_INIT;
    size_t used, len;
    const char *m;

    for (size_t i = 0; i < BLOCK; i++) {
        block[i] = (uint8_t) "]]>]]<rpc/>\n#ab"[i % 16]; /* no "]]>]]>" across blocks either */
    }
    for (int mode = NCF_EOM; mode <= NCF_CHUNKED; mode++) {
        ncf_init(&d, (enum ncf_mode)mode, (uint32_t)BLOCK * BLOCKS);
        for (int i = 0; i < BLOCKS; i++) {
            if (mode == NCF_CHUNKED && i % 16 == 0) { /* 1 MiB chunks */
                buf_reset(&hdr);
                buf_printf(&hdr, "\n#%d\n", 16 * BLOCK);
                assert_int_equal(ncf_feed(&d, hdr.p, hdr.len, &used), NCF_NEED_MORE);
            }
            assert_int_equal(ncf_feed(&d, block, BLOCK, &used), NCF_NEED_MORE);
        }
        if (mode == NCF_EOM) {
            assert_int_equal(ncf_feed(&d, (const uint8_t *)"]]>]]>", 6, &used), NCF_MESSAGE);
        } else {
            assert_int_equal(ncf_feed(&d, (const uint8_t *)"\n##\n", 4, &used), NCF_MESSAGE);
        }
        m = ncf_message(&d, &len);
        assert_int_equal(len, (size_t)BLOCK * BLOCKS);
        assert_memory_equal(m + len - BLOCK, block, BLOCK);
        assert_int_equal(m[len], 0);
        assert_true(d.msg.cap <= len + 8);
        ncf_done(&d);
    }
    buf_free(&hdr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eom),          cmocka_unit_test(test_eom_nul_inside),
        cmocka_unit_test(test_chunked),      cmocka_unit_test(test_chunked_malformed),
        cmocka_unit_test(test_limit),        cmocka_unit_test(test_limit_early),
        cmocka_unit_test(test_stays_failed), cmocka_unit_test(test_mode_switch),
        cmocka_unit_test(test_encode),       cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_large),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
