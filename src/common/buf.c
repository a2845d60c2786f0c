/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffer; see buf.h. */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
buf_reserve(struct buf *b, size_t extra)
{
    size_t ncap;
    uint8_t *np;

    if (b->oom) {
        return -1;
    }
    if (b->len + extra + 1 <= b->cap) {
        return 0;
    }
    ncap = b->cap ? b->cap : 256;
    while (ncap < b->len + extra + 1) {
        if (ncap > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        ncap *= 2;
    }
    np = realloc(b->p, ncap);
    if (!np) {
        b->oom = 1;
        return -1;
    }
    b->p = np;
    b->cap = ncap;
    return 0;
}

void
buf_append(struct buf *b, const void *data, size_t len)
{
    if (!len || buf_reserve(b, len)) {
        return;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = 0;
}

void
buf_append_str(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    if (b->oom) {
        return;
    }
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || buf_reserve(b, (size_t)n + 1)) {
        b->oom = 1;
        return;
    }
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void
buf_put_u16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    buf_append(b, x, 2);
}

void
buf_put_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4];

    wr_u32(x, v);
    buf_append(b, x, 4);
}

void
buf_put_u64(struct buf *b, uint64_t v)
{
    buf_put_u32(b, (uint32_t)(v >> 32));
    buf_put_u32(b, (uint32_t)v);
}

void
buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p) {
        b->p[b->len] = 0;
    }
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->p) {
        b->p[0] = 0;
    }
}

void
buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

char *
buf_steal_str(struct buf *b)
{
    char *s;

    if (b->oom) {
        buf_free(b);
        return NULL;
    }
    if (!b->p && buf_reserve(b, 1)) {
        return NULL;
    }
    b->p[b->len] = 0;
    s = (char *)b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return s;
}

int
buf_read_fd(struct buf *b, int fd, size_t chunk)
{
    for (;;) {
        ssize_t n;

        if (buf_reserve(b, chunk)) {
            return -1;
        }
        n = read(fd, b->p + b->len, chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 1;
        }
        if (n <= 0) {
            return n ? -1 : 0;
        }
        b->len += (size_t)n;
        if ((size_t)n < chunk) {
            return 1;
        }
    }
}
