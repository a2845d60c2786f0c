/* SPDX-License-Identifier: Apache-2.0 */
/* Daemon logging; see log.h. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum log_level log_max_level = LL_INFO;

static int log_fd = -1;
static int log_stderr = 1;
static char *log_path;

static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

const char *
log_level_name(enum log_level level)
{
    return (level >= LL_ERROR && level <= LL_DEBUG) ? names[level] : "?";
}

int
log_level_parse(const char *s, enum log_level *ret)
{
    static const char *const lower[] = {"error", "warning", "info", "debug"};

    for (int i = 0; i < 4; i++) {
        if (!strcmp(s, lower[i])) {
            *ret = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int
log_setup(const char *path, enum log_level level, int to_stderr)
{
    int fd = -1;

    if (path) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0) {
            return -errno;
        }
    }
    log_close();
    log_fd = fd;
    free(log_path);
    log_path = path ? strdup(path) : NULL;
    log_max_level = level;
    log_stderr = to_stderr;
    return 0;
}

void
log_reopen(void)
{
    int fd;

    if (!log_path) {
        return;
    }
    fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd >= 0) {
        if (log_fd >= 0) {
            close(log_fd);
        }
        log_fd = fd;
    }
}

void
log_close(void)
{
    if (log_fd >= 0) {
        close(log_fd);
        log_fd = -1;
    }
}

void
log_write(enum log_level level, const struct log_tag *tag, const char *fmt, ...)
{
    char line[4096];
    size_t n = 0;
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int r;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof line - n, ".%03ldZ %s ", (long)(tv.tv_usec / 1000),
                 log_level_name(level));
    n += r > 0 ? (size_t)r : 0;
    if (tag && (tag->sess || tag->user || tag->txid)) {
        r = snprintf(line + n, sizeof line - n, "[");
        n += (size_t)r;
        if (tag->sess) {
            r = snprintf(line + n, sizeof line - n, "s%u ", tag->sess);
            n += (size_t)r;
        }
        if (tag->user) {
            r = snprintf(line + n, sizeof line - n, "%s/%s ", tag->user, tag->ctx ? tag->ctx : "-");
            n += (size_t)r;
        }
        if (tag->txid) {
            r = snprintf(line + n, sizeof line - n, "tx%llu ", (unsigned long long)tag->txid);
            n += (size_t)r;
        }
        line[n - 1] = ']';
        line[n++] = ' ';
    }
    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (r < 0) {
        return;
    }
    n += (size_t)r;
    if (n > sizeof line - 2) {
        n = sizeof line - 2;
        memcpy(line + n - 3, "...", 3);
    }
    line[n++] = '\n';
    if (log_fd >= 0 && write(log_fd, line, n) < 0) {
        /* nothing sensible to do */
    }
    if (log_stderr && write(STDERR_FILENO, line, n) < 0) {
        /* likewise */
    }
}
