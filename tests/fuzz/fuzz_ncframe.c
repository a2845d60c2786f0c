/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the NETCONF framing decoder (src/daemon/nc/frame.c): arbitrary bytes
 * are decoded three times, fed whole, byte by byte and in pseudo-random pieces (empty feeds
 * included), and the three runs must agree on every message and on the error. Each run checks
 * the contract of ncf_feed(): *used <= len, all bytes used unless a message completed, messages
 * NUL-terminated and within the limit, the buffer within max_msg + 8 bytes, a failed decoder
 * failing again with nothing used (also after ncf_set_mode()). An EOM message must be exactly
 * the bytes before the marker and contain no marker; a chunked message must survive
 * ncf_encode() and decoding again.
 *
 * Input layout: byte 0 picks the mode (bit 0: chunked), whether to switch from EOM to chunked
 * after the first message as after a hello (bit 1), and the limit (bits 2-4, from a table);
 * byte 1 seeds the piece sizes; the rest is the stream.
 *
 * Seed corpus: tests/fuzz/corpus/ncframe/. Run: fuzz_ncframe -max_total_time=60 corpus/ncframe
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "daemon/nc/frame.h"

/* Checks that hold whatever NDEBUG says. */
#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum how { WHOLE, BYTES, PIECES };

struct cfg {
    enum ncf_mode mode;
    int hello; /* switch to chunked after the first message */
    uint32_t max;
    uint32_t seed;
};

static uint32_t
rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* A chunked message re-encoded decodes to itself. */
static void
check_reencode(const char *m, size_t len, uint32_t max)
{
    struct buf b = BUF_INIT;
    struct ncf_dec d;
    size_t used, len2;
    const char *m2;

    CHECK(len > 0);
    if (ncf_encode(NCF_CHUNKED, m, len, &b) != 0) {
        return; /* out of memory */
    }
    ncf_init(&d, NCF_CHUNKED, max);
    CHECK(ncf_feed(&d, b.p, b.len, &used) == NCF_MESSAGE);
    CHECK(used == b.len);
    m2 = ncf_message(&d, &len2);
    CHECK(len2 == len && !memcmp(m, m2, len));
    ncf_done(&d);
    buf_free(&b);
}

/* Decode @p in as @p how says; the messages and the outcome go to @p log. */
static void
run(const struct cfg *c, enum how how, const uint8_t *in, size_t size, struct buf *log)
{
    struct ncf_dec d;
    enum ncf_mode mode = c->mode;
    uint32_t seed = c->seed | 1;
    size_t pos = 0, nmsg = 0;
    int failed = 0;

    ncf_init(&d, mode, c->max);
    while (pos < size && !failed) {
        size_t n, off = 0;

        switch (how) {
        case WHOLE:
            n = size - pos;
            break;
        case BYTES:
            n = 1;
            break;
        default:
            n = rnd(&seed) % 7 == 0 ? 0 : 1 + rnd(&seed) % 64;
            if (n > size - pos) {
                n = size - pos;
            }
            break;
        }
        for (;;) {
            size_t used = (size_t)-1, len;
            enum ncf_res r = ncf_feed(&d, in + pos + off, n - off, &used);
            const char *m;

            CHECK(used <= n - off);
            CHECK(d.msg.cap <= (size_t)c->max + 8);
            if (r == NCF_NEED_MORE) {
                CHECK(used == n - off);
                break;
            }
            if (r == NCF_ERROR) {
                char e[sizeof d.err];

                strcpy(e, ncf_error(&d));
                CHECK(e[0] != 0);
                buf_append_str(log, "E:");
                buf_append_str(log, e);
                CHECK(ncf_feed(&d, in, size, &used) == NCF_ERROR && used == 0);
                ncf_set_mode(&d, NCF_EOM);
                CHECK(ncf_feed(&d, (const uint8_t *)"]]>]]>", 6, &used) == NCF_ERROR);
                CHECK(used == 0 && !strcmp(ncf_error(&d), e));
                failed = 1;
                break;
            }
            CHECK(r == NCF_MESSAGE);
            m = ncf_message(&d, &len);
            CHECK(m != NULL && m[len] == 0 && len <= c->max);
            if (how == WHOLE) {
                if (mode == NCF_EOM) {
                    /* one feed: the message is exactly the bytes before the first marker */
                    const uint8_t *at = in + pos + off;

                    CHECK(used == len + 6 && !memcmp(at, m, len));
                    CHECK(memmem(at, len + 6, "]]>]]>", 6) == at + len);
                } else {
                    check_reencode(m, len, c->max);
                }
            }
            buf_put_u64(log, len);
            buf_append(log, m, len);
            nmsg++;
            if (nmsg == 1 && c->hello) {
                mode = NCF_CHUNKED;
                ncf_set_mode(&d, mode);
            }
            off += used;
            if (off == n) {
                break;
            }
        }
        pos += n;
    }
    buf_append_str(log, failed ? ";failed" : ";open");
    CHECK(d.msg.cap <= (size_t)c->max + 8);
    ncf_done(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t limits[8] = {0, 1, 5, 16, 100, 4096, 1u << 20, 4294967295u};
    struct buf whole = BUF_INIT, bytes = BUF_INIT, pieces = BUF_INIT;
    struct cfg c;

    if (size < 2) {
        return 0;
    }
    c.mode = data[0] & 1 ? NCF_CHUNKED : NCF_EOM;
    c.hello = c.mode == NCF_EOM && (data[0] & 2);
    c.max = limits[(data[0] >> 2) & 7];
    c.seed = data[1] * 2654435761u;
    data += 2;
    size -= 2;

    run(&c, WHOLE, data, size, &whole);
    run(&c, BYTES, data, size, &bytes);
    run(&c, PIECES, data, size, &pieces);
    if (buf_ok(&whole) && buf_ok(&bytes) && buf_ok(&pieces)) {
        CHECK(whole.len == bytes.len && !memcmp(whole.p, bytes.p, whole.len));
        CHECK(whole.len == pieces.len && !memcmp(whole.p, pieces.p, whole.len));
    }
    buf_free(&whole);
    buf_free(&bytes);
    buf_free(&pieces);
    return 0;
}
