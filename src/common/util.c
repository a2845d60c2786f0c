/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers; see util.h. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
now_ms(void)
{
    return now_ns() / 1000000u;
}

int
parse_u64(const char *s, uint64_t *ret)
{
    char *end;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end) {
        return -1;
    }
    *ret = v;
    return 0;
}

int
parse_u32(const char *s, uint32_t max, uint32_t *ret)
{
    uint64_t v;

    if (parse_u64(s, &v) || v > max) {
        return -1;
    }
    *ret = (uint32_t)v;
    return 0;
}

int
write_all(int fd, const void *p, size_t len)
{
    const char *c = p;

    while (len) {
        ssize_t n = write(fd, c, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

int
read_file(const char *path, char **ret_data, size_t *ret_len)
{
    int fd, err = 0;
    struct stat st;
    char *data = NULL;
    size_t len = 0, cap;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        err = -errno;
        goto out;
    }
    cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    data = malloc(cap);
    if (!data) {
        err = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n;

        if (len + 1 >= cap) {
            char *nd = realloc(data, cap * 2);

            if (!nd) {
                err = -ENOMEM;
                goto out;
            }
            data = nd;
            cap *= 2;
        }
        n = read(fd, data + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = -errno;
            goto out;
        }
        if (!n) {
            break;
        }
        len += (size_t)n;
    }
    data[len] = 0;
    *ret_data = data;
    *ret_len = len;
    data = NULL;
out:
    free(data);
    close(fd);
    return err;
}

int
mkdir_p(const char *path)
{
    char *p = xstrdup(path), *s;
    int err = 0;

    if (!p) {
        return -ENOMEM;
    }
    for (s = p + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;

            *s = 0;
            if (mkdir(p, 0750) < 0 && errno != EEXIST) {
                err = -errno;
                break;
            }
            *s = c;
            if (!c) {
                break;
            }
        }
    }
    free(p);
    return err;
}

int
fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;

    if (fd < 0) {
        return -errno;
    }
    if (fsync(fd) < 0) {
        err = -errno;
    }
    close(fd);
    return err;
}

char *
path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);

    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

char *
xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void
hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0xf];
    }
    out[2 * n] = 0;
}

int
tcp_listen(const char *addr, uint16_t port, int backlog)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char ports[8];
    int fd, one = 1, err;

    snprintf(ports, sizeof ports, "%u", (unsigned)port);
    if (getaddrinfo(addr, ports, &hints, &ai)) {
        return -EINVAL;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        err = errno;
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return -err;
    }
    freeaddrinfo(ai);
    return fd;
}
