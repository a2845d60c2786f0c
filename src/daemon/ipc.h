/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The IPC server: the daemon's end of docs/protocol.md. Listens on TCP (and optionally a UNIX
 * socket), reads frames with their limits checked before decoding, dispatches them through a
 * table of operations, and answers each request exactly once — at once, or later for the
 * operations that wait (the commit lock, wait-start). Requests of one connection are answered
 * in order. A connection that closes ends its session (its transactions are aborted, its
 * locks released).
 */
#ifndef CHORUS_IPC_H
#define CHORUS_IPC_H

#include "core.h"

struct ipc;

/* Listen on the configured address/port (and UNIX path). Errors: CHORUS_ERR_IO naming the
 * address and the reason (e.g. address in use). */
enum chorus_err ipc_start(struct core *c, struct ipc **ret_ipc, struct cerr **e);
/* Close every connection and the listeners. NULL-safe. */
void ipc_stop(struct ipc *ipc);
/* Number of open connections. */
unsigned ipc_connections(const struct ipc *ipc);

#endif
