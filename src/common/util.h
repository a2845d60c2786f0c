/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers: time, strict number parsing, files. */
#ifndef CHORUS_UTIL_H
#define CHORUS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic clock in nanoseconds / milliseconds. */
uint64_t now_ns(void);
uint64_t now_ms(void);

/* Strict parsing: the whole string must be a number in range. Return 0 or -1. */
int parse_u64(const char *s, uint64_t *ret);
int parse_u32(const char *s, uint32_t max, uint32_t *ret);

/* write(2) all of @p len bytes, retrying on EINTR and short writes. Returns 0 or -errno. */
int write_all(int fd, const void *p, size_t len);
/* A non-blocking, close-on-exec TCP socket listening on numeric address @p addr (IPv4 or IPv6)
 * and @p port, with SO_REUSEADDR. Returns the socket, or -EINVAL if @p addr is not an IP
 * address, or another -errno. */
int tcp_listen(const char *addr, uint16_t port, int backlog);
/* pread-free read of a whole file into a NUL-terminated buffer. Returns 0 or -errno. */
int read_file(const char *path, char **ret_data, size_t *ret_len);
/* @p n bytes as 2n lower-case hex digits and a NUL in @p out. */
void hex_encode(const uint8_t *p, size_t n, char *out);
/* Create a directory and its parents (mode 0750). Returns 0 or -errno. */
int mkdir_p(const char *path);
/* fsync a directory, so that entries created or renamed in it are durable. */
int fsync_dir(const char *path);
/* "%s/%s" into a new string, or NULL. */
char *path_join(const char *dir, const char *name);
/* Duplicate a string, NULL-safe. */
char *xstrdup(const char *s);

#endif
