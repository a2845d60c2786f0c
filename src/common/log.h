/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Daemon logging. One line per event, written with a single write(2) so that lines from the
 * daemon and its snapshot child never interleave. Lines name the session, user, context and
 * transaction id when the event belongs to one:
 *
 *   2026-11-23T19:52:00.123Z INFO [s7 admin/netconf tx42] commit: 3 changes
 *
 * The level check happens before the arguments are evaluated (LOG macro). Library code
 * (libchorus) never logs.
 */
#ifndef CHORUS_LOG_H
#define CHORUS_LOG_H

#include <stdint.h>

enum log_level { LL_ERROR = 0, LL_WARN = 1, LL_INFO = 2, LL_DEBUG = 3 };

/* Who an event belongs to; any member may be 0/NULL. */
struct log_tag {
    uint32_t sess;
    const char *user;
    const char *ctx;
    uint64_t txid;
};

extern enum log_level log_max_level;

/* Log to @p path (appending; NULL: no file) and, if @p to_stderr, to stderr.
 * Returns 0 or -errno if the file cannot be opened. */
int log_setup(const char *path, enum log_level level, int to_stderr);
/* Reopen the log file (after rotation). */
void log_reopen(void);
void log_close(void);
const char *log_level_name(enum log_level level);
int log_level_parse(const char *s, enum log_level *ret);
void log_write(enum log_level level, const struct log_tag *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG(lvl, tag, ...)                                                                         \
    do {                                                                                           \
        if ((lvl) <= log_max_level) {                                                              \
            log_write((lvl), (tag), __VA_ARGS__);                                                  \
        }                                                                                          \
    } while (0)
#define LOGE(...) LOG(LL_ERROR, NULL, __VA_ARGS__)
#define LOGW(...) LOG(LL_WARN, NULL, __VA_ARGS__)
#define LOGI(...) LOG(LL_INFO, NULL, __VA_ARGS__)
#define LOGD(...) LOG(LL_DEBUG, NULL, __VA_ARGS__)

#endif
