/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NETCONF message framing (RFC 6242 section 4): base:1.0 end-of-message ("]]>]]>") and
 * base:1.1 chunked framing ("\n#<len>\n<data>...\n##\n"), for both directions.
 *
 * The decoder is incremental: the session feeds it whatever bytes arrived, and it reports one
 * complete message at a time. It never trusts its input: a chunk size must be 1..4294967295
 * written without leading zeros, chunk headers and the end-of-chunks marker must be exactly
 * as RFC 6242 specifies, and a message longer than the limit fails as soon as the limit is
 * passed (before the rest is read). After an error the decoder stays failed (the session is
 * closed); its reason is in ncf_error().
 *
 * Invariants: in EOM mode a message is the bytes before the first "]]>]]>" (which may be
 * split across feeds); in chunked mode it is the concatenation of the chunks before "\n##\n".
 * The message returned by ncf_feed() is NUL-terminated and valid until the next call.
 */
#ifndef CHORUS_NC_FRAME_H
#define CHORUS_NC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum ncf_mode {
    NCF_EOM = 0,     /* base:1.0: the hello is always framed so */
    NCF_CHUNKED = 1, /* base:1.1, after both hellos announce it */
};

enum ncf_res {
    NCF_NEED_MORE = 0, /* every byte given was consumed; no complete message yet */
    NCF_MESSAGE = 1,   /* a message is complete: ncf_message(); call again with the rest */
    NCF_ERROR = 2,     /* malformed framing or a message over the limit: ncf_error() */
};

/* Decoder state; the fields are private to frame.c (the struct is public to be embedded). */
struct ncf_dec {
    enum ncf_mode mode;
    uint32_t max_msg; /* largest message accepted, bytes (netconf/max-message-size) */
    struct buf msg;   /* the message being assembled (EOM: plus <= 5 bytes of a marker start) */
    int state;        /* decoder state (enum ncf_state in frame.c) */
    uint64_t chunk;   /* chunked: bytes left in the current chunk, or the size being read */
    size_t eom_match; /* EOM: bytes at the end of msg that are a proper prefix of "]]>]]>" */
    int done;         /* a message was returned: reset before the next byte */
    char err[128];    /* the reason of NCF_ERROR */
};

/* Start decoding in @p mode. The message buffer stays within max_msg + 8 bytes (ncf_done()). */
void ncf_init(struct ncf_dec *d, enum ncf_mode mode, uint32_t max_msg);
/*
 * Switch framing (after the hello). Only between messages: a partial message is dropped; a
 * message just returned by ncf_feed() stays valid until the next ncf_feed(). A failed decoder
 * stays failed.
 */
void ncf_set_mode(struct ncf_dec *d, enum ncf_mode mode);
/*
 * Consume bytes from @p in. *@p used is the number of bytes consumed (all of them unless a
 * message completed before the end of @p in: then the rest belongs to the next message; call
 * again with it, after ncf_set_mode() if the message was the hello). On NCF_ERROR *@p used is
 * how far decoding got (<= @p len; 0 for a decoder that had already failed), and every later
 * call returns NCF_ERROR again.
 */
enum ncf_res ncf_feed(struct ncf_dec *d, const uint8_t *in, size_t len, size_t *used);
/*
 * The message completed by the last ncf_feed() (NUL-terminated, owned by @p d), its length in
 * *@p len. Valid only after NCF_MESSAGE and until the next ncf_feed() or ncf_done().
 */
const char *ncf_message(const struct ncf_dec *d, size_t *len);
/* The reason of the last NCF_ERROR, e.g. "malformed chunk header: chunk size 0". */
const char *ncf_error(const struct ncf_dec *d);
/* Free the decoder's memory. @p d may be NULL. */
void ncf_done(struct ncf_dec *d);

/*
 * Append message @p msg framed in @p mode to @p out (to be written with one write call):
 * EOM: msg "]]>]]>"; chunked: "\n#<len>\n" msg "\n##\n" (one chunk per 4294967295 bytes).
 * Returns 0, or -1 if memory runs out or the message cannot be framed: in EOM mode when it
 * contains "]]>]]>" or ends in "]]>" (it would decode shorter), in chunked mode when it is empty
 * (RFC 6242 needs a chunk of >= 1 byte). On -1 @p out holds the same bytes as before (out of memory
 * also sets out->oom).
 */
int ncf_encode(enum ncf_mode mode, const char *msg, size_t len, struct buf *out);

#endif
