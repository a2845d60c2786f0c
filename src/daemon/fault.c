/* SPDX-License-Identifier: Apache-2.0 */
/* Crash injection; see fault.h. */
#include "fault.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/util.h"

enum fkind { F_NONE, F_WRITE, F_TORN, F_FSYNC, F_SYNCED, F_RENAME };

static enum fkind kind = F_NONE;
static unsigned long target;
static unsigned long n_write, n_fsync, n_rename;
static int verbose;

void
fault_init(void)
{
    const char *s = getenv("CHORUS_FAULT");
    static const struct {
        const char *name;
        enum fkind k;
    } names[] = {{"write", F_WRITE},
                 {"torn", F_TORN},
                 {"fsync", F_FSYNC},
                 {"synced", F_SYNCED},
                 {"rename", F_RENAME}};

    verbose = getenv("CHORUS_FAULT_LOG") != NULL;
    if (!s) {
        return;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t l = strlen(names[i].name);

        if (!strncmp(s, names[i].name, l) && s[l] == ':') {
            kind = names[i].k;
            target = strtoul(s + l + 1, NULL, 10);
        }
    }
}

static void
die(void)
{
    raise(SIGKILL);
    _exit(137);
}

static void
say(const char *k, unsigned long n)
{
    char line[64];
    int l;

    if (verbose) {
        l = snprintf(line, sizeof line, "fault: %s %lu\n", k, n);
        if (l > 0 && write(STDERR_FILENO, line, (size_t)l) < 0) {
            /* ignore */
        }
    }
}

int
fault_write(int fd, const void *p, size_t len)
{
    n_write++;
    say("write", n_write);
    if (kind == F_WRITE && n_write == target) {
        die();
    }
    if (kind == F_TORN && n_write == target) {
        (void)write_all(fd, p, len / 2);
        die();
    }
    return write_all(fd, p, len);
}

int
fault_writev(int fd, const struct iovec *iov, int n)
{
    struct iovec v[8];
    size_t total = 0;

    if (n > 8) {
        return -EINVAL;
    }
    for (int i = 0; i < n; i++) {
        v[i] = iov[i];
        total += iov[i].iov_len;
    }
    n_write++;
    say("write", n_write);
    if (kind == F_WRITE && n_write == target) {
        die();
    }
    if (kind == F_TORN && n_write == target) {
        size_t half = total / 2;

        for (int i = 0; i < n && half; i++) {
            size_t l = v[i].iov_len < half ? v[i].iov_len : half;

            (void)write_all(fd, v[i].iov_base, l);
            half -= l;
        }
        die();
    }
    /* write everything, resuming after short writes */
    for (int i = 0; i < n;) {
        ssize_t w = writev(fd, v + i, n - i);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        while (i < n && (size_t)w >= v[i].iov_len) {
            w -= (ssize_t)v[i].iov_len;
            i++;
        }
        if (i < n) {
            v[i].iov_base = (char *)v[i].iov_base + w;
            v[i].iov_len -= (size_t)w;
        }
    }
    return 0;
}

int
fault_sync(int fd)
{
    int r;

    n_fsync++;
    say("fsync", n_fsync);
    if (kind == F_FSYNC && n_fsync == target) {
        die();
    }
    r = fdatasync(fd) < 0 ? -errno : 0;
    if (kind == F_SYNCED && n_fsync == target) {
        die();
    }
    return r;
}

int
fault_rename(const char *from, const char *to)
{
    n_rename++;
    say("rename", n_rename);
    if (kind == F_RENAME && n_rename == target) {
        die();
    }
    return rename(from, to) < 0 ? -errno : 0;
}
