/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash injection for the durability tests (tests/crash/). The journal and snapshot code do
 * their writes, fsyncs and renames through these wrappers, which count them. With the
 * environment variable CHORUS_FAULT set to "KIND:N" the process kills itself with SIGKILL at
 * the N-th (1-based) operation of that kind:
 *
 *   write:N       before the N-th write
 *   torn:N        during the N-th write: half of its bytes are written, then SIGKILL
 *   fsync:N       before the N-th fsync/fdatasync
 *   synced:N      just after the N-th fsync/fdatasync returned
 *   rename:N      before the N-th rename
 *
 * CHORUS_FAULT_LOG=1 makes every counted operation print "fault: KIND N" to stderr, so a
 * test can learn how many points a scenario has. Without CHORUS_FAULT nothing changes.
 */
#ifndef CHORUS_FAULT_H
#define CHORUS_FAULT_H

#include <stddef.h>

void fault_init(void);
/* write_all() with injection. Returns 0 or -errno. */
int fault_write(int fd, const void *p, size_t len);
/* writev() of all the bytes of @p iov with injection (a torn write keeps half of the total).
 * Returns 0 or -errno. */
struct iovec;
int fault_writev(int fd, const struct iovec *iov, int n);
/* fdatasync() with injection. Returns 0 or -errno. */
int fault_sync(int fd);
/* rename() with injection. Returns 0 or -errno. */
int fault_rename(const char *from, const char *to);

#endif
