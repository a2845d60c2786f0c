/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Growable byte buffer. An allocation failure is sticky: once `oom` is set every append is a
 * no-op, so a sequence of appends needs one check at the end (buf_ok()).
 */
#ifndef CHORUS_BUF_H
#define CHORUS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *p; /* data, owned */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    int oom;    /* an allocation failed */
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Make room for @p extra more bytes; returns 0 or -1 (and sets oom). */
int buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_put_u16(struct buf *b, uint16_t v);
void buf_put_u32(struct buf *b, uint32_t v);
void buf_put_u64(struct buf *b, uint64_t v);
/* Drop @p n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
/* Append what non-blocking @p fd has to read now, @p chunk bytes at a time. Returns 1 when the
 * socket has nothing more for now, 0 at end of file, -1 on a read error or out of memory. */
int buf_read_fd(struct buf *b, int fd, size_t chunk);
void buf_reset(struct buf *b);
/* Free the memory; the buffer is reusable (empty) afterwards. */
void buf_free(struct buf *b);
/* Detach the data as a NUL-terminated string owned by the caller, or NULL on OOM. */
char *buf_steal_str(struct buf *b);
static inline int
buf_ok(const struct buf *b)
{
    return !b->oom;
}

static inline uint16_t
rd_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
rd_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t
rd_u64(const uint8_t *p)
{
    return ((uint64_t)rd_u32(p) << 32) | rd_u32(p + 4);
}

static inline void
wr_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
