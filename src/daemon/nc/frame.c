/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NETCONF framing (RFC 6242 section 4); see frame.h for the contract.
 *
 * EOM decoding appends whole feeds to the message and finds "]]>]]>" with memmem(): first
 * across the boundary (the last eom_match bytes kept from the previous feed, which are a
 * proper prefix of the marker, plus the first bytes of this feed), then inside the feed. The
 * bytes of a possible marker start at the end of the message are kept in it (eom_match) but
 * are not counted against the limit (until the marker is found to start later, or not to follow),
 * so the buffer holds at most max_msg + 5 bytes + NUL.
 *
 * Chunked decoding is a byte-level state machine for the headers and a block copy for the
 * chunk data (RFC 6242 4.2):
 *
 *   ST_LF --'\n'--> ST_HASH --'#'--> ST_SIZE1 --'1'..'9'--> ST_SIZE --'\n'--> ST_DATA
 *     ^                                 |  |                  ^   |  (size within      |
 *     |                                 |  '0'--> ST_ZERO     +---+   the limit)       |
 *     |                                 |    (fails on any   '0'..'9' (<= 10 digits,   |
 *     |                                 |     next byte)      value <= 4294967295)     |
 *     |                                 '#' (the message has a chunk already)          |
 *     |                                 v                                              |
 *     |  <--(message complete)-- ST_END (after "\n##") --'\n'                          |
 *     +------------------------------ chunk-size bytes copied -------------------------+
 *
 * ncf_init() and ncf_set_mode() start in ST_LF (chunked) or ST_EOM; fail() moves to ST_FAILED
 * on any byte the grammar does not allow, and nothing leaves ST_FAILED. Invariants: msg.len <=
 * max_msg in chunked mode (a header announcing more than the remaining allowance fails at its
 * LF); msg.len - eom_match <= max_msg in EOM mode; msg.len > 0 in chunked mode iff a chunk of
 * the current message was read (chunks are never empty).
 */
#include "frame.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ncf_state {
    ST_EOM = 0, /* EOM mode: reading message bytes */
    ST_LF,      /* chunked: expecting the LF of a chunk header or of end-of-chunks */
    ST_HASH,    /* after LF: expecting '#' */
    ST_SIZE1,   /* after "\n#": first digit (1-9) or the second '#' of end-of-chunks */
    ST_ZERO,    /* after "\n#0": an error whatever follows; the next byte picks the reason */
    ST_SIZE,    /* reading chunk-size digits (value in chunk) until LF */
    ST_DATA,    /* copying chunk data, chunk bytes left */
    ST_END,     /* after "\n##": expecting LF */
    ST_FAILED,  /* an error was reported; terminal */
};

static const char EOM[] = "]]>]]>";
#define EOM_LEN 6
#define CHUNK_MAX 4294967295u
/* After a message, a buffer larger than this is freed rather than kept for the next one. */
#define KEEP_CAP (64 * 1024)

static enum ncf_res fail(struct ncf_dec *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum ncf_res
fail(struct ncf_dec *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    d->state = ST_FAILED;
    d->eom_match = 0;
    buf_free(&d->msg);
    return NCF_ERROR;
}

static enum ncf_res
fail_limit(struct ncf_dec *d)
{
    return fail(d, "message exceeds netconf/max-message-size (%" PRIu32 " bytes)", d->max_msg);
}

static enum ncf_state
start_state(enum ncf_mode mode)
{
    return mode == NCF_CHUNKED ? ST_LF : ST_EOM;
}

/* Empty the message for the next one; a large buffer is released (bounded idle memory). */
static void
msg_clear(struct ncf_dec *d)
{
    if (d->msg.cap > KEEP_CAP) {
        buf_free(&d->msg);
    } else {
        buf_reset(&d->msg);
    }
    d->eom_match = 0;
}

/*
 * Append @p len bytes to the message. The buffer doubles like buf_reserve() but never beyond
 * what the limit allows (max_msg + 5 pending marker bytes + NUL). Returns 0 or -1 (no memory).
 */
static int
msg_append(struct ncf_dec *d, const uint8_t *p, size_t len)
{
    struct buf *b = &d->msg;
    size_t need = b->len + len + 1, ncap, cap_max = (size_t)d->max_msg + EOM_LEN + 2;
    uint8_t *np;

    if (!len) {
        return 0;
    }
    if (need > b->cap) {
        ncap = b->cap ? b->cap : 256;
        while (ncap < need && ncap <= SIZE_MAX / 2) {
            ncap *= 2;
        }
        if (ncap > cap_max) {
            ncap = cap_max;
        }
        if (ncap < need) {
            ncap = need;
        }
        np = realloc(b->p, ncap);
        if (!np) {
            return -1;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = 0;
    return 0;
}

/* Mark the message complete: it is msg.p[0..len). */
static enum ncf_res
msg_complete(struct ncf_dec *d, size_t len, size_t used_in, size_t *used)
{
    d->msg.len = len;
    if (d->msg.p) {
        d->msg.p[len] = 0;
    }
    d->eom_match = 0;
    d->done = 1;
    *used = used_in;
    return NCF_MESSAGE;
}

/*
 * The length of the longest suffix of (msg + in) that is a proper prefix of "]]>]]>" (0..5).
 */
static size_t
eom_partial(const struct buf *msg, const uint8_t *in, size_t len)
{
    size_t total = msg->len + len;

    for (size_t k = EOM_LEN - 1; k > 0; k--) {
        size_t j;

        if (k > total) {
            continue;
        }
        for (j = 0; j < k; j++) {
            size_t at = total - k + j;
            uint8_t c = at < msg->len ? msg->p[at] : in[at - msg->len];

            if (c != (uint8_t)EOM[j]) {
                break;
            }
        }
        if (j == k) {
            return k;
        }
    }
    return 0;
}

static enum ncf_res
feed_eom(struct ncf_dec *d, const uint8_t *in, size_t len, size_t *used)
{
    const uint8_t *hit;
    size_t k;

    /* A marker that starts in the kept partial match and ends in this feed. */
    if (d->eom_match) {
        uint8_t win[2 * EOM_LEN];
        size_t m = d->eom_match, n = len < EOM_LEN - 1 ? len : EOM_LEN - 1;

        memcpy(win, d->msg.p + d->msg.len - m, m);
        memcpy(win + m, in, n);
        hit = memmem(win, m + n, EOM, EOM_LEN);
        if (hit && (size_t)(hit - win) < m) {
            size_t off = (size_t)(hit - win); /* marker start inside the kept bytes */

            /* the kept bytes before the marker are message bytes after all */
            *used = EOM_LEN - (m - off);
            if (d->msg.len - m + off > d->max_msg) {
                return fail_limit(d);
            }
            return msg_complete(d, d->msg.len - m + off, *used, used);
        }
    }
    hit = memmem(in, len, EOM, EOM_LEN);
    if (hit) {
        size_t off = (size_t)(hit - in);

        *used = off;
        if (d->msg.len + off > d->max_msg) {
            return fail_limit(d);
        }
        if (msg_append(d, in, off)) {
            return fail(d, "out of memory");
        }
        return msg_complete(d, d->msg.len, off + EOM_LEN, used);
    }
    k = eom_partial(&d->msg, in, len);
    *used = len;
    if (d->msg.len + len - k > d->max_msg) {
        return fail_limit(d);
    }
    if (msg_append(d, in, len)) {
        return fail(d, "out of memory");
    }
    d->eom_match = k;
    return NCF_NEED_MORE;
}

static enum ncf_res
feed_chunked(struct ncf_dec *d, const uint8_t *in, size_t len, size_t *used)
{
    size_t i = 0;
    enum ncf_res r;

    while (i < len) {
        uint8_t c = in[i];

        switch ((enum ncf_state)d->state) {
        case ST_DATA: {
            size_t n = len - i;

            if (n > d->chunk) {
                n = (size_t)d->chunk;
            }
            if (msg_append(d, in + i, n)) {
                r = fail(d, "out of memory");
                goto out;
            }
            i += n;
            d->chunk -= n;
            if (!d->chunk) {
                d->state = ST_LF;
            }
            continue;
        }
        case ST_LF:
            if (c != '\n') {
                r = fail(d, "malformed chunk header: expected LF, got 0x%02x", c);
                goto out;
            }
            d->state = ST_HASH;
            break;
        case ST_HASH:
            if (c != '#') {
                r = fail(d, "malformed chunk header: expected '#' after LF, got 0x%02x", c);
                goto out;
            }
            d->state = ST_SIZE1;
            break;
        case ST_SIZE1:
            if (c == '#') {
                if (!d->msg.len) {
                    r = fail(d, "end-of-chunks without a chunk (a message needs one)");
                    goto out;
                }
                d->state = ST_END;
            } else if (c == '0') {
                d->state = ST_ZERO;
            } else if (c >= '1' && c <= '9') {
                d->chunk = (uint64_t)(c - '0');
                d->state = ST_SIZE;
            } else {
                r = fail(d, "malformed chunk header: expected a digit, got 0x%02x", c);
                goto out;
            }
            break;
        case ST_ZERO:
            if (c == '\n') {
                r = fail(d, "malformed chunk header: chunk size 0");
            } else if (c >= '0' && c <= '9') {
                r = fail(d, "malformed chunk header: chunk size with a leading zero");
            } else {
                r = fail(d, "malformed chunk header: expected a digit, got 0x%02x", c);
            }
            goto out;
        case ST_SIZE:
            if (c == '\n') {
                if (d->chunk > d->max_msg - d->msg.len) {
                    r = fail(d,
                             "chunk of %llu bytes: message exceeds netconf/max-message-size "
                             "(%" PRIu32 " bytes)",
                             (unsigned long long)d->chunk, d->max_msg);
                    goto out;
                }
                d->state = ST_DATA;
            } else if (c >= '0' && c <= '9') {
                if (d->chunk >= 1000000000u) {
                    r = fail(d, "malformed chunk header: chunk size has more than 10 digits");
                    goto out;
                }
                d->chunk = d->chunk * 10 + (uint64_t)(c - '0');
                if (d->chunk > CHUNK_MAX) {
                    r = fail(d, "malformed chunk header: chunk size %llu exceeds 4294967295",
                             (unsigned long long)d->chunk);
                    goto out;
                }
            } else {
                r = fail(d, "malformed chunk header: expected a digit or LF, got 0x%02x", c);
                goto out;
            }
            break;
        case ST_END:
            if (c != '\n') {
                r = fail(d, "malformed end-of-chunks: expected LF after \"\\n##\", got 0x%02x", c);
                goto out;
            }
            d->state = ST_LF;
            return msg_complete(d, d->msg.len, i + 1, used);
        case ST_EOM:
        case ST_FAILED:
        default:
            r = fail(d, "framing decoder in an invalid state");
            goto out;
        }
        i++;
    }
    r = NCF_NEED_MORE;
out:
    *used = i;
    return r;
}

void
ncf_init(struct ncf_dec *d, enum ncf_mode mode, uint32_t max_msg)
{
    memset(d, 0, sizeof *d);
    d->mode = mode;
    d->max_msg = max_msg;
    d->state = start_state(mode);
}

void
ncf_set_mode(struct ncf_dec *d, enum ncf_mode mode)
{
    d->mode = mode;
    if (d->state == ST_FAILED) {
        return;
    }
    if (!d->done) {
        msg_clear(d); /* a partial message is dropped; a complete one stays until ncf_feed() */
    }
    d->chunk = 0;
    d->state = start_state(mode);
}

enum ncf_res
ncf_feed(struct ncf_dec *d, const uint8_t *in, size_t len, size_t *used)
{
    if (d->state == ST_FAILED) {
        *used = 0;
        return NCF_ERROR;
    }
    if (d->done) {
        msg_clear(d);
        d->done = 0;
    }
    if (!len) {
        *used = 0;
        return NCF_NEED_MORE;
    }
    if (d->state == ST_EOM) {
        return feed_eom(d, in, len, used);
    }
    return feed_chunked(d, in, len, used);
}

const char *
ncf_message(const struct ncf_dec *d, size_t *len)
{
    *len = d->msg.len;
    return d->msg.p ? (const char *)d->msg.p : "";
}

const char *
ncf_error(const struct ncf_dec *d)
{
    return d->err;
}

void
ncf_done(struct ncf_dec *d)
{
    if (d) {
        buf_free(&d->msg);
    }
}

int
ncf_encode(enum ncf_mode mode, const char *msg, size_t len, struct buf *out)
{
    static const char eoc[] = "\n##\n";
    size_t extra, left;

    if (mode == NCF_EOM) {
        /* The marker must not occur in the message, nor start inside it and end in the
         * trailing marker: "]]>]]>" has period 3, so that is a message ending in "]]>". */
        if (memmem(msg, len, EOM, EOM_LEN) || (len >= 3 && !memcmp(msg + len - 3, EOM, 3)) ||
            buf_reserve(out, len + EOM_LEN)) {
            return -1;
        }
        buf_append(out, msg, len);
        buf_append(out, EOM, EOM_LEN);
        return 0;
    }
    if (!len) {
        return -1;
    }
    /* One chunk per 4294967295 bytes, each with a header of at most 13 bytes. */
    extra = (len / CHUNK_MAX + 1) * 13 + sizeof eoc - 1;
    if (buf_reserve(out, len + extra)) {
        return -1;
    }
    for (left = len; left;) {
        size_t n = left < CHUNK_MAX ? left : CHUNK_MAX;

        buf_printf(out, "\n#%zu\n", n);
        buf_append(out, msg + (len - left), n);
        left -= n;
    }
    buf_append(out, eoc, sizeof eoc - 1);
    return 0;
}
